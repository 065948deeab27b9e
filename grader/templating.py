"""The one Jinja2 environment for every HTML page (autoescaped), with its filters."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, select_autoescape

from grader.paths import data_dir
from grader.results import Status

STATUS_LABEL = {
    Status.PASS: "passed",
    Status.FAIL: "failed",
    Status.WARN: "warning",
    Status.ERROR: "error",
    Status.MANUAL: "needs a human",
    Status.SKIPPED: "skipped",
    Status.ENVIRONMENT: "not graded (environment)",
}


def points(value: object) -> object:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, int | float) else value


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
    env.filters["points"] = points
    env.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.0f}%"
    env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    env.filters["facts_json"] = lambda v: json.dumps(
        {k: x for k, x in v.items() if k not in ("svg", "instructor_only")},
        indent=2,
        ensure_ascii=False,
        default=str,
    )
    env.filters["when"] = human_time
    env.filters["short"] = lambda sha: (sha or "")[:10]
    return env
