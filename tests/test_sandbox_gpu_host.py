"""Sandbox behaviour that GPU hosts and GPU containers depend on: the launch probe with the
real argv (an overmounted /proc/driver/nvidia), a user name for the sandbox uid, threads
under the process limit, CUDA out-of-memory told from the memory limit, cgroups, the
requirements install (wheelhouse, on-disk TMPDIR, one build at a time)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from grader.sandbox import BubblewrapSandbox, Limits, PlainSandbox
from grader.sandbox import cgroup as cgroup_module
from grader.sandbox.base import RunOutput
from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from grader.sandbox.cgroup import Cgroup, enclosing_limit, unbounded_gpu_words
from grader.sandbox.envs import interpreter_mounts, resolve_interpreter, submission_venv
from grader.sandbox.gpu import GpuDevice
from grader.sandbox.layout import layout_args
from grader.sandbox.process import limit_reason
from grader.sandbox.workspace import discard_workdir, prepare_workdir

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem()))
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
PY = resolve_interpreter(sys.executable)
ROOT = Path(__file__).resolve().parent.parent


def run_py(sandbox, code: str, limits: Limits | None = None) -> RunOutput:
    limits = limits or Limits(wall_s=30)
    work = prepare_workdir(None, getattr(sandbox, "uid", None))
    try:
        return sandbox.run([str(PY), "-c", code], work, limits, mounts=interpreter_mounts(PY))
    finally:
        discard_workdir(work)


# ---- the launch probe ---------------------------------------------------------------------
PROBE = """
import json, sys
from grader.sandbox.bwrap import BubblewrapSandbox, bwrap_problem
from grader.sandbox.base import Limits
from grader.sandbox.workspace import discard_workdir, prepare_workdir
problem = bwrap_problem()
sandbox = BubblewrapSandbox(uid=61022)
work = prepare_workdir(None, sandbox.uid)
out = sandbox.run(["/bin/sh", "-c", "cat /proc/self/status | grep -c Uid"], work, Limits(wall_s=20))
discard_workdir(work)
print(json.dumps({"problem": problem, "layout": sandbox.layout,
                  "warnings": list(sandbox.layout_warnings), "ok": out.ok, "err": out.stderr}))
"""


@needs_bwrap
@needs_root
def test_a_gpu_container_with_an_overmounted_proc_still_gets_a_working_sandbox():
    """The NVIDIA runtime overmounts /proc/driver/nvidia: bwrap's --proc then fails
    ("Can't mount proc on /newroot/proc") while the old probe, without --proc, passed, so
    every rerun failed. Simulated: a tmpfs over /proc/driver in a private mount namespace."""
    target = next(p for p in ("/proc/driver", "/proc/fs", "/proc/tty") if os.path.isdir(p))
    script = f'mount -t tmpfs none {target} && exec {sys.executable} -c "$0"'
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, PROBE],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["problem"] is None
    assert found["layout"] == "host-proc"
    assert "Can't mount proc" in found["warnings"][0]
    assert found["ok"], found["err"]  # a real run works, with the host's /proc read-only


@needs_bwrap
def test_the_probe_leaves_the_process_no_subreaper():
    """The old probe ran bwrap alone; probing with the real sandbox must not make a process
    that only asked (pytest at collection, a self-check) adopt git's orphans for good."""
    code = (
        "from grader.sandbox.bwrap import bwrap_problem\n"
        "from grader.sandbox.probe import _subreaper\n"
        "print(bwrap_problem(), _subreaper())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == ["None", "False"], done.stderr


def test_layout_args():
    assert layout_args("standard") == ["--proc", "/proc", "--dev", "/dev"]
    minimal = layout_args("host-proc-minimal-dev")
    assert minimal[:3] == ["--ro-bind", "/proc", "/proc"] and minimal[3:5] == ["--tmpfs", "/dev"]
    assert "/dev/urandom" in minimal and "/dev/shm" in minimal


# ---- identity -----------------------------------------------------------------------------
@needs_bwrap
def test_the_sandbox_uid_has_a_user_name():
    """No passwd entry and no USER: getpass.getuser() raised (torch.compile calls it)."""
    sandbox = BubblewrapSandbox(uid=61023)
    out = run_py(
        sandbox,
        "import getpass, os, pwd; print(getpass.getuser()); "
        "print(pwd.getpwuid(os.getuid()).pw_name, pwd.getpwuid(os.getuid()).pw_dir); "
        "print(sorted(p.pw_name for p in pwd.getpwall()))",
    )
    assert out.ok, out.stderr
    expected = "sandbox" if os.geteuid() == 0 else None
    lines = out.stdout.splitlines()
    if expected:
        assert lines[0] == "sandbox" and lines[1] == "sandbox /tmp"
        assert lines[2] == "['nobody', 'root', 'sandbox']"  # not the host's accounts


def test_the_plain_fallback_names_the_user_and_warns_about_gpus(tmp_path):
    out = PlainSandbox().run(
        [sys.executable, "-c", "import os; print(os.environ['USER'], os.environ['LOGNAME'])"],
        tmp_path, Limits(wall_s=20), gpus=(GpuDevice(0, "X", "1", 1, "GPU-0"),),
    )  # fmt: skip
    assert out.ok and out.stdout.split()[0] == out.stdout.split()[1] != ""
    assert any("advisory only" in w for w in out.warnings)


# ---- processes and threads ----------------------------------------------------------------
@needs_bwrap
def test_threads_do_not_count_as_processes():
    """RLIMIT_NPROC counts threads: a torch process with its thread pools hit a limit of
    processes meant for fork bombs."""
    code = (
        "import threading, time\n"
        "ts = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(300)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]; print('300 threads')\n"
    )
    out = run_py(BubblewrapSandbox(uid=61024), code, Limits(wall_s=30, processes=64))
    assert out.ok, out.stderr[-500:]
    assert out.stdout.strip() == "300 threads"


# ---- memory -------------------------------------------------------------------------------
def test_cuda_out_of_memory_is_the_gpus_memory_not_the_memory_limit():
    torch_oom = (
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a "
        "total capacity of 79.19 GiB of which 3.10 GiB is free."
    )
    assert limit_reason(1, torch_oom, None, False) == "gpu_memory"
    assert limit_reason(1, "RuntimeError: CUDA error: out of memory", None, False) == "gpu_memory"
    assert limit_reason(1, "MemoryError", None, False) == "memory"
    assert limit_reason(137, torch_oom, None, True) == "memory"  # the cgroup killed it
    summary = RunOutput(["x"], 1, "", torch_oom, 3.0, limit_hit="gpu_memory").summary()
    assert "GPU's memory" in summary and "not a grader limit" in summary


def test_a_cgroup_v2_root_without_memory_delegation_gets_it(tmp_path, monkeypatch):
    """The cgroup was used only where memory was already delegated to the root's children."""
    if os.geteuid() != 0:
        pytest.skip("cgroups are root's")
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("cpu\n")
    monkeypatch.setattr(cgroup_module, "ROOT", root)
    monkeypatch.delenv("GRADER_NO_CGROUP", raising=False)
    group = Cgroup.create(256 << 20, 64)
    assert group is not None and group.version == 2
    assert "memory" in (root / "cgroup.subtree_control").read_text()
    assert (group.dirs["unified"] / "memory.max").read_text() == str(256 << 20)


def test_the_enclosing_cgroup_bounds_what_has_no_cgroup_of_its_own(tmp_path, monkeypatch):
    """In a container or a Slurm job the grader's own cgroup caps everything: say so."""
    root = tmp_path / "cgroup"
    job = root / "system.slice" / "slurmstepd.scope" / "job_42"
    (job / "step_0").mkdir(parents=True)
    (job / "memory.max").write_text(str(32 << 30))
    (job / "step_0" / "memory.max").write_text("max\n")
    me = tmp_path / "self-cgroup"
    me.write_text("0::/system.slice/slurmstepd.scope/job_42/step_0\n")
    monkeypatch.setattr(cgroup_module, "ROOT", root)
    monkeypatch.setattr(cgroup_module, "SELF_CGROUP", me)
    assert enclosing_limit() == 32 << 30
    assert "caps all its runs together at 32768 MiB" in unbounded_gpu_words()


# ---- requirements install -----------------------------------------------------------------
class RecordingSandbox:
    """Records installs instead of running pip; each takes ``seconds``."""

    name, isolated = "recording", True

    def __init__(self, seconds: float = 0.0):
        self.calls: list[dict] = []
        self.seconds = seconds
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def run(self, command, workdir, limits, **kwargs) -> RunOutput:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
            self.calls.append({"command": command, **kwargs})
        return RunOutput(list(command), 0, "", "", self.seconds)


PINNED = "numpy==2.1.0 --hash=sha256:" + "ab" * 32 + "\n"  # what may share a cached venv


def test_the_install_uses_a_disk_tmpdir_and_local_wheels(tmp_path):
    """pip unpacked into the 1 GB in-memory /tmp (a CUDA torch wheel does not fit) and
    could not see an instructor's local wheel folder."""
    req = tmp_path / "beadás" / "requirements.txt"
    req.parent.mkdir()
    req.write_text(PINNED)  # pinned and hashed: the shared cache builds it
    wheels = tmp_path / "kerekek"
    wheels.mkdir()
    sandbox = RecordingSandbox()
    submission_venv(req, PY, tmp_path / "cache", sandbox, Limits(), network=False,
                    find_links=(wheels,))  # fmt: skip
    call = sandbox.calls[0]
    tmpdir = Path(call["env"]["TMPDIR"])
    assert tmpdir.is_relative_to(tmp_path / "cache") and call["env"]["PIP_NO_CACHE_DIR"] == "1"
    assert any(m.source == tmpdir and m.writable for m in call["mounts"])
    assert any(m.source == wheels and m.target == "/wheels/0" for m in call["mounts"])
    assert call["command"][-3:] == ["--find-links", "/wheels/0", "--no-index"]
    assert not tmpdir.exists()  # removed after the install


def test_a_private_install_also_gets_a_disk_tmpdir_and_local_wheels(tmp_path):
    """A requirements file that may not share a venv (unpinned) is built in the run's own
    folder, with pip's scratch next to it (not in the shared cache) and the wheel folders."""
    req = tmp_path / "beadás" / "requirements.txt"
    req.parent.mkdir()
    req.write_text("numpy\n")
    wheels = tmp_path / "kerekek"
    wheels.mkdir()
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    sandbox = RecordingSandbox()
    python, install = submission_venv(
        req, PY, tmp_path / "cache", sandbox, Limits(), network=False, find_links=(wheels,),
        private_dir=run_dir / "venv",
    )  # fmt: skip
    call = sandbox.calls[0]
    tmpdir = Path(call["env"]["TMPDIR"])
    assert tmpdir.parent == run_dir and not tmpdir.exists()
    assert python == run_dir / "venv" / "bin" / "python"
    assert "--require-hashes" not in call["command"]
    assert call["command"][-3:] == ["--find-links", "/wheels/0", "--no-index"]
    assert any("for this submission only" in w for w in install.warnings)
    assert not (tmp_path / "cache" / "venvs").exists()


def test_two_installs_of_the_same_requirements_build_once(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text(PINNED)
    sandbox = RecordingSandbox(seconds=0.5)
    results = []

    def install() -> None:
        results.append(submission_venv(req, PY, tmp_path / "cache", sandbox, Limits()))

    threads = [threading.Thread(target=install) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sandbox.most == 1 and len(sandbox.calls) == 1
    assert sorted(r[1] is None for r in results) == [False, True]  # one built, one reused
    assert results[0][0] == results[1][0]


def _wheel(folder: Path, name: str, version: str) -> Path:
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"GREETING = 'szia from {name} {version}'\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


@needs_bwrap
@pytest.mark.slow
def test_an_offline_install_from_a_wheelhouse(tmp_path, monkeypatch):
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        wheels = base / "wheelhouse"
        wheels.mkdir()
        digest = hashlib.sha256(_wheel(wheels, "kiserlet", "0.1").read_bytes()).hexdigest()
        monkeypatch.setenv("GRADER_WHEELHOUSE", str(wheels))
        from grader.sandbox.envs import wheelhouses

        sandbox = BubblewrapSandbox(uid=61025)
        work = prepare_workdir(None, sandbox.uid)
        (work / "requirements.txt").write_text(f"kiserlet==0.1 --hash=sha256:{digest}\n")
        python, install = submission_venv(
            work / "requirements.txt", PY, base / "cache", sandbox, Limits(wall_s=120),
            sandbox.uid, network=False, find_links=wheelhouses(),
        )  # fmt: skip
        assert install is not None and install.ok, install.stderr[-800:]
        out = sandbox.run(
            [str(python), "-c", "import kiserlet; print(kiserlet.GREETING)"], work,
            Limits(wall_s=30), mounts=(*interpreter_mounts(PY), *interpreter_mounts(python)),
        )  # fmt: skip
        discard_workdir(work)
        assert out.stdout.strip() == "szia from kiserlet 0.1", out.stderr
    finally:
        shutil.rmtree(base)
