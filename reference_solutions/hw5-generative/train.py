"""Train the VAE on one class's images; write generator.pt and training.log.

python train.py --data data/horse.npy --epochs 30
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np
import torch
from model import VAE, vae_loss

log = logging.getLogger("train")
EPOCHS = int(os.environ.get("EPOCHS", "30"))  # the grader's smoke rerun sets EPOCHS=1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/horse.npy"))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--out", type=Path, default=Path("generator.pt"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s",
                        handlers=[logging.StreamHandler(), logging.FileHandler("training.log", "w")])  # fmt: skip
    torch.manual_seed(0)
    images = torch.from_numpy(np.load(args.data)).float()
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for batch in torch.randperm(len(images)).split(64):
            x = images[batch]
            reconstruction, mean, log_var = model(x)
            loss = vae_loss(x, reconstruction, mean, log_var)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        log.info("Epoch %d/%d - loss: %.4f", epoch, args.epochs, total / len(images))
    torch.save(model.state_dict(), args.out)
    log.info("Wrote %s", args.out)


if __name__ == "__main__":
    main()
