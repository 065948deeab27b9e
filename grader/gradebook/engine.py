"""Database engines that many processes can write to at once.

SQLite (the default) gets WAL mode, a busy timeout, foreign keys and ``BEGIN IMMEDIATE``
transactions (the write lock is taken up front, so two writers wait for each other
instead of failing on a lock upgrade), and every write is retried on ``database is
locked``. Any other SQLAlchemy URL (``postgresql://...``) is used as given.
"""

from __future__ import annotations

import importlib.util
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData, Table, create_engine, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from grader.gradebook.errors import GradebookError

T = TypeVar("T")
BUSY_TIMEOUT_S = 30.0
RETRY_FOR_S = 120.0


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL; a plain file path means a SQLite file there."""
    url = url.strip()
    if not url:
        raise GradebookError("the gradebook URL is empty; use e.g. sqlite:///gradebook.sqlite")
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # take over transaction control from the sqlite3 module (SQLAlchemy's recipe)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def make_engine(url: str, create: bool = True) -> Engine:
    """An engine for ``url``; a bad URL or a missing driver is a GradebookError. Without
    ``create`` a SQLite file that does not exist is a GradebookError too (and is not made)."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise GradebookError(f"{url!r} is not a database URL: {exc}") from None
    if parsed.drivername == "postgresql" and _has("psycopg") and not _has("psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is what is installed
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            if not create and not path.is_file():
                raise GradebookError(
                    f"no gradebook at {path}; `grader batch` (or `grader gradebook sync`) "
                    "makes one: check the --db path"
                )
            if not create and not _is_sqlite(path):  # opening it would write to it
                raise GradebookError(f"{path} is not a gradebook (not a SQLite database)")
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except NoSuchModuleError as exc:
        raise GradebookError(f"{parsed.drivername!r} is not a known database: {exc}") from None
    except ImportError as exc:
        raise GradebookError(
            f"the database driver for {parsed.drivername!r} is not installed ({exc}); "
            "for PostgreSQL: pip install 'psycopg[binary]' (or psycopg2-binary)"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _sqlite_setup(engine)
    return engine


def _is_lock_error(exc: OperationalError) -> bool:
    message = str(exc.orig or exc).lower()
    return any(word in message for word in ("locked", "busy", "deadlock", "could not serialize"))


def retry_locked(action: Callable[[], T], retry_for: float = RETRY_FOR_S) -> T:
    """Run ``action`` (one whole transaction); retry with jittered backoff while the
    database is locked by another writer."""
    give_up = time.monotonic() + retry_for
    delay = 0.02
    while True:
        try:
            return action()
        except OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() > give_up:
                raise
        time.sleep(delay + random.uniform(0, delay))
        delay = min(delay * 2, 1.0)


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: list[str],
    update: list[str] | None = None,
) -> int:
    """Insert rows; a row whose ``keys`` already exist is left alone, or gets the
    ``update`` columns replaced. Returns how many rows were inserted or updated."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        total = 0
        for row in rows:  # one statement per row: rowcount is exact on every driver
            stmt = insert(table).values(**row)
            if update:
                stmt = stmt.on_conflict_do_update(
                    index_elements=keys, set_={c: stmt.excluded[c] for c in update}
                )
            else:
                stmt = stmt.on_conflict_do_nothing(index_elements=keys)
            result = conn.execute(stmt, execution_options={"preserve_rowcount": True})
            total += max(result.rowcount, 0)
        return total
    total = 0  # any other database: look first (the transaction keeps it consistent)
    for row in rows:
        where = [table.c[k] == row[k] for k in keys]
        found = conn.execute(select(*[table.c[k] for k in keys]).where(*where)).first()
        if found is None:
            conn.execute(table.insert().values(**row))
            total += 1
        elif update:
            conn.execute(table.update().where(*where).values(**{c: row[c] for c in update}))
            total += 1
    return total


def add_missing_columns(conn: Connection, metadata: MetaData) -> list[str]:
    """Columns a newer grader added to existing tables (``create_all`` only creates missing
    tables): each is added with its default, so a gradebook made by an older version keeps
    working. Returns ``table.column`` for each column added."""

    inspector = inspect(conn)
    added = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or column.primary_key:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = column.default.arg if column.default is not None else None
            clause = f" DEFAULT {int(default)}" if isinstance(default, int | bool) else ""
            conn.exec_driver_sql(
                f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}{clause}'
            )
            added.append(f"{table.name}.{column.name}")
    return added
