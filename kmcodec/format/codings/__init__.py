"""The index plane to the file's index stream and back: one module per coding.

The header's ``coding`` field says which coding a file uses (:class:`Coding`). Every reader
of index streams (:func:`kmcodec.read`, the Pillow plugin) goes through :func:`decode`, and
every writer through :func:`encode`; adding a coding means a module here and a line in each.

- :mod:`.rows` -- coding 0: packed rows (:mod:`.bitpack`) in one zstd frame (:mod:`.zstd_frame`);
- :mod:`.context` -- coding 1: an adaptive context model and a binary range coder, compiled.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...errors import CorruptError
from . import bitpack, context, rows
from .rows import index_bits_allowed

if TYPE_CHECKING:
    from ..layout import Header

__all__ = ["Coding", "IndexPlane", "check_start", "decode", "encode", "index_bits_allowed"]


class Coding(enum.IntEnum):
    """How the index stream is coded (header field ``coding``)."""

    #: Rows of indices packed MSB-first at ``index_bits`` bits, each row padded to a whole byte,
    #: all rows compressed as one zstd frame with declared content size and content checksum.
    ROWS = 0
    #: Indices coded one by one with an adaptive context model and a binary range coder,
    #: followed by the CRC-32 of the index plane (spec section 2.6).
    CONTEXT = 1


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
            return memoryview(self.array()).cast("B"), "P"
        if isinstance(self.data, np.ndarray):
            return memoryview(self.data).cast("B"), "P"
        return self.data, bitpack.PILLOW_RAWMODE[self.index_bits]


def encode(
    indices: np.ndarray,
    colors: int,
    coding: Coding,
    *,
    index_bits: int | None = None,
    level_for: Callable[[int], int | str] | None = None,
    every_width: bool = True,
) -> tuple[bytes, int]:
    """Code an index plane; return the stream and the ``index_bits`` for the header.

    ``index_bits``, ``level_for`` and ``every_width`` shape coding 0 (see :func:`.rows.encode`);
    a context-coded stream does not depend on them and records the narrowest width (or
    ``index_bits`` if given).
    """
    if coding == Coding.CONTEXT:
        return context.encode(indices, colors), index_bits or index_bits_allowed(colors)[0]
    if level_for is None:
        level_for = lambda bits: rows.zstd_frame.BEST_LEVEL  # noqa: E731
    return rows.encode(
        indices, colors, index_bits=index_bits, level_for=level_for, every_width=every_width
    )


def check_start(prefix: bytes | memoryview, stream_size: int, header: Header) -> None:
    """Checks on the stream's first bytes (at most :data:`START_BYTES`) that a reader makes
    before it allocates the image: a zstd frame header declaring the plane's size (coding 0),
    a stream at least :data:`.context.MIN_STREAM` bytes long (coding 1).

    Raises
    ------
    kmcodec.errors.CorruptError
    """
    if header.coding == Coding.CONTEXT:
        if stream_size < context.MIN_STREAM:
            msg = f"the context-coded stream is only {stream_size} bytes"
            raise CorruptError(msg)
    else:
        rows.check_start(prefix, header.unpacked_size)


#: Bytes of the stream :func:`check_start` looks at.
START_BYTES = rows.zstd_frame.FRAME_HEADER_MAX


def decode(stream: bytes | memoryview, header: Header) -> IndexPlane:
    """Decode and check a file's index stream, whatever its coding.

    Parameters
    ----------
    stream : bytes-like
        Exactly the file's index stream.
    header : kmcodec.format.layout.Header
        The file's header (its fields already checked).

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
    if h.coding == Coding.CONTEXT:
        plane = context.decode(stream, h.width, h.height, h.colors)
        return IndexPlane(plane, h.width, h.height, 8)
    packed = rows.decode(stream, h.width, h.height, h.index_bits, h.colors)
    return IndexPlane(packed, h.width, h.height, h.index_bits)
