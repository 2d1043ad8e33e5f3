"""Every encode option, declared once, and the speed presets.

Each :class:`Option` says its name, default, allowed values, help text, how it is checked and
how the command line spells it. The API (:func:`kmcodec.encode`, :func:`kmcodec.quantize`,
:func:`kmcodec.encode_indexed`), the Pillow plugin's save options, the ``kmq encode`` flags and
the README's option table are all made from :data:`OPTIONS`, so an option has one name, one
range and one default everywhere (scikit-learn declares its parameter constraints once in the
same spirit). :func:`resolve` checks a set of options and fills in the defaults.

A speed (1-10, as pngquant's) chooses a :class:`SpeedPreset`: how hard the quantiser searches
(an :class:`~kmcodec.quantization.Effort`) and how hard coding 0's zstd works. The quantiser
sees only its effort; the file's settings stay here and in :mod:`kmcodec.codec`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from .errors import OptionError
from .format.codings.zstd_frame import FAST_OPTIMAL, check_level
from .format.layout import Coding
from .quantization import Effort
from .quantization.colorspace import COLOR_SPACES
from .quantization.perceptual import DEFAULT_WEIGHT as DEFAULT_PERCEPTUAL

if TYPE_CHECKING:
    import argparse

__all__ = [
    "DEFAULT_PERCEPTUAL",
    "DEFAULT_SMOOTH",
    "DEFAULT_SPEED",
    "OPTIONS",
    "SCREEN_MARGIN",
    "SPEEDS",
    "EncodeOptionValues",
    "EncodeOptions",
    "Option",
    "SpeedPreset",
    "add_arguments",
    "check",
    "given_arguments",
    "markdown_table",
    "parse_quality",
    "quantizer_arguments",
    "resolve",
    "stage",
    "update",
]


@dataclass(frozen=True)
class SpeedPreset:
    """What one ``speed`` does: the quantiser's effort and coding 0's zstd work.

    Attributes
    ----------
    effort : kmcodec.quantization.Effort
        How hard the palette search works.
    narrow_level : int
        zstd level for index planes of 1, 2 or 4 bits per index, unless ``compress_level`` is
        given. They are half the bytes of an 8-bit plane or less, so a high level is affordable.
    wide_level : int or str
        zstd level (or preset) for 8-bit index planes, unless ``compress_level`` is given.
    every_width : bool
        Compress every index width coding 0 can use at the final level and keep the smallest;
        otherwise rank the widths at a cheap level first (see
        :func:`kmcodec.format.codings.rows.encode`).
    screen_level : int or None
        When both codings are tried and no ``compress_level`` is given: code coding 0 at this
        cheap level first, and at its final level only if that comes within
        :data:`SCREEN_MARGIN` of coding 2's size (None: always at the final level).
        Coding 2 is the smaller in nearly every photo, so coding 0's slow final pass is spent
        only where it can matter.
    """

    effort: Effort
    narrow_level: int
    wide_level: int | str
    every_width: bool
    screen_level: int | None = None

    def compress_level(self, index_bits: int) -> int | str:
        """The zstd level for an index plane of ``index_bits`` bits per index."""
        return self.wide_level if index_bits == 8 else self.narrow_level


#: Presets per speed, 1 (slowest, best) to 10 (fastest). Both codings are tried at every speed
#: and the smaller file kept; from speed 4 coding 0 is screened at level 9 first (see
#: :class:`SpeedPreset` and docs/design/codings.md).
SPEEDS: dict[int, SpeedPreset] = {
    1: SpeedPreset(Effort(7, 7, 8, 60, 16, 16), 19, 19, True),
    2: SpeedPreset(Effort(6, 7, 4, 50, 12, 16), 19, 19, True),
    3: SpeedPreset(Effort(6, 6, 0, 40, 8, 16), 19, 17, True),
    4: SpeedPreset(Effort(6, 6, 0, 30, 5, 16), 19, FAST_OPTIMAL, False, 9),
    5: SpeedPreset(Effort(6, 6, 0, 5, 4), 17, FAST_OPTIMAL, False, 9),
    6: SpeedPreset(Effort(5, 6, 4, 2, 3), 16, 12, False, 9),
    7: SpeedPreset(Effort(5, 5, 4, 0, 2), 12, 9, False),
    8: SpeedPreset(Effort(5, 5, 3, 0, 1), 9, 6, False),
    9: SpeedPreset(Effort(4, 5, 3, 0, 1), 6, 3, False),
    10: SpeedPreset(Effort(4, 5, 2, 0, 0), 3, 1, False),
}
#: A screened coding 0 (see :attr:`SpeedPreset.screen_level`) is finished at its final level
#: only if its screening size is below this many times coding 2's. On the corpus a final
#: level beat the screening level by at most 1.2x wherever coding 0 came near the other coding.
SCREEN_MARGIN = 1.25
#: Default speed, as pngquant's.
DEFAULT_SPEED = 4
#: Default PSNR budget of the index-plane smoothing, in dB: a loss no viewer or SSIM notices, for
#: files 2-18% smaller (more at small K), see :mod:`kmcodec.quantization.remap`.
DEFAULT_SMOOTH = 0.02


# --- checks: each takes the value given and returns it normalised, or raises OptionError ---


def _integer(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        msg = f"{name} must be an integer from {low} to {high}, got {value!r}"
        raise OptionError(msg)
    if not low <= value <= high:
        msg = f"{name} must be {low} to {high}, got {value}"
        raise OptionError(msg)
    return int(value)


def _number(name: str, value: object, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        msg = f"{name} must be a number, got {value!r}"
        raise OptionError(msg)
    if not (low <= value <= high):  # also refuses NaN
        bound = f">= {low}" if high == math.inf else f"{low} to {high}"
        msg = f"{name} must be {bound}, got {value!r}"
        raise OptionError(msg)
    return float(value)


def _choice(name: str, value: object, choices: tuple[Any, ...]) -> Any:
    if isinstance(value, bool) or value not in choices:
        shown = ", ".join(str(int(c)) if isinstance(c, int) else repr(c) for c in choices)
        msg = f"{name} must be one of {shown}, got {value!r}"
        raise OptionError(msg)
    return value


def parse_quality(quality: object) -> tuple[int, int]:
    """Read a quality option as pngquant does: ``"min-max"``, ``"max"``, an int or a pair.

    Returns
    -------
    (minimum, target) : tuple of int, each 0 to 100, minimum <= target

    Raises
    ------
    OptionError
    """
    low: object
    high: object
    if isinstance(quality, str):
        m = re.fullmatch(r"\s*(\d{1,3})?\s*(?:-\s*(\d{1,3}))?\s*", quality)
        if not m or (m.group(1) is None and m.group(2) is None):
            msg = f"quality must look like 'min-max', 'max' or '-max' (0-100), got {quality!r}"
            raise OptionError(msg)
        if m.group(2) is None:
            low, high = 0, int(m.group(1))
        else:
            low, high = int(m.group(1) or 0), int(m.group(2))
    elif isinstance(quality, (tuple, list)) and len(quality) == 2:
        low, high = quality
    else:
        low, high = 0, quality  # checked just below
    minimum = _integer("minimum quality", low, 0, 100)
    target = _integer("quality", high, 0, 100)
    if minimum > target:
        msg = f"minimum quality {minimum} is above the target {target}"
        raise OptionError(msg)
    return minimum, target


#: Error-diffusion kernels and the ordered dither, by the names ``dither`` takes.
DITHER_KERNELS = ("floyd-steinberg", "sierra-lite", "atkinson", "bayer")
_DITHER_ALIASES = {"fs": "floyd-steinberg", "ordered": "bayer"}


def _dither(value: object) -> tuple[str, float] | None:
    """``dither`` as (kernel, strength), or None for no dithering."""
    if value is None or value is False or value == 0:
        return None
    if value is True:
        return ("floyd-steinberg", 1.0)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1:
        return ("floyd-steinberg", float(value))
    if isinstance(value, str):
        name, _, strength = value.partition(":")
        name = _DITHER_ALIASES.get(name, name)
        try:
            level = float(strength) if strength else 1.0
        except ValueError:
            level = -1.0
        if name in DITHER_KERNELS and 0 <= level <= 1:
            return (name, level) if level > 0 else None
    msg = (
        f"dither must be False, True, a strength from 0 to 1, or a kernel name"
        f" ({', '.join(DITHER_KERNELS)}, optionally ':strength'), got {value!r}"
    )
    raise OptionError(msg)


def _compress_level(value: object) -> int | str:
    try:
        return check_level(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise OptionError(str(exc)) from None


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _metadata(name: str) -> Callable[[Any], Any]:
    def check(value: object) -> bytes | None:
        if value is None or value == b"":
            return None
        if hasattr(value, "tobytes") and not isinstance(value, (bytes, bytearray, memoryview)):
            value = value.tobytes()  # a PIL.Image.Exif
        if not isinstance(value, (bytes, bytearray, memoryview)):
            msg = f"{name} must be bytes, got {type(value).__name__}"
            raise OptionError(msg)
        return bytes(value)

    return check


# --- command-line text to values ---


def _int_text(text: str) -> int | None:
    return None if text.lower() in ("auto", "none") else int(text)


def _float_text(text: str) -> float:
    return float(text)


def _dither_text(text: str) -> object:
    word = text.strip().lower()
    if word in ("off", "none", "no", "false"):
        return False
    if word in ("on", "yes", "true"):
        return True
    try:
        return float(text)
    except ValueError:
        return text


def _level_text(text: str) -> int | str | None:
    if text.lower() in ("auto", "none"):
        return None
    return text if text == FAST_OPTIMAL else int(text)


def _coding_text(text: str) -> int | None:
    return None if text == "auto" else int(text)


@dataclass(frozen=True)
class Option:
    """One encode option.

    Attributes
    ----------
    name : str
        Its name in the API and as a Pillow save option; the flag is ``--`` + name with ``-``.
    default : object
    values : str
        The allowed values, as the README and ``--help`` show them.
    help : str
        What it does, one or two sentences.
    check : callable
        ``check(value)`` returns the value normalised, or raises :class:`OptionError`.
    stage : {"quantize", "file", "metadata"}
        Which stage uses it: the quantiser, the coding of the file, or the file's metadata
        chunks (taken from the input image on the command line, so no flag).
    from_text : callable or None
        Turns the flag's text into a value (None: the text as it is).
    metavar : str or None
    flag_const : object
        The value of the flag given without an argument (only ``--dither``).
    cli_help, cli_values, cli_default : str or None
        ``help``, ``values`` and the default as ``kmq encode --help`` shows them, where the
        command line differs from the API (flags, exit codes and ``auto`` instead of Python
        names, ``None`` and exceptions); None: the same text.
    """

    name: str
    default: Any
    values: str
    help: str
    check: Callable[[Any], Any]
    stage: str = "quantize"
    from_text: Callable[[str], Any] | None = None
    metavar: str | None = None
    flag_const: Any = field(default=None)
    cli_help: str | None = None
    cli_values: str | None = None
    cli_default: str | None = None

    @property
    def flag(self) -> str | None:
        """The ``kmq encode`` flag, or None for the metadata options."""
        return None if self.stage == "metadata" else "--" + self.name.replace("_", "-")


#: Every encode option, in the order the README and ``kmq encode --help`` list them.
OPTIONS: tuple[Option, ...] = (
    Option(
        "colors",
        256,
        "1-256",
        "Largest palette size. An image with at most this many distinct colours is stored"
        " losslessly.",
        lambda v: _integer("colors", v, 1, 256),
        from_text=int,
        metavar="N",
    ),
    Option(
        "speed",
        DEFAULT_SPEED,
        "1-10",
        "1 (slowest, best) to 10 (fastest), as in pngquant: how hard the palette search and"
        " coding 0's zstd work (see kmcodec.SPEEDS).",
        lambda v: _integer("speed", v, 1, 10),
        from_text=int,
        metavar="N",
        cli_help="1 (slowest, best) to 10 (fastest), as in pngquant: how hard the palette search"
        " and coding 0's zstd work. kmq encode also takes pngquant's 11: speed 10 without"
        " dithering.",
    ),
    Option(
        "quality",
        None,
        "'min-max', 'max', 0-100 or a pair",
        "pngquant's quality: use the fewest colours (up to colors) that reach max on pngquant's"
        " scale; fail with QualityError (kmq: exit 99) if colors colours stay below min.",
        _optional(parse_quality),
        metavar="MIN-MAX",
        cli_help="As pngquant's --quality: use the fewest colours (up to --colors) that reach MAX"
        " on pngquant's 0-100 scale; if --colors colours stay below MIN, write nothing and exit"
        " 99.",
        cli_values="MIN-MAX or MAX, each 0-100",
        cli_default="off",
    ),
    Option(
        "target_psnr",
        None,
        "dB > 0",
        "Use the fewest colours (up to colors) whose PSNR reaches this; QualityError if colors"
        " colours do not. Not with quality.",
        _optional(lambda v: _number("target_psnr", v, 1e-9)),
        from_text=_float_text,
        metavar="DB",
        cli_help="Use the fewest colours (up to --colors) whose PSNR reaches DB; if --colors"
        " colours do not, write nothing and exit 99. Not with --quality.",
        cli_values="dB > 0",
        cli_default="off",
    ),
    Option(
        "color_space",
        "rgb",
        "rgb, oklab",
        "Space k-means runs in and 'nearest' is measured in: rgb minimises squared sRGB error"
        " (PSNR), oklab follows perceived colour differences.",
        lambda v: _choice("color_space", v, COLOR_SPACES),
    ),
    Option(
        "dither",
        False,
        "False, True, 0-1, or floyd-steinberg / sierra-lite / atkinson / bayer[:strength]",
        "Dithering: True or a strength (0-1) is Floyd-Steinberg error diffusion with a dither"
        " map (less at edges, none in flat fills) and an error clamp; or name a kernel, or"
        " bayer for the ordered 8x8 dither. Turns smoothing off. kmq encode dithers by default"
        " (Floyd-Steinberg, as pngquant; --nofs turns it off).",
        _dither,
        from_text=_dither_text,
        metavar="STRENGTH|KERNEL",
        flag_const=True,
        cli_help="Dithering. kmq encode dithers by default, as pngquant: Floyd-Steinberg error"
        " diffusion with a dither map (less at edges, none in flat fills) and an error clamp."
        " --dither STRENGTH (0-1) sets its strength, --dither KERNEL another kernel (bayer is"
        " the ordered 8x8 dither); --dither off or --nofs turns it off. Dithering turns"
        " --smooth off.",
        cli_values="off, 0-1, floyd-steinberg, sierra-lite, atkinson, bayer[:STRENGTH]",
        cli_default="floyd-steinberg at strength 1",
    ),
    Option(
        "posterize",
        0,
        "0-4",
        "Drop this many low bits of each channel of the palette (the high bits repeated into"
        " them), as pngquant's --posterize, for displays of fewer bits a channel (4: RGBA4444,"
        " 3 with RGB565-like output); 0 keeps full precision.",
        lambda v: _integer("posterize", v, 0, 4),
        from_text=int,
        metavar="BITS",
    ),
    Option(
        "smooth",
        DEFAULT_SMOOTH,
        "dB >= 0",
        "Largest PSNR loss to spend on making the index plane cheaper to code; 0 leaves every"
        " pixel the entry it was given (its nearest, or with perceptual the cheaper for the"
        " eye).",
        lambda v: _number("smooth", v, 0.0),
        from_text=_float_text,
        metavar="DB",
        cli_help="Largest PSNR loss to spend on making the index plane cheaper to code; 0 leaves"
        " every pixel the entry it was given (its nearest, or with --perceptual the cheaper for"
        " the eye).",
    ),
    Option(
        "perceptual",
        DEFAULT_PERCEPTUAL,
        ">= 0",
        "Weight of the eye's colour difference (Oklab distance) against the squared sRGB error"
        " in the palette's last step and in each pixel's choice of entry (with color_space"
        " rgb; with error diffusion, in the palette only); 0 gives the least squared error"
        " (highest PSNR). See kmcodec.quantization.perceptual for what it trades.",
        lambda v: _number("perceptual", v, 0.0, 1000.0),
        from_text=_float_text,
        metavar="W",
        cli_help="Weight of the eye's colour difference (Oklab distance) against the squared"
        " sRGB error, in the palette's last step and in each pixel's choice of entry (with"
        " --color-space rgb; when dithering, in the palette only); 0 gives the least squared"
        " error (highest PSNR).",
    ),
    Option(
        "init",
        "split",
        "split, k-means++",
        "Palette search: split (variance-split seeding, Lloyd, swaps) or k-means++ (the"
        " version-1 quantiser, greedy weighted k-means++ then Lloyd, kept for comparison).",
        lambda v: _choice("init", v, ("split", "k-means++")),
    ),
    Option(
        "max_iter",
        None,
        "None or >= 0",
        "Lloyd iterations on the exact colours (None: set by speed; 100 for k-means++).",
        _optional(lambda v: _integer("max_iter", v, 0, 10_000)),
        from_text=_int_text,
        metavar="N",
        cli_help="Lloyd iterations on the exact colours.",
        cli_values="auto or >= 0",
        cli_default="auto (set by --speed; 100 with --init k-means++)",
    ),
    Option(
        "tol",
        0.1,
        ">= 0",
        "Lloyd stops once no centre moves more than this (0-255 colour units).",
        lambda v: _number("tol", v, 0.0),
        from_text=_float_text,
        metavar="X",
    ),
    Option(
        "random_state",
        0,
        "int or None",
        "Seed of the k-means++ draws (the split path draws nothing); None draws a new seed.",
        _optional(lambda v: _integer("random_state", v, 0, 2**32 - 1)),
        from_text=_int_text,
        metavar="SEED",
        cli_help="Seed of the k-means++ draws (--init split draws nothing); none draws a new seed"
        " each run.",
        cli_values="an integer or none",
    ),
    Option(
        "coding",
        None,
        "None/auto, 0, 1, 2",
        "Index coding: 2 a static context model and rANS, near coding 1's size and as fast to"
        " open as WebP lossless; 1 an adaptive context model, the smallest file and the slowest"
        " to open; 0 packed rows compressed with zstd. None (kmq: auto) codes 2 and 0 and keeps"
        f" the smaller (from speed 4, coding 0 at zstd level {SPEEDS[DEFAULT_SPEED].screen_level}"
        f" first, and at its final level only where that comes within {SCREEN_MARGIN}x of"
        " coding 2): a file that opens fast.",
        _optional(lambda v: Coding(_choice("coding", v, tuple(Coding)))),
        stage="file",
        from_text=_coding_text,
        metavar="auto|0|1|2",
        cli_help="Index coding: 2 a static context model and rANS, near coding 1's size and as"
        " fast to open as WebP lossless; 1 an adaptive context model, the smallest file and the"
        " slowest to open; 0 packed rows compressed with zstd. auto codes 2 and 0 and keeps the"
        " smaller: a file that opens fast.",
        cli_values="auto, 0, 1, 2",
    ),
    Option(
        "compress_level",
        None,
        "None, 1-22",
        "zstd level for coding 0 (None: set by speed).",
        _optional(_compress_level),
        stage="file",
        from_text=_level_text,
        metavar="N",
        cli_help="zstd level for coding 0.",
        cli_values="auto, 1-22",
        cli_default="auto (set by --speed)",
    ),
    Option(
        "index_bits",
        None,
        "None, 1, 2, 4, 8",
        "Bits per stored index in coding 0 (None: every width that holds K is tried and the"
        " smallest file kept).",
        _optional(lambda v: _choice("index_bits", v, (1, 2, 4, 8))),
        stage="file",
        from_text=_int_text,
        metavar="BITS",
        cli_help="Bits per stored index in coding 0; auto tries every width that holds the"
        " palette and keeps the smallest file.",
        cli_values="auto, 1, 2, 4, 8",
        cli_default="auto",
    ),
    Option(
        "icc_profile",
        None,
        "bytes",
        "ICC profile to store (default: the PIL image's info['icc_profile']).",
        _metadata("icc_profile"),
        stage="metadata",
    ),
    Option(
        "exif",
        None,
        "bytes or PIL.Image.Exif",
        "EXIF data to store (default: the PIL image's info['exif']).",
        _metadata("exif"),
        stage="metadata",
    ),
)
_BY_NAME = {o.name: o for o in OPTIONS}


class EncodeOptionValues(TypedDict, total=False):
    """The encode options as keyword arguments, each optional, with the types they take (the
    table of :data:`OPTIONS` says their values and defaults): ``kmcodec.encode(image, colors,
    **options)``, :func:`kmcodec.quantize`, :func:`kmcodec.save`, Pillow's ``im.save``.
    ``colors`` is not here: those functions take it as their second argument."""

    speed: int
    quality: str | int | tuple[int, int] | None
    target_psnr: float | None
    color_space: str
    dither: bool | float | str
    posterize: int
    smooth: float
    perceptual: float
    init: str
    max_iter: int | None
    tol: float
    random_state: int | None
    coding: int | None
    compress_level: int | None
    index_bits: int | None
    icc_profile: bytes | None
    exif: bytes | Any | None  # bytes or a PIL.Image.Exif


@dataclass(frozen=True)
class EncodeOptions:
    """A checked, complete set of encode options (:func:`resolve` makes one): every option of
    :data:`OPTIONS` normalised, ``quality`` as a (minimum, target) pair, ``dither`` as a
    (kernel, strength) pair or None, ``coding`` as a :class:`~kmcodec.format.layout.Coding` or
    None (the encoder chooses), the metadata as bytes or None. The defaults are
    :data:`OPTIONS`'s, filled in by :func:`resolve`, not repeated here."""

    colors: int
    speed: int
    quality: tuple[int, int] | None
    target_psnr: float | None
    color_space: str
    dither: tuple[str, float] | None
    posterize: int
    smooth: float
    perceptual: float
    init: str
    max_iter: int | None
    tol: float
    random_state: int | None
    coding: Coding | None
    compress_level: int | None
    index_bits: int | None
    icc_profile: bytes | None
    exif: bytes | None

    @property
    def preset(self) -> SpeedPreset:
        """The :class:`SpeedPreset` of ``speed``."""
        return SPEEDS[self.speed]


#: Names other libraries (and English) give our options; :func:`near_miss` also catches typos.
_ALIASES = {
    "colours": "colors",
    "colour": "colors",
    "color": "colors",
    "ncolors": "colors",
    "ncolours": "colors",
    "n_colors": "colors",
    "n_colours": "colors",
    "num_colors": "colors",
    "max_colors": "colors",
    "palette_size": "colors",
    "colorspace": "color_space",
    "colourspace": "color_space",
    "colour_space": "color_space",
    "psnr": "target_psnr",
    "dithering": "dither",
    "compression_level": "compress_level",
    "compresslevel": "compress_level",
    "icc": "icc_profile",
    "seed": "random_state",
    "iterations": "max_iter",
}


def near_miss(name: str) -> str | None:
    """The option ``name`` was probably meant as (``colours`` -> ``colors``, ``speed_`` ->
    ``speed``, ``target_PSNR`` -> ``target_psnr``), or None if it is no near miss of ours."""
    import difflib

    if name in _BY_NAME:
        return None
    plain = name.strip("_- ").lower().replace("-", "_")
    if plain in _BY_NAME:
        return plain
    if plain in _ALIASES:
        return _ALIASES[plain]
    close = difflib.get_close_matches(plain, list(_BY_NAME), n=1, cutoff=0.8)
    return close[0] if close else None


def resolve(**given: Any) -> EncodeOptions:
    """Check encode options and fill in the defaults of those not given.

    Parameters
    ----------
    **given
        Any of :data:`OPTIONS` by name.

    Returns
    -------
    EncodeOptions
        Normalised: ``quality`` as a (minimum, target) pair, ``dither`` as a strength,
        ``coding`` as a :class:`~kmcodec.format.codings.Coding`.

    Raises
    ------
    OptionError
        An unknown name, a value out of range or of the wrong type, or ``quality`` and
        ``target_psnr`` together.
    """
    unknown = sorted(set(given) - set(_BY_NAME))
    if unknown:
        meant = near_miss(unknown[0])
        hint = f"did you mean {meant!r}? " if meant else ""
        msg = f"unknown option {unknown[0]!r}; {hint}the options are {', '.join(_BY_NAME)}"
        raise OptionError(msg)
    values = {name: _BY_NAME[name].check(value) for name, value in given.items()}
    if values.get("quality") is not None and values.get("target_psnr") is not None:
        msg = "give quality or target_psnr, not both"
        raise OptionError(msg)
    defaults = {o.name: o.check(o.default) for o in OPTIONS if o.name not in values}
    return EncodeOptions(**defaults, **values)


def check(name: str, value: Any) -> Any:
    """Check one option's value; return it normalised (see :func:`resolve`)."""
    stage(name)
    return _BY_NAME[name].check(value)


def stage(name: str) -> str:
    """The stage (``quantize``, ``file`` or ``metadata``) of the option called ``name``."""
    if name not in _BY_NAME:
        msg = f"unknown option {name!r}; the options are {', '.join(_BY_NAME)}"
        raise OptionError(msg)
    return _BY_NAME[name].stage


def update(options: EncodeOptions, **given: Any) -> EncodeOptions:
    """``options`` (an :class:`EncodeOptions`) with the ``given`` options checked and changed.

    Only the given values are checked: the others are already normalised (a ``dither`` of
    ``("floyd-steinberg", 1.0)`` is not a value a caller gives).
    """
    import dataclasses

    return dataclasses.replace(options, **{name: check(name, v) for name, v in given.items()})


def quantizer_arguments(options: EncodeOptions) -> dict[str, Any]:
    """What :func:`kmcodec.quantization.quantize` takes from ``options`` (an
    :class:`EncodeOptions`): every quantise-stage option by name, with ``speed`` turned into its
    preset's ``effort``, and without ``colors`` (passed on its own)."""
    given = {o.name: getattr(options, o.name) for o in OPTIONS if o.stage == "quantize"}
    del given["colors"], given["speed"]
    return {"effort": SPEEDS[options.speed].effort, **given}


def add_arguments(
    parser: argparse.ArgumentParser,
    names: tuple[str, ...] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Add a flag for every option (or those in ``names``) but the metadata ones to a parser.

    Flags not given are absent from the parsed namespace, so :func:`resolve` fills in the
    defaults declared here. ``extra`` maps an option's name to one more value its flag takes
    (``kmq encode --speed 11``, pngquant's), which the command turns into options itself.
    """
    import argparse

    extra = extra or {}

    for option in OPTIONS:
        if option.flag is None or (names is not None and option.name not in names):
            continue

        def parse(text: str, option: Option = option) -> Any:
            try:
                value = option.from_text(text) if option.from_text else text
                if option.name in extra and value == extra[option.name]:
                    return value
                option.check(value)
            except (ValueError, TypeError) as exc:
                if option.name == "quality":  # its own message says which part is wrong
                    raise argparse.ArgumentTypeError(str(exc)) from None
                values = option.cli_values or option.values
                msg = f"expected {values}, got {text!r}"
                raise argparse.ArgumentTypeError(msg) from None
            return value

        kwargs: dict[str, Any] = dict(
            dest=option.name,
            type=parse,
            default=argparse.SUPPRESS,
            help=f"{option.cli_help or option.help} Values: {option.cli_values or option.values};"
            f" default {option.cli_default or _cli_shown(option)}.",
        )
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.flag_const is not None:
            kwargs.update(nargs="?", const=option.flag_const)
        parser.add_argument(option.flag, **kwargs)


def given_arguments(
    namespace: argparse.Namespace, names: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The options (or those in ``names``) given on the command line, for :func:`resolve`."""
    return {
        o.name: getattr(namespace, o.name)
        for o in OPTIONS
        if hasattr(namespace, o.name) and (names is None or o.name in names)
    }


def _cli_shown(option: Option) -> str:
    if option.name == "coding":
        return "auto"
    return str(option.default)


def _shown(option: Option) -> str:
    if option.name == "coding":
        return "auto"
    return repr(option.default) if isinstance(option.default, str) else str(option.default)


def markdown_table() -> str:
    """The README's table of options (``tests/test_options.py`` checks the README has it)."""
    lines = [
        "| option (API, Pillow) | `kmq encode` flag | values | default | what it does |",
        "|---|---|---|---|---|",
    ]
    for o in OPTIONS:
        flag = f"`{o.flag}`" if o.flag else "(from the input file)"
        lines.append(f"| `{o.name}` | {flag} | {o.values} | `{_shown(o)}` | {o.help} |")
    return "\n".join(lines) + "\n"


def numpydoc() -> str:
    """The options as a numpydoc parameter list, appended to the API's docstrings."""
    out = []
    for o in OPTIONS:
        out.append(f"    {o.name} : {o.values}, default={_shown(o)}\n        {o.help}\n")
    return "".join(out)
