"""The Pillow plugin: .kmq opens and saves like a built-in format."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

import kmcodec
from kmcodec import pillow_plugin
from kmcodec.format.codings import context as context_coding
from kmcodec.format.codings import zstd_frame as compression
from kmcodec.quantization.quality import pngquant_error_of, quality_to_mse

from .support import VECTORS

MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


@pytest.fixture
def kmq_file(tmp_path, photo):
    path = tmp_path / "photo.kmq"
    Image.fromarray(photo).save(path, colors=16)
    return path


def test_sanity(kmq_file, photo) -> None:
    with Image.open(kmq_file) as im:
        assert im.format == "KMQ" and im.mode == "P"
        assert im.size == (photo.shape[1], photo.shape[0])
        assert im.get_format_mimetype() == "image/x-kmq"
        im.load()
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), kmcodec.load(kmq_file))
        assert len(im.getpalette()) // 3 == 16


@pytest.mark.parametrize("coding", [0, 1])
def test_open_reads_only_the_header_and_stays_lazy(tmp_path, photo, coding, monkeypatch) -> None:
    kmq_file = tmp_path / "photo.kmq"
    Image.fromarray(photo).save(kmq_file, colors=16, coding=coding)
    calls = []
    module, name = (compression, "decompress") if coding == 0 else (context_coding, "decode")
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a: calls.append(1) or real(*a))
    with Image.open(kmq_file) as im:
        assert len(im.tile) == 1 and im.tile[0][0] == "kmq"
        assert calls == []
        im.load()
        assert calls == [1]


def test_extension_and_mime_are_registered() -> None:
    assert Image.registered_extensions()[".kmq"] == "KMQ"
    assert Image.MIME["KMQ"] == "image/x-kmq"


def test_register_restores_the_plugin(kmq_file) -> None:
    saved = Image.OPEN.pop("KMQ")
    Image.ID.remove("KMQ")
    try:
        with pytest.raises(UnidentifiedImageError):
            Image.open(kmq_file)
        kmcodec.register()
        with Image.open(kmq_file) as im:
            assert im.format == "KMQ"
    finally:
        Image.OPEN["KMQ"] = saved
        if "KMQ" not in Image.ID:
            Image.ID.append("KMQ")


def test_open_file_objects_and_bytes(kmq_file) -> None:
    with open(kmq_file, "rb") as f, Image.open(f) as im:
        im.load()
    with Image.open(io.BytesIO(kmq_file.read_bytes())) as im:
        assert im.format == "KMQ"
        im.load()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1"])
def test_save_from_every_supported_mode(tmp_path, photo, mode) -> None:
    src = Image.fromarray(photo).convert(mode)
    path = tmp_path / f"m-{mode}.kmq"
    src.save(path)
    with Image.open(path) as im:
        im.load()
        assert im.mode == "P" and im.size == src.size
        if mode in ("L", "1", "P"):  # at most 256 colours: stored exactly
            np.testing.assert_array_equal(
                np.asarray(im.convert("RGB")), np.asarray(src.convert("RGB"))
            )


def test_palette_image_is_stored_as_it_is(tmp_path, photo) -> None:
    p = Image.fromarray(photo).quantize(37)
    path = tmp_path / "p.kmq"
    p.save(path)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), np.asarray(p))
        n = int(np.asarray(p).max()) + 1
        assert im.getpalette()[: 3 * n] == p.getpalette()[: 3 * n]


@pytest.mark.parametrize("transparency", [5, bytes(range(0, 256, 8))])
def test_palette_transparency_round_trips(tmp_path, transparency) -> None:
    p = Image.new("P", (32, 32))
    p.putpalette(list(range(96)) * 8)
    p.putdata(list(range(32)) * 32)
    p.info["transparency"] = transparency
    path = tmp_path / "t.kmq"
    p.save(path)
    with Image.open(path) as im:
        im.load()
        np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), np.asarray(p.convert("RGBA")))
        if isinstance(transparency, int):
            assert im.info["transparency"] == transparency


@pytest.mark.parametrize("colors", [None, 4])
def test_a_palette_that_holds_its_own_alpha_keeps_it(tmp_path, colors) -> None:
    # Image.quantize of an RGBA image (and DDS) gives "P" with an RGBA palette and no
    # info["transparency"]; as it is (None), and quantised again to fewer colours (4)
    p = Image.new("P", (32, 32))
    p.putpalette(
        bytes(v for i in range(32) for v in (8 * i, 255 - 8 * i, 7 * i, 40 * (i % 7))), "RGBA"
    )
    p.putdata(list(range(32)) * 32)
    path = tmp_path / "a.kmq"
    p.save(path, **({} if colors is None else {"colors": colors}))
    want = np.asarray(p.convert("RGBA"))
    with Image.open(path) as im:
        got = np.asarray(im.convert("RGBA"))
    if colors is None:
        np.testing.assert_array_equal(got, want)
    else:
        assert (got[..., 3] < 255).mean() > 0.5  # 6 of every 7 entries are translucent


def test_rgba_file_opens_as_p_with_transparency(tmp_path, photo) -> None:
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    rgba[:20, :, 3] = 0
    path = tmp_path / "a.kmq"
    Image.fromarray(rgba).save(path, colors=8)
    with Image.open(path) as im:
        assert im.mode == "P" and isinstance(im.info["transparency"], int)
        alpha = np.asarray(im.convert("RGBA"))[..., 3]
        assert (alpha[:20] == 0).all() and (alpha[20:] == 255).all()


@pytest.mark.parametrize("mode", ["I;16", "F", "I", "CMYK", "YCbCr"])
def test_modes_it_cannot_store_give_a_clear_value_error(tmp_path, mode) -> None:
    with pytest.raises(ValueError, match=f"cannot write mode {mode} as KMQ"):
        Image.new(mode, (4, 4)).save(tmp_path / "x.kmq")
    assert not (tmp_path / "x.kmq").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("colors", 0),
        ("colors", 300),
        ("colors", "many"),
        ("speed", 11),
        ("speed", "fast"),
        ("dither", "floyd"),
        ("color_space", "hsv"),
        ("compress_level", 40),
        ("quality", "90-10"),
        ("smooth", -1),
    ],
)
def test_bad_save_options_are_refused_with_a_value_error(tmp_path, photo, option, value) -> None:
    with pytest.raises(ValueError):
        Image.fromarray(photo).save(tmp_path / "x.kmq", **{option: value})
    assert not (tmp_path / "x.kmq").exists()


def test_save_options_are_used(tmp_path, photo) -> None:
    im = Image.fromarray(photo)
    im.save(
        tmp_path / "a.kmq",
        colors=6,
        speed=8,
        dither=True,
        color_space="oklab",
        compress_level=3,
        random_state=1,
    )
    assert kmcodec.read((tmp_path / "a.kmq").read_bytes()).header.colors == 6
    im.save(tmp_path / "q.kmq", quality="40-60")
    got = kmcodec.load(tmp_path / "q.kmq")
    assert pngquant_error_of(photo, got) <= quality_to_mse(60)


def test_icc_profile_and_exif_round_trip(tmp_path, photo) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    exif[0x010F] = "kmcodec test camera"
    path = tmp_path / "m.kmq"
    Image.fromarray(photo).save(path, colors=8, icc_profile=icc, exif=exif)
    with Image.open(path) as im:
        assert im.info["icc_profile"] == icc
        assert im.getexif()[0x0112] == 6
        assert im.getexif()[0x010F] == "kmcodec test camera"
        # it works through the code that uses Pillow
        upright = ImageOps.exif_transpose(im)
        assert upright.size == (im.size[1], im.size[0])


def test_metadata_from_image_info_is_kept(tmp_path, photo) -> None:
    src = Image.fromarray(photo)
    src.info["icc_profile"] = b"an ICC profile"
    src.save(tmp_path / "i.kmq")
    with Image.open(tmp_path / "i.kmq") as im:
        assert im.info["icc_profile"] == b"an ICC profile"


def test_thumbnail_and_convert(kmq_file) -> None:
    with Image.open(kmq_file) as im:
        im.thumbnail((50, 50))
        assert max(im.size) == 50
        assert im.convert("RGB").mode == "RGB"


def test_verify_checks_the_stream(tmp_path, kmq_file) -> None:
    with Image.open(kmq_file) as im:
        im.verify()
    data = bytearray(kmq_file.read_bytes())
    data[-1] ^= 0xFF  # the stream's checksum
    bad = tmp_path / "bad.kmq"
    bad.write_bytes(bytes(data))
    with Image.open(bad) as im, pytest.raises(SyntaxError, match="checksum"):
        im.verify()
    short = tmp_path / "short.kmq"
    short.write_bytes(kmq_file.read_bytes()[:-10])
    with Image.open(short) as im, pytest.raises(OSError, match="truncated"):
        im.verify()


@pytest.mark.parametrize("case", MANIFEST["invalid"], ids=lambda c: c["file"])
def test_invalid_files_fail_as_pillow_users_expect(case) -> None:
    data = (VECTORS / case["file"]).read_bytes()
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return  # not a (valid) KMQ header
    with pytest.raises(OSError):  # an animation's defect may be in any frame
        for frame in ImageSequence.Iterator(im):
            frame.load()


@pytest.mark.parametrize("case", MANIFEST["animations"], ids=lambda c: c["file"])
def test_valid_animation_vectors_through_pillow(case) -> None:
    with Image.open(VECTORS / case["file"]) as im:
        assert im.n_frames == len(case["frames"]) and im.info.get("loop") == case["loop"]
        for frame, png, duration in zip(
            ImageSequence.Iterator(im), case["frames"], case["durations"], strict=True
        ):
            assert frame.info["duration"] == duration
            with Image.open(VECTORS / png) as ref:
                mode = "RGBA" if ref.mode == "RGBA" else "RGB"
                got = np.asarray(frame.convert(mode))
                np.testing.assert_array_equal(got, np.asarray(ref.convert(mode)), err_msg=png)


@pytest.mark.parametrize("case", MANIFEST["valid"], ids=lambda c: c["file"])
def test_valid_vectors_through_pillow(case) -> None:
    with Image.open(VECTORS / case["file"]) as im, Image.open(VECTORS / case["png"]) as ref:
        mode = "RGBA" if ref.mode == "RGBA" else "RGB"
        np.testing.assert_array_equal(np.asarray(im.convert(mode)), np.asarray(ref.convert(mode)))


def test_every_truncation_fails_cleanly(kmq_file) -> None:
    data = kmq_file.read_bytes()
    for length in list(range(0, 120)) + list(range(120, len(data), 97)):
        try:
            im = Image.open(io.BytesIO(data[:length]))
        except UnidentifiedImageError:
            continue
        with pytest.raises(OSError):
            im.load()


def test_decompression_bomb_check_applies(kmq_file, monkeypatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(Image.DecompressionBombError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Image.open(kmq_file)


def test_matplotlib_imread_reads_kmq_through_pillow(kmq_file) -> None:
    mpimg = pytest.importorskip("matplotlib.image")
    pixels = mpimg.imread(kmq_file)
    assert pixels.shape[:2] == kmcodec.load(kmq_file).shape[:2]


def test_imageio_reads_kmq_with_its_pillow_plugin(kmq_file) -> None:
    iio = pytest.importorskip("imageio.v3")
    pixels = iio.imread(kmq_file, plugin="pillow", mode="RGB")
    np.testing.assert_array_equal(pixels, kmcodec.load(kmq_file))


def test_plugin_module_declares_its_save_options() -> None:
    assert {
        "colors",
        "quality",
        "speed",
        "dither",
        "color_space",
        "compress_level",
        "random_state",
        "icc_profile",
        "exif",
    } <= set(pillow_plugin.SAVE_OPTIONS)


def test_an_unreachable_quality_is_a_value_error_for_pillow_users(photo) -> None:
    with pytest.raises(ValueError, match="quality") as info:
        Image.fromarray(photo).save(io.BytesIO(), format="KMQ", colors=2, quality="99-100")
    assert isinstance(info.value, kmcodec.QualityError)


def test_kmcodec_save_keeps_the_old_file_when_encoding_fails(tmp_path, photo) -> None:
    path = tmp_path / "a.kmq"
    kmcodec.save(path, photo, 4)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        kmcodec.save(path, photo, 2, quality="99-100")
    assert path.read_bytes() == before


@pytest.mark.parametrize(("coding", "colors"), [(1, 16), (0, 200), (0, 2)])
def test_one_byte_planes_load_without_a_second_copy(tmp_path, photo, coding, colors) -> None:
    """Coding 1, and coding 0 at 8 or 1 bits an index, decode to a plane that Pillow's image
    views (read-only, copied on write, as a memory-mapped file) instead of copying."""
    path = tmp_path / "a.kmq"
    kmcodec.save(path, photo, colors, coding=coding)
    with Image.open(path) as im:
        im.load()
        assert im.readonly == 1 and im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), kmcodec.load(path))
        im.putpixel((0, 0), 1)  # copy on write
        assert im.readonly == 0 and im.getpixel((0, 0)) == 1
    rgba = np.dstack([photo, np.where(photo[..., :1] > 128, 255, 0).astype(np.uint8)])
    kmcodec.save(path, rgba, 8, coding=1)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGBA")), kmcodec.load(path))


def test_save_all_of_several_frames_writes_an_animation(tmp_path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "a.kmq", save_all=True, append_images=frames[1:], duration=[40, 60])
    with Image.open(tmp_path / "a.kmq") as im:
        assert (im.n_frames, im.is_animated, "loop" in im.info) == (2, True, False)
        assert im.convert("RGB").getpixel((0, 0)) == (255, 0, 0) and im.info["duration"] == 40
        im.seek(1)
        assert im.convert("RGB").getpixel((0, 0)) == (0, 0, 255) and im.info["duration"] == 60


def test_save_all_of_one_frame_saves_it(tmp_path) -> None:
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.kmq", save_all=True)
    with Image.open(tmp_path / "a.kmq") as im:
        assert im.convert("RGB").getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("colours", "colors"),
        ("color", "colors"),
        ("ncolors", "colors"),
        ("n_colors", "colors"),
        ("speed_", "speed"),
        ("target_PSNR", "target_psnr"),
        ("dithering", "dither"),
    ],
)
def test_a_near_miss_of_a_save_option_is_refused_naming_the_option(
    tmp_path, photo, given, meant
) -> None:
    with pytest.raises(ValueError, match=rf"'{given}'.*did you mean {meant}="):
        Image.fromarray(photo).save(tmp_path / "x.kmq", **{given: 16})


@pytest.mark.parametrize("options", [{"lossless": True}, {"optimize": True, "dpi": (72, 72)}])
def test_other_formats_options_warn_once_and_the_file_is_saved(tmp_path, photo, options) -> None:
    with pytest.warns(UserWarning) as caught:
        Image.fromarray(photo).save(tmp_path / "x.kmq", colors=4, **options)
    ours = [w for w in caught if "KMQ ignores" in str(w.message)]
    assert len(ours) == 1
    for key in options:
        assert key in str(ours[0].message)
    assert ours[0].filename == __file__  # pointed at the caller, not at Pillow
    assert kmcodec.read((tmp_path / "x.kmq").read_bytes()).header.colors == 4


def test_pillows_own_save_keys_pass_without_a_word(tmp_path, photo) -> None:
    im = Image.fromarray(photo)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        im.save(tmp_path / "a.kmq", colors=4)
        im.save(tmp_path / "b.kmq", save_all=True, append_images=[], colors=4)
        im.save(tmp_path / "c.kmq", format="KMQ", colors=4)
    for name in "abc":
        assert (tmp_path / f"{name}.kmq").exists()


def test_kmcodec_encode_suggests_the_option_meant() -> None:
    with pytest.raises(kmcodec.OptionError, match="did you mean 'colors'"):
        kmcodec.encode(np.zeros((4, 4, 3), np.uint8), colours=16)


@pytest.fixture
def small_parts(monkeypatch):
    """Coding 2 with parts of a few thousand pixels, so that a cut file ends after some."""
    from kmcodec.format.codings import fast

    monkeypatch.setattr(fast, "PART_PIXELS", 8192)


def _file_of_every_coding(tmp_path, photo_full, coding: int) -> bytes:
    # K = 256 at 8 bits: coding 0's zstd frame spans several 128 KiB blocks at 768x512.
    path = tmp_path / f"c{coding}.kmq"
    Image.fromarray(photo_full).save(path, colors=256, coding=coding, dither=False)
    return path.read_bytes()


@pytest.mark.parametrize("coding", [0, 1, 2])
def test_image_file_parser_fed_in_pieces_gives_the_whole_image(
    tmp_path, photo_full, coding, small_parts
) -> None:
    from PIL import ImageFile

    data = _file_of_every_coding(tmp_path, photo_full, coding)
    parser = ImageFile.Parser()
    for start in range(0, len(data), 1000):
        parser.feed(data[start : start + 1000])
    im = parser.close()
    with Image.open(io.BytesIO(data)) as ref:
        np.testing.assert_array_equal(np.asarray(im), np.asarray(ref))
        assert im.getpalette() == ref.getpalette()


@pytest.mark.parametrize("coding", [0, 1, 2])
def test_load_truncated_images_gives_the_rows_that_arrived(
    tmp_path, photo_full, coding, small_parts, monkeypatch
) -> None:
    from PIL import ImageFile

    data = _file_of_every_coding(tmp_path, photo_full, coding)
    with Image.open(io.BytesIO(data)) as ref:
        full = np.asarray(ref)
    cut = data[: len(data) * 4 // 5]
    with Image.open(io.BytesIO(cut)) as im, pytest.raises(OSError, match="truncated"):
        im.load()  # without the flag, as before
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(cut)) as im:
        im.load()
        got = np.asarray(im)
    assert im.mode == "P" and got.shape == full.shape
    rows = int(np.flatnonzero((got != full).any(axis=1))[0])
    assert full.shape[0] // 2 <= rows < full.shape[0]  # most of what arrived, not all of it
    assert not got[rows:].any()  # the rest is index 0, as Pillow leaves a truncated PNG


@pytest.mark.parametrize("coding", [0, 1, 2])
def test_load_truncated_images_of_a_file_cut_anywhere_never_raises(
    tmp_path, photo, coding, monkeypatch
) -> None:
    from PIL import ImageFile

    path = tmp_path / "p.kmq"
    Image.fromarray(photo).save(path, colors=16, coding=coding)
    data = path.read_bytes()
    with Image.open(path) as ref:
        full = np.asarray(ref)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for length in range(len(data) - 1, 0, -37):
        try:
            im = Image.open(io.BytesIO(data[:length]))
        except (UnidentifiedImageError, OSError):
            continue  # the header or palette did not arrive: nothing to show
        with im:
            got = np.asarray(im)
        rows = int(np.flatnonzero((got != full).any(axis=1))[0]) if (got != full).any() else 128
        assert not got[rows:].any()
