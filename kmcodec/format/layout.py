"""The byte layout of a ``.kmq`` file, declared once, and the reader and writer built on it.

:data:`FILE` declares the whole file with construct -- header, palette, header CRC, metadata
chunks, index stream, end of file -- and is the one source of truth for the layout: the writer
builds with it, the reader reads its parts in the spec's order with the same declarations (the
28-byte header through construct's compiled parser), and ``tools/make_vectors.py`` builds the
hostile conformance files by overriding its fields. What each CRC covers is said once, in
:func:`header_crc` and :func:`chunk_crc`. ``spec/kmq.md`` describes the same layout in words, and
``tests/test_layout.py`` checks that the two agree. Nothing here knows of pixels or zstd: the
index stream is opaque bytes (:mod:`kmcodec.format.codings` gives them meaning).

A file is, in order::

    header (28 bytes) | palette (K * 3 or K * 4 bytes) | header CRC-32 (4 bytes)
    | chunk_count metadata chunks | index stream (stream_size bytes) | end of file
"""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass, field
from typing import IO, Any

from construct import (
    Array,
    Bytes,
    Const,
    Default,
    Int8ul,
    Int16ul,
    Int32ul,
    RawCopy,
    Struct,
    Terminated,
    len_,
    this,
)

from ..errors import (
    ChecksumError,
    CorruptError,
    LimitError,
    NotKmqError,
    TruncatedError,
    UnsupportedError,
)


class Coding(enum.IntEnum):
    """How the index stream is coded (header field ``coding``); :mod:`.codings` implements each.

    The container knows only the values; what the stream holds is the coding's business.
    """

    #: Rows of indices packed MSB-first at ``index_bits`` bits, each row padded to a whole byte,
    #: all rows compressed as one zstd frame with declared content size and content checksum.
    ROWS = 0
    #: Indices coded one by one with an adaptive context model and a binary range coder,
    #: followed by the CRC-32 of the index plane (spec section 2.6). The smallest files.
    CONTEXT = 1
    #: A static context model and rANS, in independently decodable parts of rows (spec
    #: section 2.7): files near coding 1's size that open as fast as WebP lossless. The default.
    FAST = 2


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


__all__ = [
    "CHUNK",
    "CHUNK_EXIF",
    "CHUNK_HEADER_SIZE",
    "CHUNK_ICC",
    "EXTENSION",
    "FILE",
    "FLAG_ALPHA",
    "FLAG_ANIMATION",
    "HEADER",
    "HEADER_SIZE",
    "KNOWN_CHUNKS",
    "MAGIC",
    "MAX_ANIMATION_COLORS",
    "MAX_PIXELS",
    "MIME_TYPE",
    "VERSION",
    "Coding",
    "Head",
    "Header",
    "build_file",
    "bytes_left",
    "check_size",
    "check_stream_present",
    "chunk_crc",
    "exif_from_chunk",
    "exif_to_chunk",
    "header_crc",
    "index_bits_allowed",
    "read_head",
    "read_stream",
    "split_file",
]

#: The first eight bytes of every ``.kmq`` file (spec section 2.1 says why these).
MAGIC = b"\x89KMQ\r\n\x1a\n"
#: The format version this module reads and writes.
VERSION = 1
#: Largest width * height a file may declare: 2**28 (spec section 2.1 says why).
MAX_PIXELS = 1 << 28
MIME_TYPE = "image/x-kmq"
EXTENSION = ".kmq"

#: ``flags`` bit 0: palette entries are RGBA (4 bytes) rather than RGB (3 bytes).
FLAG_ALPHA = 0x01
#: ``flags`` bit 1: the index stream is an animation (spec section 2.8, :mod:`.animation`);
#: the palette may then hold up to 65535 entries, and ``coding`` and ``index_bits`` are 0 (each
#: layer of a frame names its own).
FLAG_ANIMATION = 0x02
_RESERVED_FLAGS = 0xFF & ~(FLAG_ALPHA | FLAG_ANIMATION)
#: Largest palette of an animation (``colors`` is 16 bits).
MAX_ANIMATION_COLORS = 0xFFFF

#: The 28-byte header. ``chunk_count`` and ``stream_size`` default, when building a whole
#: :data:`FILE`, to the number of chunks and the stream's length.
HEADER = Struct(
    "magic" / Const(MAGIC),
    "version" / Default(Int8ul, VERSION),
    "flags" / Default(Int8ul, 0),
    "coding" / Int8ul,
    "index_bits" / Int8ul,
    "width" / Int32ul,
    "height" / Int32ul,
    "colors" / Int16ul,
    "chunk_count" / Default(Int16ul, len_(this._.chunks)),
    "stream_size" / Default(Int32ul, len_(this._.stream)),
)
HEADER_SIZE = HEADER.sizeof()
# construct compiles a Struct to Python code: 5 us a parse instead of 13, which shows when
# Pillow opens many small files.
_PARSE_HEADER = HEADER.compile().parse


def header_crc(header: bytes, palette: bytes) -> int:
    """The header CRC-32: over the 28 header bytes and the palette."""
    return zlib.crc32(palette, zlib.crc32(header))


def chunk_crc(kind: bytes, data: bytes) -> int:
    """A chunk's CRC-32: over its type and data (not its length)."""
    return zlib.crc32(data, zlib.crc32(kind))


def _palette_size(header: Any) -> int:
    return header.colors * (4 if header.flags & FLAG_ALPHA else 3)


#: A metadata chunk: type, length, data, CRC-32.
CHUNK = Struct(
    "type" / Bytes(4),
    "length" / Default(Int32ul, len_(this.data)),
    "data" / Bytes(this.length),
    "crc" / Default(Int32ul, lambda c: chunk_crc(c.type, c.data)),
)
CHUNK_HEADER_SIZE = 8
_CHUNK_HEADER = Struct("type" / Bytes(4), "length" / Int32ul)
_CRC = Int32ul

#: The whole file. ``FILE.build(dict(header=dict(value=FIELDS), palette=..., chunks=[dict(type=,
#: data=)], stream=...))`` fills in every count, length and CRC left out; a field given is
#: written as given (which is how the invalid conformance files are made).
FILE = Struct(
    "header" / RawCopy(HEADER),
    "palette" / Bytes(lambda c: _palette_size(c.header.value)),
    "header_crc" / Default(Int32ul, lambda c: header_crc(c.header.data, c.palette)),
    "chunks" / Array(this.header.value.chunk_count, CHUNK),
    "stream" / Bytes(this.header.value.stream_size),
    Terminated,
)

#: Chunk types version 1 defines. Both are ancillary (first letter lower case).
CHUNK_ICC = b"iccp"
CHUNK_EXIF = b"exif"
KNOWN_CHUNKS = frozenset({CHUNK_ICC, CHUNK_EXIF})
#: What Pillow and JPEG put before EXIF's TIFF structure; the ``exif`` chunk stores it without.
_EXIF_PREFIX = b"Exif\x00\x00"


def exif_to_chunk(exif: bytes) -> bytes:
    """EXIF data as the ``exif`` chunk stores it: the TIFF structure, without ``Exif\\0\\0``."""
    return exif[len(_EXIF_PREFIX) :] if exif.startswith(_EXIF_PREFIX) else exif


def exif_from_chunk(data: bytes) -> bytes:
    """An ``exif`` chunk as Pillow's ``info["exif"]`` holds EXIF: with the ``Exif\\0\\0``
    prefix."""
    return _EXIF_PREFIX + data


def check_size(width: int, height: int) -> None:
    """Raise ``ValueError`` for an empty image and ``LimitError`` above ``MAX_PIXELS``."""
    if width < 1 or height < 1:
        msg = f"an image must be at least 1x1 pixels, got {width}x{height}"
        raise ValueError(msg)
    if width * height > MAX_PIXELS:
        msg = f"{width}x{height} is more than the {MAX_PIXELS} pixels a KMQ file may hold"
        raise LimitError(msg)


@dataclass(frozen=True)
class Header:
    """The fixed fields of a ``.kmq`` file (see ``spec/kmq.md``, section "Header").

    ``flags`` is the raw byte; :attr:`has_alpha` reads its bit 0. ``coding`` is a
    :class:`Coding` for the codings this version knows.
    """

    width: int
    height: int
    colors: int
    index_bits: int
    flags: int = 0
    coding: Coding | int = Coding.ROWS
    chunk_count: int = 0
    stream_size: int = 0
    version: int = VERSION

    @property
    def has_alpha(self) -> bool:
        """True if palette entries are RGBA."""
        return bool(self.flags & FLAG_ALPHA)

    @property
    def is_animated(self) -> bool:
        """True if the index stream is an animation (flags bit 1)."""
        return bool(self.flags & FLAG_ANIMATION)

    @property
    def channels(self) -> int:
        """Bytes per palette entry: 4 for RGBA, 3 for RGB."""
        return 4 if self.has_alpha else 3

    @property
    def palette_size(self) -> int:
        """Size of the palette in bytes."""
        return _palette_size(self)

    @property
    def row_bytes(self) -> int:
        """Bytes in one packed row of indices."""
        return (self.width * self.index_bits + 7) // 8

    @property
    def unpacked_size(self) -> int:
        """Size a coding-0 stream must decompress to: ``height * row_bytes``."""
        return self.height * self.row_bytes

    def fields(self) -> dict[str, int]:
        """The header as :data:`HEADER`'s field values (without ``chunk_count`` and
        ``stream_size``, which :data:`FILE` fills in from the chunks and stream)."""
        return dict(
            version=self.version,
            flags=self.flags,
            coding=int(self.coding),
            index_bits=self.index_bits,
            width=self.width,
            height=self.height,
            colors=self.colors,
        )


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


def _check_header(h: Header) -> None:
    """Apply the spec's rules on header fields, in the order the spec lists them."""
    if h.version != VERSION:
        msg = f"unsupported KMQ version {h.version} (this decoder reads version {VERSION})"
        raise UnsupportedError(msg)
    if h.flags & _RESERVED_FLAGS:
        msg = f"reserved flag bits are set (flags = 0x{h.flags:02x})"
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
    if h.is_animated:
        if not 1 <= h.colors <= MAX_ANIMATION_COLORS:
            msg = f"an animation's palette must have 1 to 65535 colours, got {h.colors}"
            raise CorruptError(msg)
        if h.coding != 0 or h.index_bits != 0:
            msg = (
                "coding and index_bits must be 0 in an animation (each layer names its own),"
                f" got {int(h.coding)} and {h.index_bits}"
            )
            raise CorruptError(msg)
        return
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


def bytes_left(fp: IO[bytes]) -> int | None:
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


def _read_exact(fp: IO[bytes], n: int, what: str) -> bytes:
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


def read_head(fp: IO[bytes]) -> Head:
    """Read and check a file's header, palette, header CRC and metadata chunks.

    Reads :data:`FILE`'s parts up to the start of the index stream, checking each as the spec's
    decoder rules say and in their order, so that ``fp`` is left at the stream.

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
    header = Header(
        width=raw.width,
        height=raw.height,
        colors=raw.colors,
        index_bits=raw.index_bits,
        flags=raw.flags,
        coding=Coding(raw.coding) if raw.coding in tuple(Coding) else raw.coding,
        chunk_count=raw.chunk_count,
        stream_size=raw.stream_size,
        version=raw.version,
    )
    _check_header(header)
    palette = _read_exact(fp, header.palette_size, "palette")
    if _CRC.parse(_read_exact(fp, 4, "header CRC")) != header_crc(start, palette):
        msg = "header CRC-32 mismatch: the header or palette is corrupt"
        raise ChecksumError(msg)
    offset = HEADER_SIZE + header.palette_size + 4
    chunks: dict[bytes, bytes] = {}
    for _ in range(header.chunk_count):
        ch = _CHUNK_HEADER.parse(_read_exact(fp, CHUNK_HEADER_SIZE, "chunk header"))
        _check_chunk_type(ch.type, chunks)
        data = _read_exact(fp, ch.length, f"chunk {ch.type!r}")
        if _CRC.parse(_read_exact(fp, 4, "chunk CRC")) != chunk_crc(ch.type, data):
            msg = f"CRC-32 mismatch in chunk {ch.type.decode('ascii')!r}"
            raise ChecksumError(msg)
        chunks[ch.type] = data
        offset += CHUNK_HEADER_SIZE + ch.length + 4
    return Head(header=header, palette=palette, chunks=chunks, stream_offset=offset)


def check_stream_present(left: int | None, h: Header) -> None:
    """Raise :class:`TruncatedError` if the bytes left in the file (None: unknown) cannot hold
    the index stream, before anything reads (and allocates) ``stream_size`` bytes."""
    if left is not None and left < h.stream_size:
        msg = f"truncated index stream: expected {h.stream_size} bytes, the file has {left}"
        raise TruncatedError(msg)


def read_stream(fp: IO[bytes], h: Header) -> bytes | memoryview:
    """Read the index stream that follows :func:`read_head`, and check that the file ends with it.

    Raises
    ------
    TruncatedError
        The file is shorter than its header announces.
    CorruptError
        Bytes follow the index stream.
    """
    check_stream_present(bytes_left(fp), h)
    read = getattr(fp, "read_view", fp.read)
    stream = read(h.stream_size)
    if len(stream) < h.stream_size:
        msg = f"truncated index stream: expected {h.stream_size} bytes, got {len(stream)}"
        raise TruncatedError(msg)
    left = bytes_left(fp)
    if left if left is not None else fp.read(1):
        msg = f"{left or 'some'} trailing bytes after the index stream"
        raise CorruptError(msg)
    return stream


class _ViewReader:
    """A minimal read-only file over a memoryview: ``io.BytesIO`` would copy the whole file
    (8 ms for 8 MB) just to read its head, and :meth:`read_view` hands out the stream without
    copying it."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def remaining(self) -> int:
        return len(self._view) - self._pos

    def read_view(self, n: int) -> memoryview:
        end = min(self._pos + n, len(self._view))
        data = self._view[self._pos : end]
        self._pos = end
        return data

    def read(self, n: int = -1) -> bytes:
        return bytes(self.read_view(len(self._view) if n < 0 else n))


def split_file(data: bytes | bytearray | memoryview) -> tuple[Head, memoryview]:
    """Split a whole file into its head and its index stream (see :func:`read_head` and
    :func:`read_stream`).

    Returns
    -------
    head : Head
    stream : memoryview
        Exactly ``header.stream_size`` bytes.
    """
    reader = _ViewReader(memoryview(data).cast("B"))
    head = read_head(reader)  # type: ignore[arg-type]
    return head, read_stream(reader, head.header)  # type: ignore[arg-type,return-value]


def build_file(header: Header, palette: bytes, chunks: dict[bytes, bytes], stream: bytes) -> bytes:
    """Assemble a complete file from its parts with :data:`FILE`.

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
    _check_header(header)
    if len(palette) != header.palette_size:
        msg = f"palette is {len(palette)} bytes, the header implies {header.palette_size}"
        raise ValueError(msg)
    if len(chunks) > 0xFFFF or len(stream) > 0xFFFFFFFF:
        msg = "too many chunks or index stream too large for the header fields"
        raise LimitError(msg)
    seen: dict[bytes, bytes] = {}
    for kind, data in chunks.items():
        _check_chunk_type(kind, seen)
        seen[kind] = data
        if len(data) > 0xFFFFFFFF:
            raise LimitError("metadata chunk larger than 4 GiB")
    return FILE.build(
        dict(
            header=dict(value=header.fields()),
            palette=palette,
            chunks=[dict(type=kind, data=data) for kind, data in chunks.items()],
            stream=stream,
        )
    )
