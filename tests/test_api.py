"""The top-level API: every exported name resolves, and importing changes nothing global."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import cxrkeras


def test_every_exported_name_resolves():
    missing = [name for name in cxrkeras.__all__ if not hasattr(cxrkeras, name)]
    assert missing == []


def test_functions_named_like_their_modules_stay_functions():
    import cxrkeras.demo  # noqa: F401  (importing the submodules again must not rebind)
    import cxrkeras.evaluate  # noqa: F401
    import cxrkeras.gradcam  # noqa: F401
    import cxrkeras.occlusion  # noqa: F401

    for name in ("evaluate", "gradcam", "occlusion", "demo"):
        assert inspect.isfunction(getattr(cxrkeras, name)), name


def test_public_functions_have_docstrings_with_examples_or_args():
    undocumented = []
    for name in cxrkeras.__all__:
        obj = getattr(cxrkeras, name)
        if callable(obj) and not (obj.__doc__ or "").strip():
            undocumented.append(name)
    assert undocumented == []


_PROBE = """
import json, os, sys, warnings
import numpy as np
before = (list(map(repr, warnings.filters)), dict(os.environ), repr(np.random.get_state()[1][:5]))
import tensorflow, keras
mid = (list(map(repr, warnings.filters)), dict(os.environ), repr(np.random.get_state()[1][:5]))
import cxrkeras
after = (list(map(repr, warnings.filters)), dict(os.environ), repr(np.random.get_state()[1][:5]))
print(json.dumps({"filters": mid[0] == after[0], "environ": mid[1] == after[1],
                  "numpy_seed": before[2] == after[2], "backend": keras.backend.backend()}))
"""


def test_import_has_no_side_effects():
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"filters": True, "environ": True, "numpy_seed": True, "backend": "tensorflow"}
