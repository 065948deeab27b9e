"""Data acquisition: the UCI "Optical Recognition of Handwritten Digits" dataset.

The dataset (1797 grey-scale 8x8 images of the digits 0-9, 43 writers) ships with
scikit-learn, so no download is needed. This script writes it to ``data/raw/digits.csv``:
one row per image, the label first, then the 64 pixel values (0-16), row by row.

Usage: python acquire_data.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from sklearn.datasets import load_digits

RAW_FILE = Path(__file__).resolve().parent / "data" / "raw" / "digits.csv"


def main() -> None:
    digits = load_digits()
    RAW_FILE.parent.mkdir(parents=True, exist_ok=True)
    with RAW_FILE.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label"] + [f"p{i}" for i in range(digits.data.shape[1])])
        for label, pixels in zip(digits.target, digits.data.astype(int), strict=True):
            writer.writerow([int(label), *pixels.tolist()])
    print(f"wrote {len(digits.target)} images to {RAW_FILE}")


if __name__ == "__main__":
    main()
