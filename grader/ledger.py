"""The deadline snapshot ledger: an append-only file of JSON lines, each hash-chained to the
one before, so that an edited, deleted, inserted or reordered line is detected.

One line is one observation of one repository at one deadline::

    {"ledger": "<id>", "seq": 3, "prev": "<hash of line 2>", "hash": "<sha256 of this entry>",
     "assignment": "hw3-temperature", "semester": "2020-autumn", "kind": "final" | "m1",
     "unit": "ABC123", "members": ["ABC123"], "repo": "<normalised URL>", "branch": "main",
     "head": "<sha>" | null, "error": null | "<why the repository could not be read>",
     "deadline": "...", "fetch_started_at": "...", "observed_at": "...", "ref": "refs/grader/...",
     "evidence": {...}, "grader_version": "..."}

``hash`` is the SHA-256 of the entry's canonical JSON (sorted keys, no spaces) without
``hash``; ``prev`` is the previous line's ``hash`` (64 zeros for the first line). Times
are UTC, from the grader's clock. The gradebook keeps the same entries (``seq``, ``hash``)
so that even the last line cannot be removed unnoticed.

Pure file handling: no git, no network (``grader.snapshot`` takes the snapshots).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.results import file_lock

LEDGER_FILE = "ledger.jsonl"
GENESIS = "0" * 64
FINAL = "final"


class LedgerError(Exception):
    """A ledger that cannot be trusted or written; carries every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(data: dict[str, Any]) -> str:
    """The SHA-256 of an entry without its own ``hash``."""
    body = {k: v for k, v in data.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Entry:
    """One line of the ledger (``data`` is the whole JSON object, ``line`` its line)."""

    data: dict[str, Any]
    line: int

    def get(self, key: str) -> Any:
        return self.data.get(key)

    @property
    def seq(self) -> int | None:
        return self.data.get("seq")

    @property
    def hash(self) -> str | None:
        return self.data.get("hash")

    @property
    def kind(self) -> str:
        return self.data.get("kind") or FINAL

    @property
    def head(self) -> str | None:
        return self.data.get("head")

    @property
    def repo(self) -> str | None:
        return self.data.get("repo")

    @property
    def unit(self) -> str | None:
        return self.data.get("unit")

    @property
    def deadline_at(self) -> datetime | None:
        return _moment(self.data.get("deadline"))

    @property
    def started_at(self) -> datetime | None:
        return _moment(self.data.get("fetch_started_at") or self.data.get("observed_at"))

    @property
    def observed_at_time(self) -> datetime | None:
        return _moment(self.data.get("observed_at"))

    def summary(self) -> dict[str, Any]:
        """What a result records about the entry its pin rests on."""
        keys = ("ledger", "seq", "hash", "kind", "branch", "head", "error", "deadline",
                "fetch_started_at", "observed_at", "ref", "evidence")  # fmt: skip
        return {k: self.data.get(k) for k in keys}


@dataclass
class Ledger:
    path: Path
    entries: list[Entry] = field(default_factory=list)

    @property
    def id(self) -> str | None:
        return self.entries[0].data.get("ledger") if self.entries else None

    def lookup(self, assignment: str, kind: str, repo: str, deadline: datetime) -> Entry | None:
        """The entry a pin at ``deadline`` rests on: the earliest observation of ``repo``
        for this deadline whose fetch started at or after it (an observation made before
        the deadline cannot bound what was pushed by it). An entry whose repository could
        not be read is returned only when no entry has a HEAD."""
        usable = [
            e for e in self.entries
            if e.get("assignment") == assignment and e.kind == kind and e.repo == repo
            and e.deadline_at == deadline and e.started_at is not None
            and e.started_at >= deadline
        ]  # fmt: skip
        usable.sort(key=lambda e: (e.started_at, e.seq or 0))
        with_head = [e for e in usable if e.head]
        return (with_head or usable or [None])[0]


def read_lines(path: Path) -> tuple[list[Entry], list[str]]:
    """Every entry of the file and every problem of the chain, with line numbers."""
    entries: list[Entry] = []
    problems: list[str] = []
    if not path.is_file():
        return entries, problems
    prev, seq, ledger_id = GENESIS, 0, None
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                problems.append(f"{where}: an empty line (the ledger has none; edited?)")
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                problems.append(f"{where}: not valid JSON (edited or cut short)")
                continue
            if not isinstance(data, dict):
                problems.append(f"{where}: not a ledger entry (a JSON object)")
                continue
            who = f"entry {data.get('seq')} ({data.get('unit') or '?'})"
            if data.get("hash") != entry_hash(data):
                problems.append(f"{where}: {who} was edited: its hash does not match its content")
            if data.get("prev") != prev:
                problems.append(
                    f"{where}: {who} does not follow the line before it (a line was deleted, "
                    "inserted or moved)"
                )
            if data.get("seq") != seq + 1:
                problems.append(f"{where}: {who} is numbered {data.get('seq')}, {seq + 1} expected")
            ledger_id = ledger_id or data.get("ledger")
            if data.get("ledger") != ledger_id:
                problems.append(f"{where}: {who} belongs to another ledger ({data.get('ledger')})")
            prev = str(data.get("hash"))
            seq = data["seq"] if isinstance(data.get("seq"), int) else seq + 1
            entries.append(Entry(data, number))
    return entries, problems


def load_ledger(path: str | Path) -> Ledger:
    """The ledger at ``path`` (empty when the file does not exist). Raises LedgerError when
    the chain is broken: a pin never rests on a ledger that was tampered with."""
    path = Path(path)
    entries, problems = read_lines(path)
    if problems:
        raise LedgerError(problems)
    return Ledger(path, entries)


def append(path: str | Path, records: list[dict[str, Any]]) -> list[Entry]:
    """Chain and append ``records`` (entries without ledger/seq/prev/hash); returns them.
    Refuses (LedgerError) to extend a ledger whose chain is already broken."""
    path = Path(path)
    with file_lock(path):
        ledger = load_ledger(path)
        ledger_id = ledger.id or uuid.uuid4().hex
        last = ledger.entries[-1].data if ledger.entries else None
        prev = last["hash"] if last else GENESIS
        seq = last["seq"] if last else 0
        added: list[Entry] = []
        lines = []
        start_line = (ledger.entries[-1].line if ledger.entries else 0) + 1
        for index, record in enumerate(records):
            seq += 1
            data = {**record, "ledger": ledger_id, "seq": seq, "prev": prev}
            data["hash"] = entry_hash(data)
            prev = data["hash"]
            lines.append(canonical(data) + "\n")
            added.append(Entry(data, start_line + index))
        with path.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
    return added


def compare_with_rows(entries: list[Entry], rows: list[dict[str, Any]]) -> list[str]:
    """Differences between the file and the gradebook's copy of the same ledger
    (``rows``: seq and hash of each entry the gradebook recorded)."""
    problems = []
    by_seq = {e.seq: e for e in entries}
    for row in sorted(rows, key=lambda r: r["seq"]):
        entry = by_seq.get(row["seq"])
        if entry is None:
            problems.append(
                f"entry {row['seq']} ({row.get('unit') or '?'}) is in the gradebook but not in "
                "the file: it was deleted"
            )
        elif entry_hash(entry.data) != row["hash"]:
            problems.append(
                f"entry {row['seq']} ({entry.unit}) differs from the gradebook's copy: the line "
                "was rewritten"
            )
    return problems
