"""The wheel students install: specs and templates inside, instructor material never."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    (found,) = out.glob("grader-*.whl")
    return found


def test_wheel_ships_specs_and_templates_but_no_reference_solutions(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "grader/_data/templates/report.html.j2" in names
    assert "grader/_data/assignments/bme-vitmav45-2020/hw3-temperature.yaml" in names
    assert "grader/cli/__init__.py" in names
    # what a student's editor and self-check need: the spec schema (next to the bundled
    # specs' modeline target) and the language model
    assert "grader/_data/schemas/assignment.schema.json" in names
    assert "grader/text/models/lid.176.ftz" in names
    assert not [n for n in names if "reference_solutions" in n or "reference_solution" in n]
    hidden = ("observations", "reference.json", "hidden")
    assert not [n for n in names if any(h in n.lower() for h in hidden)]
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]


def test_installed_wheel_finds_bundled_specs_and_no_instructor_data(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    code = (
        "import grader.paths as p, json;"
        "print(json.dumps([str(p.data_dir('assignments')), str(p.instructor_dir()),"
        " sorted(k for k in p.bundled_specs() if '/' in k)]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("GRADER_INSTRUCTOR_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    import json

    assignments, instructor, specs = json.loads(done.stdout)
    assert assignments.startswith(str(site))
    assert instructor == "None"
    assert "bme-vitmav45-2020/hw3-temperature" in specs
    validate = subprocess.run(
        [sys.executable, "-m", "grader", "validate", "hw3-temperature"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert validate.returncode == 0, validate.stderr
