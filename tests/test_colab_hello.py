"""The ELTE Colab warm-up: the reference notebook runs offline against a CIFAR-10 cache in
the real on-disk format, and its committed version gets full marks through the CLI."""

from __future__ import annotations

import base64
import io
import json
import pickle
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.testing import build_file_tree, git_save, make_bare

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "reference_solutions" / "colab-hello" / "colab_hello.ipynb"
PER_BATCH = 20
RED = (255, 0, 0)


def write_cifar10_cache(folder: Path) -> Path:
    """data_batch_1..5 and test_batch: pickled dicts, b'data' uint8 (N, 3072) channel-first.

    Image 12 of data_batch_1 (so x_train[12]) is pure red; every other image is grey.
    """
    import numpy as np

    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = np.full((PER_BATCH, 3, 32, 32), 128, dtype=np.uint8)
        if name == "data_batch_1":
            data[12] = np.array(RED, dtype=np.uint8)[:, None, None]
        batch = {
            b"batch_label": name.encode(),
            b"labels": [i % 10 for i in range(PER_BATCH)],
            b"data": data.reshape(PER_BATCH, 3072),
            b"filenames": [f"img_{i}.png".encode() for i in range(PER_BATCH)],
        }
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    return folder


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


@pytest.mark.slow
def test_reference_notebook_runs_offline_and_shows_x_train_12(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("ipykernel")
    nbclient = pytest.importorskip("nbclient")
    from PIL import Image

    cache = write_cifar10_cache(tmp_path / "datasets" / "cifar-10-batches-py")
    monkeypatch.setenv("CIFAR10_DIR", str(cache.parent))  # the parent folder works too
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.keras copy to fall back on
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    produced = outputs(notebook)
    assert not [o for o in produced if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in produced if o.output_type == "stream")
    assert "read CIFAR-10 from the local copy" in text
    assert f"training images: ({5 * PER_BATCH}, 32, 32, 3) uint8" in text
    assert f"test images: ({PER_BATCH}, 32, 32, 3) uint8" in text
    images = [o for o in produced if "image/png" in o.get("data", {})]
    assert len(images) == 1
    png = Image.open(io.BytesIO(base64.b64decode(images[0]["data"]["image/png"])))
    width, height = png.size
    assert png.convert("RGB").getpixel((width // 2, height // 2)) == RED  # x_train[12], HWC


def grade(tmp_path: Path, notebook_text: str) -> dict:
    repo = build_file_tree(tmp_path / "student", {"colab_hello.ipynb": notebook_text})
    git_save(repo, "warm-up homework", date="2020-09-18T21:00:00+02:00")
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app, ["grade", "elte-dl-seminar/colab-hello", "--repo", str(make_bare(repo)),
              "--student", "ABC123", "--out", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    return json.loads((out / "ABC123" / "result.json").read_text(encoding="utf-8"))


def test_committed_notebook_gets_full_marks(tmp_path: Path) -> None:
    result = grade(tmp_path, NOTEBOOK.read_text(encoding="utf-8"))
    table = {c["id"]: (c["status"], c["points"]) for c in result["checks"]}
    assert table == {
        "files": ("pass", 1.0),
        "notebooks": ("pass", 2.0),
        "code_pattern": ("pass", 2.0),
        "rerun": ("skipped", 0.0),  # static grading; executing it: test_notebook_exec
    }
    # the rerun is pending (a run with --rerun smoke judges it): in the maximum, not earned
    assert result["checks"][-1]["pending"].startswith("a run with --rerun smoke")
    assert (result["score"], result["max_score"]) == (5.0, 7.0)
    evidence = {c["id"]: c["evidence"] for c in result["checks"]}["code_pattern"]
    shown = [e for e in evidence if "x_train[12]" in e["detail"]]
    assert shown and shown[0]["path"] == "colab_hello.ipynb"
    assert "plt.imshow(x_train[12]" in shown[0]["detail"]


def test_without_a_stored_image_loses_the_notebook_points(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if "image/png" not in o.get("data", {})]
    result = grade(tmp_path, nbformat.writes(notebook))
    by_id = {c["id"]: c for c in result["checks"]}
    assert (by_id["notebooks"]["status"], by_id["notebooks"]["points"]) == ("fail", 0.0)
    assert "no output of type image/png" in by_id["notebooks"]["evidence"][0]["detail"]
    assert result["score"] == 3.0


def test_commented_out_imshow_does_not_count(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "plt.imshow(x_train[12])" in cell.source:
            cell.source = cell.source.replace(
                "plt.imshow(x_train[12])", "# plt.imshow(x_train[12])"
            )
    result = grade(tmp_path, nbformat.writes(notebook))
    check = {c["id"]: c for c in result["checks"]}["code_pattern"]
    assert (check["status"], check["points"]) == ("fail", 1.0)
    assert "x_train[12] is shown with imshow" in check["message"]
