"""Sandbox units: limits, argv, output capping, policy, workspaces, cgroups, venvs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from grader.sandbox import (
    BubblewrapSandbox,
    Limits,
    Mount,
    PlainSandbox,
    SandboxError,
    choose_sandbox,
)
from grader.sandbox.bwrap import (
    bwrap_available,
    bwrap_problem,
    bwrap_version,
    reachable_by,
)
from grader.sandbox.cgroup import Cgroup
from grader.sandbox.envs import interpreter_mounts, requirements_hash, resolve_interpreter
from grader.sandbox.process import CappedBuffer, limit_reason
from grader.sandbox.workspace import (
    collect_artifacts,
    discard_workdir,
    file_states,
    prepare_workdir,
)
from grader.testing import build_file_tree

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
PY = resolve_interpreter(sys.executable)


def test_capped_buffer_keeps_head_and_tail():
    buf = CappedBuffer(10)
    for chunk in (b"abcdefgh", b"ijklmnop", b"qrstuvwxyz"):
        buf.feed(chunk)
    assert buf.total == 26
    text = buf.text()
    assert text.startswith("abcde") and text.endswith("vwxyz")
    assert "[... 16 bytes left out by the grader ...]" in text
    small = CappedBuffer(100)
    small.feed(b"hello")
    assert small.text() == "hello"


def test_limit_reasons():
    assert limit_reason(0, "", None, False) is None
    assert limit_reason(-9, "", "wall_time", False) == "wall_time"
    assert limit_reason(137, "", None, True) == "memory"
    assert limit_reason(152, "", None, False) == "cpu_time"  # 128 + SIGXCPU
    assert limit_reason(1, "OSError: [Errno 27] File too large", None, False) == "file_size"
    assert limit_reason(1, "MemoryError", None, False) == "memory"
    assert limit_reason(1, "BlockingIOError: Resource temporarily unavailable", None, False)
    assert limit_reason(1, "ValueError: bad", None, False) is None


def test_default_cpu_limit_scales_with_wall_time():
    assert Limits(wall_s=10, cpu_s=3).effective_cpu_s() == 3
    assert Limits(wall_s=10).effective_cpu_s() >= 11


def test_reachable_by():
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        private = base / "private"
        private.mkdir(mode=0o700)
        assert reachable_by(base, 61099, 61099)
        assert not reachable_by(private / "x", 61099, 61099)
        assert reachable_by(private, 0, 0)
    finally:
        shutil.rmtree(base)


@needs_bwrap
def test_bwrap_argv(tmp_path):
    sandbox = BubblewrapSandbox(uid=61040)
    assert bwrap_version() >= (0, 4)
    limits = Limits(wall_s=5, memory_mb=100, processes=10, file_size_mb=1, open_files=64)
    argv, warnings = sandbox.build(["echo", "hi"], tmp_path, limits, stage_dir=tmp_path / "a")
    assert argv[-3:] == ["--", "echo", "hi"]
    assert "--unshare-all" in argv and "--share-net" not in argv
    assert "--die-with-parent" in argv and "--new-session" in argv
    assert argv[argv.index("--remount-ro") + 1] == "/"
    assert f"--as={100 * 1024 * 1024}" in argv and "--nproc=160" in argv  # 16 tasks each
    assert "--nofile=64" in argv and f"--fsize={1024 * 1024}" in argv
    work = prepare_workdir(None, sandbox.uid)
    inside = sandbox.run(["/bin/sh", "-c", "id -u; id -G"], work, Limits(wall_s=10))
    grouped = sandbox.run(["id", "-u"], work, Limits(wall_s=10, cgroup="always"))
    discard_workdir(work)
    if os.geteuid() == 0:
        assert inside.stdout.split() == ["61040", "61040"]  # the slot's uid, no other group
        assert grouped.stdout.strip() == "61040"
    if bwrap_version() >= (0, 8):
        assert "--disable-userns" in argv and not warnings
    if bwrap_version() >= (0, 7):
        assert argv[argv.index("--size") + 1] == str(512 * 1024 * 1024)
    net, _ = sandbox.build(["x"], tmp_path, limits, network=True, stage_dir=tmp_path / "b")
    assert "--share-net" in net


@needs_bwrap
def test_network_allowed_only_when_asked(tmp_path):
    sandbox = BubblewrapSandbox(uid=61041)
    work = prepare_workdir(None, sandbox.uid)
    code = "import socket; print(len(socket.if_nameindex()))"
    closed = sandbox.run(
        [str(PY), "-c", code], work, Limits(wall_s=20), mounts=interpreter_mounts(PY)
    )
    opened = sandbox.run(
        [str(PY), "-c", code], work, Limits(wall_s=20), mounts=interpreter_mounts(PY),
        network=True,
    )  # fmt: skip
    discard_workdir(work)
    assert closed.stdout.strip() == "1"  # loopback only
    assert opened.network is True and int(opened.stdout.strip()) >= 1


@needs_bwrap
def test_private_tmp_is_size_limited_and_private(tmp_path):
    sandbox = BubblewrapSandbox(uid=61042)
    work = prepare_workdir(None, sandbox.uid)
    code = (
        "import os\nopen('/tmp/mine', 'w').write('x')\n"
        "try:\n    open('/tmp/big', 'wb').write(b'x' * 40 * 1024 * 1024)\n    print('FITS')\n"
        "except OSError as exc:\n    print('FULL', exc.errno)\n"
    )
    out = sandbox.run(
        [str(PY), "-c", code], work, Limits(wall_s=20, tmp_mb=16), mounts=interpreter_mounts(PY)
    )
    discard_workdir(work)
    assert out.ok, out.stderr
    if bwrap_version() >= (0, 7):
        assert out.stdout.strip() == "FULL 28"  # ENOSPC
    assert not Path("/tmp/mine").exists()


def test_unreadable_path_without_root_is_a_clear_error(tmp_path, monkeypatch):
    if not bwrap_available():
        pytest.skip(str(bwrap_problem()))
    sandbox = BubblewrapSandbox(uid=61043)
    private = tmp_path / "p"
    private.mkdir(mode=0o700)
    sandbox.root = False  # as an ordinary user: nothing can be staged
    with pytest.raises(SandboxError, match="not readable by the sandbox uid 61043"):
        sandbox.build(["x"], tmp_path, Limits(), mounts=(Mount(private, "/m"),))


def test_policy_without_bubblewrap(monkeypatch):
    monkeypatch.setenv("GRADER_FORCE_PLAIN", "1")
    monkeypatch.delenv("GRADER_ALLOW_UNSANDBOXED", raising=False)
    with pytest.raises(SandboxError, match="GRADER_ALLOW_UNSANDBOXED=1"):
        choose_sandbox("pinned")
    assert isinstance(choose_sandbox("worktree"), PlainSandbox)
    monkeypatch.setenv("GRADER_ALLOW_UNSANDBOXED", "1")
    assert isinstance(choose_sandbox("pinned"), PlainSandbox)


def test_plain_sandbox_warns_and_still_bounds_time(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_API_TOKEN", "secret")
    sandbox = PlainSandbox()
    out = sandbox.run(
        [str(PY), "-c", "import os, time; print(os.getenv('GRADER_API_TOKEN')); time.sleep(30)"],
        tmp_path, Limits(wall_s=1.5),
    )  # fmt: skip
    assert out.limit_hit == "wall_time" and out.wall_s < 5
    assert out.isolated is False and out.warnings[0].startswith("NOT ISOLATED")
    assert out.stdout.strip() == "None"  # the environment is still scrubbed
    assert "NOT ISOLATED" not in out.summary()  # the warning lives in `warnings`


def test_workspace_copy_and_artifacts(tmp_path):
    source = build_file_tree(
        tmp_path / "src",
        {"train.py": "x", "data/a.csv": "1", ".git/HEAD": "ref", "out/old.log": "o"},
    )
    work = prepare_workdir(source, 61050)
    try:
        assert sorted(p.relative_to(work).as_posix() for p in work.rglob("*") if p.is_file()) == [
            "data/a.csv", "out/old.log", "train.py",
        ]  # fmt: skip
        if os.geteuid() == 0:
            assert work.stat().st_uid == 61050 and (work / "train.py").stat().st_uid == 61050
            assert oct(work.parent.stat().st_mode & 0o777) == "0o700"
        before = file_states(work)
        (work / "out" / "new.log").write_text("n")
        (work / "out" / "link.log").symlink_to("/etc/passwd")
        (work / "huge.log").write_bytes(b"x" * 2000)
        dest = tmp_path / "dest"
        copied = collect_artifacts(
            work, ["**/*.log", "**/*.csv"], dest, max_bytes=1000, before=before
        )
        assert copied == ["out/new.log"]  # not the old log, the input csv, a link or too big
    finally:
        discard_workdir(work)
    assert not work.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups need root")
def test_cgroup_when_available():
    group = Cgroup.create(64 * 1024 * 1024, 16)
    if group is None:
        pytest.skip("no writable cgroup on this machine")
    try:
        assert group.pids() == []
        assert group.describe(64 * 1024 * 1024).endswith("memory limit 64 MiB")
        assert group.join_prefix()[:2] == ["/bin/sh", "-c"]
        assert not group.oom_killed()
    finally:
        group.remove()
    assert all(not path.exists() for path in group.dirs.values())


def test_interpreter_and_requirements_hash(tmp_path):
    mounts = interpreter_mounts(PY)
    targets = [m.target for m in mounts]
    if (PY.parent.parent / "pyvenv.cfg").is_file():
        assert str(PY.parent.parent) in targets
    assert all(not m.writable for m in mounts)
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n")
    first = requirements_hash(req, PY)
    req.write_text("numpy\nscipy\n")
    assert requirements_hash(req, PY) != first
    with pytest.raises(SandboxError, match="GRADER_RERUN_PYTHON"):
        resolve_interpreter("/nonexistent/python")


@needs_bwrap
@pytest.mark.slow
def test_submission_venv_is_built_once_and_cached(tmp_path):
    from grader.sandbox.envs import submission_venv

    sandbox = BubblewrapSandbox(uid=61044)
    work = prepare_workdir(
        build_file_tree(tmp_path / "s", {"requirements.txt": "# none\n"}), sandbox.uid
    )
    try:
        cache = tmp_path / "venvs"
        python, install = submission_venv(
            work / "requirements.txt", PY, cache, sandbox, Limits(wall_s=120), sandbox.uid,
            network=False,
        )  # fmt: skip
        assert install is not None and install.ok, install.stderr
        assert install.network is False
        again, second = submission_venv(
            work / "requirements.txt", PY, cache, sandbox, Limits(wall_s=120), sandbox.uid
        )
        assert again == python and second is None
    finally:
        discard_workdir(work)


def test_installed_but_unusable_bubblewrap_is_reported(monkeypatch):
    from grader.sandbox import bwrap as bwrap_module

    tmp_path = Path(tempfile.mkdtemp(dir="/tmp"))  # reachable by the sandbox uid
    fake = tmp_path / "bwrap"
    fake.write_text(
        '#!/bin/sh\nif [ "$1" = --version ]; then echo "bubblewrap 0.8.0"; exit 0; fi\n'
        'echo "bwrap: No permissions to create new namespace" >&2\nexit 1\n'
    )
    fake.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.delenv("GRADER_FORCE_PLAIN", raising=False)
    monkeypatch.delenv("GRADER_ALLOW_UNSANDBOXED", raising=False)
    bwrap_module.bwrap_version.cache_clear()
    bwrap_module.bwrap_problem.cache_clear()
    try:
        problem = bwrap_module.bwrap_problem()
        assert problem and "cannot create namespaces" in problem
        assert "No permissions to create new namespace" in problem
        with pytest.raises(SandboxError, match="cannot be sandboxed"):
            choose_sandbox("pinned")
        plain = choose_sandbox("worktree")
        assert isinstance(plain, PlainSandbox) and "cannot create namespaces" in plain.reason
    finally:
        bwrap_module.bwrap_version.cache_clear()
        bwrap_module.bwrap_problem.cache_clear()
        shutil.rmtree(tmp_path)
