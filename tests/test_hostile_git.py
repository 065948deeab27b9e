"""The hostile suite, git family: repositories built to hurt the grader, graded through the
real CLI. Each case failed before the hardening it tests (issue 11, issue 10 item 12)."""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.testing import build_file_tree, git, git_save
from tests.hostile_kit import ON_TIME, grade, marker, raw_result, roster, run_grader, spec, student

FILES = "  - check: files\n    points: 1\n"
GIT_ID = {
    "GIT_AUTHOR_NAME": "S", "GIT_AUTHOR_EMAIL": "s@example.com", "GIT_COMMITTER_NAME": "S",
    "GIT_COMMITTER_EMAIL": "s@example.com", "GIT_AUTHOR_DATE": ON_TIME,
    "GIT_COMMITTER_DATE": ON_TIME, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip


def plumb(repo: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ID},
    )  # fmt: skip
    return done.stdout.strip()


def tree_bomb(path: Path, levels: int, fan: int = 10) -> Path:
    """A bare repository of a few kB whose one commit names fan**levels paths: every tree
    lists the tree below it ``fan`` times."""
    path.mkdir(parents=True)
    plumb(path, "init", "-q", "--bare", "-b", "main")
    blob = plumb(path, "hash-object", "-w", "--stdin", stdin="boom\n")
    readme = plumb(path, "hash-object", "-w", "--stdin", stdin="# bomb\n")
    entry = ("100644 blob", blob)
    for _ in range(levels):
        lines = "".join(f"{entry[0]} {entry[1]}\tn{i}\n" for i in range(fan))
        entry = ("040000 tree", plumb(path, "mktree", stdin=lines))
    top = plumb(
        path, "mktree", stdin=f"100644 blob {readme}\tREADME.md\n040000 tree {entry[1]}\tx\n"
    )
    commit = plumb(path, "commit-tree", top, "-m", "a small repository")
    plumb(path, "update-ref", "refs/heads/main", commit)
    return path


def test_git_tree_bomb_is_counted_and_refused_before_checkout(tmp_path: Path) -> None:
    bomb = tree_bomb(tmp_path / "bomb.git", levels=9)  # 10**9 paths in about 10 objects
    assert sum(f.stat().st_size for f in bomb.rglob("*") if f.is_file()) < 200_000
    done, result = grade(spec(tmp_path, FILES), bomb, tmp_path / "out", timeout=240)
    assert done.returncode == 1, done.stdout + done.stderr
    assert result is not None and result.commit is None
    assert "more than 100000 files" in result.error, result.error
    assert "limits.max_files" in result.error
    assert not (tmp_path / "out" / "ABC123" / "checkout" / "x").exists()
    assert "Traceback" not in done.stdout + done.stderr


def test_checkout_over_the_spec_limits_is_a_clear_failed_result(tmp_path: Path) -> None:
    zeros = b"\0" * (3 << 20)  # 3 MiB that compress to a few kB
    many = student(tmp_path, "many", {f"data/copy{i:02d}.bin": zeros for i in range(20)})
    big = student(tmp_path, "big", {"weights.bin": zeros * 4})
    limits = "limits:\n  max_total_mb: 40\n  max_file_mb: 10\n"
    spec_path = spec(tmp_path, FILES, extra=limits)
    done, result = grade(spec_path, many, tmp_path / "out1")
    assert done.returncode == 1 and result is not None
    assert "60 MiB in all, over the 40 MiB limit (limits.max_total_mb in the spec)" in result.error
    done, result = grade(spec_path, big, tmp_path / "out2")
    assert done.returncode == 1 and result is not None
    assert "weights.bin is 12 MiB, over the 10 MiB limit (limits.max_file_mb" in result.error
    assert not (tmp_path / "out2" / "ABC123" / "checkout" / "weights.bin").exists()


def _uploads(tmp_path: Path) -> Path:
    """uploads/VICTIM (a clone with its .git), and four folders of an attacker that try to
    be graded as the victim's work."""
    up = tmp_path / "uploads"
    victim = build_file_tree(up / "VICTIM", {"README.md": "# Victim\n", "solution.py": "VICTIM\n"})
    git_save(victim, "victim's work", date=ON_TIME)
    gitfile = build_file_tree(up / "GITFIL", {"README.md": "# mine\n"})
    (gitfile / ".git").write_text("gitdir: ../VICTIM/.git\n")
    linked = build_file_tree(up / "SYMLNK", {"README.md": "# mine\n"})
    (linked / ".git").symlink_to("../VICTIM/.git")
    refs = build_file_tree(up / "REFLNK", {"README.md": "# mine\n"})
    git_save(refs, "my own work", date=ON_TIME)
    (refs / ".git" / "refs" / "heads" / "main").unlink()
    (refs / ".git" / "refs" / "heads" / "main").symlink_to(
        victim / ".git" / "refs" / "heads" / "main"
    )
    borrow = build_file_tree(up / "ALTERN", {"README.md": "# mine\n"})
    git_save(borrow, "my own work", date=ON_TIME)
    victim_sha = git(victim, "rev-parse", "HEAD")
    (borrow / ".git" / "refs" / "heads" / "main").write_text(victim_sha + "\n")
    (borrow / ".git" / "objects" / "info" / "alternates").write_text(
        str(victim / ".git" / "objects") + "\n"
    )
    (up / "FOLDLN").symlink_to(victim)  # the roster's path itself links to the victim
    return up


def test_a_local_folder_pointing_at_another_students_repository_is_refused(tmp_path) -> None:
    up = _uploads(tmp_path)
    victim_sha = git(up / "VICTIM", "rev-parse", "HEAD")
    names = ("VICTIM", "GITFIL", "SYMLNK", "REFLNK", "ALTERN", "FOLDLN")
    rows = [(name, str(up / name)) for name in names]
    out = tmp_path / "out"
    done = run_grader(
        "batch", str(spec(tmp_path, FILES)), "--roster", str(roster(tmp_path / "r.csv", rows)),
        "--out", str(out), "--no-progress", "--rerun", "none",
    )  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    assert raw_result(out, "VICTIM") and '"commit": "' + victim_sha in raw_result(out, "VICTIM")
    for attacker, why in [
        ("GITFIL", "its .git points to a git directory outside it"),
        ("SYMLNK", "its .git is a symbolic link"),
        ("REFLNK", "refs/heads/main in its git directory is a symbolic link"),
        ("ALTERN", "it borrows from another repository (objects/info/alternates)"),
        ("FOLDLN", "it is a symbolic link"),
    ]:
        text = raw_result(out, attacker)
        assert '"commit": null' in text and victim_sha not in text.split('"error"')[0], attacker
        assert "refused" in text and why in text, (attacker, text)


def test_global_git_config_never_runs_a_filter_or_hook(tmp_path: Path) -> None:
    ran = tmp_path / "smudge-ran"
    config = tmp_path / "operator.gitconfig"
    config.write_text(
        f'[filter "nbstripout"]\n\tsmudge = "touch {ran}; cat"\n\tclean = cat\n'
        f'[core]\n\tfsmonitor = "touch {ran}-fsmonitor; false"\n'
        f'[protocol "file"]\n\tallow = always\n'
    )
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(config, home / ".gitconfig")
    repo = student(tmp_path, "s", {".gitattributes": "* filter=nbstripout\n", "nb.ipynb": "{}\n"})
    env = {"GIT_CONFIG_GLOBAL": str(config), "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    done, result = grade(spec(tmp_path, FILES), repo, tmp_path / "out", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not ran.exists() and not Path(f"{ran}-fsmonitor").exists()
    assert (tmp_path / "out" / "ABC123" / "checkout" / "nb.ipynb").read_text() == "{}\n"


def _unshare_works() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and mount namespaces (a tmpfs)")
def test_a_full_mirror_disk_is_the_environment_and_never_cached(tmp_path: Path) -> None:
    repo = student(tmp_path, "s", {"weights.bin": os.urandom(2 << 20)})
    spec_path = spec(tmp_path, FILES)
    rows = roster(tmp_path / "r.csv", [("ABC123", str(repo))])
    cache, out = tmp_path / "cache", tmp_path / "out"
    cache.mkdir()
    args = ("batch", str(spec_path), "--roster", str(rows), "--out", str(out),
            "--cache", str(cache), "--no-progress", "--rerun", "none")  # fmt: skip
    full = (
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        f"mount -t tmpfs -o size=400k tmpfs {cache} && exec \"$@\"", "sh",
    )  # fmt: skip
    done = run_grader(*args, prefix=full)
    text = raw_result(out, "ABC123")
    assert '"error_kind": "environment"' in text, text
    assert "disk" in text.lower() and "no space left" in text.lower()
    assert marker(out, "ABC123")["key"] is None
    assert done.returncode == 1
    again = run_grader(*args)  # space is back: graded now, not served from the cache
    assert again.returncode == 0, again.stdout + again.stderr
    assert '"error": null' in raw_result(out, "ABC123")


class _GitHost(http.server.BaseHTTPRequestHandler):
    """A git host that answers every repository with one failure."""

    answers = {
        "missing": (404, {}, "Repository not found."),
        "limited": (429, {"Retry-After": "3600"}, "API rate limit exceeded for 10.0.0.1."),
        "private": (401, {"WWW-Authenticate": 'Basic realm="GitHub"'}, "Unauthorized"),
    }

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        name = self.path.strip("/").split("/")[0].removesuffix(".git")
        code, headers, body = self.answers.get(name, (404, {}, "no"))
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def git_host() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GitHost)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.mark.slow
def test_git_errors_keep_their_whole_reason_and_transport_is_the_environment(tmp_path) -> None:
    spec_path = spec(tmp_path, FILES)
    closed = _closed_port()
    with git_host() as host:
        cases = {
            "MISS01": (f"{host}/missing.git", None, ["not found", f"{host}/missing.git"]),
            "PRIV01": (f"{host}/private.git", None, ["Authentication failed", "credentials"]),
            "RATE01": (f"{host}/limited.git", "environment", ["429"]),
            "HOST01": ("https://no-such-host.invalid/a/b.git", "environment",
                       ["Could not resolve host: no-such-host.invalid"]),
            "SSH001": (f"ssh://git@127.0.0.1:{closed}/a/b.git", "environment",
                       ["Connection refused", "Could not read from remote repository",
                        "and the repository exists"]),
        }  # fmt: skip
        for neptun, (url, kind, words) in cases.items():
            done, result = grade(spec_path, url, tmp_path / "out", neptun=neptun, timeout=120)
            assert result is not None and result.error, (neptun, done.stdout, done.stderr)
            for word in words:
                assert word in result.error, (neptun, result.error)
            assert result.error_kind == kind, (neptun, result.error, result.error_kind)
            assert "(private?): and the repository exists" not in result.error
        rows = roster(tmp_path / "r.csv", [(n, cases[n][0]) for n in ("MISS01", "PRIV01")])
        out = tmp_path / "batch"
        run_grader(
            "batch", str(spec_path), "--roster", str(rows), "--out", str(out), "--no-progress",
            "--rerun", "none",
        )  # fmt: skip
    overview = (out / "index.html").read_text(encoding="utf-8")
    assert f"repository &#39;{host}/missing.git/&#39; not found" in overview or (
        f"repository '{host}/missing.git/' not found" in overview
    )
    csv_path = tmp_path / "moodle.csv"
    exported = run_grader(
        "gradebook", "export", "--db", str(out / "gradebook.sqlite"), "--assignment", "hw",
        "--format", "moodle", "--out", str(csv_path), "--allow-ungraded",
    )  # fmt: skip
    # an ungraded student is left out of the LMS file; the export names them with git's reason
    assert exported.returncode == 0, exported.stderr
    assert "MISS01" not in csv_path.read_text(encoding="utf-8")
    said = " ".join(exported.stderr.split())
    assert "MISS01 has no grade (left blank or out): repository not found" in said, said
    assert f"repository '{host}/missing.git/' not found" in said, said


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- further attacks of the git family ---------------------------------------------------


def test_a_commit_subject_of_many_megabytes_never_reaches_the_grader(tmp_path: Path) -> None:
    """git's output is bounded too: a 100 MB commit subject (a few hundred kB packed) is cut
    by git itself; every git command also has an output limit."""
    bare = tmp_path / "b.git"
    bare.mkdir()
    plumb(bare, "init", "-q", "--bare", "-b", "main")
    readme = plumb(bare, "hash-object", "-w", "--stdin", stdin="# big subject\n")
    tree = plumb(bare, "mktree", stdin=f"100644 blob {readme}\tREADME.md\n")
    commit = plumb(bare, "commit-tree", tree, "-F", "-", stdin="x" * 100_000_000)
    plumb(bare, "update-ref", "refs/heads/main", commit)
    checks = FILES + "  - check: git_history\n    points: 1\n"
    done, result = grade(spec(tmp_path, checks), bare, tmp_path / "out", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert result.error is None and result.checks[1].status.value == "pass"
    assert len(raw_result(tmp_path / "out", "ABC123")) < 100_000


def test_a_partial_clone_checks_sizes_before_checkout(tmp_path: Path) -> None:
    """Over file:// the mirror is a real blob-less partial clone: the blobs' sizes are read
    (and the blobs fetched in one go) before anything is written."""
    zeros = b"\0" * (3 << 20)
    repo = student(tmp_path, "p", {f"d/{i}.bin": zeros for i in range(5)} | {"a.py": "x = 1\n"})
    git(repo, "config", "uploadpack.allowFilter", "true")
    git(repo, "config", "uploadpack.allowAnySHA1InWant", "true")
    limits = "limits:\n  max_total_mb: 10\n"
    done, result = grade(spec(tmp_path, FILES, extra=limits), f"file://{repo}", tmp_path / "o1")
    assert result is not None and "over the 10 MiB limit" in (result.error or ""), result
    done, result = grade(spec(tmp_path, FILES), f"file://{repo}", tmp_path / "o2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "o2" / "ABC123" / "checkout" / "d" / "4.bin").read_bytes() == zeros
