"""kmcodec's quantiser against the anchors, side by side on the same images in the same run.

Usage::

    python tools/bench_quantize.py [CORPUS_DIR] [--colors 2,5,10,16,20,32,64,128,256]
        [--limit N] [--sklearn-images N] [--variant NAME=OPTIONS ...] [--csv FILE]

For every image and K it runs, without dithering:

- kmcodec: the whole ``kmcodec.encode`` (histogram, k-means, remap, packing, zstd) at default
  settings, timed in this process (single-threaded: BLAS threads are pinned to 1); its PSNR
  is measured on the decoded file;
- pngquant at its default speed and at ``--speed 1``, both ``--nofs``, with
  ``OMP_NUM_THREADS=1``, timed as whole runs (it reads and writes PNG), when it is on PATH;
- scikit-learn ``KMeans(k, init="k-means++", n_init=1)`` on all pixels, when installed (on
  ``--sklearn-images`` images for K >= 128, as it takes seconds there);
- Pillow's MEDIANCUT, without and with ``kmeans=3``.

It prints, per K, the median PSNR of each, the best anchor and kmcodec's margin over it (the
goal: at least +0.1 dB), and the median over images of kmcodec's time divided by pngquant's
(the goal: at most 1.0). Extra kmcodec settings can be compared with ``--variant``, e.g.
``--variant speed1=speed=1 --variant oklab=color_space=oklab``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: one core, like pngquant
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import corpus_files, parse_options
from PIL import Image

import kmcodec

DEFAULT_KS = "2,5,10,16,20,32,64,128,256"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return kmcodec.psnr(a, b)


def run_kmcodec(pixels: np.ndarray, k: int, options: dict[str, object]) -> tuple[float, float]:
    t0 = time.perf_counter()
    data = kmcodec.encode(pixels, k, **options)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    return psnr(pixels, kmcodec.decode(data)), elapsed


def run_pngquant(
    exe: str, src: Path, pixels: np.ndarray, k: int, speed: int | None
) -> tuple[float, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.png"
        cmd = [exe, "--nofs", "--force", "--output", str(out)]
        if speed is not None:
            cmd += ["--speed", str(speed)]
        t0 = time.perf_counter()
        subprocess.run([*cmd, str(k), str(src)], check=True, env=env, capture_output=True)
        elapsed = time.perf_counter() - t0
        with Image.open(out) as im:
            decoded = np.asarray(im.convert("RGB"))
    return psnr(pixels, decoded), elapsed


def run_sklearn(pixels: np.ndarray, k: int) -> tuple[float, float]:
    from sklearn.cluster import KMeans

    x = pixels.reshape(-1, 3).astype(np.float64)
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=0).fit(x)
    palette = np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)
    out = palette[km.labels_].reshape(pixels.shape)
    return psnr(pixels, out), time.perf_counter() - t0


def run_pillow(pixels: np.ndarray, k: int, kmeans: int) -> tuple[float, float]:
    im = Image.fromarray(pixels)
    t0 = time.perf_counter()
    q = im.quantize(k, method=Image.Quantize.MEDIANCUT, kmeans=kmeans, dither=Image.Dither.NONE)
    out = np.asarray(q.convert("RGB"))
    return psnr(pixels, out), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path)
    parser.add_argument("--colors", default=DEFAULT_KS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument(
        "--sklearn-images",
        type=int,
        default=4,
        help="images scikit-learn runs on for K >= 128 (default 4)",
    )
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="extra kmcodec settings NAME=key=value,key=value",
    )
    parser.add_argument("--csv", type=Path, help="write every measurement here")
    args = parser.parse_args(argv)

    corpus, files = corpus_files(args.corpus, args.limit)
    ks = [int(k) for k in args.colors.split(",")]
    variants = {"kmcodec": {}}
    for spec in args.variant:
        name, _, opts = spec.partition("=")
        variants[f"kmcodec {name}"] = parse_options(opts)

    pngquant = shutil.which("pngquant")
    have_sklearn = False
    if not args.no_sklearn:
        try:
            import sklearn  # noqa: F401

            have_sklearn = True
        except ImportError:
            pass
    print(f"corpus: {corpus} ({len(files)} images); K = {', '.join(map(str, ks))}")
    print(f"kmcodec {kmcodec.__version__}, numpy {np.__version__}, BLAS threads 1")
    if pngquant:
        version = subprocess.run([pngquant, "--version"], capture_output=True, text=True).stdout
        print(f"pngquant {version.strip()} at {pngquant}, OMP_NUM_THREADS=1, --nofs")
    else:
        print("skipped pngquant: not on PATH (apt-get install pngquant)")
    if not have_sklearn:
        print("skipped scikit-learn: " + ("--no-sklearn" if args.no_sklearn else "not installed"))

    rows: list[dict[str, object]] = []
    for number, path in enumerate(files):
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        for k in ks:
            results = {name: run_kmcodec(pixels, k, options) for name, options in variants.items()}
            if pngquant:
                results["pngquant"] = run_pngquant(pngquant, path, pixels, k, None)
                results["pngquant --speed 1"] = run_pngquant(pngquant, path, pixels, k, 1)
            if have_sklearn and (k < 128 or number < args.sklearn_images):
                results["scikit-learn"] = run_sklearn(pixels, k)
            results["Pillow MEDIANCUT"] = run_pillow(pixels, k, 0)
            results["Pillow MEDIANCUT kmeans=3"] = run_pillow(pixels, k, 3)
            for method, (value, seconds) in results.items():
                rows.append(dict(image=path.name, k=k, method=method, psnr=value, seconds=seconds))
        print(f"  {path.name} done", file=sys.stderr, flush=True)

    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    methods = list(dict.fromkeys(r["method"] for r in rows))
    anchors = [m for m in methods if not m.startswith("kmcodec")]
    print("\nMedian PSNR (dB) / median time (s) per K")
    width = max(len(m) for m in methods) + 2
    print(f"{'K':>4}  " + "".join(f"{m:>{max(width, 16)}}" for m in methods))
    for k in ks:
        cells = []
        for m in methods:
            sel = [r for r in rows if r["k"] == k and r["method"] == m]
            if not sel:
                cells.append(f"{'-':>{max(width, 16)}}")
                continue
            p = np.median([r["psnr"] for r in sel])
            t = np.median([r["seconds"] for r in sel])
            note = "" if len(sel) == len(files) else f" ({len(sel)})"
            cells.append(f"{f'{p:.2f} / {t:.3f}{note}':>{max(width, 16)}}")
        print(f"{k:>4}  " + "".join(cells))

    print("\nGoal per K: kmcodec median PSNR >= best anchor + 0.1 dB; median time ratio <= 1.0")
    print("(each anchor is compared with kmcodec's median over the images that anchor ran on)")
    print(
        f"{'K':>4}{'best anchor':>28}{'images':>8}{'anchor dB':>11}{'kmcodec dB':>12}"
        f"{'margin':>9}{'PSNR goal':>12}{'time/pngquant':>15}{'time goal':>11}"
    )
    for k in ks:
        ours = {r["image"]: r["psnr"] for r in rows if r["k"] == k and r["method"] == "kmcodec"}
        margins = {}
        for m in anchors:
            theirs = {r["image"]: r["psnr"] for r in rows if r["k"] == k and r["method"] == m}
            if theirs:
                ours_median = float(np.median([ours[i] for i in theirs]))
                margins[m] = (
                    ours_median - float(np.median(list(theirs.values()))),
                    theirs,
                    ours_median,
                )
        best = min(margins, key=lambda m: margins[m][0])
        margin, theirs, ours_median = margins[best]
        ratio_text, time_ok = "-", "-"
        if pngquant:
            ours_t = {
                r["image"]: r["seconds"] for r in rows if r["k"] == k and r["method"] == "kmcodec"
            }
            their_t = {
                r["image"]: r["seconds"] for r in rows if r["k"] == k and r["method"] == "pngquant"
            }
            ratio = float(np.median([ours_t[i] / their_t[i] for i in ours_t]))
            ratio_text, time_ok = f"{ratio:.2f}", "met" if ratio <= 1.0 else "NOT met"
        goal = "met" if margin >= 0.1 else f"short {0.1 - margin:.2f}"
        print(
            f"{k:>4}{best:>28}{len(theirs):>8}{float(np.median(list(theirs.values()))):>11.2f}"
            f"{ours_median:>12.2f}{margin:>+9.2f}{goal:>12}{ratio_text:>15}{time_ok:>11}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
