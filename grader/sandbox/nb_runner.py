"""Executes notebooks with nbclient. Runs INSIDE the sandbox, as a standalone script.

Usage: python nb_runner.py OUT_DIR CELL_TIMEOUT OUTPUT_LIMIT NOTEBOOK...  (nonce on stdin)

Each cell has a timeout; a cell that runs over is interrupted and execution goes on. A cell
error or a dead kernel is recorded, never hidden. Each cell's outputs are capped at
OUTPUT_LIMIT bytes. The executed notebooks go to OUT_DIR; the summary is printed as one
JSON line prefixed with the nonce read from stdin.

The notebook's kernel is a child of this runner, under the same uid, and must not be able
to forge that line: the runner makes itself non-dumpable before reading the nonce (so the
kernel can read neither its memory through /proc/PPID/mem nor its descriptors through
/proc/PPID/fd), and starts the kernel with its output going to /dev/null instead of the
runner's stdout. A kernel that kills the runner leaves no summary, which is a failure.
This file imports nothing of the grader: the grader is not visible inside the sandbox.
"""

import contextlib
import ctypes
import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most ``output_limit`` bytes of output per cell."""

    def __init__(self, nb, output_limit, **kwargs):
        super().__init__(nb, **kwargs)
        self.output_limit = output_limit
        self.cell_bytes = {}
        self.capped = set()
        self.started = {}
        self.ended = {}

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        used = self.cell_bytes.get(cell_index, 0) + size
        self.cell_bytes[cell_index] = used
        if used > self.output_limit:
            if cell_index not in self.capped:
                self.capped.add(cell_index)
                note = f"[output beyond {self.output_limit} bytes left out by the grader]\n"
                outs.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            return None
        return super().output(outs, msg, display_id, cell_index)


def run_one(path, out_dir, cell_timeout, output_limit):
    nb = nbformat.read(path, as_version=4)
    result = {"path": str(path), "cells": [], "dead_kernel": False, "error": None}
    client = CappedClient(
        nb,
        output_limit,
        timeout=cell_timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
        record_timing=True,
    )
    timing = {}

    def before(cell, cell_index, **_):
        timing[cell_index] = time.monotonic()

    code_numbers = {}  # cell index -> its number among the code cells (Markdown not counted)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            code_numbers[index] = len(code_numbers) + 1

    def after(cell, cell_index, execute_reply, **_):
        elapsed = time.monotonic() - timing.get(cell_index, time.monotonic())
        content = (execute_reply or {}).get("content", {})
        entry = {
            "cell": cell_index + 1,
            "code_cell": code_numbers.get(cell_index),
            "seconds": round(elapsed, 3),
            "status": "ok",
        }
        if content.get("status") == "error":
            entry["status"] = "error"
            entry["ename"] = content.get("ename", "")
            entry["evalue"] = str(content.get("evalue", ""))[:300]
        if elapsed >= cell_timeout - 0.05 and entry.get("ename") in ("KeyboardInterrupt", None):
            entry["status"] = "timeout"
        if cell_index in client.capped:
            entry["output_capped"] = True
        result["cells"].append(entry)

    client.on_cell_execute = before
    client.on_cell_executed = after
    start = time.monotonic()
    try:
        # the kernel writes nowhere near our stdout: its messages come over its channels
        client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except DeadKernelError as exc:
        result["dead_kernel"] = True
        result["error"] = f"the kernel died: {exc}"[:500]
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never hidden
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    result["seconds"] = round(time.monotonic() - start, 3)
    target = Path(out_dir) / str(path).replace("/", "__")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
    result["executed"] = str(target)
    return result


def non_dumpable():
    """PR_SET_DUMPABLE 0: processes of our uid cannot ptrace us or open /proc/<us>/mem|fd."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)


def main(argv):
    non_dumpable()
    nonce = sys.stdin.readline().strip()
    out_dir, cell_timeout, output_limit = argv[0], float(argv[1]), int(argv[2])
    results = [run_one(p, out_dir, cell_timeout, output_limit) for p in argv[3:]]
    sys.stdout.write("\n" + nonce + json.dumps({"notebooks": results}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
