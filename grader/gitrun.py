"""Every git command the grader runs, and what its failures mean.

A repository is hostile input and the grading account's own git setup is not the grader's:

- no global or system configuration (``GIT_CONFIG_GLOBAL=/dev/null``,
  ``GIT_CONFIG_NOSYSTEM=1``, no inherited ``GIT_*`` variables), only the explicit ``-c``
  settings below: no hooks, no fsmonitor, no submodules, no LFS, no ``ext::`` transport;
- each command runs under a wall-time limit, an address-space limit and an output limit
  (a tree bomb, a 100 MB commit subject or a stalled server stop there);
- git's whole reason is kept; a missing or private repository is the submission's error
  (``FetchError``), while the network, the host, a rate limit or a full disk is the
  environment's (``EnvironmentFailure``: "not graded (environment)", retried, never cached).
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.results import EnvironmentFailure

SAFE_CONFIG = [
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.symlinks=true",
    "-c", "core.attributesFile=/dev/null",
    "-c", "core.packedGitLimit=512m",  # mmap windows bounded: the address-space limit holds
    "-c", "core.packedGitWindowSize=32m",
    "-c", "submodule.recurse=false",
    "-c", "filter.lfs.smudge=",
    "-c", "filter.lfs.process=",
    "-c", "filter.lfs.required=false",
    "-c", "protocol.ext.allow=never",
    "-c", "credential.helper=",
    "-c", "advice.detachedHead=false",
]  # fmt: skip
# highest-precedence attributes of every mirror ($GIT_DIR/info/attributes): a student's
# .gitattributes cannot pick a filter driver, re-encode or rewrite what is checked out
NEUTRAL_ATTRIBUTES = "* -filter -ident -text -eol -working-tree-encoding\n"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "SSH_ASKPASS": "/bin/true",
    "GIT_LFS_SKIP_SMUDGE": "1",
    "LC_ALL": "C",  # git's messages in English: they are matched below
    "LANGUAGE": "C",
}
# ssh never asks (no password prompt, no host-key question); the grading account's keys
# and known_hosts still apply
SSH_COMMAND = "ssh -o BatchMode=yes -o ConnectTimeout=30"
MiB = 1 << 20


class FetchError(Exception):
    """A repository that cannot be fetched, pinned or checked out; a failed result."""


@dataclass(frozen=True)
class GitLimits:
    seconds: float
    memory_mb: int
    output_mb: int


def _limit(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def network_limits() -> GitLimits:
    """clone, fetch, ls-remote: $GRADER_GIT_TIMEOUT s (600), $GRADER_GIT_MEMORY_MB (2048)."""
    return GitLimits(_limit("GRADER_GIT_TIMEOUT", 600), _limit("GRADER_GIT_MEMORY_MB", 2048), 64)


def local_limits() -> GitLimits:
    """Commands on the mirror (log, ls-tree, checkout): $GRADER_GIT_LOCAL_TIMEOUT s (300)."""
    return GitLimits(
        _limit("GRADER_GIT_LOCAL_TIMEOUT", 300), _limit("GRADER_GIT_MEMORY_MB", 2048), 256
    )


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every git command: the process's, less every ``GIT_*`` variable
    (``GIT_CONFIG_PARAMETERS``, ``GIT_DIR``, ...), plus ``GIT_ENV``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env["GIT_SSH_COMMAND"] = os.environ.get("GRADER_GIT_SSH_COMMAND", SSH_COMMAND)
    env.update(extra or {})
    return env


@dataclass
class GitRun:
    returncode: int | None
    stdout: bytes
    stderr: str
    stopped: str | None  # "time", "output" or "stream" (the caller had enough); None


def spawn(
    args: list[str],
    *,
    cwd: str | Path | None,
    env: dict[str, str] | None,
    limits: GitLimits,
    stdin: bytes | None = None,
    on_output: Callable[[bytes], bool] | None = None,
) -> GitRun:
    """Run ``git SAFE_CONFIG ARGS`` under ``limits``; the whole tree dies at the wall-time
    limit or when stdout passes the output limit (or ``on_output(chunk)`` says stop)."""
    try:
        proc = subprocess.Popen(
            ["git", *SAFE_CONFIG, *args], cwd=cwd, env=git_env(env), start_new_session=True,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
    except FileNotFoundError:
        if shutil.which("git") is not None:
            raise  # the folder to run in is gone
        message = "git is not installed (or not on PATH); install git"
        raise EnvironmentFailure(message, kind="git") from None
    # the address-space limit is set right after the start (an exec of `prlimit` first
    # would cost more than many git commands take): git cannot have grown much by then
    with contextlib.suppress(OSError, ValueError):
        memory = limits.memory_mb * MiB
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (memory, memory))
    if stdin is not None:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin)
        proc.stdin.close()
    out, err = bytearray(), bytearray()
    cap = limits.output_mb * MiB
    stopped: str | None = None
    deadline = time.monotonic() + limits.seconds
    selector = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    selector.register(proc.stdout, selectors.EVENT_READ, out)
    selector.register(proc.stderr, selectors.EVENT_READ, err)
    try:
        while selector.get_map() and stopped is None:
            left = deadline - time.monotonic()
            if left <= 0:
                stopped = "time"
                break
            for key, _ in selector.select(min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data is out:
                    out += chunk
                    if len(out) > cap:
                        stopped = "output"
                    elif on_output is not None and not on_output(chunk):
                        stopped = "stream"
                elif len(err) < MiB:
                    err += chunk
    finally:
        selector.close()
        if stopped is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.stdout.close()
        proc.stderr.close()
        returncode = proc.wait()
    return GitRun(returncode, bytes(out), err.decode("utf-8", "replace"), stopped)


def run_git(
    *args: str,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    network: bool = False,
    stdin: bytes | None = None,
    hide: tuple[str | Path, ...] = (),
) -> str:
    """Run git with the grader's safe settings and limits; its stdout (text). ``network``:
    the command talks to a remote (its limits, and a timeout is the environment's).
    ``hide``: host paths never shown in an error (the cache, a staging folder).
    Raises FetchError (the repository) or EnvironmentFailure (the network, the disk)."""
    limits = network_limits() if network else local_limits()
    done = spawn(list(args), cwd=cwd, env=env, limits=limits, stdin=stdin)
    if done.stopped is None and done.returncode == 0:
        return done.stdout.decode("utf-8", "surrogateescape").rstrip("\n")
    raise failure(args[0] if args else "git", done, limits, network, hide)


def failure(
    command: str, done: GitRun, limits: GitLimits, network: bool, hide: tuple = ()
) -> Exception:
    """What a failed or stopped git command means, in words (see ``explain``)."""
    if done.stopped == "time":
        if network:
            return EnvironmentFailure(
                f"git {command} timed out after {limits.seconds:g} s (the network or the "
                "host is too slow; GRADER_GIT_TIMEOUT)",
                kind="git",
            )
        return FetchError(
            f"git {command} stopped at its time limit ({limits.seconds:g} s) on this "
            "repository (GRADER_GIT_LOCAL_TIMEOUT)"
        )
    if done.stopped == "output":
        return FetchError(
            f"git {command} printed more than its output limit ({limits.output_mb} MiB) "
            "for this repository"
        )
    return explain(done.stderr, hide, memory_mb=limits.memory_mb)


_DISK = ("no space left on device", "disk quota exceeded")
_TRANSPORT = (
    "could not resolve host", "temporary failure in name resolution", "name or service not known",
    "failed to connect", "couldn't connect to server", "connection refused", "connection reset",
    "connection timed out", "operation timed out", "timed out", "network is unreachable",
    "no route to host", "early eof", "the remote end hung up unexpectedly", "rpc failed",
    "unexpected disconnect", "http/2 stream", "gnutls", "ssl_read", "ssl_connect",
    "ssl certificate", "openssl", "tls connection", "from proxy", "proxy connect",
    "returned error: 429", "rate limit", "returned error: 500", "returned error: 502",
    "returned error: 503", "returned error: 504", "broken pipe",
)  # fmt: skip
_SSH_ACCOUNT = ("permission denied (publickey", "host key verification failed")
_MISSING = (
    "repository not found", "not found", "does not appear to be a git repository",
    "returned error: 404", "no such file or directory",
)  # fmt: skip
_CREDENTIALS = (
    "could not read username", "could not read password", "terminal prompts disabled",
    "authentication failed", "returned error: 401", "returned error: 403",
)  # fmt: skip


def reason_of(stderr: str, hide: tuple[str | Path, ...] = ()) -> str:
    """git's whole message on one line (hints and blank lines dropped), host paths hidden."""
    lines = [ln.strip() for ln in stderr.replace("\r", "\n").splitlines()]
    kept = [ln for ln in lines if ln and not ln.startswith(("hint:", "Cloning into"))]
    text = " ".join(kept)[:1500] or "git exited without a message"
    for path in sorted({str(p) for p in hide if str(p) not in ("", "/")}, key=len, reverse=True):
        text = text.replace(path, "<grader cache>")
    return text


def explain(stderr: str, hide: tuple[str | Path, ...] = (), memory_mb: int = 0) -> Exception:
    """The exception for git's ``stderr``: EnvironmentFailure for a full disk ("disk") or the
    network, the host, a rate limit, the grading account's SSH key ("git"); FetchError for
    a missing or private repository, or anything else about the repository itself."""
    reason = reason_of(stderr, hide)
    lowered = reason.lower()
    if any(m in lowered for m in _DISK):
        return EnvironmentFailure(f"the grader's disk is full: {reason}", kind="disk")
    if "out of memory" in lowered or "cannot allocate memory" in lowered:
        return FetchError(f"git ran out of its memory limit ({memory_mb} MiB) on this "
                          f"repository: {reason}")  # fmt: skip
    if any(m in lowered for m in _SSH_ACCOUNT):
        return EnvironmentFailure(
            "the grading account has no SSH key (or known host) this host accepts; add one or "
            f"use an https URL: {reason}",
            kind="git",
        )
    if any(m in lowered for m in _TRANSPORT):
        return EnvironmentFailure(f"git could not reach the repository: {reason}", kind="git")
    if any(m in lowered for m in _CREDENTIALS):
        return FetchError(
            f"the host asks for credentials: the repository is private or does not exist: {reason}"
        )
    if any(m in lowered for m in _MISSING):
        return FetchError(f"repository not found or not accessible: {reason}")
    return FetchError(f"git failed: {reason}")
