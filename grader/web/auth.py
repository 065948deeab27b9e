"""Logging in: a staff account of the course file (login and password), or the token
printed at start-up (with a name for the audit log). Roles: instructor, assistant."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, redirect, request, session, url_for

from grader.web.accounts import check_password
from grader.web.render import current_user, desk, render

bp = Blueprint("auth", __name__)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def instructor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Course rules, exports, student links: instructors only (403 for assistants)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return redirect(url_for("auth.login", next=request.path))
        if user.get("role") != "instructor":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.home")


def _same(given: str, expected: str) -> bool:
    return bool(given) and secrets.compare_digest(given.encode(), expected.encode())


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = ""
    config = desk().config
    if request.method == "POST":
        form = request.form
        if form.get("token") is not None:
            token, name = form.get("token", "").strip(), form.get("name", "").strip()
            role = (
                "instructor" if _same(token, config.instructor_token)
                else "assistant" if _same(token, config.assistant_token) else None
            )  # fmt: skip
            if role is None:
                error = "That token is not the one printed when the desk started."
            elif not name:
                error = "Give your name: it goes into the audit log of every decision."
            else:
                session.clear()
                session["user"] = {"login": name[:80], "name": name[:80], "role": role}
                return redirect(_safe_next(form.get("next")))
        else:
            login_name, password = form.get("login", "").strip(), form.get("password", "")
            account = next((a for a in config.staff if a.login == login_name), None)
            if account is None or not check_password(account, password):
                error = "Unknown login or wrong password."
            else:
                session.clear()
                session["user"] = {"login": account.login, "name": account.name,
                                   "role": account.role}  # fmt: skip
                return redirect(_safe_next(form.get("next")))
    return render(
        "web/login.html.j2", status=401 if error else 200, error=error,
        next=request.values.get("next", ""), token=request.args.get("token", ""),
        accounts=bool(config.staff),
    )  # fmt: skip


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
