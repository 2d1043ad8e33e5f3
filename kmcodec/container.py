"""The ``.kmq`` container: header, palette, metadata chunks and the index stream's place.

This module is the one place where the byte layout of a ``.kmq`` file is declared (with
construct); ``spec/kmq.md`` describes the same layout in words, and ``tests/test_spec.py``
checks that the two agree. It knows nothing of pixels or zstd: it only frames bytes.

A file is, in order::

    header (28 bytes) | palette (K * 3 or K * 4 bytes) | header CRC-32 (4 bytes)
    | chunk_count metadata chunks | index stream (stream_size bytes) | end of file
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from construct import Bytes, Const, Int8ul, Int16ul, Int32ul, Struct

from .errors import (
    ChecksumError,
    CorruptError,
    LimitError,
    NotKmqError,
    TruncatedError,
    UnsupportedError,
)

__all__ = [
    "CHUNK_EXIF",
    "CHUNK_HEADER",
    "CHUNK_ICC",
    "EXTENSION",
    "FLAG_ALPHA",
    "HEADER",
    "HEADER_SIZE",
    "KNOWN_CHUNKS",
    "MAGIC",
    "MAX_PIXELS",
    "MIME_TYPE",
    "VERSION",
    "Coding",
    "Head",
    "Header",
    "build_file",
    "bytes_left",
    "index_bits_allowed",
    "read_head",
    "split_file",
]

#: The first eight bytes of every ``.kmq`` file. Chosen the way PNG chose its signature: a
#: non-ASCII first byte (0x89) catches 7-bit channels and keeps text tools from calling the file
#: text, "KMQ" names the format to a person reading a hex dump, CR LF catches line-ending
#: conversion, 0x1A stops ``type`` on DOS, and the final LF catches LF-to-CRLF conversion.
MAGIC = b"\x89KMQ\r\n\x1a\n"
#: The format version this module reads and writes.
VERSION = 1
#: Largest width * height a file may declare: 2**28. The unpacked 8-bit index plane is then at
#: most 256 MiB, its zstd frame fits the 32-bit ``stream_size`` field (zstd's worst-case
#: expansion of 2**28 bytes is < 2**32), and an RGBA decode is at most 1 GiB.
MAX_PIXELS = 1 << 28
MIME_TYPE = "image/x-kmq"
EXTENSION = ".kmq"

#: ``flags`` bit 0: palette entries are RGBA (4 bytes) rather than RGB (3 bytes).
FLAG_ALPHA = 0x01
_RESERVED_FLAGS = 0xFF & ~FLAG_ALPHA

HEADER = Struct(
    "magic" / Const(MAGIC),
    "version" / Int8ul,
    "flags" / Int8ul,
    "coding" / Int8ul,
    "index_bits" / Int8ul,
    "width" / Int32ul,
    "height" / Int32ul,
    "colors" / Int16ul,
    "chunk_count" / Int16ul,
    "stream_size" / Int32ul,
)
HEADER_SIZE = HEADER.sizeof()
# construct can compile a Struct to Python code: 4 us a parse instead of 13, which shows when
# Pillow opens many small files.
_PARSE_HEADER = HEADER.compile().parse

CHUNK_HEADER = Struct(
    "type" / Bytes(4),
    "length" / Int32ul,
)
_CRC = Int32ul

#: Chunk types version 1 defines. Both are ancillary (first letter lower case).
CHUNK_ICC = b"iccp"
CHUNK_EXIF = b"exif"
KNOWN_CHUNKS = frozenset({CHUNK_ICC, CHUNK_EXIF})


class Coding(enum.IntEnum):
    """How the index stream is coded (header field ``coding``)."""

    #: Rows of indices packed MSB-first at ``index_bits`` bits, each row padded to a whole byte,
    #: all rows compressed as one zstd frame with declared content size and content checksum.
    ROWS = 0
    #: Indices coded one by one with an adaptive context model and a binary range coder,
    #: followed by the CRC-32 of the index plane (spec section 2.6).
    CONTEXT = 1


def index_bits_allowed(colors: int) -> tuple[int, ...]:
    """Return the index widths a file with ``colors`` palette entries may use.

    Parameters
    ----------
    colors : int
        Number of palette entries, 1 to 256.

    Returns
    -------
    tuple of int
        The widths among 1, 2, 4 and 8 bits with ``2**bits >= colors``, narrowest first.
    """
    return tuple(b for b in (1, 2, 4, 8) if (1 << b) >= colors)


@dataclass(frozen=True)
class Header:
    """The fixed fields of a ``.kmq`` file (see ``spec/kmq.md``, section "Header")."""

    width: int
    height: int
    colors: int
    index_bits: int
    has_alpha: bool = False
    coding: Coding = Coding.ROWS
    chunk_count: int = 0
    stream_size: int = 0
    version: int = VERSION

    @property
    def channels(self) -> int:
        """Bytes per palette entry: 4 for RGBA, 3 for RGB."""
        return 4 if self.has_alpha else 3

    @property
    def palette_size(self) -> int:
        """Size of the palette in bytes."""
        return self.colors * self.channels

    @property
    def row_bytes(self) -> int:
        """Bytes in one packed row of indices."""
        return (self.width * self.index_bits + 7) // 8

    @property
    def unpacked_size(self) -> int:
        """Size the index stream must decompress to: ``height * row_bytes``."""
        return self.height * self.row_bytes


@dataclass
class Head:
    """Everything in a ``.kmq`` file before the index stream.

    Attributes
    ----------
    header : Header
        The fixed header fields.
    palette : bytes
        ``colors`` entries of 3 (RGB) or 4 (RGBA) bytes.
    chunks : dict of bytes to bytes
        Metadata chunks by type, in file order; unknown ancillary chunks are kept too.
    stream_offset : int
        Offset of the index stream from the start of the file.
    """

    header: Header
    palette: bytes
    chunks: dict[bytes, bytes] = field(default_factory=dict)
    stream_offset: int = 0


def _check_header(h: Header, flags: int) -> None:
    """Apply the spec's rules on header fields, in the order the spec lists them."""
    if h.version != VERSION:
        msg = f"unsupported KMQ version {h.version} (this decoder reads version {VERSION})"
        raise UnsupportedError(msg)
    if flags & _RESERVED_FLAGS:
        msg = f"reserved flag bits are set (flags = 0x{flags:02x})"
        raise CorruptError(msg)
    if h.coding not in tuple(Coding):
        msg = f"unsupported index coding {int(h.coding)}"
        raise UnsupportedError(msg)
    if h.width < 1 or h.height < 1:
        msg = f"width and height must be at least 1, got {h.width}x{h.height}"
        raise CorruptError(msg)
    if h.width * h.height > MAX_PIXELS:
        msg = f"{h.width}x{h.height} is more than the {MAX_PIXELS} pixels a KMQ file may hold"
        raise LimitError(msg)
    if not 1 <= h.colors <= 256:
        msg = f"palette size must be 1 to 256 colours, got {h.colors}"
        raise CorruptError(msg)
    if h.index_bits not in index_bits_allowed(h.colors):
        msg = f"{h.index_bits} bits per index cannot code {h.colors} colours (use 1, 2, 4 or 8)"
        raise CorruptError(msg)


def _check_chunk_type(kind: bytes, seen: dict[bytes, bytes]) -> None:
    if not kind.isalpha() or not kind.isascii():
        msg = f"chunk type {kind!r} is not four ASCII letters"
        raise CorruptError(msg)
    if kind[:1].isupper() and kind not in KNOWN_CHUNKS:
        msg = f"unknown critical chunk {kind.decode('ascii')!r}"
        raise UnsupportedError(msg)
    if kind in seen:
        msg = f"chunk {kind.decode('ascii')!r} appears twice"
        raise CorruptError(msg)


def bytes_left(fp: BinaryIO) -> int | None:
    """Bytes from ``fp``'s position to its end, or None if it cannot tell (not seekable)."""
    remaining = getattr(fp, "remaining", None)
    if remaining is not None:
        return remaining()
    try:
        pos = fp.tell()
        end = fp.seek(0, 2)
        fp.seek(pos)
    except (OSError, AttributeError, ValueError):
        return None
    return end - pos


def _read_exact(fp: BinaryIO, n: int, what: str) -> bytes:
    left = bytes_left(fp) if n > 1 << 16 else None
    if left is not None and left < n:
        # Refused before reading: fp.read(n) would allocate n bytes (up to 4 GiB) first.
        msg = f"truncated {what}: expected {n} bytes, the file has {left} left"
        raise TruncatedError(msg)
    data = fp.read(n)
    if len(data) != n:
        msg = f"truncated {what}: expected {n} bytes, got {len(data)}"
        raise TruncatedError(msg)
    return data


def read_head(fp: BinaryIO) -> Head:
    """Read and check a file's header, palette, header CRC and metadata chunks.

    Reads exactly up to the start of the index stream, so that ``fp`` is left there. The index
    stream itself is not read.

    Parameters
    ----------
    fp : binary file object
        Positioned at the start of the file.

    Returns
    -------
    Head

    Raises
    ------
    NotKmqError, UnsupportedError, TruncatedError, CorruptError, ChecksumError, LimitError
        As the spec's decoder rules require.
    """
    start = fp.read(HEADER_SIZE)
    if not start.startswith(MAGIC):
        if start and MAGIC.startswith(start):
            msg = "truncated header: the data ends inside the magic number"
            raise TruncatedError(msg)
        msg = "not a KMQ file (bad magic number)"
        raise NotKmqError(msg)
    if len(start) < HEADER_SIZE:
        msg = f"truncated header: expected {HEADER_SIZE} bytes, got {len(start)}"
        raise TruncatedError(msg)
    raw = _PARSE_HEADER(start)
    coding = Coding(raw.coding) if raw.coding in tuple(Coding) else raw.coding
    header = Header(
        width=raw.width,
        height=raw.height,
        colors=raw.colors,
        index_bits=raw.index_bits,
        has_alpha=bool(raw.flags & FLAG_ALPHA),
        coding=coding,
        chunk_count=raw.chunk_count,
        stream_size=raw.stream_size,
        version=raw.version,
    )
    _check_header(header, raw.flags)
    palette = _read_exact(fp, header.palette_size, "palette")
    crc = _CRC.parse(_read_exact(fp, 4, "header CRC"))
    if zlib.crc32(palette, zlib.crc32(start)) != crc:
        msg = "header CRC-32 mismatch: the header or palette is corrupt"
        raise ChecksumError(msg)
    offset = HEADER_SIZE + header.palette_size + 4
    chunks: dict[bytes, bytes] = {}
    for _ in range(header.chunk_count):
        head = _read_exact(fp, CHUNK_HEADER.sizeof(), "chunk header")
        ch = CHUNK_HEADER.parse(head)
        _check_chunk_type(ch.type, chunks)
        data = _read_exact(fp, ch.length, f"chunk {ch.type!r}")
        crc = _CRC.parse(_read_exact(fp, 4, "chunk CRC"))
        if zlib.crc32(data, zlib.crc32(ch.type)) != crc:
            msg = f"CRC-32 mismatch in chunk {ch.type.decode('ascii')!r}"
            raise ChecksumError(msg)
        chunks[ch.type] = data
        offset += CHUNK_HEADER.sizeof() + ch.length + 4
    return Head(header=header, palette=palette, chunks=chunks, stream_offset=offset)


class _ViewReader:
    """A minimal read-only file over a memoryview: ``io.BytesIO`` would copy the whole file
    (8 ms for 8 MB) just to read its head."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def remaining(self) -> int:
        return len(self._view) - self._pos

    def read(self, n: int = -1) -> bytes:
        end = len(self._view) if n < 0 else min(self._pos + n, len(self._view))
        data = bytes(self._view[self._pos : end])
        self._pos = end
        return data


def split_file(data: bytes | bytearray | memoryview) -> tuple[Head, memoryview]:
    """Split a whole file into its head and its index stream, checking the file's length.

    Parameters
    ----------
    data : bytes-like
        The complete file.

    Returns
    -------
    head : Head
    stream : memoryview
        Exactly ``header.stream_size`` bytes.

    Raises
    ------
    TruncatedError
        The file is shorter than its header and chunks announce.
    CorruptError
        Bytes follow the index stream.
    """
    view = memoryview(data).cast("B")
    head = read_head(_ViewReader(view))  # type: ignore[arg-type]
    end = head.stream_offset + head.header.stream_size
    if len(view) < end:
        msg = (
            f"truncated index stream: expected {head.header.stream_size} bytes,"
            f" got {len(view) - head.stream_offset}"
        )
        raise TruncatedError(msg)
    if len(view) > end:
        msg = f"{len(view) - end} trailing bytes after the index stream"
        raise CorruptError(msg)
    return head, view[head.stream_offset : end]


def build_file(header: Header, palette: bytes, chunks: dict[bytes, bytes], stream: bytes) -> bytes:
    """Assemble a complete file from its parts.

    ``header.chunk_count`` and ``header.stream_size`` are taken from ``chunks`` and ``stream``;
    the other fields are checked against the spec's rules first.

    Parameters
    ----------
    header : Header
    palette : bytes
        ``header.colors * header.channels`` bytes.
    chunks : dict of bytes to bytes
        Metadata chunks by four-letter type, written in this order.
    stream : bytes
        The coded index stream.

    Returns
    -------
    bytes
    """
    flags = FLAG_ALPHA if header.has_alpha else 0
    _check_header(header, flags)
    if len(palette) != header.palette_size:
        msg = f"palette is {len(palette)} bytes, the header implies {header.palette_size}"
        raise ValueError(msg)
    if len(chunks) > 0xFFFF or len(stream) > 0xFFFFFFFF:
        msg = "too many chunks or index stream too large for the header fields"
        raise LimitError(msg)
    head = HEADER.build(
        dict(
            version=header.version,
            flags=flags,
            coding=int(header.coding),
            index_bits=header.index_bits,
            width=header.width,
            height=header.height,
            colors=header.colors,
            chunk_count=len(chunks),
            stream_size=len(stream),
        )
    )
    parts = [head, palette, _CRC.build(zlib.crc32(palette, zlib.crc32(head)))]
    seen: dict[bytes, bytes] = {}
    for kind, data in chunks.items():
        _check_chunk_type(kind, seen)
        seen[kind] = data
        if len(data) > 0xFFFFFFFF:
            raise LimitError("metadata chunk larger than 4 GiB")
        parts += [CHUNK_HEADER.build(dict(type=kind, length=len(data))), data]
        parts.append(_CRC.build(zlib.crc32(data, zlib.crc32(kind))))
    parts.append(stream)
    return b"".join(parts)
