"""A review desk served by waitress in a background thread, for the browser tests."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.web.accounts import Account
from grader.web.config import DeskConfig
from grader.web.server import make_server

INSTRUCTOR_TOKEN = "instructor-token-for-tests"
ASSISTANT_TOKEN = "assistant-token-for-tests"


@dataclass
class Running:
    url: str
    db: str
    out: Path
    config: DeskConfig


@contextmanager
def serve_copy(
    graded_out: Path, tmp: Path, staff: list[Account] | None = None
) -> Iterator[Running]:
    """Serve a copy of the graded class's gradebook (each test starts from the graded
    state); the batch folder itself is shared read-only."""
    db_file = tmp / "desk" / "gradebook.sqlite"
    db_file.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # the write-ahead log too, if not yet checkpointed
        source = graded_out / f"gradebook.sqlite{suffix}"
        if source.exists():
            shutil.copy(source, db_file.with_name(db_file.name + suffix))
    config = DeskConfig(
        db_url=f"sqlite:///{db_file}", out_dirs=[graded_out], staff=list(staff or []),
        instructor_token=INSTRUCTOR_TOKEN, assistant_token=ASSISTANT_TOKEN,
    )  # fmt: skip
    server = make_server(config, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Running(f"http://127.0.0.1:{server.effective_port}", config.db_url, graded_out,
                      config)  # fmt: skip
    finally:
        server.close()
        thread.join(timeout=10)
