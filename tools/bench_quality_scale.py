"""kmcodec's quality (0-100) against pngquant's own report, on the same images.

Usage::

    python tools/bench_quality_scale.py [CORPUS_DIR] [--colors 256] [--step N]

For each image: pngquant's reported quality for its own result (``--verbose``, "Q="), kmcodec's
measure (:func:`kmcodec.quantization.quality.pngquant_error`) of that same pngquant result --
the two must agree -- and the quality of kmcodec's own quantisation at the same K. Needs
pngquant on PATH.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from _common import corpus_files
from PIL import Image

import kmcodec
from kmcodec.quantization.quality import mse_to_quality, pngquant_error_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=None)
    parser.add_argument("--colors", type=int, default=256)
    parser.add_argument("--step", type=int, default=1)
    args = parser.parse_args(argv)
    if shutil.which("pngquant") is None:
        print("skipped: pngquant is not installed (apt-get install -y pngquant)")
        return 0
    corpus, files = corpus_files(args.corpus)
    files = files[:: args.step]
    print(f"corpus {corpus}: {len(files)} images, K = {args.colors}")
    print(f"{'image':<12}{'pngquant Q':>11}{'kmcodec measure':>17}{'kmcodec own Q':>15}")
    gaps, own = [], []
    for path in files:
        run = subprocess.run(
            ["pngquant", str(args.colors), "--nofs", "--verbose", "--output", "-", str(path)],
            capture_output=True,
        )
        reported = int(re.search(rb"\(Q=(\d+)\)", run.stderr)[1])
        with Image.open(io.BytesIO(run.stdout)) as im:
            theirs = np.asarray(im.convert("RGB"))
        with Image.open(path) as im:
            original = np.asarray(im.convert("RGB"))
        ours = mse_to_quality(pngquant_error_of(original, theirs))
        mine = kmcodec.quantize(original, args.colors).quality
        gaps.append(ours - reported)
        own.append(mine - reported)
        print(f"{path.stem:<12}{reported:>11}{ours:>17}{mine:>15}")
    print(
        f"kmcodec's measure minus pngquant's report: median {np.median(gaps):+.1f},"
        f" largest {max(gaps, key=abs):+d}; kmcodec's own quality minus pngquant's: median"
        f" {np.median(own):+.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
