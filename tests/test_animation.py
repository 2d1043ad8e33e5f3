"""Animations: every frame kept, seeking, Pillow's API, quantising, and hostile files."""

from __future__ import annotations

import io
import struct
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence, features

import kmcodec
from kmcodec.animation import AnimationReader, encode_animation, read_animation
from kmcodec.errors import CorruptError, IndexRangeError, KmqError, LimitError, TruncatedError
from kmcodec.format import animation as fmt
from kmcodec.format.layout import FLAG_ANIMATION, HEADER, Coding, build_file, split_file


def _sprite_frames(n: int = 6, size: tuple[int, int] = (40, 32), colors: int = 5) -> list:
    """A background with a square moving over it: most pixels stay as they were."""
    rng = np.random.default_rng(3)
    h, w = size[1], size[0]
    palette = rng.integers(0, 256, (colors, 3), dtype=np.uint8)
    background = rng.integers(0, colors - 1, (h, w))
    frames = []
    for t in range(n):
        plane = background.copy()
        plane[5:13, 2 + 4 * t : 10 + 4 * t] = colors - 1
        frames.append(palette[plane])
    return frames


def _rgba(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.shape[2] == 3:
        a = np.concatenate([a, np.full((*a.shape[:2], 1), 255, np.uint8)], axis=2)
    a = a.copy()
    a[a[..., 3] == 0] = 0
    return a


def _assert_same_frames(anim: kmcodec.Animation, frames: list) -> None:
    assert anim.n_frames == len(frames)
    for n, want in enumerate(frames):
        np.testing.assert_array_equal(_rgba(anim.frame(n)), _rgba(want), err_msg=f"frame {n}")


def test_frames_round_trip_exactly_with_durations_and_loop() -> None:
    frames = _sprite_frames()
    data = encode_animation(frames, duration=[10, 20, 30, 40, 50, 60], loop=3)
    anim = read_animation(data)
    _assert_same_frames(anim, frames)
    assert anim.durations == [10, 20, 30, 40, 50, 60] and anim.loop == 3
    assert anim.header.colors == 5 and anim.palette.shape == (5, 3)


def test_an_unchanged_frame_costs_a_byte_and_a_moving_sprite_a_small_box() -> None:
    frames = _sprite_frames()
    frames.insert(3, frames[2])
    _head, stream = split_file(encode_animation(frames))
    table = fmt.parse_table(stream, len(stream))
    assert table.frames[3].size == 1  # no layers: the frame is the one before
    layers = fmt.parse_frame(stream[table.frames[1].offset :][: table.frames[1].size], (40, 32), 5)
    assert all(la.width <= 12 and la.height == 8 for la in layers)


def test_frames_with_their_own_palettes_are_kept_exactly_beyond_256_colours() -> None:
    # As a GIF with a local palette per frame: each frame brings 200 colours of its own.
    rng = np.random.default_rng(1)
    palettes = [rng.integers(0, 256, (200, 3), dtype=np.uint8) for _ in range(3)]
    frames = [p[rng.integers(0, 200, (20, 30))] for p in palettes]
    anim = read_animation(encode_animation(frames))
    assert anim.header.colors > 256 and anim.indices(0).dtype == np.uint16
    _assert_same_frames(anim, frames)


def test_a_frame_of_more_colours_than_a_gif_holds_is_quantised_unless_colors_allows_them() -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(2)]
    assert read_animation(encode_animation(frames)).header.colors <= 256
    exact = read_animation(encode_animation(frames, colors=65535))
    assert exact.header.colors > 256
    _assert_same_frames(exact, frames)


def test_transparency_is_kept_and_every_transparent_pixel_is_one_colour() -> None:
    frames = []
    for t in range(3):
        a = np.zeros((8, 8, 4), np.uint8)
        a[t : t + 3, t : t + 3] = (200, 10, 10, 255)
        a[0, 7] = (1, 2, 3, 0)  # transparent, with some RGB that is not kept
        frames.append(a)
    anim = read_animation(encode_animation(frames))
    assert anim.palette.shape[1] == 4
    _assert_same_frames(anim, frames)


def test_seeking_backwards_gives_the_same_frames_as_going_forwards() -> None:
    frames = _sprite_frames(n=9)
    frames[5] = np.full_like(frames[5], 9)  # a cut: a key frame in the middle
    anim = read_animation(encode_animation(frames))
    for n in (8, 2, 6, 5, 0, 7, 7, 1):
        np.testing.assert_array_equal(anim.frame(n), frames[n], err_msg=f"frame {n}")


def test_the_same_frames_give_the_same_bytes() -> None:
    frames = _sprite_frames()
    assert encode_animation(frames, duration=40) == encode_animation(frames, duration=40)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_frames_coded_on_threads_give_the_bytes_of_one_thread(monkeypatch, threads) -> None:
    frames = _sprite_frames(n=11)
    monkeypatch.setattr(kmcodec.animation, "THREADS", 1)
    want = encode_animation(frames, duration=40)
    monkeypatch.setattr(kmcodec.animation, "THREADS", threads)
    assert encode_animation(frames, duration=40) == want


def test_an_error_in_a_frame_coded_on_a_thread_is_raised(monkeypatch) -> None:
    monkeypatch.setattr(kmcodec.animation, "THREADS", 2)
    calls = []

    def failing(prev, plane, colors, opts):
        calls.append(1)
        if len(calls) == 3:
            raise LimitError("frame 2 is too much")
        return []

    monkeypatch.setattr(kmcodec.animation, "frame_layers", failing)
    with pytest.raises(LimitError, match="frame 2"):
        encode_animation(_sprite_frames(n=9), duration=40)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 24),
    st.integers(1, 20),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
    st.sampled_from([None, 0, 1, 2]),
    st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
)
def test_random_palette_animations_round_trip(
    frames: int,
    width: int,
    height: int,
    colors: int,
    seed: int,
    coding: int | None,
    shift: tuple[int, int],
) -> None:
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (colors, 4), dtype=np.uint8)
    planes = [rng.integers(0, colors, (height, width)) for _ in range(frames)]
    for t in range(1, frames):  # some pixels kept from the frame before, scrolled by ``shift``
        keep = rng.random((height, width)) < 0.6
        planes[t] = np.where(keep, np.roll(planes[t - 1], shift, axis=(0, 1)), planes[t])
    images = [palette[p] for p in planes]
    options = {} if coding is None else {"coding": coding}
    anim = read_animation(encode_animation(images, duration=5, **options))
    _assert_same_frames(anim, images)


# --- scrolls and pans: MOVE layers -------------------------------------------------------------


def _scrolling(axis: int, step: int = 6, n: int = 6) -> list[np.ndarray]:
    """A window of 96 x 72 moving ``step`` pixels a frame across a larger picture of short
    runs (rows of "text"): down it (axis 0, a scroll) or along it (axis 1, a pan)."""
    rng = np.random.default_rng(11)
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    big = np.repeat(rng.integers(0, 6, (72 + step * n, 96 + step * n)), 1, axis=0)
    big[:, 1::2] = big[:, ::2][:, : big[:, 1::2].shape[1]]  # runs of two
    frames = []
    for t in range(n):
        at = (step * t, 0) if axis == 0 else (0, step * t)
        frames.append(palette[big[at[0] : at[0] + 72, at[1] : at[1] + 96]])
    return frames


def _kinds(data: bytes) -> list[list[int]]:
    anim = read_animation(data)
    reader = anim._reader
    h = anim.header
    return [
        [
            la.kind
            for la in fmt.parse_frame(
                reader._read_at(e.offset, e.size), (h.width, h.height), h.colors
            )
        ]
        for e in reader.table.frames
    ]


@pytest.mark.parametrize("axis", [0, 1], ids=["scroll", "pan"])
def test_a_scroll_or_a_pan_is_a_move_layer_and_a_strip_of_new_pixels(monkeypatch, axis) -> None:
    frames = _scrolling(axis)
    data = encode_animation(frames, coding=2)
    _assert_same_frames(read_animation(data), frames)
    kinds = _kinds(data)
    assert all(k[0] == fmt.MOVE for k in kinds[1:])
    monkeypatch.setattr(kmcodec.animation, "MOVE_SHARE", 2.0)  # no shift gets 200% right
    without = encode_animation(frames, coding=2)
    assert all(fmt.MOVE not in k for k in _kinds(without))
    assert len(data) < 0.5 * len(without)


def test_frames_that_do_not_move_have_no_move_layer() -> None:
    rng = np.random.default_rng(2)
    palette = rng.integers(0, 256, (4, 3), dtype=np.uint8)
    frames = [palette[rng.integers(0, 4, (40, 50))] for _ in range(4)]
    kinds = _kinds(encode_animation(frames))
    assert all(fmt.MOVE not in k for k in kinds)


def test_overlapping_moves_read_their_source_before_writing() -> None:
    plane = np.arange(12, dtype=np.uint8).reshape(3, 4)
    key = fmt.build_frame([_layer(plane=plane, mapping=tuple(range(12)))])
    down = fmt.build_frame([fmt.Layer.move(0, 1, 4, 2, 0, 0)])
    right = fmt.build_frame([fmt.Layer.move(1, 0, 3, 3, 0, 0)])
    anim = read_animation(_frames_file([key, down, right], colors=12))
    want = plane.copy()
    want[1:] = plane[:2]
    np.testing.assert_array_equal(anim.indices(1), want)
    want[:, 1:] = want[:, :3].copy()
    np.testing.assert_array_equal(anim.indices(2), want)


def test_a_quantised_pan_keeps_each_moved_pixel_s_index() -> None:
    rng = np.random.default_rng(8)
    photo = rng.integers(0, 256, (40, 120, 3), dtype=np.uint8)
    frames = [photo[:, 7 * t : 7 * t + 64] for t in range(5)]
    data = encode_animation(frames, colors=16, dither=1.0)
    anim = read_animation(data)
    for t in range(1, 5):
        np.testing.assert_array_equal(anim.indices(t)[:, :-7], anim.indices(t - 1)[:, 7:])
    assert all(k[0] == fmt.MOVE for k in _kinds(data)[1:])


# --- quantising an animation ------------------------------------------------------------------


def test_a_photographic_clip_is_quantised_with_one_palette_and_still_pixels_keep_their_index() -> (
    None
):
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
    frames = []
    for t in range(4):
        f = base.copy()
        f[8:16, 4 * t : 4 * t + 12] = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)
        frames.append(f)
    anim = read_animation(encode_animation(frames, colors=16, dither=1.0))
    assert anim.header.colors <= 16
    for t in range(1, 4):
        still = (frames[t] == frames[t - 1]).all(axis=2)
        assert np.array_equal(anim.indices(t)[still], anim.indices(t - 1)[still])


# --- Pillow -----------------------------------------------------------------------------------


def _gif(frames: list, **kw) -> io.BytesIO:
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], **kw)
    buf.seek(0)
    return buf


def test_pillow_opens_an_animation_with_its_frames_and_info() -> None:
    frames = _sprite_frames()
    buf = io.BytesIO(encode_animation(frames, duration=70, loop=0))
    with Image.open(buf) as im:
        assert (im.format, im.mode, im.n_frames, im.is_animated) == ("KMQ", "P", 6, True)
        assert im.info["duration"] == 70 and im.info["loop"] == 0
        got = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
        assert im.tell() == 5
        im.seek(1)
        assert im.tell() == 1
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frames[1])
        with pytest.raises(EOFError):
            im.seek(6)
    for a, b in zip(got, frames, strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_animated_gif_saved_with_save_all_keeps_every_frame_exactly() -> None:
    frames = _sprite_frames(n=5)
    gif = _gif(frames, duration=[30, 40, 50, 60, 70], loop=2)
    out = io.BytesIO()
    with Image.open(gif) as src:
        src.save(out, "KMQ", save_all=True)
    out.seek(0)
    with Image.open(out) as im, Image.open(_gif(frames, duration=[30, 40, 50, 60, 70])) as ref:
        assert im.n_frames == ref.n_frames and im.info["loop"] == 2
        for a, b in zip(ImageSequence.Iterator(im), ImageSequence.Iterator(ref), strict=True):
            assert a.info["duration"] == b.info["duration"]
            np.testing.assert_array_equal(
                np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB"))
            )


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_save_all_keeps_each_frames_duration_from_gif_apng_and_webp(fmt: str) -> None:
    if fmt == "WEBP" and not features.check_module("webp"):
        pytest.skip("this Pillow has no WebP")
    frames = [Image.fromarray(f) for f in _sprite_frames(n=4)]
    src = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(
        src,
        fmt,
        save_all=True,
        append_images=frames[1:],
        duration=[30, 70, 60, 90],
        loop=0,
        **extra,
    )
    out = io.BytesIO()
    with Image.open(src) as im:
        im.save(out, "KMQ", save_all=True)
    with Image.open(out) as im:
        assert [f.info["duration"] for f in ImageSequence.Iterator(im)] == [30, 70, 60, 90]


def test_a_gif_whose_frame_reaches_outside_its_canvas_is_refused_naming_the_frame() -> None:
    # Pillow grows the canvas at such a frame (8x8 to 12x12 here); one canvas cannot hold both
    a = Image.new("P", (8, 8), 1)
    a.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
    b = a.copy()
    b.paste(2, (0, 0, 8, 8))
    buf = io.BytesIO()
    a.save(buf, "GIF", save_all=True, append_images=[b], optimize=False)
    data = bytearray(buf.getvalue())
    descriptor = b"\x2c\x00\x00\x00\x00\x08\x00\x08\x00"  # an 8x8 image at (0, 0)
    second = data.index(descriptor, data.index(descriptor) + 1)
    data[second + 1] = data[second + 3] = 4  # frame 1 at (4, 4)
    out = io.BytesIO()
    with Image.open(io.BytesIO(bytes(data))) as im, pytest.raises(ValueError, match="in frame 1"):
        im.save(out, "KMQ", save_all=True)
    assert out.getvalue() == b""


@pytest.mark.parametrize("alpha", [False, True])
def test_frames_kept_from_an_animation_are_copies_not_views_of_its_canvas(alpha: bool) -> None:
    frames = _sprite_frames(n=4)
    if alpha:  # an RGBA palette: the frame is the reader's words exactly, no channel dropped
        frames = [
            np.dstack([f, np.where(f[..., :1] > 128, 255, 0).astype(np.uint8)]) for f in frames
        ]
    anim = read_animation(encode_animation(frames, duration=40))
    kept = list(anim)
    assert [k.shape[2] for k in kept] == [4 if alpha else 3] * 4
    for got, want in zip(kept, frames, strict=True):
        np.testing.assert_array_equal(_rgba(got), _rgba(want))


def test_gif_like_frames_of_more_colours_than_a_file_holds_are_quantised_not_refused() -> None:
    # 257 frames of 256 colours each (a GIF building one picture of many colours, frame by
    # frame): every frame fits a GIF palette, the whole does not fit the 65,535 of a file
    codes = np.arange(257 * 256, dtype=np.uint32).reshape(257, 16, 16) * 97
    frames = [
        np.stack([(c >> s) & 0xFF for s in (16, 8, 0)], axis=2).astype(np.uint8) for c in codes
    ]
    anim = read_animation(encode_animation(frames, duration=10))
    assert anim.n_frames == 257 and len(anim.palette) <= 256


def test_an_animation_of_more_than_256_colours_opens_as_rgb() -> None:
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (10, 40, 3), dtype=np.uint8) for _ in range(2)]
    with Image.open(io.BytesIO(encode_animation(frames, colors=65535))) as im:
        assert im.mode == "RGB"
        im.seek(1)
        np.testing.assert_array_equal(np.asarray(im), frames[1])


def test_pillow_bomb_check_counts_every_frame(monkeypatch) -> None:
    data = encode_animation(_sprite_frames(n=6))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40 * 32 * 2)  # two frames' worth
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    with pytest.raises(LimitError, match="6 frames"):
        read_animation(data, max_pixels=40 * 32 * 5)


# --- bad input --------------------------------------------------------------------------------


def _frames_file(frames: list[bytes], colors: int = 2, size: tuple[int, int] = (4, 3)) -> bytes:
    stream = fmt.build_stream(frames, [10] * len(frames), 0)
    header = kmcodec.format.layout.Header(
        width=size[0], height=size[1], colors=colors, index_bits=0, flags=FLAG_ANIMATION
    )
    return build_file(header, bytes(3 * colors), {}, stream)


def _layer(
    kind=fmt.PLAIN, x=0, y=0, w=4, h=3, mapping=(0, 1), plane=None, coding=Coding.FAST, **params
) -> fmt.Layer:
    from kmcodec.format import codings

    symbols = len(mapping) + (kind == fmt.DELTA)
    plane = np.zeros((h, w), np.uint8) if plane is None else plane
    stream, bits = codings.encode(plane, symbols, coding, **params)
    return fmt.Layer(kind, x, y, w, h, tuple(mapping), int(coding), bits, stream)


def _rows(bits: int) -> dict:
    return {"index_bits": bits, "level_for": lambda _b: 3, "every_width": False}


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("kind", [fmt.PLAIN, fmt.DELTA])
def test_coding_0_layers_paint_at_every_index_width(bits, kind) -> None:
    rng = np.random.default_rng(bits)
    count = min(1 << bits, 7)  # the layer's symbols; DELTA's 0 keeps the canvas
    mapping = tuple(range(1, count + 1)) if kind == fmt.PLAIN else tuple(range(1, count))
    symbols = rng.integers(0, count, (5, 11), dtype=np.uint8)  # 11: rows end inside a byte
    key = fmt.build_frame([_layer(w=13, h=6, mapping=(0,))])
    layer = _layer(kind, 1, 1, 11, 5, mapping, symbols, Coding.ROWS, **_rows(bits))
    assert layer.index_bits == bits
    anim = read_animation(_frames_file([key, fmt.build_frame([layer])], 8, (13, 6)))
    want = np.zeros((6, 13), np.uint8)
    lut = np.array(mapping if kind == fmt.PLAIN else (0, *mapping))
    want[1:6, 1:12] = lut[symbols]
    np.testing.assert_array_equal(anim.indices(1), want)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_a_coding_0_layer_symbol_beyond_its_map_is_an_index_range_error(bits) -> None:
    symbols = np.zeros((3, 4), np.uint8)
    symbols[2, 3] = 3  # the map has 3 entries: symbols 0 to 2
    layer = _layer(mapping=(0, 1, 2), plane=symbols, coding=Coding.ROWS, **_rows(bits))
    with pytest.raises(IndexRangeError, match="frame 0: a palette index is out of range"):
        read_animation(_frames_file([fmt.build_frame([layer])], 3)).indices(0)


def test_a_hand_made_file_decodes() -> None:
    plane = np.array([[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 1]], np.uint8)
    key = fmt.build_frame([_layer(plane=plane)])
    delta = fmt.build_frame([_layer(fmt.DELTA, 1, 1, 2, 1, (0,), np.array([[1, 0]], np.uint8))])
    anim = read_animation(_frames_file([key, delta, fmt.build_frame([])]))
    want = plane.copy()
    want[1, 1] = 0
    np.testing.assert_array_equal(anim.indices(1), want)
    np.testing.assert_array_equal(anim.indices(2), want)


@pytest.mark.parametrize(
    ("frames", "error", "match"),
    [
        ([fmt.build_frame([])], CorruptError, "key frame"),
        ([fmt.build_frame([_layer(fmt.DELTA, mapping=(0,))])], CorruptError, "key frame"),
        ([fmt.build_frame([_layer(x=1)])], CorruptError, "not inside"),
        ([fmt.build_frame([_layer(mapping=(0, 2))])], CorruptError, "palette entry 2"),
        ([fmt.build_frame([_layer()]) + b"\x00"], CorruptError, "left over"),
        ([fmt.build_frame([_layer()])[:-3]], CorruptError, "past the end"),
        ([fmt.build_frame([_layer(), fmt.Layer.move(0, 0, 2, 2, 3, 0)])], CorruptError, "outside"),
        (
            [fmt.build_frame([_layer(), fmt.Layer.move(0, 0, 2, 2, 1, 1)])[:-1]],
            CorruptError,
            "past",
        ),
    ],
)
def test_a_bad_frame_is_refused_with_the_documented_error(frames, error, match) -> None:
    with pytest.raises(error, match=match):
        read_animation(_frames_file(frames)).indices(0)


def test_a_corrupt_frame_is_named_and_the_frames_before_it_stay_readable() -> None:
    frames = _sprite_frames(n=5)
    data = bytearray(encode_animation(frames, coding=2))
    head, stream = split_file(bytes(data))
    table = fmt.parse_table(stream, len(stream))
    entry = table.frames[3]
    data[head.stream_offset + entry.offset + entry.size - 2] ^= 0xFF  # inside its stream's CRC
    with Image.open(io.BytesIO(bytes(data))) as im:
        im.seek(2)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frames[2])
        im.seek(3)
        with pytest.raises(OSError, match="frame 3"):
            im.load()
        im.seek(1)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frames[1])


def test_a_truncated_animation_opens_and_its_first_frames_decode() -> None:
    frames = _sprite_frames(n=5)
    data = encode_animation(frames)
    head, stream = split_file(data)
    table = fmt.parse_table(stream, len(stream))
    cut = data[: head.stream_offset + table.frames[3].offset + 2]
    with Image.open(io.BytesIO(cut)) as im:
        im.seek(2)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), frames[2])
        im.seek(3)
        with pytest.raises(OSError, match="truncated frame 3"):
            im.load()
    with pytest.raises(TruncatedError):
        read_animation(cut)


def test_a_frame_table_larger_than_the_stream_is_refused_before_it_is_read() -> None:
    stream = struct.pack("<IHH", fmt.MAX_FRAMES, 0, 0)
    with pytest.raises(CorruptError, match="does not fit"):
        fmt.parse_table(stream, len(stream))
    with pytest.raises(LimitError):
        fmt.parse_table(struct.pack("<IHH", fmt.MAX_FRAMES + 1, 0, 0), 10**9)


def test_frame_sizes_that_do_not_add_up_are_refused() -> None:
    stream = fmt.build_stream([fmt.build_frame([_layer()])], [10], None)
    with pytest.raises(CorruptError, match="add up"):
        fmt.parse_table(stream, len(stream) + 1)


def test_an_animation_header_with_index_bits_is_refused() -> None:
    data = bytearray(_frames_file([fmt.build_frame([_layer()])]))
    fields = HEADER.parse(bytes(data[: HEADER.sizeof()]))
    assert fields.flags == FLAG_ANIMATION
    data[11] = 8  # index_bits
    with pytest.raises(KmqError):
        read_animation(bytes(data))


def test_a_still_file_reads_as_an_animation_of_one_frame() -> None:
    rgb = _sprite_frames(n=1)[0]
    anim = read_animation(kmcodec.encode(rgb, 8))
    assert anim.n_frames == 1
    np.testing.assert_array_equal(anim.frame(0), rgb)


def test_the_reader_holds_one_canvas_not_every_frame() -> None:
    data = encode_animation(_sprite_frames(n=6))
    head, stream = split_file(data)
    reads: list[int] = []

    def read_at(offset: int, size: int) -> memoryview:
        reads.append(size)
        return stream[offset : offset + size]

    reader = AnimationReader(head, read_at)
    reads.clear()
    first = reader.frame(5)
    assert first is reader.frame(5)  # the same canvas, painted in place
    assert max(reads) < len(stream) // 2


def test_the_encoder_reads_frames_one_at_a_time_and_keeps_what_changes() -> None:
    # 300 frames of 200x200 RGBA: 48 MB whole (and as much again as codes); a small square
    # moves, so what changes is a few kilobytes a frame.
    def frames():
        for t in range(300):
            f = np.zeros((200, 200, 4), np.uint8)
            f[..., 3] = 255
            f[20:30, t % 180 : t % 180 + 10, :3] = (255, 128, t % 7)
            yield f

    tracemalloc.start()
    try:
        data = encode_animation(frames(), duration=40)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12_000_000
    anim = read_animation(data)
    assert anim.n_frames == 300
    want = list(frames())[123]
    np.testing.assert_array_equal(anim.palette[anim.indices(123)][..., :3], want[..., :3])


def test_still_image_warnings_are_not_raised_for_animation_save_options() -> None:
    frames = [Image.fromarray(f) for f in _sprite_frames(n=2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames[0].save(io.BytesIO(), "KMQ", save_all=True, append_images=frames[1:], loop=0)


def test_reading_one_image_of_an_animation_asks_for_the_frame() -> None:
    from kmcodec.errors import AnimatedInputError
    from kmcodec.files import open_image

    gif = _gif(_sprite_frames(n=3)).getvalue()
    with pytest.raises(AnimatedInputError, match=r"3 frames .* frame=N .* 0 to 2"):
        open_image(gif)
    assert open_image(gif, frame=2).size == (40, 32)


def test_the_shift_search_refuses_a_box_outside_the_canvases() -> None:
    from kmcodec.format.codings._fast_coder import shift_votes

    plane = np.zeros((4, 5), np.uint8)
    with pytest.raises(ValueError, match="does not fit"):
        shift_votes(plane, plane, 5, 4, 1, 0, 0, 6, 4, 0, 8)
    with pytest.raises(ValueError, match="does not fit"):
        shift_votes(plane, plane[:2], 5, 4, 1, 0, 0, 5, 4, 1, 8)
    assert shift_votes(plane, plane, 5, 4, 1, 0, 0, 5, 4, 0, 3) is None  # 4 equal rows: none
    assert shift_votes(plane, plane, 5, 4, 1, 0, 0, 5, 4, 0, 4) == (-1, 3)  # the nearest


@pytest.mark.parametrize("mode", ["P", "RGB", "RGBA", "L", "LA", "1", "PA"])
def test_a_frame_of_any_mode_gives_the_codes_of_its_rgba_pixels(mode) -> None:
    from kmcodec.animation import _codes, _frame_codes

    rng = np.random.default_rng(9)
    rgba = rng.integers(0, 256, (7, 9, 4), dtype=np.uint8)
    rgba[..., 3] = rng.choice([0, 128, 255], (7, 9))  # some transparent pixels
    im = Image.fromarray(rgba).convert(mode)
    if mode == "P":
        im.info["transparency"] = 3
    want = _codes(np.asarray(im.convert("RGBA")))
    np.testing.assert_array_equal(_frame_codes(im), want)
    assert encode_animation([im, im.rotate(180)]) == encode_animation(
        [np.asarray(im.convert("RGBA")), np.asarray(im.rotate(180).convert("RGBA"))]
    )


def test_a_frame_s_words_hold_its_rgba_bytes_for_animations_and_still_files() -> None:
    frames = _sprite_frames(n=3)
    still = kmcodec.encode(frames[0], 16)
    for anim in (read_animation(encode_animation(frames)), read_animation(still)):
        for n in range(anim.n_frames):
            rgb = anim.frame(n)
            rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
            words = anim.words(n)
            assert words.dtype == np.uint32 and words.shape == rgb.shape[:2]
            np.testing.assert_array_equal(words.view(np.uint8).reshape(rgba.shape), rgba)
