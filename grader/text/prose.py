"""Prose extraction: the human-written text of a file, without its code.

Each extractor returns ``Passage`` objects: a piece of prose and the 1-based line it starts
on. What "line" means depends on the file: a line of a text file, the 1-based cell number
of a notebook, the 1-based page number of a PDF.

Files that are not prose (binary, too large, an unknown type) raise ``SkippedFile``; files
that should hold prose but cannot be read (a malformed notebook, a broken PDF) raise
``ProseError``. ``SkippedFile`` is a ``ProseError``, so catch it first.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader.results import is_grader_output
from grader.text.pysource import python_prose

DEFAULT_MAX_BYTES = 2 * 2**20
# notebooks and PDFs embed images, so their size says little about their text
MEDIA_MAX_BYTES = 64 * 2**20
BINARY_PROBE = 8192
MAX_LINE = 10_000  # longer lines are cut: no prose needs more, and regexes stay linear
MAX_LOG_LINE = 1_000

KINDS = {
    ".md": "markdown", ".markdown": "markdown", ".rst": "markdown", ".txt": "markdown",
    ".py": "python", ".ipynb": "notebook", ".log": "log", ".pdf": "pdf",
}  # fmt: skip
LOG_FOLDERS = {"logs", "log"}
_HIGH_BYTES = bytes(range(0x80, 0x100))


@dataclass(frozen=True)
class Passage:
    text: str
    line: int | None = None


class ProseError(Exception):
    """The file should hold prose but cannot be read; the message says why."""


class SkippedFile(ProseError):
    """The file is not prose to judge (binary, too large, unknown type)."""


# ---- reading -------------------------------------------------------------------------


def kind_of(relative: str) -> str | None:
    """'markdown', 'python', 'notebook', 'log', 'pdf', or None for other files."""
    path = PurePosixPath(relative.replace("\\", "/").lower())
    kind = KINDS.get(path.suffix)
    if kind == "markdown" and path.suffix == ".txt" and LOG_FOLDERS & set(path.parts[:-1]):
        return "log"
    return kind


def decode(data: bytes) -> str:
    """Decode text leniently: UTF-8 (or UTF-16 with a BOM); mostly-invalid UTF-8 as cp1250.

    cp1250 is the legacy Central European encoding (its Hungarian letters match Latin-2).
    Undecodable bytes become U+FFFD; this never raises. Raises SkippedFile for binary data.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\0" in data[:BINARY_PROBE]:
        raise SkippedFile("binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    high_bytes = len(data) - len(data.translate(None, _HIGH_BYTES))
    if text.count("\ufffd") * 4 > high_bytes:  # most high bytes are not UTF-8: legacy text
        return data.decode("cp1250", errors="replace")
    return text


def read_text(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The text of a file; SkippedFile when it is too large or binary."""
    size = path.stat().st_size
    if size > max_bytes:
        raise SkippedFile(f"{size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit")
    return decode(path.read_bytes())


def extract(
    path: Path,
    relative: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_media_bytes: int = MEDIA_MAX_BYTES,
) -> list[Passage]:
    """The prose of one file, chosen by its type (``relative`` decides, e.g. ``logs/x.txt``)."""
    kind = kind_of(relative or path.name)
    if kind is None:
        raise SkippedFile("not a file type that holds prose")
    if not path.is_file():
        raise SkippedFile("not a regular file")
    try:
        if kind == "pdf":
            size = path.stat().st_size
            if size > max(max_bytes, max_media_bytes):
                raise SkippedFile(f"{size / 2**20:.1f} MiB PDF, over the size limit")
            return [Passage(text, page) for page, text in enumerate(pdf_text(path), 1) if text]
        limit = max(max_bytes, max_media_bytes) if kind == "notebook" else max_bytes
        text = read_text(path, limit)
    except OSError as exc:
        raise ProseError(f"cannot read: {exc.strerror or exc}") from exc
    if kind != "notebook" and is_grader_output(text):
        raise SkippedFile("the grader's own output (`grader check > FILE`), not the student's")
    return EXTRACTORS[kind](text)


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a library's logger for a while: the caller reports problems itself."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


# ---- Markdown, reStructuredText, plain text --------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s+|$)")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_RULE = re.compile(r"^\s*([-=*_~^#+`'\".:])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_RST_DIRECTIVE = re.compile(r"^\s*\.\.\s")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_NUMBER_CELL = re.compile(r"^[\s*~<>≈±+\-−]*\d[\d.,\s]*(?:%|[a-zA-Zµ]{1,3})?[\s*]*$")


def _inline(text: str) -> str:
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _INLINE_CODE.sub(" ", text)
    return _TAG.sub(" ", text).strip()


def _table_row(line: str) -> str:
    cells = [_inline(cell) for cell in line.strip().strip("|").split("|")]
    return ", ".join(c for c in cells if c and not _NUMBER_CELL.match(c))


def markdown_passages(text: str) -> list[Passage]:
    """Paragraphs, headings, list items and table rows; code, URLs and markup removed."""
    text = _HTML_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    passages: list[Passage] = []
    paragraph: list[tuple[int, str]] = []

    def flush() -> None:
        if paragraph:
            joined = "\n".join(part for _, part in paragraph)
            if joined.strip():
                passages.append(Passage(joined, paragraph[0][0]))
            paragraph.clear()

    fence: str | None = None
    prev_blank, in_indented_code, in_list = True, False, False
    for number, raw in enumerate(text.splitlines(), 1):
        raw = raw[:MAX_LINE]
        if fence is not None:
            if raw.strip().startswith(fence) and not raw.strip().strip(fence[0]):
                fence = None
            continue
        opening = _FENCE.match(raw)
        if opening:
            flush()
            fence, prev_blank = opening.group(1), False
            continue
        if not raw.strip():
            flush()
            prev_blank = True
            continue
        indented = raw.startswith(("    ", "\t"))
        if indented and (in_indented_code or (prev_blank and not in_list)):
            flush()
            in_indented_code, prev_blank = True, False
            continue
        in_indented_code = False
        if not indented:
            in_list = bool(_LIST_ITEM.match(raw)) or (in_list and not prev_blank)
        prev_blank = False
        line = _QUOTE.sub("", raw)
        if any(p.match(line) for p in (_RULE, _TABLE_RULE, _LINK_DEF, _RST_DIRECTIVE)):
            flush()
            continue
        stripped = line.strip()
        if stripped.startswith("|") or stripped.count("|") >= 2:
            flush()
            paragraph.append((number, _table_row(stripped)))
            flush()
        elif _HEADING.match(line):
            flush()
            paragraph.append((number, _inline(_HEADING.sub("", line).rstrip("# "))))
            flush()
        else:
            if _LIST_ITEM.match(line):
                flush()
                line = _LIST_ITEM.sub("", line)
            paragraph.append((number, _inline(line)))
    flush()
    return passages


# ---- Python ----------------------------------------------------------------------------


def python_passages(source: str) -> list[Passage]:
    """Docstrings and comments (a block of whole-line comments is one passage)."""
    return [Passage(text, line) for line, text in python_prose(source)]


# ---- notebooks -------------------------------------------------------------------------

_MAGIC = re.compile(r"^\s*[%!?]")


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def notebook_passages(text: str) -> list[Passage]:
    """Markdown cells' prose and code cells' comments; ``line`` is the 1-based cell number."""
    from grader.ipynb import NotebookError, read_notebook

    try:
        cells = [(cell.get("cell_type"), _source(cell)) for cell in read_notebook(text).cells]
    except NotebookError as exc:
        raise ProseError(f"not a valid notebook: {str(exc)[:200]}") from exc
    passages = []
    for number, (cell_type, source) in enumerate(cells, 1):
        if cell_type == "markdown":
            found = markdown_passages(source)
        elif cell_type == "code":
            code = "\n".join("" if _MAGIC.match(ln) else ln for ln in source.splitlines())
            found = python_passages(code)
        else:
            continue
        passages.extend(Passage(p.text, number) for p in found)
    return passages


# ---- logs ------------------------------------------------------------------------------

_METRIC = re.compile(
    r"[^\W\d_][\w./-]*\s*[:=]\s*[-+]?\.?\d[\d.]*(?:e[-+]?\d+)?%?"  # loss: 0.52, lr=1e-3
    r"|[^\W\d_]+\s+\d+\s*/\s*\d+"  # Epoch 1/10
    r"|\b(?:epoch|step|iter|iteration|batch|fold|round|trial)\s+#?\d+",  # step 300
    re.I,
)
_PROSE_WORD = re.compile(r"(?<![\w/.\\-])[^\W\d_]+(?![\w/.\\-])")


def prose_words(line: str) -> int:
    """Alphabetic words of a log line, not counting metric labels ('loss: 0.52')."""
    return len(_PROSE_WORD.findall(_METRIC.sub(" ", line)))


def log_passages(text: str, min_words: int = 3) -> list[Passage]:
    """Lines with at least ``min_words`` prose words; metric-only lines and repeats dropped."""
    passages, seen = [], set()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line[:MAX_LOG_LINE].strip()
        if stripped in seen or prose_words(stripped) < min_words:
            continue
        seen.add(stripped)
        passages.append(Passage(stripped, number))
    return passages


# ---- PDF -------------------------------------------------------------------------------


def warm_up(pdf: bool = True) -> None:
    """Import the notebook reader, and the PDF reader when ``pdf``, before the first check
    (the budget's worker keeps them). A check that reads a PDF only now and then leaves it
    to ``read_pdf``: pypdf costs ~0.1 s to import, a tenth of a small self-check."""
    if pdf:
        import pypdf  # noqa: F401

    import grader.ipynb  # noqa: F401


# a PDF's page tree can name one page 90,000 times, each page thousands of text operators:
# reading stops at a page count, an amount of text and a time (the check's budget bounds the
# rest from outside)
MAX_PDF_PAGES = 200
MAX_PDF_CHARS = 1_000_000
MAX_PDF_SECONDS = 20.0


@dataclass
class PdfText:
    pages: list[str]  # the text of each page read ('' for a page without text)
    page_count: int  # pages the PDF has
    cut: str = ""  # why reading stopped early, in words ('' when every page was read)


def read_pdf(path: str | Path) -> PdfText:
    """The text of a PDF's pages, within the bounds above.

    Raises ProseError with a reason when the PDF cannot be read (broken, encrypted).
    """
    from pypdf import PdfReader

    try:
        with _quiet("pypdf"):  # broken PDFs log a warning per object
            reader = PdfReader(str(path))
            if reader.is_encrypted and not reader.decrypt(""):
                raise ProseError("the PDF is encrypted (password protected)")
            # a page tree can list one page many times (90,000 entries in 4 kB): each page
            # counts once, its text too, so that repeats earn no pages and no words
            seen: set[tuple[int, int]] = set()
            distinct = []
            for page in reader.pages:
                ref = page.indirect_reference
                key = (ref.idnum, ref.generation) if ref is not None else None
                if key is None or key not in seen:
                    if key is not None:
                        seen.add(key)
                    distinct.append(page)
            count = len(distinct)
            repeated = len(reader.pages) - count
            note = (
                f"the page tree lists {repeated} page(s) more than once (each counted once)"
                if repeated
                else ""
            )
            pages: list[str] = []
            chars, start = 0, time.monotonic()
            for page in distinct:
                if len(pages) >= MAX_PDF_PAGES:
                    cut = f"the first {len(pages)} pages read (a limit of the grader)"
                    return PdfText(pages, count, "; ".join(filter(None, (note, cut))))
                if chars >= MAX_PDF_CHARS or time.monotonic() - start > MAX_PDF_SECONDS:
                    cut = (
                        f"the first {len(pages)} pages read ({chars} characters in "
                        f"{time.monotonic() - start:.0f} s: a limit of the grader)"
                    )
                    return PdfText(pages, count, "; ".join(filter(None, (note, cut))))
                text = page.extract_text() or ""
                pages.append(text[: MAX_PDF_CHARS - chars])
                chars += len(pages[-1])
            return PdfText(pages, count, note)
    except ProseError:
        raise
    except Exception as exc:  # pypdf raises many types for malformed files
        reason = str(exc).strip() or type(exc).__name__
        raise ProseError(f"not a readable PDF: {reason[:200]}") from exc


def pdf_text(path: str | Path) -> list[str]:
    """The text of each page read of a PDF (see ``read_pdf``)."""
    return read_pdf(path).pages


EXTRACTORS = {
    "markdown": markdown_passages,
    "python": python_passages,
    "notebook": notebook_passages,
    "log": log_passages,
}
