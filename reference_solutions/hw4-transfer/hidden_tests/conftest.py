"""Hidden images for the hw4 model test: ``hidden_data/<category>/*`` in the instructor's
directory (real Open Images test images of the categories students chose), or, when that
folder does not exist, generated circles and squares (the offline stand-in categories of
``make_shapes.py``) with a seed no student has seen."""

import random
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hidden_images(submission, tmp_path_factory):
    """{category: [image paths]} of the instructor's hidden test images."""
    folder = Path(submission.get("hidden_data") or "/nonexistent")
    if not folder.is_dir():
        folder = tmp_path_factory.mktemp("hidden_shapes")
        sys.path.insert(0, str(Path(submission["hidden_data"]).parent))  # make_shapes.py
        from make_shapes import CLASSES, make_image

        rng = random.Random(20201110)
        for kind in CLASSES:
            (folder / kind).mkdir()
            for index in range(20):
                make_image(kind, 64, rng).save(folder / kind / f"{index:03d}.png")
    return {d.name: sorted(d.iterdir()) for d in sorted(folder.iterdir()) if d.is_dir()}
