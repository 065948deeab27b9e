"""Synthetic stand-ins for CIFAR-10's ten classes: 32 x 32 colour images, made offline.

Each class has its own background and object colours and object shape, with random
position, size, colour jitter and noise, so a generator can learn "a class" and a simple
classifier can tell the classes apart. Used by the reference solution's training (no
network, no dataset) and by the instructor's classifier stand-in.

Usage:
    python make_class_images.py --cls horse --n 600 --out data/horse.npy
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")  # fmt: skip
# (background RGB, object RGB, shape) per class
LOOK = {
    "airplane": ((0.55, 0.75, 0.95), (0.75, 0.75, 0.78), "wide"),
    "automobile": ((0.45, 0.45, 0.45), (0.85, 0.15, 0.15), "box"),
    "bird": ((0.60, 0.80, 0.95), (0.55, 0.35, 0.20), "blob"),
    "cat": ((0.80, 0.70, 0.55), (0.35, 0.30, 0.28), "blob"),
    "deer": ((0.35, 0.55, 0.25), (0.60, 0.45, 0.30), "tall"),
    "dog": ((0.75, 0.75, 0.65), (0.70, 0.55, 0.35), "blob"),
    "frog": ((0.30, 0.45, 0.20), (0.35, 0.75, 0.25), "blob"),
    "horse": ((0.40, 0.65, 0.30), (0.45, 0.28, 0.15), "tall"),
    "ship": ((0.15, 0.35, 0.65), (0.90, 0.90, 0.92), "wide"),
    "truck": ((0.50, 0.50, 0.48), (0.20, 0.35, 0.75), "box"),
}


def make_images(cls: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` images of ``cls`` as float32 in [0, 1], shape (n, 32, 32, 3)."""
    background, colour, shape = LOOK[cls]
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    out = np.empty((n, 32, 32, 3), dtype=np.float32)
    for i in range(n):
        image = np.array(background) * rng.uniform(0.85, 1.15) + rng.normal(0, 0.04, 3)
        image = np.broadcast_to(image, (32, 32, 3)).copy()
        image += (yy[..., None] - 0.5) * rng.uniform(-0.2, 0.2)  # a soft gradient
        cx, cy = rng.uniform(0.3, 0.7, 2)
        w, h = rng.uniform(0.15, 0.3, 2)
        if shape == "wide":
            w, h = w * 1.6, h * 0.6
        elif shape == "tall":
            w, h = w * 0.8, h * 1.4
        if shape == "box":
            mask = (np.abs(xx - cx) < w) & (np.abs(yy - cy) < h * 0.7)
        else:
            mask = ((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2 < 1
        tint = np.array(colour) * rng.uniform(0.8, 1.2) + rng.normal(0, 0.05, 3)
        image[mask] = tint
        image += rng.normal(0, 0.03, image.shape)
        out[i] = np.clip(image, 0.0, 1.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cls", choices=CLASSES, default="horse")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("data/images.npy"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, make_images(args.cls, args.n, args.seed))
    print(f"wrote {args.n} {args.cls} images to {args.out}")


if __name__ == "__main__":
    main()
