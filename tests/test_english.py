"""The `english` check and the language decision behind it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import nbformat
import pytest

from grader.checks.base import CheckContext
from grader.checks.english import EnglishArgs, EnglishCheck
from grader.results import CheckOutcome, Status
from grader.testing import make_context
from grader.text import language as lang
from grader.text.prose import Passage

ENGLISH_README = """\
# Budapest temperature forecast

This repository contains our homework for the deep learning course. We train a small
recurrent network that predicts tomorrow's mean temperature in Budapest from hourly
weather measurements.

## Usage

```bash
pip install -r requirements.txt
python train.py --epochs 20 --lr 1e-3
```

The trained model is saved to `models/best.pt`. Evaluation results are written to the
`results` folder, see [the notebook](notebooks/eval.ipynb) for the plots.
"""

HUNGARIAN_README = """\
# Budapesti hőmérséklet előrejelzés

Ez a projekt a budapesti hőmérsékletet jósolja meg egy nappal előre, és a hibát is méri.
A modellt óránkénti mérési adatokon tanítjuk, majd a validációs halmazon értékeljük.

## Használat

```bash
python train.py
```

A betanított modell a models mappába kerül. Az eredmények a results mappában találhatók.
"""

HUNGARIAN_PY = '''\
"""Ez a modul tölti be az adatokat, és előkészíti őket a tanításhoz."""

import pandas as pd


def betolt(utvonal):
    """Beolvassa a CSV fájlt, és eltávolítja a hiányzó értékeket tartalmazó sorokat."""
    # Az adatokat napi átlagokra bontjuk, mert a modell napi felbontással dolgozik.
    adat = pd.read_csv(utvonal)
    return adat.dropna()  # a hiányzó sorok nélkül adjuk vissza
'''

ENGLISH_PY_HUNGARIAN_NAMES = '''\
"""Load the weather data and prepare it for training."""

import pandas as pd


def betolt_adatok(utvonal: str) -> pd.DataFrame:
    """Read the CSV file and drop the rows that have missing values."""
    # Resample homerseklet_adat to daily means because the model works on daily data.
    homerseklet_adat = pd.read_csv(utvonal, parse_dates=["idopont"], index_col="idopont")
    napi_atlag = homerseklet_adat.resample("D").mean()
    return napi_atlag.dropna()  # without the missing rows
'''

METRIC_LOG = "\n".join(
    f"Epoch {i}/10 - loss: 0.{60 - i} - accuracy: 0.{70 + i}" for i in range(1, 11)
)


def without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def make_ctx(root: Path) -> CheckContext:
    return make_context(root, "english", repo="example/repo")


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def run_check(root: Path, **args: object) -> CheckOutcome:
    return EnglishCheck().run(make_ctx(root), EnglishArgs(**args))


def verdicts(outcome: CheckOutcome) -> dict[str, str]:
    return {e.path: e.verdict for e in outcome.evidence}


# ---- the language decision -------------------------------------------------------------


def test_hungarian_without_accents_is_detected() -> None:
    sentence = (
        "Ez a projekt a budapesti homersekletet josolja meg egy nappal elore, es a hibat is meri."
    )
    assert lang.detect(sentence)[0] == "hu"  # type: ignore[index]


def test_clean_drops_code_urls_numbers_and_markup() -> None:
    text = (
        "Run **np.mean(x)** on data_frame with lr=0.001, see https://example.org "
        "or mail me@example.org; the ./data/train.csv file has 3 columns and a camelCase name."
    )
    assert lang.clean(text) == "Run on with see or mail the file has columns and a name"


def test_assess_verdicts() -> None:
    english = lang.assess([Passage(ENGLISH_README, 1)])
    assert english.status == lang.MATCH and english.ok
    assert english.share == 1.0
    hungarian = lang.assess([Passage(HUNGARIAN_README, 1)])
    assert hungarian.status == lang.MISMATCH
    assert hungarian.dominant == "hu"
    assert hungarian.offending and hungarian.offending[0].language == "hu"
    assert lang.assess([Passage("Too short to judge.", 1)]).status == lang.NOT_ENOUGH_TEXT
    assert lang.assess([Passage(HUNGARIAN_README, 1)], language="hu").ok


def test_long_unpunctuated_text_is_cut_into_units() -> None:
    text = "\n".join(["this line has five words"] * 40)
    assert all(len(u.split()) <= lang.MAX_UNIT_WORDS for u in lang.split_units(text))


# ---- the check -------------------------------------------------------------------------


SHORT_TECHNICAL_README = """\
# MNIST classifier

Train a small CNN on MNIST:

```
python train.py --epochs 5
```

The best model reaches 99% test accuracy after five epochs (see `logs/`).
"""


def test_short_technical_english_readme_passes(tmp_path: Path) -> None:
    outcome = run_check(write(tmp_path, {"README.md": SHORT_TECHNICAL_README}))
    assert outcome.status == Status.PASS, outcome.message
    assert outcome.message == "README.md is in English"


def test_english_readme_with_code_blocks_passes(tmp_path: Path) -> None:
    outcome = run_check(write(tmp_path, {"README.md": ENGLISH_README}))
    assert outcome.status == Status.PASS, outcome.message
    assert outcome.fraction == 1.0
    assert verdicts(outcome) == {"README.md": "english"}
    (entry,) = outcome.facts["files"]
    assert entry["path"] == "README.md" and entry["language"] == "en"
    assert entry["english_share"] == 1.0 and entry["words"] >= 30
    assert outcome.facts["min_share"] == 0.7


@pytest.mark.parametrize("readme", [HUNGARIAN_README, without_accents(HUNGARIAN_README)])
def test_hungarian_readme_fails(tmp_path: Path, readme: str) -> None:
    outcome = run_check(write(tmp_path, {"README.md": readme}))
    assert outcome.status == Status.FAIL
    assert outcome.message.startswith("1 of 1 files is not in English: README.md (")
    (evidence,) = outcome.evidence
    assert evidence.verdict == "not_english"
    assert evidence.line in (1, 3)  # the heading, or the paragraph if the heading is unsure
    assert "line 3:" in evidence.detail and "(Hungarian)" in evidence.detail
    assert outcome.fraction == 0.0


def test_legacy_encoded_hungarian_readme_is_judged(tmp_path: Path) -> None:
    outcome = run_check(write(tmp_path, {"README.md": HUNGARIAN_README.encode("cp1250")}))
    assert verdicts(outcome) == {"README.md": "not_english"}
    assert outcome.status == Status.FAIL


def test_too_little_text_is_manual_not_pass(tmp_path: Path) -> None:
    outcome = run_check(write(tmp_path, {"README.md": "# Homework 1\n\nSee the notebook.\n"}))
    assert outcome.status == Status.MANUAL
    assert outcome.message.startswith("not enough text to judge")
    assert verdicts(outcome) == {"README.md": "not_enough_text"}


def test_no_files_at_all_is_manual(tmp_path: Path) -> None:
    assert run_check(tmp_path).status == Status.MANUAL


def test_hungarian_comments_fail_english_code_with_hungarian_names_passes(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"src/betolt.py": HUNGARIAN_PY, "src/load.py": ENGLISH_PY_HUNGARIAN_NAMES})
    outcome = run_check(tmp_path)
    assert verdicts(outcome) == {"src/betolt.py": "not_english", "src/load.py": "english"}
    assert outcome.status == Status.FAIL
    assert "src/betolt.py comments (" in outcome.message
    assert outcome.fraction == 0.5
    bad = next(e for e in outcome.evidence if e.path == "src/betolt.py")
    assert bad.line == 1


def test_notebook_with_hungarian_markdown_fails(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import pandas as pd"),
        nbformat.v4.new_markdown_cell(HUNGARIAN_README),
    ]
    outcome = run_check(write(tmp_path, {"eval.ipynb": nbformat.writes(notebook)}))
    assert verdicts(outcome) == {"eval.ipynb": "not_english"}
    assert outcome.evidence[0].line == 2  # the cell number
    assert outcome.status == Status.FAIL


def test_malformed_notebook_and_pdf_are_unreadable_without_crashing(tmp_path: Path) -> None:
    files = {
        "README.md": ENGLISH_README,
        "eval.ipynb": '{"cells": [ broken',
        "report.pdf": b"%PDF-1.4 not really a PDF",
    }
    outcome = run_check(write(tmp_path, files))
    assert verdicts(outcome) == {
        "README.md": "english",
        "eval.ipynb": "unreadable",
        "report.pdf": "unreadable",
    }
    assert outcome.status == Status.PASS
    assert "could not read eval.ipynb, report.pdf" in outcome.message


def test_metric_only_log_is_not_enough_text_and_does_not_fail(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": ENGLISH_README, "logs/train.log": METRIC_LOG})
    write(tmp_path, {"logs/eval.txt": METRIC_LOG})
    outcome = run_check(tmp_path)
    assert verdicts(outcome) == {
        "README.md": "english",
        "logs/eval.txt": "not_enough_text",
        "logs/train.log": "not_enough_text",
    }
    assert outcome.status == Status.PASS
    assert "2 with too little text" in outcome.message


def test_binary_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": ENGLISH_README, "notes.txt": b"\x00\x01\x02binary\x00"})
    outcome = run_check(tmp_path)
    assert verdicts(outcome) == {"README.md": "english", "notes.txt": "skipped"}
    assert outcome.status == Status.PASS


def test_links_outside_the_repository_are_not_read(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.md": HUNGARIAN_README})
    repo = write(tmp_path / "repo", {"README.md": ENGLISH_README})
    (repo / "notes.md").symlink_to(outside / "secret.md")
    outcome = run_check(repo)
    assert verdicts(outcome) == {"README.md": "english", "notes.md": "skipped"}


def test_default_excludes_and_custom_globs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "README.md": ENGLISH_README,
            "requirements.txt": "torch==2.1\n",
            "LICENSE.txt": HUNGARIAN_README,
            "data/notes.md": HUNGARIAN_README,
            "src/data/readme.md": HUNGARIAN_README,
        },
    )
    assert verdicts(run_check(tmp_path)) == {"README.md": "english"}
    only = run_check(tmp_path, include=["**/*.md"], exclude=[])
    assert set(verdicts(only)) == {"README.md", "data/notes.md", "src/data/readme.md"}


def test_language_and_share_overrides(tmp_path: Path) -> None:
    write(tmp_path, {"README.md": HUNGARIAN_README})
    outcome = run_check(tmp_path, language="hu")
    assert outcome.status == Status.PASS
    assert verdicts(outcome) == {"README.md": "in_language"}
    mixed = ENGLISH_README + "\n" + HUNGARIAN_README
    write(tmp_path, {"README.md": mixed})
    assert run_check(tmp_path, min_share=0.9).status == Status.FAIL
    assert run_check(tmp_path, min_share=0.3).status == Status.PASS


def test_small_mixed_repo_with_notebook_passes(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(ENGLISH_README),
        nbformat.v4.new_code_cell("# Plot the training curves.\nplt.plot(history)"),
    ]
    files: dict[str, str | bytes] = {"README.md": ENGLISH_README}
    files.update({f"src/module{i}.py": ENGLISH_PY_HUNGARIAN_NAMES for i in range(3)})
    files["eval.ipynb"] = nbformat.writes(notebook)
    write(tmp_path, files)
    run_check(tmp_path)  # loads the model and nbformat once per process
    lang._candidates.cache_clear()
    outcome = run_check(tmp_path)  # speed: benchmarks/static_checks.py, not asserted here
    assert outcome.status == Status.PASS, outcome.message
