"""`grader snapshot SPEC --roster R` (record each repository's HEAD at the deadline) and
`grader snapshot verify` (check the ledger's hash chain and its gradebook copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from grader.cli import app
from grader.cli.core import SemesterOpt, load_or_exit
from grader.cli.output import console, err_console
from grader.ledger import FINAL, LEDGER_FILE, LedgerError, compare_with_rows, read_lines
from grader.paths import cache_dir as default_cache_dir

STYLE = {"recorded": "green", "skipped": "dim", "failed": "magenta"}


def _gradebook(url: str, warnings: list[str]):  # -> Gradebook | None
    try:
        from grader.gradebook import Gradebook

        return Gradebook(url)
    except Exception as exc:  # noqa: BLE001 - the file is the ledger; the copy is a warning
        warnings.append(f"gradebook {url} not used: {type(exc).__name__}: {exc}")
        return None


@app.command()
def snapshot(
    spec_ref: Annotated[
        str,
        typer.Argument(
            metavar="SPEC|verify", help="spec file or bundled id; or 'verify' to check the ledger"
        ),
    ],
    roster: Annotated[Path | None, typer.Option(help="roster CSV (as for `grader batch`)")] = None,
    out: Annotated[Path, typer.Option(help="output folder; the ledger is OUT/ledger.jsonl")] = Path(
        "grader-out"
    ),
    milestone: Annotated[
        str | None, typer.Option(help="record at this milestone's deadline instead")
    ] = None,
    semester: SemesterOpt = None,
    org: Annotated[str | None, typer.Option(help="GitHub organisation for {org}")] = None,
    ids: Annotated[
        Path | None, typer.Option(help="CSV identifier,neptun for a Classroom roster")
    ] = None,
    cache: Annotated[Path | None, typer.Option(help="mirror cache folder")] = None,
    gradebook: Annotated[
        str | None, typer.Option(help="gradebook URL (default sqlite:///OUT/gradebook.sqlite)")
    ] = None,
    ledger: Annotated[
        Path | None, typer.Option(help="the ledger file (default OUT/ledger.jsonl)")
    ] = None,
    again: Annotated[
        bool, typer.Option("--again", help="observe repositories already recorded again")
    ] = False,
) -> None:
    """Record each repository's branch HEAD at the deadline in an append-only, hash-chained
    ledger (OUT/ledger.jsonl and the gradebook), and keep its objects in the mirror cache;
    `grade` and `batch` then pin on the recorded HEAD. Run it at the deadline (cron, or a
    scheduled workflow); a repository whose deadline has not passed is left for a later run.

    `grader snapshot verify --out OUT` checks the ledger: exit 0 when intact, 1 when a line
    was edited, deleted, inserted or moved."""
    ledger_path = ledger or out / LEDGER_FILE
    book_url = gradebook or f"sqlite:///{out.resolve() / 'gradebook.sqlite'}"
    if spec_ref == "verify":
        raise typer.Exit(verify(ledger_path, book_url, cache))
    if roster is None:
        err_console.print("[red]error[/] --roster: required (the repositories to observe)")
        raise typer.Exit(2)
    raise typer.Exit(
        record(spec_ref, roster, ledger_path, book_url, milestone, semester, org, ids, cache, again)
    )


def record(
    spec_ref: str, roster: Path, ledger_path: Path, book_url: str, milestone: str | None,
    semester: str | None, org: str | None, ids: Path | None, cache: Path | None, again: bool,
) -> int:  # fmt: skip
    from grader.batch.units import build_units
    from grader.roster import RosterError, load_roster
    from grader.snapshot import take_snapshots, targets_from_units

    spec = load_or_exit(spec_ref, semester)
    kind = milestone or FINAL
    if milestone is not None and milestone not in {m.id for m in spec.milestones}:
        known = ", ".join(m.id for m in spec.milestones) or "none"
        err_console.print(f"[red]error[/] --milestone: {escape(milestone)} is not a milestone "
                          f"of {spec.id} ({known})")  # fmt: skip
        return 2
    try:
        class_roster = load_roster(roster, spec, org=org, ids=ids)
    except RosterError as exc:
        for problem in exc.problems:
            err_console.print(f"[red]error[/] {escape(str(problem))}")
        return 2
    targets = targets_from_units(build_units(class_roster, spec), spec, kind)
    try:
        outcomes = take_snapshots(
            spec, targets, ledger_path, (cache or default_cache_dir()).resolve(), kind=kind,
            semester=spec.semester, again=again,
        )  # fmt: skip
    except LedgerError as exc:
        err_console.print(f"[red]error[/] {escape(str(ledger_path))} fails verification; "
                          "nothing was added:")  # fmt: skip
        for problem in exc.problems:
            err_console.print(f"  {escape(problem)}")
        return 2
    warnings: list[str] = []
    added = [o.entry.data for o in outcomes if o.status != "skipped" and o.entry is not None]
    if added:
        book = _gradebook(book_url, warnings)
        if book is not None:
            from grader.gradebook.ledger_rows import record_entries

            try:
                record_entries(book, added)
            except Exception as exc:  # noqa: BLE001 - the file holds the entries
                warnings.append(f"gradebook: ledger entries not copied: {exc}")
    for outcome in outcomes:
        style = STYLE[outcome.status]
        console.print(f"[{style}]{outcome.status}[/] {escape(outcome.target.unit)} "
                      f"{escape(outcome.message)}", soft_wrap=True)  # fmt: skip
    counts = {s: sum(o.status == s for o in outcomes) for s in STYLE}
    console.print(
        f"{spec.id} {kind}: {counts['recorded']} recorded, {counts['failed']} unreadable "
        f"(recorded with the error), {counts['skipped']} skipped; ledger {escape(str(ledger_path))}"
    )
    for warning in warnings:
        err_console.print(f"[yellow]warning[/] {escape(warning)}")
    return 1 if counts["failed"] else 0


def verify(ledger_path: Path, book_url: str, cache: Path | None) -> int:
    """Check the chain, the gradebook's copy and (when the cache is at hand) the kept refs."""
    if not ledger_path.is_file():
        err_console.print(f"[red]error[/] {escape(str(ledger_path))}: no ledger here")
        return 2
    entries, problems = read_lines(ledger_path)
    warnings: list[str] = []
    ledger_id = entries[0].get("ledger") if entries else None
    sqlite_file = book_url.removeprefix("sqlite:///") if book_url.startswith("sqlite:///") else None
    book = None
    if sqlite_file is not None and not Path(sqlite_file).is_file():
        warnings.append(f"no gradebook at {sqlite_file}: a deleted last line cannot be detected")
    elif ledger_id:
        book = _gradebook(book_url, warnings)
    if book is not None:
        from grader.gradebook.ledger_rows import ledger_rows

        rows = ledger_rows(book, str(ledger_id))
        if rows:
            problems += compare_with_rows(entries, rows)
            copied = {r["seq"] for r in rows}
            lacking = [str(e.seq) for e in entries if e.seq not in copied]
            if lacking:
                warnings.append(f"entries {', '.join(lacking)} have no gradebook copy")
        else:
            warnings.append(f"the gradebook {book_url} has no copy of this ledger")
    warnings += _missing_refs(entries, cache)
    for problem in problems:
        console.print(f"[red]tampered[/] {escape(problem)}", soft_wrap=True)
    for warning in warnings:
        err_console.print(f"[yellow]warning[/] {escape(warning)}")
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/]: the ledger cannot be trusted")
        return 1
    console.print(f"[green]ok[/] {len(entries)} entries, the chain is intact")
    return 0


def _missing_refs(entries: list, cache: Path | None) -> list[str]:
    """Entries whose kept ref is gone from this machine's mirror cache (a warning: the
    snapshot may have been taken with another cache)."""
    from grader import fetch

    root = cache or default_cache_dir()
    found = []
    for entry in entries:
        ref, head, repo = entry.get("ref"), entry.head, entry.repo
        if not ref or not head or not repo:
            continue
        mirror = fetch.mirror_path(repo, root)
        if (mirror / "HEAD").exists() and fetch.resolve_ref(mirror, ref) != head:
            found.append(f"entry {entry.seq} ({entry.unit}): {ref} is gone from the mirror cache")
    return found
