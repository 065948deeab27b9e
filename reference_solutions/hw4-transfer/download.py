"""Download images of two Google Open Images categories (600 per category by default).

How it works (the same index files and image bucket that the official Open Images
``downloader.py`` uses, read with the standard library only):

1. ``class-descriptions-boxable.csv`` maps a readable class name ("Cat") to its label id
   ("/m/01yrx").
2. The human-verified image-level labels of a subset (``train`` by default) are streamed
   line by line; an image is a candidate for a class when a person confirmed the label
   (confidence 1). Images confirmed for both classes are left out, so every image has one
   clear label. Streaming stops as soon as there are enough candidates.
3. Each candidate is fetched from the public ``open-images-dataset`` bucket
   (``https://open-images-dataset.s3.amazonaws.com/<subset>/<ImageID>.jpg``), scaled down
   so that its longer side is at most ``--max-side`` pixels, and saved as
   ``<out>/<class>/<ImageID>.jpg``. Failed downloads are skipped and replaced by the next
   candidate until each class has ``--count`` images.

``<out>/download_manifest.csv`` records the image id, class and source URL of every image.
Then run ``split.py`` to make the 400/100/100 split.

Usage:
    python download.py --classes Cat Dog --count 600 --out downloads
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

INDEX = "https://storage.googleapis.com/openimages/v5"
CLASS_DESCRIPTIONS = f"{INDEX}/class-descriptions-boxable.csv"
LABELS = INDEX + "/{subset}-annotations-human-imagelabels-boxable.csv"
IMAGE_URL = "https://open-images-dataset.s3.amazonaws.com/{subset}/{image_id}.jpg"
TIMEOUT = 30  # seconds per request


class DownloadError(Exception):
    """Something the user must fix (no network, an unknown class name)."""


def open_url(url: str):
    """Open a URL, turning network failures into one clear message."""
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT)  # noqa: S310 (fixed https URLs)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"cannot download {url}: {reason}. This script needs internet access to "
            "storage.googleapis.com and open-images-dataset.s3.amazonaws.com; without it, "
            "use make_shapes.py to generate an offline stand-in dataset."
        ) from None


def label_ids(names: list[str]) -> dict[str, str]:
    """Label id of each class name, e.g. {'/m/01yrx': 'Cat'}; matching ignores case."""
    wanted = {name.lower(): name for name in names}
    found: dict[str, str] = {}
    with open_url(CLASS_DESCRIPTIONS) as response:
        for row in csv.reader(io.TextIOWrapper(response, encoding="utf-8")):
            if len(row) >= 2 and row[1].strip().lower() in wanted:
                found[row[0]] = wanted[row[1].strip().lower()]
    missing = set(wanted.values()) - set(found.values())
    if missing:
        raise DownloadError(
            f"unknown Open Images class(es): {', '.join(sorted(missing))}; see "
            f"{CLASS_DESCRIPTIONS} for the names"
        )
    return found


def candidates(subset: str, labels: dict[str, str], per_class: int) -> dict[str, list[str]]:
    """Image ids per class name, at most ``per_class`` each, with one confirmed label only."""
    classes_of: dict[str, set[str]] = {}
    order: list[str] = []
    with open_url(LABELS.format(subset=subset)) as response:
        reader = csv.DictReader(io.TextIOWrapper(response, encoding="utf-8"))
        for row in reader:
            if row.get("LabelName") not in labels or row.get("Confidence") != "1":
                continue
            image_id = row["ImageID"]
            if image_id not in classes_of:
                classes_of[image_id] = set()
                order.append(image_id)
            classes_of[image_id].add(labels[row["LabelName"]])
            if len(order) % 500 == 0 and _enough(order, classes_of, labels, per_class):
                break  # every class has enough candidates; the rest need not be read
    result: dict[str, list[str]] = {name: [] for name in labels.values()}
    for image_id in order:
        if len(classes_of[image_id]) == 1:
            (name,) = classes_of[image_id]
            if len(result[name]) < per_class:
                result[name].append(image_id)
    return result


def _enough(
    order: list[str], classes_of: dict[str, set[str]], labels: dict[str, str], per_class: int
) -> bool:
    """Whether each class has ``per_class`` single-label candidates (checked now and then)."""
    counts = dict.fromkeys(labels.values(), 0)
    for image_id in order[:-100]:  # the last rows' images may still get a second label
        if len(classes_of[image_id]) == 1:
            counts[next(iter(classes_of[image_id]))] += 1
    return min(counts.values()) >= per_class


def fetch(subset: str, image_id: str, target: Path, max_side: int) -> bool:
    """Download one image and save it scaled down; False when it cannot be had."""
    url = IMAGE_URL.format(subset=subset, image_id=image_id)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310
            data = response.read()
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("RGB")
            image.thumbnail((max_side, max_side))
            image.save(target, "JPEG", quality=90)
        return True
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        return False


def download_class(name: str, ids: list[str], args: argparse.Namespace) -> list[tuple[str, str]]:
    """Fetch images of one class until ``args.count`` are saved; returns (id, url) rows."""
    folder = args.out / name.replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[str, str]] = []
    position = 0
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        while len(saved) < args.count and position < len(ids):
            batch = ids[position : position + (args.count - len(saved))]
            position += len(batch)
            targets = [folder / f"{image_id}.jpg" for image_id in batch]
            results = pool.map(lambda pair: pair[1].exists() or fetch(args.subset, pair[0], pair[1], args.max_side),
                               zip(batch, targets, strict=True))  # fmt: skip
            for image_id, ok in zip(batch, results, strict=True):
                if ok:
                    saved.append(
                        (image_id, IMAGE_URL.format(subset=args.subset, image_id=image_id))
                    )
            print(f"{name}: {len(saved)}/{args.count} images", flush=True)
    if len(saved) < args.count:
        print(f"warning: only {len(saved)} images of {name} could be downloaded", file=sys.stderr)
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs=2, default=["Cat", "Dog"], metavar=("A", "B"),
                        help="two Open Images class names (boxable classes)")  # fmt: skip
    parser.add_argument("--count", type=int, default=600, help="images per class")
    parser.add_argument("--subset", choices=["train", "validation", "test"], default="train")
    parser.add_argument("--out", type=Path, default=Path("downloads"))
    parser.add_argument("--max-side", type=int, default=512, help="longest image side (pixels)")
    parser.add_argument("--workers", type=int, default=16, help="parallel downloads")
    args = parser.parse_args()
    try:
        labels = label_ids(args.classes)
        print(f"label ids: {labels}")
        ids = candidates(args.subset, labels, per_class=int(args.count * 1.5))
        rows = []
        for name, image_ids in ids.items():
            rows += [(i, name, url) for i, url in download_class(name, image_ids, args)]
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with (args.out / "download_manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "label", "url"])
        writer.writerows(rows)
    print(f"done: {len(rows)} images in {args.out}; next: python split.py --src {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
