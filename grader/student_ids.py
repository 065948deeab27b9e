"""What a student id looks like: the course's ``student_id_pattern``, else a Neptun code.

A course file (``grader.course``) may set ``student_id_pattern`` (a regular expression a
whole id must match); without one, ids are Neptun codes: six letters or digits, written
in capitals (``abc123`` is read as ``ABC123``). Ids also name folders, so whatever the
pattern, an id is letters, digits, ``_``, ``-`` and ``.`` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NEPTUN_PATTERN = r"[A-Z0-9]{6}"
NEPTUN_WORDS = "a Neptun code: six letters or digits, e.g. ABC123"
_SAFE = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class StudentIdRule:
    pattern: str = NEPTUN_PATTERN
    words: str = NEPTUN_WORDS  # what a matching id is, for error messages

    @property
    def neptun(self) -> bool:
        return self.pattern == NEPTUN_PATTERN


def student_id_rule(course: Any = None) -> StudentIdRule:
    """The rule for the course (its ``student_id_pattern`` when it sets one), else Neptun."""
    pattern = getattr(course, "student_id_pattern", None)
    if not pattern:
        return StudentIdRule()
    return StudentIdRule(str(pattern), f"an id matching the course's pattern {pattern}")


def normalize_student_id(value: str, rule: StudentIdRule | None = None) -> str:
    """The id as the grader writes it (Neptun codes in capitals); raises ValueError saying
    what an id looks like when ``value`` is not one."""
    rule = rule or StudentIdRule()
    text = value.strip()
    candidate = text.upper() if rule.neptun else text
    if not re.fullmatch(rule.pattern, candidate):
        raise ValueError(f"{value!r} is not {rule.words}")
    if not _SAFE.fullmatch(candidate) or candidate.strip(".") == "":
        raise ValueError(f"{value!r}: use letters, digits, '_', '-' or '.' only")
    return candidate
