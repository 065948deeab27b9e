"""The one Jinja2 environment for every HTML page (autoescaped), with its filters."""

from __future__ import annotations

import contextlib
import json
import os
from functools import lru_cache

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    select_autoescape,
)
from jinja2.bccache import Bucket

from grader.paths import cache_dir, data_dir
from grader.results import Status
from grader.timefmt import format_moment

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


def human_time(value: str | None, zone: str | None = None) -> str:
    """'2020-10-27T23:59:00+01:00' -> '2020-10-27 23:59 (UTC+01:00)' (in ``zone`` if given)."""
    return format_moment(value, zone)


class _TemplateCache(FileSystemBytecodeCache):
    """Compiled templates kept between runs (a report renders in a fraction of the time);
    a cache that cannot be written is simply not used."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> BytecodeCache | None:
    folder = cache_dir() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCache(str(folder)) if os.access(folder, os.W_OK) else None


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(data_dir("templates"))),
        bytecode_cache=_bytecode_cache(),
        autoescape=select_autoescape(["html", "j2", "html.j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["status_label"] = lambda s: STATUS_LABEL.get(Status(s), str(s))
    env.filters["points"] = points
    env.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.0f}%"
    env.filters["pretty_json"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
    env.filters["facts_json"] = lambda v: json.dumps(
        {k: x for k, x in v.items() if k != "svg"}, indent=2, ensure_ascii=False, default=str
    )
    env.filters["when"] = human_time
    env.filters["short"] = lambda sha: (sha or "")[:10]
    return env
