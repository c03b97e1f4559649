"""Crash-safe run folders: atomic writes, and `cxrkeras train` killed at random moments.

The fast tests interrupt writes in-process (an exception half-way through a save) and
check that the old file survives. The slow fault-injection test launches real
``cxrkeras train`` processes and SIGKILLs each at a random moment. A reference run
first records every file event in the run folder (a write, which the kill cuts in
half; a rename; an h5 file closed; a folder removed). Then the 20 kill points cycle
through four kinds: a random time after training started (mostly during an epoch); a
random event on a random checkpoint file (``best.keras``, ``backup/...``,
``history.csv``); a random event on a random file of the final save (``model.keras``,
``run.json``, ``validation.json`` and their renames); a random event on any file.
After every kill the files that are written crash-safe are each either absent or
complete, and ``--resume`` (or, every fifth time, a rerun with ``--overwrite``) ends
with a complete run that loads and predicts.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from cxrkeras._common import atomic_path, atomic_write_text, is_temporary
from cxrkeras.cli import main
from cxrkeras.runs import (
    RunConfig,
    backup_problem,
    load_run,
    prepare_resume,
    read_run_config,
    run_is_complete,
    save_run,
)

REPO = Path(__file__).resolve().parents[1]


def _tiny(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(x))


class _Interrupted(BaseException):
    """Stands for a kill: not an Exception, so no ``except Exception`` swallows it."""


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    target = atomic_write_text(tmp_path / "run.json", '{"old": true}')
    with pytest.raises(_Interrupted):
        with atomic_path(target) as tmp:
            tmp.write_text('{"new": ')
            raise _Interrupted
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary left


def test_an_interrupted_save_run_leaves_the_old_run(tmp_path, monkeypatch):
    old = _tiny(0)
    config = RunConfig("custom", (8, 8), threshold=0.3)
    run = save_run(tmp_path / "run", old, config)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    real_save = keras.Model.save

    def half_save(self, filepath, *args, **kwargs):
        real_save(self, filepath, *args, **kwargs)
        data = Path(filepath).read_bytes()
        Path(filepath).write_bytes(data[: len(data) // 2])  # the kill came mid-write
        raise _Interrupted

    monkeypatch.setattr(keras.Model, "save", half_save)
    with pytest.raises(_Interrupted):
        save_run(run, _tiny(1), RunConfig("custom", (8, 8), threshold=0.7))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    model, loaded = load_run(run)
    assert loaded.threshold == 0.3
    np.testing.assert_array_equal(model.get_weights()[0], old.get_weights()[0])


def test_save_run_writes_run_json_last_and_marks_the_format(tmp_path, monkeypatch):
    order = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda a, b: order.append(Path(b).name) or real_replace(a, b)
    )
    run = save_run(tmp_path / "run", _tiny(), RunConfig("custom", (8, 8)))
    assert order == ["model.keras", "run.json"]
    assert json.loads((run / "run.json").read_text())["format_version"] == 1
    assert run_is_complete(run) and read_run_config(run / "run.json").image_size == (8, 8)


def test_a_damaged_backup_is_dropped_with_a_warning_and_foreign_files_refused(tmp_path):
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    model = _tiny()
    model.save_weights(run / "backup" / "latest.weights.h5")
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert backup_problem(run / "backup", model) is None
    data = (run / "backup" / "latest.weights.h5").read_bytes()
    (run / "backup" / "latest.weights.h5").write_bytes(data[: len(data) // 3])
    assert "cannot be loaded" in backup_problem(run / "backup", model)
    (run / ".run.99.tmp.json").write_text("{")
    with pytest.warns(UserWarning, match="backup .* is damaged"):
        prepare_resume(run, model)
    assert not (run / "backup").exists() and not any(is_temporary(p.name) for p in run.iterdir())
    (run / "thesis.docx").write_text("mine")
    with pytest.raises(FileExistsError, match="thesis.docx"):
        prepare_resume(run, model)
    assert (run / "thesis.docx").read_text() == "mine"


def test_checkpoint_callbacks_survive_an_interrupted_write(tmp_path, monkeypatch):
    from cxrkeras.runs import AtomicBackupAndRestore, AtomicModelCheckpoint

    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
    model = _tiny()
    model.compile("adam", "binary_crossentropy")
    backup, best = tmp_path / "backup", tmp_path / "best.keras"

    def callbacks():
        return [
            AtomicBackupAndRestore(str(backup), delete_checkpoint=False),
            AtomicModelCheckpoint(str(best), monitor="loss", save_best_only=False),
        ]

    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=callbacks())
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    assert backup_problem(backup, model) is None and keras.saving.load_model(best)
    before = {p.name: p.read_bytes() for p in [*backup.iterdir(), best]}
    for method in ("save_weights", "save"):
        real = getattr(keras.Model, method)

        def half(self, filepath, *args, _real=real, **kwargs):
            _real(self, filepath, *args, **kwargs)
            data = Path(filepath).read_bytes()
            Path(filepath).write_bytes(data[: len(data) // 2])
            raise _Interrupted

        monkeypatch.setattr(keras.Model, method, half)
        with pytest.raises(_Interrupted):
            model.fit(x, y, epochs=4, batch_size=8, verbose=0, callbacks=callbacks())
        monkeypatch.undo()
        after = {p.name: p.read_bytes() for p in [*backup.iterdir(), best]}
        if method == "save_weights":  # the backup is the one of the epoch before
            assert after == before
        else:  # the backup of the new epoch is whole; best.keras is the old one
            assert after["best.keras"] == before["best.keras"]
            assert backup_problem(backup, model) is None
        assert not [p for p in tmp_path.rglob("*") if is_temporary(p.name)]
        before = after


# --- the fault-injection test ---

DRIVER = r'''
"""Run `cxrkeras train` (cxrkeras.cli.main) with file events counted, and maybe die."""
import atexit, builtins, io, json, os, re, shutil, signal, sys

RUN = os.path.realpath(os.environ["KILL_DIR"])
KILL_AT = int(os.environ.get("KILL_AT", "0"))  # 0: count only
KILL_MATCH = re.compile(os.environ.get("KILL_MATCH", ".*"))  # which events count
LOG = os.environ.get("KILL_LOG")
events, counted = [], []


def _rel(path):
    path = os.path.realpath(os.fsdecode(path))
    return os.path.relpath(path, RUN) if path.startswith(RUN + os.sep) else None


def _hit(kind, rel):
    events.append([kind, rel])
    if not KILL_MATCH.match(re.sub(r"\.\d+\.tmp", ".tmp", rel)):
        return False
    counted.append(rel)
    return len(counted) == KILL_AT


def _die():
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class _Writer:
    def __init__(self, handle, rel):
        self._handle, self._rel = handle, rel

    def write(self, data):
        if _hit("write", self._rel):
            self._handle.write(data[: len(data) // 2])  # cut short, then the kill
            self._handle.flush()
            _die()
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)

    def __iter__(self):
        return iter(self._handle)


_open = builtins.open


def _patched_open(file, mode="r", *args, **kwargs):
    handle = _open(file, mode, *args, **kwargs)
    if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
        rel = _rel(file)
        if rel is not None:
            return _Writer(handle, rel)
    return handle


builtins.open = io.open = _patched_open
_replace = os.replace


def _patched_replace(src, dst, *args, **kwargs):
    rel = _rel(dst)
    if rel is not None and _hit("replace", rel):
        _die()
    return _replace(src, dst, *args, **kwargs)


os.replace = _patched_replace
_rmtree = shutil.rmtree


def _patched_rmtree(path, *args, **kwargs):
    rel = _rel(path)
    if rel is not None and _hit("rmtree", rel):
        names = sorted(os.listdir(path))
        if names:
            os.unlink(os.path.join(path, names[0]))  # half removed, then the kill
        _die()
    return _rmtree(path, *args, **kwargs)


shutil.rmtree = _patched_rmtree
import h5py  # noqa: E402

_close = h5py.File.close


def _patched_close(self):
    try:
        rel = _rel(self.filename) if isinstance(self.filename, str) else None
    except Exception:
        rel = None
    if rel is not None and _hit("h5close", rel):
        _die()  # the h5 file is never finished
    return _close(self)


h5py.File.close = _patched_close
if LOG:
    atexit.register(lambda: _open(LOG, "w").write(json.dumps(events)))
from cxrkeras.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''

_PID = re.compile(r"\.\d+\.tmp")
CHECKPOINT = r"^(backup/.*|\.?best(\.tmp)?\.keras|history\.csv)$"
FINAL = r"^\.?(model|run|validation)(\.tmp)?\.(keras|json)$"


def _category(event) -> str:
    kind, rel = event
    name = _PID.sub(".tmp", rel)
    if re.match(CHECKPOINT, name):
        return "checkpoint"
    if re.match(FINAL, name):
        return "final"
    return "other"


def _child(driver, argv, run, *, kill_at=0, match=".*", log=None, kill_after=None):
    """Run the driver; returns ``(exit code, seconds, stderr)``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILL_")}
    env.update({"KILL_DIR": str(run), "KILL_AT": str(kill_at), "KILL_MATCH": match})
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if log is not None:
        env["KILL_LOG"] = str(log)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(driver), *argv], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    if kill_after is not None:  # a kill at a random time once training has started
        started = None
        while proc.poll() is None:
            if started is None and (run / "history.csv").exists():
                started = time.perf_counter()
            if started is not None and time.perf_counter() - started >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, time.perf_counter() - start, err.decode(errors="replace")


def _check_crash_safe_files(run: Path) -> None:
    """Each file that is written crash-safe is absent or complete after any kill."""
    if (run / "run.json").exists():
        read_run_config(run / "run.json")
    if (run / "model.keras").exists():
        from cxrkeras.runs import load_model_file

        load_model_file(run / "model.keras")
    if (run / "validation.json").exists():
        json.loads((run / "validation.json").read_text())


def _check_complete(run: Path) -> None:
    assert run_is_complete(run), sorted(p.name for p in run.iterdir())
    assert not (run / "backup").exists()
    assert not [p for p in run.rglob("*") if is_temporary(p.name)]
    model, config = load_run(run)
    assert config.training["epochs_run"] >= 1 and 0.0 <= config.threshold <= 1.0
    out = model.predict(np.full((2, 32, 32, 1), 0.5, "float32"), verbose=0)
    assert out.shape == (2, 1) and np.all(np.isfinite(out))


@pytest.mark.slow
def test_train_killed_at_20_random_moments_always_resumes_to_a_complete_run(tmp_path):
    from cxrkeras.phantoms import make_phantoms

    data = tmp_path / "data"
    make_phantoms(data, num_images=64, image_size=32, seed=3, split="train")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)

    def argv(run, *extra):
        return ["train", "--data", str(data), "--model", "binary_cnn", "--out", str(run),
                "--epochs", "3", "--image-size", "32", "--batch-size", "16", *extra]  # fmt: skip

    reference = tmp_path / "reference"
    log = tmp_path / "events.json"
    code, seconds, err = _child(driver, argv(reference), reference, log=log)
    assert code == 0, err
    _check_complete(reference)
    events = json.loads(log.read_text())
    groups: dict[str, dict[str, int]] = {"checkpoint": {}, "final": {}, "any": {}}
    for event in events:  # how often each file is touched, per category
        name = _PID.sub(".tmp", event[1])
        for category in (_category(event), "any"):
            if category in groups:
                groups[category][name] = groups[category].get(name, 0) + 1
    assert {"best.keras", "backup/latest.weights.h5"} <= set(groups["checkpoint"]), events
    assert {".model.tmp.keras", "run.json"} <= set(groups["final"]), events
    train_seconds = max(seconds - 8.0, 2.0)  # the reference's time after TensorFlow's import

    rng = random.Random(20)
    passed = []
    for point in range(20):
        category = ("time", "checkpoint", "final", "any")[point % 4]
        run = tmp_path / f"run{point}"
        for attempt in range(6):  # redraw a moment after which the child was not killed
            if category == "time":
                when = rng.uniform(0.0, train_seconds)
                code, _, err = _child(driver, argv(run), run, kill_after=when)
                what = f"time {when:.2f}s"
            else:  # a file of the category, then the n-th time it is touched
                name = rng.choice(sorted(groups[category]))
                index = rng.randrange(1, groups[category][name] + 1)
                match = f"^{re.escape(name)}$"
                code, _, err = _child(driver, argv(run), run, kill_at=index, match=match)
                what = f"event {index} of {groups[category][name]} on {name}"
            if code == -signal.SIGKILL:
                break
            assert code == 0, err
            run = tmp_path / f"run{point}_{attempt}"
        else:
            pytest.fail(f"kill point {point} ({category}) never landed")
        _check_crash_safe_files(run)
        rerun = ["--overwrite"] if point % 5 == 4 else ["--resume"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a damaged backup or best.keras is announced
            assert main(argv(run, *rerun)) == 0, f"kill point {point}: {what}"
        _check_complete(run)
        passed.append(f"{point}: {category} ({what}) -> {rerun[0]}")
    print("\n".join(passed))
    assert len(passed) == 20
