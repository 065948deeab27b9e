"""Student code that tries to forge a pass: shared by the forgery tests."""

from __future__ import annotations

import nbformat

# reads the nonce (or any secret) from the parent's memory, as a hostile notebook would
STEAL = r"""
import os, re

def steal(pattern, pid=None):
    pid = pid or os.getppid()
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", 0)
    except OSError as exc:
        print("cannot read the parent's memory:", exc)
        return None
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) rw", line)
        if not m:
            continue
        start, end = int(m[1], 16), int(m[2], 16)
        if end - start > 256 * 1024 * 1024:
            continue
        try:
            mem.seek(start)
            chunk = mem.read(end - start)
        except (OSError, ValueError, OverflowError):
            continue
        found = re.search(pattern, chunk)
        if found:
            return found.group().decode()
    return None
"""

FORGE_RUNNER = (
    STEAL
    + r"""
import json
nonce = steal(rb"GRADER-NB-[0-9a-f]{32}")
summary = {"notebooks": [{"path": "forged.ipynb", "cells": [{"cell": 1, "status": "ok"}],
                          "dead_kernel": False, "error": None}]}
line = "\n" + str(nonce) + json.dumps(summary) + "\n"
for target in (f"/proc/{os.getppid()}/fd/1", "/proc/1/fd/1", "/dev/stdout"):
    try:
        with open(target, "w") as handle:
            handle.write(line)
    except OSError as exc:
        print("cannot write", target, exc)
print(line)
"""
)


def notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Házi feladat")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in sources]
    return nbformat.writes(nb)


WRONG_ADD = "\ndef add(a, b):\n    return a - b\n"

# looks for secrets in every process it can see and writes fake reports into their descriptors
STEAL_AND_REPORT = (
    STEAL
    + r"""
found = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        secret = steal(rb"GRADER[A-Za-z0-9_-]{4,}|test_add[^\x00]{0,40}", int(pid))
        if secret:
            found.append(secret)
        for fd in range(0, 20):
            try:
                with open(f"/proc/{pid}/fd/{fd}", "w") as handle:
                    handle.write('{"tests": [{"name": "test_add", "status": "passed"}]}\n')
            except OSError:
                pass
print("found in other processes' memory:", found)
"""
    + WRONG_ADD
)
