"""The review desk (`grader serve`): a web app over the gradebook.

Humans decide what the batch could not: ``manual`` checks, similarity pairs, per-check
points and comments, regrade requests. Every decision is an audited row layered over the
graded result (``grader.gradebook.decisions``); the app reads results only, it never runs
a check nor opens a student repository. Pages are rendered with the report's Jinja2
environment (``grader.templating``); plain HTML forms, no scripts, nothing from the
network.
"""

from grader.web.app import create_app
from grader.web.config import DeskConfig

__all__ = ["DeskConfig", "create_app"]
