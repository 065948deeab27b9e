"""The Flask application of the review desk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Response
from flask_wtf.csrf import CSRFError, CSRFProtect

from grader.gradebook.errors import GradebookError
from grader.web.config import DeskConfig
from grader.web.desk import Desk
from grader.web.render import render

# no script runs on any page and nothing is loaded from elsewhere: student strings that
# escaped the escaping still could not run
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(config: DeskConfig) -> Flask:
    """The app for one gradebook. Opening the gradebook creates its review tables."""
    from grader.web import admin, auth, pages, students

    app = Flask("grader.web")
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="grader_desk",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    CSRFProtect(app)
    app.extensions["review_desk"] = Desk(config)
    for blueprint in (auth.bp, pages.bp, admin.bp, students.bp):
        app.register_blueprint(blueprint)

    @app.after_request
    def _headers(response: Response) -> Response:
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return render(
            "web/message.html.j2", status=400, title="Form refused",
            message="The form was refused: its security token is missing or expired "
            f"({error.description}). Go back, reload the page and send it again.",
        )  # fmt: skip

    @app.errorhandler(403)
    def _forbidden(_error: Any) -> Any:
        return render(
            "web/message.html.j2", status=403, title="Instructors only",
            message="This page changes course rules, exports or student links: only an "
            "instructor can open it.",
        )  # fmt: skip

    @app.errorhandler(404)
    def _missing(_error: Any) -> Any:
        return render("web/message.html.j2", status=404, title="Not found",
                      message="There is no such page, student, check or pair.")  # fmt: skip

    @app.errorhandler(GradebookError)
    def _gradebook(error: GradebookError) -> Any:
        return render("web/message.html.j2", status=400, title="Not done", message=str(error))

    return app
