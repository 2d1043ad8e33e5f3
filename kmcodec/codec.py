"""The public encode and decode functions: the whole way from pixels to a ``.kmq`` file and back.

    pixels --quantize--> palette + indices --+--bitpack--> packed rows --compression--> zstd frame
                                             +--context_coding--> context-coded stream
           --container--> file bytes

and the same way back. This module only wires the stages together and converts the errors of
the libraries under them into :mod:`kmcodec.errors`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import bitpack, compression, context_coding
from .container import (
    CHUNK_EXIF,
    CHUNK_ICC,
    Coding,
    Header,
    build_file,
    index_bits_allowed,
    split_file,
)
from .errors import IndexRangeError, LimitError
from .pixels import check_size
from .quantize import DEFAULT_SMOOTH, DEFAULT_SPEED, SPEEDS, Quantized, quantize

__all__ = [
    "PILLOW_LIMIT",
    "KmqImage",
    "check_pixels",
    "decode",
    "decode_index_stream",
    "decode_indexed",
    "encode",
    "encode_indexed",
    "load",
    "read",
    "save",
]

_EXIF_PREFIX = b"Exif\x00\x00"
_RANKING_LEVEL = 3
#: Speeds up to this one try every index width at the final zstd level.
_EXHAUSTIVE_SPEED = 3


@dataclass
class KmqImage:
    """A decoded ``.kmq`` file.

    Attributes
    ----------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
    indices : ndarray of uint8, shape (height, width)
    header : kmcodec.container.Header
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


def _metadata_chunks(icc_profile: bytes | None, exif: bytes | None) -> dict[bytes, bytes]:
    chunks: dict[bytes, bytes] = {}
    if icc_profile:
        chunks[CHUNK_ICC] = bytes(icc_profile)
    if exif:
        exif = bytes(exif)
        chunks[CHUNK_EXIF] = exif[len(_EXIF_PREFIX) :] if exif.startswith(_EXIF_PREFIX) else exif
    return chunks


def encode_indexed(
    palette: np.ndarray,
    indices: np.ndarray,
    *,
    compress_level: int | None = None,
    index_bits: int | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    speed: int = DEFAULT_SPEED,
    coding: int | None = None,
) -> bytes:
    """Encode a palette and an index plane as a ``.kmq`` file, losslessly.

    Parameters
    ----------
    palette : ndarray of uint8, shape (K, 3) or (K, 4)
        1 to 256 RGB or RGBA entries.
    indices : ndarray of uint8, shape (height, width)
        Every value below K.
    compress_level : int, optional
        zstd level, 1 to 22. By default ``speed`` sets it (see :data:`kmcodec.SPEEDS`): at
        the default speed 19 for planes of 1-4 bits per index, and for 8-bit planes a preset
        within 3-4% of level 19's size at a third of its time.
    index_bits : {None, 1, 2, 4, 8}, default=None
        Bits per stored index. None tries every width that can hold K and keeps the smallest
        file (narrow rows win at very small K; after zstd, one byte per index usually wins from
        about 16 colours up).
    icc_profile, exif : bytes, optional
        Metadata to store in chunks.
    speed : int, default=4
        Sets the default ``compress_level``; at speeds 1-3 every width is compressed at that
        level and the smallest kept, at faster speeds the widths are ranked at a cheap level.
    coding : {None, 0, 1}, default=None
        How to code the index plane: 0 packs rows and compresses them with zstd, 1 codes each
        index with the adaptive context model (see ``spec/kmq.md``). None codes both and keeps
        the smaller file.

    Returns
    -------
    bytes
    """
    pal, idx = _check_indexed(palette, indices)
    coding = check_coding(coding)
    allowed = index_bits_allowed(len(pal))
    if index_bits is not None and index_bits not in allowed:
        msg = f"index_bits={index_bits!r} cannot code {len(pal)} colours; use one of {allowed}"
        raise ValueError(msg)
    if compress_level is not None:
        compression.check_level(compress_level)
    if speed not in SPEEDS:
        msg = f"speed must be 1 to 10, got {speed!r}"
        raise ValueError(msg)
    chunks = _metadata_chunks(icc_profile, exif)
    files = []
    if coding in (None, Coding.CONTEXT):
        # index_bits does not shape a context-coded stream; the narrowest width is written.
        header = Header(
            width=idx.shape[1],
            height=idx.shape[0],
            colors=len(pal),
            index_bits=index_bits or allowed[0],
            has_alpha=pal.shape[1] == 4,
            coding=Coding.CONTEXT,
        )
        files.append(
            build_file(header, pal.tobytes(), chunks, context_coding.encode(idx, len(pal)))
        )
    if coding in (None, Coding.ROWS):
        files.append(_encode_rows(pal, idx, chunks, compress_level, index_bits, speed))
    return min(files, key=len)


def check_coding(coding: object) -> Coding | None:
    """Return ``coding`` as a :class:`Coding` (or None for "the smallest"), else raise."""
    if coding is None:
        return None
    if isinstance(coding, bool) or coding not in tuple(Coding):
        msg = f"coding must be None, 0 or 1, got {coding!r}"
        raise ValueError(msg)
    return Coding(coding)


def _encode_rows(
    pal: np.ndarray,
    idx: np.ndarray,
    chunks: dict[bytes, bytes],
    compress_level: int | None,
    index_bits: int | None,
    speed: int,
) -> bytes:
    """Encode with coding 0: packed rows in one zstd frame, at the best index width."""
    candidates = index_bits_allowed(len(pal)) if index_bits is None else (index_bits,)
    packed = {bits: bitpack.pack_rows(idx, bits) for bits in candidates}

    def level_for(bits: int) -> int | str:
        return SPEEDS[speed].compress_level(bits) if compress_level is None else compress_level

    if len(packed) > 1 and speed > _EXHAUSTIVE_SPEED:
        # Rank the widths by a cheap zstd level, then compress only the winner at the level
        # asked for: on the Kodak set the ranking at level 3 agreed with level 19's to within
        # 1% of size, at a tenth of the cost of compressing every width at level 19.
        best_bits = min(packed, key=lambda b: len(compression.compress(packed[b], _RANKING_LEVEL)))
        best_stream = compression.compress(packed[best_bits], level_for(best_bits))
    else:
        # The slow speeds compress every width at the level asked for and keep the smallest.
        streams = {b: compression.compress(data, level_for(b)) for b, data in packed.items()}
        best_bits = min(streams, key=lambda b: len(streams[b]))
        best_stream = streams[best_bits]
    header = Header(
        width=idx.shape[1],
        height=idx.shape[0],
        colors=len(pal),
        index_bits=best_bits,
        has_alpha=pal.shape[1] == 4,
        coding=Coding.ROWS,
    )
    return build_file(header, pal.tobytes(), chunks, best_stream)


def check_indices(rows: bytes, header: Header) -> None:
    """Raise :class:`IndexRangeError` if a packed index is not below the palette size."""
    if not bitpack.indices_below(
        rows, header.width, header.height, header.index_bits, header.colors
    ):
        msg = f"a palette index is out of range for {header.colors} colours"
        raise IndexRangeError(msg)


def decode_index_stream(stream: bytes | memoryview, h: Header) -> np.ndarray:
    """Decode a file's index stream, whatever its coding, to a (height, width) uint8 array.

    Raises
    ------
    kmcodec.errors.CorruptError
        Including :class:`~kmcodec.errors.ChecksumError` and
        :class:`~kmcodec.errors.IndexRangeError`.
    """
    if h.coding == Coding.CONTEXT:
        return context_coding.decode(stream, h.width, h.height, h.colors)
    rows = compression.decompress(stream, h.unpacked_size)
    check_indices(rows, h)
    return bitpack.unpack_rows(rows, h.width, h.height, h.index_bits)


#: ``max_pixels`` default: Pillow's rule, read from ``PIL.Image.MAX_IMAGE_PIXELS`` at each call.
PILLOW_LIMIT = "pillow"


def check_pixels(h: Header, max_pixels: int | str | None = PILLOW_LIMIT) -> None:
    """Refuse an image with more pixels than ``max_pixels`` before anything is decoded.

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
    pixels = h.width * h.height
    if max_pixels == PILLOW_LIMIT:
        from PIL import Image

        limit = Image.MAX_IMAGE_PIXELS
        if limit is None:
            return
        if pixels > limit and pixels <= 2 * limit:
            import warnings

            msg = (
                f"{h.width}x{h.height} = {pixels} pixels is more than Image.MAX_IMAGE_PIXELS"
                f" ({limit}): could be a decompression bomb"
            )
            warnings.warn(msg, Image.DecompressionBombWarning, stacklevel=3)
            return
        max_pixels = 2 * limit
    if max_pixels is not None and pixels > max_pixels:
        msg = (
            f"{h.width}x{h.height} = {pixels} pixels is more than max_pixels={max_pixels}"
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

    Raises
    ------
    kmcodec.errors.KmqError
        A subclass naming what is wrong (see :mod:`kmcodec.errors`).
    """
    head, stream = split_file(data)
    h = head.header
    check_pixels(h, max_pixels)
    indices = decode_index_stream(stream, h)
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


def encode(
    image: object,
    colors: int = 256,
    *,
    speed: int = DEFAULT_SPEED,
    quality: object = None,
    target_psnr: float | None = None,
    color_space: str = "rgb",
    dither: object = False,
    smooth: float = DEFAULT_SMOOTH,
    compress_level: int | None = None,
    index_bits: int | None = None,
    coding: int | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    **quantize_options: object,
) -> bytes:
    """Quantise an image to at most ``colors`` colours and encode it as a ``.kmq`` file.

    Parameters
    ----------
    image : PIL.Image.Image or array_like
        A PIL image, or a uint8 array of shape (H, W, 3), (H, W, 4) or (H, W).
    colors : int, default=256
        Largest palette size, 1 to 256. An image with at most this many distinct colours is
        stored losslessly.
    speed : int, default=4
        1 (slowest, best) to 10 (fastest), as in pngquant.
    quality, target_psnr, color_space, dither, smooth
        See :func:`kmcodec.quantize`.
    compress_level : int, optional
        zstd level, 1 to 22; by default set by ``speed`` (see :func:`encode_indexed`).
    index_bits : {None, 1, 2, 4, 8}, default=None
        See :func:`encode_indexed`.
    coding : {None, 0, 1}, default=None
        See :func:`encode_indexed`; None keeps the smaller of the two codings.
    icc_profile, exif : bytes, optional
        Metadata to store. For a PIL image, default to ``image.info``'s.
    **quantize_options
        Passed to :func:`kmcodec.quantize` (``init``, ``max_iter``, ``tol``, ``random_state``).

    Returns
    -------
    bytes

    Raises
    ------
    QualityError
        The quality asked for cannot be reached.
    """
    info = getattr(image, "info", None) or {}
    check_coding(coding)
    q = quantize(
        image,
        colors,
        speed=speed,
        quality=quality,
        target_psnr=target_psnr,
        color_space=color_space,
        dither=dither,
        smooth=smooth,
        **quantize_options,  # type: ignore[arg-type]
    )
    return encode_quantized(
        q,
        compress_level=compress_level,
        index_bits=index_bits,
        coding=coding,
        icc_profile=icc_profile if icc_profile is not None else info.get("icc_profile"),
        exif=exif if exif is not None else info.get("exif"),
    )


def encode_quantized(
    q: Quantized,
    *,
    compress_level: int | None = None,
    index_bits: int | None = None,
    coding: int | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> bytes:
    """Encode the result of :func:`kmcodec.quantize`.

    ``compress_level`` defaults to the level of the speed ``q`` was made with; the other options
    are as for :func:`encode_indexed`.
    """
    return encode_indexed(
        q.palette,
        q.indices,
        compress_level=compress_level,
        index_bits=index_bits,
        coding=coding,
        icc_profile=icc_profile,
        exif=exif,
        speed=q.speed,
    )


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


#: Temporary files of :func:`write_atomic` end with this, after the writer's process ID.
TEMP_SUFFIX = ".kmq-partial"
#: A temporary file older than this is stale even if its process ID is in use again.
_STALE_SECONDS = 24 * 3600


#: Folders this process has already cleaned of stale temporaries (one scan per folder, not one
#: per file written: a batch writing n files into one folder would otherwise list it n times).
_CLEANED_FOLDERS: set[str] = set()


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove ``.NAME.PID.XXXX.kmq-partial`` files in ``folder`` left by a writer that was
    killed (its process is gone, or the file is a day old). Done once per folder per process."""
    key = os.path.abspath(folder)
    if key in _CLEANED_FOLDERS:
        return
    _CLEANED_FOLDERS.add(key)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
            continue
        # .NAME.PID.XXXX.kmq-partial: NAME may hold dots, so the PID is the third field from
        # the end.
        fields = name[: -len(TEMP_SUFFIX)].split(".")
        try:
            pid = int(fields[-2])
            age = now - entry.stat().st_mtime
        except (ValueError, IndexError, OSError):
            continue
        if pid == os.getpid() and age < _STALE_SECONDS:
            continue
        alive = True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = False
        except OSError:
            pass  # someone else's process, still running
        if not alive or age > _STALE_SECONDS:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a failure leaves no partial file behind. The
    temporary file is ``.NAME.PID.XXXX.kmq-partial``; those left in the folder by a writer
    that was killed (``kill -9``, a power cut) are removed by the next process that writes there.
    """
    target = Path(path)
    _remove_stale_temporaries(target.parent)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(path: str | os.PathLike[str], image: object, colors: int = 256, **options: object) -> None:
    """Encode ``image`` and write it to ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
    image : PIL.Image.Image or array_like
    colors : int, default=256
    **options
        As for :func:`encode`.
    """
    write_atomic(path, encode(image, colors, **options))  # type: ignore[arg-type]


def load(
    path: str | os.PathLike[str], *, max_pixels: int | str | None = PILLOW_LIMIT
) -> np.ndarray:
    """Read and decode a ``.kmq`` file to a (height, width, 3 or 4) uint8 array.

    ``max_pixels`` is as for :func:`read`.
    """
    return decode(Path(path).read_bytes(), max_pixels=max_pixels)
