"""Write the student's template (student/homework.ipynb) and the solution
(solution/homework.ipynb) of the example notebook assignment."""

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
QUESTIONS = [
    ("## Question 1 (2 points)\nWrite `sigmoid(x)`, elementwise for numbers and numpy arrays.",
     "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))"),
    ("## Question 2 (2 points)\nWrite `accuracy(y_true, y_pred)`: the share of equal labels.",
     "def accuracy(y_true, y_pred):\n    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))"),
    ("## Question 3 (1 point)\nWrite `confusion(y_true, y_pred)` for 0/1 labels: a 2 x 2 "
     "array, rows the true label, columns the predicted one.",
     "def confusion(y_true, y_pred):\n    matrix = np.zeros((2, 2), dtype=int)\n"
     "    for t, p in zip(y_true, y_pred, strict=True):\n        matrix[t, p] += 1\n    return matrix"),
]  # fmt: skip


def notebook(solved: bool) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Homework: a first classifier's pieces"),
                nbformat.v4.new_code_cell("import numpy as np")]  # fmt: skip
    for text, answer in QUESTIONS:
        name = answer.split("(")[0].removeprefix("def ")
        stub = f"def {name}{answer[len('def ') + len(name) :].split(':')[0]}:\n    ...  # your code"
        nb.cells += [nbformat.v4.new_markdown_cell(text),
                     nbformat.v4.new_code_cell(answer if solved else stub)]  # fmt: skip
    return nb


if __name__ == "__main__":
    for folder, solved in (("student", False), ("solution", True)):
        (HERE / folder).mkdir(exist_ok=True)
        nbformat.write(notebook(solved), HERE / folder / "homework.ipynb")
