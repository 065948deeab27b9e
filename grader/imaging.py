"""Images of a submission: perceptual hashes, near-duplicate pairs and small thumbnails.

Pillow only (no NumPy, no SciPy), so that a student's install stays light. ``phash`` is
the DCT hash of ``imagehash.phash`` (the image in grey, resized to 32x32 with Lanczos, a
2-D DCT-II, the top-left 8x8 coefficients compared with their median, row by row, most
significant bit first); only the 64 coefficients it needs are computed. Coefficients are
rounded before the comparison, so a flat image hashes the same on every machine.
"""

from __future__ import annotations

import base64
import io
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache

HASH_SIZE = 8
_SIDE = HASH_SIZE * 4  # imagehash's highfreq_factor
_DRAFT = (128, 128)  # JPEGs decode at reduced size first: far faster, the same hash in practice
THUMBNAIL_SIDE = 96
THUMBNAIL_MAX_BYTES = 12_000
MAX_PIXELS = 80_000_000  # larger images are not decoded (decompression bombs)


_HALF = _SIDE // 2


@lru_cache(maxsize=1)
def _cosines() -> tuple[tuple[float, ...], ...]:
    """Row k: 2 * cos(pi * k * (2n + 1) / (2N)) for n < N/2 (SciPy's unnormalised DCT-II;
    the other half mirrors it, with the sign of (-1)^k)."""
    return tuple(
        tuple(2 * math.cos(math.pi * k * (2 * n + 1) / (2 * _SIDE)) for n in range(_HALF))
        for k in range(HASH_SIZE)
    )


def _low_frequencies(values: Sequence[float], cos: tuple[tuple[float, ...], ...]) -> list[float]:
    """The first HASH_SIZE DCT-II coefficients of ``values`` (length 32), by symmetry."""
    head, tail = values[:_HALF], values[: _HALF - 1 : -1]
    sums = list(map(operator.add, head, tail))
    diffs = list(map(operator.sub, head, tail))
    return [sum(map(operator.mul, c, diffs if k % 2 else sums)) for k, c in enumerate(cos)]


def phash_pixels(pixels: bytes | Sequence[int]) -> int:
    """The 64-bit perceptual hash of 32x32 grey pixels (row-major)."""
    if len(pixels) != _SIDE * _SIDE:
        raise ValueError(f"expected {_SIDE * _SIDE} pixels, got {len(pixels)}")
    cos = _cosines()
    # along each row (axis 1) the first 8 frequencies, then along the columns (axis 0)
    along_rows = [_low_frequencies(pixels[r * _SIDE : (r + 1) * _SIDE], cos) for r in range(_SIDE)]
    columns = [_low_frequencies([row[x] for row in along_rows], cos) for x in range(HASH_SIZE)]
    coefficients = [round(columns[x][y], 6) for y in range(HASH_SIZE) for x in range(HASH_SIZE)]
    ordered = sorted(coefficients)
    middle = len(ordered) // 2
    median = (ordered[middle - 1] + ordered[middle]) / 2
    value = 0
    for coefficient in coefficients:
        value = (value << 1) | (coefficient > median)
    return value


def _open(data: bytes):  # -> PIL.Image.Image
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValueError(f"image too large to decode ({width}x{height})")
    return image


def phash(data: bytes) -> int | None:
    """The perceptual hash of an image file's bytes; None when it is not a readable image."""
    from PIL import Image

    try:
        with _open(data) as image:
            image.draft("L", _DRAFT)
            small = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS)
            return phash_pixels(small.tobytes())
    except Exception:  # any broken or hostile image is simply unreadable
        return None


def near_pairs(
    first: Sequence[int], second: Sequence[int], distance: int
) -> Iterator[tuple[int, int, int]]:
    """``(i, j, d)`` for every ``first[i]``, ``second[j]`` within ``distance`` bits.

    Pigeonhole index: two 64-bit hashes within ``d`` bits agree on at least one of ``d + 1``
    disjoint bit ranges, so only hashes sharing a range are compared. Exact, not sampled.
    """
    if distance < 0 or not first or not second:
        return
    if distance >= 16:  # ranges of 3 bits or fewer find everything: compare all
        for i, a in enumerate(first):
            for j, b in enumerate(second):
                d = (a ^ b).bit_count()
                if d <= distance:
                    yield i, j, d
        return
    bits = HASH_SIZE * HASH_SIZE
    chunks = distance + 1
    edges = [bits * c // chunks for c in range(chunks + 1)]
    masks = [((1 << (hi - lo)) - 1, lo) for lo, hi in zip(edges, edges[1:], strict=False)]
    index: list[dict[int, list[int]]] = [{} for _ in masks]
    for j, b in enumerate(second):
        for table, (mask, shift) in zip(index, masks, strict=True):
            table.setdefault((b >> shift) & mask, []).append(j)
    for i, a in enumerate(first):
        seen: set[int] = set()
        for table, (mask, shift) in zip(index, masks, strict=True):
            for j in table.get((a >> shift) & mask, ()):
                if j in seen:
                    continue
                seen.add(j)
                d = (a ^ second[j]).bit_count()
                if d <= distance:
                    yield i, j, d


def thumbnail_uri(
    data: bytes, side: int = THUMBNAIL_SIDE, max_bytes: int = THUMBNAIL_MAX_BYTES
) -> str | None:
    """A small JPEG of an image as a ``data:`` URI (at most ``max_bytes`` encoded), or None
    when the image cannot be read or will not fit."""
    from PIL import Image

    try:
        with _open(data) as image:
            image.draft("RGB", (side * 2, side * 2))
            image = image.convert("RGB")
            image.thumbnail((side, side), Image.Resampling.LANCZOS)
            for quality in (75, 55, 35):
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=quality, optimize=True)
                encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
                if len(encoded) <= max_bytes:
                    return "data:image/jpeg;base64," + encoded
    except Exception:  # unreadable or hostile: no picture, the path stays
        return None
    return None


MAX_THUMBNAIL_PAIRS = 8
MAX_THUMBNAIL_TOTAL = 160_000  # bytes of data URIs per submission, whatever the pairs


def pair_thumbnails(
    pairs: Sequence[Mapping[str, object]], read: Callable[[str], bytes]
) -> dict[str, str]:
    """``{path: data URI}`` for the images of the first pairs (``a`` and ``b``), read with
    ``read(path)`` from the submission's own files; at most MAX_THUMBNAIL_PAIRS pairs and
    MAX_THUMBNAIL_TOTAL bytes, an unreadable image simply left out."""
    thumbs: dict[str, str] = {}
    total = 0
    for pair in pairs[:MAX_THUMBNAIL_PAIRS]:
        for key in ("a", "b"):
            path = str(pair.get(key, ""))
            if not path or path in thumbs:
                continue
            try:
                uri = thumbnail_uri(read(path))
            except OSError:
                uri = None
            if uri is None or total + len(uri) > MAX_THUMBNAIL_TOTAL:
                continue
            thumbs[path] = uri
            total += len(uri)
    return thumbs
