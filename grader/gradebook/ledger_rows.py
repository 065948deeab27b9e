"""The deadline ledger's copy in the gradebook (``snapshot_ledger``): the same entries as
``OUT/ledger.jsonl`` (``grader.ledger``), so that ``grader snapshot verify`` notices even a
deleted last line. Rows are only ever added; a ledger is identified by its ``ledger`` id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from grader.gradebook.engine import insert_rows
from grader.gradebook.models import Base

if TYPE_CHECKING:
    from grader.gradebook.store import Gradebook


class LedgerRow(Base):
    __tablename__ = "snapshot_ledger"
    ledger: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    prev: Mapped[str] = mapped_column(String(64))
    assignment: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(128))
    repo: Mapped[str] = mapped_column(Text)
    head: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    deadline: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[str] = mapped_column(String(64))
    entry_json: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


def record_entries(book: Gradebook, entries: Iterable[dict[str, Any]]) -> int:
    """Add ledger entries (their full JSON objects); an entry already there is kept as it
    was, so a rewritten file cannot rewrite the gradebook's copy."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        dict(
            ledger=str(e["ledger"]),
            seq=int(e["seq"]),
            hash=str(e["hash"]),
            prev=str(e["prev"]),
            assignment=str(e.get("assignment") or ""),
            kind=str(e.get("kind") or "final"),
            unit=str(e.get("unit") or ""),
            repo=str(e.get("repo") or ""),
            head=e.get("head"),
            error=e.get("error"),
            deadline=str(e.get("deadline") or ""),
            observed_at=str(e.get("observed_at") or ""),
            entry_json=json.dumps(e, sort_keys=True, ensure_ascii=False),
            recorded_at=now,
        )  # fmt: skip
        for e in entries
    ]
    return book._write(lambda conn: insert_rows(conn, LedgerRow.__table__, rows, ["ledger", "seq"]))


def ledger_rows(book: Gradebook, ledger_id: str) -> list[dict[str, Any]]:
    """seq, hash and unit of every entry of one ledger the gradebook holds, in order."""
    statement = (
        select(LedgerRow.seq, LedgerRow.hash, LedgerRow.unit)
        .where(LedgerRow.ledger == ledger_id)
        .order_by(LedgerRow.seq)
    )
    with book.engine.connect() as conn:
        return [dict(seq=r.seq, hash=r.hash, unit=r.unit) for r in conn.execute(statement)]


def ledger_ids(book: Gradebook) -> list[str]:
    with book.engine.connect() as conn:
        return list(conn.scalars(select(LedgerRow.ledger).distinct()))
