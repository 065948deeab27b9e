"""GitHub push times (the repository activity API) as pin evidence, against a fake API
server on 127.0.0.1: no internet. The github.com URL is cloned from a local bare repository
through a test-only mapping of ``fetch.normalize_url``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import fetch, github_activity
from grader.cli import app
from grader.ledger import load_ledger
from grader.testing import build_file_tree, git_save, make_bare

URL = "https://github.com/kurzus/hf3-kovacs"
SPEC = """\
id: mini
title: "Mini homework"
course: "Test course"
deadline: "2020-10-27 23:59"
deliverables:
  - {glob: "megoldás.py", description: "the solution"}
checks:
  - check: files
    points: 1
"""


class FakeGithub:
    """Serves /repos/kurzus/hf3-kovacs/activity in two pages; anything else is a 404, a
    wrong token a 401. Records every request path."""

    def __init__(self) -> None:
        self.activities: list[dict] = []
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                fake.paths.append(self.path)
                if self.headers.get("Authorization") != "Bearer titok":
                    return self._send(401, {"message": "Bad credentials"})
                if not self.path.startswith("/repos/kurzus/hf3-kovacs/activity"):
                    return self._send(404, {"message": "Not Found"})
                newest_first = sorted(fake.activities, key=lambda a: a["timestamp"], reverse=True)
                if "cursor=2" in self.path:
                    return self._send(200, newest_first[1:])
                base = f"http://127.0.0.1:{fake.port}/repos/kurzus/hf3-kovacs/activity"
                link = f'<{base}?cursor=2>; rel="next"' if len(newest_first) > 1 else None
                return self._send(200, newest_first[:1], link)

            def _send(self, code: int, body: object, link: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                if link:
                    self.send_header("Link", link)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def push(self, before: str, after: str, when: str, kind: str = "push") -> None:
        self.activities.append({
            "id": len(self.activities) + 1, "node_id": "x", "before": before, "after": after,
            "ref": "refs/heads/main", "timestamp": when, "activity_type": kind,
            "actor": {"login": "kovacs"},
        })  # fmt: skip


@pytest.fixture()
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGithub]:
    fake = FakeGithub()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GRADER_GITHUB_API", f"http://127.0.0.1:{fake.port}")
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", "titok")
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture()
def mapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bare repository that stands for ``URL`` (test-only mapping)."""
    bare = tmp_path / "remote.git"
    real = fetch.normalize_url
    monkeypatch.setattr(
        fetch, "normalize_url", lambda repo: str(bare) if repo == URL else real(repo)
    )
    return bare


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def two_pushes(tmp_path: Path, bare: Path, api: FakeGithub) -> tuple[str, str]:
    """Commit A pushed before the deadline; commit B, dated before it, pushed two days late."""
    work = build_file_tree(tmp_path / "work", {"README.md": "# Hőmérséklet\n"})
    first = git_save(work, "első", date="2020-10-26T10:00:00+01:00",
                     files={"megoldás.py": "print('félig')\n"})  # fmt: skip
    second = git_save(work, "második", date="2020-10-27T21:00:00+01:00",
                      files={"megoldás.py": "print('kész')\n"})  # fmt: skip
    make_bare(work, bare)
    api.push("0" * 40, first, "2020-10-26T09:05:00Z", kind="branch_creation")
    api.push(first, second, "2020-10-29T08:00:00Z")
    return first, second


def test_push_times_bound_the_pin_without_a_ledger(
    tmp_path: Path, api: FakeGithub, mapped: Path
) -> None:
    first, second = two_pushes(tmp_path, mapped, api)
    spec = tmp_path / "mini.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    done = invoke("grade", str(spec), "--repo", URL, "--student", "ABC123", "--out", str(out))
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    assert result["commit"] == first
    assert result["pin"]["evidence"] == "github"
    assert result["pin"]["snapshot"]["github"]["head"] == first
    late = [a for a in result["pin"]["anomalies"] if a["kind"] == "pushed_after_snapshot"]
    assert [a["sha"] for a in late] == [second] and "GitHub's push record" in late[0]["detail"]
    assert any("cursor=2" in p for p in api.paths)  # both pages were read
    assert all("ref=refs%2Fheads%2Fmain" in p for p in api.paths if "cursor" not in p)


def test_without_a_token_only_commit_dates_count(
    tmp_path: Path, api: FakeGithub, mapped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second = two_pushes(tmp_path, mapped, api)
    monkeypatch.delenv("GRADER_GITHUB_TOKEN")
    spec = tmp_path / "mini.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    assert invoke("grade", str(spec), "--repo", URL, "--student", "ABC123",
                  "--out", str(out)).exit_code == 0  # fmt: skip
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    assert result["commit"] == second and result["pin"]["evidence"] == "commit dates"
    assert api.paths == []


def test_a_refused_token_is_missing_evidence_not_a_failure(
    tmp_path: Path, api: FakeGithub, mapped: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second = two_pushes(tmp_path, mapped, api)
    monkeypatch.setenv("GRADER_GITHUB_TOKEN", "rossz")
    spec = tmp_path / "mini.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "out"
    assert invoke("grade", str(spec), "--repo", URL, "--student", "ABC123",
                  "--out", str(out)).exit_code == 0  # fmt: skip
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    assert result["commit"] == second and result["pin"]["evidence"] == "commit dates"
    unavailable = [a for a in result["pin"]["anomalies"] if a["kind"] == "push_times_unavailable"]
    assert "401" in unavailable[0]["detail"]


def test_the_snapshot_records_what_github_says(
    tmp_path: Path, api: FakeGithub, mapped: Path
) -> None:
    first, _ = two_pushes(tmp_path, mapped, api)
    spec = tmp_path / "mini.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(f"neptun,github\nABC123,{URL}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert invoke("snapshot", str(spec), "--roster", str(roster), "--out", str(out)).exit_code == 0
    entry = load_ledger(out / "ledger.jsonl").entries[0]
    assert entry.repo == str(mapped)
    pushed = entry.get("evidence")["github"]
    assert pushed["source"] == "github-activity" and pushed["activities"] == 2


def test_head_at_and_repository_names() -> None:
    assert github_activity.github_repo("https://github.com/kurzus/hf3-kovacs.git") == (
        "kurzus", "hf3-kovacs",
    )  # fmt: skip
    assert github_activity.github_repo("git@github.com:kurzus/hf3.git") == ("kurzus", "hf3")
    assert github_activity.github_repo("https://gitlab.com/kurzus/hf3") is None
    assert github_activity.github_repo("https://gist.github.com/0123456789abcdef0123") is None
    from datetime import UTC, datetime

    moments = [datetime(2020, 10, d, tzinfo=UTC) for d in (26, 29)]
    activities = [
        github_activity.Activity(moments[0], "0" * 40, "a" * 40, "refs/heads/main", "push"),
        github_activity.Activity(moments[1], "a" * 40, "b" * 40, "refs/heads/main", "force_push"),
    ]
    assert github_activity.head_at(activities, datetime(2020, 10, 28, tzinfo=UTC)).after == "a" * 40
    assert github_activity.head_at(activities, datetime(2020, 10, 1, tzinfo=UTC)) is None


def test_late_work_is_late_from_its_push_not_its_date(
    tmp_path: Path, api: FakeGithub, mapped: Path
) -> None:
    _, second = two_pushes(tmp_path, mapped, api)
    spec = tmp_path / "late.yaml"
    spec.write_text(SPEC.replace("checks:\n", "late: {mode: percent, unit: day, percent: 10}\n"
                                 "checks:\n"), encoding="utf-8")  # fmt: skip
    out = tmp_path / "out"
    assert invoke("grade", str(spec), "--repo", URL, "--student", "ABC123",
                  "--out", str(out)).exit_code == 0  # fmt: skip
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    # dated 2020-10-27 21:00 (on time), pushed 2020-10-29 08:00 UTC: two started days late
    assert result["commit"] == second
    assert (result["score"], result["late_penalty"]) == (0.8, 0.2)
