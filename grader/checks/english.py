"""The ``english`` check: READMEs, comments, docstrings, notebooks, logs and reports are
written in the required language (English unless the spec says otherwise).

Each matching file's prose is extracted (``grader.text.prose``) and judged on its own
(``grader.text.language``). A file mostly in another language fails the check; a file
with too little prose is listed but neither passes nor fails it.

Evidence verdicts per file: ``english`` / ``not_english`` (``in_language`` /
``not_in_language`` when the required language is not English), ``not_enough_text``,
``skipped`` (binary, too large, a link out of the repository) and ``unreadable`` (a
malformed notebook or PDF). ``line`` is where the first offending passage starts: a line
of a text file, a notebook's cell number, a PDF's page number.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.results import CheckOutcome, Evidence, Status
from grader.text import language as lang
from grader.text.prose import ProseError, SkippedFile, extract, kind_of
from grader.text.prose import warm_up as prose_warm_up

DEFAULT_INCLUDE = [
    "**/*.md", "**/*.markdown", "**/*.rst", "**/*.txt", "**/*.log", "**/*.py", "**/*.ipynb",
    "**/*.pdf",
]  # fmt: skip
DEFAULT_EXCLUDE = ["**/requirements*.txt", "**/LICENSE*", "data/**", "**/data/**"]
QUOTE_CHARS = 120
LISTED_FILES = 5  # files named in the message


@dataclass
class FileJudgement:
    path: str
    verdict: str  # "english", "not_english", "not_enough_text", "skipped", "unreadable"
    detail: str = ""
    line: int | None = None
    result: lang.LanguageVerdict | None = None


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def _percent(share: float | None) -> str:
    return f"{round(100 * (share or 0.0))}%"


def _label(path: str) -> str:
    """How a file is named in the message: what of it was judged."""
    return f"{path} comments" if kind_of(path) == "python" else path


class EnglishArgs(Args):
    include: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INCLUDE), description="globs of files to judge"
    )
    exclude: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE), description="globs never judged"
    )
    min_share: float | None = Field(
        None, gt=0, le=1, description="share of prose in the language; spec's if unset"
    )
    language: str | None = Field(None, description="ISO 639-1 code; the spec's if unset")
    max_file_bytes: int = Field(
        2_000_000, gt=0, description="larger text files are skipped (notebooks/PDFs: 64 MiB)"
    )


class EnglishCheck(Check):
    title = "Written in English"
    Args = EnglishArgs

    @classmethod
    def warm_up(cls) -> None:
        lang.detector()
        prose_warm_up(pdf=False)  # most submissions have no PDF; read_pdf imports it

    def run(self, ctx: CheckContext, args: EnglishArgs) -> CheckOutcome:
        language = (args.language or ctx.spec.language.language).lower()
        min_share = args.min_share if args.min_share is not None else ctx.spec.language.min_share
        paths = ctx.glob(args.include, exclude=args.exclude)
        judged = [
            self._judge(ctx, path, language, min_share, args.max_file_bytes) for path in paths
        ]
        return _outcome(judged, language, min_share)

    @staticmethod
    def _judge(
        ctx: CheckContext, path: str, language: str, min_share: float, max_bytes: int
    ) -> FileJudgement:
        name = lang.language_name(language)
        full = ctx.path(path)
        if full.is_symlink() and not full.resolve().is_relative_to(ctx.workdir.resolve()):
            return FileJudgement(path, "skipped", "a link to outside the repository")
        try:
            passages = extract(full, path, max_bytes=max_bytes)
        except SkippedFile as exc:
            return FileJudgement(path, "skipped", str(exc))
        except ProseError as exc:
            return FileJudgement(path, "unreadable", str(exc))
        except Exception as exc:  # one odd file must not cost the whole check
            return FileJudgement(path, "unreadable", f"{type(exc).__name__}: {exc}")
        result = lang.assess(passages, language, min_share)
        ok, bad = (
            ("english", "not_english") if language == "en" else ("in_language", "not_in_language")
        )
        if result.status == lang.NOT_ENOUGH_TEXT:
            detail = f"{result.words} words of prose to judge; at least {lang.MIN_WORDS} needed"
            return FileJudgement(path, "not_enough_text", detail, result=result)
        summary = f"{_percent(result.share)} {name} ({result.target_words} of {result.words} words)"
        if result.ok:
            return FileJudgement(path, ok, summary, result=result)
        quotes = [
            f'line {u.line}: "{_quote(u.text)}" ({lang.language_name(u.language)})'
            if u.line is not None
            else f'"{_quote(u.text)}" ({lang.language_name(u.language)})'
            for u in result.offending
        ]
        detail = f"{summary}, below {_percent(min_share)}; " + "; ".join(quotes)
        first_line = result.offending[0].line if result.offending else None
        return FileJudgement(path, bad, detail, first_line, result)


def _outcome(judged: list[FileJudgement], language: str, min_share: float) -> CheckOutcome:
    name = lang.language_name(language)
    evidence = [Evidence(j.path, j.verdict, j.detail, j.line) for j in judged]
    facts = {
        "files": [
            {
                "path": j.path,
                "verdict": j.verdict,
                "language": j.result.dominant if j.result else None,
                "english_share": (
                    round(j.result.share, 3) if j.result and j.result.share is not None else None
                ),
                "words": j.result.words if j.result else 0,
            }
            for j in judged
        ],
        "language": language,
        "min_share": min_share,
    }
    decided = [j for j in judged if j.result is not None and j.verdict != "not_enough_text"]
    failing = [j for j in decided if j.result is not None and not j.result.ok]
    unreadable = [j.path for j in judged if j.verdict == "unreadable"]
    note = f"; could not read {', '.join(unreadable[:LISTED_FILES])}" if unreadable else ""
    if not decided:
        examined = f"{len(judged)} file{'s' if len(judged) != 1 else ''} examined"
        message = f"not enough text to judge ({examined}){note}"
        return CheckOutcome(Status.MANUAL, message, evidence, facts)
    fraction = (len(decided) - len(failing)) / len(decided)
    if failing:
        listed = ", ".join(
            f"{_label(j.path)} ({_percent(j.result.share if j.result else None)} {name})"
            for j in failing[:LISTED_FILES]
        )
        more = f" and {len(failing) - LISTED_FILES} more" if len(failing) > LISTED_FILES else ""
        verb = "is" if len(failing) == 1 else "are"
        message = f"{len(failing)} of {len(decided)} files {verb} not in {name}: {listed}{more}"
        return CheckOutcome(Status.FAIL, message + note, evidence, facts, fraction)
    short = len([j for j in judged if j.verdict == "not_enough_text"])
    extra = f" ({short} with too little text to judge)" if short else ""
    if len(decided) == 1:
        message = f"{decided[0].path} is in {name}"
    else:
        message = f"all {len(decided)} files with enough prose are in {name}"
    return CheckOutcome(Status.PASS, message + extra + note, evidence, facts, 1.0)
