"""First evaluation: the saved baseline network on the held-out test set.

Writes accuracy, macro precision / recall / F1 and the confusion matrix to
``results/metrics.json`` and prints them. Run train.py first.

Usage: python evaluate.py
"""

from __future__ import annotations

import json

import torch
from digits_model import MODEL_FILE, ROOT, BaselineMLP, load_split
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

RESULTS_FILE = ROOT / "results" / "metrics.json"


def main() -> None:
    if not MODEL_FILE.exists():
        raise SystemExit(f"{MODEL_FILE} not found: run `python train.py` first")
    model = BaselineMLP()
    model.load_state_dict(torch.load(MODEL_FILE, weights_only=True))
    model.eval()
    test_x, test_y = load_split("test")
    with torch.no_grad():
        predicted = model(test_x).argmax(dim=1).numpy()
    truth = test_y.numpy()
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth, predicted, average="macro", zero_division=0
    )
    metrics = {
        "split": "test",
        "images": int(len(truth)),
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "precision_macro": round(float(precision), 4),
        "recall_macro": round(float(recall), 4),
        "f1_macro": round(float(f1), 4),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=list(range(10))).tolist(),
    }
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro"):
        print(f"test {key}: {metrics[key]:.4f}")
    print(f"wrote {RESULTS_FILE}")


if __name__ == "__main__":
    main()
