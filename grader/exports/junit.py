"""JUnit XML: one ``testsuite`` per submission, one ``testcase`` per check (per instructor
test for a ``tests`` check: ``<check id>::<test name>``).

pass and warn pass (a warning goes to ``system-out``), fail is a ``failure``, error an
``error``, manual and skipped are ``skipped``; a submission that could not be graded is
one ``error`` test case named ``grading``. Built with ElementTree, so every student
string is escaped; characters XML 1.0 cannot hold at all (NUL, terminal escapes) are
replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from grader.results import CheckResult, Status, SubmissionResult

_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(value: object) -> str:
    return _INVALID_XML.sub("\ufffd", "" if value is None else str(value))


def _details(check: CheckResult) -> str:
    lines = []
    for item in check.evidence:
        where = f"{item.path}:{item.line}" if item.line else item.path
        lines.append(" - ".join(p for p in (where, item.verdict, item.detail) if p))
    if check.explanation:
        lines.append(check.explanation)
    return "\n".join(line for line in lines if line)


def _testcase(parent: ET.Element, classname: str, check: CheckResult) -> str:
    case = ET.SubElement(
        parent, "testcase", name=_clean(check.id), classname=_clean(classname), time="0"
    )
    message, details = _clean(check.message), _clean(_details(check))
    if check.status == Status.FAIL:
        ET.SubElement(case, "failure", message=message, type="fail").text = details or message
        return "failures"
    if check.status == Status.ERROR:
        ET.SubElement(case, "error", message=message, type="error").text = details or message
        return "errors"
    if check.status in (Status.MANUAL, Status.SKIPPED):
        prefix = "needs manual grading: " if check.status == Status.MANUAL else ""
        ET.SubElement(case, "skipped", message=prefix + message)
        return "skipped"
    if check.status == Status.WARN:
        ET.SubElement(case, "system-out").text = _clean(f"warning: {check.message}")
    return "passed"


ROW_OUTCOME = {"failed": "failures", "error": "errors", "not run": "errors", "pending": "skipped"}


def _test_row_case(parent: ET.Element, classname: str, check: CheckResult, row: dict) -> str:
    """One instructor test of a `tests` check (its message is already hidden when the spec
    hides hidden tests' output)."""
    name = f"{check.id}::{row.get('name', '')}"
    case = ET.SubElement(parent, "testcase", name=_clean(name), classname=_clean(classname))
    case.set("time", f"{float(row.get('seconds') or 0):.3f}")
    where = (row.get("where") or {}).get("label", "")
    points = f"{row.get('earned', 0):g}/{row.get('points', 0):g} points"
    message = _clean(" - ".join(p for p in (points, str(row.get("message") or "")) if p))
    text = _clean("\n".join(p for p in (str(row.get("message") or ""), where) if p)) or message
    outcome = ROW_OUTCOME.get(str(row.get("status")), "passed")
    if outcome == "failures":
        ET.SubElement(case, "failure", message=message, type="fail").text = text
    elif outcome == "errors":
        ET.SubElement(case, "error", message=message, type="error").text = text
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message="pending: " + message)
    ET.SubElement(case, "properties")
    for key in ("visibility", "points", "earned"):
        ET.SubElement(case[-1], "property", name=key, value=_clean(row.get(key, "")))
    return outcome


def _suite(root: ET.Element, result: SubmissionResult) -> dict[str, int]:
    suite = ET.SubElement(root, "testsuite", name=_clean(result.student))
    if result.graded_at:
        suite.set("timestamp", _clean(result.graded_at))
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("assignment", result.assignment), ("repo", result.repo), ("commit", result.commit),
        ("score", f"{result.score:g}"), ("max_score", f"{result.max_score:g}"),
        ("late_penalty", f"{result.late_penalty:g}"),
    ):  # fmt: skip
        if value:
            ET.SubElement(properties, "property", name=name, value=_clean(value))
    classname = f"{result.assignment}.{result.student}"
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if result.error:
        case = ET.SubElement(suite, "testcase", name="grading", classname=_clean(classname))
        case.set("time", "0")
        ET.SubElement(case, "error", message=_clean(result.error), type="not-graded")
        counts.update(tests=1, errors=1)
    for check in result.checks:
        rows = check.facts.get("tests") if check.check == "tests" else None
        outcomes = (
            [_test_row_case(suite, classname, check, r) for r in rows if isinstance(r, dict)]
            if rows
            else [_testcase(suite, classname, check)]
        )
        for outcome in outcomes:
            counts["tests"] += 1
            if outcome != "passed":
                counts[outcome] += 1
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", "0")
    return counts


def junit_xml(results: list[SubmissionResult] | Sequence[SubmissionResult]) -> str:
    """A JUnit XML document (text, UTF-8 declaration) for the given submissions."""
    root = ET.Element("testsuites")
    name = results[0].assignment if results else "grader"
    root.set("name", _clean(name))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for result in results:
        for key, value in _suite(root, result).items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
