"""What one review desk serves: the gradebook, the batch folders, the ways to log in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from grader.web.accounts import Account


@dataclass
class DeskConfig:
    """``db_url`` is the gradebook; ``out_dirs`` are batch folders whose
    ``similarity.json`` feeds the queue. The tokens are printed at start-up: the
    instructor's logs in as an instructor, the assistants' as a teaching assistant."""

    db_url: str
    out_dirs: list[Path] = field(default_factory=list)
    staff: list[Account] = field(default_factory=list)
    instructor_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    assistant_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
