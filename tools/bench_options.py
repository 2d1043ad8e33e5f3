"""What kmcodec's options buy: quality, size and time of each setting, side by side.

Usage::

    python tools/bench_options.py [CORPUS_DIR] [--colors 16,64,256] [--limit N]
        [--variant NAME=key=value,... ...]

For each image, K and variant it runs ``kmcodec.encode`` and measures, on the decoded file:
PSNR (dB), SSIM (Wang et al., numpy), the mean colour difference in Oklab (ΔEok x100, lower is
better), bits per pixel of the ``.kmq`` file, and encode time. It prints the medians per K.

The default variants answer the questions the design notes' choices rest on: sRGB or Oklab k-means
(``color_space``), what ordered dithering costs in bytes (``dither``), what the index-plane
smoothing saves (``smooth``), and the speed knob's two ends.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from _common import corpus_files, parse_options
from PIL import Image

import kmcodec
from kmcodec.metrics import delta_e_ok, ssim

DEFAULT_VARIANTS = [
    "default=",
    "oklab=color_space=oklab",
    "dither=dither=1.0",
    "no-smooth=smooth=0",
    "speed1=speed=1",
    "speed10=speed=10",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path)
    parser.add_argument("--colors", default="16,64,256")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--variant", action="append", default=None)
    args = parser.parse_args(argv)
    corpus, files = corpus_files(args.corpus, args.limit)
    ks = [int(k) for k in args.colors.split(",")]
    variants = {}
    for spec in args.variant or DEFAULT_VARIANTS:
        name, _, opts = spec.partition("=")
        variants[name] = parse_options(opts)
    print(f"corpus: {corpus} ({len(files)} images); medians over images")
    results: dict[tuple[int, str], list[tuple[float, float, float, float, float]]] = {}
    for path in files:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        n = pixels.shape[0] * pixels.shape[1]
        for k in ks:
            for name, options in variants.items():
                t0 = time.perf_counter()
                data = kmcodec.encode(pixels, k, **options)  # type: ignore[arg-type]
                elapsed = time.perf_counter() - t0
                out = kmcodec.decode(data)
                results.setdefault((k, name), []).append(
                    (
                        kmcodec.psnr(pixels, out),
                        ssim(pixels, out),
                        delta_e_ok(pixels, out),
                        8 * len(data) / n,
                        elapsed,
                    )
                )
        print(f"  {path.name} done", file=sys.stderr, flush=True)
    print(f"\n{'K':>4}  {'variant':<14}{'PSNR dB':>9}{'SSIM':>8}{'ΔEok':>7}{'bpp':>8}{'time s':>8}")
    for k in ks:
        for name in variants:
            a = np.median(np.array(results[k, name]), axis=0)
            print(f"{k:>4}  {name:<14}{a[0]:>9.2f}{a[1]:>8.4f}{a[2]:>7.3f}{a[3]:>8.3f}{a[4]:>8.3f}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
