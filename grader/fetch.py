"""Fetching a student's repository into a mirror cache and checking out pinned commits.

Cloning is hostile input: hooks never run, submodules are never fetched, LFS filters never
run, and symlinks that leave the work tree are removed and reported.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.classroom import gist_clone_url
from grader.pinning import CommitInfo

# every git call: no hooks, no prompts for credentials, no system/global config surprises
SAFE_CONFIG = [
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.symlinks=true",
    "-c", "core.fsmonitor=false",
    "-c", "submodule.recurse=false",
    "-c", "filter.lfs.smudge=",
    "-c", "filter.lfs.process=",
    "-c", "filter.lfs.required=false",
    "-c", "protocol.ext.allow=never",
]  # fmt: skip
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "SSH_ASKPASS": "/bin/true",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_LFS_SKIP_SMUDGE": "1",
}
LOG_FORMAT = "%H%x1f%P%x1f%aI%x1f%cI%x1f%s"


class FetchError(Exception):
    """A repository that cannot be fetched or pinned; becomes a failed result."""


def run_git(*args: str, cwd: str | Path | None = None, env: dict | None = None) -> str:
    """Run git with the grader's safe settings (no hooks, no global config); its stdout
    (the trailing newline removed). Raises FetchError with git's reason in words."""
    full_env = {**os.environ, "LANGUAGE": "C", "LC_ALL": "C", **GIT_ENV, **(env or {})}
    try:
        done = subprocess.run(
            ["git", *SAFE_CONFIG, *args], cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
            capture_output=True, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise FetchError("git is not installed (or not on PATH); install git") from None
    stdout = done.stdout.decode("utf-8", "surrogateescape")
    if done.returncode:
        stderr = done.stderr.decode("utf-8", "surrogateescape")
        raise FetchError(explain_git_error(stderr, done.returncode))
    return stdout[:-1] if stdout.endswith("\n") else stdout


def explain_git_error(stderr: str, status: int = 1) -> str:
    """git's complaint, in words a student or an instructor can act on."""
    stderr = stderr.strip()
    lowered = stderr.lower()
    if any(
        s in lowered
        for s in ("not found", "does not appear to be a git repository", "could not read")
    ):
        return f"repository not found or not accessible (private?): {stderr.splitlines()[-1]}"
    if "authentication" in lowered or "terminal prompts disabled" in lowered:
        return "repository needs credentials (private repository?)"
    last = stderr.splitlines()[-1] if stderr else f"exit status {status}"
    return f"git failed: {last}"


def normalize_url(repo: str) -> str:
    """A local path becomes an absolute path; URLs stay as they are (a gist's web URL
    becomes its clone URL)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", repo) or re.match(r"^[\w.-]+@[\w.-]+:", repo):
        return gist_clone_url(repo) or repo
    path = Path(repo).expanduser()
    if not path.exists():
        raise FetchError(f"repository not found: {repo} (no such path)")
    return str(path.resolve())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mirror_path(url: str, cache_dir: str | Path) -> Path:
    """Where the mirror of a (normalised) URL lives in the cache."""
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = re.sub(r"[^\w.-]", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return Path(cache_dir) / "mirrors" / f"{name}-{key}.git"


def mirror(repo: str, cache_dir: str | Path) -> Path:
    """Bring the mirror of ``repo`` up to date (clone once, then fetch what is new)."""
    url = normalize_url(repo)
    target = mirror_path(url, cache_dir)
    with _locked(target):
        if (target / "HEAD").exists():
            # only branches and tags follow the remote (and are pruned): the grader's own
            # refs/grader/snapshots/* keep a deadline's objects after a force-push
            run_git(
                "fetch", "--prune", "--no-recurse-submodules", "origin",
                "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", cwd=target,
            )  # fmt: skip
        else:
            tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=target.parent))
            try:
                run_git(
                    "clone", "--mirror", "--filter=blob:none", "--no-recurse-submodules",
                    "--template=", "--", url, str(tmp / "m.git"),  # a URL is never an option
                )  # fmt: skip
                os.replace(tmp / "m.git", target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def default_branch(mirror_dir: Path) -> str | None:
    try:
        ref = run_git("symbolic-ref", "HEAD", cwd=mirror_dir)
    except FetchError:
        return None
    return ref.removeprefix("refs/heads/")


def branches(mirror_dir: Path) -> list[str]:
    out = run_git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=mirror_dir)
    return [line for line in out.splitlines() if line]


def _parse_log(text: str) -> list[CommitInfo]:
    commits = []
    for line in text.splitlines():
        if not line.strip():
            continue
        sha, parents, authored, committed, subject = line.split("\x1f", 4)
        commits.append(
            CommitInfo(
                sha=sha,
                parents=tuple(parents.split()),
                authored_at=datetime.fromisoformat(authored),
                committed_at=datetime.fromisoformat(committed),
                subject=subject,
            )
        )
    return commits


@dataclass
class History:
    branch: str
    first_parent: list[CommitInfo]  # tip to root
    by_sha: dict[str, CommitInfo] = field(default_factory=dict)

    @property
    def tip(self) -> CommitInfo:
        return self.first_parent[0]


def read_history(mirror_dir: Path, branch: str | None) -> History:
    """The first-parent line of ``branch`` (default branch when None) and every commit."""
    available = branches(mirror_dir)
    if not available:
        raise FetchError("the repository is empty (no branches, no commits)")
    chosen = branch or default_branch(mirror_dir) or available[0]
    if chosen not in available:
        raise FetchError(f"branch {chosen!r} not found; the repository has: {', '.join(available)}")
    ref = f"refs/heads/{chosen}"
    first = _parse_log(
        run_git("log", "--first-parent", f"--format={LOG_FORMAT}", ref, cwd=mirror_dir)
    )
    every = _parse_log(run_git("log", f"--format={LOG_FORMAT}", ref, cwd=mirror_dir))
    return History(chosen, first, {c.sha: c for c in every})


def read_history_at(mirror_dir: Path, sha: str, branch: str) -> History:
    """The first-parent line below one commit (a HEAD recorded at a deadline), which need
    not be on any branch any more. Raises FetchError when the commit is not in the mirror."""
    if not has_commit(mirror_dir, sha):
        raise FetchError(f"commit {sha[:10]} is not in the mirror")
    first = _parse_log(
        run_git("log", "--first-parent", f"--format={LOG_FORMAT}", sha, cwd=mirror_dir)
    )
    every = _parse_log(run_git("log", f"--format={LOG_FORMAT}", sha, cwd=mirror_dir))
    return History(branch, first, {c.sha: c for c in every})


def has_commit(mirror_dir: Path, sha: str) -> bool:
    try:
        run_git("cat-file", "-e", f"{sha}^{{commit}}", cwd=mirror_dir)
    except FetchError:
        return False
    return True


def resolve_ref(mirror_dir: Path, ref: str) -> str | None:
    """The commit a ref points to, or None when there is no such ref."""
    try:
        return (
            run_git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror_dir) or None
        )
    except FetchError:
        return None


def keep_ref(mirror_dir: Path, ref: str, sha: str) -> None:
    """Point ``ref`` (under refs/grader/) at ``sha`` so its objects stay reachable."""
    if not ref.startswith("refs/grader/"):
        raise ValueError(f"{ref}: the grader only writes refs under refs/grader/")
    run_git("update-ref", ref, sha, cwd=mirror_dir)


def checkout(mirror_dir: Path, sha: str, dest: str | Path) -> list[str]:
    """Write the tree of ``sha`` into ``dest`` (no .git). Returns symlinks removed because
    they point outside the tree (as 'path -> target')."""
    dest = Path(dest).resolve()  # git runs in the mirror: a relative path would land there
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="grader-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        run_git("--work-tree", str(dest), "read-tree", sha, cwd=mirror_dir, env=env)
        run_git(
            "--work-tree", str(dest), "checkout-index", "--all", "--force", cwd=mirror_dir, env=env
        )
    return remove_escaping_symlinks(dest)


def remove_escaping_symlinks(root: Path) -> list[str]:
    root = root.resolve()
    removed = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            resolved = (path.parent / target).resolve()
            if resolved != root and root not in resolved.parents:
                path.unlink()
                removed.append(f"{path.relative_to(root)} -> {target}")
    return sorted(removed)


def now_utc() -> datetime:
    return datetime.now(UTC)
