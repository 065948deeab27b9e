"""Staff accounts for the review desk, from the ``staff:`` section of a course file.

```yaml
staff:
  - {login: gyires, name: "Dr. Gyires", role: instructor, password_hash: "scrypt:..."}
  - {login: anna, name: "Kovács Anna", role: assistant, password_hash: "pbkdf2:..."}
```

``password_hash`` is a Werkzeug hash (``grader serve --hash-password`` prints one); an
account without one can log in only with the token printed at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROLES = ("instructor", "assistant")


class StaffError(ValueError):
    """The course file's staff section cannot be used (the message names file and key)."""


@dataclass(frozen=True)
class Account:
    login: str
    name: str
    role: str  # instructor | assistant
    password_hash: str | None = None

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"


def load_staff(path: str | Path) -> list[Account]:
    """The accounts of the course file's ``staff:`` list, validated with the whole course
    file (``grader.course``): a problem names the file, the line and the key."""
    from grader.course import load_course
    from grader.spec import SpecError

    try:
        course = load_course(path).course
    except SpecError as exc:
        raise StaffError("; ".join(str(p) for p in exc.problems)) from None
    return [Account(m.login, m.name or m.login, m.role, m.password_hash) for m in course.staff]


def check_password(account: Account, password: str) -> bool:
    from werkzeug.security import check_password_hash

    if not account.password_hash or not password:
        return False
    try:
        return check_password_hash(account.password_hash, password)
    except (ValueError, TypeError):
        return False


def hash_password(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password)
