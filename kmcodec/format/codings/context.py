"""Indices to a context-coded stream, and back: coding 1 (``CONTEXT``) of the format.

Each palette index is coded, in raster order, by a few binary decisions ("is it the colour a
match predicts? the left neighbour's? the upper one's? ...", then the index's bits when none
was), each with a probability that an adaptive context model learns from the pixels already
coded; a binary range coder turns the decisions into bytes. The stream is those bytes followed
by the CRC-32 of the index plane. ``spec/kmq.md`` section 2.6 is the exact description.

The model and coder run compiled (``_context_coder.c`` beside this module, built by
``pip install``); this module checks sizes and turns the compiled core's error codes into
:mod:`kmcodec.errors`.
"""

from __future__ import annotations

import zlib

import numpy as np

from ...errors import ChecksumError, CorruptError, IndexRangeError
from . import _context_coder

__all__ = ["CHECKSUM_SIZE", "MIN_STREAM", "decode", "decode_prefix", "encode"]

#: Bytes of the CRC-32 of the index plane at the end of the stream.
CHECKSUM_SIZE = 4
#: The range coder's shortest output (4 bytes of its final state).
_MIN_CODED = 4
#: The shortest valid stream.
MIN_STREAM = _MIN_CODED + CHECKSUM_SIZE

_ERRORS = {
    _context_coder.ERR_ENDS_EARLY: "the context-coded stream ends before the last pixel",
    _context_coder.ERR_LEFT_OVER: "bytes are left over after the last pixel of the context-coded"
    " stream",
}


def encode(indices: np.ndarray, colors: int) -> bytes:
    """Code an index plane with the context model.

    Parameters
    ----------
    indices : ndarray of uint8, shape (height, width)
        Every value below ``colors``.
    colors : int
        Palette size K, 1 to 256.

    Returns
    -------
    bytes
        The index stream: the range coder's bytes, then the CRC-32 of the plane (u32 LE).
    """
    plane = np.ascontiguousarray(indices, dtype=np.uint8)
    height, width = plane.shape
    coded = _context_coder.encode(plane, width, height, colors)
    return coded + zlib.crc32(plane.data).to_bytes(CHECKSUM_SIZE, "little")


def decode(stream: bytes | memoryview, width: int, height: int, colors: int) -> np.ndarray:
    """Decode a context-coded index stream.

    Parameters
    ----------
    stream : bytes-like
        Exactly the file's index stream.
    width, height, colors : int
        From the file's header (already checked against the format's limits).

    Returns
    -------
    ndarray of uint8, shape (height, width)

    Raises
    ------
    CorruptError
        The stream is too short, ends before the last pixel, or has bytes left over.
    IndexRangeError
        A decoded index is not below ``colors``.
    ChecksumError
        The CRC-32 of the decoded plane does not match.
    """
    view = memoryview(stream).cast("B")
    if len(view) < MIN_STREAM:
        msg = f"the context-coded stream is {len(view)} bytes, shorter than the 8 it needs"
        raise CorruptError(msg)
    coded, crc = view[:-CHECKSUM_SIZE], view[-CHECKSUM_SIZE:]
    plane = np.empty((height, width), dtype=np.uint8)
    status = _context_coder.decode(coded, width, height, colors, plane)
    if status == _context_coder.ERR_INDEX:
        msg = f"a palette index is out of range for {colors} colours"
        raise IndexRangeError(msg)
    if status:
        raise CorruptError(_ERRORS[status])
    if zlib.crc32(plane.data) != int.from_bytes(crc, "little"):
        msg = "index plane checksum (CRC-32) mismatch: the index stream is corrupt"
        raise ChecksumError(msg)
    return plane


def decode_prefix(
    prefix: bytes | memoryview, width: int, height: int, colors: int, plane: np.ndarray
) -> int:
    """Decode what a truncated stream holds into ``plane`` (zeros as given) and return the
    whole rows decoded. The range decoder stops at the pixel that needs a byte past the end
    (spec 2.6.6), and that pixel may be wrong, so the rows kept end before it. Nothing is
    raised: a reader asked for what arrived (there is no checksum to check it by)."""
    view = memoryview(prefix).cast("B")
    status = _context_coder.decode(view, width, height, colors, plane)
    if status not in (_context_coder.ERR_ENDS_EARLY, _context_coder.ERR_INDEX):
        return height  # every pixel decoded; only (part of) the CRC-32 is missing
    # Which pixels the decoder wrote: decode again over a plane of 255s and compare (the
    # model reads only pixels already decoded, so the two runs agree wherever both wrote).
    probe = np.full_like(plane, 255)
    _context_coder.decode(view, width, height, colors, probe)
    differ = np.flatnonzero(plane.ravel() != probe.ravel())
    written = int(differ[0]) if differ.size else width * height
    rows = max(0, written - 1) // width
    plane[rows:] = 0
    return rows
