"""The hostile suite, rerun family: student code that attacks the grader or other students
from inside the real bubblewrap sandbox, through the real CLI (``--rerun smoke``). Each case
failed before the hardening it tests (issue 11)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.sandbox.bwrap import bwrap_available, bwrap_problem
from tests.hostile_kit import GRADER, check, grade, raw_result, roster, run_grader, spec, student

pytestmark = [
    pytest.mark.skipif(not bwrap_available(), reason=str(bwrap_problem())),
    pytest.mark.slow,
]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every sandbox uid can reach (pytest's own are root-only), removed after."""
    path = Path(tempfile.mkdtemp(prefix="grader-test-SECRET-", dir="/tmp"))
    os.chmod(path, 0o711)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def rerun_spec(tmp: Path, args: str = "", command: str = "python run.py") -> Path:
    body = (
        "  - check: files\n    points: 1\n"
        "  - check: rerun\n    points: 1\n    args:\n"
        f"      commands: [{command!r}]\n      memory_mb: 1024\n{args}"
    )
    return spec(tmp, body)


def run_output(result) -> str:
    runs = check(result, "rerun").facts.get("runs") or []
    return "\n".join(r.get("stdout_tail", "") + "\n" + r.get("stderr_tail", "") for r in runs)


# ---- a venv built from one submission never reaches another ------------------------------

BACKEND = """\
import os, site, sysconfig, zipfile

def _wheel(directory):
    if os.path.exists("EVIL"):  # plant code that runs at every start of this venv's python
        for where in {sysconfig.get_paths()["purelib"], *site.getsitepackages()}:
            if os.access(where, os.W_OK):
                with open(os.path.join(where, "zz_planted.pth"), "w") as f:
                    f.write("import sys; sys.stderr.write('A-WAS-HERE\\\\n')\\n")
    name = "pkg-0.1-py3-none-any.whl"
    meta = {"pkg-0.1.dist-info/METADATA": "Metadata-Version: 2.1\\nName: pkg\\nVersion: 0.1\\n",
            "pkg-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\n"
                                       "Tag: py3-none-any\\n"}
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, text in meta.items():
            wheel.writestr(path, text)
        wheel.writestr("pkg-0.1.dist-info/RECORD", "".join(p + ",,\\n" for p in [*meta, "pkg-0.1.dist-info/RECORD"]))
    return name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory)

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory)

def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_editable(config_settings=None):
    return []
"""
PYPROJECT = (
    '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
    '[project]\nname = "pkg"\nversion = "0.1"\n'
)


def test_a_venv_built_from_one_submission_never_serves_another(tmp_path: Path) -> None:
    common = {"requirements.txt": "-e .\n", "pyproject.toml": PYPROJECT, "backend.py": BACKEND}
    attacker = student(tmp_path, "a", {**common, "EVIL": "1", "run.py": "print('A ran')\n"})
    victim = student(tmp_path, "b", {**common, "run.py": "print('B ran')\n"})
    spec_path = rerun_spec(tmp_path, "      requirements: true\n      timeout: 120\n")
    env = {"GRADER_VENV_CACHE": str(tmp_path / "venvs")}
    done, first = grade(
        spec_path, attacker, tmp_path / "out", "--rerun", "smoke", neptun="AAA111", env=env
    )
    assert "A ran" in run_output(first), (done.stdout, raw_result(tmp_path / "out", "AAA111"))
    assert "A-WAS-HERE" in run_output(first)  # the attack works on the attacker's own venv
    done, second = grade(
        spec_path, victim, tmp_path / "out", "--rerun", "smoke", neptun="BBB222", env=env
    )
    assert "B ran" in run_output(second), done.stdout + done.stderr
    assert "A-WAS-HERE" not in raw_result(tmp_path / "out", "BBB222")


# ---- disk and shared memory ---------------------------------------------------------------

FILL = """\
import os, sys
def fill(folder, files, mb):
    written = 0
    try:
        for i in range(files):
            with open(os.path.join(folder, f"fill{i}.bin"), "wb") as handle:
                for _ in range(mb):
                    handle.write(b"x" * (1 << 20))
                    written += 1
    except OSError as exc:
        print("STOPPED", folder, exc.errno)
    print("WROTE", folder, written)
    sys.stdout.flush()
fill("/dev/shm", 8, 30)
fill(".", 8, 30)
"""


@pytest.mark.parametrize("timeout", [30, 90], ids=["rlimits", "cgroup"])
def test_shared_memory_and_the_work_dir_are_size_limited(tmp_path: Path, timeout: int) -> None:
    repo = student(tmp_path, "s", {"run.py": FILL})
    args = (
        f"      timeout: {timeout}\n      tmp_mb: 64\n      work_mb: 128\n      file_size_mb: 64\n"
    )
    done, result = grade(rerun_spec(tmp_path, args), repo, tmp_path / "out", "--rerun", "smoke")
    said = run_output(result)
    shm = int(re.search(r"WROTE /dev/shm (\d+)", said).group(1))
    work = re.search(r"WROTE \. (\d+)", said)
    assert shm <= 64, said
    assert work is None or int(work.group(1)) <= 128, said  # or killed at the disk limit
    assert check(result, "files").status.value == "pass"


def test_an_inode_bomb_is_stopped_at_the_work_dir(tmp_path: Path) -> None:
    code = (
        "import os\nmade = 0\ntry:\n    for i in range(300_000):\n"
        "        open(f'f{i}', 'w').close()\n        made += 1\n"
        "except OSError as exc:\n    print('STOPPED', exc.errno)\nprint('MADE', made)\n"
    )
    repo = student(tmp_path, "s", {"run.py": code})
    args = "      timeout: 60\n      work_mb: 64\n"
    done, result = grade(rerun_spec(tmp_path, args), repo, tmp_path / "out", "--rerun", "smoke")
    made = int(re.search(r"MADE (\d+)", run_output(result)).group(1))
    assert made < 300_000, run_output(result)


# ---- no host path inside the sandbox; leftovers under one root ----------------------------

SNOOP = """\
import os
for path in ["/proc/1/environ", "/proc/1/cmdline", "/proc/self/environ", "/proc/self/mountinfo"]:
    try:
        data = open(path, "rb").read().replace(b"\\0", b" ")
    except OSError as exc:
        data = str(exc).encode()
    print(path, data.decode(errors="replace"))
print("cwd", os.getcwd())
"""


def test_the_sandbox_sees_no_host_path_of_the_grader(tmp_path: Path, open_dir: Path) -> None:
    cwd = tmp_path / "grader-cwd-SECRET"
    cwd.mkdir()
    repo = student(tmp_path, "s", {"run.py": SNOOP})
    env = {"GRADER_SANDBOX_DIR": str(open_dir / "sandbox")}
    for timeout in (30, 90):  # without and with a cgroup (and the launcher's shell step)
        spec_path = rerun_spec(tmp_path, f"      timeout: {timeout}\n")
        done, result = grade(
            spec_path, repo, tmp_path / f"out{timeout}", "--rerun", "smoke", env=env, cwd=cwd
        )
        said = run_output(result)
        assert "/proc/1/cmdline" in said, done.stdout + done.stderr
        assert "SECRET" not in said, said
        assert str(tmp_path) not in said, said


def test_a_killed_batch_leaves_its_leftovers_under_one_root_that_the_next_cleans(
    tmp_path: Path, open_dir: Path
) -> None:
    private = tmp_path / "instructor-cache"  # only root can enter it: the sandbox mounts it
    private.mkdir(mode=0o700)  # through a staging point
    (private / "weights.txt").write_text("w\n")
    repo = student(tmp_path, "s", {"run.py": "import time\nprint('training', flush=True)\n"
                                             "time.sleep(120)\n"})  # fmt: skip
    args = f"      timeout: 30\n      caches: {{WEIGHTS: {str(private)!r}}}\n"
    spec_path = rerun_spec(tmp_path, args)
    rows = roster(tmp_path / "r.csv", [("ABC123", str(repo))])
    base, tmpdir = open_dir / "sandbox", tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "GRADER_SANDBOX_DIR": str(base), "TMPDIR": str(tmpdir)}
    argv = [GRADER, "batch", str(spec_path), "--roster", str(rows), "--out", str(tmp_path / "o"),
            "--no-progress", "--rerun", "smoke"]  # fmt: skip
    said = tmp_path / "batch-output.txt"
    with said.open("wb") as output:
        proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=output,
                                stderr=subprocess.STDOUT)  # fmt: skip
    started = time.monotonic()
    try:
        while time.monotonic() < started + 60 and not list(base.glob("run-*/work/run.py")):
            time.sleep(0.2)
        waited = time.monotonic() - started
        assert list(base.glob("run-*")), (
            f"the rerun never started within {waited:.0f} s; the batch said:\n"
            + said.read_text(errors="replace")[-3000:]
            + f"\nlocks: {sorted(p.name for p in Path(os.environ['GRADER_LOCK_DIR']).iterdir())}"
        )
        time.sleep(1.0)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of the whole batch
        proc.wait()
    leftovers = [p for p in tmpdir.iterdir() if not p.name.startswith("pymp-")]
    assert leftovers == [], leftovers  # nothing outside GRADER_SANDBOX_DIR
    assert list(base.iterdir())  # the run left its folder behind...
    done = run_grader(*argv[1:-1], "none", env=env)  # ...and the next batch cleans it
    assert done.returncode == 0, done.stdout + done.stderr
    stale = [p.name for p in base.iterdir() if p.name.startswith(("run-", "stage"))]
    assert stale == [], stale
