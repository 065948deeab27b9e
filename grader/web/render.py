"""Rendering with the report's Jinja2 environment (``grader.templating``), plus what every
page of the desk needs: the CSRF token, the user, ``url_for``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, session, url_for
from flask_wtf.csrf import generate_csrf

from grader.templating import environment


def current_user() -> dict[str, str] | None:
    user = session.get("user")
    return user if isinstance(user, dict) and user.get("role") else None


def desk():  # -> grader.web.desk.Desk (typed loosely: keeps this import light)
    return current_app.extensions["review_desk"]


def render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    user = current_user()
    html = (
        environment()
        .get_template(template)
        .render(
            csrf_token=generate_csrf,
            url_for=url_for,
            request_path=request.full_path.rstrip("?"),
            user=user,
            is_instructor=bool(user and user.get("role") == "instructor"),
            **context,
        )
    )
    return html, status
