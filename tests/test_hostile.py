"""The hostile suite: each case is a real script run through the real bubblewrap sandbox.

Every case must be contained, give a clear result, leave no process of the sandbox uid
behind, and the next submission must grade normally.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.sandbox import BubblewrapSandbox, Limits
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter
from grader.sandbox.process import processes_of_uid
from grader.sandbox.workspace import discard_workdir, prepare_workdir

pytestmark = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))

PY = resolve_interpreter(sys.executable)
MOUNTS = interpreter_mounts(PY)
SMALL = Limits(wall_s=4, memory_mb=512, processes=64, file_size_mb=20, output_max=1 << 20)


@pytest.fixture
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox(uid=61010)


def run_script(sandbox: BubblewrapSandbox, code: str, limits: Limits = SMALL, **kwargs):
    work = prepare_workdir(None, sandbox.uid)
    (work / "evil.py").write_text(code)
    try:
        return sandbox.run([str(PY), "evil.py"], work, limits, mounts=MOUNTS, **kwargs), work
    finally:
        if os.geteuid() == 0:
            os.chown(work / "evil.py", sandbox.uid, sandbox.uid)


def assert_clean_and_next_ok(sandbox: BubblewrapSandbox) -> None:
    if os.geteuid() == 0:
        deadline = time.monotonic() + 2
        while processes_of_uid(sandbox.uid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_of_uid(sandbox.uid) == []
    out, work = run_script(sandbox, "print('normal submission', 6 * 7)")
    assert out.ok, out.stderr
    assert out.stdout.strip() == "normal submission 42"
    discard_workdir(work)


@pytest.mark.slow
def test_fork_bomb_is_contained(sandbox):
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    out, work = run_script(sandbox, bomb, Limits(wall_s=3, processes=40, memory_mb=256))
    assert not out.ok
    assert out.limit_hit in ("wall_time", "processes")
    assert "limit" in out.summary()
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_infinite_loop_with_children_and_detached_grandchild(sandbox):
    code = (
        "import subprocess, os\n"
        "subprocess.Popen(['sleep', '1000'])\n"
        "subprocess.Popen(['sh', '-c', 'setsid sleep 1000 & disown; sleep 1000'],"
        " start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '999'])\n"
        "while True:\n    pass\n"
    )
    out, work = run_script(sandbox, code, Limits(wall_s=2, processes=64))
    assert out.limit_hit == "wall_time"
    assert 2 <= out.wall_s < 6
    assert out.summary().startswith("stopped at the wall-time limit")
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_memory_hog_is_stopped(sandbox):
    code = "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 1024 * 1024))\n"
    out, work = run_script(sandbox, code, Limits(wall_s=10, memory_mb=300))
    assert out.limit_hit == "memory", (out.returncode, out.stderr[-500:])
    assert out.wall_s < 10
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_memory_hog_is_stopped_by_the_cgroup(sandbox):
    """The bound GPU runs rely on (RLIMIT_AS cannot apply to CUDA): the cgroup's OOM kill."""
    from grader.sandbox.cgroup import Cgroup

    probe = Cgroup.create(None, None) if os.geteuid() == 0 else None
    if probe is None:
        pytest.skip("no writable cgroup here")
    probe.remove()
    code = (
        "blocks = []\nwhile True:\n"
        "    blocks.append(bytearray(50 * 1024 * 1024))\n"
        "    blocks[-1][::4096] = b'x' * (50 * 256)\n"
    )
    out, work = run_script(sandbox, code, Limits(wall_s=10, memory_mb=200, cgroup="always"))
    assert out.limit_hit == "memory", (out.returncode, out.stderr[-500:])
    assert out.memory_bound.startswith("cgroup v")
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_huge_file_write_is_capped(sandbox):
    code = (
        "chunk = b'x' * (1 << 20)\n"
        "with open('big.bin', 'wb') as f:\n"
        "    for _ in range(10 * 1024):\n        f.write(chunk)\n"
    )
    out, work = run_script(sandbox, code)
    assert out.limit_hit == "file_size", (out.returncode, out.stderr[-500:])
    assert (work / "big.bin").stat().st_size <= 20 * 1024 * 1024
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_gigabyte_of_stdout_is_cut_off(sandbox):
    code = (
        "import sys\nline = 'spam' * 256 + '\\n'\n"
        "for _ in range(1_000_000):\n    sys.stdout.write(line)\n"
    )
    out, work = run_script(sandbox, code)
    assert out.limit_hit == "output"
    assert out.stdout_bytes < 64 * 1024 * 1024  # killed long before a gigabyte
    assert len(out.stdout) <= SMALL.output_kept + 200
    assert "left out by the grader" in out.stdout
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_no_network_to_a_local_server(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(1.5)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            accepted.append(server.accept())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    code = (
        "import socket\n"
        f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    print('CONNECTED')\nexcept OSError as exc:\n    print('BLOCKED', type(exc).__name__)\n"
    )
    out, work = run_script(sandbox, code)
    thread.join(2)
    server.close()
    assert out.ok
    assert "BLOCKED" in out.stdout and "CONNECTED" not in out.stdout
    assert accepted == []
    assert out.network is False
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_writes_outside_the_work_dir_fail(sandbox, tmp_path):
    outside = tmp_path / "planted.txt"
    code = (
        "import os\nresults = []\n"
        f"for target in ['/etc/planted', '/usr/planted', '/planted', {str(outside)!r},"
        " '/submission/../planted']:\n"
        "    try:\n        open(target, 'w').write('x')\n"
        "        results.append('WROTE ' + target)\n"
        "    except OSError as exc:\n        results.append('DENIED ' + target)\n"
        "open('/tmp/private', 'w').write('ok')\nopen('inside.txt', 'w').write('ok')\n"
        "print('\\n'.join(results))\n"
    )
    out, work = run_script(sandbox, code)
    assert out.ok, out.stderr
    assert "WROTE" not in out.stdout
    assert not outside.exists() and not Path("/etc/planted").exists()
    assert (work / "inside.txt").read_text() == "ok"
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)


def test_cannot_read_shadow_other_submissions_references_or_secrets(sandbox, tmp_path, monkeypatch):
    other = prepare_workdir(None, 61011)
    (other / "solution.py").write_text("SECRET_SOLUTION")
    reference = tmp_path / "reference_solutions" / "hw4"
    reference.mkdir(parents=True)
    (reference / "reference.json").write_text('{"accuracy": 0.93}')
    os.chmod(tmp_path, 0o755)
    monkeypatch.setenv("GRADER_API_TOKEN", "s3cr3t-token")
    code = (
        "import os\nleaks = []\n"
        f"for path in ['/etc/shadow', {str(other / 'solution.py')!r},"
        f" {str(reference / 'reference.json')!r}, '/root/.bash_history', '/proc/1/environ']:\n"
        "    try:\n        data = open(path, 'rb').read()\n"
        "        if path != '/proc/1/environ' or b's3cr3t' in data:\n"
        "            leaks.append(path)\n"
        "    except OSError:\n        pass\n"
        "env = dict(os.environ)\n"
        "if any('s3cr3t' in v for v in env.values()):\n    leaks.append('environment')\n"
        "print('LEAKS', leaks)\n"
    )
    out, work = run_script(sandbox, code)
    assert out.ok, out.stderr
    assert "LEAKS []" in out.stdout
    assert "s3cr3t" not in out.stdout + out.stderr
    assert_clean_and_next_ok(sandbox)
    discard_workdir(work)
    discard_workdir(other)


def test_zombies_are_reaped_over_a_batch(sandbox):
    """Orphans and unreaped children inside the sandbox never pile up outside it."""
    code = (
        "import os, time\n"
        "for _ in range(5):\n"
        "    if os.fork() == 0:\n        os._exit(0)\n"  # children never waited for
        "if os.fork() == 0:\n"
        "    if os.fork() == 0:\n        time.sleep(0.2)\n        os._exit(0)\n"  # an orphan
        "    os._exit(0)\n"
        "time.sleep(0.05)\nprint('done')\n"
    )
    # zombies this process held before (orphans of earlier tests' killed batches, adopted
    # by this process as a subreaper) are not the sandbox's: only new ones count
    before = set(zombie_children())
    for _ in range(15):
        out, work = run_script(sandbox, code, Limits(wall_s=5, processes=16))
        assert out.ok and out.stdout.strip() == "done", out.stderr
        discard_workdir(work)
    if os.geteuid() == 0:
        assert processes_of_uid(sandbox.uid, zombies=True) == []
    assert set(zombie_children()) - before == set()
    assert_clean_and_next_ok(sandbox)


def zombie_children() -> list[str]:
    """The pids of this process's children that are zombies."""
    found = []
    for pid in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split():
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                found.append(pid)
        except OSError:
            continue
    return found
