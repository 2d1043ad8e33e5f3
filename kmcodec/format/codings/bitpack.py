"""Palette indices to packed rows of bytes, and back.

Each row of ``width`` indices is stored at ``bits`` bits per index (1, 2, 4 or 8), the first
index in the most significant bits of the first byte, and padded with zero bits to a whole byte.
This is exactly the layout of Pillow's raw modes "P;1", "P;2", "P;4" and "P", so unpacked rows
can also be handed to Pillow as they are. Everything here is vectorised: no Python loop runs
per pixel or per row.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["PILLOW_RAWMODE", "indices_below", "pack_rows", "row_bytes", "unpack_rows"]

#: Pillow's raw mode for each index width.
PILLOW_RAWMODE = {1: "P;1", 2: "P;2", 4: "P;4", 8: "P"}


def row_bytes(width: int, bits: int) -> int:
    """Return the number of bytes in one packed row of ``width`` indices at ``bits`` bits."""
    return (width * bits + 7) // 8


def _check_bits(bits: int) -> int:
    if bits not in PILLOW_RAWMODE:
        msg = f"bits per index must be 1, 2, 4 or 8, got {bits!r}"
        raise ValueError(msg)
    return bits


def pack_rows(indices: np.ndarray, bits: int) -> bytes:
    """Pack a 2-D array of indices into rows of ``bits`` bits per index.

    Parameters
    ----------
    indices : ndarray of uint8, shape (height, width)
        Every value must be below ``2**bits`` (higher bits are not masked off).
    bits : {1, 2, 4, 8}
        Bits per index.

    Returns
    -------
    bytes
        ``height * row_bytes(width, bits)`` bytes, MSB-first, each row padded with zero bits.
    """
    _check_bits(bits)
    idx = np.ascontiguousarray(indices, dtype=np.uint8)
    if idx.ndim != 2:
        msg = f"indices must be a 2-D array, got shape {idx.shape}"
        raise ValueError(msg)
    if bits == 8:
        return idx.tobytes()
    if bits == 1:
        return np.packbits(idx, axis=1).tobytes()
    per_byte = 8 // bits
    height, width = idx.shape
    padded_width = -(-width // per_byte) * per_byte
    if padded_width != width:
        idx = np.pad(idx, ((0, 0), (0, padded_width - width)))
    groups = idx.reshape(height, padded_width // per_byte, per_byte)
    packed = groups[..., 0] << (8 - bits)
    for k in range(1, per_byte):  # at most 3 passes over the array, not a pixel loop
        packed |= groups[..., k] << (8 - bits * (k + 1))
    return packed.tobytes()


def unpack_rows(data: bytes | memoryview, width: int, height: int, bits: int) -> np.ndarray:
    """Unpack rows of ``bits`` bits per index into a 2-D array.

    Parameters
    ----------
    data : bytes-like
        Exactly ``height * row_bytes(width, bits)`` bytes.
    width, height : int
        Size of the image in pixels.
    bits : {1, 2, 4, 8}

    Returns
    -------
    ndarray of uint8, shape (height, width)
        The indices; padding bits are ignored.
    """
    _check_bits(bits)
    stride = row_bytes(width, bits)
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != height * stride:
        msg = f"expected {height * stride} bytes of packed rows, got {buf.size}"
        raise ValueError(msg)
    rows = buf.reshape(height, stride)
    if bits == 8:
        return rows.copy()
    if bits == 1:
        return np.unpackbits(rows, axis=1, count=width)
    per_byte = 8 // bits
    out = np.empty((height, stride, per_byte), dtype=np.uint8)
    for k in range(per_byte):  # one pass per index in a byte, written in place: 4x faster
        np.right_shift(rows, 8 - bits * (k + 1), out=out[:, :, k])  # than broadcasting
    out &= np.uint8((1 << bits) - 1)
    return np.ascontiguousarray(out.reshape(height, stride * per_byte)[:, :width])


@functools.lru_cache(maxsize=256)
def _byte_table(bits: int, limit: int, fields: int) -> np.ndarray:
    """For every byte value: does any of its first ``fields`` indices reach ``limit``? (Kept:
    an animation checks hundreds of small layers with the same few tables.)"""
    values = np.arange(256, dtype=np.uint8)
    bad = np.zeros(256, dtype=bool)
    for k in range(fields):
        bad |= ((values >> (8 - bits * (k + 1))) & ((1 << bits) - 1)) >= limit
    bad.flags.writeable = False
    return bad


def indices_below(data: bytes | memoryview, width: int, height: int, bits: int, limit: int) -> bool:
    """Check that every index in packed rows is below ``limit``, without unpacking them.

    Each byte is looked up in a 256-entry table of "holds an index >= limit"; the last byte of a
    row has its own table that ignores the padding bits.

    Parameters
    ----------
    data : bytes-like
        ``height * row_bytes(width, bits)`` bytes of packed rows.
    width, height : int
    bits : {1, 2, 4, 8}
    limit : int
        The number of palette entries.

    Returns
    -------
    bool
    """
    _check_bits(bits)
    if limit >= 1 << bits:
        return True
    stride = row_bytes(width, bits)
    rows = np.frombuffer(data, dtype=np.uint8).reshape(height, stride)
    per_byte = 8 // bits
    last_fields = width - (stride - 1) * per_byte
    if _byte_table(bits, limit, per_byte)[rows[:, :-1]].any():
        return False
    return not bool(_byte_table(bits, limit, last_fields)[rows[:, -1]].any())
