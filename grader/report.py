"""HTML reports from results (Jinja2, autoescaped). Reads results; never runs checks."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.paths import data_dir
from grader.results import Status, SubmissionResult
from grader.spec import AssignmentSpec

STATUS_LABEL = {
    Status.PASS: "passed",
    Status.FAIL: "failed",
    Status.WARN: "warning",
    Status.ERROR: "error",
    Status.MANUAL: "needs a human",
    Status.SKIPPED: "skipped",
}


def github_web_url(repo: str) -> str | None:
    match = re.match(r"^(?:https?://|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", repo)
    return f"https://github.com/{match.group(1)}/{match.group(2)}" if match else None


def human_time(value: str | None) -> str:
    """'2020-10-27T23:59:00+01:00' -> '2020-10-27 23:59 (UTC+01:00)'."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    offset = moment.strftime("%z")
    zone = f" (UTC{offset[:3]}:{offset[3:]})" if offset else ""
    return moment.strftime("%Y-%m-%d %H:%M") + (f":{moment:%S}" if moment.second else "") + zone


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(data_dir("templates"))),
        autoescape=select_autoescape(["html", "j2", "html.j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["status_label"] = lambda s: STATUS_LABEL.get(Status(s), str(s))
    env.filters["points"] = lambda v: f"{v:g}" if isinstance(v, int | float) else v
    env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    env.filters["facts_json"] = lambda v: json.dumps(
        {k: x for k, x in v.items() if k != "svg"}, indent=2, ensure_ascii=False, default=str
    )
    env.filters["when"] = human_time
    env.filters["short"] = lambda sha: (sha or "")[:10]
    return env


def report_context(result: SubmissionResult, spec: AssignmentSpec | None) -> dict[str, Any]:
    web = github_web_url(result.repo)
    counts: dict[str, int] = {}
    for check in result.checks:
        counts[check.status.value] = counts.get(check.status.value, 0) + 1
    first_fix = [c for c in result.checks if c.required and c.status.blocking]
    return {
        "r": result,
        "spec": spec,
        "commit_url": f"{web}/commit/{result.commit}" if web and result.commit else None,
        "repo_url": web,
        "counts": counts,
        "first_fix": first_fix,
        "verdict": "error" if result.error else ("pass" if result.required_ok else "fail"),
    }


def render_report(result: SubmissionResult, spec: AssignmentSpec | None = None) -> str:
    """One self-contained HTML page (inline CSS, no scripts from elsewhere)."""
    return environment().get_template("report.html.j2").render(**report_context(result, spec))
