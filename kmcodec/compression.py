"""Packed rows to one zstd frame, and back, with the checks the spec asks of a decoder.

Compressor and decompressor objects are created once per thread and reused (creating a zstd
context costs more than compressing a small image). A frame's declared content size is checked
against the size the header implies *before* decompressing: python-zstandard allocates whatever
a frame declares.
"""

from __future__ import annotations

import threading

import zstandard

from .errors import ChecksumError, CorruptError

__all__ = [
    "BEST_LEVEL",
    "FAST_OPTIMAL",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "check_frame_header",
    "compress",
    "decompress",
]

#: zstd's magic number, the first four bytes of every zstd frame.
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MIN_LEVEL = 1
MAX_LEVEL = zstandard.MAX_COMPRESSION_LEVEL
#: The level of the best compression (speeds 1-2 use it). zstd's optimal parser ("btultra")
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
        dec = _local.decompressor = zstandard.ZstdDecompressor()
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
        Not a zstd frame, no declared content size or no content checksum, a declared size other
        than ``expected_size``, bytes after the frame, or data zstd cannot decode.
    ChecksumError
        The content checksum does not match.
    """
    frame = memoryview(frame).cast("B")
    check_frame_header(frame, expected_size)
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


def check_frame_header(frame: bytes | memoryview, expected_size: int) -> None:
    """Apply the spec's checks to a zstd frame's header (its first 18 bytes are enough).

    Raises
    ------
    CorruptError
        Not a zstd frame, a bad frame header, no declared content size or one other than
        ``expected_size``, or no content checksum.
    """
    frame = memoryview(frame).cast("B")
    if bytes(frame[:4]) != ZSTD_MAGIC:
        msg = "index stream is not a zstd frame (bad zstd magic number)"
        raise CorruptError(msg)
    try:
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as exc:
        msg = f"index stream has a bad zstd frame header ({exc})"
        raise CorruptError(msg) from None
    if params.content_size == zstandard.CONTENTSIZE_UNKNOWN:
        msg = "the zstd frame does not declare its content size"
        raise CorruptError(msg)
    if params.content_size != expected_size:
        msg = (
            f"the zstd frame declares {params.content_size} bytes but the header implies"
            f" {expected_size}"
        )
        raise CorruptError(msg)
    if not params.has_checksum:
        msg = "the zstd frame has no content checksum"
        raise CorruptError(msg)
