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

import yaml

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
    """The accounts of ``path``'s ``staff:`` list (nothing else of the file is read)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StaffError(f"{path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        raise StaffError(f"{path}: not valid YAML ({exc})") from None
    staff = data.get("staff") if isinstance(data, dict) else None
    if staff is None:
        return []
    if not isinstance(staff, list):
        raise StaffError(f"{path}: staff: expected a list of {{login, name, role}}")
    accounts, seen = [], set()
    for index, item in enumerate(staff):
        where = f"{path}: staff[{index}]"
        if not isinstance(item, dict):
            raise StaffError(f"{where}: expected a mapping with login, name and role")
        unknown = set(item) - {"login", "name", "role", "password_hash"}
        if unknown:
            raise StaffError(f"{where}.{sorted(unknown)[0]}: unknown key (login, name, role, "
                             "password_hash)")  # fmt: skip
        login = str(item.get("login") or "").strip()
        if not login:
            raise StaffError(f"{where}.login: missing")
        if login in seen:
            raise StaffError(f"{where}.login: {login!r} is listed twice")
        seen.add(login)
        role = str(item.get("role") or "").strip()
        if role not in ROLES:
            raise StaffError(f"{where}.role: {role!r}; use instructor or assistant")
        password_hash = item.get("password_hash")
        accounts.append(
            Account(login, str(item.get("name") or login), role,
                    str(password_hash) if password_hash else None)
        )  # fmt: skip
    return accounts


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
