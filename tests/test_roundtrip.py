"""encode_indexed / decode_indexed are exact inverses for every size, K, width and palette kind."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmcodec import decode, decode_indexed, encode_indexed, read
from kmcodec.format.codings import index_bits_allowed


@st.composite
def indexed_images(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    k = draw(st.integers(1, 256))
    channels = draw(st.sampled_from([3, 4]))
    height = draw(st.integers(1, 300))
    width = draw(st.integers(1, 300 if height < 60 else 40))
    bits = draw(st.sampled_from(index_bits_allowed(k)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    palette = rng.integers(0, 256, size=(k, channels), dtype=np.uint8)
    if draw(st.booleans()):  # smooth regions, as in real images, as well as noise
        rows = rng.integers(0, k, size=(height, 1), dtype=np.uint8)
        indices = np.repeat(rows, width, axis=1)
    else:
        indices = rng.integers(0, k, size=(height, width), dtype=np.uint8)
    return palette, indices, bits


@given(indexed_images(), st.sampled_from([0, 1]))
def test_decode_indexed_inverts_encode_indexed(
    case: tuple[np.ndarray, np.ndarray, int], coding: int
) -> None:
    palette, indices, bits = case
    data = encode_indexed(palette, indices, index_bits=bits, compress_level=1, coding=coding)
    got_palette, got_indices = decode_indexed(data)
    np.testing.assert_array_equal(got_palette, palette)
    np.testing.assert_array_equal(got_indices, indices)
    assert read(data).header.index_bits == bits
    assert read(data).header.coding == coding


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 16, 17, 255, 256])
@pytest.mark.parametrize("channels", [3, 4])
def test_every_allowed_width_round_trips(k: int, channels: int) -> None:
    rng = np.random.default_rng(k)
    palette = rng.integers(0, 256, size=(k, channels), dtype=np.uint8)
    indices = rng.integers(0, k, size=(17, 29), dtype=np.uint8)
    for bits, coding in itertools.product(index_bits_allowed(k), (0, 1)):
        p, i = decode_indexed(encode_indexed(palette, indices, index_bits=bits, coding=coding))
        np.testing.assert_array_equal(p, palette)
        np.testing.assert_array_equal(i, indices)


def test_encoder_picks_the_width_that_compresses_best() -> None:
    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, size=(2, 3), dtype=np.uint8)
    indices = rng.integers(0, 2, size=(64, 64), dtype=np.uint8)
    sizes = {b: len(encode_indexed(palette, indices, index_bits=b, coding=0)) for b in (1, 2, 4, 8)}
    auto = encode_indexed(palette, indices, coding=0)
    # Widths are ranked at a cheap zstd level; the pick is within 2% of the true best.
    assert len(auto) <= 1.02 * min(sizes.values())
    assert len(auto) == sizes[read(auto).header.index_bits]
    # At the slow speeds every width is tried at the final level: exactly the smallest.
    sizes = {
        b: len(encode_indexed(palette, indices, index_bits=b, speed=1, coding=0))
        for b in (1, 2, 4, 8)
    }
    assert len(encode_indexed(palette, indices, speed=1, coding=0)) == min(sizes.values())


def test_decode_gives_palette_colours_per_pixel() -> None:
    palette = np.array([[10, 20, 30, 40], [50, 60, 70, 80]], dtype=np.uint8)
    indices = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(decode(encode_indexed(palette, indices)), palette[indices])


def test_same_input_gives_byte_identical_files() -> None:
    rng = np.random.default_rng(1)
    palette = rng.integers(0, 256, size=(7, 3), dtype=np.uint8)
    indices = rng.integers(0, 7, size=(50, 60), dtype=np.uint8)
    assert encode_indexed(palette, indices) == encode_indexed(palette.copy(), indices.copy())
