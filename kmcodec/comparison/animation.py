"""Animations on disk: ``.kmq`` against the original, gifsicle -O3 and animated WebP lossless.

Used by ``kmq compare`` for inputs of several frames and by ``tools/bench_anim.py``. Every
``.kmq`` file made is decoded and compared frame by frame with what Pillow composites from the
input (``exact``); the peers run where installed (``apt-get install gifsicle webp``) and are
left out otherwise. Sizes are of the files written; opening times are the best of ``repeat``
runs in this process, encoding times the best of up to 3, for .kmq (opening the input with
Pillow and ``im.save(f, "KMQ", save_all=True)``: its frames read as they are encoded) and for
gifsicle; the runs compared are taken in turn (:func:`best_in_turn`).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PEERS",
    "best_in_turn",
    "composited",
    "measure_animation",
    "open_every_frame",
    "save_all",
]

#: The peers measured, by the command that must be on PATH.
PEERS = ("gifsicle", "gif2webp")


def composited(source: Path | bytes) -> tuple[list[np.ndarray], list[int], int | None]:
    """Every frame as Pillow composites it (RGBA, transparent pixels as 0), the durations and
    the loop count (None if the file gives none)."""
    from PIL import Image, ImageSequence

    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(fp) as im:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(im):
            a = np.array(frame.convert("RGBA"))
            a[a[..., 3] == 0] = 0
            frames.append(a)
            durations.append(int(frame.info.get("duration", 0) or 0))
        return frames, durations, im.info.get("loop")


def open_every_frame(path: Path) -> None:
    """What a Pillow user does to show an animation: open it and load each frame."""
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            frame.load()


def save_all(path: Path) -> bytes:
    """The animated ``.kmq`` file of ``path``, as a Pillow user writes it:
    ``im.save(f, "KMQ", save_all=True)`` (the encoder's defaults, every frame)."""
    from PIL import Image

    out = io.BytesIO()
    with Image.open(path) as im:
        im.save(out, format="KMQ", save_all=True)
    return out.getvalue()


def best_in_turn(jobs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """The best of ``repeat`` runs of each job, in seconds, the jobs taken in turn (one run of
    each, then the next round), so that a slow spell of a shared machine falls on all of
    them rather than on one: their ratios are steadier than those of runs taken job by job."""
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(repeat):
        for name, fn in jobs.items():
            best[name] = min(best[name], _timed(fn))
    return best


def _run(cmd: list[str]) -> float:
    return _timed(
        partial(
            subprocess.run, cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )


def _peer(cmd: list[str], failed: list[str]) -> float | None:
    """Run a peer's command once: its time, or None, with the tool named in ``failed``, if it
    refuses the file (gif2webp: a frame outside the canvas)."""
    try:
        return _run(cmd)
    except subprocess.CalledProcessError:
        failed.append(cmd[0])
        return None


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _pillow_webp(source: Path, target: Path) -> None:
    """Animated WebP lossless of every frame, as ``gif2webp -m 6 -q 100`` makes of a GIF."""
    from PIL import Image

    with Image.open(source) as im:
        im.save(target, "WEBP", save_all=True, lossless=True, quality=100, method=6)


def _rgba(a: np.ndarray) -> np.ndarray:
    if a.shape[2] == 4:
        return a
    return np.concatenate([a, np.full((*a.shape[:2], 1), 255, np.uint8)], axis=2)


def measure_animation(
    source: Path, out: Path, *, repeat: int = 3, min_size: bool = False
) -> dict[str, Any]:
    """Measure one animation; write the files measured into ``out``.

    Returns
    -------
    dict
        ``file``, ``frames``, ``canvas``, ``colors``; sizes in bytes: ``gif`` (the input),
        ``kmq`` (the encoder's default), ``kmq_c1`` (coding 1), ``gifsicle``, ``webp``
        (``gif2webp -m 6 -q 100``) and ``webp_min`` (with ``-min_size``, if asked) where
        installed, for a GIF; for an APNG or a WebP, ``webp`` from Pillow's writer (lossless,
        method 6, quality 100) and no gifsicle; ``exact``; seconds: ``encode_s``,
        ``open_kmq_s``, ``open_gif_s``, ``gifsicle_s``, ``webp_s``, ``open_webp_s``.
    """
    from ..animation import encode_animation, read_animation

    out.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"file": source.name, "gif": source.stat().st_size}
    kmq = save_all(source)
    frames, durations, loop = composited(source)
    row["frames"] = len(frames)
    row["canvas"] = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
    row["kmq"] = len(kmq)
    row["kmq_c1"] = len(encode_animation(frames, durations, loop, coding=1))
    anim = read_animation(kmq, max_pixels=None)
    row["colors"] = anim.header.colors
    row["exact"] = anim.n_frames == len(frames) and all(
        np.array_equal(_rgba(anim.frame(n)), f) for n, f in enumerate(frames)
    )
    del frames, anim
    kmq_path = out / f"{source.stem}.kmq"
    kmq_path.write_bytes(kmq)
    # encoding timed as a Pillow user (and `kmq encode`) runs it: open the file, every frame
    # read and encoded as it is composited; best of up to 3 runs, taken in turn with gifsicle's
    encoders: dict[str, Callable[[], Any]] = {"encode_s": lambda: save_all(source)}
    openers: dict[str, Callable[[], Any]] = {
        "open_kmq_s": lambda: open_every_frame(kmq_path),
        "open_gif_s": lambda: open_every_frame(source),
    }
    with source.open("rb") as f:
        is_gif = f.read(4) == b"GIF8"  # gifsicle and gif2webp read GIFs only
    failed: list[str] = []  # peers that refuse the file: left out, and named
    if shutil.which("gifsicle") and is_gif:
        o3 = out / f"{source.stem}.O3.gif"
        cmd = ["gifsicle", "-O3", str(source), "-o", str(o3)]
        if _peer(cmd, failed) is not None:
            encoders["gifsicle_s"] = partial(_run, cmd)
            row["gifsicle"] = o3.stat().st_size
    webp = out / f"{source.stem}.webp"
    if not is_gif:  # an APNG or a WebP: Pillow's WebP writer (libwebp's), lossless
        row["webp_s"] = _timed(partial(_pillow_webp, source, webp))
    elif shutil.which("gif2webp"):
        cmd = ["gif2webp", "-m", "6", "-q", "100", str(source), "-o", str(webp)]
        seconds = _peer(cmd, failed)
        if seconds is not None:
            row["webp_s"] = seconds
            if min_size:
                small = out / f"{source.stem}.min.webp"
                cmd = ["gif2webp", "-min_size", "-m", "6", "-q", "100", str(source)]
                _run([*cmd, "-o", str(small)])
                row["webp_min"] = small.stat().st_size
    if "webp_s" in row:
        row["webp"] = webp.stat().st_size
        openers["open_webp_s"] = lambda: open_every_frame(webp)
    if failed:
        row["peers_failed"] = failed
    row.update(best_in_turn(encoders, max(1, min(repeat, 3))))
    row.update(best_in_turn(openers, repeat))
    return row
