"""The animation stream: the index stream of a file whose header has :data:`FLAG_ANIMATION`.

Spec: ``spec/kmq.md`` section 2.8. Like :mod:`.layout`, this module knows bytes and sizes, not
colours: a frame is a list of layers, a layer a rectangle of the canvas, a map from its symbols
to the file's palette and an index stream of one of the still codings (:mod:`.codings`), which
gives the symbols their meaning only through :class:`Layer.kind`:

- :data:`PLAIN`: symbol ``s`` is palette entry ``map[s]``;
- :data:`DELTA`: symbol 0 keeps the canvas's index, symbol ``s >= 1`` is ``map[s - 1]``;
- :data:`MOVE`: no symbols; the rectangle takes the indices the canvas held in a rectangle of
  the same size at (``from_x``, ``from_y``) (a scroll or a pan), read before it is written.

A stream is, in order::

    frame_count u32 | loop u16 | anim_flags u16 | frame_count x (duration_ms u32, size u32)
    | the frames, each ``size`` bytes: layer_count u8, then the layers

and a layer::

    kind u8 | x u32 | y u32 | width u32 | height u32 | map_size u16 | map_form u8 | map
    | coding u8 | index_bits u8 | stream_size u32 | stream

or, for :data:`MOVE`, ``kind u8 | x u32 | y u32 | width u32 | height u32 | from_x u32 | from_y
u32``.

The map is ``map_size`` u16 palette entries (``map_form`` 0) or a bitset of ``ceil(K / 8)``
bytes, entry ``i`` in bit ``i % 8`` of byte ``i // 8``, the entries in increasing order
(``map_form`` 1): the writer takes the shorter.

Each layer names its own coding (the encoder keeps, layer by layer, the smaller of coding 2 and
coding 0, as for a still image); the file header's ``coding`` and ``index_bits`` are 0.

Every frame is read on its own (its offset is the sum of the sizes before it), so a reader can
seek to a key frame -- a frame whose first layer is :data:`PLAIN` over the whole canvas --
without reading the frames before it.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import CorruptError, LimitError, TruncatedError

__all__ = [
    "ANIM_LOOP",
    "DELTA",
    "MAX_FRAMES",
    "MOVE",
    "PLAIN",
    "FrameEntry",
    "Layer",
    "Table",
    "build_frame",
    "build_stream",
    "parse_frame",
    "parse_table",
]

PLAIN = 0
DELTA = 1
#: A layer that copies a rectangle of the canvas to another place (no map, no stream).
MOVE = 2
#: ``anim_flags`` bit 0: ``loop`` is given (Pillow's ``info["loop"]``); without it the
#: animation plays once and readers report no loop count, as for a GIF without one.
ANIM_LOOP = 0x0001
_RESERVED_ANIM_FLAGS = 0xFFFF & ~ANIM_LOOP
#: Most frames a stream may declare (a reader allocates 8 bytes of table for each).
MAX_FRAMES = 1 << 20

_HEAD = struct.Struct("<IHH")
_ENTRY = struct.Struct("<II")
_LAYER = struct.Struct("<BIIIIHB")
#: ``map_form``: the map as a list of u16 entries, or as a bitset over the palette.
MAP_LIST = 0
MAP_BITSET = 1
_LAYER_TAIL = struct.Struct("<BBI")
#: A MOVE layer: kind and rectangle as every layer, then where the rectangle is copied from.
_MOVE = struct.Struct("<BIIIIII")
HEAD_SIZE = _HEAD.size
MOVE_SIZE = _MOVE.size
ENTRY_SIZE = _ENTRY.size


@dataclass(frozen=True)
class FrameEntry:
    """One row of the frame table: where a frame's bytes are and how long it shows."""

    duration: int
    offset: int
    size: int


@dataclass(frozen=True)
class Table:
    """The stream's head and frame table.

    ``loop`` is None when the stream gives no loop count (``anim_flags`` bit 0 clear).
    ``frames_offset`` is where the first frame starts, from the start of the stream.
    """

    frames: tuple[FrameEntry, ...]
    loop: int | None
    frames_offset: int

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class Layer:
    """One layer of a frame: which rectangle it covers, its symbols' meaning, and its stream.

    ``coding`` is a still coding's number (:class:`~.layout.Coding`), ``index_bits`` the packed
    width of a coding-0 stream (the narrowest otherwise). A :data:`MOVE` layer (:meth:`move`)
    has no map, coding or stream, and copies from (``from_x``, ``from_y``).
    """

    kind: int
    x: int
    y: int
    width: int
    height: int
    mapping: tuple[int, ...]
    coding: int
    index_bits: int
    stream: bytes | memoryview
    from_x: int = 0
    from_y: int = 0

    @classmethod
    def move(cls, x: int, y: int, width: int, height: int, from_x: int, from_y: int) -> Layer:
        """A :data:`MOVE` layer: the ``width`` x ``height`` rectangle at (``x``, ``y``) takes the
        canvas's indices at (``from_x``, ``from_y``)."""
        return cls(MOVE, x, y, width, height, (), 0, 0, b"", from_x, from_y)

    @property
    def symbols(self) -> int:
        """The layer's alphabet: its map's size, plus the "unchanged" symbol for DELTA."""
        return len(self.mapping) + (self.kind == DELTA)


def map_bytes(mapping: tuple[int, ...], colors: int) -> tuple[int, bytes]:
    """The shorter of the map's two forms: (map_form, bytes). A bitset holds only a map in
    increasing order without repeats."""
    listed = struct.pack(f"<{len(mapping)}H", *mapping)
    increasing = all(a < b for a, b in itertools.pairwise(mapping))
    if not increasing or 2 * len(mapping) <= (colors + 7) // 8:
        return MAP_LIST, listed
    bits = np.zeros((colors + 7) // 8 * 8, np.uint8)
    bits[list(mapping)] = 1
    return MAP_BITSET, np.packbits(bits, bitorder="little").tobytes()


def build_frame(layers: list[Layer], colors: int | None = None) -> bytes:
    """The bytes of one frame of an animation whose palette has ``colors`` entries (None: every
    map as a list)."""
    out = [bytes([len(layers)])]
    for la in layers:
        if la.kind == MOVE:
            out.append(_MOVE.pack(MOVE, la.x, la.y, la.width, la.height, la.from_x, la.from_y))
            continue
        form, table = map_bytes(la.mapping, colors) if colors else (MAP_LIST, b"")
        if form == MAP_LIST:
            table = struct.pack(f"<{len(la.mapping)}H", *la.mapping)
        out.append(_LAYER.pack(la.kind, la.x, la.y, la.width, la.height, len(la.mapping), form))
        out.append(table)
        out.append(_LAYER_TAIL.pack(la.coding, la.index_bits, len(la.stream)))
        out.append(bytes(la.stream))
    return b"".join(out)


def build_stream(frames: list[bytes], durations: list[int], loop: int | None) -> bytes:
    """The whole animation stream from its frames' bytes (:func:`build_frame`)."""
    if not 1 <= len(frames) <= MAX_FRAMES or len(durations) != len(frames):
        msg = f"an animation holds 1 to {MAX_FRAMES} frames, each with a duration"
        raise LimitError(msg)
    flags = 0 if loop is None else ANIM_LOOP
    head = _HEAD.pack(len(frames), loop or 0, flags)
    table = b"".join(_ENTRY.pack(d, len(f)) for d, f in zip(durations, frames, strict=True))
    return head + table + b"".join(frames)


def parse_table(prefix: bytes | memoryview, stream_size: int) -> Table:
    """Read and check the head and the frame table from the stream's first bytes.

    Parameters
    ----------
    prefix : bytes-like
        At least the head and the table (:func:`table_size` of the head), or the whole stream.
    stream_size : int
        The stream's size from the file's header.

    Raises
    ------
    TruncatedError
        ``prefix`` ends inside the head or the table.
    CorruptError
        A reserved flag, no frames, or frame sizes that do not add up to the stream.
    LimitError
        More than :data:`MAX_FRAMES` frames.
    """
    if len(prefix) < HEAD_SIZE:
        msg = f"truncated animation head: {len(prefix)} of {HEAD_SIZE} bytes"
        raise TruncatedError(msg)
    count, loop, flags = _HEAD.unpack_from(prefix, 0)
    if flags & _RESERVED_ANIM_FLAGS:
        msg = f"reserved animation flag bits are set (0x{flags:04x})"
        raise CorruptError(msg)
    if count < 1:
        raise CorruptError("an animation must have at least one frame")
    if count > MAX_FRAMES:
        msg = f"{count} frames is more than the {MAX_FRAMES} a KMQ animation may hold"
        raise LimitError(msg)
    frames_offset = HEAD_SIZE + count * ENTRY_SIZE
    if frames_offset > stream_size:
        msg = f"the frame table of {count} frames does not fit the {stream_size}-byte stream"
        raise CorruptError(msg)
    if len(prefix) < frames_offset:
        msg = f"truncated frame table: {len(prefix)} of {frames_offset} bytes"
        raise TruncatedError(msg)
    entries = []
    offset = frames_offset
    for i in range(count):
        duration, size = _ENTRY.unpack_from(prefix, HEAD_SIZE + i * ENTRY_SIZE)
        if size < 1:
            msg = f"frame {i} has no bytes (at least its layer count)"
            raise CorruptError(msg)
        entries.append(FrameEntry(duration, offset, size))
        offset += size
    if offset != stream_size:
        msg = f"the frames add up to {offset} bytes, the stream has {stream_size}"
        raise CorruptError(msg)
    return Table(tuple(entries), loop if flags & ANIM_LOOP else None, frames_offset)


def table_size(head: bytes | memoryview) -> int:
    """Bytes of head and table, from the head's first :data:`HEAD_SIZE` bytes."""
    if len(head) < HEAD_SIZE:
        msg = f"truncated animation head: {len(head)} of {HEAD_SIZE} bytes"
        raise TruncatedError(msg)
    return HEAD_SIZE + min(_HEAD.unpack_from(head, 0)[0], MAX_FRAMES + 1) * ENTRY_SIZE


def parse_frame(data: bytes | memoryview, canvas: tuple[int, int], colors: int) -> list[Layer]:
    """Read and check one frame's layers (their streams not decoded).

    Parameters
    ----------
    data : bytes-like
        Exactly the frame's bytes.
    canvas : (width, height)
    colors : int
        The file's palette size: every map entry must be below it.

    Raises
    ------
    CorruptError
        A layer (or a MOVE layer's source) outside the canvas, an unknown kind, an empty or
        too large map, an entry >= ``colors``, a stream that runs past the frame, or bytes left
        over.
    """
    view = memoryview(data).cast("B")
    if len(view) < 1:
        raise CorruptError("a frame has at least its layer count")
    count = view[0]
    pos = 1
    layers = []
    for n in range(count):
        if pos + _LAYER.size > len(view):
            msg = f"layer {n} runs past the end of its frame"
            raise CorruptError(msg)
        kind, x, y, w, h, size, form = _LAYER.unpack_from(view, pos)
        if kind not in (PLAIN, DELTA, MOVE):
            msg = f"layer {n} has unknown kind {kind}"
            raise CorruptError(msg)
        if w < 1 or h < 1 or x + w > canvas[0] or y + h > canvas[1]:
            msg = f"layer {n} ({w}x{h} at {x},{y}) is not inside the {canvas[0]}x{canvas[1]} canvas"
            raise CorruptError(msg)
        if kind == MOVE:
            if pos + _MOVE.size > len(view):
                msg = f"layer {n} runs past the end of its frame"
                raise CorruptError(msg)
            fx, fy = _MOVE.unpack_from(view, pos)[5:]
            if fx + w > canvas[0] or fy + h > canvas[1]:
                msg = f"layer {n} moves from {w}x{h} at {fx},{fy}, outside the canvas"
                raise CorruptError(msg)
            layers.append(Layer.move(x, y, w, h, fx, fy))
            pos += _MOVE.size
            continue
        pos += _LAYER.size
        if not 1 <= size <= 256 - (kind == DELTA):
            msg = f"layer {n} maps {size} symbols (1 to {256 - (kind == DELTA)} allowed)"
            raise CorruptError(msg)
        if form not in (MAP_LIST, MAP_BITSET):
            msg = f"layer {n} has unknown map form {form}"
            raise CorruptError(msg)
        table = 2 * size if form == MAP_LIST else (colors + 7) // 8
        end = pos + table + _LAYER_TAIL.size
        if end > len(view):
            msg = f"layer {n} runs past the end of its frame"
            raise CorruptError(msg)
        if form == MAP_LIST:
            mapping = struct.unpack_from(f"<{size}H", view, pos)
        else:
            bits = np.unpackbits(
                np.frombuffer(view[pos : pos + table], np.uint8), bitorder="little"
            )
            mapping = tuple(np.flatnonzero(bits).tolist())
            if len(mapping) != size:
                msg = f"layer {n}'s bitset has {len(mapping)} entries, map_size says {size}"
                raise CorruptError(msg)
        if max(mapping) >= colors:
            msg = f"layer {n} maps to palette entry {max(mapping)}, the palette has {colors}"
            raise CorruptError(msg)
        coding, index_bits, stream_size = _LAYER_TAIL.unpack_from(view, pos + table)
        if end + stream_size > len(view):
            msg = f"layer {n}'s stream runs past the end of its frame"
            raise CorruptError(msg)
        stream = view[end : end + stream_size]
        layers.append(Layer(kind, x, y, w, h, mapping, coding, index_bits, stream))
        pos = end + stream_size
    if pos != len(view):
        msg = f"{len(view) - pos} bytes left over after the frame's layers"
        raise CorruptError(msg)
    return layers


def is_key(layers: list[Layer], canvas: tuple[int, int]) -> bool:
    """Whether a frame paints the whole canvas without looking at it: a key frame."""
    if not layers:
        return False
    first = layers[0]
    return first.kind == PLAIN and (first.x, first.y, first.width, first.height) == (
        0,
        0,
        *canvas,
    )


#: Bytes of a frame :func:`is_key_prefix` needs.
KEY_PREFIX = 1 + _LAYER.size


def is_key_prefix(prefix: bytes | memoryview, canvas: tuple[int, int]) -> bool:
    """:func:`is_key` from a frame's first :data:`KEY_PREFIX` bytes (False if fewer)."""
    if len(prefix) < KEY_PREFIX or prefix[0] == 0:
        return False
    kind, x, y, w, h, _size, _form = _LAYER.unpack_from(prefix, 1)
    return kind == PLAIN and (x, y, w, h) == (0, 0, *canvas)
