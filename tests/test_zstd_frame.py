"""Coding 0's zstd frame: compression levels, and the frame checks of spec section 2.5."""

from __future__ import annotations

import numpy as np
import pytest
import zstandard

from kmcodec.errors import ChecksumError, CorruptError
from kmcodec.format.codings import zstd_frame

DATA = bytes(np.random.default_rng(2).integers(0, 4, size=50_000, dtype=np.uint8)) * 2


@pytest.mark.parametrize("level", [1, 3, 19, zstd_frame.FAST_OPTIMAL])
def test_round_trip_at_each_level_and_higher_levels_are_not_larger(level) -> None:
    frame = zstd_frame.compress(DATA, level)
    assert zstd_frame.decompress(frame, len(DATA)) == DATA
    assert len(frame) < len(DATA) // 3


def test_level_19_is_smaller_than_level_1() -> None:
    assert len(zstd_frame.compress(DATA, 19)) < len(zstd_frame.compress(DATA, 1))


def test_frame_header_declares_size_and_checksum_and_where_the_frame_ends() -> None:
    frame = zstd_frame.compress(DATA, 3)
    h = zstd_frame.check_frame_header(frame, len(DATA))
    assert h.content_size == len(DATA) and h.has_checksum and h.dictionary_id == 0
    assert zstd_frame.frame_end(frame, h) == len(frame)


def test_check_level() -> None:
    assert zstd_frame.check_level(22) == 22
    with pytest.raises(ValueError):
        zstd_frame.check_level(23)
    with pytest.raises(TypeError):
        zstd_frame.check_level(True)


def test_decompress_refuses_a_wrong_declared_size_before_decompressing() -> None:
    frame = zstd_frame.compress(DATA, 3)
    with pytest.raises(CorruptError, match="declares"):
        zstd_frame.decompress(frame, len(DATA) + 1)


def test_decompress_refuses_trailing_bytes_a_cut_frame_and_a_bad_checksum() -> None:
    frame = zstd_frame.compress(DATA, 3)
    with pytest.raises(CorruptError, match="follow"):
        zstd_frame.decompress(frame + b"\0", len(DATA))
    with pytest.raises(CorruptError, match="past the end"):
        zstd_frame.decompress(frame[:-6], len(DATA))
    bad = bytearray(frame)
    bad[-1] ^= 0xFF
    with pytest.raises(ChecksumError):
        zstd_frame.decompress(bytes(bad), len(DATA))


def test_a_frame_without_checksum_or_size_is_refused() -> None:
    for kw in (dict(write_checksum=False), dict(write_content_size=False)):
        frame = zstandard.ZstdCompressor(**kw).compress(DATA)
        with pytest.raises(CorruptError):
            zstd_frame.decompress(frame, len(DATA))
