"""`dataset_split`: images per class per split, class balance, and leakage between splits.

The split is read from the committed folder layout (``<root>/{train,val,test}/<class>/``,
also ``valid``/``validation``/``testing``, any case) or, when there is none, from a CSV
manifest the student commits (columns ``path,split,label``). Leakage: the same file in two
splits (content hash), or a re-encoded/resized copy (perceptual hash, the DCT hash of
``imagehash.phash`` computed by ``grader.imaging`` with Pillow alone, within
``near_duplicate_distance`` bits). Hashes are cached per file content in
``ctx.cache``; JPEGs are decoded at reduced size (``Image.draft``) to keep it fast.

One third of the points each: counts as expected, classes balanced, no leakage.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field, field_validator

from grader.checks.base import Args, Check, CheckContext
from grader.imaging import near_pairs, pair_thumbnails, phash
from grader.results import CheckOutcome, Evidence, Status
from grader.tree import matches

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SPLIT_NAMES = {
    "train": "train", "training": "train", "val": "val", "valid": "val",
    "validation": "val", "dev": "val", "test": "test", "testing": "test",
}  # fmt: skip
_PATH_COLUMNS = ("path", "file", "filename", "filepath", "file_path", "image", "image_path")
_SPLIT_COLUMNS = ("split", "set", "subset", "fold", "partition")
_LABEL_COLUMNS = ("label", "class", "category", "target", "class_name")
MAX_EVIDENCE_PAIRS = 25
_ORDER = {"train": 0, "val": 1, "test": 2}


class DatasetSplitArgs(Args):
    expected: dict[str, int] = Field(
        default_factory=dict, description="images per class per split: {train: 400, ...}"
    )
    tolerance: int | float = Field(
        0, ge=0, description="allowed difference: an integer count, or a fraction below 1"
    )
    classes: int = Field(2, ge=1, description="classes expected in every split")
    balance_tolerance: float = Field(
        0.1, ge=0, le=1, description="max (largest - smallest) / largest within a split"
    )
    near_duplicate_distance: int = Field(
        6, ge=-1, le=64, description="phash Hamming distance of a near-duplicate; -1: off"
    )
    max_images: int = Field(20_000, ge=1, description="at most this many images are hashed")
    root: list[str] = Field(
        default_factory=lambda: ["**"], description="globs of the folder holding the splits"
    )
    manifest: list[str] = Field(
        default_factory=lambda: ["**/*manifest*.csv", "**/*split*.csv"],
        description="CSV manifests (path,split,label), read when no folder layout exists",
    )
    when_missing: Literal["fail", "manual"] = Field(
        "fail", description="status when neither a layout nor a manifest is committed"
    )

    @field_validator("expected")
    @classmethod
    def _known_splits(cls, value: dict[str, int]) -> dict[str, int]:
        out = {}
        for key, count in value.items():
            split = SPLIT_NAMES.get(str(key).lower())
            if split is None:
                raise ValueError(f"unknown split {key!r}; use train, val or test")
            out[split] = int(count)
        return out

    @field_validator("tolerance")
    @classmethod
    def _fraction_below_one(cls, value: int | float) -> int | float:
        if isinstance(value, float) and value >= 1:
            raise ValueError("a float tolerance is a fraction below 1; write counts as integers")
        return value


@dataclass
class ImageItem:
    path: str  # relative to the submission root
    split: str
    label: str
    exists: bool = True


def allowed_difference(expected: int, tolerance: int | float) -> int:
    return int(tolerance) if isinstance(tolerance, int) else int(expected * tolerance)


def layout_items(files: list[str], root_globs: list[str]) -> tuple[str | None, list[ImageItem]]:
    """Images under ``<root>/<split>/<class>/``; of several roots, the one with most images."""
    by_root: dict[str, list[ImageItem]] = {}
    for path in files:
        parts = PurePosixPath(path).parts
        if len(parts) < 3 or PurePosixPath(path).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        split = SPLIT_NAMES.get(parts[-3].lower())
        if split is None:
            continue
        root = "/".join(parts[:-3])
        if root and not matches(root, root_globs):
            continue
        by_root.setdefault(root, []).append(ImageItem(path, split, parts[-2]))
    if not by_root:
        return None, []
    best = max(by_root, key=lambda r: (len({i.split for i in by_root[r]}), len(by_root[r])))
    return best, by_root[best]


def manifest_items(ctx: CheckContext, rel: str) -> list[ImageItem]:
    """Rows of a ``path,split,label`` CSV; raises ValueError naming the file and line."""
    try:
        text = ctx.path(rel).read_bytes().decode("utf-8-sig", errors="replace")
        reader = csv.DictReader(io.StringIO(text))
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        rows = list(reader)
    except (OSError, csv.Error) as exc:
        raise ValueError(f"{rel}: not a readable CSV file ({exc})") from None

    def column(names: tuple[str, ...]) -> str | None:
        return next((fields[n] for n in names if n in fields), None)

    path_col, split_col, label_col = (
        column(_PATH_COLUMNS), column(_SPLIT_COLUMNS), column(_LABEL_COLUMNS)
    )  # fmt: skip
    if not (path_col and split_col and label_col):
        raise ValueError(
            f"{rel}: a manifest needs the columns path, split and label; it has "
            f"{', '.join(fields) or 'none'}"
        )
    base = PurePosixPath(rel).parent
    known = set(ctx.files())
    items = []
    for line, row in enumerate(rows, 2):
        split = SPLIT_NAMES.get(str(row.get(split_col) or "").strip().lower())
        raw = str(row.get(path_col) or "").strip().replace("\\", "/")
        if split is None or not raw:
            raise ValueError(
                f"{rel}:{line}: needs a path and a split of train, val or test "
                f"(got {raw!r}, {row.get(split_col)!r})"
            )
        candidates = [str(base / raw), raw.lstrip("/")]
        path = next((c for c in candidates if c in known), candidates[0])
        items.append(ImageItem(path, split, str(row.get(label_col) or "").strip(), path in known))
    return items


def hash_images(
    ctx: CheckContext, paths: list[str]
) -> tuple[dict[str, str], dict[str, int | None]]:
    """``(path -> content digest, digest -> phash or None)``, cached per content."""
    cache: dict[str, int | None] = ctx.cache.setdefault("dataset_split:phash", {})
    digests: dict[str, str] = {}
    todo: dict[str, bytes] = {}
    for path in paths:
        try:
            data = ctx.path(path).read_bytes()
        except OSError:
            continue
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        digests[path] = digest
        if digest not in cache and digest not in todo:
            todo[digest] = data
    if todo:
        workers = max(1, min(8, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for digest, value in zip(todo, pool.map(phash, todo.values()), strict=True):
                cache[digest] = value
    return digests, {d: cache[d] for d in set(digests.values())}


def find_leaks(
    items: list[ImageItem], digests: dict[str, str], phashes: dict[str, int | None], distance: int
) -> list[dict]:
    """Cross-split pairs: identical content, or perceptual hashes within ``distance`` bits."""
    pairs: list[dict] = []
    by_digest: dict[str, list[ImageItem]] = {}
    for item in items:
        if item.path in digests:
            by_digest.setdefault(digests[item.path], []).append(item)
    for group in by_digest.values():
        group.sort(key=lambda i: (_ORDER[i.split], i.path))  # pairs read train -> val -> test
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a.split != b.split:
                    pairs.append({"a": a.path, "b": b.path, "kind": "identical", "distance": 0,
                                  "splits": [a.split, b.split]})  # fmt: skip
    if distance < 0:
        return pairs
    splits: dict[str, tuple[list[ImageItem], list[int], list[str]]] = {}
    for split in ("train", "val", "test"):
        chosen = [
            i for i in items
            if i.split == split and i.path in digests and phashes.get(digests[i.path]) is not None
        ]  # fmt: skip
        values = [phashes[digests[i.path]] for i in chosen]
        splits[split] = (chosen, values, [digests[i.path] for i in chosen])  # type: ignore[misc]
    names = list(splits)
    for x, first in enumerate(names):
        for second in names[x + 1 :]:
            a_items, a_hash, a_dig = splits[first]
            b_items, b_hash, b_dig = splits[second]
            for a, b, bits in sorted(near_pairs(a_hash, b_hash, distance)):
                if a_dig[a] == b_dig[b]:
                    continue  # already an identical pair
                pairs.append({"a": a_items[a].path, "b": b_items[b].path,
                              "kind": "near_duplicate", "distance": bits,
                              "splits": [first, second]})  # fmt: skip
    return pairs


def name_leaks(items: list[ImageItem]) -> list[dict]:
    """For manifest rows whose files are not committed: the same file name (an Open Images
    id, say) listed in two splits."""
    by_name: dict[str, list[ImageItem]] = {}
    for item in items:
        if not item.exists:
            by_name.setdefault(PurePosixPath(item.path).name.lower(), []).append(item)
    pairs = []
    for group in by_name.values():
        group.sort(key=lambda i: (_ORDER[i.split], i.path))
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a.split != b.split:
                    pairs.append({"a": a.path, "b": b.path, "kind": "same_name", "distance": 0,
                                  "splits": [a.split, b.split]})  # fmt: skip
    return pairs


def _counts(items: list[ImageItem]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for split in ("train", "val", "test"):
        labels = sorted({i.label for i in items if i.split == split})
        if labels:
            counts[split] = {
                label: sum(1 for i in items if i.split == split and i.label == label)
                for label in labels
            }
    return counts


class DatasetSplitCheck(Check):
    title = "Dataset split and leakage"
    Args = DatasetSplitArgs

    @classmethod
    def warm_up(cls) -> None:
        from PIL import Image  # noqa: F401 - imported once in the grader, not in every check

    def run(self, ctx: CheckContext, args: DatasetSplitArgs) -> CheckOutcome:
        root, items = layout_items(ctx.files(), args.root)
        source = "folders"
        if not items:
            manifests = ctx.glob(args.manifest)
            for rel in manifests:
                try:
                    items = manifest_items(ctx, rel)
                except ValueError as exc:
                    return CheckOutcome(Status.FAIL, str(exc), [Evidence(rel, "malformed")],
                                        {"source": "manifest", "manifest": rel}, fraction=0.0)  # fmt: skip
                if items:
                    root, source = rel, "manifest"
                    break
        if not items:
            return CheckOutcome(
                Status.MANUAL if args.when_missing == "manual" else Status.FAIL,
                "no dataset split found: neither images in <root>/{train,val,test}/<class>/ "
                "folders nor a manifest CSV (path,split,label) matching "
                + ", ".join(args.manifest),
                facts={"source": None, "counts": {}, "leaked_pairs": []},
                fraction=0.0,
            )
        counts = _counts(items)
        evidence: list[Evidence] = []
        count_problems = self._count_problems(counts, args)
        balance_problems = []
        for split, per_class in counts.items():
            largest, smallest = max(per_class.values()), min(per_class.values())
            if largest and (largest - smallest) / largest > args.balance_tolerance:
                balance_problems.append(
                    f"{split} is unbalanced: {', '.join(f'{k} {v}' for k, v in per_class.items())}"
                )
        for split, per_class in counts.items():
            want = args.expected.get(split)
            detail = ", ".join(f"{k}: {v}" for k, v in per_class.items())
            evidence.append(Evidence(f"{root}/{split}" if source == "folders" and root else split,
                                     "counts", detail + (f" (expected {want} each)" if want else "")))  # fmt: skip
        present = [i for i in items if i.exists]
        hashed = sorted(i.path for i in present)[: args.max_images]
        started = time.perf_counter()
        digests, phashes = hash_images(ctx, hashed)
        seconds = time.perf_counter() - started
        leaks = find_leaks(present, digests, phashes, args.near_duplicate_distance)
        leaks += name_leaks(items)
        unreadable = sorted(p for p, d in digests.items() if phashes.get(d) is None)
        for pair in leaks[:MAX_EVIDENCE_PAIRS]:
            how = {"identical": "the same file content", "same_name": "the same file name",
                   "near_duplicate": f"perceptual hash distance {pair['distance']}"}[pair["kind"]]  # fmt: skip
            evidence.append(Evidence(pair["a"], pair["kind"],
                                     f"{pair['a']} ({pair['splits'][0]}) and {pair['b']} "
                                     f"({pair['splits'][1]}): {how}"))  # fmt: skip
        if len(leaks) > MAX_EVIDENCE_PAIRS:
            evidence.append(Evidence("", "more", f"{len(leaks) - MAX_EVIDENCE_PAIRS} more pairs "
                                     "in the facts"))  # fmt: skip
        evidence += [Evidence(p, "unreadable", "not a readable image") for p in unreadable[:10]]
        notes = []
        if len(present) > len(hashed):
            notes.append(f"only {len(hashed)} of {len(present)} images checked for leakage")
        missing_files = len(items) - len(present)
        if missing_files:
            notes.append(f"{missing_files} manifest file(s) not committed: compared by name only")
        facts = {
            "source": source, "root": root, "counts": counts, "expected": dict(args.expected),
            "leaked_pairs": leaks[:500], "leaked_pair_count": len(leaks),
            "hashed_images": len(digests), "hash_seconds": round(seconds, 3),
            "unreadable": unreadable,
        }  # fmt: skip
        parts = {
            "counts": not count_problems,
            "balance": not balance_problems,
            "no_leakage": not leaks,
        }
        facts["parts"] = parts
        shown = [p for p in leaks if p["kind"] != "same_name"]  # pictures from its own files
        facts["thumbnails"] = pair_thumbnails(shown, lambda rel: ctx.path(rel).read_bytes())
        problems = count_problems + balance_problems
        if leaks:
            kinds = sorted({p["kind"].replace("_", " ") for p in leaks})
            problems.append(f"{len(leaks)} image pair(s) leak across splits ({', '.join(kinds)})")
        total = sum(sum(v.values()) for v in counts.values())
        if problems:
            return CheckOutcome(Status.FAIL, "; ".join(problems + notes), evidence, facts,
                                fraction=sum(parts.values()) / len(parts))  # fmt: skip
        message = (
            f"{total} images in {len(counts)} splits of {args.classes} classes as expected, "
            f"balanced, no leakage among {len(digests)} hashed images"
        )
        return CheckOutcome(Status.PASS, "; ".join([message, *notes]), evidence, facts)

    @staticmethod
    def _count_problems(counts: dict[str, dict[str, int]], args: DatasetSplitArgs) -> list[str]:
        problems = []
        for split in args.expected:
            if split not in counts:
                problems.append(f"no {split} split")
        for split, per_class in counts.items():
            if len(per_class) != args.classes:
                problems.append(
                    f"{split} has {len(per_class)} class(es) ({', '.join(per_class)}), "
                    f"{args.classes} expected"
                )
            want = args.expected.get(split)
            if want is None:
                continue
            allowed = allowed_difference(want, args.tolerance)
            for label, count in per_class.items():
                if abs(count - want) > allowed:
                    problems.append(
                        f"{split}/{label} has {count} images, {want} expected"
                        + (f" (±{allowed})" if allowed else "")
                    )
        labels = {split: set(per_class) for split, per_class in counts.items()}
        if len({frozenset(v) for v in labels.values()}) > 1:
            problems.append("the splits have different classes: " + "; ".join(
                f"{s}: {', '.join(sorted(v))}" for s, v in labels.items()))  # fmt: skip
        return problems
