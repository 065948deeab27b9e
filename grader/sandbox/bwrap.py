"""The real sandbox: bubblewrap (Debian package ``bubblewrap``), under an unprivileged uid.

Launch chain (each link an ``exec``, so the overhead is a few milliseconds):

    [sh: join cgroup, bind root-only paths in a private mount namespace]   # as root
      -> prlimit (CPU, address space, processes, file size, open files)
      -> bwrap (new user/pid/net/ipc/uts/cgroup namespaces, read-only system, private
                /tmp, the work dir writable, nothing else of the host visible)
      -> the command

Everything after the optional ``sh`` runs as the slot's unprivileged uid with no groups
(``Popen(user=..., group=..., extra_groups=[])``; with the ``sh`` step, ``setpriv`` does it
after the cgroup join and the private mounts). Dropping the uid before bwrap matters: as root the process limit is ignored and
root-owned files stay readable. bwrap's own pid 1 reaps orphans inside the sandbox, and
when it dies (``--die-with-parent`` after we SIGKILL the process group) the kernel kills
every process left in the pid namespace, detached grandchildren included.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import stat
import subprocess
import uuid
from pathlib import Path
from typing import Any

from grader.sandbox.base import Limits, Mount, RunOutput, SandboxError, base_env
from grader.sandbox.cgroup import Cgroup, unbounded_gpu_words
from grader.sandbox.cuda import driver_mounts
from grader.sandbox.gpu import GpuDevice, device_nodes, gpu_env
from grader.sandbox.identity import identity_env, identity_files
from grader.sandbox.layout import layout_args
from grader.sandbox.process import become_subreaper, reap_orphans, run_output, supervise
from grader.sandbox.workspace import owner_tag, sandbox_base, watcher

WORK_TARGET = "/submission"
DEFAULT_UID = int(os.environ.get("GRADER_SANDBOX_UID", "61000"))
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
MASKED = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers")
MIN_VERSION = (0, 4)  # --die-with-parent, --unshare-all, --share-net


@functools.cache
def bwrap_version(exe: str | None = None) -> tuple[int, ...] | None:
    """bubblewrap's version, or None when it is not installed (or does not run)."""
    exe = exe or shutil.which("bwrap")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", done.stdout)
    if done.returncode != 0 or not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox here, in words; None when a real launch works.

    Installed is not enough: a container's seccomp profile or a distribution's AppArmor
    rule (Ubuntu 24.04) may forbid the unprivileged user namespaces it needs, and a GPU
    container refuses a new /proc. The probe (``probe.py``) launches through the real
    argv, as the sandbox uid, as every real run does."""
    version = bwrap_version()
    if version is None:
        return "bubblewrap is not installed (`apt-get install -y bubblewrap`)"
    if version < MIN_VERSION:
        return f"bubblewrap {'.'.join(map(str, version))} is too old (0.4 or newer is needed)"
    from grader.sandbox.probe import probe_bwrap  # probe.py builds on this module

    return probe_bwrap(shutil.which("bwrap") or "bwrap").problem


def probed_layout(exe: str) -> tuple[str, tuple[str, ...]]:
    """The /proc and /dev layout the launch probe chose for ``exe``, and its warnings."""
    from grader.sandbox.probe import probe_bwrap

    found = probe_bwrap(exe)
    return found.layout, found.warnings


def bwrap_available() -> bool:
    """Installed, recent enough, and able to launch a sandbox on this machine."""
    return bwrap_problem() is None


def reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether ``uid`` can traverse every directory down to ``path`` (without root)."""
    if uid == 0:
        return True
    current = Path("/")
    for part in (Path("/"), *Path(os.path.abspath(path)).parents[::-1][1:], Path(path)):
        current = part
        try:
            info = os.stat(current)
        except OSError:
            return False
        if not stat.S_ISDIR(info.st_mode):
            continue
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def shm_args(limits: Limits, version: tuple[int, ...] | None) -> list[str]:
    """A private /dev/shm of ``tmp_mb`` (bwrap's --dev gives an unsized one: RAM)."""
    size = ["--size", str(limits.tmp_mb * 1024 * 1024)] if version and version >= (0, 7) else []
    return [*size, "--tmpfs", "/dev/shm"]


def hide_options(argv: list[str], exe: str) -> tuple[list[str], int]:
    """``argv`` with bubblewrap's options moved into a memory file read with ``--args FD``:
    inside the sandbox, ``/proc/1/cmdline`` (bwrap's own) then shows no host path (the work
    dir's, the staging points'). Returns the new argv and the fd (to pass to the child)."""
    start = argv.index(exe) + 1
    end = argv.index("--", start)
    fd = os.memfd_create("bwrap-args", 0)  # not inheritable: passed explicitly
    os.write(fd, b"".join(os.fsencode(a) + b"\0" for a in argv[start:end]))
    os.lseek(fd, 0, os.SEEK_SET)
    return [*argv[:start], "--args", str(fd), *argv[end:]], fd


def data_files(texts: dict[str, str]) -> dict[str, int]:
    """Sandbox path -> a memory file holding its text (for ``--ro-bind-data``)."""
    files = {}
    for target, text in texts.items():
        fd = os.memfd_create("bwrap-data", 0)  # not inheritable: passed explicitly
        os.write(fd, text.encode())
        os.lseek(fd, 0, os.SEEK_SET)
        files[target] = fd
    return files


class BubblewrapSandbox:
    """Sandbox on bubblewrap. ``uid`` is the unprivileged uid this slot runs as (root only)."""

    isolated = True

    def __init__(self, uid: int | None = None, exe: str | None = None, layout: str | None = None):
        self.exe = exe or shutil.which("bwrap") or ""
        self.version = bwrap_version(self.exe) if self.exe else None
        if self.version is None or self.version < MIN_VERSION:
            raise SandboxError(
                "bubblewrap (bwrap >= 0.4) is not installed; install it with "
                "`apt-get install -y bubblewrap`"
            )  # a launch probe is bwrap_problem(); construction stays cheap
        self.root = os.geteuid() == 0
        self.uid = (uid if uid is not None else DEFAULT_UID) if self.root else os.getuid()
        self.gid = self.uid if self.root else os.getgid()
        self.name = "bubblewrap " + ".".join(str(p) for p in self.version)
        self.subreaper = become_subreaper()
        # how /proc and /dev are set up: what the launch probe found to work here
        self.layout, self.layout_warnings = (
            (layout, ()) if layout is not None else probed_layout(self.exe)
        )

    # ---- argv ---------------------------------------------------------------------------
    def _namespace_args(self, network: bool) -> list[str]:
        args = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
        args += ["--hostname", "sandbox"]
        if network:
            args.append("--share-net")
        if self.version and self.version >= (0, 8):
            args.append("--disable-userns")
        return args

    def _system_args(self, limits: Limits, gpu: bool) -> list[str]:
        args = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
        for link in SYSTEM_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for masked in MASKED:
            if os.path.exists(masked):
                args += ["--ro-bind", "/dev/null", masked]
        args += layout_args(self.layout)
        if self.version and self.version >= (0, 7):
            args += ["--size", str(limits.tmp_mb * 1024 * 1024)]
        args += ["--tmpfs", "/tmp"]
        if gpu and os.path.isdir("/sys"):
            args += ["--ro-bind", "/sys", "/sys"]  # the CUDA driver reads PCI topology there
        return args

    def build(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        *,
        network: bool = False,
        mounts: tuple[Mount, ...] = (),
        gpus: tuple[GpuDevice, ...] = (),
        cgroup: Cgroup | None = None,
        stage_dir: Path | None = None,
        files: dict[str, int] | None = None,
    ) -> tuple[list[str], list[str]]:
        """The full argv, and the warnings it implies. Pure except for reading paths.
        ``files``: sandbox path -> an fd bubblewrap copies it from (``data_files``)."""
        warnings: list[str] = []
        if self.version and self.version < (0, 7):
            warnings.append(f"{self.name} cannot size /tmp (needs 0.7); /tmp is unbounded")
        if self.version and self.version < (0, 8):
            warnings.append(f"{self.name} cannot forbid nested user namespaces (needs 0.8)")
        staged: list[tuple[Path, Path]] = []  # (host source, staging mount point)

        def source(path: Path) -> str:
            if reachable_by(path, self.uid, self.gid):
                return str(path)
            if not self.root or stage_dir is None:
                raise SandboxError(f"{path} is not readable by the sandbox uid {self.uid}")
            stage_dir.mkdir(mode=0o711, exist_ok=True)  # made only when needed
            os.chmod(stage_dir, 0o711)
            point = stage_dir / str(len(staged))
            if path.is_dir():
                point.mkdir(mode=0o755)
            else:
                point.touch(mode=0o644)
            staged.append((path, point))
            return str(point)

        warnings += self.layout_warnings
        args = [self.exe, *self._namespace_args(network), *self._system_args(limits, bool(gpus))]
        args += shm_args(limits, self.version)
        perms = ["--perms", "0644"] if self.version and self.version >= (0, 5) else []
        for target, fd in (files or {}).items():
            args += [*perms, "--ro-bind-data", str(fd), target]
        if gpus:
            mounts = (*mounts, *driver_mounts())
        for mount in mounts:
            if not mount.source.exists():
                raise SandboxError(f"mount source {mount.source} does not exist")
            flag = "--dev-bind" if mount.device else "--bind" if mount.writable else "--ro-bind"
            args += [flag, source(mount.source), mount.target]
        seen: set[Path] = set()
        for device in gpus:
            for node in device_nodes(device):
                if node not in seen:
                    seen.add(node)
                    args += ["--dev-bind", source(node), "/dev/" + node.name]
        args += ["--bind", source(workdir), WORK_TARGET, "--chdir", WORK_TARGET]
        args += ["--remount-ro", "/", "--", *command]

        prefix: list[str] = []
        steps: list[str] = []
        if cgroup is not None:
            steps += [f"echo $$ > {shlex.quote(str(f))}" for f in cgroup.procs_files]
        for host, point in staged:
            steps.append(f"mount --bind {shlex.quote(str(host))} {shlex.quote(str(point))}")
        if staged:
            prefix += ["unshare", "--mount", "--propagation", "private", "--"]
        if steps:
            prefix += ["/bin/sh", "-c", " && ".join(steps) + ' && exec "$@"', "sh"]
        rlimits = limits.prlimit_flags(address_space=not gpus and cgroup is None, processes=True)
        prefix += ["prlimit", *rlimits, "--"]
        if self.root and steps:  # the root-only steps ran; now drop to the slot's uid
            prefix += [
                "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--inh-caps=-all", "--",
            ]  # fmt: skip
        return prefix + args, warnings

    # ---- run ----------------------------------------------------------------------------
    def run(
        self,
        command: list[str],
        workdir: Path,
        limits: Limits,
        *,
        env: dict[str, str] | None = None,
        network: bool = False,
        mounts: tuple[Mount, ...] = (),
        gpus: tuple[GpuDevice, ...] = (),
        stdin: bytes | None = None,
    ) -> RunOutput:
        workdir = Path(workdir).resolve()
        if not workdir.is_dir():
            raise SandboxError(f"work dir {workdir} does not exist")
        memory = limits.memory_mb * 1024 * 1024 if limits.memory_mb else None
        wanted = self.root and limits.wants_cgroup(bool(gpus))
        cgroup = Cgroup.create(memory, limits.effective_tasks()) if wanted else None
        # under the one root of run dirs, named for this process: a kill -9 leftover is
        # removed by the next grader (workspace.clean_leftovers)
        stage_dir = sandbox_base() / f"stage-{owner_tag()}-{uuid.uuid4().hex[:16]}"
        args_fd = -1
        files = data_files(identity_files(self.uid, self.gid))
        try:
            argv, warnings = self.build(
                command, workdir, limits, network=network, mounts=mounts, gpus=gpus,
                cgroup=cgroup, stage_dir=stage_dir, files=files,
            )  # fmt: skip
            if stage_dir.exists() and not reachable_by(stage_dir, self.uid, self.gid):
                raise SandboxError(
                    f"{stage_dir.parent} ($GRADER_SANDBOX_DIR) must be reachable by the sandbox "
                    f"uid {self.uid}: every folder above it needs o+x"
                )
            full_env = base_env({**identity_env(self.uid), **(env or {})})
            if gpus:
                full_env.update(gpu_env(gpus))
            else:
                full_env["CUDA_VISIBLE_DEVICES"] = ""
            # without root-only steps the uid is dropped by Popen itself (one exec fewer)
            drop = self.root and argv[0] == "prlimit"
            argv, args_fd = hide_options(argv, self.exe)
            writable = [workdir, *(m.source for m in mounts if m.writable)]
            done = supervise(
                argv, env=full_env, cwd="/", limits=limits, stdin=stdin,
                pass_fds=(args_fd, *files.values()),
                extra_kill=cgroup.kill if cgroup else None,
                user=(self.uid, self.gid) if drop else None, watch=watcher(writable),
            )  # fmt: skip
            args_fd, files = -1, {}  # supervise closed our copies
            oom = cgroup.oom_killed() if cgroup else False
            if self.subreaper:
                reap_orphans(self.uid)
        finally:
            for fd in (args_fd, *files.values()):
                if fd >= 0:
                    os.close(fd)
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(stage_dir, ignore_errors=True)
        if cgroup is not None:
            memory_bound = cgroup.describe(memory)
        elif memory and not gpus:
            memory_bound = f"address-space limit {limits.memory_mb} MiB (RLIMIT_AS)"
        elif memory:
            memory_bound = unbounded_gpu_words()
            warnings.append("GPU run without a memory bound of its own (no writable cgroup)")
        else:
            memory_bound = "none requested"
        return run_output(
            command, done, oom=oom, sandbox=self.name, isolated=True, network=network,
            uid=self.uid, gpus=[d.to_dict() for d in gpus], warnings=warnings,
            memory_bound=memory_bound,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        return {"sandbox": self.name, "uid": self.uid, "root": self.root}
