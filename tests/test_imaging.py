"""grader.imaging: the Pillow-only perceptual hash, near pairs and thumbnails."""

from __future__ import annotations

import base64
import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFilter

from grader.imaging import near_pairs, phash, phash_pixels, thumbnail_uri


def _picture(seed: int, size: tuple[int, int] = (160, 120), fmt: str = "PNG") -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randint(0, 255) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randint(0, size[0]), rng.randint(0, size[1])
        box = [x, y, x + rng.randint(5, 90), y + rng.randint(5, 90)]
        draw.ellipse(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
    if seed % 3 == 0:
        image = image.filter(ImageFilter.GaussianBlur(2))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_phash_is_imagehash_phash_bit_for_bit():
    imagehash = pytest.importorskip("imagehash", reason="imagehash is in the dev extra")
    for seed in range(60):
        data = _picture(seed, (40 + 7 * seed, 300 - 3 * seed), "JPEG" if seed % 2 else "PNG")
        with Image.open(io.BytesIO(data)) as image:
            image.draft("L", (128, 128))
            expected = int(str(imagehash.phash(image)), 16)
        assert phash(data) == expected, seed


def test_a_resized_recompressed_copy_is_near_and_another_picture_is_far():
    original = _picture(7, (400, 300))
    with Image.open(io.BytesIO(original)) as image:
        buffer = io.BytesIO()
        image.resize((133, 100)).save(buffer, format="JPEG", quality=60)
    copy, other = phash(buffer.getvalue()), phash(_picture(8, (400, 300)))
    assert (phash(original) ^ copy).bit_count() <= 6
    assert (phash(original) ^ other).bit_count() > 12


def test_flat_images_hash_the_same_everywhere_and_broken_files_are_none():
    assert phash_pixels(bytes([128]) * 1024) == phash_pixels(bytes([128]) * 1024)
    assert phash(b"not an image at all") is None
    assert phash(b"\x89PNG\r\n\x1a\n" + b"\0" * 40) is None
    with pytest.raises(ValueError):
        phash_pixels(b"\0" * 10)


@pytest.mark.parametrize("distance", [0, 1, 3, 6, 10, 15, 16, 40])
def test_near_pairs_finds_exactly_what_brute_force_finds(distance):
    rng = random.Random(distance)
    base = [rng.getrandbits(64) for _ in range(40)]
    first = [b ^ (1 << rng.randrange(64)) if i % 2 else b for i, b in enumerate(base)]
    first += [rng.getrandbits(64) for _ in range(30)]
    second = [b ^ rng.getrandbits(64) & rng.getrandbits(64) & rng.getrandbits(64) for b in base]
    second += [rng.getrandbits(64) for _ in range(30)]
    brute = {
        (i, j, (a ^ b).bit_count())
        for i, a in enumerate(first)
        for j, b in enumerate(second)
        if (a ^ b).bit_count() <= distance
    }
    assert set(near_pairs(first, second, distance)) == brute
    assert len(list(near_pairs(first, second, distance))) == len(brute)  # each pair once
    assert list(near_pairs(first, second, -1)) == []


def test_thumbnails_are_small_jpeg_data_uris():
    uri = thumbnail_uri(_picture(3, (1200, 900)))
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    assert len(uri) < 12_100
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as thumb:
        assert max(thumb.size) <= 96
    assert thumbnail_uri(b"<svg onload=alert(1)>") is None
    assert thumbnail_uri(_picture(3, (1200, 900)), max_bytes=50) is None
