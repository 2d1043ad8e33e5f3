"""Pillow plugin: ``Image.open("a.kmq")`` and ``im.save("a.kmq", colors=16)`` like any format.

Importing :mod:`kmcodec` registers it; :func:`register` does it explicitly (and again after
something reset Pillow's registry). It follows the contract of Pillow's own plugins
(``QoiImagePlugin``, ``PngImagePlugin``) and is thin: the file is read by the same reader as
:func:`kmcodec.read` (:mod:`kmcodec.format.layout`, :mod:`kmcodec.format.codings`), and saved
by :func:`kmcodec.encode` with the save options of :mod:`kmcodec.options`.

- ``_open`` reads only the header, the palette and the metadata chunks, and sets size, mode
  "P", palette, ``info`` and one tile; nothing is decoded until ``load()``.
- The decoder hands the decoded rows to Pillow as raw "P;1", "P;2", "P;4" or "P" data: no
  Python loop runs over pixels.
- An animation (spec section 2.8) has ``n_frames``, ``is_animated``, ``seek``/``tell`` and
  ``info["duration"]``/``info["loop"]`` as Pillow's GIF and WebP do; frames are "P" (or "RGB"/
  "RGBA" where the palette has more than 256 entries), decoded one at a time by
  :class:`kmcodec.animation.AnimationReader`, which reads each frame from the file as it is
  needed. ``save_all=True`` with more than one frame writes an animation
  (:func:`kmcodec.animation.encode_animation`).
- Errors out of ``Image.open`` are ``SyntaxError`` (Pillow turns them into
  ``UnidentifiedImageError``); out of ``load()`` they are ``OSError``.
"""

from __future__ import annotations

import re
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFile, ImagePalette

from .animation import AnimationReader
from .codec import encode, encode_indexed
from .errors import KmqError, TruncatedError
from .format import codings, layout
from .format.layout import Coding
from .options import OPTIONS, resolve
from .quantization.pixels import PIL_MODES

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

__all__ = ["KmqDecoder", "KmqImageFile", "register"]

FORMAT = "KMQ"
#: Modes a KMQ file can be saved from: those kmcodec converts.
SAVE_MODES = PIL_MODES
#: Save options: every encode option, by the same names as the API's.
SAVE_OPTIONS = tuple(o.name for o in OPTIONS)
_SIMPLE_TRANSPARENCY = re.compile(b"^\xff*\x00\xff*$")


def _accept(prefix: bytes) -> bool:
    return prefix.startswith(layout.MAGIC)


class KmqImageFile(ImageFile.ImageFile):
    """A ``.kmq`` file opened by Pillow: mode "P" with the file's palette."""

    format = FORMAT
    format_description = "KMQ palette image (k-means quantised)"

    def _open(self) -> None:
        assert self.fp is not None
        try:
            head = layout.read_head(self.fp)
        except KmqError as exc:
            msg = f"not a valid KMQ file: {exc}"
            raise SyntaxError(msg) from None
        h = head.header
        self._size = (h.width, h.height)
        self._mode = "P" if h.colors <= 256 else ("RGBA" if h.has_alpha else "RGB")
        entries = np.frombuffer(head.palette, dtype=np.uint8).reshape(h.colors, h.channels)
        if self._mode == "P":
            self.palette = ImagePalette.raw("RGB", entries[:, :3].tobytes())
        if h.has_alpha and self._mode == "P":
            alpha = entries[:, 3].tobytes()
            if _SIMPLE_TRANSPARENCY.match(alpha):
                self.info["transparency"] = alpha.index(b"\x00")  # one transparent entry
            else:
                self.info["transparency"] = alpha
        if layout.CHUNK_ICC in head.chunks:
            self.info["icc_profile"] = head.chunks[layout.CHUNK_ICC]
        if layout.CHUNK_EXIF in head.chunks:
            self.info["exif"] = layout.exif_from_chunk(head.chunks[layout.CHUNK_EXIF])
        self._header = h
        self._stream_left = layout.bytes_left(self.fp)
        self._animation: AnimationReader | None = None
        if h.is_animated:
            self._open_animation(head)
            return
        self.tile = [ImageFile._Tile("kmq", (0, 0, h.width, h.height), head.stream_offset, (h,))]

    def _open_animation(self, head: layout.Head) -> None:
        """Read the frame table; frames are decoded by :meth:`load` after :meth:`seek`."""
        assert self.fp is not None
        h = head.header
        fp, start = self.fp, head.stream_offset
        if self._stream_left is not None and self._stream_left > h.stream_size:
            msg = f"not a valid KMQ file: {self._stream_left - h.stream_size} trailing bytes"
            raise SyntaxError(msg)

        def read_at(offset: int, size: int) -> bytes:
            fp.seek(start + offset)
            return fp.read(size)

        try:
            self._animation = AnimationReader(head, read_at)
        except KmqError as exc:
            msg = f"not a valid KMQ file: {exc}"
            raise SyntaxError(msg) from None
        self.n_frames = self._animation.n_frames
        self.is_animated = self.n_frames > 1
        Image._decompression_bomb_check((h.width, h.height * self.n_frames))
        if self._animation.table.loop is not None:
            self.info["loop"] = self._animation.table.loop
        self.info["duration"] = self._animation.duration(0)
        self._frame = 0
        self._loaded_frame = -1
        self._close_exclusive_fp_after_loading = False  # later frames are read from it
        self.tile = []

    def seek(self, frame: int) -> None:
        """Go to frame ``frame`` (decoded at the next :meth:`load`)."""
        if self._animation is None:
            super().seek(frame)
            return
        if not self._seek_check(frame):
            return
        self._frame = frame
        self.info["duration"] = self._animation.duration(frame)

    def tell(self) -> int:
        """The current frame."""
        return self._frame if self._animation is not None else 0

    def _load_frame(self) -> Any:
        """Decode the current frame into Pillow's image (a copy of the reader's canvas)."""
        assert self._animation is not None
        if self._loaded_frame != self._frame:
            try:
                if self.mode == "P":
                    # a copy (the reader paints the next frame in place), and Pillow's image a
                    # view of it, as for a still file: one copy of the frame, not two
                    plane = self._animation.frame(self._frame).copy()
                    self.im = Image.core.map_buffer(plane, self.size, "raw", 0, ("P", 0, 1))
                else:
                    # RGBA words (RGB with A = 255): what Pillow holds for RGB and RGBA images
                    # copied once, by Pillow's decoder, from the reader's array (tobytes()
                    # first was a second copy, and a fresh allocation, a frame)
                    words = self._animation.pixels(self._frame)
                    rawmode = "RGBX" if self.mode == "RGB" else self.mode
                    self.im = Image.frombytes(self.mode, self.size, words, "raw", rawmode).im
            except (KmqError, EOFError) as exc:
                raise OSError(str(exc)) from None
            if self.palette:
                self.palette.dirty = 1
            self.readonly = 1
            self._loaded_frame = self._frame
        return Image.Image.load(self)

    def load(self) -> Any:
        """Decode the index stream. Where it decodes to one byte an index (codings 1 and 2, and
        coding 0 at 8 or 1 bits an index), Pillow's image is a view of the decoded plane, as Pillow
        does for memory-mapped raw files: no second copy of the pixels (a 24 MP file loads in
        one plane's memory, not two). The packed 2- and 4-bit rows go through Pillow's raw
        decoder (``KmqDecoder``)."""
        if getattr(self, "_animation", None) is not None:
            return self._load_frame()
        h = getattr(self, "_header", None)
        if h is not None and self._truncated_load():
            return self._load_truncated()
        mappable = h is not None and (h.coding != Coding.ROWS or h.index_bits in (1, 8))
        if not (self.tile and mappable and self.fp is not None and self._core() is None):
            return super().load()
        Image.Image.load(self)
        try:
            self._check_before_allocating()
            self.fp.seek(self.tile[0].offset)
            plane = codings.read_plane(self.fp, self._header)
        except KmqError as exc:
            raise OSError(str(exc)) from None
        return self._load_from(*plane.raw())

    def load_seek(self, pos: int) -> None:
        """Seek in the file while loading. Defining it tells ``ImageFile.Parser`` that a
        ``.kmq`` file does not decode incrementally: the parser keeps what it is fed and
        opens the whole file at ``close()``, as for the other formats that need all of it."""
        assert self.fp is not None
        self.fp.seek(pos)

    def _truncated_load(self) -> bool:
        """Whether this load is of a file that ends inside its index stream and Pillow was
        told to load truncated images (``ImageFile.LOAD_TRUNCATED_IMAGES``)."""
        return bool(
            ImageFile.LOAD_TRUNCATED_IMAGES
            and self.tile
            and self.fp is not None
            and self._core() is None
            and self._stream_left is not None
            and self._stream_left < self._header.stream_size
        )

    def _load_truncated(self) -> Any:
        """Load the rows that arrived, zeros below them (index 0), as Pillow does for a
        truncated PNG or GIF under ``LOAD_TRUNCATED_IMAGES``."""
        assert self.fp is not None
        Image.Image.load(self)
        self.fp.seek(self.tile[0].offset)
        plane, _rows = codings.decode_prefix(self.fp.read(self._stream_left or -1), self._header)
        return self._load_from(plane.data.cast("B"), "P")

    def _load_from(self, data: memoryview | bytes, rawmode: str) -> Any:
        """Make Pillow's image a view of decoded index data and close the file."""
        assert self.fp is not None
        self.im = Image.core.map_buffer(data, self.size, "raw", 0, (rawmode, 0, 1))
        if self.palette:
            self.palette.dirty = 1  # the new image core needs the palette again
        self.tile = []
        self.readonly = 1  # Pillow copies before any change, as for a memory-mapped file
        self.load_end()
        if self._exclusive_fp and self._close_exclusive_fp_after_loading:
            self.fp.close()
        self.fp = None
        return Image.Image.load(self)

    def _core(self) -> Any:
        # Pillow 11+ keeps the image core in ``_im`` (``im`` is a property), older in ``im``.
        return self.__dict__.get("_im", self.__dict__.get("im"))

    def _check_before_allocating(self) -> None:
        """What is cheap to check before anything the size of the image is allocated: that the
        file holds the whole index stream, and that the stream starts as its coding requires.

        Raises
        ------
        KmqError
        """
        h = self._header
        layout.check_stream_present(self._stream_left, h)
        assert self.fp is not None
        self.fp.seek(self.tile[0].offset)
        prefix = self.fp.read(min(h.stream_size, codings.START_BYTES))
        codings.check_start(prefix, h.stream_size, h)

    def load_prepare(self) -> None:
        """Check what is cheap to check (see :meth:`_check_before_allocating`) before Pillow
        allocates the image (width x height bytes)."""
        if self._core() is None and self.fp is not None and self.tile:
            try:
                self._check_before_allocating()
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
        try:
            if self._animation is not None:
                for n in range(self.n_frames):  # every layer's checks, one canvas
                    self._animation.frame(n)
            else:
                self.fp.seek(self.tile[0].offset)
                codings.read_plane(self.fp, self._header)
        except TruncatedError as exc:
            raise OSError(str(exc)) from None
        except KmqError as exc:
            msg = f"broken KMQ file ({exc})"
            raise SyntaxError(msg) from None
        super().verify()


class KmqDecoder(ImageFile.PyDecoder):
    """Read and decode the index stream and hand its rows to Pillow's raw decoder."""

    _pulls_fd = True

    def decode(self, buffer: Any) -> tuple[int, int]:
        assert self.fd is not None
        (h,) = self.args
        try:
            plane = codings.read_plane(self.fd, h)
        except KmqError as exc:
            raise OSError(str(exc)) from None
        self.set_as_raw(*plane.raw())  # type: ignore[arg-type]
        return -1, 0


def _palette_of(im: Image.Image) -> np.ndarray:
    """The palette of a "P" image as (K, 3) or (K, 4) entries, alpha from the palette itself
    where it is RGBA (``Image.quantize`` of an RGBA image) and from its transparency."""
    rgba = np.frombuffer(bytes(im.getpalette("RGBA") or b""), dtype=np.uint8).reshape(-1, 4)
    rgb, alpha = rgba[:, :3], rgba[:, 3].copy()  # alpha 255 unless the palette holds one
    transparency = im.info.get("transparency")
    if transparency is None:
        return rgba if (alpha != 255).any() else rgb
    if isinstance(transparency, int):
        if transparency < len(alpha):
            alpha[transparency] = 0
    else:
        values = np.frombuffer(bytes(transparency), dtype=np.uint8)[: len(alpha)]
        alpha[: len(values)] = values
    return np.concatenate([rgb, alpha[:, None]], axis=1)


#: Keys in ``encoderinfo`` that are not options of ours and are taken without a word: what
#: Pillow itself puts there (``append_images`` is read by ``_save_all``; ``save_all``,
#: ``append`` and ``format`` steer Pillow's own ``save``).
_PILLOW_KEYS = frozenset({"append_images", "save_all", "append", "format"})


def _check_save_options(encoderinfo: dict[str, Any]) -> None:
    """Save options of ours spelt nearly right (``colours=16``, ``color=16``, ``speed_=3``)
    raise ``ValueError`` naming the right one; any other option KMQ does not take (``optimize``,
    ``lossless``, ... of other formats) is ignored with one ``UserWarning``, so that generic
    code passing another format's options keeps working and nobody is left guessing.

    Raises
    ------
    OptionError
        A ``ValueError`` (and ``TypeError``), as for a bad value.
    """
    from .errors import OptionError
    from .options import near_miss

    unknown = sorted(k for k in encoderinfo if k not in SAVE_OPTIONS and k not in _PILLOW_KEYS)
    for key in unknown:
        meant = near_miss(key)
        if meant is not None:
            msg = f"KMQ has no save option {key!r}: did you mean {meant}=...?"
            raise OptionError(msg)
    if unknown:
        import warnings

        names = ", ".join(unknown)
        warnings.warn(
            f"KMQ ignores the save option{'s' if len(unknown) > 1 else ''} {names} (its options:"
            f" {', '.join(SAVE_OPTIONS)})",
            UserWarning,
            stacklevel=_caller_level(),
        )


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the code that called ``im.save``: the first
    frame outside Pillow and kmcodec."""
    import sys

    level = 1
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "PIL",
        "kmcodec",
    ):
        level += 1
        frame = frame.f_back
    return level


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    if im.mode not in SAVE_MODES:
        msg = (
            f"cannot write mode {im.mode} as KMQ; convert it first, e.g. im.convert('RGB')"
            f" (KMQ saves modes {', '.join(SAVE_MODES)})"
        )
        raise ValueError(msg)
    _check_save_options(im.encoderinfo)
    # None means "not given", as for Pillow's own plugins.
    options = {k: v for k, v in im.encoderinfo.items() if k in SAVE_OPTIONS and v is not None}
    for key in ("icc_profile", "exif"):
        options.setdefault(key, im.info.get(key))
    colors = resolve(**options).colors  # every option checked before anything is written
    if im.mode == "P":
        palette = _palette_of(im)
        indices = np.asarray(im)
        used = int(indices.max()) + 1 if indices.size else 1
        if used <= min(colors, len(palette)):
            # Already a palette image: store it as it is, without quantising again.
            if palette.shape[1] == 4 and (palette[:used, 3] == 255).all():
                palette = palette[:, :3]
            fp.write(encode_indexed(np.ascontiguousarray(palette[:used]), indices, **options))
            return
    fp.write(encode(im, **options))


#: Keys of ``encoderinfo`` an animation takes beside the encode options, as GIF and WebP do.
_ANIMATION_KEYS = frozenset({"duration", "loop"})


def _save_all(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    """``save_all=True``: every frame of ``im`` and of ``append_images`` in one animation.

    Frames are taken as Pillow composites them (RGBA); an animated GIF keeps every frame
    exactly. ``duration`` (ms, one or a list) defaults to each frame's ``info["duration"]``,
    ``loop`` to ``im.info["loop"]`` (none: played once). One frame is saved as a still image.
    """
    from PIL import ImageSequence

    from .animation import encode_animation

    append = list(im.encoderinfo.get("append_images") or ())
    count = getattr(im, "n_frames", 1) + sum(getattr(a, "n_frames", 1) for a in append)
    if count == 1:
        _save(im, fp, filename)
        return
    info = im.encoderinfo
    _check_save_options({k: v for k, v in info.items() if k not in _ANIMATION_KEYS})
    options = {k: v for k, v in info.items() if k in SAVE_OPTIONS and v is not None}
    for key in ("icc_profile", "exif"):
        options.setdefault(key, im.info.get(key))
    resolve(**options)  # every option checked before any frame is read
    durations: list[int] = []  # filled as the frames are read, used after the last

    def frames() -> Iterator[Image.Image]:
        # Each frame is handed over as it is composited, and read before the next seek, so
        # that no more than one frame is held whole.
        for source in (im, *append):
            for frame in ImageSequence.Iterator(source):
                frame.load()  # WebP sets a frame's info["duration"] as it loads the frame
                durations.append(frame.info.get("duration", 0))
                yield frame

    duration = info.get("duration")
    loop = info["loop"] if "loop" in info else im.info.get("loop")
    colors = options.pop("colors", None)
    here = im.tell()
    try:
        data = encode_animation(
            frames(), durations if duration is None else duration, loop, colors, **options
        )
    finally:
        im.seek(here)
    fp.write(data)


def register() -> None:
    """Register the KMQ format with Pillow (open, save, extension and MIME type).

    Importing :mod:`kmcodec` calls this; calling it again is harmless.
    """
    Image.register_open(FORMAT, KmqImageFile, _accept)
    Image.register_decoder("kmq", KmqDecoder)
    Image.register_save(FORMAT, _save)
    Image.register_save_all(FORMAT, _save_all)
    Image.register_extension(FORMAT, layout.EXTENSION)
    Image.register_mime(FORMAT, layout.MIME_TYPE)
