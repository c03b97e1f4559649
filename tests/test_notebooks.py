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
