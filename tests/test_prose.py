"""Prose extraction: Markdown, Python, notebooks, logs, PDFs, and awkward files."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.text.language import MATCH, MISMATCH, assess
from grader.text.prose import (
    Passage,
    ProseError,
    SkippedFile,
    decode,
    extract,
    kind_of,
    log_passages,
    markdown_passages,
    notebook_passages,
    pdf_text,
    python_passages,
)


def make_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF whose text pypdf can extract (Helvetica, WinAnsi encoding)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    ops += [f"({escape(line)}) Tj T*" for line in lines]
    stream = "\n".join([*ops, "ET"]).encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


README = """\
# Temperature forecast

This project predicts the **temperature** in [Budapest](https://example.org/budapest)
one day ahead. See `train.py` for details.

![loss curve](img/loss.png)

```bash
pip install -r requirements.txt  # not prose
```

~~~
tilde_fenced = True
~~~

    indented_code = 1

- Install the dependencies.
- Run the training script.

| Model | MAE | RMSE |
|-------|----:|-----:|
| LSTM baseline | 1.23 | 2.5 % |

<!-- a hidden
comment -->
<p align="center"><img src="logo.png"></p>
"""


def test_markdown_drops_code_urls_and_markup() -> None:
    passages = markdown_passages(README)
    text = "\n".join(p.text for p in passages)
    for gone in ("pip install", "tilde_fenced", "indented_code", "example.org", "train.py"):
        assert gone not in text
    for gone in ("loss curve", "hidden", "logo.png", "1.23", "2.5", "----"):
        assert gone not in text
    assert "Budapest" in text  # link text stays
    lines = {p.text.split("\n")[0]: p.line for p in passages}
    assert lines["Temperature forecast"] == 1
    assert lines["This project predicts the **temperature** in Budapest"] == 3
    assert lines["Install the dependencies."] == 18
    assert lines["LSTM baseline"] == 23


def test_markdown_list_continuation_is_prose_not_code() -> None:
    text = "- first item here\n\n    still the first item, indented\n"
    assert [p.text for p in markdown_passages(text)] == [
        "first item here",
        "still the first item, indented",
    ]


def test_python_comments_and_docstrings_without_pragmas_or_code() -> None:
    source = '''#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Train the model on the hourly data."""
import os  # noqa: F401
# x = compute(y)
# import numpy as np
# Load the data and
# normalize it.
def scale(value):  # type: ignore
    """Scale a value.

    >>> scale(1)
    2
    """
    return value * 2  # double the input
'''
    passages = python_passages(source)
    assert passages == [
        Passage("Train the model on the hourly data.", 3),
        Passage("Load the data and\nnormalize it.", 7),
        Passage("Scale a value.", 10),
        Passage("double the input", 15),
    ]


def test_python_that_does_not_tokenize_falls_back_to_a_regex() -> None:
    source = "def broken(:\n    # a comment in broken code\n    text = '''unterminated\n"
    assert python_passages(source) == [Passage("a comment in broken code", 2)]


def test_notebook_markdown_and_code_comments_by_cell_number() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nSome words about the data.\n```\ncode\n```"),
        nbformat.v4.new_code_cell("%matplotlib inline\n!pip install x\n# plot the loss curve\n"),
        nbformat.v4.new_raw_cell("raw text is ignored"),
    ]
    passages = notebook_passages(nbformat.writes(notebook))
    assert passages == [
        Passage("Title", 1),
        Passage("Some words about the data.", 1),
        Passage("plot the loss curve", 2),
    ]


@pytest.mark.parametrize("text", ["{not json", json.dumps({"cells": 3}), "[]"])
def test_malformed_notebook_raises_prose_error(text: str) -> None:
    with pytest.raises(ProseError, match="not a valid notebook"):
        notebook_passages(text)


def test_log_keeps_prose_lines_and_drops_metrics() -> None:
    log = "\n".join(
        [
            "Epoch 1/10 - loss: 0.52 - accuracy: 0.81",
            "1875/1875 [======] - 5s 2ms/step - loss: 0.2954 - val_loss: 0.31",
            "100%|##########| 50/50 [00:03<00:00, 14.2it/s]",
            "Loss decreased from 0.52 to 0.41, saving the model",
            "Loss decreased from 0.52 to 0.41, saving the model",
            "epoch 3 step 200 lr=1e-3 loss=0.1",
        ]
    )
    assert log_passages(log) == [Passage("Loss decreased from 0.52 to 0.41, saving the model", 4)]


def test_kind_of() -> None:
    assert kind_of("README.md") == "markdown"
    assert kind_of("notes.txt") == "markdown"
    assert kind_of("logs/train.txt") == "log"
    assert kind_of("runs/train.LOG") == "log"
    assert kind_of("src/model.py") == "python"
    assert kind_of("a.ipynb") == "notebook"
    assert kind_of("report.PDF") == "pdf"
    assert kind_of("image.png") is None


def test_decode_utf8_cp1250_and_utf16() -> None:
    text = "A hőmérséklet előrejelzése"
    assert decode(text.encode("utf-8")) == text
    assert decode(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode(text.encode("cp1250")) == text
    assert decode(text.encode("iso-8859-2")) == text
    assert decode(text.encode("utf-16")) == text
    # one stray byte in UTF-8 text stays UTF-8
    assert decode(text.encode("utf-8") + b"\xff").startswith(text)


def test_binary_and_large_files_are_skipped(tmp_path: Path) -> None:
    binary = tmp_path / "notes.md"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(SkippedFile, match="binary"):
        extract(binary)
    large = tmp_path / "big.md"
    large.write_text("word " * 1000)
    with pytest.raises(SkippedFile, match="limit"):
        extract(large, max_bytes=100)
    with pytest.raises(SkippedFile):
        extract(tmp_path / "picture.png")


def test_pdf_text_and_passages_by_page(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "report.pdf", ["This report describes the model (an LSTM)."])
    pages = pdf_text(pdf)
    assert len(pages) == 1
    assert "This report describes the model (an LSTM)." in pages[0]
    passages = extract(pdf)
    assert [p.line for p in passages] == [1]


def test_pdf_prose_is_judged_by_page(tmp_path: Path) -> None:
    english = [
        "This report describes the recurrent network that we trained.",
        "It predicts the mean temperature in Budapest for the next day.",
        "The model beats the persistence baseline on the test set.",
    ]
    hungarian = [
        "A jelentés bemutatja a betanított neurális hálózatot és az adatokat.",
        "A modell a budapesti napi átlaghomérsékletet jósolja meg egy nappal elore.",
        "A hálózat a teszt halmazon jobb, mint az egyszeru alapmodell volt.",
    ]
    assert assess(extract(make_pdf(tmp_path / "report.pdf", english))).status == MATCH
    verdict = assess(extract(make_pdf(tmp_path / "jelentes.pdf", hungarian)))
    assert verdict.status == MISMATCH
    assert verdict.offending[0].line == 1  # the page number


def test_broken_pdf_raises_prose_error(tmp_path: Path) -> None:
    broken = tmp_path / "report.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a PDF")
    with pytest.raises(ProseError, match="not a readable PDF"):
        pdf_text(broken)
