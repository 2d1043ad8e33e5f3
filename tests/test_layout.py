"""The file layout: one construct declaration (FILE) that the spec's tables, the reader, the
writer and the conformance files all agree with."""

from __future__ import annotations

import io
import json
import zlib

import numpy as np
import pytest

import kmcodec
from kmcodec.errors import ChecksumError, CorruptError, TruncatedError
from kmcodec.format import layout
from kmcodec.format.codings import Coding

from .support import ROOT, VECTORS, table_after

MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


def test_spec_file_table_lists_the_declarations_parts_in_order() -> None:
    parts = [row[0] for row in table_after((ROOT / "spec" / "kmq.md").read_text(), "file-table")]
    assert parts == ["Header", "Palette", "Header CRC", "Metadata chunks", "Index stream"]
    names = [s.name for s in layout.FILE.subcons if s.name]
    assert names == ["header", "palette", "header_crc", "chunks", "stream"]


@pytest.mark.parametrize("case", MANIFEST["valid"], ids=lambda c: c["file"])
def test_the_declaration_and_the_reader_read_every_valid_file_alike(case) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    parsed = layout.FILE.parse(data)
    head, stream = layout.split_file(data)
    h = head.header
    value = parsed.header.value
    assert (h.width, h.height, h.colors, h.index_bits, h.flags, int(h.coding)) == (
        value.width,
        value.height,
        value.colors,
        value.index_bits,
        value.flags,
        value.coding,
    )
    assert head.palette == parsed.palette
    assert parsed.header_crc == layout.header_crc(parsed.header.data, parsed.palette)
    assert head.chunks == {c.type: c.data for c in parsed.chunks}
    assert all(c.crc == layout.chunk_crc(c.type, c.data) for c in parsed.chunks)
    assert bytes(stream) == parsed.stream
    assert head.stream_offset == len(data) - h.stream_size


def test_build_file_fills_in_counts_lengths_and_crcs() -> None:
    header = layout.Header(width=3, height=2, colors=2, index_bits=1, coding=Coding.CONTEXT)
    palette = bytes(range(6))
    chunks = {b"exif": b"MM\0*", b"zzzz": b"x" * 5}
    data = layout.build_file(header, palette, chunks, b"STREAMBYTES")
    assert len(data) == 28 + 6 + 4 + (12 + 4) + (12 + 5) + 11
    parsed = layout.FILE.parse(data)
    assert parsed.header.value.chunk_count == 2
    assert parsed.header.value.stream_size == 11
    assert [c.length for c in parsed.chunks] == [4, 5]
    assert parsed.header_crc == zlib.crc32(data[:34])  # the 28 header bytes and the palette
    assert parsed.chunks[0].crc == zlib.crc32(b"exifMM\0*")  # type and data, not the length


def test_header_crc_covers_header_and_palette_only() -> None:
    data = kmcodec.encode_indexed(np.zeros((2, 3), np.uint8), np.zeros((2, 2), np.uint8))
    for offset in (9, 28 + 2):  # a header field, a palette byte
        bad = bytearray(data)
        bad[offset] ^= 1
        with pytest.raises((ChecksumError, CorruptError)):
            layout.split_file(bytes(bad))


def test_the_reader_stops_at_the_stream_and_reads_it_from_a_file_object() -> None:
    data = kmcodec.encode_indexed(
        np.arange(12, dtype=np.uint8).reshape(4, 3), np.eye(4, dtype=np.uint8)
    )
    fp = io.BytesIO(data)
    head = layout.read_head(fp)
    assert fp.tell() == head.stream_offset
    stream = layout.read_stream(fp, head.header)
    assert bytes(stream) == data[head.stream_offset :]
    with pytest.raises(CorruptError, match="trailing"):
        fp2 = io.BytesIO(data + b"!")
        layout.read_stream(fp2, layout.read_head(fp2).header)
    with pytest.raises(TruncatedError):
        fp3 = io.BytesIO(data[:-1])
        layout.read_stream(fp3, layout.read_head(fp3).header)


def test_header_holds_raw_flags() -> None:
    h = layout.Header(width=1, height=1, colors=1, index_bits=1, flags=layout.FLAG_ALPHA)
    assert h.has_alpha and h.channels == 4 and h.palette_size == 4
    assert h.fields()["flags"] == 1
    with pytest.raises(CorruptError, match="reserved"):
        layout.build_file(
            layout.Header(width=1, height=1, colors=1, index_bits=1, flags=0x80), b"abc", {}, b""
        )


def test_exif_chunk_is_stored_without_the_exif_prefix() -> None:
    assert layout.exif_to_chunk(b"Exif\0\0MM") == b"MM"
    assert layout.exif_to_chunk(b"MM") == b"MM"
    assert layout.exif_from_chunk(b"MM") == b"Exif\0\0MM"
