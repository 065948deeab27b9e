"""The report's pictures and the class overview at phone and desktop width, in a real
headless Chromium (Debian's `chromium` driven by Playwright, as test_overview_browser.py).

A class of hw3 repositories graded by `grader batch` with the instructor's observations
(the leaderboard and its chart), and an hw4-like self-check with leaked images and a
training log that prints a confusion matrix."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from grader import pipeline
from grader.cli import app
from grader.spec import parse_spec_text
from grader.testing import build_file_tree, git_save, make_class, write_roster

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
OBSERVED = "date,observed_celsius\n2020-10-28,9.6\n2020-11-03,10.8\n2020-11-24,2.5\n"
HW4_SPEC = """\
id: leaky-shapes
title: "Képek: transfer learning"
course: "Test course"
deadline: "2020-11-10 23:59"
checks:
  - check: dataset_split
    points: 3
    args: {expected: {train: 3, val: 1, test: 2}, classes: 2}
  - check: training_log
    points: 3
    args: {files: ["logs/*.log"]}
"""


def _picture(seed: int) -> bytes:
    """A picture unlike any other seed's (random shapes), so that only copies leak."""
    rng = random.Random(seed)
    image = Image.new("RGB", (120, 90), tuple(rng.randint(0, 255) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x, y = rng.randint(0, 120), rng.randint(0, 90)
        box = (x, y, x + rng.randint(8, 60), y + rng.randint(8, 60))
        draw.ellipse(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pictures")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRADER_CACHE", str(tmp / "cache"))
        instructor = tmp / "instructor"
        build_file_tree(instructor, {"hw3-temperature/observations.csv": OBSERVED})
        env.setenv("GRADER_INSTRUCTOR_DIR", str(instructor))
        students = make_class(tmp / "class", kinds=["good", "good", "hungarian", "missing", "good"])
        roster = write_roster(tmp / "roster.csv", students)
        out = tmp / "out"
        done = CliRunner().invoke(app, ["batch", "hw3-temperature", "--roster", str(roster),
                                        "--out", str(out), "--rerun", "none"])  # fmt: skip
        assert done.exit_code == 1, done.output  # the missing repository
        files: dict[str, str | bytes] = {
            "logs/train.log": "Epoch 1/2 loss: 0.7\nEpoch 2/2 loss: 0.5\nTest accuracy: 0.75\n"
            "Confusion matrix (rows: true kör/négyzet): [[2, 0], [1, 1]]\n",
        }
        seed = 0
        for split, count in (("train", 3), ("val", 1), ("test", 2)):
            for shape in ("kör", "négyzet"):
                for i in range(count):
                    seed += 1
                    files[f"data/{split}/{shape}/{shape}_{split}_{i}.png"] = _picture(seed)
        # two test pictures also among the training ones: leakage the report shows
        files["data/train/kör/kör_test_0 (másolat).png"] = files["data/test/kör/kör_test_0.png"]
        files["data/train/négyzet/nagyon_hosszu_fajlnev_ami_nem_torhet_el.png"] = files[
            "data/test/négyzet/négyzet_test_1.png"
        ]
        repo = build_file_tree(tmp / "hw4", files)
        git_save(repo, "all", date="2020-11-09T18:00:00+01:00")
        spec = parse_spec_text(HW4_SPEC, "leaky.yaml", pipeline.args_models())
        result = pipeline.self_check(spec, repo)
        _, hw4 = pipeline.write_outputs(result, spec, tmp / "hw4-report")
    return {"overview": out / "index.html", "hw3": out / "S000XZ" / "report.html", "hw4": hw4}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Browser, path: Path, width: int, touch: bool = False) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=touch,
                                  is_mobile=touch)  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: errors.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
    )
    page.goto(path.as_uri())
    page.errors = errors  # type: ignore[attr-defined]
    return page


def fits(page: Page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def segments_whole(page: Page, scope: str) -> bool:
    """Every path segment (a name between '/') is laid out on one line."""
    return page.evaluate(
        f"Array.from(document.querySelectorAll('{scope} .seg')).every(s => s.getClientRects().length === 1)"
    )


def test_hw3_report_draws_predictions_against_observations_at_phone_width(
    browser: Browser, site: dict[str, Path]
) -> None:
    page = open_page(browser, site["hw3"], 390, touch=True)
    chart = page.locator("#check-predictions figure.chart svg")
    assert chart.count() == 1 and chart.is_visible()
    assert chart.locator("circle:has(title)").count() == 3  # one prediction per date
    assert chart.locator("line:has(title)").count() == 3  # the observed values
    box, card = chart.bounding_box(), page.locator("#check-predictions").bounding_box()
    assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"]
    assert "observed: 9.6" in chart.inner_html()
    assert fits(page, 390) and segments_whole(page, "#check-predictions")
    detail = page.locator("#check-predictions td.detail").first.inner_text()
    assert "\u00a0°C" in detail  # a number never parted from its unit
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_hw4_report_shows_leaked_pairs_side_by_side_and_the_confusion_matrix(
    browser: Browser, site: dict[str, Path]
) -> None:
    page = open_page(browser, site["hw4"], 900)
    pairs = page.locator("#check-dataset_split figure.pairs li.pair")
    assert pairs.count() == 2
    for index in range(2):
        images = pairs.nth(index).locator("img")
        assert images.count() == 2
        decoded = images.evaluate_all("els => els.map(e => e.complete && e.naturalWidth > 0)")
        assert decoded == [True, True]
        left, right = (images.nth(i).bounding_box() for i in (0, 1))
        assert abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"] + left["width"]
        assert left["width"] <= 96 and left["height"] <= 96  # small
    text = pairs.first.inner_text()
    assert "training" in text and "test" in text and "identical files" in text
    assert segments_whole(page, "#check-dataset_split")
    matrix = page.locator("#check-training_log figure.chart svg").last
    assert matrix.locator("rect").count() == 4
    assert matrix.locator("text", has_text="kör").count() >= 2  # row and column labels
    texts = matrix.locator("text").evaluate_all("els => els.map(e => e.textContent)")
    assert sorted(t for t in texts if t.isdigit()) == ["0", "1", "1", "2"]  # the counts
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_leaderboard_has_the_class_chart(browser: Browser, site: dict[str, Path]) -> None:
    page = open_page(browser, site["overview"], 1280)
    chart = page.locator("#leaderboard figure.chart svg")
    assert chart.count() == 1
    ranked = page.locator("#leaderboard tbody tr").count()
    assert ranked == 4 and chart.locator("circle:has(title)").count() == 3 * ranked
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_overview_at_phone_width_scrolls_visibly_and_taps_show_the_hints(
    browser: Browser, site: dict[str, Path]
) -> None:
    page = open_page(browser, site["overview"], 390, touch=True)
    assert fits(page, 390)  # the page itself never scrolls sideways
    hint = page.locator("#students-card .scroll-hint")
    assert hint.is_visible() and "swipe" in hint.inner_text()
    assert page.evaluate("getComputedStyle(document.querySelector('#students').parentElement)"
                         ".overflowX") == "auto"  # fmt: skip
    cell = page.locator("#students tbody tr", has_text="S000XZ").locator("td.cell").first
    cell.scroll_into_view_if_needed()
    cell.tap()
    tip = page.locator("#tip").inner_text()
    assert tip.startswith("S000XZ - Required files:")
    assert page.locator("#leaderboard .scroll-hint").is_visible()
    page.locator("#leaderboard td[data-tip]").first.tap()
    assert "found in" in page.locator("#leaderboard .tipbar").inner_text()
    page.screenshot(path=str(site["overview"].parent / "overview-phone.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_overview_at_desktop_width_shows_every_check_column_whole(
    browser: Browser, site: dict[str, Path]
) -> None:
    page = open_page(browser, site["overview"], 1280)
    clipped = page.evaluate(
        "Array.from(document.querySelectorAll('#students th.check')).filter("
        "th => th.scrollWidth > th.clientWidth + 1 || th.scrollHeight > th.clientHeight + 1"
        ").map(th => th.innerText)"
    )
    assert clipped == []
    names = page.locator("#students th.check span").all_inner_texts()
    assert "training_data" in names and "predictions" in names
    box = page.locator("#students").evaluate(
        "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]"
    )
    assert box[0] <= box[1]  # nothing cut off to the right at desktop width
    assert page.locator("#students-card .scroll-hint").is_hidden()
    assert page.locator('a[href="grades.csv"]').count() == 1
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
