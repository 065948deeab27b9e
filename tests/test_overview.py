"""The class overview page: content from a class graded through the real pipeline."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.overview import histogram, leaderboard, load_names, overview_context, write_overview
from grader.results import CheckResult, Status, SubmissionResult, write_result
from grader.similarity import Region, SimilarPair, write_similarity
from grader.testing import build_file_tree
from tests.overview_class import STUDENTS, XSS_NAME, build_class, spec, write_spec

runner = CliRunner()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_class(tmp_path_factory.mktemp("class"))


@pytest.fixture()
def out(graded: Path, tmp_path: Path) -> Path:
    """A private copy of the graded class (tests write index.html and similarity files)."""
    import shutil

    copy = tmp_path / "out"
    shutil.copytree(graded, copy, symlinks=True)
    return copy


def _data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="overview-data">(.*?)</script>', page)
    assert match, "the page carries its data as a JSON block"
    return json.loads(match.group(1))


def _row_html(page: str, student: str) -> str:
    match = re.search(rf"<tr data-row=\"\d+\" data-status=\"\w+\">\s*<td class=\"sid\">"
                      rf"(?:<a href=\"[^\"]*\">)?{student}.*?</tr>", page, re.S)  # fmt: skip
    assert match, f"no row for {student}"
    return match.group(0)


def test_overview_lists_every_student_with_status_score_and_late(out: Path) -> None:
    page = write_overview(out, spec()).read_text(encoding="utf-8")
    data = _data(page)
    rows = {r["id"]: r for r in data["rows"]}
    assert set(rows) == set(STUDENTS) | {"ZZZ999"}
    assert data["columns"] == ["files", "git_history", "notebooks"]  # spec order
    assert (
        '<th data-sort="check:0" tabindex="0" scope="col" class="check" title="Required files">'
        in page
    )
    assert rows["AAA111"]["status"] == "pass" and rows["AAA111"]["score"] == 3
    assert rows["BBB222"]["status"] == "fail"  # no README
    assert rows["DDD444"]["status"] == "error" and "not found" in rows["DDD444"]["text"]
    assert rows["ZZZ999"]["status"] == "error" and "schema 99" in rows["ZZZ999"]["text"]
    # CCC333 committed two days late: graded with the 10%-per-day penalty
    assert rows["CCC333"]["late"] >= 2 and rows["CCC333"]["score"] < 3
    assert "late (-0.6 points)" in _row_html(page, "CCC333")
    assert "on time" in _row_html(page, "AAA111")
    # names come from the roster.csv in the batch folder
    assert rows["AAA111"]["name"] == "Anna Alpha"
    # per-check matrix: one cell per check with the message as a tooltip
    bbb = _row_html(page, "BBB222")
    assert bbb.count('class="cell"') == 3
    assert re.search(
        r'title="Required files: fail, 1/2 - 1 of 2 deliverables missing: README"', bbb
    )
    assert '<span class="s-fail" aria-label="fail">' in bbb
    # summary, histogram and pass rates
    assert re.search(r"<b>2</b> <span class=\"pill s-error\">not graded</span>", page)
    assert "4 graded submission(s)" in page
    assert re.search(r"<code>files</code></td>\s*<td class=\"num\">3 / 4</td>", page)
    assert 'id="leaderboard"' not in page  # nobody has a prediction error


def test_student_strings_stay_text_and_reports_are_linked(out: Path) -> None:
    page = write_overview(out, spec()).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert html.escape(XSS_NAME, quote=False) in page
    assert _data(page)["rows"][4]["name"] == XSS_NAME  # JSON block round-trips it exactly
    # the JSON block cannot be closed early by a student's string
    block = page.split('id="overview-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in block
    for student in ("AAA111", "DDD444", "EEE555"):
        assert f'<a href="{student}/report.html">{student}</a>' in page
        assert (out / student / "report.html").is_file()
    assert 'href="ZZZ999/report.html"' not in page  # no report was written for it
    assert not re.search(r"<(link|script)[^>]+(src|href)=\"https?:", page)  # offline: no CDN


def test_leaderboard_ranks_by_prediction_error_ties_by_id(tmp_path: Path) -> None:
    def result(student: str, mae: float | None) -> SubmissionResult:
        facts = {"mae": mae, "predictions": [
            {"date": "2020-10-28", "label": "1 day", "value_celsius": 11.5,
             "where": "pred.csv:2", "observed": 10.0, "abs_error": 1.5},
            {"date": "2020-11-24", "label": "1 month", "value_celsius": 4.0,
             "where": "pred.csv:4", "observed": None, "abs_error": None},
        ]}  # fmt: skip
        check = CheckResult(
            "predictions", Status.PASS, 1, 1, "ok", facts=facts, check="predictions"
        )
        return SubmissionResult("hw3", student, "repo", "2020-10-27T23:59:00+01:00", checks=[check])

    for student, mae in [("CCC333", 2.0), ("BBB222", 0.5), ("AAA111", 2.0), ("DDD444", None)]:
        write_result(result(student, mae), tmp_path / student / "result.json")
    page = write_overview(tmp_path, None).read_text(encoding="utf-8")
    section = page.split('id="leaderboard"', 1)[1].split("</section>", 1)[0]
    order = re.findall(r'<td class="num">(\d+)</td><td>(\w+)</td>', section)
    assert order == [("1", "BBB222"), ("2", "AAA111"), ("3", "CCC333")]  # DDD444: no MAE
    assert "2020-10-28" in section and "11.5 / 10" in section and "(±1.5)" in section
    assert "4 / ?" in section  # not observed yet
    board = leaderboard([result("X", float("nan"))], {})
    assert board is None


def test_similarity_pairs_and_side_by_side_pages_escape_code(out: Path) -> None:
    code_a = 'def f(x):\n    return "</pre><script>alert(2)</script>"\n'
    pair = SimilarPair(
        "AAA111", "EEE555", 0.9, 0.8, 40, 38,
        [Region("main.py", 0, len(code_a), 1, 2)], [Region("src/net.py", 10, 20, 1, 1)],
        {"main.py": code_a}, {"src/net.py": code_a},
    )  # fmt: skip
    write_similarity(out, [pair], threshold=0.6, submissions=4, notes=["a note <b>"])
    page = write_overview(out, spec()).read_text(encoding="utf-8")
    assert 'href="similarity/AAA111--EEE555.html"' in page
    assert "90%" in page and "80%" in page and "a note &lt;b&gt;" in page
    side = (out / "similarity" / "AAA111--EEE555.html").read_text(encoding="utf-8")
    assert "<script>alert(2)" not in side and "&lt;script&gt;alert(2)" in side
    assert side.count("<mark>") == 2 and "matched lines 1-2" in side
    # a rerun without pairs removes the stale pages
    write_similarity(out, [], threshold=0.6, submissions=4)
    page = write_overview(out, spec()).read_text(encoding="utf-8")
    assert not list((out / "similarity").glob("*.html"))
    assert "No pair is above the threshold" in page


def test_broken_similarity_and_names_files_become_notes(out: Path) -> None:
    (out / "similarity.json").write_text("{", encoding="utf-8")
    (out / "students.json").write_text("[1,", encoding="utf-8")
    context = overview_context(out, None)
    assert any("similarity.json: not a readable similarity file" in n for n in context["notes"])
    assert any("students.json: not readable JSON" in n for n in context["notes"])
    assert context["similarity"] is None and len(context["rows"]) == 6


def test_names_from_the_batch_students_json_and_semicolon_rosters(tmp_path: Path) -> None:
    build_file_tree(tmp_path, {
        "students.json": json.dumps({"ABC123": {"neptun": "ABC123", "name": "Ada", "team": None}}),
        "roster.csv": "Neptun;Name;Team\nxyz789;Zoe;t1\nQQQ111;Quinn;t1\n",
    })  # fmt: skip
    names = load_names(tmp_path)
    assert names == {"ABC123": "Ada", "XYZ789": "Zoe", "QQQ111": "Quinn", "t1": "Zoe, Quinn"}


def test_histogram_bins_cover_zero_to_full_marks() -> None:
    from grader.overview import Row

    rows = [Row("a", status="pass", score=s, max_score=10) for s in (0, 5.5, 10, 10)]
    rows.append(Row("e", status="error", score=0, max_score=10))
    counts = [b["count"] for b in histogram(rows)["bars"]]
    assert counts == [1, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    tallest = max(histogram(rows)["bars"], key=lambda b: b["h"])
    assert tallest["label"] == "90" and tallest["h"] > 0


def test_cli_overview_writes_the_page_and_rejects_bad_folders(out: Path, tmp_path: Path) -> None:
    spec_file = write_spec(tmp_path / "spec")
    (out / "index.html").unlink(missing_ok=True)
    done = runner.invoke(app, ["overview", str(out), "--spec", str(spec_file)])
    assert done.exit_code == 0, done.output
    assert "index.html" in done.output and (out / "index.html").is_file()
    assert "Overview demo: class overview" in (out / "index.html").read_text(encoding="utf-8")
    missing = runner.invoke(app, ["overview", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, ["overview", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "result.json" in empty.output
    bad_spec = runner.invoke(app, ["overview", str(out), "--spec", str(tmp_path / "x.yaml")])
    assert bad_spec.exit_code == 2


def test_leaderboard_from_the_real_predictions_check(tmp_path: Path) -> None:
    from grader.pipeline import grade, write_outputs
    from grader.spec import parse_spec_text
    from grader.testing import git_save, make_bare

    obs = tmp_path / "observed.csv"
    obs.write_text("date,observed_celsius\n2020-10-28,12.0\n2020-11-03,8.0\n", encoding="utf-8")
    the_spec = parse_spec_text(
        'id: hw3\ntitle: T\ncourse: c\ndeadline: "2020-10-27 23:59"\nchecks:\n'
        f"  - check: predictions\n    points: 2\n    args:\n"
        f'      dates: ["2020-10-28", "2020-11-03"]\n      observations: "{obs}"\n',
        "hw3.yaml",
    )
    forecasts = {"AAA111": (13.0, 9.0), "BBB222": (12.5, 8.0), "CCC333": (20.0, 1.0)}
    out = tmp_path / "out"
    for student, (day, week) in forecasts.items():
        repo = tmp_path / student
        csv_text = f"date,prediction\n2020-10-28,{day}\n2020-11-03,{week}\n"
        git_save(repo, "p", date="2020-10-26T10:00:00+01:00", files={"predictions.csv": csv_text})
        result = grade(the_spec, str(make_bare(repo)), student, out / student, tmp_path / "c")
        write_outputs(result, the_spec, out / student)
    page = write_overview(out, the_spec).read_text(encoding="utf-8")
    section = page.split('id="leaderboard"', 1)[1].split("</section>", 1)[0]
    order = re.findall(r'<td class="num">(\d+)</td><td>(\w+)</td>', section)
    assert order == [("1", "BBB222"), ("2", "AAA111"), ("3", "CCC333")]
    assert "0.25" in section and "1.00" in section and "7.50" in section  # the MAEs
    assert "12.5 / 12" in section and 'title="predictions.csv' in section


def test_leaderboard_by_a_hidden_metric_of_the_tests_check(tmp_path: Path) -> None:
    def result(student: str, accuracy: float | None) -> SubmissionResult:
        facts = {"tests": [], "metrics": {}}
        if accuracy is not None:
            facts["leaderboard"] = {"metric": "hidden_accuracy", "value": accuracy,
                                    "higher_is_better": True, "title": "hidden test accuracy"}  # fmt: skip
        check = CheckResult("tests", Status.PASS, 1, 1, "ok", facts=facts, check="tests")
        return SubmissionResult("hw4", student, "repo", "2020-11-10T23:59:00+01:00", checks=[check])

    for student, accuracy in [
        ("CCC333", 0.81),
        ("BBB222", 0.93),
        ("AAA111", 0.81),
        ("DDD444", None),
    ]:
        write_result(result(student, accuracy), tmp_path / student / "result.json")
    page = write_overview(tmp_path, None).read_text(encoding="utf-8")
    section = page.split('id="metric-leaderboard"', 1)[1].split("</section>", 1)[0]
    assert "Leaderboard by hidden test accuracy" in section
    order = re.findall(r'<td class="num">(\d+)</td><td>(\w+)</td>', section)
    assert order == [("1", "BBB222"), ("2", "AAA111"), ("3", "CCC333")]  # DDD444: none
    assert "0.93" in section
