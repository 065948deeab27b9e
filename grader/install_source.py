"""Where this grader was installed from, as a GitHub Actions ``uses:`` reference.

A student installs the grader the way the course says, usually
``pip install git+https://github.com/COURSE-ORG/grader@v0.3.0``; pip records that URL and
ref (PEP 610, ``direct_url.json``), so ``grader workflow`` can name the same action,
``COURSE-ORG/grader@v0.3.0``, without the student typing it. Inside a running action,
GitHub's own ``GITHUB_ACTION_REPOSITORY``/``GITHUB_ACTION_REF`` say it.
"""

from __future__ import annotations

import json
import os
import re
from importlib import metadata

_GITHUB = re.compile(
    r"^(?:git\+)?(?:https?://|ssh://git@|git@)github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$"
)
ACTION_RE = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[\w./-]+$")


def action_from_direct_url(data: dict) -> str | None:
    """``OWNER/REPO@REF`` from a PEP 610 record of a GitHub VCS install, else None."""
    match = _GITHUB.match(str(data.get("url", "")))
    vcs = data.get("vcs_info") or {}
    if not match or vcs.get("vcs") != "git":
        return None
    ref = vcs.get("requested_revision") or vcs.get("commit_id")
    return f"{match.group(1)}/{match.group(2)}@{ref}" if ref else None


def installed_action() -> str | None:
    """The action reference this installation came from, when it can be known."""
    repository, ref = (
        os.environ.get("GITHUB_ACTION_REPOSITORY"),
        os.environ.get("GITHUB_ACTION_REF"),
    )
    if repository and ref:
        return f"{repository}@{ref}"
    try:
        text = metadata.distribution("grader").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        return action_from_direct_url(json.loads(text)) if text else None
    except ValueError:
        return None
