"""Every encode option is declared once (kmcodec.options) and reachable, with the same name,
range and default, from the API, Pillow's save and the kmq command."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kmcodec
from kmcodec import cli, options

from .support import ROOT

# name: (a value other than the default, its command-line text, a bad value, its text)
CASES: dict[str, tuple[object, str | None, object, str]] = {
    "colors": (6, "6", 0, "0"),
    "speed": (8, "8", 12, "12"),  # kmq encode takes pngquant's 11 too
    "quality": ("40-60", "40-60", "90-10", "90-10"),
    "target_psnr": (24.5, "24.5", -1.0, "-1"),
    "color_space": ("oklab", "oklab", "hsv", "hsv"),
    "dither": (True, None, "floyd", "floyd"),  # None: the flag without an argument
    "posterize": (3, "3", 5, "5"),
    "smooth": (0.5, "0.5", -1.0, "-1"),
    "perceptual": (0.0, "0", -1.0, "-1"),
    "init": ("k-means++", "k-means++", "random", "random"),
    "max_iter": (2, "2", -1, "-1"),
    "tol": (5.0, "5", -1.0, "-1"),
    "random_state": (3, "3", -1, "-1"),
    "coding": (0, "0", 3, "3"),
    "compress_level": (3, "3", 40, "40"),
    "index_bits": (8, "8", 3, "3"),
}


def test_every_option_but_metadata_has_a_case_and_a_flag() -> None:
    flagged = {o.name for o in options.OPTIONS if o.flag}
    assert flagged == set(CASES)
    assert {o.name for o in options.OPTIONS if not o.flag} == {"icc_profile", "exif"}


def test_the_guide_has_the_option_table_made_from_the_declaration() -> None:
    assert options.markdown_table() in (ROOT / "docs" / "guide.md").read_text()


def test_encode_help_lists_every_flag() -> None:
    text = cli.build_parser()._subparsers._group_actions[0].choices["encode"].format_help()
    for o in options.OPTIONS:
        if o.flag:
            assert o.flag in text


def _api(photo: np.ndarray, **given: object) -> bytes:
    return kmcodec.encode(photo, **given)


def _pillow(photo: np.ndarray, **given: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="KMQ", **given)
    return buf.getvalue()


def _cli(png: Path, out: Path, *flags: str) -> tuple[int, bytes | None]:
    out.unlink(missing_ok=True)
    if not any(f in ("--dither", "--nofs") for f in flags):
        flags = ("--nofs", *flags)  # kmq encode dithers by default; the API does not
    code = cli.main(["encode", str(png), "-o", str(out), "-q", *flags])
    return code, out.read_bytes() if out.exists() else None


@pytest.fixture
def png(tmp_path: Path, photo: np.ndarray) -> Path:
    path = tmp_path / "in.png"
    Image.fromarray(photo).save(path)
    return path


def test_defaults_are_the_same_from_api_pillow_and_cli(photo, png, tmp_path) -> None:
    expected = _api(photo)
    assert _pillow(photo) == expected
    assert _cli(png, tmp_path / "out.kmq", "--nofs") == (0, expected)


def test_kmq_encode_dithers_by_default_as_pngquant(photo, png, tmp_path) -> None:
    out = tmp_path / "out.kmq"
    assert cli.main(["encode", str(png), "-o", str(out), "-q"]) == 0
    assert out.read_bytes() == _api(photo, dither=True)
    assert cli.main(["encode", str(png), "-o", str(out), "--nofs", "--dither", "0.5"]) == 2


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_option_reaches_the_encoder_the_same_way_from_each_entry(
    name, photo, png, tmp_path
) -> None:
    value, text, _, _ = CASES[name]
    given = {name: value}
    if name == "random_state":
        given["init"] = "k-means++"  # the split path draws nothing
    expected = _api(photo, **given)
    assert _pillow(photo, **given) == expected
    flags = [f"--{k.replace('_', '-')}" for k in given]
    args: list[str] = []
    for flag, (key, v) in zip(flags, given.items(), strict=True):
        args.append(flag)
        if key == name and text is not None:
            args.append(text)
        elif key != name:
            args.append(str(v))
    assert _cli(png, tmp_path / "out.kmq", *args) == (0, expected)


@pytest.mark.parametrize(
    "name",
    [n for n in sorted(CASES) if n not in ("random_state",)],
)
def test_each_option_changes_the_file_or_its_quality(name, photo) -> None:
    """The value used in the test above is not a no-op: the option does reach something."""
    value = CASES[name][0]
    # compress_level and index_bits shape coding 0, at a K where several widths can hold K
    common = {"coding": 0, "colors": 16} if name in ("compress_level", "index_bits") else {}
    base = kmcodec.quantize(photo, **common)
    changed = kmcodec.quantize(photo, **{**common, name: value})
    differs = (
        changed.encode() != base.encode()
        or changed.colors != base.colors
        or changed.mse != base.mse
    )
    assert differs, name


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_bad_value_is_refused_by_every_entry(name, photo, png, tmp_path) -> None:
    _, _, bad, bad_text = CASES[name]
    with pytest.raises(kmcodec.OptionError):
        kmcodec.encode(photo, **{name: bad})
    with pytest.raises(ValueError):
        _pillow(photo, **{name: bad})
    with pytest.raises(SystemExit) as exit_info:
        cli.main(
            [
                "encode",
                str(png),
                "-o",
                str(tmp_path / "x.kmq"),
                f"--{name.replace('_', '-')}",
                bad_text,
            ]
        )
    assert exit_info.value.code == 2
    assert not (tmp_path / "x.kmq").exists()


def test_option_error_is_both_value_and_type_error() -> None:
    with pytest.raises(ValueError):
        options.resolve(colors="many")
    with pytest.raises(TypeError):
        options.resolve(colors="many")


def test_unknown_option_is_refused_by_name() -> None:
    with pytest.raises(kmcodec.OptionError, match="colour"):
        options.resolve(colour=4)


def test_quality_and_target_psnr_exclude_each_other(photo, png, tmp_path) -> None:
    with pytest.raises(kmcodec.OptionError, match="not both"):
        kmcodec.encode(photo, quality="50-80", target_psnr=30)
    assert _cli(png, tmp_path / "x.kmq", "--quality", "50-80", "--target-psnr", "30")[0] == 2


def test_resolve_normalises_values() -> None:
    opts = options.resolve(quality="60", dither="bayer", coding=1)
    assert opts.quality == (0, 60)
    assert opts.dither == ("bayer", 1.0)
    assert options.resolve(dither=True).dither == ("floyd-steinberg", 1.0)
    assert options.resolve(dither=0.5).dither == ("floyd-steinberg", 0.5)
    assert options.resolve(dither="atkinson:0.25").dither == ("atkinson", 0.25)
    assert options.resolve(dither=False).dither is None
    assert opts.coding is kmcodec.format.codings.Coding.CONTEXT
    assert opts.preset is kmcodec.SPEEDS[kmcodec.DEFAULT_SPEED]
    assert options.resolve().smooth == kmcodec.DEFAULT_SMOOTH == 0.02


def test_speed_presets_hold_the_quantiser_effort_and_the_zstd_levels() -> None:
    assert sorted(kmcodec.SPEEDS) == list(range(1, 11))
    default = kmcodec.SPEEDS[4]
    assert (default.narrow_level, default.wide_level, default.every_width) == (
        19,
        "fast-optimal",
        False,
    )
    assert default.compress_level(8) == "fast-optimal" and default.compress_level(4) == 19
    # The slow speeds search harder: more swap trials, more exact Lloyd iterations, a second
    # seeding at small K up to the default speed.
    efforts = [kmcodec.SPEEDS[s].effort for s in range(1, 11)]
    for key in (
        lambda e: e.swaps,
        lambda e: e.exact_iterations(16),
        lambda e: e.exact_iterations(256),
        lambda e: e.two_seeds_max,
    ):
        values = [key(e) for e in efforts]
        assert values == sorted(values, reverse=True)
    assert [e.two_seeds_max for e in efforts[3:5]] == [16, 0]
    assert efforts[-1].swaps == efforts[-1].exact_iterations(16) == 0


def test_quantized_encode_takes_file_options_only(photo) -> None:
    q = kmcodec.quantize(photo, 8)
    assert kmcodec.read(q.encode(coding=0)).header.coding == 0
    assert q.encode(coding=0) == kmcodec.encode(photo, 8, coding=0)
    with pytest.raises(kmcodec.OptionError, match="quantize"):
        q.encode(colors=4)
    with pytest.raises(kmcodec.OptionError, match="coding"):
        q.encode(coding=5)


@pytest.mark.parametrize("quantize_options", [{"dither": True}, {"quality": "0-90"}])
def test_file_options_change_after_any_quantise_options(photo, quantize_options) -> None:
    """The quantiser's options, normalised when checked, are not checked again by encode()."""
    q = kmcodec.quantize(photo, 8, **quantize_options)
    assert kmcodec.read(q.encode(coding=0)).header.coding == 0
    assert kmcodec.decode(q.encode(coding=0)).shape == photo.shape


def test_the_typed_structures_name_every_option_and_resolve_fills_the_defaults() -> None:
    import dataclasses
    import typing

    fields = {f.name: f.default for f in dataclasses.fields(options.EncodeOptions)}
    assert list(fields) == [o.name for o in options.OPTIONS]
    # no second set of defaults: resolve() fills in the declaration's
    assert all(default is dataclasses.MISSING for default in fields.values())
    resolved = options.resolve()
    for o in options.OPTIONS:
        assert getattr(resolved, o.name) == o.check(o.default), o.name
    keys = typing.get_type_hints(options.EncodeOptionValues)
    assert set(keys) == {o.name for o in options.OPTIONS} - {"colors"}
