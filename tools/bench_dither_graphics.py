"""Does dithering add bytes to graphics? Dithered against undithered .kmq sizes on a folder of
charts, screenshots and pixel art (issue 13: the dither map should leave flat fills, text and
lines alone, so that dithered files stay within 5% of undithered ones there).

    python tools/bench_dither_graphics.py [DIR] [--colors 8,16,64]

Prints, per image and K, both sizes and their ratio, then the median ratio and the cases over
1.05 with what the dither map made of them (the share of pixels it dithers).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from PIL import Image

import kmcodec
from kmcodec.quantization.remap import dither_map

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT.parent / "shared" / "corpus" / "graphics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_DIR))
    parser.add_argument("--colors", default="8,16,64")
    args = parser.parse_args()
    ks = [int(k) for k in args.colors.split(",")]
    files = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() == ".png")
    if not files:
        raise SystemExit(f"no PNG images in {args.folder}")
    print(f"{len(files)} images in {args.folder}; K = {', '.join(map(str, ks))}")
    header = ("image", "K", "plain", "dithered", "ratio", "dithered px")
    print("{:28s} {:>4s} {:>9s} {:>9s} {:>6s} {:>11s}".format(*header))
    ratios = []
    over = []
    for path in files:
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB"))
        share = float((dither_map(pixels) > 0).mean())
        for k in ks:
            plain = len(kmcodec.encode(pixels, k))
            dithered = len(kmcodec.encode(pixels, k, dither=True))
            ratio = dithered / plain
            ratios.append(ratio)
            line = f"{path.name:28s} {k:4d} {plain:9d} {dithered:9d} {ratio:6.3f} {share:11.1%}"
            print(line)
            if ratio > 1.05:
                over.append(line)
    print(f"median dithered/plain over {len(ratios)} cases: {statistics.median(ratios):.3f}")
    print(f"cases over 1.05: {len(over)}")
    for line in over:
        print("  " + line)


if __name__ == "__main__":
    main()
