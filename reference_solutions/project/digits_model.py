"""Shared pieces of training and evaluation: data loading and the baseline network."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"
MODEL_FILE = ROOT / "models" / "baseline.pt"
MAX_PIXEL = 16.0  # pixel values of the dataset are 0..16


def load_split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images scaled to 0..1 and labels of one split ('train', 'val' or 'test')."""
    with (DATA_DIR / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)  # the header
        rows = np.array([[int(value) for value in row] for row in reader], dtype=np.float32)
    features = torch.from_numpy(rows[:, 1:] / MAX_PIXEL)
    labels = torch.from_numpy(rows[:, 0].astype(np.int64))
    return features, labels


class BaselineMLP(nn.Module):
    """A small fully connected network: 64 pixels -> 128 -> 64 -> 10 digit scores."""

    def __init__(self, hidden: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(64, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, 10),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)
