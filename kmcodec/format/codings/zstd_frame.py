"""Packed rows to one zstd frame, and back, with the checks the spec asks of a decoder (the
zstd half of coding 0; :mod:`.rows` is the whole coding).

Compressor and decompressor objects are created once per thread and reused (creating a zstd
context costs more than compressing a small image). A frame's declared content size is checked
against the size the header implies *before* decompressing: python-zstandard allocates whatever
a frame declares.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import zstandard

from ...errors import ChecksumError, CorruptError

__all__ = [
    "BEST_LEVEL",
    "FAST_OPTIMAL",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "FrameHeader",
    "check_frame_header",
    "compress",
    "decompress",
    "decompress_prefix",
    "frame_end",
    "parse_frame_header",
]

#: zstd's magic number, the first four bytes of every zstd frame.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MIN_LEVEL = 1
MAX_LEVEL = zstandard.MAX_COMPRESSION_LEVEL
#: The level of the best compression (:data:`kmcodec.options.SPEEDS` says which speeds use
#: it). zstd's optimal parser ("btultra")
#: pays off on index planes: on the Kodak set level 19 is 10-15% smaller than level 9 (1.54 vs
#: 1.72 bits per pixel at 16 colours, 4.74 vs 5.54 at 256), and levels 20-22 gain nothing more.
#: It costs 50-110 ms on a 768x512 8-bit plane, 20-70 ms on 1-4-bit planes.
BEST_LEVEL = 19
#: A parameter set for 8-bit index planes, found by a search over zstd's parameters on the
#: Kodak set (``tools/bench_index_coding.py --zstd-search``): the optimal parser ("btopt") with
#: a short search. Within 3-4% of level 19's size (level 12: 6.5-12.5% larger) in 25 ms on a
#: 768x512 plane, where level 19 takes 60-100 ms and level 16 (1-7% larger) 26-47 ms.
FAST_OPTIMAL = "fast-optimal"
_PRESETS = {
    FAST_OPTIMAL: dict(
        window_log=18,
        chain_log=14,
        hash_log=17,
        search_log=2,
        min_match=4,
        target_length=128,
        strategy=zstandard.STRATEGY_BTOPT,
    ),
}

_local = threading.local()


def _compressor(level: int | str) -> zstandard.ZstdCompressor:
    cache = getattr(_local, "compressors", None)
    if cache is None:
        cache = _local.compressors = {}
    comp = cache.get(level)
    if comp is None:
        if isinstance(level, str):
            params = zstandard.ZstdCompressionParameters(
                **_PRESETS[level], write_checksum=True, write_content_size=True
            )
            comp = zstandard.ZstdCompressor(compression_params=params)
        else:
            comp = zstandard.ZstdCompressor(
                level=level, write_checksum=True, write_content_size=True, threads=0
            )
        cache[level] = comp
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec = getattr(_local, "decompressor", None)
    if dec is None:
        # Windows up to the largest plane the format allows (2^28 bytes); the header checks
        # keep every frame's window within its content size.
        dec = _local.decompressor = zstandard.ZstdDecompressor(max_window_size=1 << 28)
    return dec


def check_level(level: int | str) -> int | str:
    """Return ``level`` if it is a zstd level (1-22) or a preset name, else raise."""
    if isinstance(level, str) and level in _PRESETS:
        return level
    if isinstance(level, bool) or not isinstance(level, int):
        msg = f"compress_level must be an integer, got {level!r}"
        raise TypeError(msg)
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        msg = f"compress_level must be {MIN_LEVEL} to {MAX_LEVEL}, got {level}"
        raise ValueError(msg)
    return level


def compress(data: bytes, level: int | str = BEST_LEVEL) -> bytes:
    """Compress ``data`` as one zstd frame with its content size and content checksum.

    Parameters
    ----------
    data : bytes-like
        The packed rows.
    level : int or str, default=BEST_LEVEL
        zstd compression level, 1 to 22, or the name of a preset (:data:`FAST_OPTIMAL`).

    Returns
    -------
    bytes
    """
    return _compressor(check_level(level)).compress(data)


def decompress(frame: bytes | memoryview, expected_size: int) -> bytes:
    """Decompress one zstd frame that must hold exactly ``expected_size`` bytes.

    The checks come in the order of spec section 2.5: the frame header, then where the frame
    ends (within the stream, and exactly at its end), then the content and its checksum.

    Parameters
    ----------
    frame : bytes-like
        Exactly one zstd frame, with nothing after it.
    expected_size : int
        The size the file's header implies.

    Returns
    -------
    bytes

    Raises
    ------
    CorruptError
        A frame header that breaks a rule of the spec, a frame that runs past the stream or is
        followed by bytes, or data zstd cannot decode.
    ChecksumError
        The content checksum does not match.
    """
    frame = memoryview(frame).cast("B")
    header = check_frame_header(frame, expected_size)
    end = frame_end(frame, header)
    if end > len(frame):
        msg = f"the zstd frame runs {end - len(frame)} bytes past the end of the index stream"
        raise CorruptError(msg)
    if end < len(frame):
        msg = f"{len(frame) - end} bytes follow the zstd frame inside the index stream"
        raise CorruptError(msg)
    try:
        out = _decompressor().decompress(frame, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        text = str(exc)
        if "checksum" in text:
            msg = f"zstd content checksum mismatch: the index stream is corrupt ({text})"
            raise ChecksumError(msg) from None
        msg = f"the index stream cannot be decompressed ({text})"
        raise CorruptError(msg) from None
    if len(out) != expected_size:  # pragma: no cover - zstd enforces the declared size
        msg = f"decompressed {len(out)} bytes, expected {expected_size}"
        raise CorruptError(msg)
    return out


#: The most bytes a zstd frame header takes: magic 4, descriptor 1, window 1, dictionary ID 4,
#: content size 8.
FRAME_HEADER_MAX = 18
_DICT_ID_BYTES = (0, 1, 2, 4)
_BLOCK_MAX = 128 * 1024


@dataclass(frozen=True)
class FrameHeader:
    """The fields of a zstd frame header (RFC 8878, section 3.1.1.1) that the spec rules on."""

    size: int  #: bytes of the header, magic number included
    single_segment: bool
    window_size: int  #: the window the frame needs (its content size if single-segment)
    dictionary_id: int
    content_size: int | None
    has_checksum: bool


def parse_frame_header(frame: bytes | memoryview) -> FrameHeader:
    """Parse a zstd frame header as RFC 8878, section 3.1.1.1, lays it out.

    Raises
    ------
    CorruptError
        Not a zstd frame (another magic number, a skippable frame's included), the reserved
        bit set, or a stream shorter than the header its descriptor announces.
    """
    frame = memoryview(frame).cast("B")
    if bytes(frame[:4]) != ZSTD_MAGIC:
        msg = "index stream is not a zstd frame (bad zstd magic number)"
        raise CorruptError(msg)
    if len(frame) < 5:
        msg = "the index stream ends inside the zstd frame header"
        raise CorruptError(msg)
    descriptor = frame[4]
    fcs_flag, single = descriptor >> 6, bool(descriptor & 0x20)
    if descriptor & 0x08:
        msg = "the zstd frame header has its reserved bit set"
        raise CorruptError(msg)
    has_checksum, dict_flag = bool(descriptor & 0x04), descriptor & 0x03
    fcs_bytes = (1 if single else 0, 2, 4, 8)[fcs_flag]
    dict_bytes = _DICT_ID_BYTES[dict_flag]
    size = 5 + (0 if single else 1) + dict_bytes + fcs_bytes
    if len(frame) < size:
        msg = "the index stream ends inside the zstd frame header"
        raise CorruptError(msg)
    pos = 5
    window = 0
    if not single:
        exponent, mantissa = frame[5] >> 3, frame[5] & 7
        base = 1 << (10 + exponent)
        window = base + (base >> 3) * mantissa
        pos = 6
    dictionary_id = int.from_bytes(bytes(frame[pos : pos + dict_bytes]), "little")
    pos += dict_bytes
    content_size = None
    if fcs_bytes:
        content_size = int.from_bytes(bytes(frame[pos : pos + fcs_bytes]), "little")
        if fcs_bytes == 2:
            content_size += 256
    if single:
        window = content_size or 0
    return FrameHeader(size, single, window, dictionary_id, content_size, has_checksum)


def check_frame_header(frame: bytes | memoryview, expected_size: int) -> FrameHeader:
    """Apply the spec's checks to a zstd frame's header (its first 18 bytes are enough).

    Returns
    -------
    FrameHeader

    Raises
    ------
    CorruptError
        Not a zstd frame, a bad frame header, a dictionary ID other than 0, no declared
        content size or one other than ``expected_size``, no content checksum, or a window
        larger than the content needs.
    """
    h = parse_frame_header(frame)
    if h.dictionary_id:
        msg = f"the zstd frame names dictionary {h.dictionary_id}; KMQ frames use none"
        raise CorruptError(msg)
    if h.content_size is None:
        msg = "the zstd frame does not declare its content size"
        raise CorruptError(msg)
    if h.content_size != expected_size:
        msg = (
            f"the zstd frame declares {h.content_size} bytes but the header implies {expected_size}"
        )
        raise CorruptError(msg)
    if not h.has_checksum:
        msg = "the zstd frame has no content checksum"
        raise CorruptError(msg)
    if h.window_size > max(expected_size, 1024):
        msg = (
            f"the zstd frame asks for a {h.window_size}-byte window for {expected_size} bytes"
            " of content"
        )
        raise CorruptError(msg)
    return h


def frame_end(frame: bytes | memoryview, header: FrameHeader) -> int:
    """Where the frame ends: its header, its blocks (walked by their 3-byte headers) and its
    checksum. Past the end of ``frame`` if the data ends inside the frame.

    Raises
    ------
    CorruptError
        A block of the reserved type, or one larger than 128 KiB.
    """
    frame = memoryview(frame).cast("B")
    pos = header.size
    while True:
        if pos + 3 > len(frame):
            return pos + 3  # the stream ends inside a block header
        head = int.from_bytes(bytes(frame[pos : pos + 3]), "little")
        last, kind, size = head & 1, (head >> 1) & 3, head >> 3
        if kind == 3:
            msg = "the zstd frame has a block of the reserved type"
            raise CorruptError(msg)
        if size > _BLOCK_MAX:
            msg = f"a zstd block of {size} bytes is larger than 128 KiB"
            raise CorruptError(msg)
        pos += 3 + (1 if kind == 1 else size)  # an RLE block stores one byte
        if last:
            return pos + (4 if header.has_checksum else 0)


def decompress_prefix(frame: bytes | memoryview, expected_size: int) -> bytes:
    """What the first bytes of a frame decompress to: the blocks that arrived whole, at most
    ``expected_size`` bytes (read in 1 MiB steps, so a frame that claims more allocates no
    more). Unchecked -- the checksum is at the frame's end -- and never raises for a frame cut
    short; a frame header that does not declare ``expected_size`` gives nothing."""
    try:
        check_frame_header(frame, expected_size)
    except CorruptError:
        return b""
    reader = _decompressor().stream_reader(io.BytesIO(frame), read_across_frames=False)
    out = bytearray()
    try:
        while len(out) < expected_size:
            block = reader.read(min(1 << 20, expected_size - len(out)))
            if not block:
                break
            out += block
    except zstandard.ZstdError:
        pass  # corrupt after what arrived: keep what decompressed before it
    return bytes(out)
