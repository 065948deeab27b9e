"""The review desk in a real headless Chromium (Debian's `chromium` + Playwright), over a
class graded from real git repositories: review a manual item, override a check and see
the export change, undo it; answer a student's regrade request; two assistants editing
the same check; XSS payloads stay text; a form without its CSRF token is refused; an
assistant cannot reach the instructors' pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.review_class import NAME_XSS, NOTEBOOK_XSS, README_XSS, grade_class
from tests.review_server import ASSISTANT_TOKEN, INSTRUCTOR_TOKEN, Running, serve_copy

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip
A = "review-demo"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return grade_class(tmp_path_factory.mktemp("review-class"))


@pytest.fixture()
def desk(graded: Path, tmp_path: Path) -> Iterator[Running]:
    with serve_copy(graded, tmp_path) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Session:
    """One person's browser context: records dialogs, page errors and off-site requests."""

    def __init__(self, browser: Browser, desk: Running):
        self.desk = desk
        self.context: BrowserContext = browser.new_context()
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: None if r.url.startswith(desk.url)
                     else self.offsite.append(r.url))  # fmt: skip

    def go(self, path: str) -> Page:
        self.page.goto(self.desk.url + path)
        return self.page

    def login(self, name: str, token: str) -> Session:
        page = self.go("/login")
        page.fill("#name", name)
        page.fill("#token", token)
        page.click("#token-login button")
        page.wait_for_url(self.desk.url + "/")
        return self

    def export(self, name: str = "moodle.csv") -> dict[str, list[str]]:
        response = self.context.request.get(f"{self.desk.url}/a/{A}/exports/{name}")
        assert response.status == 200, response.text()
        rows = list(csv.reader(io.StringIO(response.text(), newline="")))
        return {row[0]: row for row in rows[1:]}

    def close(self) -> None:
        assert self.offsite == [], f"the desk reached out: {self.offsite}"
        assert self.errors == [] and self.dialogs == []
        self.context.close()


def scores(desk: Running) -> dict[str, float | None]:
    """The effective scores, read from the gradebook itself."""
    from grader.gradebook import Gradebook
    from grader.gradebook.decisions import effective_rows

    book = Gradebook(desk.db)
    try:
        return {row.student: row.score for row in effective_rows(book, A)}
    finally:
        book.close()


@pytest.fixture()
def instructor(browser: Browser, desk: Running) -> Iterator[Session]:
    session = Session(browser, desk).login("Dr. Gyires Béla", INSTRUCTOR_TOKEN)
    yield session
    session.close()


def _decide(page: Page, check: str, points: str, comment: str, reason: str) -> None:
    page.fill(f"#points-{check}", points)
    page.fill(f"#comment-{check}", comment)
    page.fill(f"#reason-{check}", reason)
    page.locator(f"#review-{check} form.decide button[type=submit]").click()
    page.wait_for_load_state()


def test_review_a_manual_item_override_see_the_export_change_and_undo(
    instructor: Session,
) -> None:
    before = instructor.export()
    assert before["AAA111"][3] == "5"  # files 2 + predictions 3; english waits for a human
    page = instructor.go("/queue")
    item = page.locator("#manual tr.manual-item")
    assert item.count() == 1 and item.get_attribute("data-student") == "AAA111"
    assert "not enough text to judge" in item.inner_text()
    item.locator("a").click()
    page.wait_for_load_state()
    assert "#check-english" in page.url
    _decide(page, "english", "1,5", "Write a few sentences about the model.", "two lines only")
    assert "saved decision" in page.locator(".flash").inner_text()
    note = page.locator("#check-english .review-note")
    assert "Write a few sentences about the model." in note.inner_text()
    assert "graded 0, reviewed" in page.locator("#scores").inner_text()

    after = instructor.export()
    assert after["AAA111"][3] == "6.5"
    assert "English: 0 -> 1.5 points after review" in after["AAA111"][4] or (
        "english: 0 -> 1.5 points after review" in after["AAA111"][4]
    )
    assert "Write a few sentences about the model." in after["AAA111"][4]
    assert after["BBB222"] == before["BBB222"]
    grades = instructor.export("grades.csv")
    assert grades["AAA111"][5] == "6.5" and grades["AAA111"][8] == "5"  # score, graded_score

    queue = instructor.go("/queue")
    assert queue.locator("#manual tr.manual-item").count() == 0  # decided: off the open list
    instructor.go("/queue?show=all")
    assert "1.5 points by Dr. Gyires Béla" in instructor.page.locator("#manual").inner_text()

    page = instructor.go(f"/a/{A}/s/AAA111/")
    page.locator("#review-english summary").click()
    page.locator("#review-english button[name=undo]").click()
    page.wait_for_load_state()
    assert "undone" in page.locator(".flash").inner_text()
    assert instructor.export() == before
    history = instructor.go(f"/a/{A}/s/AAA111/history")
    log = history.locator("table.audit").inner_text()
    assert "points graded -> 1.5" in log and "points 1.5 -> graded" in log and "undoes #1" in log


def test_accept_a_similarity_pair_with_a_note(instructor: Session) -> None:
    page = instructor.go("/queue")
    pair = page.locator("#pairs li.pair-item")
    assert pair.count() == 1 and "AAA111 and BBB222" in pair.inner_text()
    pair.locator("a").click()
    page.wait_for_load_state()
    assert page.locator("pre.code mark").count() >= 2  # the side-by-side view
    page.fill("#note", "Same windows() and train(); ask both in the lab.")
    page.locator("button[value=accepted]").click()
    page.wait_for_load_state()
    assert page.locator("#pair-status").inner_text() == "accepted"
    assert instructor.go("/queue").locator("#pairs li.pair-item").count() == 0
    assert "accepted" in instructor.go("/queue?show=all").locator("#pairs").inner_text()


def test_answer_a_regrade_request_from_the_students_link(
    browser: Browser, desk: Running, instructor: Session
) -> None:
    page = instructor.go("/links")
    page.locator("button", has_text="Create the missing links").click()
    page.wait_for_load_state()
    link = page.locator("#links tr", has_text="CCC333").locator("code.link").inner_text()

    student = Session(browser, desk)  # no login: the secret link is the key
    own = student.go(link.removeprefix(desk.url))
    own.locator("a", has_text=A).click()
    own.wait_for_load_state()
    assert "AAA111" not in own.content() and "BBB222" not in own.content()
    own.select_option("#check", "predictions")
    own.fill("#message", "The 1 month forecast is in src/forecaster.py's docstring.")
    own.locator("#regrades button[type=submit]").click()
    own.wait_for_load_state()
    assert "was sent" in own.locator(".flash").inner_text()
    assert "waiting for an answer" in own.locator("#regrades").inner_text()

    queue = instructor.go("/queue")
    request = queue.locator("#regrades article.regrade")
    assert request.count() == 1 and "forecaster.py" in request.inner_text()
    request.locator("textarea[name=reply]").fill("Checked by hand: one point off for the format.")
    request.locator("input[name=points]").fill("2")
    request.locator("button", has_text="Answer").click()
    queue.wait_for_load_state()
    assert "answered" in queue.locator(".flash").inner_text()
    assert instructor.export()["CCC333"][3] == "6"

    again = student.go(own.url.removeprefix(desk.url))
    text = again.locator("#regrades").inner_text()
    assert "Checked by hand: one point off for the format." in text and "answered" in text
    assert "After review: 2 / 3 points" in again.locator("#check-predictions").inner_text()
    student.close()


def test_two_assistants_editing_the_same_check(browser: Browser, desk: Running) -> None:
    anna = Session(browser, desk).login("Kovács Anna", ASSISTANT_TOKEN)
    peter = Session(browser, desk).login("Nagy Péter", ASSISTANT_TOKEN)
    for who in (anna, peter):
        who.go(f"/a/{A}/s/AAA111/")
    _decide(anna.page, "english", "2", "Fine.", "the notebook explains it")
    _decide(peter.page, "english", "1", "Too short.", "two lines only")
    conflict = peter.page.locator("#conflict-english")
    assert conflict.is_visible()
    assert "Kovács Anna" in conflict.inner_text()
    assert "points 2.0" in conflict.locator(".theirs").inner_text()
    assert "Too short." in conflict.locator(".mine").inner_text()
    # nothing lost: Péter's edit is still in his form, ready to save over Anna's knowingly
    assert peter.page.input_value("#points-english") == "1"
    assert peter.page.input_value("#comment-english") == "Too short."
    assert scores(desk)["AAA111"] == 7  # Anna's 2 points stand
    peter.page.locator("#review-english form.decide button[type=submit]").click()
    peter.page.wait_for_load_state()
    assert "saved decision" in peter.page.locator(".flash").inner_text()
    assert scores(desk)["AAA111"] == 6
    log = peter.go(f"/a/{A}/s/AAA111/history").locator("table.audit").inner_text()
    assert "Kovács Anna" in log and "Nagy Péter" in log
    anna.close()
    peter.close()


def test_student_strings_stay_text(instructor: Session) -> None:
    page = instructor.go(f"/a/{A}/s/AAA111/")
    evidence = page.locator("#check-predictions table.evidence").inner_text()
    assert README_XSS in evidence and NOTEBOOK_XSS in evidence
    assert page.locator("#check-predictions img").count() == 0
    assert page.locator("#check-predictions script").count() == 0
    _decide(page, "files", "", f"{README_XSS} {NOTEBOOK_XSS}", "")
    assert README_XSS in page.locator("#check-files .review-note").inner_text()
    assert page.locator("main img, main script:not([type])").count() == 0
    names = instructor.go(f"/a/{A}/").locator("#class td.name").all_inner_texts()
    assert NAME_XSS in names
    assert instructor.page.locator("#class b").count() == 0
    instructor.page.wait_for_timeout(200)  # a dialog would have shown by now


def test_a_post_without_the_csrf_token_is_refused(instructor: Session) -> None:
    url = f"{instructor.desk.url}/a/{A}/s/AAA111/check/english"
    form = {"points": "2", "reason": "forged", "comment": "", "version": "0"}
    refused = instructor.context.request.post(url, form=form, max_redirects=0)
    assert refused.status == 400 and "security token is missing" in refused.text()
    forged = instructor.context.request.post(url, form={**form, "csrf_token": "made-up"},
                                             max_redirects=0)  # fmt: skip
    assert forged.status == 400
    assert instructor.export()["AAA111"][3] == "5"  # nothing was saved


def test_an_assistant_cannot_reach_the_instructors_pages(browser: Browser, desk: Running) -> None:
    assistant = Session(browser, desk).login("Kovács Anna", ASSISTANT_TOKEN)
    nav = assistant.page.locator("nav.desk").inner_text()
    assert "Rules" not in nav and "Student links" not in nav
    for path in ("/rules", "/links", f"/a/{A}/exports", f"/a/{A}/exports/moodle.csv"):
        response = assistant.page.goto(desk.url + path)
        assert response is not None and response.status == 403, path
        assert "Instructors only" in assistant.page.locator("h1").inner_text()
    # a rule change posted with a valid token is refused as well
    page = assistant.go(f"/a/{A}/s/AAA111/")
    token = page.locator("input[name=csrf_token]").first.input_value()
    refused = assistant.context.request.post(
        f"{desk.url}/rules", form={"csrf_token": token, "assignment": A, "threshold": "99"},
        max_redirects=0,
    )  # fmt: skip
    assert refused.status == 403
    assert page.locator("#whole-grade").count() == 0
    # ... while reviewing works
    _decide(page, "english", "1", "", "a few English words")
    assert "saved decision" in page.locator(".flash").inner_text()
    assistant.close()
