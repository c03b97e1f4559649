"""A fresh runtime as Colab gives it: the scientific stack installed, cxrkeras not.

The test builds cxrkeras' wheel, makes a new virtual environment that sees this
environment's packages *except* cxrkeras (as Colab preinstalls TensorFlow, Keras,
scikit-learn, Jupyter ...), and executes notebooks there with ``CXRKERAS_INSTALL`` set to
the wheel: their setup cell must install it, and they must run to the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("nbclient", reason="the [test] extra installs nbclient")

_EXECUTE = """
import json, sys
import jupytext, nbclient
nb = jupytext.read(sys.argv[1])
nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}}).execute()
outputs = []
for cell in nb.cells:
    for out in cell.get("outputs", []):
        text = out.get("text") or out.get("data", {}).get("text/plain") or ""
        outputs.append(text if isinstance(text, str) else "".join(text))
print(json.dumps({"outputs": outputs, "cells": len(nb.cells)}))
"""


def _fresh_env(tmp: Path) -> Path:
    """A venv whose site-packages shows this one's packages, minus cxrkeras."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp / "fresh")], check=True)
    python = tmp / "fresh" / "bin" / "python"
    fresh_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    view = tmp / "preinstalled"
    view.mkdir()
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():
        name = entry.name.lower()
        if "cxrkeras" in name or name.startswith("__editable__") or name.endswith(".pth"):
            continue  # what Colab does not have: cxrkeras (here an editable install)
        (view / entry.name).symlink_to(entry)
    Path(fresh_site, "preinstalled.pth").write_text(f"{view}\n")
    return python


def _run_notebook(python: Path, source: Path, workdir: Path, env: dict) -> dict:
    script = workdir / "execute.py"
    script.write_text(_EXECUTE)
    done = subprocess.run(
        [str(python), str(script), str(source), str(workdir)],
        capture_output=True, text=True, env=env, cwd=workdir, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, f"{source.name} failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_notebooks_install_the_wheel_in_a_runtime_without_cxrkeras(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (wheel,) = dist.glob("cxrkeras-*.whl")
    python = _fresh_env(tmp_path)
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('cxrkeras'), "
         "u.find_spec('tensorflow') is not None)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    )  # fmt: skip
    assert probe.stdout.split() == ["None", "True"], probe.stdout
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CXRKERAS_", "VIRTUAL_ENV", "PYTHON", "JUPYTER"))
    }
    env.update({
        "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
        "CXRKERAS_INSTALL": str(wheel),
        "CXRKERAS_SMOKE": "1",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    })  # fmt: skip

    work = tmp_path / "report"
    work.mkdir()
    report = _run_notebook(python, ROOT / "notebooks/01_report_b_binary_categorical.py", work, env)
    text = "\n".join(report["outputs"])
    assert f"installing {wheel}" in text
    assert "Binary (report B)" in text and "Autoencoder (kNN on encoded)" in text  # the table
    assert "results written to results/01_report_b_binary_categorical_smoke.json" in text
    installed = subprocess.run(
        [str(python), "-m", "pip", "show", "-f", "cxrkeras"], capture_output=True, text=True
    ).stdout
    assert "Location: " + str(tmp_path / "fresh") in installed

    work = tmp_path / "quickstart"
    work.mkdir()
    quick = _run_notebook(python, ROOT / "notebooks/00_quickstart.py", work, env)
    text = "\n".join(quick["outputs"])
    assert "installing" not in text  # already installed by the first notebook
    assert "EvaluationResult(" in text or "accuracy" in text
