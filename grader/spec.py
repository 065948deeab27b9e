"""Assignment specs: YAML files loaded into frozen, validated pydantic models.

This module imports nothing of the project. Check argument models are injected by the
caller (``load_spec(path, args_models=...)``) so that every problem in a spec, including
one inside a check's ``args``, is reported at once with its file, YAML line and key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

NEPTUN_RE = re.compile(r"^[A-Z0-9]{6}$")
ID_RE = r"^[a-z0-9][a-z0-9_.-]*$"


def known_timezone(value: str) -> str:
    """``value`` when it names an IANA time zone; ValueError (a validation message) else."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Budapest')") from exc
    return value


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_local_datetime(value: str | datetime | date, zone: str) -> datetime:
    """Parse a deadline written as local time ('2020-10-27 23:59') in an IANA zone.

    A value that carries its own UTC offset keeps it. A bare date means 23:59:59 that day.
    """
    tz = ZoneInfo(zone)
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time(23, 59, 59))
    else:
        text = str(value).strip().replace("T", " ")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a date-time; write it as 'YYYY-MM-DD HH:MM' (local time)"
            ) from exc
        if len(text) == 10:
            parsed = datetime.combine(parsed.date(), time(23, 59, 59))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _check_datetime(value: Any) -> Any:
    """Validate the format early so the error points at the key, whatever else is wrong."""
    if value is not None:
        parse_local_datetime(value, "UTC")
    return value


LocalDateTime = Annotated[str | datetime | date, AfterValidator(_check_datetime)]


class Deliverable(Frozen):
    """A file (or set of files) the submission must contain."""

    glob: str | list[str] = Field(
        description="glob(s), relative to the repo root; any match counts"
    )
    description: str = Field(description="what this is, in words the student reads")
    case_sensitive: bool = False
    min_count: int = Field(1, ge=0)

    @property
    def globs(self) -> list[str]:
        return [self.glob] if isinstance(self.glob, str) else list(self.glob)


class Milestone(Frozen):
    id: str = Field(pattern=ID_RE)
    title: str
    deadline: LocalDateTime
    description: str = ""


class LateMode(StrEnum):
    NONE = "none"  # pin at the deadline; later commits are ignored (and reported)
    ZERO = "zero"  # grade the latest commit; any lateness scores zero
    PERCENT = "percent"  # grade the latest commit; lose `percent` per started unit


class LatePolicy(Frozen):
    mode: LateMode = LateMode.NONE
    unit: Literal["hour", "day"] = "day"
    percent: float = Field(0.0, ge=0, le=100, description="percent lost per started unit")
    cap: float = Field(100.0, ge=0, le=100, description="at most this percent is lost")
    cutoff: LocalDateTime | None = Field(
        None, description="no commit after this local time is accepted at all"
    )

    @model_validator(mode="after")
    def _percent_needs_value(self) -> LatePolicy:
        if self.mode == LateMode.PERCENT and self.percent <= 0:
            raise ValueError("late.mode 'percent' needs late.percent > 0")
        return self


class PinPolicy(Frozen):
    backdated: Literal["exclude", "include"] = Field(
        "exclude",
        description=(
            "a commit dated before the deadline that sits on top of a commit dated after it "
            "is a backdated commit: 'exclude' pins below the first late commit, 'include' "
            "trusts the dates"
        ),
    )
    author_committer_gap_days: float = Field(2.0, gt=0)


class LanguageRequirement(Frozen):
    language: str = Field("en", description="ISO 639-1 code the prose must be in")
    min_share: float = Field(0.7, gt=0, le=1)


class SimilaritySpec(Frozen):
    """Cross-submission similarity (shown in the class overview; never a penalty)."""

    enabled: bool = True
    threshold: float = Field(
        0.6, ge=0, le=1, description="a pair is listed when either side shares this fraction"
    )
    include: list[str] = Field(
        default_factory=lambda: ["**/*.py", "**/*.ipynb"],
        description="globs of the files compared; notebooks are compared by their code cells",
    )
    boilerplate: list[str] = Field(
        default_factory=list,
        description="starter code and reference solution paths, relative to the instructor dir",
    )
    reference_solution: bool = Field(
        True,
        description="the reference solution (<instructor dir>/<assignment id>/) is boilerplate",
    )
    top_per_student: int = Field(
        3, ge=1, description="list each student's most similar partners, this many at most"
    )
    max_pairs: int = Field(200, ge=1, description="list at most this many pairs for the class")


class SubmissionLimits(Frozen):
    """What one submission may cost the grader. A checkout over the tree limits is a failed
    result (the submission's); a check over its budget is an `error` of that check alone."""

    max_files: int = Field(100_000, ge=1, description="files in the graded commit's tree")
    max_total_mb: float = Field(2048, gt=0, description="their total size (MiB)")
    max_file_mb: float = Field(200, gt=0, description="the largest single file (MiB)")
    check_seconds: float = Field(
        300, gt=0, description="wall time of one check (a rerun has its own limits)"
    )
    check_memory_mb: int = Field(
        2048, ge=64, description="memory one check may use beyond the grader's own (MiB)"
    )


class CheckSpec(Frozen):
    check: str = Field(description="the registered check type, e.g. 'files'")
    id: str | None = Field(None, pattern=ID_RE, description="unique id; defaults to `check`")
    title: str | None = None
    explanation: str = Field("", description="what earns the points, in plain words")
    points: float = Field(0.0, ge=0)
    required: bool = True
    milestone: str | None = Field(None, description="grade at this milestone's pinned commit")
    gate: bool = Field(
        False, description="a precondition: failing it makes the submission 'not eligible'"
    )
    args: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.id or self.check


class AssignmentSpec(Frozen):
    id: str = Field(pattern=ID_RE)
    title: str
    course: str
    description: str = ""
    deadline: LocalDateTime
    timezone: str = "Europe/Budapest"
    milestones: list[Milestone] = Field(default_factory=list)
    requires: list[str] = Field(
        default_factory=list,
        description="milestones that must be met by their deadlines (gates): else 'not eligible'",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="named values the spec refers to as ${name}; a semester may replace them",
    )
    semester: str | None = Field(None, description="the semester the dates come from")
    branch: str | None = Field(None, description="branch to grade; the default branch if unset")
    deliverables: list[Deliverable] = Field(default_factory=list)
    language: LanguageRequirement = LanguageRequirement()
    checks: list[CheckSpec] = Field(min_length=1)
    late: LatePolicy = LatePolicy()
    pin: PinPolicy = PinPolicy()
    extensions: dict[str, LocalDateTime] = Field(
        default_factory=dict, description="Neptun code -> new local deadline"
    )
    repo_url_pattern: str | None = None
    similarity: SimilaritySpec = SimilaritySpec()
    limits: SubmissionLimits = SubmissionLimits()
    _source: str | None = PrivateAttr(None)  # the file it was loaded from, if any

    @property
    def source_dir(self) -> Path | None:
        """The folder of the spec file (where material shipped with it lives), if known."""
        return Path(self._source).resolve().parent if self._source else None

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("extensions")
    @classmethod
    def _neptun_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not NEPTUN_RE.match(str(key).upper()):
                raise ValueError(f"{key!r} is not a Neptun code (six letters or digits)")
        return {str(k).upper(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> AssignmentSpec:
        parse_local_datetime(self.deadline, self.timezone)
        for milestone in self.milestones:
            parse_local_datetime(milestone.deadline, self.timezone)
        for value in self.extensions.values():
            parse_local_datetime(value, self.timezone)
        if self.late.cutoff is not None:
            parse_local_datetime(self.late.cutoff, self.timezone)
        keys = [c.key for c in self.checks]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"check ids must be unique; repeated: {', '.join(dupes)} (set `id`)")
        milestone_ids = {m.id for m in self.milestones}
        for check in self.checks:
            if check.milestone is not None and check.milestone not in milestone_ids:
                raise ValueError(
                    f"check {check.key!r} names milestone {check.milestone!r}, "
                    f"which is not among milestones: {sorted(milestone_ids) or 'none'}"
                )
        for required in self.requires:
            if required not in milestone_ids:
                raise ValueError(
                    f"requires: {required!r} is not among milestones: "
                    f"{sorted(milestone_ids) or 'none'}"
                )
            if not any(c.milestone == required and c.required for c in self.checks):
                raise ValueError(
                    f"requires: milestone {required!r} has no required check tagged "
                    f"`milestone: {required}`; tag the checks that define it"
                )
        return self

    # ---- derived values -------------------------------------------------------------
    @property
    def deadline_at(self) -> datetime:
        return parse_local_datetime(self.deadline, self.timezone)

    def deadline_for(self, student: str | None = None) -> datetime:
        """The deadline that applies to one student (an extension replaces the default)."""
        if student and student.upper() in self.extensions:
            return parse_local_datetime(self.extensions[student.upper()], self.timezone)
        return self.deadline_at

    def milestone_deadline(self, milestone_id: str) -> datetime:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return parse_local_datetime(milestone.deadline, self.timezone)
        raise KeyError(milestone_id)

    @property
    def cutoff_at(self) -> datetime | None:
        if self.late.cutoff is None:
            return None
        return parse_local_datetime(self.late.cutoff, self.timezone)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)


def dump_spec(spec: AssignmentSpec) -> str:
    """The validated spec as YAML (parameters and a semester already applied): what a batch
    worker, possibly on another machine without the course file, parses again."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ---- loading with file:line:key errors --------------------------------------------------


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class SpecError(Exception):
    """A spec that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _line_map(node: yaml.Node, path: tuple = (), out: dict | None = None) -> dict[tuple, int]:
    """Map each key path (('checks', 2, 'args', 'patterns')) to its 1-based YAML line."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            out[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, out)
            out[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), out)
    return out


def _format_loc(loc: tuple) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _line_for(lines: dict[tuple, int], loc: tuple) -> int | None:
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


# pydantic puts union branch names into error locations; they mean nothing to a spec author
_UNION_TAGS = {"str", "datetime", "date", "list[str]", "function-after", "int", "float"}


def _problems(
    exc: ValidationError, file: str, lines: dict, prefix: tuple = (), keys: str = "grader keys"
) -> list[SpecProblem]:
    seen: set[tuple[str, str]] = set()
    problems = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if p not in _UNION_TAGS)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown key (check the spelling; `{keys}` lists the keys)"
        ident = (_format_loc(loc), message)
        if ident in seen:
            continue
        seen.add(ident)
        problems.append(SpecProblem(file, _line_for(lines, loc), _format_loc(loc), message))
    return problems


# ---- parameters: ${name} in a spec --------------------------------------------------------

PARAMETER_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
BUILTIN_PARAMETERS = ("deadline", "semester")


def parameter_text(value: Any) -> str:
    """A parameter's value inside a longer text: lists joined with ', ', dates as ISO."""
    if isinstance(value, list | tuple):
        return ", ".join(parameter_text(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def substitute_parameters(
    data: dict[str, Any], file: str, lines: dict[tuple, int]
) -> tuple[dict[str, Any], list[SpecProblem]]:
    """Replace ``${name}`` everywhere but in ``parameters`` itself: a value that is exactly
    ``${name}`` becomes the parameter's value (a list, a date, a number...), a longer text
    gets its text form. ``${deadline}`` and ``${semester}`` are always known."""
    declared = data.get("parameters")
    values: dict[str, Any] = dict(declared) if isinstance(declared, dict) else {}
    values.setdefault("deadline", parameter_text(data.get("deadline", "")))
    values.setdefault("semester", data.get("semester") or "")
    problems: list[SpecProblem] = []

    def walk(node: Any, loc: tuple) -> Any:
        if isinstance(node, dict):
            return {k: (v if loc == () and k == "parameters" else walk(v, (*loc, k)))
                    for k, v in node.items()}  # fmt: skip
        if isinstance(node, list):
            return [walk(item, (*loc, index)) for index, item in enumerate(node)]
        if not isinstance(node, str) or "${" not in node:
            return node
        unknown = [n for n in PARAMETER_RE.findall(node) if n not in values]
        if unknown:
            known = ", ".join(sorted(values))
            problems.append(
                SpecProblem(
                    file,
                    _line_for(lines, loc),
                    _format_loc(loc),
                    f"unknown parameter ${{{unknown[0]}}}; declare it under `parameters:` "
                    f"(known: {known})",
                )  # fmt: skip
            )
            return node
        whole = PARAMETER_RE.fullmatch(node.strip())
        if whole:
            return copy.deepcopy(values[whole.group(1)])
        return PARAMETER_RE.sub(lambda m: parameter_text(values[m.group(1)]), node)

    return walk(data, ()), problems


# a hook run on the raw YAML data before validation (a course's semester, for instance):
# it returns the data to validate and the problems it found
Resolver = Callable[[dict[str, Any], dict[tuple, int]], tuple[dict[str, Any], list[SpecProblem]]]


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: faster


def parse_spec_text(
    text: str,
    file: str,
    args_models: Mapping[str, type[BaseModel]] | None = None,
    resolve: Resolver | None = None,
) -> AssignmentSpec:
    """Validate spec YAML text. Raises SpecError listing every problem.

    ``resolve`` may rewrite the raw data first (a semester's deadlines and parameters);
    then ``${name}`` parameters are substituted, then everything is validated."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise SpecError([SpecProblem(file, line, "", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecProblem(file, 1, "", "a spec must be a YAML mapping (key: value)")])
    lines = _line_map(node) if node is not None else {}
    problems: list[SpecProblem] = []
    if resolve is not None:
        data, found = resolve(data, lines)
        problems.extend(found)
    data, found = substitute_parameters(data, file, lines)
    problems.extend(found)
    spec: AssignmentSpec | None = None
    try:
        spec = AssignmentSpec.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, file, lines))
    if args_models is not None and isinstance(data.get("checks"), list):
        for index, check in enumerate(data["checks"]):
            if not isinstance(check, dict) or not isinstance(check.get("check"), str):
                continue
            model = args_models.get(check["check"])
            loc = ("checks", index)
            if model is None:
                known = ", ".join(sorted(args_models))
                problems.append(
                    SpecProblem(
                        file,
                        _line_for(lines, (*loc, "check")),
                        _format_loc((*loc, "check")),
                        f"unknown check {check['check']!r}; known: {known}",
                    )
                )
                continue
            try:
                model.model_validate(check.get("args") or {})
            except ValidationError as exc:
                keys = f"grader keys {check['check']}"
                problems.extend(_problems(exc, file, lines, (*loc, "args"), keys))
    if problems:
        raise SpecError(problems)
    assert spec is not None
    if Path(file).is_file():
        spec._source = file
    return spec


def load_spec(
    path: str | Path,
    args_models: Mapping[str, type[BaseModel]] | None = None,
    resolve: Resolver | None = None,
) -> AssignmentSpec:
    """Load and validate one spec file. Raises SpecError naming file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecProblem(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(str(path), None, "", f"cannot read: {exc}")]) from None
    return parse_spec_text(text, str(path), args_models, resolve)
