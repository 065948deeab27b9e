"""The one way a moment is written for people: local time with its UTC offset.

``2020-10-27 23:59 (UTC+01:00)``; seconds only when they are not zero. Used by the reports,
the class overview and the command line alike.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def format_moment(value: datetime | str | None, zone: str | None = None) -> str:
    """``value`` (a datetime or an ISO string) as local time with its offset, shown in the
    IANA ``zone`` when given; text that is not a moment comes back unchanged."""
    moment = parse_moment(value)
    if moment is None:
        return "" if value is None else str(value)
    if zone and moment.tzinfo is not None:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            moment = moment.astimezone(ZoneInfo(zone))
    text = moment.strftime("%Y-%m-%d %H:%M") + (f":{moment:%S}" if moment.second else "")
    offset = moment.strftime("%z")
    return f"{text} (UTC{offset[:3]}:{offset[3:5]})" if offset else text
