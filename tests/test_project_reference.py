"""The team project reference solution, dated per milestone by its builder, graded with the
project spec through the CLI: full marks on time; exactly the expected losses when
milestone 2 lands a day late or the report is in Hungarian."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.results import SubmissionResult, Verdict
from grader.testing import make_bare

pytest.importorskip("fpdf")  # the builder renders report.pdf with fpdf2 (a dev dependency)

ROOT = Path(__file__).resolve().parent.parent
BUILDER = ROOT / "reference_solutions" / "project" / "build_history.py"
SPEC = ROOT / "assignments" / "bme-vitmav45-2020" / "project.yaml"

HUNGARIAN_REPORT = """\
# Kézzel írt számjegyek felismerése

## Feladat

A projekt célja kézzel írt számjegyek felismerése kis szürkeárnyalatos képekből. A bemenet
egy nyolcszor nyolc képpontos kép, a kimenet a tíz osztály egyike. A feladat elég kicsi
ahhoz, hogy egy laptop processzorán néhány másodperc alatt tanítható legyen, így a
munkafolyamatra koncentrálhattunk: az adatok beszerzésére és feltárására, a tanító, a
validációs és a teszt halmaz elkészítésére, majd egy alapmodell tanítására és kiértékelésére.

## Adatok

Az adathalmaz ezerhétszázkilencvenhét képet tartalmaz, amelyeket negyvenhárom különböző
ember írt. A feltáró jegyzetfüzet szerint a tíz számjegy aránya szinte pontosan egyforma,
a képpontok többsége nulla, és néhány szélső képpont soha nem kap értéket. Minden
szürkeárnyalatot elosztunk tizenhattal, így a bemenetek nulla és egy közé esnek.

## Felosztás

Az adatokat rétegzett módon, rögzített véletlenmaggal osztottuk fel: a képek hetven
százaléka a tanító, tizenöt százaléka a validációs és tizenöt százaléka a teszt halmazba
került. Minden számjegy aránya mindhárom halmazban azonos maradt.

## Modell és tanítás

Az alapmodell egy teljesen összekötött hálózat két rejtett réteggel. Adam optimalizálóval
harminc epochon át tanítjuk, és annak az epochnak a súlyait tartjuk meg, amelyben a
validációs pontosság a legjobb volt. A tanítási napló minden epoch veszteségét és
pontosságát rögzíti.

## Kiértékelés

A teszt halmazon a pontosság valamivel kilencvenhat százalék fölött van, a makro F1 érték
hasonló. A legtöbb hiba a hasonló alakú számjegyek között történik, például a hármas és az
ötös, illetve a nyolcas és az egyes között.

## Tapasztalatok

A munka során kiderült, hogy a véletlenmag rögzítése nélkül az eredmények futásról futásra
kissé eltérnek, ezért minden szkriptben ugyanazt a magot használjuk. A tanítási görbék
alapján a validációs veszteség körülbelül a huszadik epoch után már nem csökken, ami a
túltanulás első jele. Ezért nem az utolsó, hanem a legjobb epoch súlyait mentjük el. A
tévesztési mátrixot is megvizsgáltuk: a hibák nagy része néhány jellegzetes párnál fordul
elő, ezek a képek emberi szemmel is nehezen olvashatók. A csapat tagjai hetente
egyeztettek, a feladatokat pedig a verziókezelő rendszerben követtük. A dokumentációt és a
forráskódot a félév végéig folyamatosan bővítettük, a mérföldkövek határidejét pedig
mindig betartottuk.

## Összegzés

Egy kis teljesen összekötött hálózat is a tesztképek több mint kilencvenhat százalékát
helyesen ismeri fel. A következő lépésben konvolúciós hálózatot, adatbővítést és
keresztvalidációt szeretnénk kipróbálni, hogy a modellek összehasonlítása megbízhatóbb
legyen.
"""

# what grading the on-time reference gives: every check passes with full points
FULL = {
    "m1-data": ("pass", 3.0, 3.0),
    "m1-notebooks": ("pass", 1.0, 1.0),
    "m2-baseline": ("pass", 2.0, 2.0),
    "m2-log": ("pass", 2.0, 2.0),
    "m2-code": ("pass", 1.0, 1.0),
    "m2-rerun": ("skipped", 0.0, 2.0),  # static grading (--rerun none): pending, in the max
    "m2-compare": ("skipped", 0.0, 1.0),
    "files": ("pass", 2.0, 2.0),
    "english": ("pass", 2.0, 2.0),
    "pdf_report": ("pass", 3.0, 3.0),
    "git_history": ("pass", 1.0, 1.0),
}


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("project_build_history", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def grade(tmp_path: Path, repo: Path) -> dict:
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["grade", str(SPEC), "--repo", str(make_bare(repo)), "--student", "ABC123",
              "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))


def table(result: dict) -> dict[str, tuple[str, float, float]]:
    return {c["id"]: (c["status"], c["points"], c["max_points"]) for c in result["checks"]}


def test_reference_history_gets_full_marks(tmp_path: Path, builder: ModuleType) -> None:
    commits = builder.build_history(tmp_path / "team")
    result = grade(tmp_path, tmp_path / "team")
    assert table(result) == FULL, json.dumps(result["checks"], indent=1)[:3000]
    assert (result["score"], result["max_score"]) == (17.0, 20.0)  # 3 points pending
    assert [(g["id"], g["met"]) for g in result["gates"]] == [("m1", True), ("m2", True)]
    assert result["commit"] == commits["final"]
    pinned = {mid: m["commit"] for mid, m in result["pin"]["milestones"].items()}
    assert pinned == {"m1": commits["m1"], "m2": commits["m2"]}
    by_id = {c["id"]: c for c in result["checks"]}
    assert by_id["m1-data"]["commit"] == commits["m1"]
    assert by_id["m2-code"]["commit"] == commits["m2"]
    report = by_id["pdf_report"]["facts"]
    assert report["path"] == "report.pdf" and report["language"] == "en"
    assert report["words"] >= 300


def test_milestone_two_one_day_late_makes_the_project_not_eligible(
    tmp_path: Path, builder: ModuleType
) -> None:
    commits = builder.build_history(tmp_path / "team", dates={"m2": "2020-11-23 20:15"})
    result = grade(tmp_path, tmp_path / "team")
    # golden excerpt: M2's checks see the M1 commit, and the precondition is not met
    expected = dict(FULL)
    expected["m2-baseline"] = ("fail", 0.0, 2.0)
    expected["m2-log"] = ("fail", 0.0, 2.0)
    expected["m2-code"] = ("fail", 0.0, 1.0)
    assert table(result) == expected
    assert (result["score"], result["max_score"]) == (12.0, 20.0)
    assert result["pin"]["milestones"]["m2"]["commit"] == commits["m1"]
    gates = {g["id"]: g for g in result["gates"]}
    assert gates["m1"]["met"] is True and gates["m2"]["met"] is False
    assert gates["m2"]["reason"] == (
        "not met by its deadline 2020-11-22T23:59:00+01:00: at its pinned commit "
        f"{commits['m1'][:10]} (2020-10-20T18:30:00+02:00) checks 'm2-baseline', 'm2-log' and "
        "'m2-code' failed (see each below); 2 commit(s) after the milestone deadline do not "
        "count"
    )
    assert SubmissionResult.from_dict(result).verdict == Verdict.NOT_ELIGIBLE
    html = (tmp_path / "out" / "ABC123" / "report.html").read_text(encoding="utf-8")
    first = html.index("Not eligible.")
    assert first < html.index('id="scores"') and "m2" in html[first : first + 600]


def test_hungarian_report_loses_exactly_the_pdf_points(tmp_path: Path, builder: ModuleType) -> None:
    builder.build_history(tmp_path / "team", report_markdown=HUNGARIAN_REPORT)
    result = grade(tmp_path, tmp_path / "team")
    expected = dict(FULL)
    expected["pdf_report"] = ("fail", 0.0, 3.0)
    assert table(result) == expected, json.dumps(result["checks"], indent=1)[:3000]
    assert result["score"] == 14.0
    report = {c["id"]: c for c in result["checks"]}["pdf_report"]
    assert "not in English" in report["message"] and report["facts"]["language"] == "hu"


def test_builder_refuses_a_non_empty_destination(tmp_path: Path, builder: ModuleType) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        builder.build_history(tmp_path / "team")


@pytest.mark.slow
def test_baseline_scripts_run_end_to_end(tmp_path: Path) -> None:
    """Milestone 2's claim, checked: training and evaluation run on a CPU from a clean copy."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    source = BUILDER.parent
    for relative in ("digits_model.py", "train.py", "evaluate.py", "data/train.csv",
                     "data/val.csv", "data/test.csv"):  # fmt: skip
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((source / relative).read_bytes())
    for command in (["train.py", "--epochs", "3"], ["evaluate.py"]):
        done = subprocess.run(
            [sys.executable, *command], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
    log = (tmp_path / "logs" / "train.log").read_text(encoding="utf-8")
    assert [line.split(" - ")[0] for line in log.splitlines() if line.startswith("Epoch")] == [
        "Epoch 1/3", "Epoch 2/3", "Epoch 3/3",
    ]  # fmt: skip
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["images"] == 270 and metrics["accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert sum(map(sum, metrics["confusion_matrix"])) == 270
