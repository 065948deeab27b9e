"""The one Jinja2 environment for every HTML page (autoescaped), with its filters."""

from __future__ import annotations

import contextlib
import json
import os
import re
from functools import lru_cache

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    select_autoescape,
)
from jinja2.bccache import Bucket
from markupsafe import Markup

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


def when(value: str | None, zone: str | None = None) -> Markup:
    """A moment for a page: ``<time>`` in the one format, kept on one line by the CSS."""
    text = format_moment(value, zone)
    if not text:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(str(value), text)


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


_ISO_MOMENT = re.compile(
    r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)"
)
_UNIT_GAP = re.compile(
    r"(?<=\d)[ \t](?=(?:°C|°|%|[KMG]i?B|kB|ms|s|min|h|px|points?|epochs?|images?|pages?|"
    r"words?|commits?|bits?|files?|days?|hours?)(?!\w))"
)


def prose(value: object) -> str:
    """Text from checks as people read it: ISO moments in the one date format, and a
    number never torn from its unit at a line break (a no-break space between them)."""
    text = "" if value is None else str(value)
    text = _ISO_MOMENT.sub(
        lambda m: format_moment(m.group(0).replace("Z", "+00:00")).replace(" ", "\u00a0"), text
    )
    return _UNIT_GAP.sub("\u00a0", text)


def path_breaks(value: object) -> Markup:
    """A file path that may wrap after a '/', never in the middle of a name."""
    parts = str(value or "").split("/")
    return Markup("/<wbr>").join(Markup('<span class="seg">{}</span>').format(p) for p in parts)


PICTURE_FACTS = ("svg", "thumbnails")  # drawn in the report, not listed as facts


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
        {k: x for k, x in v.items() if k not in PICTURE_FACTS},
        indent=2,
        ensure_ascii=False,
        default=str,
    )
    env.filters["when"] = when
    env.filters["prose"] = prose
    env.filters["path"] = path_breaks
    env.filters["short"] = lambda sha: (sha or "")[:10]
    return env
