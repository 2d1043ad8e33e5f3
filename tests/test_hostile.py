"""Hostile files: declared sizes larger than the file are refused before anything that large is
allocated (issue 9, items 1 and 3)."""

from __future__ import annotations

import struct
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

import kmcodec
from kmcodec.format import layout as container


def _with_header(data: bytes, **fields: int) -> bytes:
    """Change header fields of a file without chunks, and recompute the header CRC."""
    parsed = dict(container.HEADER.parse(data[: container.HEADER_SIZE]))
    parsed.update(fields)
    parsed = {k: v for k, v in parsed.items() if not k.startswith("_") and k != "magic"}
    head = container.HEADER.build(parsed)
    channels = 4 if parsed["flags"] & 1 else 3
    palette = data[container.HEADER_SIZE : container.HEADER_SIZE + parsed["colors"] * channels]
    rest = data[container.HEADER_SIZE + len(palette) + 4 :]
    return head + palette + struct.pack("<I", zlib.crc32(palette, zlib.crc32(head))) + rest


def _assert_load_fails_before_allocating(tmp_path, data: bytes, match: str, monkeypatch) -> None:
    """``Image.open(f).load()`` raises OSError before Pillow's load_prepare allocates."""
    path = tmp_path / "bomb.kmq"
    path.write_bytes(data)
    allocations = []
    real = ImageFile.ImageFile.load_prepare
    monkeypatch.setattr(
        ImageFile.ImageFile, "load_prepare", lambda self: allocations.append(1) or real(self)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im, pytest.raises(OSError, match=match):
            im.load()
    assert allocations == []


@pytest.fixture
def small_file() -> bytes:
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    return kmcodec.encode_indexed(palette, np.zeros((1, 8), np.uint8), coding=0)


@pytest.mark.parametrize("coding", [0, 1])
def test_load_refuses_a_truncated_stream_before_pillow_allocates(tmp_path, coding, monkeypatch):
    palette = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    good = kmcodec.encode_indexed(palette, np.zeros((1, 8), np.uint8), coding=coding)
    # 1 x 150,995,201 pixels declared; the stream claims 4 KiB more than the file holds.
    size = len(good) - container.HEADER_SIZE - 6 - 4
    bad = _with_header(good, width=150_995_201, stream_size=size + 4096)
    _assert_load_fails_before_allocating(tmp_path, bad, "truncated", monkeypatch)


def test_load_refuses_a_frame_declaring_the_wrong_size_before_pillow_allocates(
    tmp_path, small_file, monkeypatch
) -> None:
    # The header says 1 x 150,995,201 pixels; the (complete) zstd frame holds 1 byte.
    bad = _with_header(small_file, width=150_995_201)
    _assert_load_fails_before_allocating(tmp_path, bad, "declares", monkeypatch)


def _open_under_memory_limit(path: str) -> str:
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1500 << 20, 1500 << 20))\n"
        "import kmcodec\n"
        "from PIL import Image\n"
        "try:\n"
        f"    Image.open({path!r})\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout


def test_a_4_gib_chunk_length_is_refused_without_reading_it(tmp_path, small_file) -> None:
    # A chunk whose length field says 0xFFFFFFFF, opened by path under a 1.5 GB address space.
    parsed = dict(container.HEADER.parse(small_file[: container.HEADER_SIZE]))
    data = _with_header(small_file, chunk_count=parsed["chunk_count"] + 1)
    at = container.HEADER_SIZE + 6 + 4
    data = data[:at] + b"abcd" + struct.pack("<I", 0xFFFFFFFF) + b"x" * 100 + data[at:]
    path = tmp_path / "chunk.kmq"
    path.write_bytes(data)
    out = _open_under_memory_limit(str(path))
    assert "UnidentifiedImageError" in out and "MemoryError" not in out, out
    with open(path, "rb") as f, pytest.raises(kmcodec.TruncatedError, match=r"has \d+ left"):
        container.read_head(f)


def test_a_4_gib_stream_size_is_refused_without_reading_it(tmp_path, small_file) -> None:
    path = tmp_path / "stream.kmq"
    path.write_bytes(_with_header(small_file, stream_size=0xFFFFFFFF))
    out = _open_under_memory_limit(str(path))
    assert "MemoryError" not in out, out
    with Image.open(path) as im, pytest.raises(OSError, match="truncated"):
        im.load()
    with pytest.raises(kmcodec.TruncatedError):
        kmcodec.decode(path.read_bytes())


def _peak_growth(path, call: str) -> int:
    """Bytes by which a fresh process's peak resident memory grows while it runs ``call`` on
    the file's bytes (Linux: VmRSS before, VmHWM after resetting it through clear_refs)."""
    code = (
        "import re, kmcodec\n"
        f"data = open({str(path)!r}, 'rb').read()\n"
        "def kb(key):\n"
        "    return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = kb('VmRSS')\n"
        f"out = {call}\n"
        "print(kb('VmHWM') - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout) * 1024


@pytest.mark.parametrize("coding", [0, 1])
@pytest.mark.parametrize("bits", [1, 8])
@pytest.mark.parametrize("entry", ["decode_indexed", "decode"])
def test_decoding_memory_is_the_output_plus_the_plane_plus_a_constant(
    tmp_path, coding, bits, entry
) -> None:
    # docs/design/how-it-works.md, "Hostile files and memory": peak <= output + width x height
    # + 24 MiB, for every coding.
    width, height, k = 2048, 1024, (2 if bits == 1 else 256)
    rng = np.random.default_rng(bits)
    plane = rng.integers(0, k, size=(height, width), dtype=np.uint8)
    palette = rng.integers(0, 256, size=(k, 3), dtype=np.uint8)
    path = tmp_path / "m.kmq"
    path.write_bytes(
        kmcodec.encode_indexed(palette, plane, coding=coding, index_bits=bits, compress_level=3)
    )
    grown = _peak_growth(path, f"kmcodec.{entry}(data)")
    output = width * height * (3 if entry == "decode" else 1)
    assert output <= grown <= output + width * height + (24 << 20), (grown, output)


def test_coding_2_scratch_memory_of_a_very_wide_image_is_a_few_bytes_a_column(tmp_path) -> None:
    # A fuzz finding: the coding-2 decoder padded its copy of a part by 10 bytes a column, so
    # an image 16,777,216 x 1 pixels took 14 bytes a column of scratch. Now: two rows of how
    # classes and the row above with its equalities (4 bytes a column), a padding that does not
    # depend on the width, and the 1 MiB of look-up tables (spec 2.7.5).
    width, height = 1 << 24, 1
    rng = np.random.default_rng(5)
    plane = (rng.random((height, width)) < 0.02).astype(np.uint8)
    palette = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.uint8)
    path = tmp_path / "wide.kmq"
    path.write_bytes(kmcodec.encode_indexed(palette, plane, coding=2))
    grown = _peak_growth(path, "kmcodec.decode_indexed(data, max_pixels=None)")
    output = width * height
    assert grown <= output + 4 * width + (24 << 20), (grown / width, "bytes a column")
