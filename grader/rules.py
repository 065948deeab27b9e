"""Course rules over assignment results: each student's rules and course outcome.

Reads results only (the gradebook's current view: the latest run, an override's points);
never runs a check. A condition, a rule and the outcome are each met, not met or pending
(``None``: not graded yet, a check waits for a human, the environment failed); a pending
condition never counts as met. Every verdict carries its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from grader.course import Condition, Course, Rule
from grader.results import Status, SubmissionResult, Verdict

CHECK_PASSED = (Status.PASS, Status.WARN)


@dataclass
class AssignmentState:
    """One student's effective result of one assignment."""

    assignment: str
    status: str  # missing | graded | error | override (as the gradebook says)
    result: SubmissionResult | None = None
    score: float | None = None
    max_score: float = 0.0
    override: str = ""  # "9 points by Dr. X: reason"
    decided: frozenset[str] = frozenset()  # checks a reviewer decided (grader serve)

    @property
    def verdict(self) -> str:
        """pass, fail, not_eligible, error, environment, or missing."""
        if self.result is None:
            return "missing"
        return self.result.verdict.value

    @property
    def percent(self) -> float | None:
        if self.score is None or not self.max_score:
            return None
        return round(100 * self.score / self.max_score, 1)


@dataclass
class Judgement:
    met: bool | None
    reason: str

    @property
    def word(self) -> str:
        return {True: "met", False: "not met", None: "pending"}[self.met]


@dataclass
class RuleVerdict:
    id: str
    title: str
    met: bool | None
    reason: str
    conditions: list[tuple[str, Judgement]] = field(default_factory=list)

    @property
    def word(self) -> str:
        return Judgement(self.met, "").word


@dataclass
class StudentOutcome:
    student: str
    name: str
    email: str
    assignments: dict[str, AssignmentState]
    rules: list[RuleVerdict]
    percent: float | None  # the weighted total, in percent of the maximum
    outcome: str
    complete: bool  # every assignment graded (the total is final)


def describe(condition: Condition) -> str:
    """A condition in words."""
    if condition.description:
        return condition.description
    if condition.rule:
        return f"rule {condition.rule}"
    parts = []
    for name, text in (("passed", "passed"), ("eligible", "eligible (every gate met)"),
                       ("on_time", "on time")):  # fmt: skip
        value = getattr(condition, name)
        if value is not None:
            parts.append(text if value else f"not {text}")
    if condition.min_score is not None:
        parts.append(f"at least {condition.min_score:g} points")
    if condition.min_percent is not None:
        parts.append(f"at least {condition.min_percent:g}%")
    if condition.check:
        parts.append(f"check {condition.check} passed")
    if condition.milestone:
        parts.append(f"milestone {condition.milestone} met by its deadline")
    return f"{condition.assignment}: {', '.join(parts)}"


def _on_time(result: SubmissionResult) -> Judgement:
    try:
        late = bool(result.committed_at) and datetime.fromisoformat(
            str(result.committed_at)
        ) > datetime.fromisoformat(result.deadline)
    except ValueError:
        return Judgement(None, "the commit date cannot be read")
    if late or result.late_penalty:
        return Judgement(False, f"the graded commit is dated {result.committed_at}, after the "
                         f"deadline {result.deadline}")  # fmt: skip
    return Judgement(True, f"the graded commit is at or before the deadline {result.deadline}")


def _check(result: SubmissionResult, check_id: str, decided: frozenset[str]) -> Judgement:
    found = next((c for c in result.checks if c.id == check_id), None)
    if found is None:
        return Judgement(None, f"the result has no check {check_id!r}")
    if check_id in decided and found.status not in CHECK_PASSED and found.max_points:
        full = found.points >= found.max_points  # a reviewer's points settle a human's call
        return Judgement(full, f"check {check_id}: a reviewer gave {found.points:g} of "
                         f"{found.max_points:g} points")  # fmt: skip
    if found.status in CHECK_PASSED:
        return Judgement(True, f"check {check_id} passed")
    if found.status == Status.FAIL:
        return Judgement(False, f"check {check_id} failed: {found.message}")
    return Judgement(None, f"check {check_id} is {found.status.value}: {found.message}")


def _milestone(result: SubmissionResult, milestone: str) -> Judgement:
    gate = next((g for g in result.gates if g.get("kind") == "milestone"
                 and g.get("id") == milestone), None)  # fmt: skip
    if gate is not None:
        return Judgement(gate.get("met"), f"milestone {milestone}: {gate.get('reason', '')}")
    for check in result.checks:
        judged = ((check.facts or {}).get("milestones") or {}).get(milestone)
        if check.check == "milestones" and isinstance(judged, Mapping):
            met = {"met": True, "not_met": False}.get(str(judged.get("verdict")))
            reason = judged.get("reason") or ("met" if met else "undecided")
            return Judgement(met, f"milestone {milestone}: {reason}")
    return Judgement(None, f"the result says nothing about milestone {milestone}")


def _eligible(result: SubmissionResult) -> Judgement:
    unmet = result.unmet_gates
    if unmet:
        return Judgement(False, f"not eligible: {unmet[0].get('reason', '')}")
    undecided = [g for g in result.gates if g.get("met") is None]
    if undecided:
        return Judgement(None, f"gate {undecided[0].get('id')} undecided: "
                         f"{undecided[0].get('reason', '')}")  # fmt: skip
    return Judgement(True, "every gate met")


def _passed(result: SubmissionResult) -> Judgement:
    verdict = result.verdict
    if verdict == Verdict.PASS:
        return Judgement(True, "passed")
    if verdict == Verdict.NOT_ELIGIBLE:
        return _eligible(result)
    failing = [c.id for c in result.checks if c.required and c.status.blocking]
    return Judgement(False, f"required checks fail: {', '.join(failing)}")


def _tests(condition: Condition, state: AssignmentState) -> list[Judgement]:
    result = state.result
    assert result is not None
    found = []
    if condition.passed is not None:
        found.append(_flip(_passed(result), condition.passed))
    if condition.eligible is not None:
        found.append(_flip(_eligible(result), condition.eligible))
    if condition.on_time is not None:
        found.append(_flip(_on_time(result), condition.on_time))
    score, most = state.score or 0.0, state.max_score or result.max_score
    if result.verdict == Verdict.NOT_ELIGIBLE and (
        condition.min_score is not None or condition.min_percent is not None
    ):
        found.append(Judgement(False, f"its points do not count: {_eligible(result).reason}"))
    elif condition.min_score is not None:
        found.append(Judgement(score >= condition.min_score,
                               f"{score:g} of {most:g} points (at least "
                               f"{condition.min_score:g} needed)"))  # fmt: skip
    if condition.min_percent is not None and result.verdict != Verdict.NOT_ELIGIBLE:
        share = 100 * score / most if most else 0.0
        found.append(Judgement(share >= condition.min_percent,
                               f"{share:.1f}% (at least {condition.min_percent:g}% needed)"))  # fmt: skip
    if condition.check:
        found.append(_check(result, condition.check, state.decided))
    if condition.milestone:
        found.append(_milestone(result, condition.milestone))
    return found


def _flip(judgement: Judgement, wanted: bool) -> Judgement:
    if wanted or judgement.met is None:
        return judgement
    return Judgement(not judgement.met, judgement.reason)


def judge_condition(
    condition: Condition, states: Mapping[str, AssignmentState], rules: Mapping[str, RuleVerdict],
    graded: set[str],
) -> Judgement:  # fmt: skip
    if condition.rule:
        rule = rules[condition.rule]
        return Judgement(rule.met, f"{rule.title}: {rule.word}" + (
            f" ({rule.reason})" if rule.reason and rule.met is not True else ""))  # fmt: skip
    assert condition.assignment is not None
    state = states.get(condition.assignment)
    if state is None or state.result is None:
        if condition.assignment not in graded:
            return Judgement(None, f"{condition.assignment} is not graded yet")
        return Judgement(False, f"{condition.assignment}: no graded submission")
    if state.result.verdict == Verdict.ENVIRONMENT:
        return Judgement(None, f"{condition.assignment}: not graded (environment); grade again")
    if state.result.verdict == Verdict.ERROR:
        return Judgement(False, f"{condition.assignment} could not be graded: {state.result.error}")
    results = _tests(condition, state)
    failed = next((j for j in results if j.met is False), None)
    pending = next((j for j in results if j.met is None), None)
    chosen = failed or pending
    if chosen is not None:
        return Judgement(chosen.met, f"{condition.assignment}: {chosen.reason}")
    return Judgement(True, f"{condition.assignment}: " + "; ".join(j.reason for j in results))


def judge_rule(
    rule: Rule, states: Mapping[str, AssignmentState], rules: Mapping[str, RuleVerdict],
    graded: set[str],
) -> RuleVerdict:  # fmt: skip
    verdict = RuleVerdict(rule.id, rule.title, True, "")
    alls = [(describe(c), judge_condition(c, states, rules, graded)) for c in rule.all]
    anys = [(describe(c), judge_condition(c, states, rules, graded)) for c in rule.any]
    verdict.conditions = alls + anys
    failed = [(d, j) for d, j in alls if j.met is False]
    pending = [(d, j) for d, j in alls if j.met is None]
    if anys and not any(j.met for _, j in anys):
        if any(j.met is None for _, j in anys):
            pending.append(("any of", Judgement(None, "; ".join(j.reason for _, j in anys))))
        else:
            failed.append(("any of", Judgement(False, "; ".join(j.reason for _, j in anys))))
    if failed:
        verdict.met, verdict.reason = False, failed[0][1].reason
    elif pending:
        verdict.met, verdict.reason = None, pending[0][1].reason
    return verdict


def weighted_percent(
    course: Course, states: Mapping[str, AssignmentState], graded: set[str]
) -> tuple[float | None, bool]:
    """The weighted total (assignments graded for nobody yet left out; a missing, ungraded
    or not eligible submission counts 0) and whether every assignment is in it."""
    total = weights = 0.0
    for item in course.assignments:
        if item.id not in graded or item.weight == 0:
            continue
        state = states.get(item.id)
        share = 0.0
        if state is not None and state.verdict not in ("not_eligible", "error", "missing"):
            share = (state.percent or 0.0) / 100
        total += item.weight * share
        weights += item.weight
    complete = all(a.id in graded for a in course.assignments)
    return (round(100 * total / weights, 1) if weights else None), complete


def outcome_of(course: Course, rules: Mapping[str, RuleVerdict]) -> str:
    pending = []
    for level in course.outcome.levels:
        verdict = rules[level.rule]
        if verdict.met:
            return level.label + (f" ({', '.join(pending)} pending)" if pending else "")
        if verdict.met is None:
            pending.append(level.label)
    return f"pending: {', '.join(pending)}" if pending else course.outcome.otherwise


def evaluate(
    course: Course, students: Iterable[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, AssignmentState]], graded: set[str],
) -> list[StudentOutcome]:  # fmt: skip
    """Every student's rules and outcome. ``students``: dicts with student, name, email;
    ``states``: student -> assignment -> state; ``graded``: assignments graded for anyone."""
    outcomes = []
    for person in students:
        sid = str(person["student"])
        mine = states.get(sid, {})
        verdicts: dict[str, RuleVerdict] = {}
        for rule in course.rules:
            verdicts[rule.id] = judge_rule(rule, mine, verdicts, graded)
        percent, complete = weighted_percent(course, mine, graded)
        outcomes.append(
            StudentOutcome(
                sid,
                str(person.get("name") or ""),
                str(person.get("email") or ""),
                dict(mine),
                list(verdicts.values()),
                percent,
                outcome_of(course, verdicts),
                complete,
            )  # fmt: skip
        )
    return outcomes


def states_from_rows(
    rows_by_assignment: Mapping[str, Iterable[Any]],
) -> tuple[list[dict[str, str]], dict[str, dict[str, AssignmentState]], set[str]]:
    """(students, states, graded) from the gradebook's effective rows per assignment
    (``GradeRow``: student, name, email, status, score, max_score, override, decisions,
    result(); see ``grader.gradebook.decisions.effective_rows``)."""
    students: dict[str, dict[str, str]] = {}
    states: dict[str, dict[str, AssignmentState]] = {}
    graded: set[str] = set()
    for assignment, rows in rows_by_assignment.items():
        for row in rows:
            person = students.setdefault(row.student, {"student": row.student, "name": "",
                                                       "email": ""})  # fmt: skip
            person["name"] = person["name"] or row.name
            person["email"] = person["email"] or row.email
            result = row.result()
            if result is not None:
                graded.add(assignment)
            over = row.override
            states.setdefault(row.student, {})[assignment] = AssignmentState(
                assignment, row.status, result, row.score, row.max_score,
                f"{over.points:g} points by {over.who}: {over.reason}" if over else "",
                frozenset(getattr(row, "decisions", None) or {}),
            )  # fmt: skip
    return sorted(students.values(), key=lambda s: s["student"]), states, graded
