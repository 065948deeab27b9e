"""Generate a small two-class image dataset offline: circles versus squares.

It stands in for the Open Images download when there is no network (tests, CI, a quick
try of the training code). The images land in the same layout that ``split.py`` writes:

    data/train/circle/*.png   data/val/circle/*.png   data/test/circle/*.png
    data/train/square/*.png   ...

Every image has a random blotchy background, random noise and one shape of a random
colour, size and position, so no two images are alike (not even to a perceptual hash).

Usage:
    python make_shapes.py --out data --train 400 --val 100 --test 100 --size 32
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square")


def make_image(kind: str, size: int, rng: random.Random) -> Image.Image:
    """One RGB image of ``size`` x ``size`` pixels showing a circle or a square."""
    nprng = np.random.default_rng(rng.getrandbits(32))
    # a background of smooth random colour blotches: a coarse random grid scaled up, so
    # the low frequencies (what a perceptual hash looks at) differ from image to image
    coarse = nprng.uniform(0, 255, (6, 6, 3)).astype(np.uint8)
    background = Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(background, dtype=np.float32)
    pixels = pixels + nprng.normal(0, 10, pixels.shape)  # sensor-like noise
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    extent = rng.uniform(0.3, 0.6) * size
    left = rng.uniform(0, size - extent)
    top = rng.uniform(0, size - extent)
    box = (left, top, left + extent, top + extent)
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    if kind == "circle":
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    return image


def generate(out: Path, counts: dict[str, int], size: int, seed: int) -> int:
    """Write ``counts[split]`` images per class into ``out/<split>/<class>/``; returns the
    number written. The same seed always gives the same images."""
    rng = random.Random(seed)
    written = 0
    for split, count in counts.items():
        for kind in CLASSES:
            folder = out / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                make_image(kind, size, rng).save(folder / f"{kind}_{split}_{index:04d}.png")
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data"), help="output folder")
    parser.add_argument("--train", type=int, default=400, help="training images per class")
    parser.add_argument("--val", type=int, default=100, help="validation images per class")
    parser.add_argument("--test", type=int, default=100, help="test images per class")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args()
    if min(args.train, args.val, args.test) < 0 or args.size < 8:
        parser.error("counts must be >= 0 and --size at least 8")
    counts = {"train": args.train, "val": args.val, "test": args.test}
    written = generate(args.out, counts, args.size, args.seed)
    print(f"wrote {written} images to {args.out}/{{train,val,test}}/{{{','.join(CLASSES)}}}/")


if __name__ == "__main__":
    main()
