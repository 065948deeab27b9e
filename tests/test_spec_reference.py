"""The spec format documented from the models: the JSON Schema (shipped, pointed at by the
bundled specs' modeline), docs/spec-reference.md, `grader keys`, `grader schema`, and
validation errors that say where to look."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from grader.checks.registry import REGISTRY
from grader.cli import app
from grader.schema import MODELINE, course_schema, generated_files, spec_schema

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted(p for p in (ROOT / "assignments").glob("*/*.yaml") if p.name != "course.yaml")


def as_editor_sees(path: Path) -> object:
    """YAML as the YAML language server reads it (dates stay strings)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def test_generated_files_are_up_to_date() -> None:
    for path, text in generated_files(ROOT).items():
        assert path.is_file(), f"{path} is missing: run `python -m grader.schema`"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is out of date: run `python -m grader.schema`"
        )


def test_the_schema_is_valid_and_every_bundled_spec_passes_it() -> None:
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert BUNDLED
    for path in BUNDLED:
        errors = [e.message for e in validator.iter_errors(as_editor_sees(path))]
        assert errors == [], (path.name, errors)
        assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE, path.name
        target = (path.parent / MODELINE.split("=", 1)[1]).resolve()
        assert target == ROOT / "schemas" / "assignment.schema.json"


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d["checks"][0].update(pionts=2), "pionts"),
        (lambda d: d["checks"][4]["args"].update(datez=["2020-10-28"]), "datez"),
        (lambda d: d["checks"][4]["args"].update(min_celsius="cold"), "cold"),
        (lambda d: d["checks"][0].update(check="filez"), "filez"),
        (lambda d: d.update(late={"mode": "sometimes"}), "sometimes"),
    ],
)
def test_the_schema_catches_what_validate_catches(change, words) -> None:
    data = as_editor_sees(ROOT / "assignments" / "bme-vitmav45-2020" / "hw3-temperature.yaml")
    change(data)
    errors = " ".join(
        e.message for e in jsonschema.Draft202012Validator(spec_schema()).iter_errors(data)
    )
    assert words in errors


def test_every_check_and_every_argument_is_in_the_reference_page() -> None:
    page = (ROOT / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    for name, cls in REGISTRY.items():
        assert f"### {name}\n" in page
        for argument in cls.Args.model_fields:
            assert f"| `{argument}` |" in page, (name, argument)
    assert "| `deadline` | local date-time | required |" in page


def test_keys_and_schema_commands() -> None:
    runner = CliRunner()
    one = runner.invoke(app, ["keys", "dataset_split"])
    assert one.exit_code == 0 and "near_duplicate_distance" in one.output
    assert "### files" not in one.output
    unknown = runner.invoke(app, ["keys", "nosuch"])
    assert unknown.exit_code == 2 and "known: files" in unknown.output
    printed = runner.invoke(app, ["schema"])
    assert json.loads(printed.stdout) == spec_schema()
    course = runner.invoke(app, ["schema", "course"])
    if course_schema() is None:
        assert course.exit_code == 2 and "no course file format" in course.output
    else:
        assert json.loads(course.stdout)["$schema"].startswith("https://json-schema.org")


def test_validation_errors_point_to_the_reference(tmp_path: Path) -> None:
    text = (ROOT / "assignments" / "bme-vitmav45-2020" / "hw3-temperature.yaml").read_text()
    bad = text.replace("  - check: files\n    points: 2", "  - check: files\n    pionts: 2", 1)
    bad = bad.replace("      labels:", "      lables:", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    done = CliRunner().invoke(app, ["validate", str(path)])
    assert done.exit_code == 1
    assert (
        "checks[0].pionts: unknown key (check the spelling; `grader keys` lists the keys)"
        in done.output
    )
    assert (
        "args.lables: unknown key (check the spelling; `grader keys predictions` lists"
        in done.output
    )
