"""The `pdf_report` check on real PDFs made with fpdf2: English, Hungarian, image-only,
corrupt, encrypted; and end to end through the CLI on a dated git repo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.checks.base import CheckContext
from grader.checks.pdf_report import PdfReportArgs, PdfReportCheck, count_words, rank_candidates
from grader.cli import app
from grader.results import CheckOutcome, Status
from grader.testing import build_file_tree, git_save, make_bare, make_context

fpdf = pytest.importorskip("fpdf")  # a dev dependency; the grader itself reads PDFs with pypdf

ENGLISH = (
    "The goal of our project is to recognise handwritten digits in small grey images. "
    "We split the data into training, validation and test sets so that every digit keeps "
    "the same share in each of them. The network has two hidden layers and trains in a "
    "few seconds on an ordinary processor. On the test set it reaches an accuracy of about "
    "ninety-six percent, and most of the mistakes happen between digits that look alike. "
    "Next we would like to try a convolutional network and data augmentation with small "
    "shifts and rotations, and we discuss the results in tables and figures below."
)
HUNGARIAN = (
    "A projekt célja kézzel írt számjegyek felismerése kis szürkeárnyalatos képekből. Az "
    "adatokat tanító, validációs és teszt halmazra osztottuk, úgy hogy minden számjegy "
    "aránya mindhárom halmazban azonos maradjon. A hálózat két rejtett rétegből áll, és a "
    "tanítás néhány másodpercig tart egy egyszerű processzoron. A tesztadatokon a pontosság "
    "kilencvenhat százalék körül van, a legtöbb hiba a hasonló alakú számjegyek között "
    "történik. A következő lépésben konvolúciós hálózatot és adatbővítést szeretnénk "
    "kipróbálni, az eredményeket pedig táblázatokban és grafikonokon mutatjuk be."
)


def _latin1(text: str) -> str:
    """The PDF core fonts cover Latin-1 only: Hungarian ő/ű become ö/ü."""
    return text.translate(str.maketrans("őűŐŰ", "öüÖÜ"))


def make_pdf(path: Path, paragraphs: list[str], pages: int = 1) -> Path:
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=11)
    for page in range(pages):
        pdf.add_page()
        for paragraph in paragraphs[page::pages]:
            pdf.multi_cell(0, 5.5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def make_image_pdf(path: Path) -> Path:
    """A 'scanned' report: one page with a picture and no text at all."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(image).rectangle((40, 40, 360, 260), outline="black", width=4)
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=180)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def make_ctx(root: Path) -> CheckContext:
    return make_context(root, "pdf_report", deadline="2020-12-11 23:59")


def run(root: Path, **args: object) -> CheckOutcome:
    return PdfReportCheck().run(make_ctx(root), PdfReportArgs(**args))


def test_english_report_passes_with_facts(tmp_path: Path) -> None:
    make_pdf(tmp_path / "docs" / "report.pdf", [ENGLISH] * 6, pages=2)
    outcome = run(tmp_path)
    assert outcome.status == Status.PASS, outcome.message
    facts = outcome.facts
    assert facts["path"] == "docs/report.pdf"
    assert facts["pages"] == 2
    # 102 tokens a paragraph: 'a' (twice) is no word, 'ninety-six' is two
    assert facts["words"] == 6 * 101
    assert facts["language"] == "en"
    assert facts["english_share"] >= 0.9
    assert "docs/report.pdf: 2 page(s)" in outcome.message


def test_hungarian_report_fails_with_quotes_and_page(tmp_path: Path) -> None:
    make_pdf(tmp_path / "dokumentacio.pdf", [HUNGARIAN] * 5)
    outcome = run(tmp_path)
    assert outcome.status == Status.FAIL
    assert "not in English" in outcome.message and "mostly Hungarian" in outcome.message
    assert outcome.facts["language"] == "hu"
    assert outcome.facts["english_share"] < 0.3
    evidence = outcome.evidence[0]
    assert evidence.path == "dokumentacio.pdf" and evidence.verdict == "rejected"
    assert evidence.line == 1 and "page 1:" in evidence.detail


def test_image_only_pdf_has_no_extractable_text(tmp_path: Path) -> None:
    make_image_pdf(tmp_path / "report.pdf")
    outcome = run(tmp_path)
    assert outcome.status == Status.FAIL
    assert "no extractable text" in outcome.message
    assert outcome.facts["words"] == 0 and outcome.facts["pages"] == 1


def test_corrupt_pdf_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    outcome = run(tmp_path)
    assert outcome.status == Status.FAIL
    assert outcome.message.startswith("report.pdf: cannot be read: not a readable PDF")


def test_encrypted_pdf_fails_cleanly(tmp_path: Path) -> None:
    pdf = fpdf.FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 5.5, ENGLISH * 5)
    pdf.output(str(tmp_path / "report.pdf"))
    outcome = run(tmp_path)
    assert outcome.status == Status.FAIL
    assert "cannot be read" in outcome.message
    assert "encrypted" in outcome.message or "not a readable PDF" in outcome.message


def test_too_short_and_too_few_pages(tmp_path: Path) -> None:
    make_pdf(tmp_path / "report.pdf", [ENGLISH])
    short = run(tmp_path)
    assert short.status == Status.FAIL
    assert "words of text, at least 300 expected" in short.message
    assert run(tmp_path, min_words=50).status == Status.PASS
    few = run(tmp_path, min_words=50, min_pages=3)
    assert few.status == Status.FAIL and "1 page(s), at least 3 expected" in few.message


def test_no_pdf_at_all(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("# Project\n")
    outcome = run(tmp_path)
    assert outcome.status == Status.FAIL and "no PDF report found" in outcome.message


def test_report_named_files_win_over_papers(tmp_path: Path) -> None:
    # an English paper in the repo cannot stand in for a Hungarian report
    make_pdf(tmp_path / "papers" / "attention.pdf", [ENGLISH] * 5)
    make_pdf(tmp_path / "Dokumentáció.pdf", [HUNGARIAN] * 5)
    outcome = run(tmp_path)
    assert outcome.status == Status.FAIL
    assert [e.path for e in outcome.evidence] == ["Dokumentáció.pdf"]
    # without a report-named file, any PDF that qualifies is the report
    (tmp_path / "Dokumentáció.pdf").unlink()
    assert run(tmp_path).facts["path"] == "papers/attention.pdf"


def test_ranking_and_word_count() -> None:
    paths = ["z/deep/final_report.pdf", "a.pdf", "report.pdf", "b/documentation.pdf"]
    assert rank_candidates(paths) == [
        "report.pdf",
        "b/documentation.pdf",
        "z/deep/final_report.pdf",
    ]
    assert rank_candidates(["b.pdf", "a/a.pdf"]) == ["b.pdf", "a/a.pdf"]
    assert count_words(["Hello world, 42 x y", "fig. 3: loss"]) == 4


def test_through_the_cli_on_a_dated_repo(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "id: t\ntitle: T\ncourse: c\ndeadline: '2020-12-11 23:59'\n"
        "checks:\n  - check: pdf_report\n    points: 3\n",
        encoding="utf-8",
    )
    repo = tmp_path / "repo"
    build_file_tree(repo, {"readme.md": "# Project\n"})
    make_pdf(repo / "report.pdf", [HUNGARIAN] * 5)
    git_save(repo, "hungarian report", date="2020-12-01T10:00:00+01:00")
    make_pdf(repo / "report.pdf", [ENGLISH] * 5)
    git_save(repo, "english report", date="2020-12-10T10:00:00+01:00")
    make_pdf(repo / "report.pdf", [HUNGARIAN] * 5)
    git_save(repo, "too late", date="2020-12-12T10:00:00+01:00")
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["grade", str(spec), "--repo", str(make_bare(repo)), "--student", "ABC123",
              "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))
    check = result["checks"][0]
    assert (check["status"], check["points"], check["max_points"]) == ("pass", 3.0, 3.0)
    assert check["facts"]["path"] == "report.pdf" and check["facts"]["language"] == "en"
