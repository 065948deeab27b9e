"""The spec format, documented from the models themselves, so it cannot go stale.

- ``spec_schema()``: the JSON Schema of an assignment spec (``AssignmentSpec``), in which
  each check's ``args`` follow that check's ``Args`` model. Editors with the YAML language
  server complete and check a spec that starts with
  ``# yaml-language-server: $schema=<path or URL of assignment.schema.json>``.
- ``course_schema()``: the same for the course file, when this grader has one
  (``grader.course.Course``).
- ``reference_markdown()``: docs/spec-reference.md, every top-level key and every check's
  arguments with type, default and meaning.

``python -m grader.schema`` rewrites the generated files in the checkout (schemas/ and
docs/spec-reference.md); a test fails while they differ from what the models say.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from grader.checks.registry import REGISTRY
from grader.spec import AssignmentSpec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SPEC_SCHEMA_FILE = "assignment.schema.json"
COURSE_SCHEMA_FILE = "course.schema.json"
REFERENCE_FILE = "spec-reference.md"
MODELINE = f"# yaml-language-server: $schema=../../schemas/{SPEC_SCHEMA_FILE}"


def _model_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Args"


def spec_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of an assignment spec, check arguments included."""
    schema = AssignmentSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    branches = []
    # a check argument may be a spec parameter, `${name}` (a semester gives its value)
    defs["Parameter"] = {"type": "string", "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$",
                         "description": "a spec parameter, ${name} (see `parameters`)"}  # fmt: skip
    for name, cls in REGISTRY.items():
        args = cls.Args.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(args.pop("$defs", {}))
        for prop_name, prop in list(args.get("properties", {}).items()):
            args["properties"][prop_name] = {"anyOf": [prop, {"$ref": "#/$defs/Parameter"}]}
        key = _model_name(name)
        args["description"] = f"Arguments of the `{name}` check ({cls.title})."
        defs[key] = args
        branches.append(
            {
                "if": {"properties": {"check": {"const": name}}, "required": ["check"]},
                "then": {"properties": {"args": {"$ref": f"#/$defs/{key}"}}},
            }
        )
    check_spec = defs["CheckSpec"]
    check_spec["properties"]["check"]["enum"] = list(REGISTRY)
    check_spec["allOf"] = branches
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "grader assignment spec",
        "description": "An assignment spec of the grader (assignments/<course>/<id>.yaml). "
        "Every key and every check's arguments: docs/spec-reference.md.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def course_model() -> type[BaseModel] | None:
    """The course file's model, when this grader has courses (``grader.course.Course``)."""
    if importlib.util.find_spec("grader.course") is None:
        return None
    return getattr(importlib.import_module("grader.course"), "Course", None)


def course_schema() -> dict[str, Any] | None:
    model = course_model()
    if model is None:
        return None
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    return {"$schema": SCHEMA_DIALECT, **schema}


# ---- the reference page -----------------------------------------------------------------


# meanings of spec keys whose models carry no description (spec.py stays free of prose)
KEY_NOTES = {
    "AssignmentSpec": {
        "id": "the assignment's id (lower case, digits, '_', '.', '-'); names results and folders",
        "title": "the assignment's title, shown in every report",
        "course": "the course's name, shown in every report",
        "description": "what the grader assumes where the course left something open; "
        "`grader explain` and the report show it",
        "deadline": "local time in `timezone`: 'YYYY-MM-DD HH:MM' (a bare date means 23:59:59)",
        "timezone": "IANA time zone of every local time in the spec",
        "milestones": "earlier deadlines; a check with `milestone:` is graded at that pin",
        "deliverables": "files the submission must contain (the `files` check)",
        "language": "the language prose must be in (the `english` check)",
        "checks": "the checks, in order, with points, arguments and an explanation",
        "late": "late work: none (pin at the deadline), zero, or a percent per started unit",
        "pin": "how the graded commit is chosen",
        "repo_url_pattern": "turns a roster's GitHub user name into a URL, e.g. "
        "'https://github.com/{org}/{assignment}-{github}'",
        "similarity": "cross-submission similarity in the class overview (never a penalty)",
        "requires": "milestones that are preconditions: one not met makes the submission "
        "'not eligible'",
        "parameters": "named values the spec uses as ${name}; a course semester may replace them",
        "semester": "set by the course file's semester (`--semester`); not written by hand",
    },
    "CheckSpec": {
        "title": "the check's title in reports (default: the check's own)",
        "points": "points the check is worth",
        "required": "a failing required check makes `grader check` exit 1",
        "gate": "a precondition: failing it makes the submission 'not eligible'",
        "args": "the check's arguments: see the check below",
    },
    "Deliverable": {
        "case_sensitive": "match the globs case-sensitively",
        "min_count": "at least this many files must match",
    },
    "Milestone": {
        "id": "the milestone's id, named by checks' `milestone:`",
        "title": "the milestone's title",
        "deadline": "local time in the spec's `timezone`",
        "description": "what the milestone delivers",
    },
    "LatePolicy": {"mode": "none, zero or percent", "unit": "lateness is counted per started unit"},
    "PinPolicy": {
        "author_committer_gap_days": "author and committer dates further apart than "
        "this are a date anomaly"
    },  # fmt: skip
    "SimilaritySpec": {"enabled": "compare submissions after a batch"},
}


def _type(prop: dict[str, Any], defs: dict[str, Any] | None = None) -> str:
    defs = defs or {}
    if "$ref" in prop:
        target = prop["$ref"].rsplit("/", 1)[-1]
        resolved = defs.get(target, {})
        return _type(resolved, defs) if "enum" in resolved else target
    if "enum" in prop:
        return " | ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if "anyOf" in prop:
        if any(p.get("format") == "date-time" for p in prop["anyOf"]):
            return "local date-time"
        kinds = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds)) or "any"
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        values = prop.get("additionalProperties")
        return f"map to {_type(values, defs)}" if isinstance(values, dict) else "mapping"
    if kind == "string" and prop.get("format"):
        return str(prop["format"])
    names = {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false"}
    return names.get(str(kind), "any")


def _default(model: type[BaseModel], name: str) -> str:
    field = model.model_fields[name]
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = json.dumps(getattr(value, "value", value), ensure_ascii=False, default=str)
    return f"`{text}`" if len(text) <= 60 else f"`{text[:57]}...`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(model: type[BaseModel]) -> list[str]:
    schema = model.model_json_schema()
    props, defs = schema.get("properties", {}), schema.get("$defs", {})
    if not props:
        return ["No arguments.", ""]
    notes = KEY_NOTES.get(model.__name__, {})
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, prop in props.items():
        description = prop.get("description") or notes.get(name, "")
        lines.append(
            f"| `{name}` | {_cell(_type(prop, defs))} | {_cell(_default(model, name))} | "
            f"{_cell(description)} |"
        )
    return [*lines, ""]


def _summary(cls: type) -> str:
    doc = importlib.import_module(cls.__module__).__doc__ or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def reference_markdown() -> str:
    """docs/spec-reference.md: the keys of a spec and every check's arguments."""
    lines = [
        "# Spec reference",
        "",
        "Generated from the models by `python -m grader.schema` (a test fails while this page",
        "differs from them). The same keys as a JSON Schema: `schemas/assignment.schema.json`",
        "(`grader schema` prints it); start a spec with",
        "",
        "```yaml",
        f"{MODELINE}",
        "```",
        "",
        "(the path relative to the spec, or a URL) and an editor with the YAML language server",
        "(VS Code's YAML extension, for one) completes and checks it as you type.",
        "",
        "## Top-level keys",
        "",
        *_table(AssignmentSpec),
    ]
    seen: set[str] = set()
    nested = [("Check entry (`checks[]`)", "CheckSpec")]
    nested += [(None, n) for n in ("Deliverable", "Milestone", "LatePolicy", "PinPolicy",
                                   "LanguageRequirement", "SimilaritySpec")]  # fmt: skip
    spec_module = importlib.import_module("grader.spec")
    for title, name in nested:
        model = getattr(spec_module, name)
        seen.add(name)
        lines += [f"### {title or name}", "", *_table(model)]
    lines += ["## Checks", ""]
    lines += [f"- [`{name}`](#{name}): {cls.title}" for name, cls in REGISTRY.items()]
    lines.append("")
    for name, cls in REGISTRY.items():
        lines += [f"### {name}", "", f"**{cls.title}.** {_summary(cls)}", "", *_table(cls.Args)]
        for sub in _nested_models(cls.Args):
            if sub.__name__ not in seen:
                seen.add(sub.__name__)
                lines += [f"#### {sub.__name__} (in `{name}`)", "", *_table(sub)]
    return "\n".join(lines).rstrip() + "\n"


def _nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found.append(kind)
            stack.extend(getattr(kind, "__args__", ()))
    return found


def generated_files(root: Path) -> dict[Path, str]:
    """Every generated file under the checkout ``root`` and its content."""
    files = {
        root / "schemas" / SPEC_SCHEMA_FILE: json.dumps(spec_schema(), indent=2) + "\n",
        root / "docs" / REFERENCE_FILE: reference_markdown(),
    }
    course = course_schema()
    if course is not None:
        files[root / "schemas" / COURSE_SCHEMA_FILE] = json.dumps(course, indent=2) + "\n"
    return files


if __name__ == "__main__":
    from grader.paths import SOURCE_ROOT

    for path, text in generated_files(SOURCE_ROOT).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(SOURCE_ROOT)}")
