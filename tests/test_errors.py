"""Bad data raises a KmqError subclass, never a construct, zstd, numpy or other exception; bad
arguments raise ValueError or TypeError with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kmcodec
from kmcodec import errors
from kmcodec.format.layout import HEADER_SIZE, MAGIC


def _sample_file(channels: int = 3, with_chunks: bool = True, coding: int = 0) -> bytes:
    rng = np.random.default_rng(7)
    palette = rng.integers(0, 256, size=(6, channels), dtype=np.uint8)
    indices = rng.integers(0, 6, size=(9, 11), dtype=np.uint8)
    meta = {"icc_profile": b"fake icc profile", "exif": b"MM\0*\0\0\0\x08"} if with_chunks else {}
    return kmcodec.encode_indexed(palette, indices, coding=coding, **meta)


SAMPLE = _sample_file()
#: The same image in each coding.
SAMPLES = {0: SAMPLE, 1: _sample_file(coding=1)}


def test_errors_form_the_documented_hierarchy() -> None:
    for name in [
        "NotKmqError",
        "UnsupportedError",
        "TruncatedError",
        "CorruptError",
        "LimitError",
        "QualityError",
    ]:
        assert issubclass(getattr(errors, name), errors.KmqError)
    assert issubclass(errors.ChecksumError, errors.CorruptError)
    assert issubclass(errors.IndexRangeError, errors.CorruptError)
    assert kmcodec.KmqError is errors.KmqError


@pytest.mark.parametrize(
    ("coding", "length"), [(c, n) for c, data in SAMPLES.items() for n in range(len(data))]
)
def test_every_truncation_raises_truncated_or_not_kmq(coding: int, length: int) -> None:
    with pytest.raises((errors.TruncatedError, errors.NotKmqError)) as info:
        kmcodec.decode(SAMPLES[coding][:length])
    if length == 0:
        assert isinstance(info.value, errors.NotKmqError)
    else:
        assert isinstance(info.value, errors.TruncatedError)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([0, 1]), st.floats(0, 1, exclude_max=True), st.integers(1, 255))
@example(coding=0, where=113.5 / 151, xor=1)
def test_any_flipped_byte_is_detected_or_changes_nothing(
    coding: int, where: float, xor: int
) -> None:
    """A flipped byte raises a KmqError, or decodes to exactly the original pixels: some bits
    of a zstd block (e.g. slack in an entropy table's description) do not change what it
    decodes to, and the content checksum covers the content. Hypothesis found one: coding 0,
    byte 113 of SAMPLE, xor 1."""
    data = bytearray(SAMPLES[coding])
    data[int(where * len(data))] ^= xor
    try:
        pixels = kmcodec.decode(bytes(data))
    except errors.KmqError:
        return
    np.testing.assert_array_equal(pixels, kmcodec.decode(SAMPLES[coding]))


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_kmq_errors(data: bytes) -> None:
    with pytest.raises(errors.KmqError):
        kmcodec.decode(data)


@given(st.binary(min_size=1, max_size=120))
def test_random_bytes_after_the_magic_raise_only_kmq_errors(tail: bytes) -> None:
    with pytest.raises(errors.KmqError):
        kmcodec.decode(MAGIC + tail)


def test_header_with_huge_size_is_refused_without_allocating() -> None:
    # A valid header claiming 16384 x 16384 pixels of 8-bit indices, with a tiny stream.
    import struct
    import tracemalloc
    import zlib

    head = bytearray(SAMPLE[:HEADER_SIZE])
    struct.pack_into("<II", head, 12, 16384, 16384)
    palette = SAMPLE[HEADER_SIZE : HEADER_SIZE + 18]
    crc = struct.pack("<I", zlib.crc32(palette, zlib.crc32(bytes(head))))
    data = bytes(head) + palette + crc + SAMPLE[HEADER_SIZE + 22 :]
    tracemalloc.start()
    try:
        with pytest.raises(errors.KmqError):
            kmcodec.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # the plane would be 256 MiB


@pytest.mark.parametrize(
    ("palette", "indices", "error", "match"),
    [
        (np.zeros((0, 3), np.uint8), np.zeros((2, 2), np.uint8), ValueError, "1 <= K <= 256"),
        (np.zeros((257, 3), np.uint8), np.zeros((2, 2), np.uint8), ValueError, "1 <= K <= 256"),
        (np.zeros((2, 5), np.uint8), np.zeros((2, 2), np.uint8), ValueError, "shape"),
        (np.zeros((2, 3), np.int32), np.zeros((2, 2), np.uint8), TypeError, "uint8"),
        (np.zeros((2, 3), np.uint8), np.zeros((2, 2), np.int64), TypeError, "uint8"),
        (np.zeros((2, 3), np.uint8), np.full((2, 2), 2, np.uint8), ValueError, "out of range"),
        (np.zeros((2, 3), np.uint8), np.zeros((0, 4), np.uint8), ValueError, "at least 1x1"),
        (np.zeros((2, 3), np.uint8), np.zeros((4,), np.uint8), ValueError, "height, width"),
    ],
)
def test_encode_indexed_rejects_bad_arguments(palette, indices, error, match) -> None:
    with pytest.raises(error, match=match):
        kmcodec.encode_indexed(palette, indices)


def test_encode_indexed_rejects_a_width_too_narrow_for_k() -> None:
    with pytest.raises(ValueError, match="cannot code 5 colours"):
        kmcodec.encode_indexed(np.zeros((5, 3), np.uint8), np.zeros((2, 2), np.uint8), index_bits=2)


@pytest.mark.parametrize("level", [0, 23, -1])
def test_encode_rejects_bad_compress_level(level: int) -> None:
    with pytest.raises(ValueError, match="compress_level"):
        kmcodec.encode_indexed(
            np.zeros((1, 3), np.uint8), np.zeros((1, 1), np.uint8), compress_level=level
        )


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((4, 4, 3), np.float32), TypeError, "uint8"),
        (np.zeros((4, 4, 2), np.uint8), ValueError, "shape"),
        (np.zeros((0, 4, 3), np.uint8), ValueError, "at least 1x1"),
        (np.zeros((4,), np.uint8), ValueError, "shape"),
    ],
)
def test_encode_rejects_bad_images(image, error, match) -> None:
    with pytest.raises(error, match=match):
        kmcodec.encode(image, 4)


@pytest.mark.parametrize("colors", [0, 257, -3])
def test_encode_rejects_bad_colour_counts(colors: int) -> None:
    with pytest.raises(ValueError, match="colors"):
        kmcodec.encode(np.zeros((2, 2, 3), np.uint8), colors)


def test_encode_rejects_unsupported_pillow_modes() -> None:
    from PIL import Image

    for mode in ("I;16", "F", "I", "CMYK"):
        with pytest.raises(ValueError, match=f"mode '{mode}'"):
            kmcodec.encode(Image.new(mode, (3, 3)), 4)


def test_more_pixels_than_the_format_allows_is_a_limit_error() -> None:
    wide = np.lib.stride_tricks.as_strided(
        np.zeros(3, np.uint8), shape=(1 << 14, (1 << 14) + 1, 3), strides=(0, 0, 1)
    )
    with pytest.raises(errors.LimitError):
        kmcodec.encode(wide, 2)
