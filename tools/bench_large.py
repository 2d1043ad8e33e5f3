"""A 6000x4000 photo at K=256: kmcodec's time and peak memory, next to pngquant's.

Usage::

    python tools/bench_large.py [IMAGE] [--colors 256] [--size 6000x4000]

With no IMAGE it builds a 24-megapixel test photo: a Kodak image (or a repository sample)
upscaled with Lanczos filtering plus a little Gaussian noise, as a camera's sensor adds, so it has
the millions of distinct colours of a real photo. Each encoder runs in a fresh process; peak
memory is that process's peak resident set size, so it counts everything numpy,
zstd and Python allocate (Linux's VmHWM, reset just before encoding). pngquant runs with
OMP_NUM_THREADS=1 and ``--nofs``, timed as a whole run.
"""

from __future__ import annotations

import argparse
import os
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path)
    parser.add_argument("--colors", type=int, default=256)
    parser.add_argument("--size", default="6000x4000")
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
        print(
            f"whole encode process: peak resident memory {max(peak, loaded):.0f} MiB"
            f" (goal <= 1024 MiB: {'met' if max(peak, loaded) <= 1024 else 'NOT met'})"
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
        pngquant = shutil.which("pngquant")
        if pngquant:
            dst = Path(tmp) / "pq.png"
            env = dict(os.environ, OMP_NUM_THREADS="1")
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
