"""A throw-away PostgreSQL server for tests: ``GRADER_TEST_POSTGRES_URL`` when set, else a
cluster started with the local ``initdb``/``pg_ctl`` (PostgreSQL 15 from Debian) in a
temporary folder, listening on a Unix socket only, stopped at the end. As root the
server runs as ``nobody`` (PostgreSQL refuses root). None when neither is possible."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _tool(name: str) -> str | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in [*versions, Path("/usr/local/bin"), Path("/usr/bin")]:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which(name)


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args]


@contextmanager
def postgres_url() -> Iterator[str | None]:
    given = os.environ.get("GRADER_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    has_driver = any(importlib.util.find_spec(m) for m in ("psycopg", "psycopg2"))
    if (
        not initdb
        or not pg_ctl
        or not has_driver
        or (os.geteuid() == 0 and not shutil.which("setpriv"))
    ):
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="grader-pg-"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        os.chown(root, 65534, 65534)
        os.chown(sockets, 65534, 65534)
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    run = dict(capture_output=True, text=True, env=env, check=False, cwd=root)
    started = False
    try:
        done = subprocess.run(_as_server_user(
            [initdb, "-D", str(data), "-U", "grader", "--auth=trust", "-E", "UTF8"]), **run)  # fmt: skip
        if done.returncode:
            yield None
            return
        options = f"-c listen_addresses='' -c unix_socket_directories={sockets} -c fsync=off"
        done = subprocess.run(_as_server_user(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60",
             "start"]), **run)  # fmt: skip
        if done.returncode:
            yield None
            return
        started = True
        yield f"postgresql://grader@/postgres?host={sockets}"
    finally:
        if started:
            subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                           **run)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
