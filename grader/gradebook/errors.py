"""The gradebook's one error type (no SQLAlchemy import here)."""


class GradebookError(Exception):
    """A gradebook problem the user can fix (bad URL, unknown student, bad points...)."""
