"""The course file: ``assignments/<course>/course.yaml``, beside the course's specs.

It lists the assignments and their weights, the semesters (each assignment's and
milestone's deadline and the per-semester parameters its spec refers to as ``${name}``),
the course rules over assignment results (``grader.rules`` evaluates them), the staff and
the students' id pattern. Validated up front like a spec: every problem with file, line
and key. Imports nothing of the project but the spec layer.

A spec beside a course file is loaded for a semester (``--semester``, default the course's
``current_semester``): the semester's deadline, milestone deadlines, parameters and
extensions replace the spec's own, which stay the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from grader.spec import (
    _LOADER,
    ID_RE,
    Frozen,
    LocalDateTime,
    Resolver,
    SpecError,
    SpecProblem,
    _format_loc,
    _line_for,
    _line_map,
    _problems,
    known_timezone,
)

COURSE_FILE = "course.yaml"
NEPTUN_PATTERN = r"[A-Z0-9]{6}"  # as grader.student_ids reads it (a whole id)
# a Werkzeug hash, as `grader serve --hash-password` prints and the review desk checks:
# "scrypt:32768:8:1$SALT$HEX" or "pbkdf2:sha256:600000$SALT$HEX"; never a plain password
PASSWORD_HASH_RE = re.compile(
    r"^(?:pbkdf2:sha(?:256|512)(?::\d+)?|scrypt:\d+:\d+:\d+)\$[^$\s]+\$[0-9a-f]{32,}$"
)


class CourseAssignment(Frozen):
    id: str = Field(pattern=ID_RE, description="the spec's id")
    spec: str | None = Field(None, description="spec file beside course.yaml; default <id>.yaml")
    title: str = ""
    weight: float = Field(1.0, ge=0, description="share in the course's weighted total")

    @property
    def spec_file(self) -> str:
        return self.spec or f"{self.id}.yaml"


class SemesterAssignment(Frozen):
    """One assignment in one semester: what replaces the spec's own values."""

    deadline: LocalDateTime | None = None
    milestones: dict[str, LocalDateTime] = Field(
        default_factory=dict, description="milestone id -> its deadline this semester"
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="values of the spec's declared parameters"
    )
    extensions: dict[str, LocalDateTime] | None = Field(
        None, description="Neptun code -> deadline; replaces the spec's extensions"
    )


class Semester(Frozen):
    title: str = ""
    course: str | None = Field(None, description="the course line reports show this semester")
    assignments: dict[str, SemesterAssignment] = Field(default_factory=dict)


class Condition(Frozen):
    """One condition of a rule: over one assignment's result, or another rule."""

    assignment: str | None = None
    rule: str | None = None
    passed: bool | None = Field(None, description="graded as pass (eligible, required checks)")
    eligible: bool | None = Field(None, description="every gate of the assignment met")
    on_time: bool | None = Field(None, description="the graded commit is not late")
    min_score: float | None = Field(None, ge=0, description="at least these points")
    min_percent: float | None = Field(None, ge=0, le=100, description="at least this share")
    check: str | None = Field(None, description="this check of the assignment passed")
    milestone: str | None = Field(None, description="this milestone was met by its deadline")
    description: str = ""

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        if (self.assignment is None) == (self.rule is None):
            raise ValueError("a condition names either `assignment` or `rule`")
        tests = [self.passed, self.eligible, self.on_time, self.min_score, self.min_percent,
                 self.check, self.milestone]  # fmt: skip
        if self.rule is not None and any(t is not None for t in tests):
            raise ValueError("a `rule` condition takes no other test (it is met when the rule is)")
        if self.assignment is not None and all(t is None for t in tests):
            raise ValueError(
                "say what must hold: passed, eligible, on_time, min_score, min_percent, check "
                "or milestone"
            )
        return self


class Rule(Frozen):
    id: str = Field(pattern=ID_RE)
    title: str
    description: str = ""
    all: list[Condition] = Field(default_factory=list, description="every one must hold")
    any: list[Condition] = Field(default_factory=list, description="at least one must hold")

    @model_validator(mode="after")
    def _has_conditions(self) -> Rule:
        if not self.all and not self.any:
            raise ValueError("a rule needs conditions under `all` or `any`")
        return self

    @property
    def conditions(self) -> list[Condition]:
        return [*self.all, *self.any]


class OutcomeLevel(Frozen):
    rule: str
    label: str


class Outcome(Frozen):
    levels: list[OutcomeLevel] = Field(
        default_factory=list, description="the first level whose rule is met names the outcome"
    )
    otherwise: str = "not completed"


class StaffMember(Frozen):
    login: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    name: str
    role: Literal["instructor", "assistant"]
    password_hash: str | None = Field(
        None, description="a PBKDF2 or scrypt hash (never a plain password)"
    )

    @field_validator("password_hash")
    @classmethod
    def _is_hash(cls, value: str | None) -> str | None:
        if value is not None and not PASSWORD_HASH_RE.match(value):
            raise ValueError(
                "not a PBKDF2/scrypt password hash ('scrypt:32768:8:1$SALT$HEX' or "
                "'pbkdf2:sha256:600000$SALT$HEX'; `grader serve --hash-password` prints one); "
                "never write a plain password here"
            )
        return value


class Course(Frozen):
    id: str = Field(pattern=ID_RE)
    title: str
    institution: str = ""
    timezone: str = "Europe/Budapest"
    current_semester: str | None = Field(None, description="the semester used by default")
    student_id_pattern: str | None = Field(
        None, description="regex a whole student id matches; default: a Neptun code"
    )
    staff: list[StaffMember] = Field(default_factory=list)
    assignments: list[CourseAssignment] = Field(min_length=1)
    semesters: dict[str, Semester] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    outcome: Outcome = Outcome()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_timezone(value)

    @field_validator("student_id_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value

    def assignment(self, assignment_id: str) -> CourseAssignment | None:
        return next((a for a in self.assignments if a.id == assignment_id), None)

    @property
    def student_id_re(self) -> re.Pattern[str]:
        """Whole student ids (``grader.student_ids`` applies it, with Neptun's capitals)."""
        return re.compile(f"(?:{self.student_id_pattern or NEPTUN_PATTERN})\\Z")


def reference_problems(course: Course) -> list[tuple[tuple, str]]:
    """Cross-references the models cannot check alone, each with its key path."""
    found: list[tuple[tuple, str]] = []
    ids = [a.id for a in course.assignments]
    for what, values in (("assignments", ids), ("rules", [r.id for r in course.rules]),
                         ("staff", [s.login for s in course.staff])):  # fmt: skip
        for index, value in enumerate(values):
            if value in values[:index]:
                found.append(((what, index), f"{value!r} is listed twice"))
    if course.current_semester is not None and course.current_semester not in course.semesters:
        found.append((("current_semester",), f"{course.current_semester!r} is not among "
                      f"semesters: {', '.join(course.semesters) or 'none'}"))  # fmt: skip
    for name, semester in course.semesters.items():
        for key in semester.assignments:
            if key not in ids:
                found.append((("semesters", name, "assignments", key),
                              f"not an assignment of the course ({', '.join(ids)})"))  # fmt: skip
    earlier: set[str] = set()
    for r_index, rule in enumerate(course.rules):
        for group in ("all", "any"):
            for c_index, condition in enumerate(getattr(rule, group)):
                loc = ("rules", r_index, group, c_index)
                if condition.assignment is not None and condition.assignment not in ids:
                    found.append(((*loc, "assignment"), f"{condition.assignment!r} is not an "
                                  f"assignment of the course ({', '.join(ids)})"))  # fmt: skip
                if condition.rule is not None and condition.rule not in earlier:
                    found.append(((*loc, "rule"), f"rule {condition.rule!r} must be defined "
                                  "above this one"))  # fmt: skip
        earlier.add(rule.id)
    for index, level in enumerate(course.outcome.levels):
        if level.rule not in earlier:
            found.append((("outcome", "levels", index, "rule"),
                          f"{level.rule!r} is not a rule of the course"))  # fmt: skip
    return found


# ---- loading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseFile:
    path: Path
    course: Course
    lines: dict[tuple, int]

    def problem(self, loc: tuple, message: str) -> SpecProblem:
        return SpecProblem(str(self.path), _line_for(self.lines, loc), _format_loc(loc), message)

    def spec_path(self, assignment_id: str) -> Path:
        entry = self.course.assignment(assignment_id)
        return self.path.parent / (entry.spec_file if entry else f"{assignment_id}.yaml")


def load_course(path: str | Path) -> CourseFile:
    """Load and validate a course file. Raises SpecError naming file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        node, data = yaml.compose(text, Loader=_LOADER), yaml.load(text, Loader=_LOADER)  # noqa: S506
    except FileNotFoundError:
        raise SpecError([SpecProblem(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(str(path), None, "", f"cannot read: {exc}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise SpecError([SpecProblem(str(path), line, "", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecProblem(str(path), 1, "", "a course file is a YAML mapping")])
    lines = _line_map(node) if node is not None else {}
    try:
        course = Course.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_problems(exc, str(path), lines)) from None
    course_file = CourseFile(path, course, lines)
    problems = [course_file.problem(loc, message) for loc, message in reference_problems(course)]
    if problems:
        raise SpecError(problems)
    return course_file


def find_course(spec_path: str | Path) -> Path | None:
    """The course file beside a spec, if there is one."""
    candidate = Path(spec_path).resolve().parent / COURSE_FILE
    return candidate if candidate.is_file() else None


def semester_resolver(course_file: CourseFile, semester: str | None = None) -> Resolver:
    """A ``parse_spec_text`` hook that puts one semester's dates and parameters into a spec.
    An unknown semester, or a semester named on purpose that lacks the assignment, is an
    error; without ``semester`` the course's current one applies where it lists the spec."""
    course = course_file.course

    def resolve(
        data: dict[str, Any], _lines: dict[tuple, int]
    ) -> tuple[dict[str, Any], list[SpecProblem]]:
        chosen = semester or course.current_semester
        if chosen is None:
            return data, []
        if chosen not in course.semesters:
            known = ", ".join(course.semesters) or "none"
            return data, [course_file.problem(("semesters",), f"no semester {chosen!r}; the "
                                              f"course has: {known}")]  # fmt: skip
        spec_id = str(data.get("id", ""))
        entry = course.semesters[chosen].assignments.get(spec_id)
        if entry is None:
            if semester is None:
                return data, []
            return data, [course_file.problem(
                ("semesters", chosen), f"semester {chosen!r} gives no dates for {spec_id!r}; add "
                f"them under semesters.{chosen}.assignments.{spec_id}",
            )]  # fmt: skip
        return _apply(course_file, chosen, spec_id, entry, data)

    return resolve


def _apply(
    course_file: CourseFile, chosen: str, spec_id: str, entry: SemesterAssignment,
    data: dict[str, Any],
) -> tuple[dict[str, Any], list[SpecProblem]]:  # fmt: skip
    problems: list[SpecProblem] = []
    where = ("semesters", chosen, "assignments", spec_id)
    data = dict(data, semester=chosen)
    title = course_file.course.semesters[chosen].course
    if title:
        data["course"] = title
    if entry.deadline is not None:
        data["deadline"] = entry.deadline
    if entry.extensions is not None:
        data["extensions"] = dict(entry.extensions)
    milestones = [dict(m) for m in data.get("milestones") or [] if isinstance(m, dict)]
    known = {str(m.get("id")) for m in milestones}
    for milestone_id in entry.milestones:
        if milestone_id not in known:
            problems.append(course_file.problem(
                (*where, "milestones", milestone_id),
                f"{spec_id} has no milestone {milestone_id!r} ({', '.join(sorted(known)) or 'none'})",
            ))  # fmt: skip
    for milestone in milestones:
        if milestone.get("id") in entry.milestones:
            milestone["deadline"] = entry.milestones[milestone["id"]]
    if milestones:
        data["milestones"] = milestones
    declared = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    parameters = dict(declared)
    for name, value in entry.parameters.items():
        if name not in declared:
            problems.append(course_file.problem(
                (*where, "parameters", name),
                f"{spec_id} declares no parameter {name!r} (declared: "
                f"{', '.join(sorted(declared)) or 'none'})",
            ))  # fmt: skip
        parameters[name] = value
    data["parameters"] = parameters
    return data, problems


def spec_problems(course_file: CourseFile, specs: dict[str, Any]) -> list[SpecProblem]:
    """Rule conditions that name a check or milestone the assignment's spec does not have.
    ``specs``: assignment id -> AssignmentSpec (loaded by the caller)."""
    found = []
    for r_index, rule in enumerate(course_file.course.rules):
        for group in ("all", "any"):
            for c_index, condition in enumerate(getattr(rule, group)):
                spec = specs.get(condition.assignment or "")
                if spec is None:
                    continue
                loc = ("rules", r_index, group, c_index)
                checks = {c.key for c in spec.checks}
                if condition.check and condition.check not in checks:
                    found.append(course_file.problem(
                        (*loc, "check"), f"{spec.id} has no check {condition.check!r} "
                        f"({', '.join(sorted(checks))})",
                    ))  # fmt: skip
                milestone = condition.milestone
                if milestone and milestone not in {m.id for m in spec.milestones}:
                    found.append(course_file.problem(
                        (*loc, "milestone"), f"{spec.id} has no milestone {milestone!r}"
                    ))  # fmt: skip
                elif (
                    milestone
                    and milestone not in spec.requires
                    and not any(c.check == "milestones" for c in spec.checks)
                ):
                    found.append(course_file.problem(
                        (*loc, "milestone"), f"{spec.id} does not judge milestone {milestone!r}: "
                        "add it to the spec's `requires:` (or add a milestones check)",
                    ))  # fmt: skip
    return found
