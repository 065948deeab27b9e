"""Skip markers shared by the tests: a test that needs the `reference` extra (PyTorch,
torchvision, scikit-learn) or bubblewrap skips with the reason, never fails for its absence."""

from __future__ import annotations

import importlib.util
import shutil

import pytest


def needs_modules(*names: str, why: str = "") -> pytest.MarkDecorator:
    """Skip unless every module is importable (``pip install -e '.[reference]'``)."""
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    reason = f"{why or 'this test'} needs {', '.join(missing)} (the `reference` extra)"
    return pytest.mark.skipif(bool(missing), reason=reason)


needs_torch = needs_modules("torch", "numpy", why="a PyTorch reference solution")
needs_hw4_stack = needs_modules("torch", "torchvision", "sklearn", why="the hw4 reference")
needs_project_stack = needs_modules("torch", "sklearn", why="the project reference")
needs_bwrap_binary = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed"
)
