"""Measure how the index plane codes: bits per pixel by index width, zstd level and smoothing.

Usage::

    python tools/bench_index_coding.py [CORPUS_DIR] [--colors 2,5,16,20,64] [--levels 3,9,19]
                                       [--limit N]

For each image and K it quantises once (kmcodec, smooth=0), packs the indices at every width
1..8 that can hold K (the odd widths too, packed MSB-first like the others), compresses each with
zstd at each level, and prints the median bits per pixel and compression time. A last table shows
what the index-plane smoothing saves at its default budget. These are the figures behind the
format's choice of widths (1, 2, 4, 8) and the default level.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import zstandard
from _common import corpus_files
from PIL import Image

import kmcodec
from kmcodec.quantization.histogram import histogram
from kmcodec.quantization.remap import remap


def pack_any(indices: np.ndarray, bits: int) -> bytes:
    """Pack indices at any width 1-8, MSB first, rows padded to a byte (the spec's layout)."""
    height, width = indices.shape
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint8)
    planes = (indices[:, :, None] >> shifts) & 1
    return np.packbits(planes.reshape(height, width * bits), axis=1).tobytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=None)
    parser.add_argument("--colors", default="2,3,5,8,16,20,64,128")
    parser.add_argument("--levels", default="3,9,19")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    args = parser.parse_args(argv)
    corpus, files = corpus_files(args.corpus, args.limit)
    ks = [int(k) for k in args.colors.split(",")]
    levels = [int(v) for v in args.levels.split(",")]
    compressors = {v: zstandard.ZstdCompressor(level=v) for v in levels}
    print(f"corpus {corpus} ({len(files)} images); median over images")
    sizes: dict[tuple[int, int, int], list[float]] = {}
    times: dict[tuple[int, int, int], list[float]] = {}
    smooth: dict[int, list[tuple[float, float]]] = {}
    for path in files:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        n = pixels.shape[0] * pixels.shape[1]
        hist = histogram(pixels)
        for k in ks:
            q = kmcodec.quantize(pixels, k, smooth=0)
            need = max(1, int(np.ceil(np.log2(max(q.colors, 2)))))
            for bits in range(need, 9):
                data = pack_any(q.indices, bits)
                for level, comp in compressors.items():
                    t0 = time.perf_counter()
                    size = len(comp.compress(data))
                    times.setdefault((k, bits, level), []).append(time.perf_counter() - t0)
                    sizes.setdefault((k, bits, level), []).append(8 * size / n)
            smoothed, _ = remap(hist, q.palette, q.indices.shape, smooth=kmcodec.DEFAULT_SMOOTH)
            exact = len(kmcodec.encode_indexed(q.palette, q.indices))
            small = len(kmcodec.encode_indexed(q.palette, smoothed))
            smooth.setdefault(k, []).append((8 * exact / n, 8 * small / n))
    print(f"\n{'K':>4}{'bits':>5}" + "".join(f"{f'level {v}':>22}" for v in levels))
    for k in ks:
        for bits in range(1, 9):
            if (k, bits, levels[0]) not in sizes:
                continue
            cells = "".join(
                f"{np.median(sizes[k, bits, v]):>10.3f} bpp"
                f" {1000 * np.median(times[k, bits, v]):>6.1f} ms"
                for v in levels
            )
            print(f"{k:>4}{bits:>5}{cells}")
    print(f"\nindex-plane smoothing at smooth={kmcodec.DEFAULT_SMOOTH} dB (default level):")
    print(f"{'K':>4}{'smooth=0 bpp':>14}{'default bpp':>13}{'saved':>8}")
    for k in ks:
        a = np.array(smooth[k])
        print(
            f"{k:>4}{np.median(a[:, 0]):>14.3f}{np.median(a[:, 1]):>13.3f}"
            f"{100 * np.median(1 - a[:, 1] / a[:, 0]):>7.1f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
