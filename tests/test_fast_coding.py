"""Coding 2 (FAST): round trips, the plain-Python reference decoder (written from the spec)
against the compiled one, parts and threads, and bad streams."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kmcodec
from kmcodec import errors
from kmcodec.format import layout
from kmcodec.format.codings import fast

from . import fast_reference as ref

VECTORS = Path(__file__).resolve().parent.parent / "spec" / "vectors"


def _outcome(fn):
    try:
        return np.asarray(fn(), dtype=np.uint8)
    except errors.KmqError as exc:
        return type(exc).__name__


@st.composite
def planes(draw):
    height = draw(st.integers(1, 12))
    width = draw(st.integers(1, 24))
    colors = draw(st.integers(1, 256))
    kind = draw(st.sampled_from(["noise", "flat", "stripes"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "noise":
        plane = rng.integers(0, colors, (height, width))
    elif kind == "flat":
        plane = np.full((height, width), rng.integers(0, colors))
        plane[rng.random((height, width)) < 0.1] = rng.integers(0, colors)
    else:
        plane = (np.arange(width)[None, :] // 3 + np.arange(height)[:, None]) % colors
    return plane.astype(np.uint8), colors, draw(st.integers(1, 13))


@settings(max_examples=150, deadline=None)
@given(planes())
def test_round_trip_and_the_reference_decoder_agrees(case) -> None:
    plane, colors, part_rows = case
    height, width = plane.shape
    stream = fast.encode(plane, colors, part_rows=part_rows)
    assert (fast.decode(stream, width, height, colors) == plane).all()
    assert ref.decode(stream, width, height, colors) == plane.tolist()


@settings(max_examples=400, deadline=None)
@given(planes(), st.data())
def test_mutated_streams_give_the_same_result_in_both_decoders(case, data) -> None:
    plane, colors, part_rows = case
    height, width = plane.shape
    stream = bytearray(fast.encode(plane, colors, part_rows=part_rows))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(stream) - 1))
        stream[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        stream = stream[: data.draw(st.integers(0, len(stream)))]
    elif data.draw(st.booleans()):
        # Mend the checksums, so that the change reaches the tables and the coder.
        try:
            rows, tables, parts = fast.parts_of(bytes(stream), height)
            stream = bytearray(ref.build_stream(bytes(tables), [bytes(p) for p in parts], rows))
        except errors.CorruptError:
            pass
    got = _outcome(lambda: fast.decode(bytes(stream), width, height, colors))
    want = _outcome(lambda: ref.decode(bytes(stream), width, height, colors))
    if isinstance(got, str) or isinstance(want, str):
        assert got == want
    else:
        assert (got == want).all()


def test_every_truncation_is_a_documented_error() -> None:
    rng = np.random.default_rng(3)
    plane = rng.integers(0, 5, (9, 11)).astype(np.uint8)
    stream = fast.encode(plane, 5, part_rows=4)
    for n in range(len(stream)):
        with pytest.raises(errors.CorruptError):
            fast.decode(stream[:n], 11, 9, 5)


@pytest.mark.parametrize(
    "name",
    [
        e["file"]
        for e in json.loads((VECTORS / "manifest.json").read_text())["valid"]
        if "fast-" in e["file"]
    ],
)
def test_reference_decoder_reads_each_valid_vector(name) -> None:
    data = (VECTORS / name).read_bytes()
    head, stream = layout.split_file(data)
    h = head.header
    if h.width * h.height > 100_000:
        pytest.skip("too large for the plain-Python decoder in a unit test")
    assert (
        ref.decode(bytes(stream), h.width, h.height, h.colors)
        == kmcodec.read(data).indices.tolist()
    )


@pytest.mark.parametrize(
    "entry",
    [
        e
        for e in json.loads((VECTORS / "manifest.json").read_text())["invalid"]
        if "fast-" in e["file"]
    ],
    ids=lambda e: e["file"],
)
def test_reference_decoder_refuses_each_invalid_vector_as_kmcodec_does(entry) -> None:
    data = (VECTORS / entry["file"]).read_bytes()
    with pytest.raises(errors.KmqError) as caught:
        kmcodec.read(data)
    assert type(caught.value).__name__ == entry["error"]
    if entry["error"] == "TruncatedError":
        return
    head, stream = layout.split_file(data)
    h = head.header
    with pytest.raises(errors.KmqError) as ref_caught:
        ref.decode(bytes(stream), h.width, h.height, h.colors)
    assert type(ref_caught.value).__name__ == entry["error"]


def test_threads_decode_the_parts_to_the_same_plane() -> None:
    rng = np.random.default_rng(5)
    plane = np.repeat(rng.integers(0, 16, (200, 1)), 300, axis=1).astype(np.uint8)
    plane[rng.random(plane.shape) < 0.2] = 3
    stream = fast.encode(plane, 16, part_rows=7)
    assert len(fast.parts_of(stream, 200)[2]) == 29
    one = fast.decode(stream, 300, 200, 16, threads=1)
    many = fast.decode(stream, 300, 200, 16, threads=4)
    assert (one == plane).all() and (many == plane).all()


def test_the_first_failing_part_is_reported() -> None:
    plane = np.zeros((20, 8), np.uint8)
    plane[::3, 2] = 1
    stream = bytearray(fast.encode(plane, 2, part_rows=5))
    _, _tables, _parts = fast.parts_of(bytes(stream), 20)
    stream[-1] ^= 0xFF  # the last part's bytes
    with pytest.raises(errors.ChecksumError, match="part 3"):
        fast.decode(bytes(stream), 8, 20, 2, threads=2)


@pytest.mark.parametrize(
    ("width", "height", "noise", "threaded"),
    [(768, 512, True, True), (480, 300, True, False), (768, 512, False, False)],
)
def test_the_decoder_uses_threads_for_a_quarter_megapixel_of_real_work_when_not_told(
    monkeypatch, width: int, height: int, noise: bool, threaded: bool
) -> None:
    # noise: a stream of about 100 KB; stripes: a few hundred bytes, too little work to share
    if noise:
        plane = np.random.default_rng(7).integers(0, 4, (height, width), dtype=np.uint8)
    else:
        plane = np.zeros((height, width), np.uint8)
        plane[::16] = 1
    stream = fast.encode(plane, 4)
    assert (len(stream) >= fast.THREAD_BYTES) == noise
    assert len(fast.parts_of(stream, height)[2]) == 2
    used = []
    real = fast._executor
    monkeypatch.setattr(fast, "_executor", lambda: used.append(1) or real())
    monkeypatch.setattr(fast, "THREADS", None)
    monkeypatch.setattr(fast.os, "cpu_count", lambda: 2)
    assert np.array_equal(fast.decode(stream, width, height, 4), plane)
    assert bool(used) == threaded
    used.clear()
    monkeypatch.setattr(fast, "THREADS", 1)  # what the benchmarks set
    assert np.array_equal(fast.decode(stream, width, height, 4), plane)
    assert not used


@pytest.mark.parametrize("bad", range(5))
@pytest.mark.parametrize("threads", [1, 2])
def test_a_bad_part_decoded_in_a_pair_is_named_as_alone(bad: int, threads: int) -> None:
    rng = np.random.default_rng(bad)
    plane = rng.integers(0, 6, (23, 17)).astype(np.uint8)  # 5 parts: two pairs and one alone
    rows, tables, parts = fast.parts_of(fast.encode(plane, 6, part_rows=5), 23)
    assert len(parts) == 5
    broken = [bytes(p) for p in parts]
    broken[bad] = broken[bad][:4] + bytes(len(broken[bad]) - 4)  # checksum mended below
    stream = ref.build_stream(bytes(tables), broken, rows)
    with pytest.raises(errors.CorruptError, match=f"part {bad}"):
        fast.decode(stream, 17, 23, 6, threads=threads)
    with pytest.raises(errors.CorruptError):
        ref.decode(stream, 17, 23, 6)


def test_planes_either_side_of_the_encoders_one_walk_limit_round_trip() -> None:
    # up to 2^22 pixels the encoder keeps the events of one walk; above, it walks twice
    rng = np.random.default_rng(4)
    for height in (2048, 2049):
        plane = np.repeat(rng.integers(0, 9, (height, 1)), 2048, axis=1).astype(np.uint8)
        plane[rng.random(plane.shape) < 0.01] = 7
        stream = fast.encode(plane, 9)
        assert (fast.decode(stream, 2048, height, 9) == plane).all()


def test_encoder_is_deterministic_and_the_default_part_size_is_about_a_megapixel() -> None:
    rng = np.random.default_rng(9)
    plane = rng.integers(0, 7, (64, 48)).astype(np.uint8)
    assert fast.encode(plane, 7) == fast.encode(plane, 7)
    rows = fast.part_rows_for(4240, 2832)
    assert rows * 4240 <= fast.PART_PIXELS < (rows + 1) * 4240 * 1.2
    assert -(-2832 // rows) % 2 == 0


@pytest.mark.parametrize(
    ("width", "height", "parts"),
    [(48, 64, 1), (768, 512, 2), (1920, 1080, 2), (4240, 2832, 12), (1, 1 << 18, 2)],
)
def test_default_parts_are_even_from_pair_pixels_on(width: int, height: int, parts: int) -> None:
    assert -(-height // fast.part_rows_for(width, height)) == parts


def test_check_start_refuses_a_head_that_cannot_fit() -> None:
    with pytest.raises(errors.CorruptError, match="0 rows"):
        fast.check_start(bytes(8), 100)
    with pytest.raises(errors.CorruptError, match="tables"):
        fast.check_start((1).to_bytes(4, "little") + (1000).to_bytes(4, "little"), 100)
    with pytest.raises(errors.CorruptError, match="only"):
        fast.check_start(bytes(8), 10)


def test_spans_longer_than_2_to_the_17_read_their_raw_bits_in_two_pieces() -> None:
    plane = np.zeros((3, 300_000), np.uint8)
    plane[1, 40_000] = plane[2, 270_000] = 1  # 14 raw bits, and 16 + 1
    stream = fast.encode(plane, 2)
    assert (fast.decode(stream, 300_000, 3, 2) == plane).all()
