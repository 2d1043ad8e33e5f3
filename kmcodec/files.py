"""Files on disk: which files a folder gives, opening an image as pngquant would, and writing
a file so that no reader ever sees half of it.

The command line, ``kmq compare``, the batch tools and :func:`kmcodec.save` all go through here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "IMAGE_SUFFIXES",
    "TEMP_SUFFIX",
    "expand",
    "open_image",
    "read_pixels",
    "to_encodable",
    "write_atomic",
]

#: File suffixes taken from a folder (formats Pillow reads; ``.kmq`` is left out, as a folder's
#: images are what is to be encoded).
IMAGE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".bmp",
        ".gif",
        ".tif",
        ".tiff",
        ".webp",
        ".ppm",
        ".pgm",
        ".pnm",
        ".tga",
    }
)


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand folders into the image files they hold (not recursively, in name order); other
    paths, and ``-`` for standard input, are kept as they are."""
    files: list[str] = []
    for p in paths:
        path = Path(p)
        if str(p) != "-" and path.is_dir():
            files += [str(f) for f in sorted(path.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        else:
            files.append(str(p))
    return files


def open_image(source: str | os.PathLike[str] | bytes, frame: int | None = None) -> Any:
    """Open and load an image as pngquant would take it: anything Pillow reads (a path, or the
    file's bytes), converted by :func:`to_encodable` to a mode kmcodec encodes.

    An image of several frames (animated GIF, APNG or WebP, multi-page TIFF) is refused with
    :class:`~kmcodec.AnimatedInputError` unless ``frame`` (counted from 0) says which to take;
    ``frame`` out of range is an ``AnimatedInputError`` too.
    """
    from PIL import Image, UnidentifiedImageError

    from .errors import AnimatedInputError

    if isinstance(source, bytes):
        try:
            im = Image.open(io.BytesIO(source))
        except UnidentifiedImageError:
            # Pillow's message names the BytesIO object ("<_io.BytesIO object at 0x...>").
            msg = f"cannot identify image file: {len(source)} bytes in no format Pillow reads"
            raise UnidentifiedImageError(msg) from None
    else:
        im = Image.open(source)
    frames = getattr(im, "n_frames", 1)
    if frame is None and frames > 1:
        msg = (
            f"the image has {frames} frames and this takes one image: choose it with frame=N"
            f" (kmq encode --frame N), 0 to {frames - 1}; kmq encode without --frame keeps"
            " every frame as an animated .kmq file"
        )
        raise AnimatedInputError(msg)
    if frame is not None:
        if not 0 <= frame < frames:
            msg = f"no frame {frame}: the image has {frames} (0 to {frames - 1})"
            raise AnimatedInputError(msg)
        im.seek(frame)
    im.load()
    return to_encodable(im)


def read_pixels(source: str | os.PathLike[str] | bytes, frame: int | None = None) -> Any:
    """An image file's pixels as kmcodec quantises them: a (height, width, 3) uint8 array, or
    (height, width, 4) if it has transparency (see :func:`open_image`, which refuses an image of
    several frames unless ``frame`` is given)."""
    from .quantization.pixels import as_pixels, drop_opaque_alpha

    return drop_opaque_alpha(as_pixels(open_image(source, frame)))


def to_encodable(im: Any) -> Any:
    """Convert modes kmcodec does not take: 16- and 32-bit greys to 8 bits (the high byte of
    16-bit samples), CMYK (through its ICC profile to sRGB when it has one) and the other colour
    spaces to RGB. Metadata stays, but a CMYK profile does not describe the RGB result.

    The library itself stays strict about modes (:data:`kmcodec.quantization.pixels.PIL_MODES`);
    the tools that take files convert."""
    import numpy as np
    from PIL import Image

    from .quantization.pixels import PIL_MODES

    if im.mode in PIL_MODES:
        return im
    info = dict(im.info)
    if im.mode.startswith("I;16") or im.mode == "I":
        values = np.asarray(im, dtype=np.uint32 if im.mode == "I" else np.uint16).astype(np.int64)
        wide = im.mode.startswith("I;16") or int(values.max(initial=0)) > 255
        values = (values >> 8) if wide else values
        out = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        out = im.convert("L")
    elif im.mode == "CMYK" and info.get("icc_profile"):
        from PIL import ImageCms

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(info["icc_profile"]))
            srgb = ImageCms.createProfile("sRGB")
            out = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB") or im
        except (ImageCms.PyCMSError, OSError, ValueError):
            out = im.convert("RGB")
        info.pop("icc_profile")
    else:
        out = im.convert("RGB")
        if im.mode == "CMYK":
            info.pop("icc_profile", None)
    out.info = info
    return out


def gif_transparency(palette: Any) -> dict[str, int] | None:
    """GIF's save options for a palette's alpha: ``{}`` where it has none, ``{"transparency":
    i}`` for one fully transparent entry; None where a GIF cannot show it exactly (partial
    alpha, or several fully transparent entries, whose colours differ)."""
    if palette.shape[1] < 4:
        return {}
    alpha = palette[:, 3]
    clear = alpha == 0
    if ((alpha != 0) & (alpha != 255)).any() or int(clear.sum()) > 1:
        return None
    return {"transparency": int(clear.argmax())} if clear.any() else {}


#: Temporary files of :func:`write_atomic` end with this, after the writer's host and process ID.
TEMP_SUFFIX = ".kmq-partial"
#: A temporary file older than this is stale even if its process ID is in use again, and a
#: temporary file of another host (a shared folder: NFS, a Dask cluster) is stale only then:
#: its process cannot be seen from here.
_STALE_SECONDS = 24 * 3600
#: The temporary files this process is writing now (see :func:`remove_unfinished`).
_WRITING: set[str] = set()


def _host_name() -> str:
    """This machine's name as it goes into temporary names: letters, digits and ``-`` only
    (no dots, which separate the name's fields)."""
    name = socket.gethostname() or "host"
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:64] or "host"


#: This host, in temporary names (read once; tests patch it to play two hosts).
_HOST = _host_name()


def _read_umask() -> int:
    """The process's umask, read once at import, while no other thread can be writing files:
    ``os.umask`` can only be read by setting it, which races other threads' file creation.
    Linux reports it in /proc without setting it."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def remove_unfinished() -> None:
    """Remove the temporary files this process is in the middle of writing.

    For a process being stopped (a local batch worker on SIGTERM, see :mod:`kmcodec.batch`),
    which will not reach :func:`write_atomic`'s own clean-up.
    """
    for tmp in list(_WRITING):
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    _WRITING.clear()


#: Folders this process has already cleaned of stale temporaries (one scan per folder, not one
#: per file written: a batch writing n files into one folder would otherwise list it n times).
_CLEANED_FOLDERS: set[str] = set()


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # someone else's process, still running
    return False


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove ``.NAME.HOST.PID.XXXX.kmq-partial`` files in ``folder`` left by a writer that was
    killed: of this host, when its process is gone or the file is a day old; of another host
    (or of an older name without the host), only when the file is a day old, since another
    machine's processes cannot be seen from here. Done once per folder per process."""
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
        # NAME may hold dots, so the host and PID are the third and second fields from the end.
        fields = name[: -len(TEMP_SUFFIX)].split(".")
        try:
            host, pid = fields[-3], int(fields[-2])
            age = now - entry.stat().st_mtime
        except (ValueError, IndexError, OSError):
            continue
        if age > _STALE_SECONDS:
            stale = True
        elif host != _HOST or pid == os.getpid():
            stale = False
        else:
            stale = _pid_gone(pid)
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a power cut after it keeps the new file): fsync the
    folder where the platform allows it (POSIX; Windows cannot open a folder for it)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the file itself was synced
    finally:
        os.close(fd)


def _naming(exc: OSError, target: Path) -> OSError:
    """``exc`` about ``target``, the file the user named, rather than the temporary file."""
    if exc.errno is None or exc.strerror is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(target))


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader never sees a half-written file, a failure leaves no partial file behind, and the
    file and the folder are synced so that a completed file survives a power cut. The file gets
    the permissions a new file would (0o666 less the umask). The temporary file is
    ``.NAME.HOST.PID.XXXX.kmq-partial``; those left in the folder by a writer that was killed
    (``kill -9``, a power cut) are removed by the next process that writes there (see
    :func:`_remove_stale_temporaries` for the rule on shared folders).

    Raises
    ------
    OSError
        Naming ``path`` (not the temporary file) when the file cannot be written.
    """
    target = Path(path)
    _remove_stale_temporaries(target.parent)
    # SIGTERM waits while the file is made and listed, so that remove_unfinished finds every
    # temporary file that exists (pthread_sigmask: POSIX; elsewhere there is no SIGTERM
    # handler to race).
    mask = getattr(signal, "pthread_sigmask", None)
    if mask:
        mask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.{_HOST}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=target.parent
        )
        _WRITING.add(tmp)
    except OSError as exc:
        raise _naming(exc, target) from None
    finally:
        if mask:
            mask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, target) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _WRITING.discard(tmp)
    _sync_folder(target.parent)
