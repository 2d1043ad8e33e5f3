"""Many files with the same options: on this machine's cores, or on a Dask cluster.

:func:`encode` and :func:`decode` take files and folders and return one :class:`FileResult` per
file (sizes, PSNR, time, or the error), in input order. One per-file function does the work
wherever it runs: workers read and write the files themselves (on a cluster, on shared
storage), and only paths and results travel. Runs are resumable: an output newer than its input
is skipped (``force=True`` redoes it); every write is atomic, so an interrupted run leaves no
partial file; Ctrl-C, or the death of the parent process, stops the local workers.

Past one machine, pass a ``dask.distributed.Client`` (``pip install kmcodec[dask]``)::

    from dask.distributed import Client
    results = kmcodec.batch.encode(["/shared/photos"], colors=64, client=Client("tcp://scheduler:8786"))
    print(kmcodec.batch.failure_report(results))
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import codec
from . import options as _options
from .errors import AnimatedInputError, KmqError, QualityError
from .files import expand, gif_transparency, open_image, write_atomic
from .quantization.pixels import as_pixels

__all__ = [
    "FileResult",
    "check_kmq_suffix",
    "decode",
    "decode_file",
    "decode_files",
    "decoded_name",
    "encode",
    "encode_file",
    "encode_files",
    "expand_kmq",
    "failure_report",
    "find_clashes",
    "local_cluster",
    "output_format",
    "run",
    "run_checked",
    "target_for",
]

#: Files handed to a worker at a time: fewer round trips for small images (a Dask task costs
#: about a millisecond of scheduling), and still a balanced load over hundreds of files.
CHUNK = 8


@dataclass
class FileResult:
    """What happened to one input file.

    Attributes
    ----------
    source, target : str
        ``target`` is None when the output went to memory (standard output).
    status : str
        "ok", "up-to-date" (skipped: the output is newer than the input), "unreadable" (the
        input is not an image), "exists" (the output exists and is older than the input, and
        ``force`` was not given), "unwritable" (the output cannot be written), "clash" (the
        output is the input itself, another input, or the output of another input of the same
        batch: nothing is written for any of them), "failed" (anything else, e.g. a corrupt
        ``.kmq`` file), "quality" (``quality``'s minimum not reached), "larger" (skipped by
        ``skip_if_larger``) or "animated" (the frame asked for is not in the input).
    message : str
        Why, when not "ok".
    bytes_in, bytes_out, colors : int
    psnr, seconds : float
    frames : int
        Frames encoded: more than 1 for an animated input kept as an animation.
    """

    source: str
    target: str | None
    status: str = "ok"
    message: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    colors: int = 0
    psnr: float = 0.0
    seconds: float = 0.0
    frames: int = 1

    @property
    def ok(self) -> bool:
        """True if the output is there and current ("ok" or "up-to-date")."""
        return self.status in ("ok", "up-to-date")


def target_for(
    source: str, out_dir: str | os.PathLike[str] | None = None, ext: str = ".kmq"
) -> str:
    """The output path for ``source``: its name with ``ext``, beside it or in ``out_dir``."""
    path = Path(source)
    folder = Path(out_dir) if out_dir is not None else path.parent
    return str(folder / (path.stem + ext))


def _up_to_date(source: str, target: str) -> bool | None:
    """True if ``target`` is newer than ``source``, False if older, None if it does not exist."""
    try:
        target_time = os.stat(target).st_mtime_ns
    except FileNotFoundError:
        return None
    return target_time >= os.stat(source).st_mtime_ns


def _check_target(result: FileResult, force: bool) -> bool:
    """Apply the resume rule to ``result.target``; return False (with the status set) to skip."""
    if result.target is None or force:
        return True
    newer = _up_to_date(result.source, result.target)
    if newer:
        result.status, result.message = "up-to-date", f"{result.target} is newer than the input"
        return False
    if newer is False:
        result.status = "exists"
        result.message = f"{result.target} exists (older than the input); use --force to overwrite"
        return False
    return True


def _key(path: str) -> str:
    """One spelling per file: the absolute path with symbolic links resolved (and the case folded
    where the platform folds it), so that ``a.png``, ``./a.png`` and a link to it are one file."""
    return os.path.normcase(os.path.realpath(path))


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links too
    except OSError:
        return False


def find_clashes(jobs: Sequence[tuple[str, str | None]]) -> dict[int, str]:
    """The jobs of a batch that must not run because of where they would write.

    A (source, target) job clashes when its target is its own source, when it is another job's
    source (one input would replace another), or when several jobs have the same target (one
    result would silently replace the other). Found before anything is written, so that
    nothing is lost whichever order the workers finish in; ``force`` does not lift it.

    Parameters
    ----------
    jobs : sequence of (str, str or None)
        Source and target paths; a None target (standard output) never clashes.

    Returns
    -------
    dict of int to str
        The index of each clashing job and why, naming the other files.
    """
    sources: dict[str, list[int]] = {}
    targets: dict[str, list[int]] = {}
    for i, (source, target) in enumerate(jobs):
        if source != "-":
            sources.setdefault(_key(source), []).append(i)
        if target is not None:
            targets.setdefault(_key(target), []).append(i)
    clashes: dict[int, str] = {}
    for i, (source, target) in enumerate(jobs):
        if target is None:
            continue
        key = _key(target)
        if source != "-" and (key == _key(source) or _same_file(source, target)):
            clashes[i] = f"the output {target} is the input itself; choose another -o or --ext"
            continue
        others = [jobs[j][0] for j in sources.get(key, []) if j != i]
        if others:
            clashes[i] = (
                f"the output {target} is another input of this run ({others[0]});"
                " nothing written for either"
            )
            continue
        same = [jobs[j][0] for j in targets[key] if j != i]
        if same:
            both = "both" if len(same) == 1 else "all"
            clashes[i] = (
                f"{source} and {', '.join(same)} would {both} be written to {target}; nothing"
                f" written for {'either' if len(same) == 1 else 'any'} (use -o, --ext or"
                " out_dir to keep them apart)"
            )
    return clashes


def _refuse_clashes(
    jobs: Sequence[tuple[str, str | None]],
) -> tuple[list[tuple[int, tuple[str, str | None]]], dict[int, FileResult]]:
    """Split ``jobs`` into those that may run (with their index) and the results of those that
    clash (status "clash")."""
    clashes = find_clashes(jobs)
    refused = {
        i: FileResult(source=jobs[i][0], target=jobs[i][1], status="clash", message=why)
        for i, why in clashes.items()
    }
    return [(i, job) for i, job in enumerate(jobs) if i not in clashes], refused


def run_checked(
    function: Callable[[list, dict[str, Any]], list[FileResult]],
    jobs: Sequence[tuple[str, str | None]],
    settings: dict[str, Any],
    *,
    progress: Callable[[FileResult], None] | None = None,
    **how: Any,
) -> list[FileResult]:
    """:func:`run` after :func:`find_clashes`: clashing jobs are not run (their results say
    "clash" and why); the rest run as by :func:`run`. Results are in the order of ``jobs``."""
    runnable, refused = _refuse_clashes(jobs)
    if progress is not None:
        for result in refused.values():
            progress(result)
    results = run(function, [job for _, job in runnable], settings, progress=progress, **how)
    out: list[FileResult | None] = [None] * len(jobs)
    for (i, _), result in zip(runnable, results, strict=True):
        out[i] = result
    for i, result in refused.items():
        out[i] = result
    return [r for r in out if r is not None]


def other_image_format(suffix: str) -> str | None:
    """The image format (other than KMQ) whose files end with ``suffix``, as Pillow knows them,
    or None: a ``.kmq`` file must not be written under a PNG's name."""
    from PIL import Image

    from .format.layout import EXTENSION

    suffix = suffix.lower()
    if suffix == EXTENSION:
        return None
    return Image.registered_extensions().get(suffix)


def encode_file(
    source: str,
    target: str | None,
    options: dict[str, Any],
    *,
    force: bool = False,
    skip_if_larger: bool = False,
    data: bytes | None = None,
    frame: int | None = None,
) -> tuple[FileResult, bytes | None]:
    """Encode one image file; the per-file function of :func:`encode`.

    Parameters
    ----------
    source : str
        The image file (any format Pillow reads), or a name for ``data``.
    target : str or None
        Where to write the ``.kmq`` file; None returns the bytes instead.
    options : dict
        Encode options (:mod:`kmcodec.options`).
    force, skip_if_larger : bool
        Overwrite an output newer than the input; write nothing if the ``.kmq`` file would be
        larger than the input.
    data : bytes, optional
        The input file's bytes, if it is not to be read from ``source``.
    frame : int, optional
        The frame to encode of an image of several frames; without it such an image is refused
        (status "animated") rather than losing its other frames.

    Returns
    -------
    result : FileResult
    encoded : bytes or None
        The file, when ``target`` is None.
    """
    t0 = time.perf_counter()
    result = FileResult(source=source, target=target)
    if data is None and not _check_target(result, force):
        if result.status == "up-to-date":
            result.bytes_in = os.path.getsize(source)
            result.bytes_out = os.path.getsize(target)  # type: ignore[arg-type]
        return result, None
    try:
        result.bytes_in = len(data) if data is not None else os.path.getsize(source)
        im = open_image(data if data is not None else source, frame)
    except AnimatedInputError as exc:
        if frame is not None:  # a frame out of range
            return _stopped(result, "animated", str(exc))
        return _encode_animation_file(result, data, source, target, options, skip_if_larger, t0)
    except Exception as exc:
        return _stopped(result, "unreadable", f"cannot read image: {exc}")
    try:
        # The pixels and metadata out of Pillow's image, then the image closed: it is 4 bytes
        # a pixel that the quantiser's peak need not carry.
        file_options = codec.options_with_metadata(im, options)
        pixels = as_pixels(im, codec.MAX_PIXELS)
        im.close()
        del im
        q = codec.quantize(pixels, **file_options)
        del pixels
        encoded = q.encode()
    except QualityError as exc:
        return _stopped(result, "quality", str(exc))
    except (ValueError, TypeError, KmqError, MemoryError) as exc:
        return _stopped(result, "failed", str(exc))
    result.colors, result.psnr, result.bytes_out = q.colors, q.psnr, len(encoded)
    return _finish(result, encoded, target, skip_if_larger, t0)


def _finish(
    result: FileResult, encoded: bytes, target: str | None, skip_if_larger: bool, t0: float
) -> tuple[FileResult, bytes | None]:
    """The end of an encode: skipped if larger (``skip_if_larger``), else written atomically."""
    if skip_if_larger and len(encoded) > result.bytes_in:
        result.status = "larger"
        result.message = (
            f"skipped: {len(encoded)} bytes would be larger than the input's {result.bytes_in}"
        )
        return result, None
    if target is not None and not _wrote(result, target, encoded):
        return result, None
    result.seconds = time.perf_counter() - t0
    return result, encoded


def _stopped(result: FileResult, status: str, message: str) -> tuple[FileResult, None]:
    """``result`` marked with ``status`` and ``message``, and no output."""
    result.status, result.message = status, message
    return result, None


class _UnreadableFrameError(Exception):
    """A frame of an animated input that Pillow cannot read (carries Pillow's error)."""


def _source_frames(source: Any, durations: list[int] | None = None) -> Iterator[Any]:
    """Every frame of an open animated image as Pillow composites it, one at a time (no more
    than one held whole); each frame's duration appended to ``durations`` as it is read."""
    from PIL import ImageSequence

    try:
        for frame in ImageSequence.Iterator(source):
            frame.load()
            if durations is not None:
                durations.append(int(frame.info.get("duration", 0) or 0))
            yield frame
    except Exception as exc:  # Pillow raises many kinds for a damaged frame
        raise _UnreadableFrameError(str(exc)) from exc


def _encode_animation_file(
    result: FileResult,
    data: bytes | None,
    source: str,
    target: str | None,
    options: dict[str, Any],
    skip_if_larger: bool,
    t0: float,
) -> tuple[FileResult, bytes | None]:
    """Encode every frame of an animated input (GIF, APNG, WebP, multi-page TIFF) as one
    animated ``.kmq`` file: exactly, unless it has more colours than a GIF frame holds or
    ``colors`` asks for fewer (:func:`kmcodec.animation.encode_animation`). The frames are
    read one at a time, as the encoder takes them, and read again for the PSNR: memory is a
    few frames, not the whole animation."""
    import io

    from PIL import Image

    from .animation import encode_animation, read_animation

    def opened() -> Any:
        return Image.open(io.BytesIO(data) if data is not None else source)

    durations: list[int] = []  # filled as the frames are read, used after the last
    try:
        im = opened()
    except Exception as exc:  # Pillow raises many kinds for a file it cannot open
        return _stopped(result, "unreadable", f"cannot read image: {exc}")
    with im:
        loop = im.info.get("loop")
        opts = dict(codec.options_with_metadata(im, options))
        colors = opts.pop("colors", None)
        try:
            encoded = encode_animation(
                _source_frames(im, durations), durations, loop, colors, **opts
            )
        except _UnreadableFrameError as exc:
            return _stopped(result, "unreadable", f"cannot read image: {exc}")
        except QualityError as exc:
            return _stopped(result, "quality", str(exc))
        except (ValueError, TypeError, KmqError, MemoryError) as exc:
            return _stopped(result, "failed", str(exc))
    anim = read_animation(encoded, max_pixels=None)
    result.colors, result.bytes_out, result.frames = (
        anim.header.colors,
        len(encoded),
        len(durations),
    )
    try:
        with opened() as im:
            result.psnr = _animation_psnr(_source_frames(im), anim)
    except _UnreadableFrameError as exc:  # pragma: no cover - it was read a moment ago
        return _stopped(result, "unreadable", f"cannot read image: {exc}")
    return _finish(result, encoded, target, skip_if_larger, t0)


def _animation_psnr(frames: Iterable[Any], anim: Any) -> float:
    """PSNR over every frame's RGBA (transparent pixels as one colour), inf if exact. A frame
    equal to its source (every frame, for a GIF kept exactly) is found so by one comparison
    of its pixels' words; only the others are measured."""
    import math

    import numpy as np

    from .animation import _frame_codes

    total, count = 0.0, 0
    for n, frame in enumerate(frames):
        want = _frame_codes(frame)
        got = anim.words(n)  # R, G, B, A bytes: as big-endian words, the codes' values
        count += want.size * 4
        if np.array_equal(want, got.view(">u4")):
            continue
        a = want.astype(">u4").view(np.uint8).reshape(-1).astype(np.int32)
        total += float(((a - got.view(np.uint8).reshape(-1).astype(np.int32)) ** 2).sum())
    mse = total / count
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _wrote(result: FileResult, target: str, data: bytes) -> bool:
    """Write ``data`` to ``target`` atomically; on failure mark ``result`` "unwritable"."""
    try:
        write_atomic(target, data)
    except OSError as exc:
        result.status, result.message = "unwritable", f"cannot write {target}: {_reason(exc)}"
        return False
    return True


def _reason(exc: OSError) -> str:
    """An OS error's reason without the path it names (the caller names the file the user
    knows, not a temporary one)."""
    return exc.strerror or str(exc)


def decode_file(
    source: str,
    target: str | None,
    *,
    force: bool = False,
    max_pixels: int | str | None = codec.PILLOW_LIMIT,
    format: str | None = None,
    data: bytes | None = None,
) -> tuple[FileResult, bytes | None]:
    """Decode one ``.kmq`` file to an image file; the per-file function of :func:`decode`.

    Parameters
    ----------
    source : str
        The ``.kmq`` file, or a name for ``data``.
    target : str or None
        The image file to write, in the format its suffix names (or ``format``); None returns
        the bytes instead (PNG unless ``format`` says otherwise).
    force : bool
        Overwrite an output newer than the input (an older one is overwritten only with it
        too).
    max_pixels : int, str or None
        As for :func:`kmcodec.read`.
    format : str, optional
        A Pillow format name, for a target whose suffix does not name one.
    data : bytes, optional
        The ``.kmq`` file's bytes, if they are not to be read from ``source``.

    Returns
    -------
    result : FileResult
    encoded : bytes or None
        The image file, when ``target`` is None.

    The output is lossless wherever the format allows it: palette PNG, GIF, TIFF, BMP, and
    WebP written lossless; JPEG (never lossless) at quality 95 without chroma subsampling.
    Transparency: kept by PNG, WebP and TIFF (RGBA); by GIF where it is one fully transparent
    entry (else the file fails, naming the formats that hold it); dropped by BMP and JPEG.
    """
    t0 = time.perf_counter()
    result = FileResult(source=source, target=target)
    if data is None and not _check_target(result, force):
        return result, None
    try:
        if data is None:
            data = Path(source).read_bytes()
        result.bytes_in = len(data)
        if _is_animation(data):
            return _decode_animation_file(result, data, target, max_pixels, format, t0)
        image = codec.read(data, max_pixels=max_pixels)
    except OSError as exc:
        return _stopped(result, "unreadable", f"cannot read: {_reason(exc)}")
    except KmqError as exc:
        return _stopped(result, "failed", str(exc))
    shown = target or "standard output"
    try:
        encoded = to_image_file(image, target, format)
    except (OSError, ValueError, KeyError) as exc:
        return _stopped(result, "failed", f"cannot make {shown}: {exc}")
    if target is not None and not _wrote(result, target, encoded):
        return result, None
    result.colors, result.bytes_out = image.header.colors, len(encoded)
    result.seconds = time.perf_counter() - t0
    return result, encoded


def _is_animation(data: bytes) -> bool:
    """Whether a file's header says it is an animation (False for anything else: the reader
    then says what is wrong)."""
    from .format.layout import FLAG_ANIMATION, HEADER_SIZE, MAGIC

    return len(data) >= HEADER_SIZE and data.startswith(MAGIC) and bool(data[9] & FLAG_ANIMATION)


def _decode_animation_file(
    result: FileResult,
    data: bytes,
    target: str | None,
    max_pixels: int | str | None,
    format: str | None,
    t0: float,
) -> tuple[FileResult, bytes | None]:
    from .animation import read_animation

    shown = target or "standard output"
    try:
        anim = read_animation(data, max_pixels=max_pixels)
        encoded = to_animation_file(anim, target, format)
    except KmqError as exc:
        return _stopped(result, "failed", str(exc))
    except (OSError, ValueError, KeyError) as exc:
        return _stopped(result, "failed", f"cannot make {shown}: {exc}")
    if target is not None and not _wrote(result, target, encoded):
        return result, None
    result.colors, result.bytes_out, result.frames = anim.header.colors, len(encoded), anim.n_frames
    result.seconds = time.perf_counter() - t0
    return result, encoded


def decode_frames(
    source: str,
    folder: str,
    *,
    force: bool = False,
    max_pixels: int | str | None = codec.PILLOW_LIMIT,
) -> FileResult:
    """Write every frame of a ``.kmq`` file (a still file: its one image) as a palette PNG in
    ``folder``: ``NAME-0000.png``, ``NAME-0001.png``, ... (``NAME`` the input's stem). A frame
    file that exists is overwritten only with ``force``; none is written if any exists."""
    import io

    from .animation import read_animation

    result = FileResult(source=source, target=folder)
    t0 = time.perf_counter()
    try:
        data = Path(source).read_bytes()
        result.bytes_in = len(data)
        anim = read_animation(data, max_pixels=max_pixels)
    except OSError as exc:
        result.status, result.message = "unreadable", f"cannot read: {_reason(exc)}"
        return result
    except KmqError as exc:
        result.status, result.message = "failed", str(exc)
        return result
    out = Path(folder)
    names = [out / f"{Path(source).stem}-{n:04d}.png" for n in range(anim.n_frames)]
    existing = [p for p in names if p.exists()]
    if existing and not force:
        result.status = "exists"
        result.message = f"{existing[0]} exists (and {len(existing) - 1} more); --force overwrites"
        return result
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        result.status, result.message = "unwritable", f"cannot make {folder}: {_reason(exc)}"
        return result
    for path, frame in zip(names, animation_frames(anim, len(anim.palette) <= 256), strict=True):
        buf = io.BytesIO()
        frame.save(buf, format="PNG")
        if not _wrote(result, str(path), buf.getvalue()):
            return result
        result.bytes_out += buf.tell()
    result.colors, result.frames = anim.header.colors, anim.n_frames
    result.seconds = time.perf_counter() - t0
    return result


#: Formats that hold an animation, each written losslessly by Pillow's ``save_all``.
ANIMATION_FORMATS = ("GIF", "PNG", "WEBP")


def animation_frames(anim: Any, palette_frames: bool) -> Iterable[Any]:
    """An animation's frames as PIL images: "P" with the file's palette (and its alpha as
    ``transparency``) if ``palette_frames``, else "RGB" or "RGBA"."""
    from PIL import Image

    for n in range(anim.n_frames):
        if palette_frames:
            im = Image.fromarray(anim.indices(n), mode="P")
            im.putpalette(anim.palette[:, :3].tobytes())
            if anim.palette.shape[1] == 4:
                im.info["transparency"] = anim.palette[:, 3].tobytes()
        else:
            im = Image.fromarray(anim.frame(n))
        im.info["duration"] = anim.durations[n]
        yield im


def to_animation_file(anim: Any, target: str | None, format: str | None = None) -> bytes:
    """An animated ``.kmq`` file as an animated GIF, APNG or WebP (lossless, every frame, the
    durations and loop count kept).

    Raises
    ------
    ValueError
        The format holds one image, or GIF for an animation it cannot hold exactly (more than
        256 colours, or partial transparency).
    """
    import io

    fmt = output_format(target, format)
    n = anim.n_frames
    if fmt not in ANIMATION_FORMATS:
        msg = (
            f"{fmt} holds one image and the file is an animation of {n} frames: write .gif,"
            " .png (APNG) or .webp, or one PNG per frame with --frames DIR"
        )
        raise ValueError(msg)
    alpha = anim.palette[:, 3] if anim.palette.shape[1] == 4 else None
    gif = gif_transparency(anim.palette)
    if fmt == "GIF" and (gif is None or len(anim.palette) > 256):
        msg = (
            f"GIF cannot hold this animation exactly ({len(anim.palette)} colours"
            f"{', partial transparency' if alpha is not None else ''}): write .png or .webp"
        )
        raise ValueError(msg)
    palette_frames = len(anim.palette) <= 256 and fmt != "WEBP"
    frames = list(animation_frames(anim, palette_frames))
    save: dict[str, Any] = dict(save_all=True, append_images=frames[1:], duration=anim.durations)
    save.update(_LOSSLESS.get(fmt, {}))
    if anim.loop is not None or fmt == "WEBP":
        save["loop"] = anim.loop or 0
    if fmt == "GIF":
        # A GIF frame leaves the pixels it does not paint as they were (disposal 1), so a pixel
        # that turns transparent needs the frame before it cleared (disposal 2). Cleared after
        # every frame, each is drawn over a wholly transparent canvas: exact, if larger.
        clear = alpha is not None and _turns_transparent(frames, alpha == 0)
        save.update(optimize=False, disposal=2 if clear else 1, **(gif or {}))
    buf = io.BytesIO()
    try:
        frames[0].save(buf, format=fmt, **save)
    except ValueError:
        if fmt != "PNG" or not palette_frames:
            raise
        # Pillow before 10.3 cannot convert an APNG's frames of a small palette to packed
        # indices ("conversion not supported"): one byte an index then
        buf = io.BytesIO()
        frames[0].save(buf, format=fmt, bits=8, **save)
    return buf.getvalue()


def _turns_transparent(frames: list[Any], clear: Any) -> bool:
    """Whether a pixel opaque in one palette frame is transparent in the next (``clear``:
    which palette entries are transparent)."""
    import numpy as np

    shown = None
    for frame in frames:
        now = clear[np.asarray(frame)]
        if shown is not None and (now & shown).any():
            return True
        shown = ~now
    return False


#: Formats that store a palette image as it is (with its transparency), so the decoded file
#: stays as small as the palette allows.
_PALETTE_FORMATS = frozenset({"PNG", "GIF", "TIFF", "BMP", "WEBP"})
#: Of those, formats whose palette images drop a transparency Pillow gives them: an image
#: with alpha is written as RGBA (TIFF) or without its alpha (BMP, like JPEG: no alpha there).
_PALETTE_NO_ALPHA = frozenset({"TIFF", "BMP"})
#: Save options that make each format's output lossless (or, for JPEG, as close as it goes).
_LOSSLESS = {
    "WEBP": {"lossless": True, "quality": 100, "method": 4},
    "JPEG": {"quality": 95, "subsampling": 0},
}


def output_format(target: str | None, format: str | None = None) -> str:
    """The Pillow format a decoded file is written in: ``format``, else the one ``target``'s
    suffix names, else PNG for standard output.

    Raises
    ------
    ValueError
        If ``format`` is not a format Pillow writes, ``target``'s suffix names none (and no
        ``format`` is given), or it names KMQ (decoding writes another format).
    """
    from PIL import Image

    Image.init()
    if format is not None:
        fmt = format.upper()
        if fmt not in Image.SAVE:
            known = ", ".join(sorted(Image.SAVE))
            msg = f"Pillow does not write the format {format!r} (it writes {known})"
            raise ValueError(msg)
    elif target in (None, "-"):
        fmt = "PNG"
    else:
        suffix = Path(target).suffix.lower()
        found = Image.registered_extensions().get(suffix)
        if found is None or found not in Image.SAVE:
            msg = (
                f"{target}: no image format Pillow writes ends with {suffix or 'no suffix'!r};"
                " use .png, .webp, .gif, .tiff, ... or --format"
            )
            raise ValueError(msg)
        fmt = found
    if fmt == "KMQ":
        msg = f"{target or 'the output'}: decoding writes another format (.png, .webp, ...)"
        raise ValueError(msg)
    return fmt


def to_image_file(image: codec.KmqImage, target: str | None, format: str | None = None) -> bytes:
    """A decoded file as the bytes of another image format (see :func:`output_format`): mode
    "P" with its palette (alpha as tRNS) for formats that keep palettes, else RGB or RGBA;
    lossless where the format can be (see :func:`decode_file`); ICC profile and EXIF kept."""
    import io

    from PIL import Image

    from .format.layout import exif_from_chunk

    fmt = output_format(target, format)
    alpha = image.palette[:, 3] if image.palette.shape[1] == 4 else None
    save: dict[str, Any] = dict(_LOSSLESS.get(fmt, {}))
    if fmt == "GIF":
        gif = gif_transparency(image.palette)
        if gif is None:
            msg = "GIF cannot hold this image's transparency exactly: write .png or .webp"
            raise ValueError(msg)
        save.update(gif)
    if fmt in _PALETTE_FORMATS and not (fmt in _PALETTE_NO_ALPHA and alpha is not None):
        im = Image.fromarray(image.indices, mode="P")
        im.putpalette(image.palette[:, :3].tobytes())
        if alpha is not None and fmt != "GIF":
            im.info["transparency"] = alpha.tobytes()
    else:
        im = Image.fromarray(image.image())
        if im.mode == "RGBA" and fmt in ("JPEG", "PPM", "BMP"):
            im = im.convert("RGB")  # formats without alpha: drop it, as Pillow users would
    if image.icc_profile:
        save["icc_profile"] = image.icc_profile
    if image.exif:
        save["exif"] = exif_from_chunk(image.exif)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **save)
    return buf.getvalue()


# --- running per-file functions over many files ---


#: Thread-count variables of the BLAS libraries numpy may be built with.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _worker_init(parent: int) -> None:
    """Run in each local worker process: die with the parent, leave Ctrl-C to it, and when
    stopped (the parent's SIGTERM after Ctrl-C) remove the file it was writing first. The
    workers fill the cores, so each decodes coding 2 and encodes animation frames on one thread
    (threads of their own would only contend with the other workers)."""
    import signal
    import threading

    from . import animation
    from .files import remove_unfinished
    from .format.codings import fast

    fast.THREADS = 1
    animation.THREADS = 1

    def stop(signum: int, frame: object) -> None:
        remove_unfinished()
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    try:  # Linux: the kernel kills this process when its parent dies
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere: notice that the parent is gone
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def encode_files(jobs: list[tuple[str, str | None]], settings: dict[str, Any]) -> list[FileResult]:
    """Encode (source, target) pairs with ``settings`` (``options``, ``force``,
    ``skip_if_larger``, optionally ``frame``): the unit of work :func:`run` hands a worker, and
    what ``kmq encode`` runs with its own targets (``-o``, ``--ext``)."""
    opts = settings["options"]
    return [
        encode_file(
            s,
            t,
            opts,
            force=settings["force"],
            skip_if_larger=settings["skip_if_larger"],
            frame=settings.get("frame"),
        )[0]
        for s, t in jobs
    ]


def decode_files(jobs: list[tuple[str, str]], settings: dict[str, Any]) -> list[FileResult]:
    """Decode (source, target) pairs with ``settings`` (``force``, ``max_pixels``, optionally
    ``format``)."""
    return [decode_file(s, t, **settings)[0] for s, t in jobs]


def _call(task: tuple[Callable[..., list[FileResult]], list, dict]) -> list[FileResult]:
    function, jobs, settings = task
    return function(jobs, settings)


def run(
    function: Callable[[list, dict[str, Any]], list[FileResult]],
    jobs: Sequence[Any],
    settings: dict[str, Any],
    *,
    workers: int | None = None,
    client: Any = None,
    chunk: int = CHUNK,
    progress: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Run ``function(chunk_of_jobs, settings)`` over ``jobs`` and return the results in order.

    Parameters
    ----------
    function : callable
        A module-level function (workers import it) taking a list of jobs and ``settings``
        and returning one :class:`FileResult` per job.
    jobs : sequence
    settings : dict
        The same for every job (options and flags): small and picklable.
    workers : int, optional
        Local processes (default: the number of cores); 1 runs in this process.
    client : dask.distributed.Client, optional
        Run on this Dask cluster instead (``workers`` is then ignored).
    chunk : int
        Jobs per task.
    progress : callable, optional
        Called with each result as it arrives (in completion order).

    Raises
    ------
    KeyboardInterrupt
        After stopping the local workers (files already written are complete).
    """
    if client is not None:
        slots = max(
            1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        )
    else:
        slots = workers or os.cpu_count() or 1
    # at least 4 tasks per worker, so that a slow file does not leave the others idle
    chunk = max(1, min(chunk, len(jobs) // (4 * slots)))
    chunks = [list(jobs[i : i + chunk]) for i in range(0, len(jobs), chunk)]
    out: list[list[FileResult] | None] = [None] * len(chunks)

    def done(index: int, results: list[FileResult]) -> None:
        out[index] = results
        if progress is not None:
            for r in results:
                progress(r)

    if client is not None:
        from dask.distributed import as_completed

        futures = client.map(function, chunks, settings=settings, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures):
                done(index[future.key], future.result())
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
        return [r for part in out for r in part or []]
    workers = min(workers or os.cpu_count() or 1, max(len(chunks), 1))
    if workers <= 1:
        for i, c in enumerate(chunks):
            done(i, function(c, settings))
        return [r for part in out for r in part or []]
    # One BLAS thread per worker, as Dask's nannies do: the workers already fill the cores,
    # and OpenBLAS's idle threads spin (numpy starts them on import) and take CPU from them.
    # The workers inherit the environment when they start, at the first submissions.
    saved = {name: os.environ.get(name) for name in _BLAS_THREADS}
    for name in _BLAS_THREADS:
        os.environ.setdefault(name, "1")
    try:
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        futures = {pool.submit(_call, (function, c, settings)): i for i, c in enumerate(chunks)}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        for future in concurrent.futures.as_completed(futures):
            done(futures[future], future.result())
    except KeyboardInterrupt:
        # The workers ignore SIGINT (no tracebacks from them): stop them here.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        # Let the pool's manager thread see the workers gone and end now: left running, it can
        # race the interpreter's exit and print "Exception ignored ... Bad file descriptor".
        manager = getattr(pool, "_executor_manager_thread", None)
        if manager is not None:
            manager.join(timeout=10)
        raise
    pool.shutdown()
    return [r for part in out for r in part or []]


def encode(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    ext: str = ".kmq",
    force: bool = False,
    skip_if_larger: bool = False,
    frame: int | None = None,
    workers: int | None = None,
    client: Any = None,
    progress: Callable[[FileResult], None] | None = None,
    **options: Any,
) -> list[FileResult]:
    """Encode image files (folders are expanded to their images) as ``.kmq``.

    Parameters
    ----------
    inputs : iterable of paths
    out_dir : path, optional
        Where to write (default: beside each input), as ``NAME`` + ``ext``.
    force : bool
        Redo outputs that are newer than their input, overwrite older ones.
    skip_if_larger : bool
        Write nothing where the ``.kmq`` file would be larger than the input.
    frame : int, optional
        The frame to take of inputs with several frames; without it they are refused
        (status "animated").
    workers, client, progress
        See :func:`run`.
    **options
        Encode options (:mod:`kmcodec.options`), checked before any work starts.

    Returns
    -------
    list of FileResult
        One per input file, in input order.
    """
    _options.resolve(**options)  # a bad option fails here, not in every worker
    check_kmq_suffix(ext)
    sources = expand(inputs)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    jobs = [(s, target_for(s, out_dir, ext)) for s in sources]
    settings = dict(options=options, force=force, skip_if_larger=skip_if_larger, frame=frame)
    return run_checked(
        encode_files, jobs, settings, workers=workers, client=client, progress=progress
    )


def check_kmq_suffix(name: str) -> None:
    """Refuse to write ``.kmq`` bytes under a name (or ``--ext``) whose suffix names another
    image format (``-o out.png``, ``--ext=.png``): the file would lie about what it is.

    Raises
    ------
    ValueError
    """
    suffix = Path("x" + name).suffix if name.startswith(".") else Path(name).suffix
    fmt = other_image_format(suffix)
    if fmt is not None:
        msg = (
            f"{name!r} names a {fmt} file, and a .kmq file would be written under it;"
            " use a name ending in .kmq"
        )
        raise ValueError(msg)


def decode(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    ext: str = ".png",
    format: str | None = None,
    force: bool = False,
    max_pixels: int | str | None = codec.PILLOW_LIMIT,
    workers: int | None = None,
    client: Any = None,
    progress: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Decode ``.kmq`` files (folders are expanded to their ``.kmq`` files) to image files.

    Each output is the input's whole name with ``ext`` added (``photo.kmq`` ->
    ``photo.kmq.png``), beside it or in ``out_dir``: never the name of the image the ``.kmq``
    file was probably made from. The format is the one ``ext`` names (or ``format``),
    lossless where it can be (:func:`decode_file`). The other options are as for
    :func:`encode`; ``max_pixels`` as for :func:`kmcodec.read`.

    Raises
    ------
    ValueError
        If ``ext`` (or ``format``) names no format Pillow writes, or names KMQ.
    """
    sources = expand_kmq(inputs)
    output_format("x" + ext, format)  # refused here, not in every worker
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    jobs = [(s, decoded_name(s, out_dir, ext)) for s in sources]
    settings = dict(force=force, max_pixels=max_pixels, format=format)
    return run_checked(
        decode_files, jobs, settings, workers=workers, client=client, progress=progress
    )


def expand_kmq(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Folders expanded to the ``.kmq`` files they hold (in name order); other paths kept."""
    sources: list[str] = []
    for p in inputs:
        path = Path(p)
        if str(p) != "-" and path.is_dir():
            sources += [str(f) for f in sorted(path.iterdir()) if f.suffix.lower() == ".kmq"]
        else:
            sources.append(str(p))
    return sources


def decoded_name(
    source: str, out_dir: str | os.PathLike[str] | None = None, ext: str = ".png"
) -> str:
    """Where :func:`decode` writes ``source``: its whole name plus ``ext``, beside it or in
    ``out_dir`` (``photo.kmq`` -> ``photo.kmq.png``, as pngquant writes ``photo-fs8.png``)."""
    path = Path(source)
    folder = Path(out_dir) if out_dir is not None else path.parent
    return str(folder / (path.name + ext))


def failure_report(results: Iterable[FileResult]) -> str:
    """One line per file that failed (not "ok" or "up-to-date"): its path, status and error."""
    return "\n".join(f"{r.source}: {r.status}: {r.message}" for r in results if not r.ok)


def local_cluster(workers: int | None = None) -> Any:
    """A ``dask.distributed.Client`` on a LocalCluster of ``workers`` processes (default: the
    number of cores), one thread each: what ``kmq encode --dask local`` uses."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the optional extra
        msg = "Dask is not installed: pip install 'kmcodec[dask]'"
        raise ImportError(msg) from exc
    import dask

    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, so that glibc hands freed
    # memory back to the system at once; numpy's many short-lived arrays then cost a system
    # call each (measured: half the throughput of local processes on 256x256 images). glibc's
    # own default (a dynamic threshold) is what the local processes run with.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = _new_cluster(LocalCluster, workers)
    return Client(cluster)


def _new_cluster(LocalCluster: Any, workers: int | None) -> Any:  # noqa: N803
    return LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # any free port: a second cluster must not clash
        host="127.0.0.1",
    )


def connect(address: str, workers: int | None = None) -> Any:
    """A Dask client for ``address`` ("local" starts a LocalCluster of ``workers`` processes,
    default one per core, on this machine)."""
    if address == "local":
        return local_cluster(workers)
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - the optional extra
        msg = "Dask is not installed: pip install 'kmcodec[dask]'"
        raise ImportError(msg) from exc
    return Client(address)
