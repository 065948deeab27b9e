"""Student work as it really looks (issue 10, part A), written from descriptions of real hw3
and hw4 submissions of the course: several homeworks in one repository, odd file names,
Hungarian words, notebooks whose cells ran out of order, values printed from arrays.

    nb = notebook([md("# Hőmérséklet"), code("print(x)", "[12.1]", count=7)])
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import nbformat

from grader.testing import git_save, make_bare

ON_TIME = "2020-10-26T21:14:00+01:00"


def md(text: str) -> Any:
    return nbformat.v4.new_markdown_cell(text)


def code(source: str, *outputs: str | dict, count: int | None = None) -> Any:
    """A code cell; each output is stream text (str) or an execute result ({mime: text})."""
    cell = nbformat.v4.new_code_cell(source)
    cell.execution_count = count
    for output in outputs:
        if isinstance(output, str):
            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=output))
        else:
            cell.outputs.append(
                nbformat.v4.new_output("execute_result", data=output, execution_count=count)
            )
    return cell


def notebook(cells: list[Any]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = cells
    return nbformat.writes(nb)


def weather_rows(last: date, count: int, fmt: str = "{iso},{t}") -> list[str]:
    """Daily rows ending on ``last`` (oldest first): ``{iso}``, ``{dots}`` (2020.10.21),
    ``{y}``/``{m}``/``{d}``, ``{ts}`` (Unix seconds at UTC midnight), ``{t}`` (°C)."""
    rows = []
    for n in range(count):
        day = last - timedelta(days=count - 1 - n)
        stamp = int((day - date(1970, 1, 1)).total_seconds())
        temp = f"{8 + (day.toordinal() % 11) / 2:.1f}"
        rows.append(
            fmt.format(iso=day.isoformat(), dots=day.strftime("%Y.%m.%d"), y=day.year,
                       m=day.month, d=day.day, ts=stamp, t=temp)
        )  # fmt: skip
    return rows


TRAINING_CELL = code(
    "model.fit(X_train, y_train, epochs=3, validation_split=0.1)",
    "Epoch 1/3\n58/58 [==============================] - 0s 2ms/step - loss: 31.2 - val_loss: 9.1\n"
    "Epoch 2/3\n58/58 [==============================] - 0s 2ms/step - loss: 8.7 - val_loss: 6.0\n"
    "Epoch 3/3\n58/58 [==============================] - 0s 2ms/step - loss: 6.1 - val_loss: 5.2\n",
    count=12,
)

OTHER_HOMEWORK = {
    "HF1/HF1_kepek.ipynb": notebook([
        md("# 1. házi feladat: képek"),
        code("print(imgs.mean(axis=(0, 1, 2)))", "[121.3 119.8 101.2]\n", count=4),
    ]),
    "HF2_numpy/hf2.ipynb": notebook([
        md("# HF2 numpy háló (momentum, L1, L2)"),
        code("train()", "epoch 1 loss 0.6931\nepoch 2 loss 0.5120\n", count=2),
    ]),
}  # fmt: skip

README_TOP = """# Deep Learning a gyakorlatban - házi feladatok

- HF1: `HF1/`
- HF2: `HF2_numpy/`
- HF3 (hőmérséklet előrejelzés / temperature forecast): `HF3 - homerseklet/`
"""


def commit_repo(root: Path, files: dict[str, str], when: str = ON_TIME) -> Path:
    """One commit with every file, before the hw3 deadline; returns a bare 'remote'."""
    git_save(root, "HF3 kész", date=when, files=files)
    return make_bare(root)
