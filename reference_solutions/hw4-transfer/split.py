"""Split the downloaded images into training, validation and test folders.

Reads ``<src>/<class>/*.jpg`` (what ``download.py`` writes), shuffles each class with a
fixed seed and copies 400 / 100 / 100 images per class into

    <dst>/train/<class>/   <dst>/val/<class>/   <dst>/test/<class>/

It also writes ``<dst>/split.csv`` (path, split, label): the record of which image went
where. The same input and seed always give the same split, and no image is in two splits.

Usage:
    python split.py --src downloads --dst data --counts 400 100 100 --seed 0
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def split_class(
    images: list[Path], counts: tuple[int, int, int], seed: int
) -> dict[str, list[Path]]:
    """Deterministically assign ``counts`` images of one class to the three splits."""
    needed = sum(counts)
    if len(images) < needed:
        raise ValueError(f"{len(images)} images, {needed} needed")
    ordered = sorted(images)  # a fixed order first, so the shuffle depends on the seed only
    random.Random(seed).shuffle(ordered)
    out, start = {}, 0
    for split, count in zip(SPLITS, counts, strict=True):
        out[split] = ordered[start : start + count]
        start += count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("downloads"), help="<src>/<class>/*.jpg")
    parser.add_argument("--dst", type=Path, default=Path("data"), help="output folder")
    parser.add_argument("--counts", type=int, nargs=3, default=[400, 100, 100],
                        metavar=("TRAIN", "VAL", "TEST"), help="images per class per split")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    classes = sorted(p for p in args.src.iterdir() if p.is_dir()) if args.src.is_dir() else []
    if len(classes) < 2:
        raise SystemExit(f"error: {args.src} needs one folder per class (found {len(classes)})")
    rows = []
    for class_dir in classes:
        images = [p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        try:
            assigned = split_class(images, tuple(args.counts), args.seed)
        except ValueError as exc:
            raise SystemExit(f"error: {class_dir}: {exc}; download more images") from None
        for split, files in assigned.items():
            target = args.dst / split / class_dir.name
            target.mkdir(parents=True, exist_ok=True)
            for image in files:
                shutil.copy2(image, target / image.name)
                rows.append((f"{split}/{class_dir.name}/{image.name}", split, class_dir.name))
        print(f"{class_dir.name}: " + ", ".join(f"{s} {len(f)}" for s, f in assigned.items()))
    with (args.dst / "split.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "split", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} images and {args.dst / 'split.csv'}")


if __name__ == "__main__":
    main()
