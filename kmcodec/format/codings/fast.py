"""Indices to a fast-opening stream, and back: coding 2 (``FAST``) of the format.

Each pixel is a token -- "equal to the left, upper, upper-right or upper-left neighbour" (the
first of them holding that value) or "a literal" -- coded in a context of the neighbours'
equality pattern and of how the left and upper pixels were coded; a literal is coded in the
context of the left neighbour's value; where the four neighbours are one colour, a span says
how far the row above's run of that colour goes on. The model is static: the encoder counts
every context's symbols first, sends the quantised tables once, and codes with rANS, so that
the decoder does a table look-up and a multiply per symbol, with no model to update.
The image is cut into parts of ``part_rows`` rows, each with its own rANS state and CRC-32,
which decode on as many threads as there are cores; on a thread, two parts decode a pixel of
each in turn, so that the processor overlaps their chains of dependent look-ups (the encoder
writes an even number of parts for that). ``spec/kmq.md`` section 2.7 is the exact
description; ``docs/design/codings.md`` records what was tried and measured.

Stream layout: ``u32 part_rows, u32 table_size, tables, u32 crc32(tables)``, then per part
``u32 size, u32 crc32(bytes), bytes``; nothing after the last part.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from ...errors import ChecksumError, CorruptError, IndexRangeError, KmqError
from . import _fast_coder

__all__ = [
    "MIN_STREAM",
    "PAIR_PIXELS",
    "PART_PIXELS",
    "check_start",
    "decode",
    "decode_prefix",
    "encode",
    "part_rows_for",
    "parts_of",
]

#: The encoder's default part size: at most about this many pixels a part (whole rows).
PART_PIXELS = 1 << 20
#: From this many pixels on, the encoder writes an even number of parts, at least 2, so that
#: the decoder decodes them two at a time on a thread (measured: 4-27% faster at K >= 16 on
#: the Kodak photos, for 0.01-0.5% more bytes; ``docs/design/codings.md``).
PAIR_PIXELS = 1 << 17
#: Below this many pixels, the decoder does not start threads: a 768 x 512 image (two parts)
#: decodes in 0.64-0.68x its one-thread time on two threads (median of 12 Kodak photos, K = 16
#: and 256), one of about 175,000 pixels in 0.81x with cases above 1.0x (a part with little in
#: it leaves its thread idle, and the start costs more than it saves).
THREAD_PIXELS = 1 << 18
#: Nor below this many bytes of stream: the work is in the symbols, not the pixels, and at K =
#: 2 and 4 a 768 x 512 photo (7-17 KB) opened no faster on two threads (1.0-1.1x; K = 16, 48
#: KB: 0.74x; through Pillow, ``tools/bench_size.py``).
THREAD_BYTES = 1 << 15
#: Threads the decoder uses when not told: None is one per core (one below
#: :data:`THREAD_PIXELS` or :data:`THREAD_BYTES`); benchmarks set 1 to time one thread through
#: Pillow.
THREADS: int | None = None
#: part_rows, table_size, the tables' CRC-32, and one part's size, CRC-32 and 4-byte state.
MIN_STREAM = 4 + 4 + 4 + 8 + 4

_U32 = struct.Struct("<I")

_ERRORS = {
    _fast_coder.ERR_ENDS_EARLY: "a part of the fast-coded stream ends before its last pixel",
    _fast_coder.ERR_LEFT_OVER: "a part of the fast-coded stream has bytes left over after its"
    " last pixel, or its final rANS state is not 65536",
    _fast_coder.ERR_TABLE_SUM: "a table of the fast-coded stream does not sum to its total",
    _fast_coder.ERR_SYMBOL: "a table of the fast-coded stream holds a symbol out of range",
    _fast_coder.ERR_TABLE: "the tables of the fast-coded stream are malformed",
    _fast_coder.ERR_EMPTY: "the fast-coded stream reads a symbol from an empty table",
    _fast_coder.ERR_SPAN: "a span of the fast-coded stream is longer than the run above it",
    _fast_coder.ERR_STATE: "a part of the fast-coded stream starts with a rANS state below 65536",
}

_pool: ThreadPoolExecutor | None = None


def part_rows_for(width: int, height: int) -> int:
    """The encoder's default rows per part for an image of ``width`` x ``height`` pixels.

    Parts of at most about :data:`PART_PIXELS` pixels, an even number of them (at least 2)
    from :data:`PAIR_PIXELS` pixels on.
    """
    if width * height < PAIR_PIXELS:
        return max(1, -(-PART_PIXELS // width))
    parts = -(-width * height // PART_PIXELS)
    return max(1, -(-height // max(2, parts + parts % 2)))


def encode(indices: np.ndarray, colors: int, *, part_rows: int | None = None) -> bytes:
    """Code an index plane with the static model and rANS.

    Parameters
    ----------
    indices : ndarray of uint8, shape (height, width)
        Every value below ``colors``.
    colors : int
        Palette size K, 1 to 256.
    part_rows : int, optional
        Rows per independently decodable part; default :func:`part_rows_for`.

    Returns
    -------
    bytes
        The index stream (layout in the module docstring).
    """
    plane = np.ascontiguousarray(indices, dtype=np.uint8)
    height, width = plane.shape
    rows = part_rows or part_rows_for(width, height)
    tables, parts = _fast_coder.encode(plane, width, height, colors, rows)
    out = [_U32.pack(rows), _U32.pack(len(tables)), tables, _U32.pack(zlib.crc32(tables))]
    for part in parts:
        out += [_U32.pack(len(part)), _U32.pack(zlib.crc32(part)), part]
    return b"".join(out)


def check_start(prefix: bytes | memoryview, stream_size: int) -> None:
    """The checks a reader makes on the stream's first 8 bytes before it allocates the image:
    the stream is long enough, ``part_rows`` is at least 1 and the tables fit in the stream.

    Raises
    ------
    CorruptError
    """
    if stream_size < MIN_STREAM or len(prefix) < 8:
        msg = f"the fast-coded stream is only {stream_size} bytes"
        raise CorruptError(msg)
    part_rows, table_size = _U32.unpack_from(prefix, 0)[0], _U32.unpack_from(prefix, 4)[0]
    if part_rows < 1:
        msg = "the fast-coded stream declares parts of 0 rows"
        raise CorruptError(msg)
    if 8 + table_size + 4 > stream_size:
        msg = "the fast-coded stream ends inside its tables"
        raise CorruptError(msg)


def parts_of(stream: bytes | memoryview, height: int) -> tuple[int, memoryview, list[memoryview]]:
    """Split a stream into part_rows, the table bytes and the parts' bytes, checking the
    layout and the CRC-32s (spec 2.7.1).

    Raises
    ------
    CorruptError, ChecksumError
    """
    part_rows, tables, parts, error = _walk(memoryview(stream).cast("B"), height)
    if error is not None:
        raise error
    assert tables is not None
    return part_rows, tables, [part for part, _crc in parts]


def _walk(
    view: memoryview, height: int
) -> tuple[int, memoryview | None, list[tuple[memoryview, int]], KmqError | None]:
    """The layout of spec 2.7.1 as far as it holds: part_rows, the table bytes (None until
    they arrived whole with a matching CRC-32), each whole part with its stored CRC-32 in
    order, and the error of the first rule broken (None for a whole, exact stream). A strict
    reader raises the error; a reader of a truncated file keeps what came before it."""
    if len(view) < 8:
        msg = f"the fast-coded stream is {len(view)} bytes, shorter than its 8-byte head"
        return 0, None, [], CorruptError(msg)
    part_rows, table_size = _U32.unpack_from(view, 0)[0], _U32.unpack_from(view, 4)[0]
    if part_rows < 1:
        return 0, None, [], CorruptError("the fast-coded stream declares parts of 0 rows")
    pos = 8 + table_size
    if pos + 4 > len(view):
        return part_rows, None, [], CorruptError("the fast-coded stream ends inside its tables")
    tables = view[8:pos]
    if zlib.crc32(tables) != _U32.unpack_from(view, pos)[0]:
        msg = "the fast-coded stream's tables fail their checksum (CRC-32)"
        return part_rows, None, [], ChecksumError(msg)
    pos += 4
    count = -(-height // part_rows)
    parts: list[tuple[memoryview, int]] = []
    for i in range(count):
        if pos + 8 > len(view):
            msg = f"the fast-coded stream ends before part {i} of {count}"
            return part_rows, tables, parts, CorruptError(msg)
        size, crc = _U32.unpack_from(view, pos)[0], _U32.unpack_from(view, pos + 4)[0]
        if pos + 8 + size > len(view):
            msg = f"the fast-coded stream ends inside part {i} of {count}"
            return part_rows, tables, parts, CorruptError(msg)
        parts.append((view[pos + 8 : pos + 8 + size], crc))
        pos += 8 + size
    if pos != len(view):
        msg = f"{len(view) - pos} bytes are left over after the fast-coded stream's last part"
        return part_rows, tables, parts, CorruptError(msg)
    return part_rows, tables, parts, None


def _raise_for(status: int, colors: int, part: int) -> None:
    if status == _fast_coder.ERR_INDEX:
        msg = f"a palette index is out of range for {colors} colours (part {part})"
        raise IndexRangeError(msg)
    if status:
        msg = f"{_ERRORS[status]} (part {part})" if part >= 0 else _ERRORS[status]
        raise CorruptError(msg)


def decode(
    stream: bytes | memoryview, width: int, height: int, colors: int, *, threads: int | None = None
) -> np.ndarray:
    """Decode a fast-coded index stream.

    Parameters
    ----------
    stream : bytes-like
        Exactly the file's index stream.
    width, height, colors : int
        From the file's header (already checked against the format's limits).
    threads : int, optional
        Threads to decode parts on; default: the number of cores, one for images below
        :data:`THREAD_PIXELS` pixels or streams below :data:`THREAD_BYTES` bytes.

    Returns
    -------
    ndarray of uint8, shape (height, width)

    Raises
    ------
    CorruptError
        The layout, a table or a part is malformed (the first failing part is reported).
    ChecksumError
        A part's bytes or the tables fail their CRC-32.
    IndexRangeError
        A decoded index is not below ``colors``.
    """
    part_rows, table_bytes, parts, error = _walk(memoryview(stream).cast("B"), height)
    if error is not None:
        raise error
    tables = _fast_coder.parse_tables(table_bytes, colors)
    if isinstance(tables, int):
        _raise_for(tables, colors, -1)
    plane = np.empty((height, width), dtype=np.uint8)

    def rows_of(i: int) -> tuple[int, int]:
        y0 = i * part_rows
        return y0, min(part_rows, height - y0)

    def run(i: int) -> int:
        part, crc = parts[i]
        if zlib.crc32(part) != crc:
            return 1
        y0, rows = rows_of(i)
        return _fast_coder.decode_part(tables, part, width, rows, colors, plane[y0 : y0 + rows])

    def run_one(i: int) -> list[int]:
        return [run(i)]

    def run_pair(i: int) -> list[int]:
        """Parts i and i + 1 on one thread, together; one by one if either fails, to tell
        which and why."""
        (a, crc_a), (b, crc_b) = parts[i], parts[i + 1]
        if zlib.crc32(a) == crc_a and zlib.crc32(b) == crc_b:
            (ya, ra), (yb, rb) = rows_of(i), rows_of(i + 1)
            pa, pb = plane[ya : ya + ra], plane[yb : yb + rb]
            if _fast_coder.decode_pair(tables, a, b, width, ra, rb, colors, pa, pb) == 0:
                return [0, 0]
        return [run(i), run(i + 1)]

    if threads is None:
        threads = THREADS
    if threads is None:
        big = width * height >= THREAD_PIXELS and len(stream) >= THREAD_BYTES
        threads = (os.cpu_count() or 1) if big else 1
    threads = max(1, min(threads, len(parts)))
    # pairs, unless there are too few of them to keep every thread busy
    paired = len(parts) // 2 * 2 if len(parts) >= 2 * threads else 0
    units: list[Callable[[], list[int]]] = [partial(run_pair, i) for i in range(0, paired, 2)]
    units += [partial(run_one, i) for i in range(paired, len(parts))]
    if threads == 1:
        results = [status for unit in units for status in unit()]
    else:
        results = [status for got in _executor().map(lambda unit: unit(), units) for status in got]
    for i, status in enumerate(results):
        if status == 1:
            msg = f"part {i} of the fast-coded stream fails its checksum (CRC-32)"
            raise ChecksumError(msg)
        _raise_for(status, colors, i)
    return plane


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="kmq")
    return _pool


def decode_prefix(
    prefix: bytes | memoryview, width: int, height: int, colors: int, plane: np.ndarray
) -> int:
    """Decode what a truncated stream holds into ``plane`` (zeros as given): every whole part
    whose bytes arrived and pass their CRC-32, up to the first that did not. Return the rows
    decoded; 0 if the tables did not arrive. Nothing is raised: a reader asked for what arrived.
    """
    part_rows, table_bytes, parts, _error = _walk(memoryview(prefix).cast("B"), height)
    tables = None if table_bytes is None else _fast_coder.parse_tables(table_bytes, colors)
    if tables is None or isinstance(tables, int):
        return 0
    done = 0
    for part, crc in parts:
        rows = min(part_rows, height - done)
        if zlib.crc32(part) != crc or _fast_coder.decode_part(
            tables, part, width, rows, colors, plane[done : done + rows]
        ):
            plane[done : done + rows] = 0
            break
        done += rows
    return done
