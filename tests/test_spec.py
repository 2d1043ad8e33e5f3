"""spec/kmq.md and the code agree: the header table, the chunk table, the hex dump example and
the list of conformance files."""

from __future__ import annotations

import json
import re

import numpy as np

import kmcodec
from kmcodec.format import layout as container

from .support import ROOT, VECTORS, table_after

SPEC = (ROOT / "spec" / "kmq.md").read_text()
TYPE_SIZES = {"u8": 1, "u16": 2, "u32": 4}


def _hexdump() -> tuple[bytes, list[tuple[int, bytes, str]]]:
    block = SPEC.split("<!-- hexdump -->", 1)[1].split("```", 2)[1]
    data = b""
    lines = []
    for line in block.strip().splitlines()[1:]:
        offset, hexbytes, meaning = re.split(r"\s{2,}", line.strip(), maxsplit=2)
        assert int(offset, 16) == len(data), f"offset column wrong at {line!r}"
        chunk = bytes.fromhex(hexbytes)
        lines.append((len(data), chunk, meaning))
        data += chunk
    return data, lines


def test_header_table_matches_the_construct_declaration() -> None:
    rows = table_after(SPEC, "header-table")
    subcons = container.HEADER.subcons
    assert [r[3] for r in rows] == [s.name for s in subcons]
    offset = 0
    for row, sub in zip(rows, subcons, strict=True):
        assert int(row[0]) == offset, row
        assert int(row[1]) == sub.sizeof(), row
        base = row[2].split("[")[0]
        if base in TYPE_SIZES and "[" not in row[2]:
            assert TYPE_SIZES[base] == sub.sizeof(), row
        offset += sub.sizeof()
    assert offset == container.HEADER_SIZE == 28


def test_spec_states_the_magic_limit_and_mime_type_of_the_code() -> None:
    magic_hex = " ".join(f"{b:02X}" for b in container.MAGIC)
    assert magic_hex in SPEC
    assert f"{container.MAX_PIXELS:,}" in SPEC
    assert container.MIME_TYPE in SPEC and container.EXTENSION in SPEC
    assert f"# The KMQ image format, version {container.VERSION}" in SPEC


def test_chunk_table_matches_the_chunk_header() -> None:
    rows = table_after(SPEC, "chunk-table")
    assert [r[3] for r in rows] == [s.name for s in container.CHUNK.subcons]
    assert container.CHUNK_HEADER_SIZE == 8
    for kind in container.KNOWN_CHUNKS:
        assert f"`{kind.decode()}`" in SPEC


def test_hexdump_is_what_the_encoder_writes_for_the_example() -> None:
    data, _ = _hexdump()
    palette = np.array([[0x20, 0x40, 0x80], [0xFF, 0xFF, 0xFF], [0, 0, 0]], dtype=np.uint8)
    indices = np.array([[0, 1, 2, 0], [1, 1, 2, 2]], dtype=np.uint8)
    assert kmcodec.encode_indexed(palette, indices, index_bits=2, coding=0) == data
    got_palette, got_indices = kmcodec.decode_indexed(data)
    np.testing.assert_array_equal(got_palette, palette)
    np.testing.assert_array_equal(got_indices, indices)
    assert (VECTORS / "valid" / "example.kmq").read_bytes() == data


def test_hexdump_annotations_name_the_header_fields_in_order() -> None:
    _, lines = _hexdump()
    names = [s.name for s in container.HEADER.subcons]
    for name, (_, _, meaning) in zip(names, lines, strict=False):
        assert re.split(r"[\s:]", meaning)[0] == name, (name, meaning)


def test_spec_lists_every_conformance_file() -> None:
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    listed = {r[0].strip("`") for r in table_after(SPEC, "vectors")}
    every = manifest["valid"] + manifest["invalid"] + manifest["animations"]
    assert listed == {v["file"] for v in every}


def test_spec_crc_check_value_is_the_crc_the_code_uses() -> None:
    import zlib

    assert "0xCBF43926" in SPEC
    assert zlib.crc32(b"123456789") == 0xCBF43926


def _trace_rows() -> list[list[str]]:
    from . import context_reference as ref

    ref.TRACE = []
    try:
        stream = ref.encode([[0, 1, 2, 0], [1, 1, 2, 2]], 3)
        rows = []
        for x, y, sources, steps, index in ref.TRACE:
            decisions = "; ".join(f"{what} ({p}) -> {bit}" for what, p, bit in steps)
            srcs = " ".join("-" if v < 0 else str(v) for v in sources)
            rows.append([f"({x},{y})", srcs, decisions, str(index)])
    finally:
        ref.TRACE = None
    return rows, stream


def test_context_worked_example_is_what_the_reference_coder_does() -> None:
    expected, stream = _trace_rows()
    table = table_after(SPEC, "context-example")
    assert len(table) == len(expected)
    for got, want in zip(table, expected, strict=True):
        # The spec drops the repeated "literal" word after the first literal decision.
        got[2] = re.sub(r"; node (\d+)", r"; literal node=\1", got[2].replace("node 1", "node=1"))
        assert got == want
    data = (VECTORS / "valid" / "context-example.kmq").read_bytes()
    assert data.endswith(stream)
    assert " ".join(f"{b:02x}" for b in stream[:-4]) in SPEC
    assert " ".join(f"{b:02x}" for b in stream[-4:]) in SPEC


def test_spec_squash_table_is_the_coders() -> None:
    from . import context_reference as ref

    block = SPEC.split("with the 33 values", 1)[1].split("```", 2)[1].replace("T =", "")
    assert [int(v) for v in block.split()] == ref.SQUASH_T  # after "T ="
    assert ref.squash(2047) == 4094 and ref.STRETCH[0] == -2047 and ref.STRETCH[2048] == 1


def test_error_table_names_every_error_the_vectors_use() -> None:
    from kmcodec import errors

    names = {row[1].split()[0].strip("`") for row in table_after(SPEC, "errors")}
    manifest = json.loads((VECTORS / "manifest.json").read_text())
    used = {case["error"] for case in manifest["invalid"]}
    assert used <= names
    for name in names:
        assert issubclass(getattr(errors, name), errors.KmqError)
