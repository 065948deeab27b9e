"""Starting and stopping the review desk: one command (`grader serve`), Ctrl-C stops it.

Served by waitress (pure Python, threaded) on 127.0.0.1 unless told otherwise. A taken
port is a clear error, never a traceback.
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from grader.web.accounts import StaffError, load_staff
from grader.web.config import DeskConfig


class ServeError(Exception):
    """The desk cannot start (the message says why and what to do)."""


def desk_config(out_dirs: list[Path], db: str | None, course: Path | None) -> DeskConfig:
    for out in out_dirs:
        if not out.is_dir():
            raise ServeError(f"{out}: no such folder (a batch output folder)")
    if db is None:
        if not out_dirs:
            raise ServeError("give a batch output folder (OUT) or --db URL")
        candidate = out_dirs[0] / "gradebook.sqlite"
        if not candidate.is_file():
            raise ServeError(
                f"{candidate}: no gradebook there; grade the class with `grader batch` "
                "(or `grader gradebook sync`) first, or give --db URL"
            )
        db = f"sqlite:///{candidate.resolve()}"
    staff = []
    if course is not None:
        try:
            staff = load_staff(course)
        except StaffError as exc:
            raise ServeError(str(exc)) from None
    return DeskConfig(db_url=db, out_dirs=list(out_dirs), staff=staff)


def port_is_free(host: str, port: int) -> None:
    """Raise ServeError when ``host:port`` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is taken (another `grader serve`?); stop that one "
                f"or choose another port with --port {port + 1}"
            ) from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        probe.close()


def make_server(config: DeskConfig, host: str = "127.0.0.1", port: int = 0, threads: int = 8):
    """A waitress server for the desk (port 0: any free port; see ``.effective_port``)."""
    from waitress import create_server

    from grader.web.app import create_app

    if port:
        port_is_free(host, port)
    try:
        return create_server(create_app(config), host=host, port=port, threads=threads,
                             ident="grader-review-desk")  # fmt: skip
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(
    out_dirs: list[Path], *, db: str | None, host: str, port: int, course: Path | None,
    threads: int = 8, echo: Any = print,
) -> None:  # fmt: skip
    """Start the desk, print how to log in, serve until Ctrl-C (or SIGTERM)."""
    config = desk_config(out_dirs, db, course)
    server = make_server(config, host, port, threads)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{server.effective_port}"
    echo(f"review desk on {url}/  (gradebook: {config.db_url})")
    echo(f"  instructor token: {config.instructor_token}")
    echo(f"  assistant token:  {config.assistant_token}")
    echo(f"  or log in at {url}/login?token={config.instructor_token}")
    if config.staff:
        echo(f"  {len(config.staff)} staff account(s) from the course file")
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"  warning: listening on {host}: anyone who reaches this machine sees the login page")
    echo("Ctrl-C stops it.")

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        echo("review desk stopped")
        sys.stdout.flush()
