"""Executing notebooks inside the sandbox with nbclient (through ``nb_runner.py``).

Per-cell timeout that interrupts and goes on, per-cell output caps, and a dead kernel or a
cell error is a visible failure, never a silent pass (nbgrader #427).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.sandbox.base import Limits, Mount, RunOutput, Sandbox
from grader.sandbox.gpu import GpuDevice

RUNNER = Path(__file__).with_name("nb_runner.py")
RUN_DIR = ".grader-run"


@dataclass
class NotebookRun:
    output: RunOutput
    notebooks: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None  # why the runner gave no summary, in words

    @property
    def failures(self) -> list[str]:
        """Every visible failure: cell errors, timeouts, dead kernels, runner problems."""
        found = [self.problem] if self.problem else []
        for nb in self.notebooks:
            if nb.get("dead_kernel") or nb.get("error"):
                found.append(f"{nb['path']}: {nb.get('error') or 'the kernel died'}")
            for cell in nb.get("cells", []):
                where = f"{nb['path']} {cell_label(cell)}"
                if cell["status"] == "timeout":
                    found.append(f"{where}: interrupted at the time limit")
                elif cell["status"] == "error":
                    found.append(f"{where}: {cell.get('ename')}: {cell.get('evalue', '')[:120]}")
        return found

    @property
    def ok(self) -> bool:
        return self.output.ok and not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output.to_dict(with_output=False),
            "notebooks": self.notebooks,
            "problem": self.problem,
            "failures": self.failures,
        }


def cell_label(cell: dict[str, Any]) -> str:
    """'code cell 4 (cell 7)': the number among code cells, then among all cells."""
    if cell.get("code_cell"):
        return f"code cell {cell['code_cell']} (cell {cell['cell']})"
    return f"cell {cell['cell']}"


def _chown_like(path: Path, work: Path) -> None:
    if os.geteuid() == 0:
        info = work.stat()
        os.chown(path, info.st_uid, info.st_gid)


def execute_notebooks(
    sandbox: Sandbox,
    work: Path,
    notebooks: list[str],
    limits: Limits,
    python: str,
    *,
    cell_timeout: float = 120.0,
    output_limit: int = 200_000,
    mounts: tuple[Mount, ...] = (),
    env: dict[str, str] | None = None,
    gpus: tuple[GpuDevice, ...] = (),
    network: bool = False,
) -> NotebookRun:
    """Execute ``notebooks`` (paths relative to ``work``) in the sandbox; executed copies
    land in ``work/.grader-run/executed/``."""
    run_dir = work / RUN_DIR
    run_dir.mkdir(exist_ok=True)
    runner = run_dir / "nb_runner.py"
    shutil.copyfile(RUNNER, runner)
    for path in (run_dir, runner):
        _chown_like(path, work)
    nonce = "GRADER-NB-" + secrets.token_hex(16)
    command = [
        python, f"{RUN_DIR}/nb_runner.py", f"{RUN_DIR}/executed", str(cell_timeout),
        str(output_limit), *notebooks,
    ]  # fmt: skip
    # figures show inline, as in Jupyter (the scripts' default Agg backend shows nothing)
    env = {**(env or {}), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    output = sandbox.run(
        command, work, limits, env=env, mounts=mounts, gpus=gpus, network=network,
        stdin=(nonce + "\n").encode(),
    )  # fmt: skip
    line = next((ln for ln in output.stdout.splitlines() if ln.startswith(nonce)), None)
    if line is None:
        reason = output.summary()
        tail = output.stderr.strip().splitlines()[-3:]
        problem = f"the notebook runner gave no result ({reason})" + (
            ": " + " | ".join(tail) if tail else ""
        )
        return NotebookRun(output, [], problem)
    try:
        data = json.loads(line[len(nonce) :])
    except json.JSONDecodeError:
        return NotebookRun(output, [], "the notebook runner's result is not readable")
    return NotebookRun(output, list(data.get("notebooks", [])))
