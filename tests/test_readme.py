"""The README's Python example runs as written (on phantoms, one epoch)."""

from __future__ import annotations

import re
from pathlib import Path

from cxrkeras.phantoms import make_phantoms

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README.md has no ```python example"
    code = blocks[0]
    assert '"chest_xray"' in code and "epochs=10" in code
    root = tmp_path / "chest_xray"
    make_phantoms(root, num_images=60, image_size=64, seed=0)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code.replace("epochs=10", "epochs=1"), str(README), "exec"), namespace)
    assert namespace["heatmaps"].shape == (len(namespace["images"]), 150, 150)
    assert 0.0 <= namespace["result"].accuracy <= 1.0
    assert (tmp_path / "runs" / "b" / "history.csv").is_file()
