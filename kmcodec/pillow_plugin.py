"""Pillow plugin: ``Image.open("a.kmq")`` and ``im.save("a.kmq", colors=16)`` like any format.

Importing :mod:`kmcodec` registers it; :func:`register` does it explicitly (and again after
something reset Pillow's registry). It follows the contract of Pillow's own plugins
(``QoiImagePlugin``, ``PngImagePlugin``):

- ``_open`` reads only the header, the palette and the metadata chunks, and sets size, mode
  "P", palette, ``info`` and one tile; nothing is decompressed until ``load()``.
- The decoder reads the index stream, decompresses it, checks that every index is below the
  palette size, and hands the packed rows to Pillow as raw "P;1", "P;2", "P;4" or "P" data: no
  Python loop runs over pixels.
- Errors out of ``Image.open`` are ``SyntaxError`` (Pillow turns them into
  ``UnidentifiedImageError``); out of ``load()`` they are ``OSError``.
"""

from __future__ import annotations

import re
from typing import IO, Any

import numpy as np
from PIL import Image, ImageFile, ImagePalette

from . import bitpack, compression, container, context_coding
from .codec import check_coding, encode_indexed, encode_quantized
from .errors import CorruptError, IndexRangeError, KmqError, TruncatedError
from .quantize import DEFAULT_SMOOTH, DEFAULT_SPEED, quantize

__all__ = ["KmqDecoder", "KmqImageFile", "register"]

FORMAT = "KMQ"
#: Modes a KMQ file can be saved from.
SAVE_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA")
#: Save options, as users of Pillow and pngquant know them.
SAVE_OPTIONS = (
    "colors",
    "quality",
    "speed",
    "dither",
    "color_space",
    "compress_level",
    "coding",
    "random_state",
    "smooth",
    "icc_profile",
    "exif",
)
_SIMPLE_TRANSPARENCY = re.compile(b"^\xff*\x00\xff*$")
_EXIF_PREFIX = b"Exif\x00\x00"


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(container.MAGIC)


class KmqImageFile(ImageFile.ImageFile):
    """A ``.kmq`` file opened by Pillow: mode "P" with the file's palette."""

    format = FORMAT
    format_description = "KMQ palette image (k-means quantised, zstd)"

    def _open(self) -> None:
        assert self.fp is not None
        try:
            head = container.read_head(self.fp)
        except KmqError as exc:
            msg = f"not a valid KMQ file: {exc}"
            raise SyntaxError(msg) from None
        h = head.header
        self._size = (h.width, h.height)
        self._mode = "P"
        entries = np.frombuffer(head.palette, dtype=np.uint8).reshape(h.colors, h.channels)
        self.palette = ImagePalette.raw("RGB", entries[:, :3].tobytes())
        if h.has_alpha:
            alpha = entries[:, 3].tobytes()
            if _SIMPLE_TRANSPARENCY.match(alpha):
                self.info["transparency"] = alpha.index(b"\x00")  # one transparent entry
            else:
                self.info["transparency"] = alpha
        if container.CHUNK_ICC in head.chunks:
            self.info["icc_profile"] = head.chunks[container.CHUNK_ICC]
        if container.CHUNK_EXIF in head.chunks:
            self.info["exif"] = _EXIF_PREFIX + head.chunks[container.CHUNK_EXIF]
        self._header = h
        self._stream_left = container.bytes_left(self.fp)
        self.tile = [ImageFile._Tile("kmq", (0, 0, h.width, h.height), head.stream_offset, (h,))]

    def load_prepare(self) -> None:
        """Check what is cheap to check before Pillow allocates the image (width x height
        bytes): that the file holds the whole index stream, and that the stream starts as its
        coding requires (a zstd frame declaring the right size, or at least 8 bytes)."""
        # Pillow 11+ keeps the image core in ``_im`` (``im`` is a property), older in ``im``.
        core = self.__dict__.get("_im", self.__dict__.get("im"))
        if core is None and self.fp is not None and self.tile:
            h = self._header
            try:
                _check_stream_present(self._stream_left, h)
                if h.coding == container.Coding.CONTEXT:
                    if h.stream_size < context_coding.MIN_STREAM:
                        msg = f"the context-coded stream is only {h.stream_size} bytes"
                        raise CorruptError(msg)
                else:
                    self.fp.seek(self.tile[0].offset)
                    prefix = self.fp.read(min(h.stream_size, compression.FRAME_HEADER_MAX))
                    compression.check_frame_header(prefix, h.unpacked_size)
            except KmqError as exc:  # TruncatedError included: Pillow says OSError for both
                raise OSError(str(exc)) from None
        super().load_prepare()

    def verify(self) -> None:
        """Check the index stream's checksum and contents without building the image.

        The header and chunk CRCs were checked when the file was opened. Raises ``OSError`` if
        the file is truncated and ``SyntaxError`` if it is corrupt, as Pillow's PNG plugin does.
        """
        if self.fp is None:
            msg = "verify must be called directly after open"
            raise RuntimeError(msg)
        h = self._header
        self.fp.seek(self.tile[0].offset)
        try:
            _read_indices(self.fp, h)
        except TruncatedError as exc:
            raise OSError(str(exc)) from None
        except KmqError as exc:
            msg = f"broken KMQ file ({exc})"
            raise SyntaxError(msg) from None
        super().verify()


def _check_stream_present(left: int | None, h: container.Header) -> None:
    """Raise TruncatedError if the bytes left in the file (None: unknown) cannot hold the
    stream, before anything reads (and allocates) ``stream_size`` bytes."""
    if left is not None and left < h.stream_size:
        msg = f"image file is truncated: index stream has {left} of {h.stream_size} bytes"
        raise TruncatedError(msg)


def _read_indices(fp: IO[bytes], h: container.Header) -> bytes | np.ndarray:
    """Read and check the index stream from ``fp``; return packed rows (coding 0) or the
    (height, width) index plane (coding 1)."""
    _check_stream_present(container.bytes_left(fp), h)
    stream = fp.read(h.stream_size)
    if len(stream) < h.stream_size:
        msg = f"image file is truncated: index stream has {len(stream)} of {h.stream_size} bytes"
        raise TruncatedError(msg)
    if fp.read(1):
        msg = "trailing bytes after the index stream"
        raise CorruptError(msg)
    if h.coding == container.Coding.CONTEXT:
        return context_coding.decode(stream, h.width, h.height, h.colors)
    rows = compression.decompress(stream, h.unpacked_size)
    if not bitpack.indices_below(rows, h.width, h.height, h.index_bits, h.colors):
        msg = f"a palette index is out of range for {h.colors} colours"
        raise IndexRangeError(msg)
    return rows


class KmqDecoder(ImageFile.PyDecoder):
    """Decompress the index stream and hand its rows to Pillow's raw decoder."""

    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        assert self.fd is not None
        (h,) = self.args
        try:
            rows = _read_indices(self.fd, h)
        except KmqError as exc:
            raise OSError(str(exc)) from None
        if h.coding == container.Coding.CONTEXT:
            self.set_as_raw(memoryview(rows).cast("B"), "P")  # type: ignore[arg-type]
        elif h.index_bits == 1:
            # numpy's unpackbits and a plain copy beat Pillow's "P;1" unpacker by 1.5x
            # (12 MP: 2.3 ms against 3.6 ms), and at one bit per pixel that is most of the work.
            indices = bitpack.unpack_rows(rows, h.width, h.height, 1)
            self.set_as_raw(memoryview(indices).cast("B"), "P")
        else:
            self.set_as_raw(rows, bitpack.PILLOW_RAWMODE[h.index_bits])
        return -1, 0


def _palette_of(im: Image.Image) -> np.ndarray:
    """The palette of a "P" image as (K, 3) or (K, 4) entries, alpha from its transparency."""
    rgb = np.frombuffer(bytes(im.getpalette("RGB") or b""), dtype=np.uint8).reshape(-1, 3)
    transparency = im.info.get("transparency")
    if transparency is None:
        return rgb
    alpha = np.full(len(rgb), 255, dtype=np.uint8)
    if isinstance(transparency, int):
        if transparency < len(alpha):
            alpha[transparency] = 0
    else:
        values = np.frombuffer(bytes(transparency), dtype=np.uint8)[: len(alpha)]
        alpha[: len(values)] = values
    return np.concatenate([rgb, alpha[:, None]], axis=1)


def _option(info: dict[str, Any], name: str, default: Any) -> Any:
    value = info.get(name, default)
    return default if value is None else value


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    info = im.encoderinfo
    if im.mode not in SAVE_MODES:
        msg = (
            f"cannot write mode {im.mode} as KMQ; convert it first, e.g. im.convert('RGB')"
            f" (KMQ saves modes {', '.join(SAVE_MODES)})"
        )
        raise ValueError(msg)
    colors = _option(info, "colors", 256)
    if isinstance(colors, bool) or not isinstance(colors, int) or not 1 <= colors <= 256:
        msg = f"colors must be an integer from 1 to 256, got {colors!r}"
        raise ValueError(msg)
    compress_level = info.get("compress_level")
    if compress_level is not None:
        try:
            compression.check_level(compress_level)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
    coding = check_coding(info.get("coding"))  # fails before anything is written
    file_options = {
        "coding": coding,
        "icc_profile": info.get("icc_profile", im.info.get("icc_profile")),
        "exif": _exif_bytes(info.get("exif", im.info.get("exif"))),
    }
    data = None
    if im.mode == "P":
        palette = _palette_of(im)
        indices = np.asarray(im)
        used = int(indices.max()) + 1 if indices.size else 1
        if used <= min(colors, len(palette)):
            # Already a palette image: store it as it is, without quantising again.
            if palette.shape[1] == 4 and (palette[:used, 3] == 255).all():
                palette = palette[:, :3]
            data = encode_indexed(
                np.ascontiguousarray(palette[:used]),
                indices,
                compress_level=compress_level,
                speed=_option(info, "speed", DEFAULT_SPEED),
                **file_options,
            )
    if data is None:
        try:
            q = quantize(
                im,
                colors,
                speed=_option(info, "speed", DEFAULT_SPEED),
                quality=info.get("quality"),
                color_space=_option(info, "color_space", "rgb"),
                dither=_option(info, "dither", False),
                smooth=_option(info, "smooth", DEFAULT_SMOOTH),
                random_state=_option(info, "random_state", 0),
            )
        except TypeError as exc:  # a save option of the wrong type: Pillow users expect this
            raise ValueError(str(exc)) from None
        data = encode_quantized(q, compress_level=compress_level, **file_options)
    fp.write(data)


def _exif_bytes(exif: Any) -> bytes | None:
    if exif is None or exif == b"":
        return None
    if isinstance(exif, Image.Exif):
        return exif.tobytes()
    return bytes(exif)


def register() -> None:
    """Register the KMQ format with Pillow (open, save, extension and MIME type).

    Importing :mod:`kmcodec` calls this; calling it again is harmless.
    """
    Image.register_open(FORMAT, KmqImageFile, _accept)
    Image.register_decoder("kmq", KmqDecoder)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, container.EXTENSION)
    Image.register_mime(FORMAT, container.MIME_TYPE)
