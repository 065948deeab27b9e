from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from grader.checks.registry import args_models
from grader.paths import bundled_specs
from grader.spec import SpecError, load_spec, parse_spec_text

MINIMAL = """\
id: t1
title: Test
course: c
deadline: "2020-10-25 23:59"
checks:
  - check: files
"""


def test_dst_edge_deadline_is_utc_plus_one() -> None:
    spec = parse_spec_text(MINIMAL, "x.yaml", args_models())
    assert spec.deadline_at.utcoffset() == timedelta(hours=1)
    summer = parse_spec_text(MINIMAL.replace("10-25", "10-24"), "x.yaml", args_models())
    assert summer.deadline_at.utcoffset() == timedelta(hours=2)


def test_three_mistakes_all_reported_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """\
id: bad
title: Bad
course: c
deadline: "2020-10-27 23:59"
timezone: Europe/Budapst
checks:
  - check: files
    points: 1
  - check: english
    pionts: 2
  - check: notebooks
    args:
      min_notebooks: many
""",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_spec(path, args_models())
    text = [str(p) for p in info.value.problems]
    assert len(text) == 3, text
    assert any(t.startswith(f"{path}:5 timezone:") and "unknown IANA" in t for t in text)
    assert any(t.startswith(f"{path}:10 checks[1].pionts:") and "unknown key" in t for t in text)
    assert any(t.startswith(f"{path}:13 checks[2].args.min_notebooks:") for t in text)


def test_unknown_check_and_missing_required_field() -> None:
    text = MINIMAL.replace("check: files", "check: filez").replace("title: Test\n", "")
    with pytest.raises(SpecError) as info:
        parse_spec_text(text, "s.yaml", args_models())
    messages = [str(p) for p in info.value.problems]
    assert any("s.yaml:1 title: Field required" in m for m in messages), messages
    assert any("checks[0].check: unknown check 'filez'" in m for m in messages), messages


def test_extension_and_milestones() -> None:
    text = (
        MINIMAL
        + """\
milestones:
  - {id: m1, title: One, deadline: "2020-10-10 23:59"}
extensions:
  abc123: "2020-10-30 12:00"
"""
    )
    spec = parse_spec_text(text, "s.yaml", args_models())
    assert spec.deadline_for("ABC123").day == 30
    assert spec.deadline_for("XYZ999") == spec.deadline_at
    assert spec.milestone_deadline("m1").day == 10


def test_bad_yaml_and_bad_extension() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec_text("id: [unclosed", "s.yaml")
    assert "not valid YAML" in str(info.value)
    with pytest.raises(SpecError) as info:
        parse_spec_text(MINIMAL + "extensions:\n  toolong1: '2020-10-30'\n", "s.yaml")
    assert "s.yaml:7 extensions" in str(info.value)


@pytest.mark.parametrize("key", sorted(k for k in bundled_specs() if "/" in k))
def test_bundled_specs_validate(key: str) -> None:
    spec = load_spec(bundled_specs()[key], args_models())
    assert spec.max_points > 0
    assert all(c.explanation for c in spec.checks), "every check explains its points"
