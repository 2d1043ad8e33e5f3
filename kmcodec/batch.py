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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import codec
from . import options as _options
from .errors import AnimatedInputError, KmqError, QualityError
from .files import expand, open_image, write_atomic

__all__ = [
    "FileResult",
    "decode",
    "decode_file",
    "decode_files",
    "encode",
    "encode_file",
    "encode_files",
    "failure_report",
    "local_cluster",
    "run",
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
        input is not an image), "unwritable" (the output exists and is older than the input
        without ``force``, or cannot be written), "failed" (anything else, e.g. a corrupt
        ``.kmq`` file), "quality" (``quality``'s minimum not reached), "larger" (skipped by
        ``skip_if_larger``) or "animated" (the input has several frames and none was chosen).
    message : str
        Why, when not "ok".
    bytes_in, bytes_out, colors : int
    psnr, seconds : float
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
        result.status = "unwritable"
        result.message = f"{result.target} exists (older than the input); use --force to overwrite"
        return False
    return True


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
        result.status, result.message = "animated", str(exc)
        return result, None
    except Exception as exc:
        result.status, result.message = "unreadable", f"cannot read image: {exc}"
        return result, None
    try:
        q = codec.quantize(im, **options)
        encoded = q.encode()
    except QualityError as exc:
        result.status, result.message = "quality", str(exc)
        return result, None
    except (ValueError, TypeError, KmqError, MemoryError) as exc:
        result.status, result.message = "failed", str(exc)
        return result, None
    result.colors, result.psnr, result.bytes_out = q.colors, q.psnr, len(encoded)
    if skip_if_larger and len(encoded) > result.bytes_in:
        result.status = "larger"
        result.message = (
            f"skipped: {len(encoded)} bytes would be larger than the input's {result.bytes_in}"
        )
        return result, None
    if target is not None:
        try:
            write_atomic(target, encoded)
        except OSError as exc:
            result.status, result.message = "unwritable", f"cannot write {target}: {exc}"
            return result, None
    result.seconds = time.perf_counter() - t0
    return result, encoded


def decode_file(
    source: str,
    target: str,
    *,
    force: bool = False,
    max_pixels: int | str | None = codec.PILLOW_LIMIT,
    format: str | None = None,
) -> FileResult:
    """Decode one ``.kmq`` file to an image file (PNG unless ``format`` or ``target``'s suffix
    says otherwise); the per-file function of :func:`decode`."""
    t0 = time.perf_counter()
    result = FileResult(source=source, target=target)
    if not _check_target(result, force):
        return result
    try:
        data = Path(source).read_bytes()
        result.bytes_in = len(data)
        image = codec.read(data, max_pixels=max_pixels)
    except OSError as exc:
        result.status, result.message = "unreadable", f"cannot read: {exc}"
        return result
    except KmqError as exc:
        result.status, result.message = "failed", str(exc)
        return result
    try:
        encoded = to_image_file(image, target, format)
        write_atomic(target, encoded)
    except (OSError, ValueError, KeyError) as exc:
        result.status, result.message = "unwritable", f"cannot write {target}: {exc}"
        return result
    result.colors, result.bytes_out = image.header.colors, len(encoded)
    result.seconds = time.perf_counter() - t0
    return result


#: Formats that store a palette image as it is (with its transparency), so the decoded file
#: stays as small as the palette allows.
_PALETTE_FORMATS = frozenset({"PNG", "GIF", "TIFF", "BMP", "WEBP"})


def to_image_file(image: codec.KmqImage, target: str | None, format: str | None = None) -> bytes:
    """A decoded file as the bytes of another image format: mode "P" with its palette (alpha as
    tRNS) for formats that keep palettes, else RGB or RGBA; ICC profile and EXIF kept."""
    import io

    from PIL import Image

    from .format.layout import exif_from_chunk

    fmt = format
    if fmt is None and target not in (None, "-"):
        fmt = Image.registered_extensions().get(Path(target).suffix.lower())  # type: ignore[arg-type]
    fmt = (fmt or "PNG").upper()
    if fmt in _PALETTE_FORMATS:
        im = Image.fromarray(image.indices, mode="P")
        im.putpalette(image.palette[:, :3].tobytes())
        if image.palette.shape[1] == 4:
            im.info["transparency"] = image.palette[:, 3].tobytes()
    else:
        im = Image.fromarray(image.image())
        if im.mode == "RGBA" and fmt in ("JPEG", "PPM"):
            im = im.convert("RGB")  # formats without alpha: drop it, as Pillow users would
    save: dict[str, Any] = {}
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
    stopped (the parent's SIGTERM after Ctrl-C) remove the file it was writing first."""
    import signal
    import threading

    from .files import remove_unfinished

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
    """Decode (source, target) pairs with ``settings`` (``force``, ``max_pixels``)."""
    return [decode_file(s, t, **settings) for s, t in jobs]


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
    sources = expand(inputs)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    jobs = [(s, target_for(s, out_dir, ext)) for s in sources]
    settings = dict(options=options, force=force, skip_if_larger=skip_if_larger, frame=frame)
    return run(encode_files, jobs, settings, workers=workers, client=client, progress=progress)


def decode(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    ext: str = ".png",
    force: bool = False,
    max_pixels: int | str | None = codec.PILLOW_LIMIT,
    workers: int | None = None,
    client: Any = None,
    progress: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Decode ``.kmq`` files (folders are expanded to their ``.kmq`` files) to ``ext`` images.

    The options are as for :func:`encode`; ``max_pixels`` as for :func:`kmcodec.read`.
    """
    sources: list[str] = []
    for p in inputs:
        path = Path(p)
        sources += [str(f) for f in sorted(path.glob("*.kmq"))] if path.is_dir() else [str(path)]
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    jobs = [(s, target_for(s, out_dir, ext)) for s in sources]
    settings = dict(force=force, max_pixels=max_pixels)
    return run(decode_files, jobs, settings, workers=workers, client=client, progress=progress)


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
