"""Push times from GitHub's repository activity API: further evidence of what a branch
held at a deadline (optional; only where a token is configured).

``GET /repos/{owner}/{repo}/activity?ref=refs/heads/BRANCH`` lists pushes, force pushes,
branch creations and deletions with ``before``/``after`` commit SHAs and the server's
``timestamp``: unlike commit dates, the student's machine does not write them. The branch
head at a moment is the ``after`` of the last activity at or before it.

Settings: ``GRADER_GITHUB_TOKEN`` (a token that can read the students' repositories; read
access to metadata is enough) and ``GRADER_GITHUB_API`` (default ``https://api.github.com``,
a GitHub Enterprise API URL, or a fake server in tests). Every failure is a GithubError that
the caller records as missing evidence; it never stops grading.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

DEFAULT_API = "https://api.github.com"
TOKEN_ENV = "GRADER_GITHUB_TOKEN"
API_ENV = "GRADER_GITHUB_API"
_REPO_RE = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"([A-Za-z0-9-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)
ZERO_SHA = "0" * 40
MAX_PAGES = 20


class GithubError(Exception):
    """The activity could not be read (no access, rate limit, network, bad answer)."""


@dataclass(frozen=True)
class Activity:
    timestamp: datetime
    before: str
    after: str
    ref: str
    kind: str  # push, force_push, branch_creation, branch_deletion, pr_merge, ...
    actor: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data


def github_repo(url: str) -> tuple[str, str] | None:
    """(owner, name) of a github.com repository URL, else None."""
    match = _REPO_RE.match(url.strip())
    return (match.group(1), match.group(2)) if match else None


def configured() -> bool:
    return bool(os.environ.get(TOKEN_ENV))


def _get(url: str, token: str, timeout: float) -> tuple[Any, str | None]:
    import urllib.error
    import urllib.request  # here: http and ssl cost every self-check ~25 ms to import

    request = urllib.request.Request(
        url,
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "grader",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(20_000_000)
            link = response.headers.get("Link")
    except urllib.error.HTTPError as exc:
        raise GithubError(f"GitHub answered {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise GithubError(f"GitHub could not be reached: {exc}") from None
    try:
        return json.loads(body), _next_link(link)
    except ValueError:
        raise GithubError(f"GitHub's answer for {url} is not JSON") from None


def _next_link(header: str | None) -> str | None:
    for part in (header or "").split(","):
        match = re.match(r'\s*<([^>]+)>\s*;\s*rel="next"', part)
        if match:
            return match.group(1)
    return None


def _activity(raw: Any) -> Activity:
    try:
        moment = datetime.fromisoformat(str(raw["timestamp"]).replace("Z", "+00:00"))
        actor = raw.get("actor") or {}
        return Activity(
            timestamp=moment, before=str(raw.get("before") or ZERO_SHA),
            after=str(raw.get("after") or ZERO_SHA), ref=str(raw.get("ref") or ""),
            kind=str(raw.get("activity_type") or ""),
            actor=str(actor.get("login") or "") if isinstance(actor, dict) else "",
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GithubError(f"an activity GitHub returned is not readable: {exc}") from None


def list_activity(
    owner: str, name: str, branch: str, *, token: str | None = None,
    api: str | None = None, timeout: float = 20.0,
) -> list[Activity]:  # fmt: skip
    """Every activity on ``refs/heads/<branch>``, oldest first."""
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise GithubError(f"no GitHub token ({TOKEN_ENV} is not set)")
    base = (api or os.environ.get(API_ENV) or DEFAULT_API).rstrip("/")
    query = urllib.parse.urlencode(
        {"ref": f"refs/heads/{branch}", "per_page": 100, "direction": "desc"}
    )
    url: str | None = (
        f"{base}/repos/{urllib.parse.quote(owner)}/{urllib.parse.quote(name)}/activity?{query}"
    )
    found: list[Activity] = []
    pages = 0
    while url and pages < MAX_PAGES:
        data, url = _get(url, token, timeout)
        pages += 1
        if not isinstance(data, list):
            raise GithubError("GitHub's activity answer is not a list")
        found += [_activity(item) for item in data]
    return sorted(found, key=lambda a: a.timestamp)


def head_at(activities: list[Activity], moment: datetime) -> Activity | None:
    """The last activity at or before ``moment`` (its ``after`` is the branch head then;
    all zeros when the branch did not exist). None when nothing happened by then."""
    before = [a for a in activities if a.timestamp <= moment]
    return before[-1] if before else None


def evidence(repo: str, branch: str, moment: datetime) -> dict[str, Any] | None:
    """What GitHub says the branch held at ``moment``, for a ledger entry or a result:
    None when no token is set or the repository is not on github.com; ``{"error": ...}``
    when GitHub could not tell."""
    if not configured():
        return None
    where = github_repo(repo)
    if where is None:
        return None
    try:
        activities = list_activity(*where, branch)
    except GithubError as exc:
        return {"source": "github-activity", "error": str(exc)}
    last = head_at(activities, moment)
    pushes_after = [a for a in activities if a.timestamp > moment]
    return {
        "source": "github-activity",
        "at": moment.isoformat(),
        "activities": len(activities),
        "head": None if last is None or last.after == ZERO_SHA else last.after,
        "last_activity": last.to_dict() if last else None,
        "later_activities": [a.to_dict() for a in pushes_after[:20]],
        "force_pushes_after": sum(a.kind == "force_push" for a in pushes_after),
    }
