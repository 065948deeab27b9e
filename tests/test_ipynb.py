"""grader.ipynb: notebooks read as nbformat.reads(as_version=4) reads them, without nbformat."""

from __future__ import annotations

import json

import pytest

from grader.ipynb import NotebookError, read_notebook

V4 = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "cells": [
        {
            "cell_type": "markdown",
            "id": "m1",
            "metadata": {},
            "source": ["# Hőmérséklet\n", "okt. 28: 9.5 C"],
        },
        {
            "cell_type": "code",
            "id": "c1",
            "execution_count": 2,
            "metadata": {},
            "source": ["print('a')\n", "pred"],
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]},
                {
                    "output_type": "execute_result",
                    "execution_count": 2,
                    "metadata": {},
                    "data": {"text/plain": ["9.5", "\n"], "application/json": {"a": [1, 2]}},
                },
                {
                    "output_type": "error",
                    "ename": "ValueError",
                    "evalue": "x",
                    "traceback": ["Traceback"],
                },
            ],
        },
    ],
}

V3 = {
    "nbformat": 3,
    "nbformat_minor": 0,
    "metadata": {"name": "old"},
    "worksheets": [
        {
            "cells": [
                {"cell_type": "heading", "level": 2, "source": ["Results"]},
                {
                    "cell_type": "code",
                    "input": ["x = 1\n", "x"],
                    "prompt_number": 3,
                    "language": "python",
                    "outputs": [
                        {"output_type": "stream", "stream": "stdout", "text": ["hi\n"]},
                        {"output_type": "pyout", "prompt_number": 3, "text": ["1"], "png": "iVBO"},
                        {"output_type": "pyerr", "ename": "KeyError", "evalue": "'k'"},
                    ],
                },
            ]
        }
    ],
}


def test_a_format_4_notebook_reads_as_nbformat_reads_it():
    nbformat = pytest.importorskip("nbformat", reason="nbformat comes with the dev extra")
    text = json.dumps(V4, ensure_ascii=False)
    ours, theirs = read_notebook(text), nbformat.reads(text, as_version=4)
    assert [dict(c) for c in ours.cells] == [dict(c) for c in theirs.cells]
    assert ours.cells[1].outputs[1].data["text/plain"] == "9.5\n"
    assert ours.cells[1].source == "print('a')\npred"


def test_a_format_3_notebook_is_converted_to_the_format_4_shape():
    nb = read_notebook(json.dumps(V3))
    heading, code = nb.cells
    assert (heading.cell_type, heading.source) == ("markdown", "## Results")
    assert code.source == "x = 1\nx" and code.execution_count == 3
    stream, result, error = code.outputs
    assert (stream.output_type, stream.name, stream.text) == ("stream", "stdout", "hi\n")
    assert result.output_type == "execute_result"
    assert result.data == {"text/plain": "1", "image/png": "iVBO"}
    assert error.output_type == "error" and error.ename == "KeyError"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{ not json", "not valid JSON"),
        ("[1, 2]", "no 'nbformat'"),
        ('{"nbformat": 2, "cells": []}', "format 2"),
        ('{"nbformat": 4, "cells": {}}', "'cells' is not a list"),
        ('{"nbformat": 4, "cells": [7]}', "a cell is int"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_what_is_not_a_notebook_says_why(text, reason):
    with pytest.raises(NotebookError, match=reason):
        read_notebook(text)


def test_attribute_access_reads_keys_and_missing_ones_are_attribute_errors():
    nb = read_notebook(json.dumps(V4))
    assert nb.metadata.kernelspec.name == "python3"
    with pytest.raises(AttributeError):
        _ = nb.cells[0].outputs  # a markdown cell has none
