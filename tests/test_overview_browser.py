"""The class overview in a real headless Chromium (Debian's `chromium` + Playwright).

No browser is downloaded: Playwright drives the system Chromium by its path. Install with
`apt-get install -y chromium` and `pip install playwright` (never `playwright install`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.overview import write_overview
from grader.similarity import analyse_out_dir
from tests.overview_class import XSS_NAME, build_class, spec, write_spec

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    out = build_class(tmp)
    the_spec = spec()
    analyse_out_dir(out, the_spec, spec_dir=write_spec(tmp / "spec").parent)
    return write_overview(out, the_spec)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page that records console errors, uncaught exceptions and dialogs."""

    def __init__(self, page: Page):
        self.page, self.errors, self.dialogs = page, [], []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ids(self) -> list[str]:
        return self.page.locator("#students tbody tr:visible td.sid").all_inner_texts()


@pytest.fixture()
def watched(browser: Browser, site: Path) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # offline: any request that is not a local file fails the test
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(site.as_uri())
    yield Watched(page)
    context.close()
    assert requests == [], f"the page reached out: {requests}"


def test_page_loads_without_errors_and_student_script_stays_text(watched: Watched) -> None:
    page = watched.page
    assert page.title() == "Overview demo - class overview"
    assert watched.ids() == ["AAA111", "BBB222", "CCC333", "DDD444", "EEE555", "ZZZ999"]
    name = page.locator("#students tbody tr", has_text="EEE555").locator("td.name")
    assert name.inner_text() == XSS_NAME and name.is_visible()
    page.wait_for_timeout(200)
    assert watched.dialogs == [] and watched.errors == []
    assert page.locator("#students td.cell span.s-fail").count() >= 1
    assert page.locator("#histogram svg rect.b").count() == 10
    assert page.locator("#leaderboard").count() == 0


def test_clicking_headers_sorts_the_rows(watched: Watched) -> None:
    page = watched.page
    score = page.locator("#students th", has_text="Score")
    score.click()
    # ascending by score; students that could not be graded sort last
    assert watched.ids() == ["BBB222", "CCC333", "AAA111", "EEE555", "DDD444", "ZZZ999"]
    assert score.get_attribute("aria-sort") == "ascending"
    score.click()
    assert watched.ids() == ["AAA111", "EEE555", "CCC333", "BBB222", "DDD444", "ZZZ999"]
    assert score.get_attribute("aria-sort") == "descending"
    page.locator("#students th", has_text="Name").click()
    names = page.locator("#students tbody tr td.name").all_inner_texts()
    assert names[:3] == ["<script>alert(1)</script> Mallory", "Anna Alpha", "Bela Beta"]
    page.locator('#students th[data-sort="late"]').click()
    assert watched.ids() == ["AAA111", "BBB222", "EEE555", "CCC333", "DDD444", "ZZZ999"]
    page.locator("#students th", has_text="Student").press("Enter")  # keyboard works too
    assert watched.ids()[0] == "AAA111"
    assert watched.errors == []


def test_filters_hide_rows(watched: Watched) -> None:
    page = watched.page
    page.fill("#filter", "anna")
    assert watched.ids() == ["AAA111"]
    assert page.locator("#shown").inner_text() == "1 of 6 shown"
    page.fill("#filter", "not found")  # the error message of the missing repo
    assert watched.ids() == ["DDD444"]
    page.fill("#filter", "")
    page.select_option("#status-filter", "error")
    assert watched.ids() == ["DDD444", "ZZZ999"]
    page.select_option("#status-filter", "late")
    assert watched.ids() == ["CCC333"]
    page.select_option("#status-filter", "")
    assert len(watched.ids()) == 6 and watched.errors == []


def test_links_open_reports_and_the_side_by_side_view(watched: Watched, site: Path) -> None:
    page = watched.page
    link = page.locator('a[href="AAA111/report.html"]')
    assert link.count() == 1
    link.click()
    page.wait_for_load_state()
    assert page.url.endswith("/AAA111/report.html") and "AAA111" in page.content()
    page.go_back()
    page.locator("#similarity a", has_text="side by side").click()
    page.wait_for_load_state()
    assert page.url.endswith("/similarity/AAA111--EEE555.html")
    assert page.locator("pre.code mark").count() >= 2
    assert page.locator("h1").inner_text() == "AAA111 and EEE555"
    assert watched.errors == []


def test_phone_width_keeps_the_page_inside_the_screen(browser: Browser, site: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(site.as_uri())
    # the wide table scrolls inside its own box; the page itself never scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#students th", has_text="Problem").is_hidden()
    page.screenshot(path=str(site.parent / "overview-phone.png"), full_page=True)
    context.close()
