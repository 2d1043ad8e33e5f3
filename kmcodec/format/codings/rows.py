"""Coding 0 (``ROWS``): the index plane as packed rows in one zstd frame, and back.

Each row is packed at ``index_bits`` bits per index (:mod:`.bitpack`), all rows are compressed
as one zstd frame with its content size and checksum (:mod:`.zstd_frame`), and a decoder checks
the frame (spec section 2.5) and that every index is below the palette size.
"""

from __future__ import annotations

import numpy as np

from ...errors import IndexRangeError
from ..layout import index_bits_allowed
from . import bitpack, zstd_frame

__all__ = [
    "RANKING_LEVEL",
    "check_start",
    "decode",
    "decode_prefix",
    "encode",
    "index_bits_allowed",
]

#: zstd level at which the candidate index widths are ranked when not every width is compressed
#: at the final level: on the Kodak set the ranking at level 3 agreed with level 19's to within
#: 1% of size, at a tenth of the cost of compressing every width at level 19.
RANKING_LEVEL = 3


def encode(
    indices: np.ndarray,
    colors: int,
    *,
    index_bits: int | None,
    level_for: object,
    every_width: bool,
) -> tuple[bytes, int]:
    """Code an index plane as packed rows in one zstd frame.

    Parameters
    ----------
    indices : ndarray of uint8, shape (height, width)
    colors : int
        Palette size K.
    index_bits : {None, 1, 2, 4, 8}
        The width to use; None tries every width that can hold K and keeps the smallest stream.
    level_for : callable
        ``level_for(bits)`` is the zstd level (or preset name) for a plane of that width.
    every_width : bool
        Compress every candidate width at its final level (slow, exact); otherwise rank the
        widths at :data:`RANKING_LEVEL` and compress only the winner at its final level.

    Returns
    -------
    stream : bytes
    index_bits : int
        The width the stream was packed at.
    """
    candidates = index_bits_allowed(colors) if index_bits is None else (index_bits,)
    packed = {bits: bitpack.pack_rows(indices, bits) for bits in candidates}
    if len(packed) > 1 and not every_width:
        best = min(packed, key=lambda b: len(zstd_frame.compress(packed[b], RANKING_LEVEL)))
        return zstd_frame.compress(packed[best], level_for(best)), best  # type: ignore[operator]
    streams = {b: zstd_frame.compress(data, level_for(b)) for b, data in packed.items()}  # type: ignore[operator]
    best = min(streams, key=lambda b: len(streams[b]))
    return streams[best], best


def check_start(prefix: bytes | memoryview, unpacked_size: int) -> None:
    """The checks that need only the stream's first bytes (a zstd frame header declaring
    ``unpacked_size``): made before a reader allocates the image."""
    zstd_frame.check_frame_header(prefix, unpacked_size)


def decode(
    stream: bytes | memoryview,
    width: int,
    height: int,
    index_bits: int,
    colors: int,
    check_indices: bool = True,
) -> bytes:
    """Decompress and check a coding-0 stream; return its packed rows. With ``check_indices``
    False, the caller checks that every index is below ``colors``.

    Raises
    ------
    kmcodec.errors.CorruptError
        A frame that breaks spec section 2.5 (:class:`~kmcodec.errors.ChecksumError` for its
        checksum), or an index >= ``colors`` (:class:`~kmcodec.errors.IndexRangeError`).
    """
    rows = zstd_frame.decompress(stream, height * bitpack.row_bytes(width, index_bits))
    if check_indices and not bitpack.indices_below(rows, width, height, index_bits, colors):
        msg = f"a palette index is out of range for {colors} colours"
        raise IndexRangeError(msg)
    return rows


def decode_prefix(
    prefix: bytes | memoryview,
    width: int,
    height: int,
    index_bits: int,
    colors: int,
    plane: np.ndarray,
) -> int:
    """Unpack into ``plane`` (zeros as given) the whole rows that the first bytes of a stream
    decompress to, up to the first row with an index >= ``colors``; return how many. zstd
    gives out whole blocks (up to 128 KiB of rows), so the rows come in steps of a block."""
    stride = bitpack.row_bytes(width, index_bits)
    data = zstd_frame.decompress_prefix(prefix, height * stride)
    rows = len(data) // stride
    if rows == 0:
        return 0
    got = bitpack.unpack_rows(memoryview(data)[: rows * stride], width, rows, index_bits)
    bad = np.flatnonzero((got >= colors).any(axis=1))
    rows = int(bad[0]) if bad.size else rows
    plane[:rows] = got[:rows]
    return rows
