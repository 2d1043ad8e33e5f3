"""The index plane to the file's index stream and back: one module per coding.

The header's ``coding`` field says which coding a file uses (:class:`Coding`). Every reader
of index streams (:func:`kmcodec.read`, the Pillow plugin) goes through :func:`decode`, and
every writer through :func:`encode`; adding a coding means a module here and a line in each.

- :mod:`.rows` -- coding 0: packed rows (:mod:`.bitpack`) in one zstd frame (:mod:`.zstd_frame`);
- :mod:`.context` -- coding 1: an adaptive context model and a binary range coder, compiled;
- :mod:`.fast` -- coding 2: a static context model and rANS in parts of rows, compiled.

The codings depend on :mod:`..layout` (the header, :class:`~..layout.Coding`), never the
reverse: the container treats the index stream as opaque bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ...errors import CorruptError
from ..layout import Coding, Header, index_bits_allowed, read_stream
from . import bitpack, context, fast, rows

__all__ = [
    "Coding",
    "IndexPlane",
    "check_start",
    "decode",
    "decode_prefix",
    "encode",
    "index_bits_allowed",
    "read_plane",
]


@dataclass(frozen=True)
class IndexPlane:
    """A decoded index stream: the bytes as the coding produced them, and how to read them.

    Attributes
    ----------
    data : bytes or ndarray
        Packed rows (coding 0) or the (height, width) plane (coding 1).
    width, height, index_bits : int
        ``index_bits`` is 8 for an unpacked plane.
    """

    data: bytes | np.ndarray
    width: int
    height: int
    index_bits: int

    def array(self) -> np.ndarray:
        """The (height, width) uint8 plane of indices."""
        if isinstance(self.data, np.ndarray):
            return self.data
        return bitpack.unpack_rows(self.data, self.width, self.height, self.index_bits)

    def raw(self) -> tuple[memoryview | bytes, str]:
        """The data and Pillow raw mode ("P;1", "P;2", "P;4" or "P") to hand it over as."""
        if self.index_bits == 1 and not isinstance(self.data, np.ndarray):
            # numpy's unpackbits and a plain copy beat Pillow's "P;1" unpacker by 1.5x
            # (12 MP: 2.3 ms against 3.6 ms), and at one bit per pixel that is most of the work.
            return self.array().data.cast("B"), "P"
        if isinstance(self.data, np.ndarray):
            return self.data.data.cast("B"), "P"
        return self.data, bitpack.PILLOW_RAWMODE[self.index_bits]


def encode(indices: np.ndarray, colors: int, coding: Coding, **params: Any) -> tuple[bytes, int]:
    """Code an index plane; return the stream and the ``index_bits`` for the header.

    ``params`` are the coding's own: ``index_bits``, ``level_for`` and ``every_width`` for
    coding 0 (:func:`.rows.encode`), ``part_rows`` for coding 2 (:func:`.fast.encode`), none
    for coding 1. Codings 1 and 2 do not use ``index_bits``; the header records the narrowest.

    Raises
    ------
    TypeError
        A parameter the coding does not take.
    """
    if coding == Coding.ROWS:
        return rows.encode(indices, colors, **params)
    narrowest = index_bits_allowed(colors)[0]
    if coding == Coding.CONTEXT:
        return context.encode(indices, colors, **params), narrowest
    return fast.encode(indices, colors, **params), narrowest


def check_start(prefix: bytes | memoryview, stream_size: int, header: Header) -> None:
    """Checks on the stream's first bytes (at most :data:`START_BYTES`) that a reader makes
    before it allocates the image: a zstd frame header declaring the plane's size (coding 0),
    a stream at least :data:`.context.MIN_STREAM` bytes long (coding 1), a head whose part
    rows and table size fit the stream (coding 2).

    Raises
    ------
    kmcodec.errors.CorruptError
    """
    if header.coding == Coding.FAST:
        fast.check_start(prefix, stream_size)
    elif header.coding == Coding.CONTEXT:
        if stream_size < context.MIN_STREAM:
            msg = f"the context-coded stream is only {stream_size} bytes"
            raise CorruptError(msg)
    else:
        rows.check_start(prefix, header.unpacked_size)


#: Bytes of the stream :func:`check_start` looks at.
START_BYTES = rows.zstd_frame.FRAME_HEADER_MAX


def decode(stream: bytes | memoryview, header: Header, *, check_indices: bool = True) -> IndexPlane:
    """Decode and check a file's index stream, whatever its coding.

    Parameters
    ----------
    stream : bytes-like
        Exactly the file's index stream.
    header : kmcodec.format.layout.Header
        The file's header (its fields already checked).
    check_indices : bool, default=True
        False leaves coding 0's check that every index is below K to the caller, who makes it
        as it uses them (an animation layer's paint does; codings 1 and 2 check as they decode,
        at no cost, whatever this says).

    Returns
    -------
    IndexPlane

    Raises
    ------
    kmcodec.errors.CorruptError
        Including :class:`~kmcodec.errors.ChecksumError` and
        :class:`~kmcodec.errors.IndexRangeError`.
    """
    h = header
    if h.coding == Coding.FAST:
        return IndexPlane(fast.decode(stream, h.width, h.height, h.colors), h.width, h.height, 8)
    if h.coding == Coding.CONTEXT:
        plane = context.decode(stream, h.width, h.height, h.colors)
        return IndexPlane(plane, h.width, h.height, 8)
    packed = rows.decode(stream, h.width, h.height, h.index_bits, h.colors, check_indices)
    return IndexPlane(packed, h.width, h.height, h.index_bits)


def decode_prefix(prefix: bytes | memoryview, header: Header) -> tuple[np.ndarray, int]:
    """Decode what the first bytes of a file's index stream hold, for a reader that accepts a
    truncated file (Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES``).

    Returns
    -------
    plane : ndarray of uint8, shape (height, width)
        The rows that arrived and decoded (and, where a coding checks, passed their checks:
        each part's CRC-32 in coding 2, indices below K in coding 0); zeros after them, as
        Pillow leaves what it could not decode of a truncated PNG.
    rows : int
        How many rows at the top are decoded; 0 if none (never raises for bad bytes).
    """
    h = header
    plane = np.zeros((h.height, h.width), dtype=np.uint8)
    if h.coding == Coding.FAST:
        rows_done = fast.decode_prefix(prefix, h.width, h.height, h.colors, plane)
    elif h.coding == Coding.CONTEXT:
        rows_done = context.decode_prefix(prefix, h.width, h.height, h.colors, plane)
    else:
        rows_done = rows.decode_prefix(prefix, h.width, h.height, h.index_bits, h.colors, plane)
    return plane, rows_done


def read_plane(fp: IO[bytes], header: Header) -> IndexPlane:
    """Read a file's index stream from ``fp`` (at the stream's start) and decode it: the one
    read sequence of :func:`kmcodec.read` and the Pillow plugin's ``load`` and ``verify``.

    Raises
    ------
    kmcodec.errors.KmqError
        :class:`~kmcodec.errors.TruncatedError` if the file ends inside the stream, else as
        :func:`decode`.
    """
    return decode(read_stream(fp, header), header)
