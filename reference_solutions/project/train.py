"""Baseline training: a small fully connected network on the training set.

Each epoch's training and validation loss and accuracy are printed and written to
``logs/train.log``; the weights of the epoch with the best validation accuracy are saved to
``models/baseline.pt`` for evaluate.py.

Usage: python train.py [--epochs 30] [--lr 0.001] [--batch-size 64]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from digits_model import MODEL_FILE, ROOT, BaselineMLP, load_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LOG_FILE = ROOT / "logs" / "train.log"
SEED = 2020


def evaluate(model: nn.Module, features: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of the model on a whole split."""
    model.eval()
    with torch.no_grad():
        scores = model(features)
        loss = nn.functional.cross_entropy(scores, labels).item()
        accuracy = (scores.argmax(dim=1) == labels).float().mean().item()
    return loss, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # the grader's smoke rerun sets EPOCHS=1 (see the project spec); a plain run trains 30
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("EPOCHS", 30)))
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    torch.manual_seed(SEED)
    train_x, train_y = load_split("train")
    val_x, val_y = load_split("val")
    loader = DataLoader(TensorDataset(train_x, train_y), batch_size=args.batch_size, shuffle=True)
    model = BaselineMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
    best_accuracy = -1.0
    started = time.perf_counter()
    with LOG_FILE.open("w", encoding="utf-8") as log:

        def say(line: str) -> None:
            print(line)
            log.write(line + "\n")

        say(f"Training on {len(train_y)} images, validating on {len(val_y)} images")
        say(f"Settings: epochs={args.epochs} lr={args.lr} batch_size={args.batch_size}")
        for epoch in range(1, args.epochs + 1):
            model.train()
            for images, labels in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(images), labels)
                loss.backward()
                optimizer.step()
            train_loss, train_accuracy = evaluate(model, train_x, train_y)
            val_loss, val_accuracy = evaluate(model, val_x, val_y)
            say(
                f"Epoch {epoch}/{args.epochs} - loss: {train_loss:.4f} - accuracy: "
                f"{train_accuracy:.4f} - val_loss: {val_loss:.4f} - val_accuracy: {val_accuracy:.4f}"
            )
            if val_accuracy > best_accuracy:
                best_accuracy = val_accuracy
                torch.save(model.state_dict(), MODEL_FILE)
        say(f"Best validation accuracy: {best_accuracy:.4f}")
        say(f"Training took {time.perf_counter() - started:.1f} seconds; model saved")


if __name__ == "__main__":
    main()
