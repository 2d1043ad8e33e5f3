"""A large photo (6000x4000 by default) at K=256: kmcodec's time and peak memory, next to
pngquant's.

Usage::

    python tools/bench_large.py [IMAGE] [--colors 256] [--size 6000x4000] [--workers 2]

With no IMAGE it builds a test photo: a Kodak image (or a repository sample) upscaled with
Lanczos filtering plus a little Gaussian noise, as a camera's sensor adds, so it has the
millions of distinct colours of a real photo.

Memory is peak resident memory (Linux's VmHWM / ru_maxrss), so it counts everything numpy,
zstd, Pillow and Python allocate. Three measurements:

- ``kmcodec.encode`` in a fresh process, its peak above the process's size when it started
  (Python, numpy and the pixels already there);
- whole ``kmq encode FILE`` and ``pngquant FILE`` runs, dithered (both tools' default) and
  ``--nofs``, each process's peak, in bytes per pixel; the goal is at most 20 bytes a pixel plus
  64 MB for kmq;
- ``kmq encode -j N`` of N copies: the whole process tree's resident memory, sampled every 5
  ms, against N times that budget.

pngquant runs with OMP_NUM_THREADS=1, timed as a whole run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from kmcodec.quantization.histogram import histogram

ROOT = Path(__file__).resolve().parent.parent
KODAK = ROOT.parent / "shared" / "corpus" / "kodak" / "kodim05.png"

#: Both child scripts read their peak resident memory (Linux's VmHWM) with this.
HWM = r"""
def high_water_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
"""

CHILD = r"""
import os, sys, time
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np
from PIL import Image
import kmcodec

%(HWM)s
Image.MAX_IMAGE_PIXELS = None
with Image.open(sys.argv[1]) as im:
    pixels = np.asarray(im.convert("RGB"))
loaded = high_water_mib()
with open("/proc/self/clear_refs", "w") as f:  # reset the peak to the current size
    f.write("5")
before = high_water_mib()
t0 = time.perf_counter()
data = kmcodec.encode(pixels, int(sys.argv[2]))
elapsed = time.perf_counter() - t0
peak = high_water_mib()
value = kmcodec.psnr(pixels, kmcodec.decode(data))
open(sys.argv[3], "wb").write(data)
print(elapsed, peak, before, len(data), value, loaded)
"""

DECODE_CHILD = r"""
import sys, time
from PIL import Image
import kmcodec

%(HWM)s
Image.MAX_IMAGE_PIXELS = None
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = high_water_mib()
t0 = time.perf_counter()
with Image.open(sys.argv[1]) as im:
    im.load()
    elapsed = time.perf_counter() - t0
    peak = high_water_mib()
    print(elapsed, before, peak, im.width * im.height, im.mode)
"""


CHILD = CHILD.replace("%(HWM)s", HWM)
DECODE_CHILD = DECODE_CHILD.replace("%(HWM)s", HWM)


def make_photo(path: Path, size: tuple[int, int], source: Path) -> None:
    with Image.open(source) as im:
        big = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    rng = np.random.default_rng(0)
    pixels = np.asarray(big, dtype=np.int16) + rng.normal(
        0, 2.0, size=(size[1], size[0], 3)
    ).astype(np.int16)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, compress_level=1)


#: A fresh process that runs a command and prints its peak resident memory in KiB
#: (ru_maxrss of its only child), so that each measurement is of that command alone.
PEAK_OF = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

#: The memory goal of a whole ``kmq encode`` process: bytes a pixel, and a constant.
GOAL_PER_PIXEL, GOAL_CONSTANT = 20, 64_000_000


def peak_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``command`` alone in a fresh process; return (its peak resident bytes, seconds)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PEAK_OF, *command], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"bench_large: {command[0]} failed: {out.stderr.strip()[-400:]}")
    return int(out.stdout.split()[-1]) * 1024.0, seconds


def _tree_rss(root: int) -> int:
    """Resident bytes of process ``root`` and all its descendants (Linux /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * resource.getpagesize()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(p for p, pp in parent.items() if pp == pid)
    return total


def tree_peak_of(command: list[str]) -> tuple[float, float]:
    """Run ``command``; return (the peak of its process tree's resident bytes, sampled every
    5 ms, and seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.005)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench_large: {command[0]} failed: {proc.stderr.read().decode()[-400:]}")
    return float(peak), seconds


def memory_goal(pixels: int) -> float:
    """The most bytes a whole ``kmq encode`` of an image of ``pixels`` pixels may peak at."""
    return GOAL_PER_PIXEL * pixels + GOAL_CONSTANT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path)
    parser.add_argument("--colors", type=int, default=256)
    parser.add_argument("--size", default="6000x4000")
    parser.add_argument("--workers", type=int, default=2, help="for the batch measurement")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        if args.image:
            src = args.image
        else:
            src = Path(tmp) / "large.png"
            source = KODAK if KODAK.is_file() else ROOT / "samples" / "kodim05.png"
            make_photo(src, (width, height), source)
        Image.MAX_IMAGE_PIXELS = None  # our own test image, not a decompression bomb
        with Image.open(src) as im:
            size = im.size
            distinct = len(histogram(np.asarray(im.convert("RGB"))))
        print(
            f"image: {src.name}, {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.1f} MP),"
            f" {distinct} distinct colours; K = {args.colors}"
        )
        kmq_path = Path(tmp) / "large.kmq"
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(src), str(args.colors), str(kmq_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        elapsed, peak, before, nbytes, value, loaded = (float(v) for v in out)
        print(
            f"kmcodec.encode:  {elapsed:6.2f} s, peak memory {peak:6.0f} MiB during encode"
            f" ({before:.0f} MiB when it started: Python, numpy and the"
            f" {3 * size[0] * size[1] / 1e6:.0f} MB of pixels;"
            f" loading the PNG with Pillow peaked at {loaded:.0f} MiB before that),"
            f" {int(nbytes)} bytes, PSNR {value:.2f} dB"
        )
        pixels = size[0] * size[1]
        goal = memory_goal(pixels)
        kmq = str(Path(sys.executable).with_name("kmq"))
        pngquant = shutil.which("pngquant")
        env = dict(os.environ, OMP_NUM_THREADS="1")
        print(
            f"\nWhole processes, peak resident memory (goal for kmq: <= {GOAL_PER_PIXEL} bytes a"
            f" pixel + {GOAL_CONSTANT // 1_000_000} MB = {goal / 2**20:.0f} MiB here)"
        )
        print(f"{'command':<28}{'MiB':>7}{'bytes/pixel':>13}{'seconds':>9}")
        for label, flags in (("dithered", []), ("--nofs", ["--nofs"])):
            out_path = Path(tmp) / "whole.kmq"
            rows = [("kmq encode " + label, [kmq, "encode", *flags, "-f", "-o", str(out_path)])]
            if pngquant:
                rows.append(
                    ("pngquant " + label, [pngquant, *flags, "-f", "-o", str(Path(tmp) / "w.png")])
                )
            measured = {}
            for name, command in rows:
                colours = (
                    [str(args.colors)]
                    if name.startswith("pngquant")
                    else ["--colors", str(args.colors)]
                )
                used, seconds = peak_of([*command, *colours, str(src)], env)
                measured[name] = used
                print(f"{name:<28}{used / 2**20:>7.0f}{used / pixels:>13.1f}{seconds:>9.2f}")
            used = measured["kmq encode " + label]
            verdict = "met" if used <= goal else "NOT met"
            versus = ""
            if pngquant:
                versus = f", {used / measured['pngquant ' + label]:.2f}x pngquant's"
            print(
                f"  goal kmq encode {label} <= {goal / 2**20:.0f} MiB:"
                f" {used / 2**20:.0f} MiB{versus}, {verdict}"
            )
        folder = Path(tmp) / "batch"
        folder.mkdir()
        for i in range(args.workers):
            (folder / f"copy{i}.png").symlink_to(src)
        used, seconds = tree_peak_of(
            [
                kmq,
                "encode",
                "-q",
                "-f",
                "-j",
                str(args.workers),
                "--colors",
                str(args.colors),
                str(folder),
            ]
        )
        budget = args.workers * goal
        print(
            f"kmq encode -j {args.workers} of {args.workers} copies: whole process tree peak"
            f" {used / 2**20:.0f} MiB in {seconds:.2f} s (goal <= {args.workers} x"
            f" {goal / 2**20:.0f} = {budget / 2**20:.0f} MiB):"
            f" {'met' if used <= budget else 'NOT met'}"
        )
        dec = subprocess.run(
            [sys.executable, "-c", DECODE_CHILD, str(kmq_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        d_seconds, d_before, d_peak, d_pixels = (float(v) for v in dec[:4])
        image_mib = d_pixels / 2**20  # mode "P": one byte a pixel
        print(
            f"Image.open(f).load() of the .kmq file: {d_seconds:5.2f} s, resident memory"
            f" {d_before:.0f} -> {d_peak:.0f} MiB: {d_peak - d_before:.0f} MiB for a"
            f" {image_mib:.0f} MiB {dec[4]} image ({(d_peak - d_before) / image_mib:.2f}x its size)"
        )
        if pngquant:
            dst = Path(tmp) / "pq.png"
            t0 = time.perf_counter()
            subprocess.run(
                [pngquant, "--nofs", "--force", "--output", str(dst), str(args.colors), str(src)],
                check=True,
                env=env,
                capture_output=True,
            )
            pq_time = time.perf_counter() - t0
            with Image.open(src) as a, Image.open(dst) as b:
                pq_psnr = 10 * np.log10(
                    255**2
                    / np.mean(
                        (
                            np.asarray(a.convert("RGB"), np.int32)
                            - np.asarray(b.convert("RGB"), np.int32)
                        )
                        ** 2
                    )
                )
            print(
                f"pngquant:        {pq_time:6.2f} s (whole run, reads and writes PNG),"
                f" {dst.stat().st_size} bytes, PSNR {pq_psnr:.2f} dB"
            )
            print(f"time ratio kmcodec/pngquant: {elapsed / pq_time:.2f}")
        else:
            print("skipped pngquant: not on PATH (apt-get install pngquant)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
