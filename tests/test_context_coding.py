"""Coding 1 (CONTEXT): the compiled coder agrees with the plain-Python reference written from the
spec, round-trips every K and size, refuses bad streams with the documented errors, and is
what the encoder picks when it is smaller."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import kmcodec
from kmcodec import errors
from kmcodec.format.codings import Coding
from kmcodec.format.codings import context as context_coding
from kmcodec.format.layout import split_file

from . import context_reference as ref
from .support import VECTORS

MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
CONTEXT_VALID = [c for c in MANIFEST["valid"] if "context-" in c["file"]]
CONTEXT_INVALID = [c for c in MANIFEST["invalid"] if "context-" in c["file"]]
#: What the reference raises (StreamError.kind) for each error class of the manifest.
REFERENCE_KIND = {
    "CorruptError": {"ends-early", "left-over"},
    "IndexRangeError": {"index"},
    "ChecksumError": {"checksum"},
}


def _plane(rng: np.random.Generator, k: int, height: int, width: int, kind: str) -> np.ndarray:
    if kind == "noise":
        return rng.integers(0, k, size=(height, width), dtype=np.uint8)
    if kind == "stripes":
        rows = rng.integers(0, k, size=(height, 1), dtype=np.uint8)
        return np.repeat(rows, width, axis=1)
    # repeated tiles with a little noise: what the match model is for
    tile = rng.integers(0, k, size=(5, 7), dtype=np.uint8)
    plane = np.tile(tile, (height // 5 + 1, width // 7 + 1))[:height, :width].copy()
    noise = rng.random((height, width)) < 0.05
    plane[noise] = rng.integers(0, k, size=int(noise.sum()), dtype=np.uint8)
    return plane


def test_the_manifest_has_context_vectors() -> None:
    assert len(CONTEXT_VALID) >= 6 and len(CONTEXT_INVALID) >= 5


@pytest.mark.parametrize("case", CONTEXT_VALID, ids=lambda c: c["file"])
def test_reference_decoder_decodes_every_context_vector(case: dict) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    head, stream = split_file(data)
    h = head.header
    assert h.coding == Coding.CONTEXT
    plane = ref.decode(bytes(stream), h.width, h.height, h.colors)
    palette = np.frombuffer(head.palette, np.uint8).reshape(h.colors, h.channels)
    with Image.open(VECTORS / case["png"]) as im:
        expected = np.asarray(im)
    np.testing.assert_array_equal(palette[np.array(plane).reshape(h.height, h.width)], expected)


@pytest.mark.parametrize("case", CONTEXT_INVALID, ids=lambda c: c["file"])
def test_reference_decoder_refuses_every_bad_context_stream(case: dict) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    if case["error"] == "TruncatedError":
        with pytest.raises(errors.TruncatedError):
            split_file(data)
        return
    head, stream = split_file(data)
    h = head.header
    with pytest.raises(ref.StreamError) as info:
        ref.decode(bytes(stream), h.width, h.height, h.colors)
    assert info.value.kind in REFERENCE_KIND[case["error"]]


@given(
    k=st.integers(1, 256),
    height=st.integers(1, 24),
    width=st.integers(1, 24),
    kind=st.sampled_from(["noise", "stripes", "tiles"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_and_reference_coders_agree(k, height, width, kind, seed) -> None:
    plane = _plane(np.random.default_rng(seed), k, height, width, kind)
    stream = context_coding.encode(plane, k)
    assert stream == ref.encode(plane.tolist(), k)
    assert ref.decode(stream, width, height, k) == plane.ravel().tolist()
    np.testing.assert_array_equal(context_coding.decode(stream, width, height, k), plane)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 16, 17, 64, 255, 256])
@pytest.mark.parametrize("kind", ["noise", "stripes", "tiles"])
def test_larger_planes_round_trip(k: int, kind: str) -> None:
    plane = _plane(np.random.default_rng(k), k, 301, 257, kind)
    stream = context_coding.encode(plane, k)
    np.testing.assert_array_equal(context_coding.decode(stream, 257, 301, k), plane)


@given(st.integers(0, 2**32 - 1), st.integers(2, 40))
def test_a_cut_or_extended_stream_is_refused(seed: int, k: int) -> None:
    plane = _plane(np.random.default_rng(seed), k, 13, 17, "tiles")
    stream = context_coding.encode(plane, k)
    coded, crc = stream[:-4], stream[-4:]
    for bad in (coded[:-1] + crc, coded + b"\0" + crc, coded + b"\xff" + crc, stream[:7]):
        with pytest.raises(errors.CorruptError):
            context_coding.decode(bad, 17, 13, k)


@given(st.binary(min_size=0, max_size=64), st.integers(1, 256), st.integers(1, 30))
def test_random_bytes_never_crash_the_decoder(data: bytes, k: int, width: int) -> None:
    try:
        plane = context_coding.decode(data, width, 9, k)
    except errors.CorruptError:
        return
    assert plane.shape == (9, width) and int(plane.max()) < k


def test_encoder_default_keeps_the_smaller_of_the_fast_opening_codings(photo) -> None:
    q = kmcodec.quantize(photo, 16)
    sizes = {c: len(q.encode(coding=c)) for c in (0, 2)}
    auto = q.encode()
    assert len(auto) == min(sizes.values())
    assert kmcodec.read(auto).header.coding == min(sizes, key=sizes.get) == Coding.FAST
    # On a photo's indices the static model wins by a wide margin, and coding 1 is smaller still.
    assert sizes[2] < 0.8 * sizes[0]
    assert len(q.encode(coding=1)) < sizes[2]


@pytest.mark.parametrize(("colors", "tile"), [(2, 64), (4, 128), (16, 64)])
def test_encoder_keeps_coding_0_where_it_wins(colors, tile) -> None:
    # A random tile repeated: zstd's long matches beat the context model, so the screened
    # coding 0 comes near coding 2 and is finished at the preset's level.
    rng = np.random.default_rng(colors)
    plane = np.tile(rng.integers(0, colors, (tile, tile)), (512 // tile, 512 // tile))
    palette = rng.integers(0, 256, (colors, 3)).astype(np.uint8)
    auto = kmcodec.encode_indexed(palette, plane.astype(np.uint8))
    rows = kmcodec.encode_indexed(palette, plane.astype(np.uint8), coding=0)
    assert kmcodec.read(auto).header.coding == Coding.ROWS
    assert len(auto) <= len(rows)  # the final level's stream, or the screen's if smaller


def test_coding_0_is_screened_and_not_finished_where_coding_2_wins(photo, monkeypatch) -> None:
    from kmcodec.format.codings import zstd_frame

    levels = []
    compress = zstd_frame.compress
    monkeypatch.setattr(
        zstd_frame, "compress", lambda data, level: levels.append(level) or compress(data, level)
    )
    q = kmcodec.quantize(photo, 256)  # 8-bit plane: one width, no ranking
    assert kmcodec.read(q.encode()).header.coding == Coding.FAST
    assert levels == [kmcodec.SPEEDS[4].screen_level]
    levels.clear()
    q.encode(compress_level=19)  # a level given: coding 0 is coded at it, unscreened
    assert levels == [19]
    levels.clear()
    kmcodec.quantize(photo, 256, speed=1).encode()  # speeds 1-3: no screening
    assert levels == [19]


def test_context_coding_is_deterministic(photo) -> None:
    q = kmcodec.quantize(photo, 64)
    assert q.encode(coding=1) == q.encode(coding=1)


def test_unknown_coding_is_a_value_error(photo) -> None:
    with pytest.raises(ValueError, match="coding"):
        kmcodec.encode(photo, 8, coding=3)
    with pytest.raises(ValueError, match="coding"):
        Image.fromarray(photo).save(io.BytesIO(), format="KMQ", coding="fast")


def test_a_stream_that_ends_early_is_refused_without_decoding_the_rest() -> None:
    # 2**24 pixels declared, 4 coded bytes: the decoder reads past the end within the first
    # rows' worth of decisions and stops there (it does not decode 16 M pixels of zeros).
    plane = np.zeros((1, 64), np.uint8)
    stream = context_coding.encode(plane, 2)
    with pytest.raises(errors.CorruptError, match="ends before"):
        context_coding.decode(stream[:4] + stream[-4:], 1 << 24, 1, 2)
    # What it decoded: the C decoder over a plane of 255s leaves untouched what it never reached.
    from kmcodec.format.codings import _context_coder

    probe = np.full((1, 1 << 24), 255, np.uint8)
    status = _context_coder.decode(memoryview(stream[:4]), 1 << 24, 1, 2, probe)
    assert status == _context_coder.ERR_ENDS_EARLY
    assert np.count_nonzero(probe != 255) < 1 << 16  # under 0.4% of the 16 M pixels
