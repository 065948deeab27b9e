"""Pictures in the reports: charts drawn as escaped inline SVG, predictions against
observations, leaked pairs with thumbnails, the confusion matrix; and the text filters that
keep names and units whole and moments in one format."""

from __future__ import annotations

import re
from pathlib import Path

from grader.charts import DotGroup, Panel, Series, dot_chart, heatmap, line_panels, nice_ticks
from grader.logs.confusion import find_confusion, from_json, from_text
from grader.pictures import check_pictures, leaderboard_chart, leaked_pairs, prediction_chart
from grader.report import render_report
from grader.results import CheckResult, Status, SubmissionResult
from grader.templating import path_breaks, prose

EVIL = '<script>alert("x")</script>&'
THUMB = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="


def _check(check: str, facts: dict, cid: str | None = None) -> CheckResult:
    return CheckResult(cid or check, Status.FAIL, 0, 1, "msg", facts=facts, check=check)


def test_charts_escape_every_label_and_carry_no_script() -> None:
    svg = line_panels([Panel(EVIL, [Series(EVIL, [(1, 0.5), (2, 0.4)])], [1.5])], EVIL)
    dots = dot_chart([DotGroup(EVIL, [(EVIL, 3.0, "#000")], 2.5)], EVIL, EVIL, mark_label=EVIL)
    grid = heatmap([[1, 2], [3, 4]], [EVIL, "b"], [EVIL, "b"], EVIL)
    for svg_text in (svg, dots, grid):
        assert svg_text.startswith("<svg") and svg_text.endswith("</svg>")
        assert "<script" not in svg_text and "&lt;script&gt;" in svg_text
        assert "href" not in svg_text and "<?xml" not in svg_text
    assert line_panels([], "x") == "" and dot_chart([], "y", "t") == ""
    assert heatmap([[1, 2], [3]], ["a", "b"], ["a", "b"], "t") == ""  # not square


def test_nice_ticks_cover_the_range() -> None:
    ticks = nice_ticks(2.3, 11.7)
    assert ticks[0] <= 2.3 and ticks[-1] >= 11.7 and len(ticks) <= 8
    assert nice_ticks(5, 5) != [5]  # a flat series still gets an axis


def test_prediction_chart_plots_predicted_against_observed() -> None:
    facts = {"predictions": [
        {"date": "2020-10-28", "label": "1 day", "value_celsius": 11.0, "observed": 9.6},
        {"date": "2020-11-03", "label": "1 week", "value_celsius": 8.0, "observed": None},
        {"date": "2020-11-24", "label": "1 month", "value_celsius": None, "observed": None},
    ]}  # fmt: skip
    svg = prediction_chart(_check("predictions", facts))
    assert "1 day (10-28)" in svg and "1 week (11-03)" in svg and "1 month" not in svg
    assert "predicted: 11" in svg and "observed: 9.6" in svg
    pending = prediction_chart(_check("predictions", {"predictions": facts["predictions"][1:2]}))
    assert "observations pending" in pending
    assert prediction_chart(_check("predictions", {"predictions": []})) == ""


def test_leaked_pairs_need_both_thumbnails_and_only_jpeg_data_uris() -> None:
    pairs = [
        {"a": "data/train/a.jpg", "b": "data/test/a.jpg", "kind": "identical", "distance": 0,
         "splits": ["train", "test"]},
        {"a": "data/train/b.jpg", "b": "data/val/b.jpg", "kind": "near_duplicate",
         "distance": 3, "splits": ["train", "val"]},
        {"a": "data/train/c.jpg", "b": "data/val/c.jpg", "kind": "identical", "distance": 0,
         "splits": ["train", "val"]},
    ]  # fmt: skip
    thumbs = {"data/train/a.jpg": THUMB, "data/test/a.jpg": THUMB, "data/train/b.jpg": THUMB,
              "data/val/b.jpg": "javascript:alert(1)", "data/train/c.jpg": THUMB}  # fmt: skip
    shown = leaked_pairs(_check("dataset_split", {"leaked_pairs": pairs, "thumbnails": thumbs}))
    assert [(p["a"], p["split_b"]) for p in shown] == [("data/train/a.jpg", "test")]
    assert shown[0]["how"] == "identical files"


def test_confusion_matrices_are_found_in_json_and_in_logs(tmp_path: Path) -> None:
    assert from_json({"test": {"confusion_matrix": [[5, 1], [2, 7]], "classes": ["macska", "kutya"]}}) == {
        "matrix": [[5.0, 1.0], [2.0, 7.0]], "classes": ["macska", "kutya"]
    }  # fmt: skip
    assert from_json({"confusion_matrix": [[1, -2], [3, 4]]}) is None  # not counts
    assert from_json({"confusion_matrix": [[1, 2, 3], [4, 5, 6]]}) is None  # not square
    found, line = from_text("Epoch 1\nConfusion matrix:\n[[ 9  1]\n [ 2  8]]\n")
    assert found["matrix"] == [[9.0, 1.0], [2.0, 8.0]] and line == 2
    log = "Test accuracy: 0.9\nConfusion matrix (rows: true cat/dog): [[48, 2], [5, 45]]\n"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "train.log").write_text(log)
    (tmp_path / "out" / "metrics.json").write_text('{"accuracy": 0.9}')
    hit = find_confusion(tmp_path, ["out/metrics.json", "out/train.log"])
    assert hit == {"matrix": [[48.0, 2.0], [5.0, 45.0]], "classes": ["cat", "dog"],
                   "source": "out/train.log", "line": 2}  # fmt: skip
    assert find_confusion(tmp_path, ["nowhere.log"]) is None


def test_report_shows_the_pictures_with_every_student_string_escaped() -> None:
    result = SubmissionResult("hw4", EVIL, "repo", "2020-11-10T23:59:00+01:00")
    result.checks = [
        _check("training_log", {"confusion_matrix": {"matrix": [[3, 1], [0, 4]],
                                                     "classes": [EVIL, "b"], "source": EVIL}}),
        _check("dataset_split", {"leaked_pairs": [
            {"a": f"x/{EVIL}.jpg", "b": "y/b.jpg", "kind": "identical", "splits": ["train", "test"]}],
            "thumbnails": {f"x/{EVIL}.jpg": THUMB, "y/b.jpg": THUMB}}),
    ]  # fmt: skip
    assert set(check_pictures(result)) == {"training_log", "dataset_split"}
    html = render_report(result)
    assert "<script>alert" not in html
    assert html.count('src="data:image/jpeg;base64,') == 2
    assert "Confusion matrix printed in" in html and "thumbnails" not in html.split("<pre>")[-1]


def test_leaderboard_chart_has_every_student() -> None:
    board = {"dates": ["2020-10-28"], "labels": {"2020-10-28": "1 day"}, "entries": [
        {"id": "AAA111", "rank": 1, "predictions": {"2020-10-28": {"value": 9.0, "observed": 9.6}}},
        {"id": EVIL, "rank": 2, "predictions": {"2020-10-28": {"value": 12.0, "observed": 9.6}}},
    ]}  # fmt: skip
    svg = leaderboard_chart(board)
    assert "#1 AAA111: 9" in svg and "&lt;script&gt;" in svg and "observed: 9.6" in svg
    assert leaderboard_chart(None) == ""


def test_text_filters_keep_names_and_units_whole_and_moments_in_one_format() -> None:
    text = prose("error 2.8 °C, 75% of 3 points, 12 MiB; deadline 2020-10-27T23:59:00+01:00")
    assert "2.8\u00a0°C" in text and "3\u00a0points" in text and "12\u00a0MiB" in text
    assert "2020-10-27\u00a023:59\u00a0(UTC+01:00)" in text and "T23:59" not in text
    html = str(path_breaks(f"data/train/{EVIL}.jpg"))
    assert html.count("<wbr>") == 3 and "<script>" not in html  # the name has a "/" too
    assert re.findall(r'<span class="seg">([^<]*)</span>', html)[:2] == ["data", "train"]
