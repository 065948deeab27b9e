"""The ``pdf_report`` check: a PDF report exists, holds real text and is in the required
language (English unless the spec says otherwise).

Candidates are the PDFs matching ``files``. When some of them are named for what they are
(``report``, ``documentation``, ``dokumentacio``, ...), only those are candidates, so a
downloaded paper cannot stand in for the team's own report. The first candidate that meets
every requirement is the report; when none does, the message is about the first one.
The text comes from ``grader.text.prose.read_pdf`` (bounded: pages, text, time) and the language decision from
``grader.text.language.assess``, the same logic the ``english`` check uses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pydantic import Field

from grader.checks.base import Args, Check, CheckContext
from grader.results import CheckOutcome, Evidence, Status
from grader.text import language as lang
from grader.text.prose import Passage, ProseError, read_pdf
from grader.text.prose import warm_up as prose_warm_up

PREFERRED_NAMES = (
    "report",
    "documentation",
    "dokumentacio",
    "dokumentation",
    "beszamolo",
    "writeup",
)
MAX_PDF_BYTES = 64 * 2**20
QUOTE_CHARS = 120
_WORD = re.compile(r"[^\W\d_]{2,}")


class PdfReportArgs(Args):
    files: list[str] = Field(
        default_factory=lambda: ["**/*.pdf"], min_length=1, description="globs of candidate PDFs"
    )
    min_pages: int = Field(1, ge=1, description="pages the report has at least")
    min_words: int = Field(300, ge=0, description="words of extractable text at least")
    language: str | None = Field(None, description="ISO 639-1 code; the spec's if unset")
    min_share: float | None = Field(
        None, gt=0, le=1, description="share of prose in the language; the spec's if unset"
    )


@dataclass
class PdfVerdict:
    path: str
    ok: bool
    problem: str = ""  # what is wrong, in words the student reads ('' when ok)
    pages: int = 0
    words: int = 0
    language: str | None = None
    share: float | None = None
    line: int | None = None  # the first offending page
    quotes: list[str] = field(default_factory=list)
    cut: str = ""  # why not every page was read ('' when all were)

    def facts(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "pages": self.pages,
            "words": self.words,
            "language": self.language,
            "english_share": round(self.share, 3) if self.share is not None else None,
            "read": self.cut or "every page",
        }


def _ascii_lower(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def is_report_name(path: str) -> bool:
    """Whether a file name says it is a report ('Dokumentáció.pdf' counts)."""
    name = _ascii_lower(PurePosixPath(path).name)
    return any(word in name for word in PREFERRED_NAMES)


def rank_candidates(paths: list[str]) -> list[str]:
    """The PDFs to try, in order: only report-named ones if any, shallow paths first."""
    named = [p for p in paths if is_report_name(p)]
    return sorted(named or paths, key=lambda p: (p.count("/"), p.lower()))


def count_words(pages: list[str]) -> int:
    """Words (two or more letters) in the extracted text of every page."""
    return sum(len(_WORD.findall(page)) for page in pages)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def judge_pdf(
    ctx: CheckContext, path: str, args: PdfReportArgs, language: str, min_share: float
) -> PdfVerdict:
    """Read one candidate and decide whether it is an acceptable report."""
    name = lang.language_name(language)
    size = ctx.path(path).stat().st_size
    if size > MAX_PDF_BYTES:
        return PdfVerdict(path, False, f"{size / 2**20:.0f} MiB, over the 64 MiB limit")
    try:
        read = read_pdf(ctx.path(path))
    except ProseError as exc:
        return PdfVerdict(path, False, f"cannot be read: {exc}")
    pages = read.pages
    words = count_words(pages)
    verdict = PdfVerdict(path, False, pages=read.page_count, words=words, cut=read.cut)
    if not read.page_count:
        verdict.problem = "the PDF has no pages"
        return verdict
    if words == 0:
        verdict.problem = (
            "no extractable text (a scanned or image-only PDF?); export the report from "
            "your editor so that its text can be selected"
        )
        return verdict
    if read.page_count < args.min_pages:
        verdict.problem = f"{read.page_count} page(s), at least {args.min_pages} expected"
        return verdict
    if words < args.min_words:
        verdict.problem = f"{words} words of text, at least {args.min_words} expected"
        return verdict
    passages = [Passage(text, number) for number, text in enumerate(pages, 1) if text.strip()]
    result = lang.assess(passages, language, min_share)
    verdict.language = result.dominant
    verdict.share = result.share
    if result.status == lang.NOT_ENOUGH_TEXT:
        verdict.problem = f"too little prose to tell its language ({result.words} words decided)"
        return verdict
    share = f"{round(100 * (result.share or 0.0))}% {name}"
    if not result.ok:
        verdict.quotes = [
            f'page {u.line}: "{_quote(u.text)}" ({lang.language_name(u.language)})'
            for u in result.offending
        ]
        verdict.line = result.offending[0].line if result.offending else None
        verdict.problem = (
            f"not in {name}: {share} ({result.target_words} of {result.words} words), "
            f"below {round(100 * min_share)}%; mostly {lang.language_name(result.dominant)}"
        )
        return verdict
    verdict.ok = True
    verdict.problem = ""
    verdict.quotes = [share]
    return verdict


class PdfReportCheck(Check):
    title = "PDF report"
    Args = PdfReportArgs

    @classmethod
    def warm_up(cls) -> None:
        lang.detector()
        prose_warm_up()

    def run(self, ctx: CheckContext, args: PdfReportArgs) -> CheckOutcome:
        language = args.language or ctx.spec.language.language
        min_share = args.min_share if args.min_share is not None else ctx.spec.language.min_share
        candidates = rank_candidates(ctx.glob(args.files))
        if not candidates:
            return CheckOutcome(
                Status.FAIL,
                f"no PDF report found (looked for {' or '.join(args.files)}); commit the "
                "report as a PDF, e.g. report.pdf",
                facts={"path": None, "pages": 0, "words": 0, "language": None},
            )
        verdicts: list[PdfVerdict] = []
        chosen: PdfVerdict | None = None
        for path in candidates:
            verdict = judge_pdf(ctx, path, args, language, min_share)
            verdicts.append(verdict)
            if verdict.ok:
                chosen = verdict
                break
        evidence = [
            Evidence(
                v.path,
                "report" if v.ok else "rejected",
                "; ".join(
                    [f"{v.pages} page(s), {v.words} words"]
                    + ([v.cut] if v.cut else [])
                    + ([v.problem] if v.problem else [])
                    + v.quotes
                ),
                v.line,
            )
            for v in verdicts
        ]
        if chosen is not None:
            facts = chosen.facts()
            facts["candidates"] = len(candidates)
            return CheckOutcome(
                Status.PASS,
                f"{chosen.path}: {chosen.pages} page(s), {chosen.words} words, "
                f"in {lang.language_name(language)}" + (f"; {chosen.cut}" if chosen.cut else ""),
                evidence,
                facts,
            )
        best = verdicts[0]
        others = f" ({len(verdicts) - 1} other PDF(s) rejected too)" if len(verdicts) > 1 else ""
        facts = best.facts()
        facts["candidates"] = len(candidates)
        cut = f"; {best.cut}" if best.cut else ""
        return CheckOutcome(
            Status.FAIL, f"{best.path}: {best.problem}{cut}{others}", evidence, facts
        )
