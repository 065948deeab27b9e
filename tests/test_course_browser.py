"""The course overview page in a real headless Chromium (Debian's `chromium` + Playwright):
it loads offline without errors, sorts, filters, and student text stays text."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.course import Course
from grader.course_report import render_course
from grader.results import CheckResult, Status, SubmissionResult
from grader.rules import AssignmentState, evaluate

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip
XSS = "<img src=x onerror=alert(1)> Mallory"
COURSE = Course.model_validate({
    "id": "dl", "title": "Deep learning in practice",
    "assignments": [{"id": "hw3", "weight": 1}, {"id": "project", "weight": 3}],
    "rules": [
        {"id": "signature", "title": "Signature",
         "all": [{"assignment": "project", "milestone": "m1"}]},
        {"id": "offered", "title": "Offered grade",
         "all": [{"rule": "signature"}, {"assignment": "project", "passed": True}]},
    ],
    "outcome": {"levels": [{"rule": "offered", "label": "offered grade"},
                           {"rule": "signature", "label": "signature"}],
                "otherwise": "no signature"},
})  # fmt: skip


def result(assignment: str, score: float, m1: bool, failing: bool = False) -> SubmissionResult:
    checks = [CheckResult("files", Status.FAIL if failing else Status.PASS, score, 10.0, "ok")]
    gate = {
        "id": "m1",
        "kind": "milestone",
        "title": "Milestone 1",
        "met": m1,
        "reason": "met" if m1 else "not met by its deadline 2020-10-25: nothing committed",
    }
    return SubmissionResult(assignment, "X", "r", "2020-12-11T23:59:00+01:00", checks=checks,
                            score=score, max_score=10.0,
                            gates=[gate] if assignment == "project" else [])  # fmt: skip


def state(assignment: str, score: float, m1: bool = True, failing: bool = False):
    return AssignmentState(
        assignment, "graded", result(assignment, score, m1, failing), score, 10.0
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    people = [
        {"student": "AAA111", "name": "Anna Alpha"}, {"student": "BBB222", "name": "Béla Béta"},
        {"student": "CCC333", "name": "Cili Gamma"}, {"student": "DDD444", "name": XSS},
    ]  # fmt: skip
    states = {
        "AAA111": {"hw3": state("hw3", 10), "project": state("project", 9)},
        "BBB222": {"hw3": state("hw3", 4), "project": state("project", 7, m1=False)},
        "CCC333": {"hw3": state("hw3", 6), "project": state("project", 5, failing=True)},
        "DDD444": {"hw3": state("hw3", 8)},
    }
    outcomes = evaluate(COURSE, people, states, graded={"hw3", "project"})
    path = tmp_path_factory.mktemp("course") / "course.html"
    path.write_text(render_course(COURSE, outcomes), encoding="utf-8")
    return path


def reap_browser_orphans(wait_s: float = 5.0) -> None:
    """Chromium's helper processes outlive the closed browser for a moment; when an earlier
    test made this process a subreaper (the sandbox does), they are reparented to it and
    stay zombies until reaped. Reap exactly those (by their command name)."""
    deadline = time.monotonic() + wait_s
    while True:
        left = 0
        for task in Path("/proc/self/task").iterdir():
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for pid in children:
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                    state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
                except OSError:
                    continue
                if "chrom" not in comm.lower():
                    continue
                if state == "Z":
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(int(pid), os.WNOHANG)
                else:
                    left += 1
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()
    reap_browser_orphans()


@pytest.fixture()
def page(browser: Browser, site: Path) -> Iterator[tuple[Page, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(site.as_uri())
    yield page, errors
    context.close()
    assert requests == [], f"the page reached out: {requests}"


def ids(page: Page) -> list[str]:
    return page.locator("#students tbody tr:visible td.sid").all_inner_texts()


def test_loads_offline_and_shows_outcomes_with_reasons(page: tuple[Page, list[str]]) -> None:
    tab, errors = page
    assert tab.title() == "Deep learning in practice - course overview"
    assert ids(tab) == ["AAA111", "BBB222", "CCC333", "DDD444"]
    row = tab.locator("#students tbody tr", has_text="BBB222")
    assert row.locator("td.outcome").inner_text() == "no signature"
    assert "not met by its deadline" in row.locator("td.rule").first.inner_text()
    assert (
        tab.locator("#students tbody tr", has_text="DDD444").locator("td.name").inner_text() == XSS
    )
    tab.wait_for_timeout(200)
    assert errors == []


def test_sorting_and_filtering(page: tuple[Page, list[str]]) -> None:
    tab, errors = page
    total = tab.locator("#students th", has_text="Total %")
    # the weighted total (hw3 1 : project 3): a not eligible or missing project counts 0
    total.click()
    assert ids(tab) == ["BBB222", "DDD444", "CCC333", "AAA111"]  # 10, 20, 52.5, 92.5
    total.click()
    assert ids(tab) == ["AAA111", "CCC333", "DDD444", "BBB222"]
    tab.locator("#students th", has_text="Signature").click()  # met first, then not met
    assert ids(tab)[:2] == ["AAA111", "CCC333"]
    tab.select_option("#outcome-filter", "signature")
    assert ids(tab) == ["CCC333"]
    tab.select_option("#outcome-filter", "")
    tab.fill("#filter", "nothing committed")
    assert ids(tab) == ["BBB222"]
    assert tab.locator("#shown").inner_text() == "1 of 4 shown"
    tab.fill("#filter", "")
    assert len(ids(tab)) == 4 and errors == []
