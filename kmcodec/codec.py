"""The whole way from pixels to a ``.kmq`` file and back, and nothing else.

    pixels --quantization--> palette + indices --format.codings--> index stream
           --format.layout--> file bytes

and the same way back. The encode options are checked once, by :mod:`kmcodec.options`; the
quantiser (:mod:`kmcodec.quantization`) gets only what it needs and knows nothing of files; the
result of :func:`quantize` knows how to :meth:`~Quantized.encode` itself, which is what every
caller (the CLI, ``kmq compare``, the demo, the Pillow plugin) uses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import options as _options
from ._text import plural
from .errors import LimitError, OptionError
from .files import write_atomic
from .format import codings
from .format.layout import (
    CHUNK_EXIF,
    CHUNK_ICC,
    FLAG_ALPHA,
    MAX_PIXELS,
    Coding,
    Header,
    build_file,
    check_size,
    exif_to_chunk,
    index_bits_allowed,
    split_file,
)
from .options import EncodeOptionValues
from .quantization import PaletteImage
from .quantization import quantize as _quantize

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "PILLOW_LIMIT",
    "KmqImage",
    "Quantized",
    "check_pixels",
    "decode",
    "decode_indexed",
    "encode",
    "encode_indexed",
    "load",
    "quantize",
    "read",
    "save",
]


@dataclass
class KmqImage:
    """A decoded ``.kmq`` file.

    Attributes
    ----------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
    indices : ndarray of uint8, shape (height, width)
    header : kmcodec.format.layout.Header
    icc_profile : bytes or None
    exif : bytes or None
        The EXIF data (a TIFF structure, without the ``Exif\\0\\0`` prefix).
    chunks : dict of bytes to bytes
        Every metadata chunk, known or not, by type.
    """

    palette: np.ndarray
    indices: np.ndarray
    header: Header
    icc_profile: bytes | None = None
    exif: bytes | None = None
    chunks: dict[bytes, bytes] = field(default_factory=dict)

    def image(self) -> np.ndarray:
        """Return the pixels as a (height, width, 3 or 4) uint8 array."""
        return self.palette[self.indices]

    def __repr__(self) -> str:
        # one line: the arrays would fill a screen
        h = self.header
        extra = "".join(
            f", {name}" for name, value in (("ICC", self.icc_profile), ("EXIF", self.exif)) if value
        )
        return (
            f"KmqImage({h.width}x{h.height}, {plural(h.colors, 'colour')}"
            f" ({'RGBA' if h.has_alpha else 'RGB'}), coding {int(h.coding)}{extra})"
        )


@dataclass(repr=False)  # PaletteImage's one-line repr
class Quantized(PaletteImage):
    """An image quantised by :func:`quantize`, with the options to encode it.

    Attributes
    ----------
    palette, indices, mse, lossless, distinct_colors, pngquant_mse
        See :class:`kmcodec.quantization.PaletteImage`.
    options : EncodeOptions
        The checked options it was made with; :meth:`encode` uses their file options.
    """

    options: Any = None

    @property
    def speed(self) -> int:
        """The speed it was made at; its preset sets the default zstd level."""
        return int(self.options.speed)

    def encode(self, **file_options: Unpack[EncodeOptionValues]) -> bytes:
        """The ``.kmq`` file of this palette and index plane.

        ``file_options`` (``coding``, ``compress_level``, ``index_bits``, ``icc_profile``,
        ``exif``) change those it was quantised with, e.g. ``q.encode(coding=0)``.
        """
        quantizer = [n for n in file_options if _options.stage(n) == "quantize"]
        if quantizer:
            msg = f"{quantizer[0]} shapes the quantisation; pass it to quantize(), not encode()"
            raise OptionError(msg)
        opts = _options.update(self.options, **file_options) if file_options else self.options
        return _encode_file(self.palette, self.indices, opts)

    def save(
        self, path: str | os.PathLike[str], **file_options: Unpack[EncodeOptionValues]
    ) -> None:
        """Write :meth:`encode`'s file to ``path`` atomically."""
        write_atomic(path, self.encode(**file_options))


def quantize(image: object, colors: int = 256, **options: Unpack[EncodeOptionValues]) -> Quantized:
    """Reduce an image to at most ``colors`` colours with k-means.

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        A PIL image, or a uint8 array of shape (H, W, 3), (H, W, 4) or (H, W).
    colors : int, default=256
        Largest palette size, 1 to 256.
    **options
        Any encode option (below); the file options are kept for :meth:`Quantized.encode`.
        ``icc_profile`` and ``exif`` default to a PIL image's own.

    Returns
    -------
    Quantized

    Raises
    ------
    OptionError
        An option out of range or of the wrong type (a ``ValueError`` and a ``TypeError``).
    QualityError
        ``quality``'s minimum or ``target_psnr`` cannot be reached with ``colors`` colours.

    Notes
    -----
    Fully transparent pixels (alpha 0) all map to one palette entry (0, 0, 0, 0): their RGB is
    not kept. An alpha channel that is 255 everywhere is dropped.

    Options
    -------
    """
    opts = _options.resolve(colors=colors, **options_with_metadata(image, options))
    result = _quantize(
        image, opts.colors, **_options.quantizer_arguments(opts), max_pixels=MAX_PIXELS
    )
    return Quantized(**vars(result), options=opts)


def options_with_metadata(image: object, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with the ICC profile and EXIF of a PIL image's ``info`` where the options do
    not give them (an option that is not None wins)."""
    info = getattr(image, "info", None) or {}
    found = {k: info[k] for k in ("icc_profile", "exif") if options.get(k) is None and info.get(k)}
    return {**options, **found}


def encode(image: object, colors: int = 256, **options: Unpack[EncodeOptionValues]) -> bytes:
    """Quantise an image to at most ``colors`` colours and encode it as a ``.kmq`` file.

    The same as ``quantize(image, colors, **options).encode()``.

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        A PIL image, or a uint8 array of shape (H, W, 3), (H, W, 4) or (H, W).
    colors : int, default=256
        Largest palette size, 1 to 256. An image with at most this many distinct colours is
        stored losslessly.
    **options
        Any encode option (below).

    Returns
    -------
    bytes

    Raises
    ------
    OptionError
        An option out of range or of the wrong type.
    QualityError
        The quality asked for cannot be reached.

    Options
    -------
    """
    return quantize(image, colors, **options).encode()


def encode_indexed(
    palette: np.ndarray, indices: np.ndarray, **options: Unpack[EncodeOptionValues]
) -> bytes:
    """Encode a palette and an index plane as a ``.kmq`` file, losslessly.

    Parameters
    ----------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
        1 to 256 RGB or RGBA entries.
    indices : ndarray of uint8, shape (height, width)
        Every value below K.
    **options
        The file options (``coding``, ``compress_level``, ``index_bits``, ``speed`` for the
        default zstd level, ``icc_profile``, ``exif``); the quantiser's are checked and unused.

    Returns
    -------
    bytes
    """
    pal, idx = _check_indexed(palette, indices)
    return _encode_file(pal, idx, _options.resolve(**options))


def _check_indexed(palette: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pal = np.asarray(palette)
    idx = np.asarray(indices)
    if pal.dtype != np.uint8 or idx.dtype != np.uint8:
        msg = f"palette and indices must be uint8, got {pal.dtype} and {idx.dtype}"
        raise TypeError(msg)
    if pal.ndim != 2 or pal.shape[1] not in (3, 4) or not 1 <= len(pal) <= 256:
        msg = f"palette must have shape (K, 3) or (K, 4) with 1 <= K <= 256, got {pal.shape}"
        raise ValueError(msg)
    if idx.ndim != 2:
        msg = f"indices must have shape (height, width), got {idx.shape}"
        raise ValueError(msg)
    check_size(idx.shape[1], idx.shape[0])
    if int(idx.max()) >= len(pal):
        msg = f"index {int(idx.max())} is out of range for a palette of {len(pal)} colours"
        raise ValueError(msg)
    return np.ascontiguousarray(pal), np.ascontiguousarray(idx)


def code_plane(idx: np.ndarray, colors: int, opts: Any) -> tuple[Coding, bytes, int]:
    """Code an index plane with the coding(s) the options ask for; keep the smallest stream.

    Returns the coding, the stream and its ``index_bits``: the still image's encoder and each
    layer of an animation (:mod:`kmcodec.animation`) code their planes through this one rule.
    """
    allowed = index_bits_allowed(colors)
    if opts.index_bits is not None and opts.index_bits not in allowed:
        msg = f"index_bits={opts.index_bits!r} cannot code {colors} colours; use one of {allowed}"
        raise OptionError(msg)
    preset = opts.preset

    def level_for(bits: int) -> int | str:
        return preset.compress_level(bits) if opts.compress_level is None else opts.compress_level

    def code(coding: Coding, level_for: Callable[[int], int | str]) -> tuple[Coding, bytes, int]:
        if coding != Coding.ROWS:
            stream, narrowest = codings.encode(idx, colors, coding)
            return coding, stream, opts.index_bits or narrowest
        return coding, *codings.encode(
            idx,
            colors,
            coding,
            index_bits=opts.index_bits,
            level_for=level_for,
            every_width=preset.every_width,
        )

    if opts.coding is not None:
        return code(opts.coding, level_for)
    # The default: coding 2, or coding 0 where zstd's matches make it smaller (repeated
    # tiles, long flat areas); both open fast.
    streams = [code(Coding.FAST, level_for)]
    screen = preset.screen_level
    if screen is not None and opts.compress_level is None:
        # Coding 0 at a cheap level first; its final level only where it could win.
        streams.append(code(Coding.ROWS, lambda bits: screen))
        if len(streams[-1][1]) < _options.SCREEN_MARGIN * len(streams[0][1]):
            streams.append(code(Coding.ROWS, level_for))
    else:
        streams.append(code(Coding.ROWS, level_for))
    return min(streams, key=lambda s: len(s[1]))  # ties: the first


def _encode_file(pal: np.ndarray, idx: np.ndarray, opts: Any) -> bytes:
    """Code the plane with the coding(s) the options ask for and frame the smallest stream."""
    colors = len(pal)
    coding, stream, index_bits = code_plane(idx, colors, opts)
    header = Header(
        width=idx.shape[1],
        height=idx.shape[0],
        colors=colors,
        index_bits=index_bits,
        flags=FLAG_ALPHA if pal.shape[1] == 4 else 0,
        coding=coding,
    )
    chunks: dict[bytes, bytes] = {}
    if opts.icc_profile:
        chunks[CHUNK_ICC] = opts.icc_profile
    if opts.exif:
        chunks[CHUNK_EXIF] = exif_to_chunk(opts.exif)
    return build_file(header, pal.tobytes(), chunks, stream)


#: ``max_pixels`` default: Pillow's rule, read from ``PIL.Image.MAX_IMAGE_PIXELS`` at each call.
PILLOW_LIMIT = "pillow"


def check_pixels(
    h: Header, max_pixels: int | str | None = PILLOW_LIMIT, *, frames: int = 1
) -> None:
    """Refuse an image with more pixels than ``max_pixels`` before anything is decoded; an
    animation's pixels are its canvas times its ``frames``.

    Parameters
    ----------
    h : Header
    max_pixels : int, "pillow" or None, default="pillow"
        An int: raise above it. "pillow": Pillow's decompression-bomb rule with its current
        ``Image.MAX_IMAGE_PIXELS`` (a ``DecompressionBombWarning`` above it, an error above
        twice it; no limit if that is None). None: only the format's own limit (2^28).

    Raises
    ------
    LimitError
    """
    pixels = h.width * h.height * frames
    size = f"{h.width}x{h.height}" + (f" x {frames} frames" if frames > 1 else "")
    if max_pixels == PILLOW_LIMIT:
        from PIL import Image

        limit = Image.MAX_IMAGE_PIXELS
        if limit is None:
            return
        if pixels > limit and pixels <= 2 * limit:
            import warnings

            msg = (
                f"{size} = {pixels} pixels is more than Image.MAX_IMAGE_PIXELS"
                f" ({limit}): could be a decompression bomb"
            )
            warnings.warn(msg, Image.DecompressionBombWarning, stacklevel=3)
            return
        max_pixels = 2 * limit
    if max_pixels is not None and pixels > max_pixels:  # type: ignore[operator]
        msg = (
            f"{size} = {pixels} pixels is more than max_pixels={max_pixels}"
            " (pass max_pixels=None to lift the limit)"
        )
        raise LimitError(msg)


def read(
    data: bytes | bytearray | memoryview, *, max_pixels: int | str | None = PILLOW_LIMIT
) -> KmqImage:
    """Decode a ``.kmq`` file into its palette, indices, header and metadata.

    Parameters
    ----------
    data : bytes-like
        The whole file.
    max_pixels : int, "pillow" or None, default="pillow"
        Largest width x height to decode (see :func:`check_pixels`); checked before the index
        stream is read.

    Returns
    -------
    KmqImage
        For an animation, its first frame (:func:`kmcodec.read_animation` gives every frame);
        ``indices`` is then uint16 where the palette has more than 256 entries.

    Raises
    ------
    kmcodec.errors.KmqError
        A subclass naming what is wrong (see :mod:`kmcodec.errors`).
    """
    head, stream = split_file(data)
    h = head.header
    check_pixels(h, max_pixels)
    if h.is_animated:
        from .animation import AnimationReader

        reader = AnimationReader(head, lambda offset, size: stream[offset : offset + size])
        indices = reader.frame(0).copy()
    else:
        indices = codings.decode(stream, h).array()
    palette = np.frombuffer(head.palette, dtype=np.uint8).reshape(h.colors, h.channels).copy()
    return KmqImage(
        palette=palette,
        indices=indices,
        header=h,
        icc_profile=head.chunks.get(CHUNK_ICC),
        exif=head.chunks.get(CHUNK_EXIF),
        chunks=head.chunks,
    )


def decode_indexed(
    data: bytes | bytearray | memoryview, *, max_pixels: int | str | None = PILLOW_LIMIT
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a ``.kmq`` file to its palette and index plane.

    Parameters
    ----------
    data : bytes-like
    max_pixels : int, "pillow" or None, default="pillow"
        See :func:`read`.

    Returns
    -------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
    indices : ndarray of uint8, shape (height, width)
    """
    image = read(data, max_pixels=max_pixels)
    return image.palette, image.indices


def decode(
    data: bytes | bytearray | memoryview, *, max_pixels: int | str | None = PILLOW_LIMIT
) -> np.ndarray:
    """Decode a ``.kmq`` file to pixels.

    Parameters
    ----------
    data : bytes-like
    max_pixels : int, "pillow" or None, default="pillow"
        See :func:`read`.

    Returns
    -------
    ndarray of uint8, shape (height, width, 3) or (height, width, 4)
        RGBA when the file's palette is RGBA.
    """
    return read(data, max_pixels=max_pixels).image()


def save(
    path: str | os.PathLike[str],
    image: object,
    colors: int = 256,
    **options: Unpack[EncodeOptionValues],
) -> None:
    """Encode ``image`` and write it to ``path`` atomically (see :func:`encode`)."""
    quantize(image, colors, **options).save(path)


def load(
    path: str | os.PathLike[str], *, max_pixels: int | str | None = PILLOW_LIMIT
) -> np.ndarray:
    """Read and decode a ``.kmq`` file to a (height, width, 3 or 4) uint8 array.

    ``max_pixels`` is as for :func:`read`.
    """
    return decode(Path(path).read_bytes(), max_pixels=max_pixels)


for _function in (quantize, encode):
    _function.__doc__ = (_function.__doc__ or "").replace(
        "    Options\n    -------\n", "    Options\n    -------\n" + _options.numpydoc()
    )
