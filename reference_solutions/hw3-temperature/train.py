"""Train a feed-forward network that forecasts Budapest's daily mean temperature
1 day, 1 week and 1 month ahead of 2020-10-27 (for 2020-10-28, 2020-11-03, 2020-11-24).

Inputs of one sample (the forecast is made at the end of day t):
- the daily mean temperatures of the last `--window` days (t-window+1 .. t), normalised;
- the day of the year of t as sine and cosine (where in the seasonal cycle we are).
Outputs: the temperatures of days t+1, t+7 and t+28, normalised (one network, 3 outputs).

Splits are by time, never shuffled across it: the last 365 forecast origins (whose
targets are all known by 2020-10-27) are the test set, the 365 before them validation,
everything earlier training. Only data up to 2020-10-27 is used at all.

    python train.py --data data/budapest_daily.csv --epochs 50 --out outputs

Writes into --out: training_data.csv (the data used, up to 2020-10-27), predictions.csv
(date,predicted_celsius), training.log (one line per epoch, then the test MAE) and
metrics.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import torch
from data import DailySeries, DataError, load_daily
from torch import nn

ORIGIN = date(2020, 10, 27)  # the homework's deadline: the last day whose data we may use
HORIZONS = {"1 day": 1, "1 week": 7, "1 month": 28}  # days ahead of the origin
SPLIT_DAYS = 365  # forecast origins in the test set, and in the validation set


def set_seed(seed: int) -> None:
    """Make a run repeatable: the same data and seed give the same predictions."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def features(series: DailySeries, origin_index: int, window: int, mean: float, std: float):
    """The input vector for a forecast made at the end of day ``origin_index``."""
    history = (series.values[origin_index - window + 1 : origin_index + 1] - mean) / std
    day = series.dates[origin_index].timetuple().tm_yday
    angle = 2 * math.pi * day / 365.25
    return np.concatenate([history, [math.sin(angle), math.cos(angle)]]).astype(np.float32)


def make_samples(series: DailySeries, window: int, mean: float, std: float):
    """Every origin with a full window behind it and all three targets known."""
    longest = max(HORIZONS.values())
    origins = list(range(window - 1, len(series.values) - longest))
    x = np.stack([features(series, i, window, mean, std) for i in origins])
    y = np.stack(
        [[(series.values[i + h] - mean) / std for h in HORIZONS.values()] for i in origins]
    ).astype(np.float32)
    return x, y


class Forecaster(nn.Module):
    """A plain multi-layer perceptron: window + 2 inputs -> 3 forecasts."""

    def __init__(self, inputs: int, hidden: int, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(inputs, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, len(HORIZONS)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def mae_celsius(model: nn.Module, x: torch.Tensor, y: torch.Tensor, std: float) -> list[float]:
    """Mean absolute error per horizon, in °C."""
    model.eval()
    with torch.no_grad():
        error = (model(x) - y).abs().mean(dim=0) * std
    return [float(e) for e in error]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Budapest temperature forecast (MLP)")
    parser.add_argument("--data", type=Path, default=Path("data/budapest_daily.csv"))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("outputs"))
    parser.add_argument("--window", type=int, default=28, help="days of history per sample")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    set_seed(args.seed)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    try:
        series = load_daily(args.data).until(ORIGIN)  # never look past the origin
    except DataError as exc:
        sys.exit(f"error: {exc}")
    if series.dates[-1] != ORIGIN:
        sys.exit(f"error: {args.data} ends on {series.dates[-1]}; it must reach {ORIGIN}")
    args.out.mkdir(parents=True, exist_ok=True)

    # record exactly the training data used (the homework asks for it to be committed)
    lines = ["# SYNTHETIC data (not real observations)"] if series.synthetic else []
    lines += ["date,mean_celsius"]
    lines += [f"{d.isoformat()},{t:.1f}" for d, t in zip(series.dates, series.values, strict=True)]
    (args.out / "training_data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    # normalisation statistics from the training part only (no peeking at val/test)
    train_end = len(series.values) - 2 * SPLIT_DAYS - max(HORIZONS.values())
    if train_end < args.window + 365:
        sys.exit(f"error: {args.data} is too short; give it at least 3 years of days")
    mean = float(series.values[:train_end].mean())
    std = float(series.values[:train_end].std())
    x, y = make_samples(series, args.window, mean, std)
    n_test = n_val = SPLIT_DAYS
    n_train = len(x) - n_val - n_test
    parts = {
        "train": (x[:n_train], y[:n_train]),
        "val": (x[n_train : n_train + n_val], y[n_train : n_train + n_val]),
        "test": (x[n_train + n_val :], y[n_train + n_val :]),
    }
    tensors = {k: (torch.from_numpy(a).to(device), torch.from_numpy(b).to(device))
               for k, (a, b) in parts.items()}  # fmt: skip

    model = Forecaster(x.shape[1], args.hidden).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(args.seed)
    log_lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        log_lines.append(line)

    log(f"data: {args.data} ({'SYNTHETIC' if series.synthetic else 'real'}), "
        f"{series.dates[0]} .. {series.dates[-1]}, {len(series.dates)} days; device: {device}")  # fmt: skip
    log(f"samples: train {n_train}, val {n_val}, test {n_test}; window {args.window} days")
    best_val, best_state = math.inf, None
    x_train, y_train = tensors["train"]
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(n_train, generator=generator).to(device)
        total = 0.0
        for start in range(0, n_train, args.batch_size):
            batch = order[start : start + args.batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(model(tensors["val"][0]), tensors["val"][1]))
        log(f"epoch {epoch}/{args.epochs} - loss: {total / n_train:.4f} - val_loss: {val_loss:.4f}")
        if val_loss < best_val:  # keep the weights that did best on validation
            best_val = val_loss
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)

    test_mae = mae_celsius(model, *tensors["test"], std)
    # a baseline to beat: "the temperature stays what it was on the origin day"
    last_seen = tensors["test"][0][:, args.window - 1 : args.window]
    persistence = [float(e) for e in ((tensors["test"][1] - last_seen).abs().mean(dim=0) * std)]
    names = list(HORIZONS)
    detail = ", ".join(f"{n}: {e:.2f}" for n, e in zip(names, test_mae, strict=True))
    log(f"test_mae: {sum(test_mae) / len(test_mae):.4f} ({detail}) °C")

    # the forecast itself, from the last `window` days up to the origin
    model.eval()
    with torch.no_grad():
        inputs = torch.from_numpy(features(series, len(series.values) - 1, args.window, mean, std))
        predicted = model(inputs.unsqueeze(0).to(device))[0].cpu().numpy() * std + mean
    rows = ["date,predicted_celsius"]
    for (name, ahead), value in zip(HORIZONS.items(), predicted, strict=True):
        target = ORIGIN + timedelta(days=ahead)
        rows.append(f"{target.isoformat()},{value:.1f}")
        print(f"forecast {name} ahead ({target}): {value:.1f} °C")
    (args.out / "predictions.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (args.out / "training.log").write_text("\n".join(log_lines) + "\n", encoding="utf-8")
    metrics = {
        "data": str(args.data), "synthetic": series.synthetic, "device": str(device),
        "seed": args.seed, "epochs": args.epochs, "window": args.window,
        "first_date": series.dates[0].isoformat(), "last_date": series.dates[-1].isoformat(),
        "filled_days": series.filled_days, "best_val_loss": round(best_val, 6),
        "test_mae_celsius": {n: round(e, 4) for n, e in zip(names, test_mae, strict=True)},
        "test_mae_mean_celsius": round(sum(test_mae) / len(test_mae), 4),
        "persistence_mae_celsius": {n: round(e, 4) for n, e in zip(names, persistence, strict=True)},
    }  # fmt: skip
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(f"outputs in {args.out}/")


if __name__ == "__main__":
    main()
