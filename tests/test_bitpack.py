"""Bit packing: round trips at every width, and the same layout as Pillow's raw modes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from kmcodec.format.codings.bitpack import (
    PILLOW_RAWMODE,
    indices_below,
    pack_rows,
    row_bytes,
    unpack_rows,
)


@st.composite
def index_planes(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    bits = draw(st.sampled_from([1, 2, 4, 8]))
    height = draw(st.integers(1, 40))
    width = draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1 << bits, size=(height, width), dtype=np.uint8), bits


@given(index_planes())
def test_unpack_inverts_pack(case: tuple[np.ndarray, int]) -> None:
    idx, bits = case
    data = pack_rows(idx, bits)
    assert len(data) == idx.shape[0] * row_bytes(idx.shape[1], bits)
    np.testing.assert_array_equal(unpack_rows(data, idx.shape[1], idx.shape[0], bits), idx)


@given(index_planes())
def test_packed_rows_are_what_pillow_reads_as_raw_p_modes(case: tuple[np.ndarray, int]) -> None:
    idx, bits = case
    data = pack_rows(idx, bits)
    im = Image.frombytes("P", (idx.shape[1], idx.shape[0]), data, "raw", PILLOW_RAWMODE[bits])
    np.testing.assert_array_equal(np.asarray(im), idx)


def test_msb_first_with_zero_padding() -> None:
    idx = np.array([[1, 0, 1], [0, 1, 1]], dtype=np.uint8)
    assert pack_rows(idx, 1) == bytes([0b10100000, 0b01100000])
    assert pack_rows(np.array([[3, 0, 2]], dtype=np.uint8), 2) == bytes([0b11001000])
    assert pack_rows(np.array([[0xA, 0x5, 0xF]], dtype=np.uint8), 4) == bytes([0xA5, 0xF0])


def test_padding_bits_are_ignored_when_unpacking() -> None:
    assert unpack_rows(bytes([0b10111111]), 2, 1, 1).tolist() == [[1, 0]]


@pytest.mark.parametrize("bits", [0, 3, 5, 16])
def test_other_widths_are_refused(bits: int) -> None:
    with pytest.raises(ValueError, match="1, 2, 4 or 8"):
        pack_rows(np.zeros((1, 1), np.uint8), bits)


def test_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 4 bytes"):
        unpack_rows(b"\0", 3, 2, 4)


@given(index_planes(), st.integers(1, 256))
def test_range_check_agrees_with_unpacking(case: tuple[np.ndarray, int], limit: int) -> None:
    idx, bits = case
    data = pack_rows(idx, bits)
    expected = bool((idx < limit).all())
    assert indices_below(data, idx.shape[1], idx.shape[0], bits, limit) is expected


def test_range_check_ignores_padding_bits() -> None:
    # width 1 at 4 bits: the low nibble is padding and may hold anything
    assert indices_below(bytes([0x1F]), 1, 1, 4, 2)
    assert not indices_below(bytes([0x2F]), 1, 1, 4, 2)
