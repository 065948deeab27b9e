"""Optional dependencies: what a student installs stays small; instructor features
(`pip install 'grader[instructor]'`) bring the gradebook, Dask and similarity libraries."""

from __future__ import annotations

import importlib.util

EXTRA_OF = {
    "sqlalchemy": "instructor", "distributed": "instructor", "copydetect": "instructor",
    "numpy": "instructor", "nbclient": "instructor",
    "flask": "review", "flask_wtf": "review", "waitress": "review",
}  # fmt: skip


class MissingExtra(ImportError):
    """A feature needs a package that this installation does not have."""


def require(module: str, feature: str) -> None:
    """Raise MissingExtra, saying what to install, when ``module`` is not installed."""
    if importlib.util.find_spec(module) is None:
        extra = EXTRA_OF.get(module, "instructor")
        raise MissingExtra(
            f"{feature} needs the Python package {module!r}, which is not installed; "
            f"install it with: pip install 'grader[{extra}]'"
        )
