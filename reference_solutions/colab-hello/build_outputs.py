"""Store fresh outputs in colab_hello.ipynb by executing it offline (instructor's builder).

    python build_outputs.py

The grader's machines have no network and no copy of CIFAR-10, so the notebook is run
against a small stand-in written in the real on-disk format (``cifar-10-batches-py``:
pickled dicts with ``b'data'``, uint8 of shape (N, 3072), and ``b'labels'``), with
synthetic pictures instead of photographs. The stored outputs therefore show the stand-in's
shapes and picture; in Colab the same notebook reads or downloads the real dataset.
Needs nbclient, ipykernel, numpy and matplotlib. Not part of the student's submission.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE / "colab_hello.ipynb"


def synthetic_images(count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """(count, 3072) uint8 rows in CIFAR-10 order (all red, then green, then blue values)."""
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    rows, labels = [], []
    for _ in range(count):
        label = int(rng.integers(0, 10))
        background = rng.uniform(0, 255, size=3)[:, None, None] * (0.4 + 0.6 * yy)
        cy, cx, radius = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3)
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < radius**2
        image = np.where(blob, rng.uniform(0, 255, size=3)[:, None, None], background)
        rows.append(np.clip(image, 0, 255).astype(np.uint8).reshape(-1))
        labels.append(label)
    return np.stack(rows), labels


def write_cache(folder: Path, per_batch: int = 50, seed: int = 12) -> Path:
    """A CIFAR-10 cache in the real format: data_batch_1..5 and test_batch."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = synthetic_images(per_batch, rng)
        batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data}
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    return folder


def main() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        cache = write_cache(Path(tmp) / "cifar-10-batches-py")
        os.environ["CIFAR10_DIR"] = str(cache)
        client = NotebookClient(notebook, timeout=300, kernel_name="python3", record_timing=False)
        client.execute()
    nbformat.write(notebook, NOTEBOOK)
    print(f"stored fresh outputs in {NOTEBOOK}")


if __name__ == "__main__":
    main()
