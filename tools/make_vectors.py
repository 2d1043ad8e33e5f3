"""Generate the conformance files in ``spec/vectors/`` (see ``spec/kmq.md``, section 6).

Usage::

    python tools/make_vectors.py [--out spec/vectors]

Valid files come with the PNG they must decode to, made from the source pixels (not by decoding
the file). Invalid files are valid files with one defect each, rebuilt with the layout's own
declaration (``kmcodec.format.layout.FILE``) with a field overridden; a header that is altered
gets its CRC recomputed, so that the defect, not the CRC, is what a decoder meets first.
Everything is built from fixed data, so the output is the same on every run.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
import zstandard
from construct import Container
from PIL import Image

from kmcodec.codec import encode_indexed
from kmcodec.format import animation as anim
from kmcodec.format import codings
from kmcodec.format import layout as container
from kmcodec.format.codings import bitpack, fast
from kmcodec.format.codings import zstd_frame as compression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests import (  # noqa: E402  (the plain-Python coders of codings 1 and 2)
    context_reference,
    fast_reference,
)

HEADER = container.HEADER
FILE = container.FILE


def _rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


def _palette(k: int, channels: int = 3) -> np.ndarray:
    return _rng().integers(0, 256, size=(k, channels), dtype=np.uint8)


def _indices(width: int, height: int, k: int, seed: int) -> np.ndarray:
    idx = np.random.default_rng(seed).integers(0, k, size=(height, width), dtype=np.uint8)
    idx.flat[: min(k, idx.size)] = np.arange(min(k, idx.size))  # every entry used when it fits
    return idx


def example() -> tuple[np.ndarray, np.ndarray]:
    """The 4 x 2 image of spec section 5."""
    palette = np.array([[0x20, 0x40, 0x80], [0xFF, 0xFF, 0xFF], [0, 0, 0]], dtype=np.uint8)
    indices = np.array([[0, 1, 2, 0], [1, 1, 2, 2]], dtype=np.uint8)
    return palette, indices


def metadata() -> tuple[bytes, bytes]:
    """An sRGB ICC profile and an EXIF block with orientation 6."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    # Little CMS stamps the creation time (bytes 24-35) and an MD5 profile ID over it (84-99):
    # fix the date and clear the ID ("not computed"), so every run writes the same file.
    icc[24:36] = bytes([0x07, 0xEA, 0, 11, 0, 27, 0, 0, 0, 0, 0, 0])  # 2026-11-27 00:00:00
    icc[84:100] = bytes(16)
    icc = bytes(icc)
    exif = Image.Exif()
    exif[0x0112] = 6
    return icc, exif.tobytes()


def context_literal_excluded() -> tuple[bytes, np.ndarray]:
    """A coding-1 file in which a pixel's flag for its own value decodes 0 and the index then
    comes as a literal equal to that excluded value: allowed (spec 2.6.5 step 7)."""
    palette, indices = _palette(200), _indices(33, 9, 200, 4)
    good = encode_indexed(palette, indices, coding=1)
    rows, flat = indices.tolist(), indices.reshape(-1).tolist()

    def traced(stream: bytes) -> list:
        context_reference.TRACE = trace = []
        try:
            assert context_reference.decode(stream, 33, 9, 200) == flat
        finally:
            context_reference.TRACE = None
        return trace

    # The last pixel that a flag codes (a flag of its own value decodes 1) is the one lied at.
    truthful = traced(context_reference.encode(rows, 200))
    pos = max(
        i
        for i, (*_, steps, _v) in enumerate(truthful)
        if steps[-1][0].startswith("flag") and steps[-1][2]
    )
    stream = context_reference.encode(rows, 200, lie_at=frozenset({pos}))
    steps, index = traced(stream)[pos][3:]
    flags = [what for what, _p, bit in steps if what.startswith("flag") and bit == 0]
    assert f"v={index}" in " ".join(flags) and steps[-1][0].startswith("literal"), steps
    return _with_stream(good, stream), palette[indices]


def valid_files() -> dict[str, tuple[bytes, np.ndarray]]:
    """Return {name: (file bytes, expected pixels)}."""
    out: dict[str, tuple[bytes, np.ndarray]] = {}

    def add(name: str, palette: np.ndarray, indices: np.ndarray, **kw: object) -> None:
        kw.setdefault("coding", 0)
        out[name] = (encode_indexed(palette, indices, **kw), palette[indices])  # type: ignore[arg-type]

    add("example", *example(), index_bits=2)
    add("one-pixel", _palette(1), np.zeros((1, 1), np.uint8))
    add("bits1-odd-width", _palette(2), _indices(13, 5, 2, 1), index_bits=1)
    add("bits2", _palette(4), _indices(7, 3, 4, 2), index_bits=2)
    add("bits4", _palette(16), _indices(9, 4, 16, 3), index_bits=4)
    add("bits8", _palette(200), _indices(33, 9, 200, 4), index_bits=8)
    add("bits8-few-colors", _palette(5), _indices(6, 6, 5, 5), index_bits=8)
    rgba = _palette(3, 4)
    rgba[0] = (0, 0, 0, 0)
    add("rgba", rgba, _indices(10, 4, 3, 6))
    add("256-colors", _palette(256), np.arange(256, dtype=np.uint8).reshape(16, 16))
    icc, exif = metadata()
    meta_palette, meta_indices = _palette(4), _indices(5, 5, 4, 7)
    data = encode_indexed(meta_palette, meta_indices, icc_profile=icc, exif=exif, coding=0)
    unknown = _add_chunk(data, b"zzzz", b"an unknown ancillary chunk")
    out["metadata"] = (unknown, meta_palette[meta_indices])
    # Coding 1: the same kinds of image, and one with repeats that the match model follows.
    add("context-example", *example(), index_bits=2, coding=1)
    add("context-one-pixel", _palette(1), np.zeros((1, 1), np.uint8), coding=1)
    add("context-2-colors", _palette(2), _indices(13, 5, 2, 1), coding=1)
    add("context-200-colors", _palette(200), _indices(33, 9, 200, 4), coding=1)
    add("context-rgba", rgba, _indices(10, 4, 3, 6), coding=1)
    add(
        "context-256-colors",
        _palette(256),
        np.arange(256, dtype=np.uint8).reshape(16, 16),
        coding=1,
    )
    add("context-patterns", _palette(12), patterns(), coding=1)
    out["context-literal-excluded"] = context_literal_excluded()
    # Coding 2: the same kinds, several parts, and spans whose length needs raw bits.
    add("fast-example", *example(), index_bits=2, coding=2)
    add("fast-one-pixel", _palette(1), np.zeros((1, 1), np.uint8), coding=2)
    add("fast-2-colors", _palette(2), _indices(13, 5, 2, 1), coding=2)
    add("fast-200-colors", _palette(200), _indices(33, 9, 200, 4), coding=2)
    add("fast-rgba", rgba, _indices(10, 4, 3, 6), coding=2)
    add(
        "fast-256-colors",
        _palette(256),
        np.arange(256, dtype=np.uint8).reshape(16, 16),
        coding=2,
    )
    add("fast-patterns", _palette(12), patterns(), coding=2)
    wide = np.zeros((3, 30_000), np.uint8)  # (browsers draw at most 32,767 pixels wide)
    wide[1, 20_000] = wide[2, 1_000] = 1  # spans of 20,000 and 1,000: 13 and 8 raw bits
    add("fast-long-spans", _palette(2), wide, coding=2)
    palette, indices = _palette(12), patterns()
    out["fast-parts"] = (
        _with_stream(
            encode_indexed(palette, indices, coding=2),
            fast.encode(indices, 12, part_rows=5),
        ),
        palette[indices],
    )
    return out


def patterns() -> np.ndarray:
    """A 64 x 48 image of 12 colours: a repeated tile, stripes, flat areas and noise."""
    y, x = np.mgrid[0:48, 0:64]
    idx = ((x // 4 + y // 3) % 5).astype(np.uint8)
    tile = np.random.default_rng(8).integers(5, 12, size=(6, 8), dtype=np.uint8)
    idx[6:12, 4:12] = tile
    idx[30:36, 40:48] = tile
    idx[20:28, 20:60] = 11
    idx[40:, :30] = np.random.default_rng(9).integers(0, 12, size=(8, 30), dtype=np.uint8)
    return idx


def _parts(data: bytes) -> dict:
    """A valid file parsed by the layout's declaration, as :data:`FILE`'s build input."""
    f = FILE.parse(data)
    value = {k: v for k, v in f.header.value.items() if not k.startswith("_") and k != "magic"}
    chunks = [dict(type=c.type, data=c.data, crc=c.crc) for c in f.chunks]
    return dict(header=dict(value=value), palette=f.palette, chunks=chunks, stream=f.stream)


def _build(parts: dict, header_crc: int | None = None, **changes: int) -> bytes:
    """Build a file with :data:`FILE` from ``parts``, with header fields changed (the header CRC
    is computed over the changed header unless ``header_crc`` is given). The counts and sizes
    follow the parts; the palette stays the parts' own whatever a changed header says of it, as
    a decoder must stop at the header."""
    actual = dict(
        parts["header"]["value"], chunk_count=len(parts["chunks"]), stream_size=len(parts["stream"])
    )
    raw = HEADER.build({**actual, **changes})
    built = dict(parts, header=dict(data=raw, value=Container(actual)))
    if header_crc is not None:
        built["header_crc"] = header_crc
    return FILE.build(built)


def _patch(data: bytes, **changes: int) -> bytes:
    """Change header fields (the header CRC is recomputed)."""
    return _build(_parts(data), **changes)


def _add_chunk(data: bytes, kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    """Add a chunk after the existing ones (with the CRC given, else the right one)."""
    parts = _parts(data)
    chunk = dict(type=kind, data=payload) if crc is None else dict(type=kind, data=payload, crc=crc)
    return _build(dict(parts, chunks=[*parts["chunks"], chunk]))


def _with_stream(data: bytes, stream: bytes) -> bytes:
    """Replace the index stream (and stream_size)."""
    return _build(dict(_parts(data), stream=stream))


def _frame(payload: bytes, **kw: object) -> bytes:
    opts = dict(level=3, write_checksum=True, write_content_size=True)
    opts.update(kw)
    return zstandard.ZstdCompressor(**opts).compress(payload)  # type: ignore[arg-type]


def _frame_declaring(size: int, payload: bytes) -> bytes:
    """A zstd frame whose header declares ``size`` bytes but which holds ``payload``."""
    descriptor = 0xE4  # 8-byte content size, single segment, content checksum
    block = struct.pack("<I", (len(payload) << 3) | 1)[:3] + payload  # last block, raw
    return b"\x28\xb5\x2f\xfd" + bytes([descriptor]) + struct.pack("<Q", size) + block + b"\0" * 4


def _zstd_frame(
    content: bytes,
    *,
    declared: int | None = None,
    single: bool = True,
    window_exponent: int = 0,
    dictionary_id: int = 0,
    block: int = 1 << 17,
) -> bytes:
    """A zstd frame built field by field (RFC 8878): raw blocks of at most ``block`` bytes, a
    declared content size (``declared``, default the content's), and the content checksum."""
    declared = len(content) if declared is None else declared
    if single:
        fcs_flag, fcs = (
            (0, bytes([declared])) if declared < 256 else (2, struct.pack("<I", declared))
        )
    else:
        fcs_flag, fcs = (
            (1, struct.pack("<H", declared - 256))
            if 256 <= declared < 65792
            else (
                2,
                struct.pack("<I", declared),
            )
        )
    dict_flag, dict_bytes = (1, bytes([dictionary_id])) if dictionary_id else (0, b"")
    descriptor = (fcs_flag << 6) | (0x20 if single else 0) | 0x04 | dict_flag
    window = b"" if single else bytes([window_exponent << 3])
    blocks = b""
    pieces = [content[i : i + block] for i in range(0, len(content), block)] or [b""]
    for n, piece in enumerate(pieces):
        last = n == len(pieces) - 1
        blocks += struct.pack("<I", (len(piece) << 3) | int(last))[:3] + piece
    checksum = _frame(content)[-4:]  # XXH64's low 4 bytes depend on the content only
    return b"\x28\xb5\x2f\xfd" + bytes([descriptor]) + window + dict_bytes + fcs + blocks + checksum


def frame_vectors() -> tuple[dict, dict]:
    """The zstd frame's corner cases (spec 2.5): (valid files, invalid files)."""
    palette = _palette(3)
    indices = _indices(3, 4, 3, 11)
    good = encode_indexed(palette, indices, index_bits=2, coding=0)
    # 3 indices of 2 bits and 2 padding bits a row: set the padding bits, which must be ignored
    rows = bytes(b | 0b11 for b in bitpack.pack_rows(indices, 2))
    valid = {"padding-bits": (_with_stream(good, _frame(rows)), palette[indices])}
    wide_palette = _palette(200)
    wide = _indices(64, 40, 200, 12)
    wide_file = encode_indexed(wide_palette, wide, index_bits=8, coding=0)
    plane = wide.tobytes()  # 2560 bytes in blocks of 1 KiB, a 1 KiB window: multi-segment
    multi = _zstd_frame(plane, single=False, window_exponent=0, block=1024)
    valid["multi-segment-frame"] = (_with_stream(wide_file, multi), wide_palette[wide])
    frame = _frame(bitpack.pack_rows(indices, 2))
    skippable = b"\x50\x2a\x4d\x18" + struct.pack("<I", 3) + b"abc"
    bad_checksum = frame[:-1] + bytes([frame[-1] ^ 0xFF])
    content = bitpack.pack_rows(indices, 2)
    invalid = {
        "skippable-frame": (_with_stream(good, skippable + frame), "CorruptError"),
        "two-frames": (_with_stream(good, frame + frame), "CorruptError"),
        "dictionary-id": (
            _with_stream(good, _zstd_frame(content, dictionary_id=7)),
            "CorruptError",
        ),
        "content-shorter": (
            _with_stream(good, _zstd_frame(content[:-1], declared=len(content))),
            "CorruptError",
        ),
        "content-longer": (
            _with_stream(good, _zstd_frame(content + b"\0", declared=len(content))),
            "CorruptError",
        ),
        "frame-cut-short": (_with_stream(good, frame[:-5]), "CorruptError"),
        "window-too-large": (
            _with_stream(wide_file, _zstd_frame(plane, single=False, window_exponent=31)),
            "CorruptError",
        ),
        "checksum-and-trailing": (_with_stream(good, bad_checksum + b"\0"), "CorruptError"),
    }
    return valid, invalid


def invalid_files() -> dict[str, tuple[bytes, str]]:
    """Return {name: (file bytes, name of the error class it must raise)}."""
    palette, indices = example()
    good = encode_indexed(palette, indices, index_bits=2, coding=0)
    rows = bitpack.pack_rows(indices, 2)
    hs = container.HEADER_SIZE
    crc_end = hs + palette.size + 4
    with_chunk = encode_indexed(
        palette, indices, index_bits=2, exif=b"MM\0*\0\0\0\x08\0\0", coding=0
    )
    bad_range = indices.copy()
    bad_range[1, 3] = 3  # K = 3, so index 3 is out of range
    bad_checksum = bytearray(good)
    bad_checksum[-1] ^= 0xFF
    cases = {
        "empty": (b"", "NotKmqError"),
        "bad-magic": (b"\x89PNG\r\n\x1a\n" + good[8:], "NotKmqError"),
        "truncated-magic": (good[:5], "TruncatedError"),
        "truncated-header": (good[: hs - 1], "TruncatedError"),
        "truncated-palette": (good[: hs + 4], "TruncatedError"),
        "truncated-crc": (good[: crc_end - 1], "TruncatedError"),
        "truncated-chunk": (with_chunk[: crc_end + 10], "TruncatedError"),
        "truncated-payload": (good[:-3], "TruncatedError"),
        "unknown-version": (_patch(good, version=2), "UnsupportedError"),
        "unknown-coding": (_patch(good, coding=7), "UnsupportedError"),
        "unknown-critical-chunk": (_add_chunk(good, b"ZZZZ", b"?"), "UnsupportedError"),
        "reserved-flag": (_patch(good, flags=0x02), "CorruptError"),
        "zero-width": (_patch(good, width=0), "CorruptError"),
        "zero-height": (_patch(good, height=0), "CorruptError"),
        "too-many-pixels": (_patch(good, width=65536, height=65536), "LimitError"),
        "zero-colors": (_patch(good, colors=0), "CorruptError"),
        "257-colors": (_patch(good, colors=257), "CorruptError"),
        "bits-too-narrow": (_patch(good, colors=5), "CorruptError"),
        "bits-3": (_patch(good, index_bits=3), "CorruptError"),
        "bad-header-crc": (_build(_parts(good), header_crc=0), "ChecksumError"),
        "bad-chunk-crc": (_add_chunk(good, b"abcd", b"data", crc=0), "ChecksumError"),
        "bad-chunk-type": (_add_chunk(good, b"ab1d", b"data"), "CorruptError"),
        "duplicate-chunk": (_add_chunk(with_chunk, b"exif", b"MM\0*"), "CorruptError"),
        "trailing-bytes": (good + b"\0", "CorruptError"),
        "not-zstd": (_with_stream(good, b"\x89PNG" + rows), "CorruptError"),
        "frame-size-mismatch": (
            _with_stream(good, _frame_declaring(1 << 33, rows)),
            "CorruptError",
        ),
        "frame-no-content-size": (
            _with_stream(good, _frame(rows, write_content_size=False)),
            "CorruptError",
        ),
        "frame-no-checksum": (
            _with_stream(good, _frame(rows, write_checksum=False)),
            "CorruptError",
        ),
        "frame-extra-data": (_with_stream(good, _frame(rows) + b"\0"), "CorruptError"),
        "bad-zstd-checksum": (bytes(bad_checksum), "ChecksumError"),
        "index-out-of-range": (
            _with_stream(good, compression.compress(bitpack.pack_rows(bad_range, 2))),
            "IndexRangeError",
        ),
    }
    # Coding 1. The reference coder codes any value that fits the literal's bits, so a stream
    # holding index 3 for K = 3 is easy to make.
    ctx_good = encode_indexed(palette, indices, index_bits=2, coding=1)
    ctx_stream = _parts(ctx_good)["stream"]
    coded, crc = ctx_stream[:-4], ctx_stream[-4:]
    ctx_bad_crc = bytearray(ctx_stream)
    ctx_bad_crc[-1] ^= 0xFF
    cases |= {
        "context-too-short": (_with_stream(ctx_good, ctx_stream[:7]), "CorruptError"),
        "context-ends-early": (_with_stream(ctx_good, coded[:-1] + crc), "CorruptError"),
        "context-left-over": (_with_stream(ctx_good, coded + b"\0" + crc), "CorruptError"),
        "context-index-out-of-range": (
            # The last pixel's neighbours are all 0, so after "not 0" it is coded as a literal.
            _with_stream(ctx_good, context_reference.encode([[0, 0, 0, 0], [0, 0, 0, 3]], 3)),
            "IndexRangeError",
        ),
        "context-bad-checksum": (_with_stream(ctx_good, bytes(ctx_bad_crc)), "ChecksumError"),
        "context-final-code-not-0": (
            _with_stream(ctx_good, _final_code_not_0(coded) + crc),
            "CorruptError",
        ),
        "context-truncated-payload": (ctx_good[:-3], "TruncatedError"),
    }
    return cases | fast_invalid_files()


def _final_code_not_0(coded: bytes) -> bytes:
    """The coded bytes with the last one changed so that the same pixels decode, every byte is
    read, and the range decoder's final code is not 0 (spec 2.6.2: *bytes left over*)."""
    width, height, colors = 4, 2, 3
    want = [0, 1, 2, 0, 1, 1, 2, 2]
    for delta in range(1, 256):
        changed = coded[:-1] + bytes([(coded[-1] + delta) % 256])
        dec = context_reference.RangeDecoder(changed)
        plane = [0] * (width * height)
        context_reference._run(width, height, colors, plane, dec, False)
        if plane == want and dec.pos == len(changed) and dec.code != 0:
            return changed
    raise AssertionError("no last byte gives the same pixels and a final code other than 0")


def fast_invalid_files() -> dict[str, tuple[bytes, str]]:
    """Coding 2's invalid streams, most made by the reference module's minimal encoder."""
    ref = fast_reference
    palette = _palette(3)
    good = encode_indexed(palette, np.array([[0, 1, 2, 0], [1, 1, 2, 2]], np.uint8), coding=2)
    stream = _parts(good)["stream"]
    part_rows, table_bytes, parts = fast.parts_of(stream, 2)
    tables, part = bytes(table_bytes), bytes(parts[0])
    one = encode_indexed(palette, np.array([[0, 3 % 3]], np.uint8), coding=2)  # a 2 x 1 file

    def small(stream: bytes) -> bytes:
        return _with_stream(one, stream)

    # [0, 3] with K = 3: pixel 1 is a literal (token 1 of table 0) of value 3 (table 296).
    lit3 = ref.write_tables({0: {0: 2048, 1: 2048}, 296: {3: 1024}}, 3)
    bad_index = ref.build_stream(
        lit3, [ref.encode_symbols([(2048, 0, 12), (2048, 2048, 12), (1024, 0, 10)])], 1
    )
    zeros = encode_indexed(palette, np.zeros((2, 2), np.uint8), coding=2)
    # 2 x 2 of index 0: row 1 starts a span with R = 2; s = 1 + 2 says 2 pixels then one more.
    span_tables = ref.write_tables({0: {0: 4096}, 281: {3: 1024}}, 3)
    long_span = ref.build_stream(span_tables, [ref.encode_symbols([(1024, 0, 10)])], 2)
    bad_crc = bytearray(stream)
    bad_crc[-1] ^= 0x01
    bad_table_crc = bytearray(stream)
    bad_table_crc[8] ^= 0x01
    not_summing = ref.BitWriter()
    not_summing.eg(2, 0)  # table 0: two symbols, 0 and 1
    not_summing.eg(0, 0)
    not_summing.eg(0, 0)
    not_summing.put(0, 4)  # shift 0, order 0: t = 4096
    not_summing.put(0, 3)
    not_summing.eg(4095, 0)  # f = 4096 leaves nothing for the last symbol
    for _ in range(1, 296 + 3):
        not_summing.eg(0, 0)
    symbol_range = ref.write_tables({0: {2: 4096}}, 3)  # table 0's alphabet is {0, 1}
    return {
        "fast-too-short": (small(stream[:7]), "CorruptError"),
        "fast-zero-part-rows": (
            _with_stream(good, struct.pack("<I", 0) + stream[4:]),
            "CorruptError",
        ),
        "fast-ends-early": (
            _with_stream(good, ref.build_stream(tables, [part[:-2]], part_rows)),
            "CorruptError",
        ),
        "fast-left-over": (
            _with_stream(good, ref.build_stream(tables, [part + b"\0\0"], part_rows)),
            "CorruptError",
        ),
        "fast-bytes-after-parts": (_with_stream(good, stream + b"\0"), "CorruptError"),
        "fast-part-cut-short": (_with_stream(good, stream[:-1]), "CorruptError"),
        "fast-bad-part-checksum": (_with_stream(good, bytes(bad_crc)), "ChecksumError"),
        "fast-bad-table-checksum": (_with_stream(good, bytes(bad_table_crc)), "ChecksumError"),
        "fast-tables-left-over": (
            _with_stream(good, ref.build_stream(tables + b"\0", [part], part_rows)),
            "CorruptError",
        ),
        "fast-table-does-not-sum": (
            small(ref.build_stream(not_summing.bytes(), [part], 1)),
            "CorruptError",
        ),
        "fast-symbol-out-of-range": (
            small(ref.build_stream(symbol_range, [part], 1)),
            "CorruptError",
        ),
        "fast-empty-table": (
            small(ref.build_stream(ref.write_tables({}, 3), [struct.pack("<I", 1 << 16)], 1)),
            "CorruptError",
        ),
        "fast-bad-state": (
            _with_stream(good, ref.build_stream(tables, [b"\0\0\0\0"], part_rows)),
            "CorruptError",
        ),
        "fast-final-state": (
            _with_stream(
                good, ref.build_stream(tables, [struct.pack("<I", (1 << 16) + 1)], part_rows)
            ),
            "CorruptError",
        ),
        "fast-span-too-long": (_with_stream(zeros, long_span), "CorruptError"),
        "fast-index-out-of-range": (small(bad_index), "IndexRangeError"),
        "fast-truncated-payload": (good[:-3], "TruncatedError"),
    }


# --- animations (spec 2.8) ---------------------------------------------------------------


def _anim_layer(kind, x, y, plane, mapping, coding=2, index_bits=None) -> anim.Layer:
    """A layer whose stream codes ``plane`` (symbols) with kmcodec's coder of ``coding``."""
    symbols = len(mapping) + (kind == anim.DELTA)
    if coding == 0:
        bits = index_bits or container.index_bits_allowed(symbols)[0]
        stream, bits = codings.encode(
            plane,
            symbols,
            container.Coding.ROWS,
            index_bits=bits,
            level_for=lambda b: 19,
            every_width=False,
        )
    else:
        stream, bits = codings.encode(plane, symbols, container.Coding(coding))
    h, w = plane.shape
    return anim.Layer(kind, x, y, w, h, tuple(mapping), coding, index_bits or bits, stream)


def _anim_file(
    width: int,
    height: int,
    palette: np.ndarray,
    frames: list[bytes],
    durations: list[int] | None = None,
    loop: int | None = 0,
    stream: bytes | None = None,
    **header: int,
) -> bytes:
    if stream is None:
        stream = anim.build_stream(frames, durations or [100] * len(frames), loop)
    fields = dict(
        width=width,
        height=height,
        colors=len(palette),
        index_bits=0,
        coding=0,
        flags=container.FLAG_ANIMATION | (container.FLAG_ALPHA if palette.shape[1] == 4 else 0),
    )
    fields.update(header)
    return _build(
        dict(header=dict(value=fields), palette=palette.tobytes(), chunks=[], stream=stream)
    )


def anim_example() -> tuple[bytes, list[np.ndarray]]:
    """The animation of spec section 2.8.4, and its frames' palette indices."""
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    first = np.array([[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 1]], np.uint8)
    second = first.copy()
    second[1, 1] = 0
    frames = [
        anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, first, (0, 1))]),
        anim.build_frame([_anim_layer(anim.DELTA, 1, 1, np.array([[1, 0]], np.uint8), (0,))]),
    ]
    return _anim_file(4, 3, palette, frames), [palette[first], palette[second]]


def anim_move() -> tuple[bytes, list[np.ndarray]]:
    """MOVE layers whose source and destination overlap, in every direction: a scroll up (and
    a DELTA layer for the row it leaves), a scroll down, a pan right, a pan left, and a
    rectangle moved to a place it does not overlap."""
    palette = np.array([[0, 0, 0], [255, 255, 255], [200, 0, 0], [0, 0, 200]], np.uint8)
    first = np.arange(20, dtype=np.uint8).reshape(4, 5) % 4
    first[0, 0] = first[3, 4] = 2
    canvas = first.copy()
    shown = [canvas.copy()]
    frames = [anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, first, (0, 1, 2, 3))])]
    moves = [
        [
            anim.Layer.move(0, 0, 5, 3, 0, 1),
            _anim_layer(anim.DELTA, 0, 3, np.ones((1, 5), np.uint8), (3,)),
        ],
        [anim.Layer.move(0, 1, 5, 3, 0, 0)],
        [anim.Layer.move(1, 0, 4, 4, 0, 0)],
        [anim.Layer.move(0, 1, 3, 2, 2, 1)],
        [anim.Layer.move(3, 2, 2, 2, 0, 0)],
    ]
    for layers in moves:
        for la in layers:
            if la.kind == anim.MOVE:
                fx, fy = la.from_x, la.from_y
                src = canvas[fy : fy + la.height, fx : fx + la.width].copy()
                canvas[la.y : la.y + la.height, la.x : la.x + la.width] = src
            else:
                canvas[la.y, la.x : la.x + la.width] = 3
        frames.append(anim.build_frame(layers))
        shown.append(canvas.copy())
    return _anim_file(5, 4, palette, frames), [palette[c] for c in shown]


def animation_vectors() -> tuple[dict, dict]:
    """Valid animations {name: (file, [frame pixels], durations, loop)} and invalid ones
    {name: (file, error)}."""
    valid: dict = {}
    data, pixels = anim_example()
    valid["anim-example"] = (data, pixels, [100, 100], 0)
    # 300 colours over three frames, layers of every coding, an empty frame, a key frame in the
    # middle, no loop count.
    rng = np.random.default_rng(20261207)
    palette = rng.integers(0, 256, (300, 3), dtype=np.uint8)
    w, h = 12, 9
    canvas = np.zeros((h, w), np.int64)
    frames, shown = [], []
    low = rng.integers(0, 200, (h, w)).astype(np.uint8)
    frames.append(  # its map of 200 entries as a bitset (38 bytes, not 400)
        anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, low, range(200), coding=1)], 300)
    )
    canvas[:] = low
    shown.append(canvas.copy())
    high = rng.integers(0, 101, (4, 5)).astype(np.uint8)  # 0: unchanged, else 199 + s
    frames.append(
        anim.build_frame([_anim_layer(anim.DELTA, 3, 2, high, range(200, 300), coding=0)])
    )
    canvas[2:6, 3:8] = np.where(high == 0, canvas[2:6, 3:8], 199 + high.astype(np.int64))
    shown.append(canvas.copy())
    frames.append(anim.build_frame([]))
    shown.append(canvas.copy())
    key = rng.integers(0, 3, (h, w)).astype(np.uint8)
    over = rng.integers(0, 2, (2, 3)).astype(np.uint8)
    frames.append(
        anim.build_frame(
            [
                _anim_layer(anim.PLAIN, 0, 0, key, (5, 250, 299)),
                _anim_layer(anim.DELTA, w - 3, h - 2, over, (7,), coding=2),
            ]
        )
    )
    canvas[:] = np.array([5, 250, 299])[key]
    canvas[h - 2 :, w - 3 :] = np.where(over == 0, canvas[h - 2 :, w - 3 :], 7)
    shown.append(canvas.copy())
    durations = [40, 0, 1000, 65535]
    data = _anim_file(w, h, palette, frames, durations, loop=None)
    valid["anim-300-colors"] = (data, [palette[c] for c in shown], durations, None)
    rgba = np.array([[0, 0, 0, 0], [200, 30, 30, 255], [10, 10, 240, 128]], np.uint8)
    plane = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    moved = np.array([[1, 2]], np.uint8)
    frames = [
        anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, plane, (0, 1, 2), coding=0)]),
        anim.build_frame([_anim_layer(anim.PLAIN, 1, 0, moved, (0, 1, 2))]),
    ]
    second = plane.copy()
    second[0, 1:] = moved
    valid["anim-rgba"] = (
        _anim_file(3, 2, rgba, frames, loop=7),
        [rgba[plane], rgba[second]],
        [100, 100],
        7,
    )
    data, pixels = anim_move()
    valid["anim-move"] = (data, pixels, [100] * len(pixels), 0)

    pal2 = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    plane = np.array([[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 1]], np.uint8)
    key = anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, plane, (0, 1))])

    def one(frame: bytes, **kw: object) -> bytes:
        return _anim_file(4, 3, pal2, [key, frame], **kw)  # type: ignore[arg-type]

    def layer_bytes(table: bytes = struct.pack("<H", 1), **change: object) -> bytes:
        """A frame of one PLAIN 1x1 layer at (0, 0) mapping symbol 0 to entry 1, with fields of
        its fixed part (or its map's bytes) changed."""
        la = _anim_layer(anim.PLAIN, 0, 0, np.zeros((1, 1), np.uint8), (1,))
        fields = dict(
            kind=la.kind, x=0, y=0, w=1, h=1, size=1, form=0, coding=la.coding, bits=la.index_bits
        )
        fields.update(change)
        return (
            b"\x01"
            + struct.pack(
                "<BIIIIH",
                fields["kind"],
                fields["x"],
                fields["y"],
                fields["w"],
                fields["h"],
                fields["size"],
            )
            + struct.pack("<B", fields["form"])
            + table
            + struct.pack("<BBI", fields["coding"], fields["bits"], len(la.stream))
            + bytes(la.stream)
        )

    bad_symbol = _frame_with_symbol(2)  # a PLAIN layer of map size 2: symbol 2 >= S
    delta_first = anim.build_frame([_anim_layer(anim.DELTA, 0, 0, plane, (0,))])
    checksum = bytearray(anim.build_frame([_anim_layer(anim.DELTA, 0, 0, plane, (1,), coding=2)]))
    checksum[-1] ^= 0xFF
    good = one(anim.build_frame([]))
    head = struct.pack("<IHH", 2, 0, anim.ANIM_LOOP)
    table = struct.pack("<IIII", 100, len(key), 100, 1)
    invalid = {
        "anim-first-frame-empty": (_anim_file(4, 3, pal2, [anim.build_frame([])]), "CorruptError"),
        "anim-first-frame-not-key": (_anim_file(4, 3, pal2, [delta_first]), "CorruptError"),
        "anim-no-frames": (
            _anim_file(4, 3, pal2, [], stream=struct.pack("<IHH", 0, 0, 0)),
            "CorruptError",
        ),
        "anim-too-many-frames": (
            _anim_file(4, 3, pal2, [], stream=struct.pack("<IHH", anim.MAX_FRAMES + 1, 0, 0)),
            "LimitError",
        ),
        "anim-table-larger-than-stream": (
            _anim_file(4, 3, pal2, [], stream=struct.pack("<IHH", 1000, 0, 0) + key),
            "CorruptError",
        ),
        "anim-sizes-do-not-add-up": (
            _anim_file(4, 3, pal2, [], stream=head + table + key + b"\0\0"),
            "CorruptError",
        ),
        "anim-zero-frame-size": (
            _anim_file(
                4, 3, pal2, [], stream=head + struct.pack("<IIII", 100, len(key), 100, 0) + key
            ),
            "CorruptError",
        ),
        "anim-reserved-flag": (
            _anim_file(4, 3, pal2, [], stream=struct.pack("<IHH", 2, 0, 2) + table + key + b"\0"),
            "CorruptError",
        ),
        "anim-header-index-bits": (_with_index_bits(good, 1), "CorruptError"),
        "anim-header-coding": (_anim_file(4, 3, pal2, [key, b"\0"], coding=2), "CorruptError"),
        "anim-layer-unknown-kind": (one(layer_bytes(kind=3)), "CorruptError"),
        "anim-move-outside-canvas": (
            one(anim.build_frame([anim.Layer.move(0, 0, 2, 2, 3, 0)])),
            "CorruptError",
        ),
        "anim-move-wraps-around": (
            one(anim.build_frame([anim.Layer.move(0, 0, 2, 1, 0xFFFFFFFF, 0)])),
            "CorruptError",
        ),
        "anim-move-past-frame": (
            one(anim.build_frame([anim.Layer.move(0, 0, 2, 2, 1, 1)])[:-4]),
            "CorruptError",
        ),
        "anim-layer-outside-canvas": (one(layer_bytes(x=4)), "CorruptError"),
        "anim-layer-wraps-around": (one(layer_bytes(x=0xFFFFFFFF, w=2)), "CorruptError"),
        "anim-layer-empty": (one(layer_bytes(w=0)), "CorruptError"),
        "anim-map-too-large": (one(layer_bytes(size=257)), "CorruptError"),
        "anim-map-unknown-form": (one(layer_bytes(form=2)), "CorruptError"),
        "anim-bitset-count": (one(layer_bytes(b"\x03", form=1)), "CorruptError"),
        "anim-bitset-out-of-range": (one(layer_bytes(b"\x20", form=1)), "CorruptError"),
        "anim-map-out-of-range": (
            one(anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, plane, (0, 2))])),
            "CorruptError",
        ),
        "anim-layer-past-frame": (
            one(anim.build_frame([_anim_layer(anim.PLAIN, 0, 0, plane, (0, 1))])[:-1]),
            "CorruptError",
        ),
        "anim-frame-left-over": (one(anim.build_frame([]) + b"\0"), "CorruptError"),
        "anim-layer-unknown-coding": (one(layer_bytes(coding=3)), "UnsupportedError"),
        "anim-layer-index-bits": (one(layer_bytes(bits=3)), "CorruptError"),
        "anim-symbol-out-of-range": (one(bad_symbol), "IndexRangeError"),
        "anim-layer-checksum": (one(bytes(checksum)), "ChecksumError"),
        "anim-truncated": (good[:-1], "TruncatedError"),
    }
    return valid, invalid


def _with_index_bits(data: bytes, bits: int) -> bytes:
    parts = _parts(data)
    fields = dict(parts["header"]["value"])
    fields["index_bits"] = bits
    return _build(dict(parts, header=dict(value=fields)))


def _frame_with_symbol(symbol: int) -> bytes:
    """A frame of one PLAIN 1x1 layer with map size 2 whose coding-0 stream (2 bits an index)
    holds ``symbol``."""
    plane = np.full((1, 1), symbol, np.uint8)
    stream, bits = codings.encode(
        plane, 4, container.Coding.ROWS, index_bits=2, level_for=lambda b: 19, every_width=False
    )
    layer = anim.Layer(anim.PLAIN, 0, 0, 1, 1, (0, 1), 0, bits, stream)
    return anim.build_frame([layer])


def write(out: Path) -> dict:
    """Write every vector and the manifest under ``out``; return the manifest."""
    (out / "valid").mkdir(parents=True, exist_ok=True)
    (out / "invalid").mkdir(parents=True, exist_ok=True)
    manifest: dict = {"valid": [], "invalid": []}
    frame_valid, frame_invalid = frame_vectors()
    for name, (data, pixels) in (valid_files() | frame_valid).items():
        (out / "valid" / f"{name}.kmq").write_bytes(data)
        Image.fromarray(pixels).save(out / "valid" / f"{name}.png", optimize=True)
        manifest["valid"].append({"file": f"valid/{name}.kmq", "png": f"valid/{name}.png"})
    anim_valid, anim_invalid = animation_vectors()
    manifest["animations"] = []
    for name, (data, frames, durations, loop) in anim_valid.items():
        (out / "valid" / f"{name}.kmq").write_bytes(data)
        pngs = []
        for n, pixels in enumerate(frames):
            Image.fromarray(pixels).save(out / "valid" / f"{name}.{n}.png", optimize=True)
            pngs.append(f"valid/{name}.{n}.png")
        manifest["animations"].append(
            {"file": f"valid/{name}.kmq", "frames": pngs, "durations": durations, "loop": loop}
        )
    for name, (data, error) in (invalid_files() | frame_invalid | anim_invalid).items():
        (out / "invalid" / f"{name}.kmq").write_bytes(data)
        manifest["invalid"].append({"file": f"invalid/{name}.kmq", "error": error})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "spec" / "vectors")
    args = parser.parse_args(argv)
    manifest = write(args.out)
    print(
        f"wrote {len(manifest['valid'])} valid and {len(manifest['invalid'])} invalid files"
        f" to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
