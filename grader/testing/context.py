"""A ``CheckContext`` for one check on a folder, in one line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from grader.checks.base import CheckContext
from grader.results import CheckResult, PinInfo
from grader.sandbox.queue import RunQueue
from grader.settings import RerunMode, RunSettings
from grader.spec import AssignmentSpec, CheckSpec


def make_context(
    workdir: str | Path,
    check: str = "files",
    *,
    check_id: str | None = None,
    spec: AssignmentSpec | None = None,
    spec_id: str = "demo",
    deadline: str = "2020-10-27 23:59",
    mode: str = "pinned",
    pin: PinInfo | None = None,
    previous: list[CheckResult] | None = None,
    rerun: RerunMode | str = RerunMode.NONE,
    hidden: bool = False,
    queue: RunQueue | None = None,
    student: str = "ABC123",
    repo: str | None = None,
    commit: str | None = None,
    committed_at: datetime | None = None,
    spec_fields: dict[str, Any] | None = None,
) -> CheckContext:
    """The context a check of type ``check`` (spec id ``check_id``) sees on ``workdir``.

    Without ``spec``, a minimal valid spec is made (``spec_fields`` adds keys to it) whose
    last check is this one; with ``spec``, its check with that id (else its last) is used.
    """
    workdir = Path(workdir)
    key = check_id or check
    if spec is None:
        entry: dict[str, Any] = {"check": check}
        if check_id:
            entry["id"] = check_id
        data = {"id": spec_id, "title": "Demo", "course": "test", "deadline": deadline}
        data.update(spec_fields or {})
        data["checks"] = [*data.get("checks", []), entry]
        spec = AssignmentSpec.model_validate(data)
    check_spec = next((c for c in spec.checks if c.key == key), None)
    if check_spec is None:
        check_spec = CheckSpec(check=check, id=check_id) if check_id else spec.checks[-1]
    return CheckContext(
        spec=spec, check=check_spec, workdir=workdir, student=student,
        repo=repo if repo is not None else str(workdir), commit=commit,
        committed_at=committed_at, deadline=spec.deadline_at, pin=pin or PinInfo(mode=mode),
        mode=mode, previous=list(previous or []),
        settings=RunSettings(rerun=RerunMode.parse(rerun), hidden=hidden), queue=queue,
    )  # fmt: skip
