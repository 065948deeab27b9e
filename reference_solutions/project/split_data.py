"""Preparation for training: a stratified train / validation / test split.

Reads ``data/raw/digits.csv`` (see acquire_data.py) and writes ``data/train.csv``,
``data/val.csv`` and ``data/test.csv`` (70% / 15% / 15%). Every digit keeps the same share
in the three sets, and the seed makes the split reproducible.

Usage: python split_data.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent
RAW_FILE = ROOT / "data" / "raw" / "digits.csv"
SEED = 2020


def read_rows(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = np.array([[int(value) for value in row] for row in reader])
    return header, rows


def write_rows(path: Path, header: list[str], rows: np.ndarray) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows.tolist())


def main() -> None:
    header, rows = read_rows(RAW_FILE)
    labels = rows[:, 0]
    # first hold out 30%, then halve it into validation and test sets
    train, rest = train_test_split(rows, test_size=0.3, stratify=labels, random_state=SEED)
    val, test = train_test_split(rest, test_size=0.5, stratify=rest[:, 0], random_state=SEED)
    for name, part in (("train", train), ("val", val), ("test", test)):
        write_rows(ROOT / "data" / f"{name}.csv", header, part)
        counts = np.bincount(part[:, 0], minlength=10)
        print(f"{name}: {len(part)} images, per digit {counts.tolist()}")


if __name__ == "__main__":
    main()
