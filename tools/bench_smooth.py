"""What the index-plane smoothing saves in each coding, per dB of PSNR it spends.

Usage::

    python tools/bench_smooth.py [CORPUS_DIR] [--colors 4,16,64,256] [--budgets 0.01,0.02,0.05,0.1]
                                 [--step N]

For each image and K it quantises with ``smooth=0`` and with each budget (dB of PSNR the encoder
may spend on switching pixels to their second-nearest colour where the neighbours agree), codes
the indices with coding 0 and coding 1, and prints per K and budget the median PSNR spent, the
median size saved in each coding, and the saving per dB spent.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import corpus_files
from PIL import Image

import kmcodec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=None)
    parser.add_argument("--colors", default="4,16,64,256")
    parser.add_argument("--budgets", default="0.01,0.02,0.05,0.1")
    parser.add_argument("--step", type=int, default=1, help="use every Nth image")
    args = parser.parse_args(argv)
    corpus, files = corpus_files(
        None if args.corpus is None else __import__("pathlib").Path(args.corpus)
    )
    files = files[:: args.step]
    ks = [int(k) for k in args.colors.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")]
    print(f"corpus {corpus}: {len(files)} images; median over images")
    print(
        f"{'K':>4}{'budget dB':>10}{'spent dB':>10}{'c0 saved':>10}{'c1 saved':>10}"
        f"{'c0 %/dB':>9}{'c1 %/dB':>9}"
    )
    for k in ks:
        rows: dict[float, list[tuple[float, float, float]]] = {b: [] for b in budgets}
        for path in files:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))
            base = kmcodec.quantize(pixels, k, smooth=0)
            size0 = {c: len(base.encode(coding=c)) for c in (0, 1)}
            for b in budgets:
                q = kmcodec.quantize(pixels, k, smooth=b)
                size = {c: len(q.encode(coding=c)) for c in (0, 1)}
                rows[b].append((base.psnr - q.psnr, 1 - size[0] / size0[0], 1 - size[1] / size0[1]))
        for b in budgets:
            spent, s0, s1 = (float(np.median(col)) for col in zip(*rows[b], strict=True))
            per = max(spent, 1e-9)
            print(
                f"{k:>4}{b:>10.2f}{spent:>10.3f}{100 * s0:>9.1f}%{100 * s1:>9.1f}%"
                f"{100 * s0 / per:>9.0f}{100 * s1 / per:>9.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
