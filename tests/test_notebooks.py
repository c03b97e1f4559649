"""Every numbered notebook runs top to bottom in smoke mode, and its .ipynb matches its .py."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cxrkeras.notebook import env_param

jupytext = pytest.importorskip("jupytext", reason="the [test] extra installs jupytext")
nbclient = pytest.importorskip("nbclient", reason="the [test] extra installs nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def _code(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [(None, 3, 3), ("", 3, 3), ("7", 3, 7), ("0.5", 1.0, 0.5), ("None", 3, None),
     ("null", "x", None), ("OFF", True, False), (" yes ", False, True), ("a/b", "", "a/b")],
)  # fmt: skip
def test_env_param_converts_to_the_default_type(raw, default, expected, monkeypatch):
    if raw is None:
        monkeypatch.delenv("CXRKERAS_T_PARAM", raising=False)
    else:
        monkeypatch.setenv("CXRKERAS_T_PARAM", raw)
    value = env_param("t_param", default)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "default"), [("ten", 10), ("1.5", 10), ("x", 0.5), ("ture", False)]
)
def test_env_param_rejects_values_it_cannot_read(raw, default, monkeypatch):
    monkeypatch.setenv("CXRKERAS_T_PARAM", raw)
    with pytest.raises(ValueError, match=f"CXRKERAS_T_PARAM={raw!r}"):
        env_param("T_PARAM", default)


def test_weights_parameter_accepts_none_in_every_spelling():
    # env_param turns "none" into None; papermill may pass None itself. Every line that
    # turns WEIGHTS into a builder's ``weights=`` must accept both, and keep a name.
    lines = [
        line.strip()
        for source in SOURCES
        for line in source.read_text().splitlines()
        if re.match(r"^\w+ = None if .*\bWEIGHTS\b", line.strip())
    ]
    assert len(lines) >= 3  # notebooks 02, 03, 04
    for line in lines:
        target = line.split(" = ", 1)[0]
        for given, expected in [(None, None), ("none", None), ("None", None),
                                ("imagenet", "imagenet")]:  # fmt: skip
            scope = {"WEIGHTS": given}
            exec(line, scope)  # noqa: S102 (a line of our own notebooks)
            assert scope[target] == expected, (line, given)


def test_there_are_numbered_notebooks():
    assert SOURCES, f"no notebooks/NN_*.py found in {NOTEBOOKS}"
    assert SOURCES[0].name.startswith("00_quickstart")


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_ipynb_is_paired_and_has_no_outputs(source):
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run `jupytext --sync {source}`"
    paired, text = jupytext.read(ipynb), jupytext.read(source)
    assert _code(paired) == _code(text), f"{ipynb.name} differs from {source.name}: jupytext --sync"
    for cell in paired.cells:
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{ipynb.name} is committed with outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in text.cells), (
        f"{source.name} needs a cell tagged 'parameters' (papermill)"
    )
    assert all(c.source.strip() for c in text.cells), f"{source.name} has an empty cell"


def _execute(source: Path, tmp_path: Path, env: dict[str, str]) -> None:
    nb = jupytext.read(source)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(
            nb,
            timeout=900,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs_in_smoke_mode(source, tmp_path):
    _execute(
        source, tmp_path, {"CXRKERAS_SMOKE": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}
    )


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs_in_smoke_mode_with_mixed_precision(source, tmp_path):
    # A Colab GPU runs the notebooks under mixed_float16 (runtime() turns it on); a CPU
    # can run the same float16 code paths, slowly, so CI-less machines can check them.
    env = {"CXRKERAS_SMOKE": "1", "CXRKERAS_PRECISION": "mixed_float16", "MPLBACKEND": "Agg"}
    _execute(source, tmp_path, {**env, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.mark.slow
def test_quickstart_on_real_data_at_reduced_size(real_data, tmp_path):
    _execute(
        NOTEBOOKS / "00_quickstart.py",
        tmp_path,
        {
            "CXRKERAS_DATA_DIR": str(real_data),
            "CXRKERAS_IMAGE_SIZE": "96",
            "CXRKERAS_EPOCHS": "3",
            "MPLBACKEND": "Agg",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        },
    )


# --- Colab: install source, badges, metadata, setup cell ---------------------------------

ROOT = NOTEBOOKS.parent
REPORTS = [p for p in SOURCES if not p.stem.startswith("00_")]


def _repository_url() -> str:
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["metadata"]["url"].rstrip("/")


def test_badges_and_install_source_derive_from_the_setup_cfg_url():
    url = _repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    slug = url.removeprefix("https://github.com/")
    badge = re.compile(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/main/notebooks/([\w.-]+)\.ipynb")  # fmt: skip
    readme = (ROOT / "README.md").read_text()
    readme_badges = badge.findall(readme)
    assert {stem for _, stem in readme_badges} == {p.stem for p in SOURCES}
    assert {owner for owner, _ in readme_badges} == {slug}
    for source in SOURCES:
        text = source.read_text()
        found = badge.findall(text)
        assert found == [(slug, source.stem)], f"{source.name}: badge {found}"
        assert f'NOTEBOOK = "{source.stem}"' in text, source.name
        assert f'REPOSITORY = "{url}"' in text, source.name
        assert 'f"cxrkeras[kaggle] @ git+{REPOSITORY}"' in text, source.name


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_colab_metadata_survives_jupytext(source):
    import json

    stored = json.loads(source.with_suffix(".ipynb").read_text())["metadata"]
    from_py = jupytext.read(source).metadata  # what `jupytext --sync` writes into the .ipynb
    for meta in (stored, from_py):
        assert meta.get("accelerator") == "GPU", source.name
        assert meta.get("colab", {}).get("gpuType"), source.name
    assert from_py["colab"] == stored["colab"]


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_setup_cell_installs_cxrkeras_before_anything_imports_it(source):
    cells = [c for c in jupytext.read(source).cells if c.cell_type == "code"]
    setup = cells[0].source
    assert 'find_spec("cxrkeras") is None' in setup and "CXRKERAS_INSTALL" in setup
    before_install = setup.split('find_spec("cxrkeras")')[0]
    assert not re.search(r"^\s*(import|from) cxrkeras", before_install, re.M)
    assert "runtime(" in setup.split('find_spec("cxrkeras")')[1]
    assert "parameters" in cells[1].metadata.get("tags", []), "the 2nd code cell is the parameters"


# --- Modes and quoted figures ------------------------------------------------------------


@pytest.mark.parametrize("source", REPORTS, ids=[p.stem for p in REPORTS])
def test_report_notebook_has_three_modes_in_one_cell(source):
    cells = [c.source for c in jupytext.read(source).cells if c.cell_type == "code"]
    mode_cells = [c for c in cells if "select_mode(" in c]
    assert len(mode_cells) == 1, source.name
    assert 'MODE = env_param("MODE"' in cells[1]
    assert "runs.fit(" in source.read_text() and "save_results(" in source.read_text()


@pytest.mark.parametrize("source", REPORTS, ids=[p.stem for p in REPORTS])
def test_quoted_figures_equal_the_committed_results(source):
    from cxrkeras.notebook import QUOTE, check_quotes

    results = NOTEBOOKS / "results" / f"{source.stem}_cpu.json"
    assert results.is_file(), f"no cpu-mode results file {results.name}"
    quotes = [q for q in QUOTE.findall(source.read_text()) if q[0] == "cpu"]
    assert len(quotes) >= 5, f"{source.name} quotes {len(quotes)} cpu-mode figures"
    assert check_quotes(source) == []


def test_check_quotes_catches_a_figure_that_drifted(tmp_path):
    import json

    from cxrkeras.notebook import check_quotes, fill_quotes

    (tmp_path / "results").mkdir()
    payload = {"wall_minutes": 9.4, "figures": {"CNN: small": {"accuracy": 0.9137}}}
    (tmp_path / "results" / "nb_cpu.json").write_text(json.dumps(payload))
    source = tmp_path / "nb.py"
    source.write_text(
        "# accuracy <!--cpu:CNN: small:accuracy-->0.91 in <!--cpu:wall_minutes-->9 min\n"
        "# AUC <!--cpu:CNN: small:roc_auc-->0.95, test <!--full:CNN: small:accuracy-->0.8\n"
    )
    problems = check_quotes(source)
    assert len(problems) == 2, problems
    assert "roc_auc is not in nb_cpu.json" in problems[0]
    assert "nb_full.json does not exist" in problems[1]
    payload["figures"]["CNN: small"]["accuracy"] = 0.8861
    (tmp_path / "results" / "nb_cpu.json").write_text(json.dumps(payload))
    assert any("text says cpu:CNN: small:accuracy = 0.91" in p for p in check_quotes(source))
    assert fill_quotes(source) == 1
    assert "<!--cpu:CNN: small:accuracy-->0.89" in source.read_text()


# --- Checkpoints: a killed training cell resumes -------------------------------------------

_TRAIN_SCRIPT = """
import os, signal, sys
import keras, numpy as np
from cxrkeras.notebook import RunFolder

kill_after = int(sys.argv[2])
class Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # a lost runtime: no cleanup at all

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.random((64, 16, 16, 1), dtype=np.float32)
y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
inp = keras.Input((16, 16, 1))
out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inp))
runs = RunFolder(sys.argv[1], "nb", "cpu", key={"data": "toy"})
history = runs.fit(keras.Model(inp, out), (x, y), (x, y), name="toy", epochs=4, batch_size=16,
                   verbose=0, callbacks=[Kill()])
loss = history.model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
print("EPOCHS", history.epoch, "TRAINED", runs.trained, "LOADED", runs.loaded, "LOSS", loss)
"""


def test_a_killed_training_cell_resumes_at_the_next_epoch_and_a_finished_one_reloads(tmp_path):
    import csv
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(_TRAIN_SCRIPT)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(kill_after):
        return subprocess.run(
            [sys.executable, str(script), str(tmp_path / "runs"), str(kill_after)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip

    first = run(kill_after=1)
    assert first.returncode == -9, first.stderr[-2000:]  # killed after epoch 1
    (folder,) = (tmp_path / "runs" / "nb" / "cpu").iterdir()
    assert not (folder / "done.json").exists()
    second = run(kill_after=0)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "EPOCHS [1, 2, 3] TRAINED ['toy']" in second.stdout  # continued at epoch 2 of 4
    with (folder / "history.csv").open() as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [0, 1, 2, 3]
    third = run(kill_after=1)  # would be killed if it trained again
    assert third.returncode == 0, third.stderr[-2000:]
    assert "EPOCHS [0, 1, 2, 3] TRAINED [] LOADED ['toy'] LOSS" in third.stdout
    # the reloaded model is compiled as fit left it, with the same weights
    assert third.stdout.split("LOSS")[1].strip() == second.stdout.split("LOSS")[1].strip()


def test_readme_quotes_each_notebooks_measured_cpu_minutes():
    import json

    rows = {
        line.split("`")[1]: line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `0")
    }
    for source in REPORTS:
        quoted = re.search(r"<!--cpu:wall_minutes-->(\d+(?:\.\d+)?)", rows[source.stem])
        assert quoted, f"README's row for {source.stem} quotes no cpu-mode minutes"
        results = json.loads((NOTEBOOKS / "results" / f"{source.stem}_cpu.json").read_text())
        decimals = len(quoted.group(1).partition(".")[2])
        assert f"{results['wall_minutes']:.{decimals}f}" == quoted.group(1), source.stem
