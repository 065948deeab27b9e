"""Fetching a student's repository into a mirror cache and checking out pinned commits.

Cloning is hostile input: every git command runs without global configuration, hooks,
filters or fsmonitor and under limits (``grader.gitrun``); local paths are checked and
copied first (``grader.local_source``); the tree of a commit is counted and sized before
anything is written (``SubmissionLimits``: a tree bomb or a huge file is a failed result);
submodules and LFS objects are never fetched; symlinks that leave the work tree (or loop)
are removed and reported.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader import local_source
from grader.classroom import gist_clone_url
from grader.gitrun import (
    GIT_ENV,
    NEUTRAL_ATTRIBUTES,
    SAFE_CONFIG,
    FetchError,
    failure,
    local_limits,
    run_git,
    spawn,
)
from grader.pinning import CommitInfo
from grader.results import file_lock, printable
from grader.spec import SubmissionLimits
from grader.tree import remove_tree, walk

__all__ = [
    "GIT_ENV", "SAFE_CONFIG", "FetchError", "History", "branches", "checkout",
    "default_branch", "mirror", "normalize_url", "read_history", "run_git",
]  # fmt: skip
# subjects cut at 200 characters by git itself (a 100 MB subject never reaches the grader)
LOG_FORMAT = "%H%x1f%P%x1f%aI%x1f%cI%x1f%<(200,trunc)%s"
MiB = 1 << 20


def normalize_url(repo: str) -> str:
    """A local path becomes an absolute path; URLs stay as they are (a gist's web URL
    becomes its clone URL)."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", repo) or re.match(r"^[\w.-]+@[\w.-]+:", repo):
        return gist_clone_url(repo) or repo
    path = Path(repo).expanduser()
    if path.is_symlink():  # e.g. an upload that unpacks as a link to another student's folder
        raise FetchError(
            f"local repository {repo} refused: it is a symbolic link (to {os.readlink(path)}); "
            "give the folder itself (a link could make it graded as another student's work)"
        )
    if not path.exists():
        raise FetchError(f"repository not found: {repo} (no such path)")
    return str(path.resolve())


def mirror_path(url: str, cache_dir: str | Path) -> Path:
    """Where the mirror of a (normalised) URL lives in the cache."""
    key = hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = re.sub(r"[^\w.-]", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return Path(cache_dir) / "mirrors" / f"{name}-{key}.git"


def _source(url: str, stage: Path) -> str:
    """Where git fetches ``url`` from: for a local path the grader's own checked copy (see
    ``grader.local_source``), the URL itself otherwise (a ``file://`` URL is checked too)."""
    if url.startswith("file://"):
        local_source.git_dir_of(url.removeprefix("file://"))
        return url
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return url
    return str(local_source.synced(local_source.git_dir_of(url), stage))


def mirror(repo: str, cache_dir: str | Path) -> Path:
    """Bring the mirror of ``repo`` up to date (clone once, then fetch what is new)."""
    url = normalize_url(repo)
    target = mirror_path(url, cache_dir)
    cache = Path(cache_dir)
    hide = (cache.resolve(), cache)
    with file_lock(target):
        source = _source(url, target.with_suffix(".local"))
        if (target / "HEAD").exists():
            # a URL: its configured remote (a partial clone keeps its filter); a local copy:
            # by path. Only branches and tags follow the source (and are pruned): the
            # grader's own refs/grader/snapshots/* keep a deadline's objects after a force-push
            run_git(
                "fetch", "--prune", "--no-recurse-submodules",
                "origin" if source == url else source,
                "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", cwd=target,
                network=True, hide=hide,
            )  # fmt: skip
        else:
            tmp = Path(tempfile.mkdtemp(prefix=".clone-", dir=target.parent))
            try:
                run_git(
                    "clone", "--mirror", "--filter=blob:none", "--no-recurse-submodules",
                    "--template=", "--", source, str(tmp / "m.git"),  # a URL is never an option
                    network=True, hide=hide,
                )  # fmt: skip
                os.replace(tmp / "m.git", target)
            finally:
                remove_tree(tmp)
        (target / "info").mkdir(exist_ok=True)
        (target / "info" / "attributes").write_text(NEUTRAL_ATTRIBUTES)
    return target


def trusting(repo: Path) -> dict[str, str]:
    """The environment for git in a student's own work tree (the self-check): its owner may
    differ from the caller's uid (a CI checkout) and global ``safe.directory`` is never read."""
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
            "GIT_CONFIG_VALUE_0": str(repo)}  # fmt: skip


def default_branch(mirror_dir: Path, env: dict[str, str] | None = None) -> str | None:
    head = Path(mirror_dir, "HEAD")
    if head.is_file() and not head.is_symlink():  # a mirror: read it, no git process
        text = head.read_text(encoding="utf-8", errors="replace").strip()
        return text.removeprefix("ref: refs/heads/") if text.startswith("ref: ") else None
    try:
        ref = run_git("symbolic-ref", "HEAD", cwd=mirror_dir, env=env)
    except FetchError:
        return None
    return ref.removeprefix("refs/heads/")


def branches(mirror_dir: Path, env: dict[str, str] | None = None) -> list[str]:
    out = run_git(
        "for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=mirror_dir, env=env
    )
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
                subject=subject.rstrip(),
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


def read_history(
    mirror_dir: Path, branch: str | None, env: dict[str, str] | None = None
) -> History:
    """The first-parent line of ``branch`` (default branch when None) and every commit."""
    available = branches(mirror_dir, env)
    if not available:
        raise FetchError("the repository is empty (no branches, no commits)")
    chosen = branch or default_branch(mirror_dir, env) or available[0]
    if chosen not in available:
        raise FetchError(f"branch {chosen!r} not found; the repository has: {', '.join(available)}")
    ref = f"refs/heads/{chosen}"
    every = _parse_log(run_git("log", f"--format={LOG_FORMAT}", ref, cwd=mirror_dir, env=env))
    by_sha = {c.sha: c for c in every}
    tip = every[0] if every else None  # git log starts at the ref itself
    first = []  # the first-parent line, tip to root
    while tip is not None:
        first.append(tip)
        tip = by_sha.get(tip.parents[0]) if tip.parents else None
    return History(chosen, first, by_sha)


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


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # blob (a file or a symlink) or commit (a submodule, never fetched)
    oid: str
    path: str  # as git stores it: bytes, carried with surrogate escapes
    size: int = 0


def tree_entries(
    mirror_dir: Path, sha: str, max_files: int, env: dict[str, str] | None = None
) -> list[TreeEntry]:
    """Every entry of the commit's tree with its size, counted while git lists them: past
    ``max_files`` git is stopped (a few-kB tree bomb names 10**9 paths) and the checkout
    refused. A partial clone's missing blobs are fetched first, in one request."""
    _prefetch_missing(mirror_dir, sha, env)
    seen = 0

    def more(chunk: bytes) -> bool:
        nonlocal seen
        seen += chunk.count(b"\0")
        return seen <= max_files

    limits = local_limits()
    done = spawn(
        ["ls-tree", "-r", "-z", "-l", "--full-tree", sha], cwd=mirror_dir, env=env,
        limits=limits, on_output=more,
    )  # fmt: skip
    if done.stopped == "stream":
        raise FetchError(
            f"the graded commit has more than {max_files} files (limits.max_files in the "
            "spec); a tree that big (or a tree bomb) is not checked out"
        )
    if done.stopped or done.returncode:
        raise failure("ls-tree", done, limits, network=False)
    entries = []
    for record in done.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid, size = meta.decode("ascii", "replace").split(maxsplit=3)
        entries.append(
            TreeEntry(mode, kind, oid, os.fsdecode(path), int(size) if size.isdigit() else 0)
        )
    return entries


def _prefetch_missing(mirror_dir: Path, sha: str, env: dict[str, str] | None = None) -> None:
    """A partial clone lacks the blobs: fetch the commit's missing ones in one request (git
    would fetch them one at a time, while listing their sizes or checking out)."""
    if not any(Path(mirror_dir, "objects", "pack").glob("*.promisor")):
        return
    listed = run_git(
        "rev-list", "--objects", "--missing=print", "--no-object-names", f"{sha}^{{tree}}",
        cwd=mirror_dir, env=env,
    )  # fmt: skip
    missing = [line[1:] for line in listed.splitlines() if line.startswith("?")]
    if missing:
        run_git(
            "-c", "fetch.negotiationAlgorithm=noop", "fetch", "--no-tags",
            "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin",
            "origin", cwd=mirror_dir, env=env, network=True,
            stdin="\n".join(missing).encode() + b"\n",
        )  # fmt: skip


def check_tree(
    mirror_dir: Path, sha: str, limits: SubmissionLimits, env: dict[str, str] | None = None
) -> list[TreeEntry]:
    """The commit's entries, refused (FetchError) when over the spec's limits: files,
    total size, largest file. Nothing is written before this passes."""
    entries = tree_entries(mirror_dir, sha, limits.max_files, env)
    files = [(e.size, e.path) for e in entries if e.kind == "blob"]
    if not files:
        return entries
    largest, where = max(files)
    if largest > limits.max_file_mb * MiB:
        raise FetchError(
            f"{printable(where)} is {largest / MiB:.0f} MiB, over the {limits.max_file_mb:g} "
            "MiB limit (limits.max_file_mb in the spec); nothing was checked out"
        )
    total = sum(size for size, _ in files)
    if total > limits.max_total_mb * MiB:
        raise FetchError(
            f"the graded commit's files are {total / MiB:.0f} MiB in all, over the "
            f"{limits.max_total_mb:g} MiB limit (limits.max_total_mb in the spec); nothing "
            "was checked out"
        )
    return entries


def checkout(
    mirror_dir: Path,
    sha: str,
    dest: str | Path,
    limits: SubmissionLimits | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Write the tree of ``sha`` into ``dest`` (no .git), once it is within ``limits``
    (``env``: extra git environment, such as ``trusting`` for a student's own repository).
    Returns the symlinks removed because they point outside the tree or loop (as
    'path -> target')."""
    limits = limits or SubmissionLimits()
    dest = Path(dest).resolve()  # git runs in the mirror: a relative path would land there
    if dest.exists() or dest.is_symlink():
        remove_tree(dest)
    check_tree(mirror_dir, sha, limits, env)
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="grader-index-") as tmp:
        run_git(
            "--work-tree", str(dest), "read-tree", "--reset", "-u", sha, cwd=mirror_dir,
            env={**(env or {}), "GIT_INDEX_FILE": str(Path(tmp) / "index")}, hide=(dest,),
        )  # fmt: skip
    return remove_escaping_symlinks(dest)


def remove_escaping_symlinks(root: Path) -> list[str]:
    """Remove the links under ``root`` that point outside it or never resolve (a loop);
    returns them as 'path -> target' (names shown escaped when they are not UTF-8)."""
    root = root.resolve()
    removed = []
    for dirpath, dirnames, filenames in walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = os.readlink(path)
            resolved = Path(os.path.realpath(path))
            looping = False
            try:
                path.stat()
            except OSError as exc:
                looping = exc.errno == errno.ELOOP
            if looping or (resolved != root and root not in resolved.parents):
                path.unlink()
                note = " (a loop)" if looping else ""
                removed.append(printable(f"{path.relative_to(root)} -> {target}{note}"))
    return sorted(removed)


def now_utc() -> datetime:
    return datetime.now(UTC)
