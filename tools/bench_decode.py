"""Decode speed through Pillow: ``Image.open(f).load()`` of a .kmq file against a PNG-8 holding
the same palette and indices.

Usage::

    python tools/bench_decode.py [CORPUS_DIR] [--colors 2,16,256] [--repeat 7] [--limit N]
                                 [--large 4000x3000]

For each image and K it quantises once with kmcodec, writes the result as ``.kmq`` (default
settings) and as PNG-8 (Pillow, default compression), and times ``Image.open(path).load()`` of
each, ``--repeat`` times (the median counts; files are read from the page cache). It also checks
that both decode to the same pixels. Then the same for one large photo (default 12 MP, an upscaled
Kodak image with sensor-like noise). The goal: .kmq loads in at most half the time of PNG-8.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import corpus_files
from PIL import Image

import kmcodec


def load_time(path: Path, repeat: int) -> tuple[float, np.ndarray]:
    times = []
    pixels = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with Image.open(path) as im:
            im.load()
            elapsed = time.perf_counter() - t0
            if pixels is None:
                pixels = np.asarray(im.convert("RGB"))
        times.append(elapsed)
    return float(np.median(times)), pixels


def measure(pixels: np.ndarray, k: int, folder: Path, repeat: int) -> tuple[float, float, int, int]:
    q = kmcodec.quantize(pixels, k)
    kmq_path, png_path = folder / "x.kmq", folder / "x.png"
    kmq_path.write_bytes(q.encode())
    p = Image.fromarray(q.indices, mode="P")
    p.putpalette(q.palette[:, :3].tobytes())
    p.save(png_path)
    t_kmq, a = load_time(kmq_path, repeat)
    t_png, b = load_time(png_path, repeat)
    if not np.array_equal(a, b):
        raise SystemExit("the .kmq and PNG-8 files decode to different pixels")
    return t_kmq, t_png, kmq_path.stat().st_size, png_path.stat().st_size


def row(label: str, k: int, t_kmq: float, t_png: float, ratio: float, sizes: tuple) -> str:
    return (
        f"{label:<24}{k:>4}{1000 * t_kmq:>13.2f}{1000 * t_png:>15.2f}{ratio:>8.2f}"
        f"{sizes[0]:>11.0f}{sizes[1]:>13.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path)
    parser.add_argument("--colors", default="2,4,16,256")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--large", default="4000x3000", help="size of the large photo, or 0")
    args = parser.parse_args(argv)
    corpus, files = corpus_files(args.corpus, args.limit)
    ks = [int(k) for k in args.colors.split(",")]
    print(f"corpus: {corpus} ({len(files)} images); Pillow {Image.__version__};", end=" ")
    print(f"median of {args.repeat} loads")
    print(
        f"{'images':<24}{'K':>4}{'kmq load ms':>13}{'PNG-8 load ms':>15}{'ratio':>8}"
        f"{'kmq bytes':>11}{'PNG-8 bytes':>13}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in ks:
            rows = []
            for path in files:
                with Image.open(path) as im:
                    pixels = np.asarray(im.convert("RGB"))
                rows.append(measure(pixels, k, folder, args.repeat))
            a = np.median(np.array(rows), axis=0)
            ratio = float(np.median([r[0] / r[1] for r in rows]))
            print(row(f"{corpus.name} ({len(files)}), median", k, a[0], a[1], ratio, (a[2], a[3])))
        if args.large and args.large != "0":
            width, height = (int(v) for v in args.large.split("x"))
            with Image.open(files[0]) as im:
                resized = im.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
            rng = np.random.default_rng(0)
            noisy = np.asarray(resized, dtype=np.int16) + rng.normal(0, 2.0, (height, width, 3))
            big = np.clip(noisy, 0, 255).astype(np.uint8)
            label = f"{width}x{height} ({width * height / 1e6:.0f} MP)"
            for k in ks:
                t_kmq, t_png, s_kmq, s_png = measure(big, k, folder, args.repeat)
                print(row(label, k, t_kmq, t_png, t_kmq / t_png, (s_kmq, s_png)))
    print("goal: ratio (kmq time / PNG-8 time) <= 0.50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
