"""`files`: the required deliverables are present."""

from __future__ import annotations

from grader.checks.base import Args, Check, CheckContext
from grader.results import CheckOutcome, Evidence, Status
from grader.spec import Deliverable


class FilesArgs(Args):
    deliverables: list[Deliverable] | None = None  # default: the spec's `deliverables`


class FilesCheck(Check):
    title = "Required files"
    Args = FilesArgs

    def run(self, ctx: CheckContext, args: FilesArgs) -> CheckOutcome:
        wanted = args.deliverables if args.deliverables is not None else ctx.spec.deliverables
        if not wanted:
            return CheckOutcome(Status.SKIPPED, "the spec lists no deliverables")
        evidence, facts, missing = [], [], []
        for item in wanted:
            matches = ctx.glob(item.globs, case_sensitive=item.case_sensitive)
            ok = len(matches) >= item.min_count
            shown = ", ".join(matches[:5]) + (
                f" (+{len(matches) - 5} more)" if len(matches) > 5 else ""
            )
            evidence.append(
                Evidence(
                    path=matches[0] if matches else " | ".join(item.globs),
                    verdict="present" if ok else "missing",
                    detail=(
                        f"{item.description}: {shown}"
                        if ok
                        else f"{item.description}: expected {item.min_count} file(s) matching "
                        f"{' or '.join(item.globs)}, found {len(matches)}"
                    ),
                )
            )
            facts.append(
                {"description": item.description, "globs": item.globs, "matches": matches, "ok": ok}
            )
            if not ok:
                missing.append(item.description)
        present = len(wanted) - len(missing)
        if missing:
            return CheckOutcome(
                Status.FAIL,
                f"{len(missing)} of {len(wanted)} deliverables missing: {'; '.join(missing)}",
                evidence,
                {"deliverables": facts},
                fraction=present / len(wanted),
            )
        return CheckOutcome(
            Status.PASS,
            f"all {len(wanted)} deliverables present",
            evidence,
            {"deliverables": facts},
        )
