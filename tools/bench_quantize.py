"""kmcodec's quantiser against its peers, side by side on the same images in the same run: what
the numbers say and what the eye sees.

Usage::

    python tools/bench_quantize.py [CORPUS_DIR] [--colors 8,16,64,256] [--limit N]
        [--sklearn-images N] [--no-sklearn] [--variant NAME=OPTIONS ...] [--csv FILE]

For every image and K:

- kmcodec without dithering and with its dithering (``dither=True``: Floyd-Steinberg with a
  dither map), the whole ``kmcodec.encode`` at default settings (histogram, k-means, remap,
  both codings), timed in this process on one core; kmcodec with ``init="k-means++"`` (the
  seeding check) and with ``perceptual=0`` (the palette and choices of least squared error,
  without the step for the eye);
- pngquant (when on PATH, ``OMP_NUM_THREADS=1``, timed as whole runs that read and write PNG):
  its default (Floyd-Steinberg dithering), ``--nofs``, and ``--speed 1 --nofs``; its PNGs are
  then run through ``optipng -o2`` when installed (not timed), as its users publish them;
- scikit-learn ``KMeans(k, init="k-means++", n_init=1)`` on all pixels (when installed; on
  ``--sklearn-images`` images for K >= 128, as it takes seconds there); Pillow's MEDIANCUT,
  without and with ``kmeans=3``.

Measured for each: PSNR, the mean Oklab colour difference (ΔE, x100), the same after a blur of
1.2 px (blurred ΔE: what the eye sees at a normal viewing distance, where a dither is the mixture
it looks like; :func:`kmcodec.metrics.blurred_delta_e`), the file size (.kmq, the encoder's
default coding; pngquant's PNG after optipng) and the time. The goals of issue 13 are printed
with the medians.
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
from _common import Report, add_report_arguments, corpus_files, parse_options
from PIL import Image

import kmcodec
from kmcodec.metrics import blurred_delta_e, delta_e_ok

DEFAULT_KS = "8,16,64,256"
KMCODEC = "kmcodec"
DITHERED = "kmcodec dithered"
SEEDING = "kmcodec k-means++"
PSNR_ONLY = "kmcodec perceptual=0"
PQ_DEFAULT = "pngquant"
PQ_NOFS = "pngquant --nofs"
PQ_SLOW = "pngquant --speed 1 --nofs"


def measures(pixels: np.ndarray, out: np.ndarray) -> dict[str, float]:
    return dict(
        psnr=kmcodec.psnr(pixels, out),
        delta_e=delta_e_ok(pixels, out),
        blurred=blurred_delta_e(pixels, out),
    )


def run_kmcodec(pixels: np.ndarray, k: int, options: dict[str, object]) -> dict[str, float]:
    t0 = time.perf_counter()
    data = kmcodec.encode(pixels, k, **options)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    return dict(measures(pixels, kmcodec.decode(data)), seconds=seconds, bytes=len(data))


def run_pngquant(
    exe: str, optipng: str | None, src: Path, pixels: np.ndarray, k: int, flags: list[str]
) -> dict[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.png"
        if src.suffix.lower() != ".png":  # pngquant reads PNG only: give it the same pixels
            src = Path(tmp) / "in.png"
            Image.fromarray(pixels).save(src, compress_level=1)
        cmd = [exe, *flags, "--force", "--output", str(out), str(k), str(src)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        seconds = time.perf_counter() - t0
        if optipng:
            subprocess.run([optipng, "-o2", "-quiet", str(out)], check=True, capture_output=True)
        size = out.stat().st_size
        with Image.open(out) as im:
            decoded = np.asarray(im.convert("RGB"))
    return dict(measures(pixels, decoded), seconds=seconds, bytes=size)


def run_sklearn(pixels: np.ndarray, k: int) -> dict[str, float]:
    from sklearn.cluster import KMeans

    x = pixels.reshape(-1, 3).astype(np.float64)
    t0 = time.perf_counter()
    km = KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=0).fit(x)
    palette = np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)
    out = palette[km.labels_].reshape(pixels.shape)
    return dict(measures(pixels, out), seconds=time.perf_counter() - t0)


def run_pillow(pixels: np.ndarray, k: int, kmeans: int) -> dict[str, float]:
    im = Image.fromarray(pixels)
    t0 = time.perf_counter()
    q = im.quantize(k, method=Image.Quantize.MEDIANCUT, kmeans=kmeans, dither=Image.Dither.NONE)
    out = np.asarray(q.convert("RGB"))
    return dict(measures(pixels, out), seconds=time.perf_counter() - t0)


def median(rows: list[dict], k: int, method: str, key: str, images: set[str] | None = None):
    values = [
        r[key]
        for r in rows
        if r["k"] == k
        and r["method"] == method
        and key in r
        and (images is None or r["image"] in images)
    ]
    return float(np.median(values)) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path)
    parser.add_argument("--colors", default=DEFAULT_KS)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument(
        "--sklearn-images", type=int, default=4, help="images scikit-learn runs on for K >= 128"
    )
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument(
        "--variant", action="append", default=[], help="extra kmcodec settings NAME=key=value,..."
    )
    parser.add_argument("--csv", type=Path, help="write every measurement here")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    about = (
        "kmcodec's quantiser (plain, dithered, k-means++ seeding, `perceptual=0`) against "
        "pngquant (default dithered, `--nofs`, `--speed 1`), scikit-learn's k-means and Pillow, "
        "per K: median PSNR, ΔE, blurred ΔE, file size and time."
    )
    with Report(
        "bench_quantize", "The quantiser against pngquant, scikit-learn and Pillow", about, args
    ) as report:
        return _measure(args, report)


def _measure(args: argparse.Namespace, report: Report) -> int:

    corpus, files = corpus_files(args.corpus, args.limit)
    ks = [int(k) for k in args.colors.split(",")]
    variants: dict[str, dict[str, object]] = {
        KMCODEC: {},
        DITHERED: {"dither": True},
        SEEDING: {"init": "k-means++"},
        PSNR_ONLY: {"perceptual": 0},
    }
    for spec in args.variant:
        name, _, opts = spec.partition("=")
        variants[f"kmcodec {name}"] = parse_options(opts)
    pngquant = shutil.which("pngquant")
    optipng = shutil.which("optipng")
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
        print(
            f"pngquant {version.strip()}, OMP_NUM_THREADS=1; optipng: {optipng or 'not installed'}"
        )
    else:
        print("skipped pngquant: not on PATH (apt-get install pngquant)")
    if not have_sklearn:
        print("skipped scikit-learn: " + ("--no-sklearn" if args.no_sklearn else "not installed"))

    rows: list[dict] = []
    for number, path in enumerate(files):
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        for k in ks:
            results = {name: run_kmcodec(pixels, k, opts) for name, opts in variants.items()}
            if pngquant:
                results[PQ_DEFAULT] = run_pngquant(pngquant, optipng, path, pixels, k, [])
                results[PQ_NOFS] = run_pngquant(pngquant, optipng, path, pixels, k, ["--nofs"])
                results[PQ_SLOW] = run_pngquant(
                    pngquant, optipng, path, pixels, k, ["--nofs", "--speed", "1"]
                )
            if have_sklearn and (k < 128 or number < args.sklearn_images):
                results["scikit-learn"] = run_sklearn(pixels, k)
            results["Pillow MEDIANCUT"] = run_pillow(pixels, k, 0)
            results["Pillow MEDIANCUT kmeans=3"] = run_pillow(pixels, k, 3)
            for method, values in results.items():
                rows.append(dict(image=path.name, k=k, method=method, **values))
        print(f"  {path.name} done", file=sys.stderr, flush=True)

    if args.csv:
        keys = list(dict.fromkeys(key for r in rows for key in r))
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)

    methods = list(dict.fromkeys(r["method"] for r in rows))
    print("\nMedians per K: PSNR dB / ΔE / blurred ΔE / bits per pixel (file) / seconds")
    n_pixels = {r["image"]: None for r in rows}
    for path in files:
        with Image.open(path) as im:
            n_pixels[path.name] = im.width * im.height
    for r in rows:
        if "bytes" in r:
            r["bpp"] = 8 * r["bytes"] / n_pixels[r["image"]]
    print(
        f"{'K':>4}  {'method':<28}{'PSNR':>8}{'ΔE':>8}{'blur ΔE':>9}{'bpp':>8}{'time s':>9}"
        f"{'images':>8}"
    )
    for k in ks:
        for m in methods:
            sel = [r for r in rows if r["k"] == k and r["method"] == m]
            if not sel:
                continue
            cells = [
                median(rows, k, m, key) for key in ("psnr", "delta_e", "blurred", "bpp", "seconds")
            ]
            text = "".join(
                f"{'-':>{w}}" if v is None else f"{v:>{w}.{d}f}"
                for v, w, d in zip(cells, (8, 8, 9, 8, 9), (2, 3, 3, 3, 3), strict=True)
            )
            print(f"{k:>4}  {m:<28}{text}{len(sel):>8}")
            report.record(
                f"K={k} {m}",
                dict(zip(("psnr", "delta_e", "blurred", "bpp", "seconds"), cells, strict=True)),
            )

    print("\nGoals, per K")
    peers = [m for m in methods if not m.startswith("kmcodec") and m != PQ_DEFAULT]
    for k in ks:
        lines = []
        if pngquant:
            d_blur = median(rows, k, DITHERED, "blurred")
            p_blur = median(rows, k, PQ_DEFAULT, "blurred")
            d_bpp, p_bpp = median(rows, k, DITHERED, "bpp"), median(rows, k, PQ_DEFAULT, "bpp")
            ok = d_blur <= 0.9 * p_blur and d_bpp <= p_bpp
            lines.append(
                f"dithered blurred ΔE {d_blur:.3f} = {d_blur / p_blur:.2f}x pngquant's {p_blur:.3f}"
                f" (goal <= 0.9x), {d_bpp:.3f} bpp vs pngquant+optipng {p_bpp:.3f}"
                f" (goal <=): {'met' if ok else 'NOT met'}"
            )
        worst_psnr, worst_de = [], []
        for m in peers:
            images = {r["image"] for r in rows if r["k"] == k and r["method"] == m}
            ours_p = median(rows, k, KMCODEC, "psnr", images)
            ours_e = median(rows, k, KMCODEC, "delta_e", images)
            worst_psnr.append((ours_p - median(rows, k, m, "psnr"), m))
            worst_de.append((median(rows, k, m, "delta_e") - ours_e, m))
        margin, who = min(worst_psnr)
        need = 0.1 if k >= 4 else 0.0
        lines.append(
            f"no dither: PSNR margin over the best peer ({who}) {margin:+.2f} dB (goal >= +{need}):"
            f" {'met' if margin >= need else 'NOT met'}"
        )
        de_margin, de_who = min(worst_de)
        lines.append(
            f"no dither: ΔE margin under the best peer ({de_who}) {de_margin:+.3f} (goal >= 0):"
            f" {'met' if de_margin >= 0 else 'NOT met'}"
        )
        # The medians of two lists can cross where the photos do not: also photo by photo.
        mine = {r["image"]: r["delta_e"] for r in rows if r["k"] == k and r["method"] == KMCODEC}
        theirs = {r["image"]: r["delta_e"] for r in rows if r["k"] == k and r["method"] == de_who}
        lower = sum(mine[i] < theirs[i] for i in theirs)
        ratio = float(np.median([mine[i] / theirs[i] for i in theirs]))
        lines.append(
            f"  photo by photo: ΔE below {de_who}'s on {lower} of {len(theirs)},"
            f" median ratio {ratio:.3f}"
        )
        if pngquant:
            for ours, theirs, label in (
                (DITHERED, PQ_DEFAULT, "dithered"),
                (KMCODEC, PQ_SLOW, "no dither"),
            ):
                a = {r["image"]: r["seconds"] for r in rows if r["k"] == k and r["method"] == ours}
                b = {
                    r["image"]: r["seconds"] for r in rows if r["k"] == k and r["method"] == theirs
                }
                ratio = float(np.median([a[i] / b[i] for i in a]))
                lines.append(
                    f"{label} time / {theirs}: {ratio:.2f} (goal <= 1.0): "
                    f"{'met' if ratio <= 1.0 else 'NOT met'}"
                )
        ours = {r["image"]: r["psnr"] for r in rows if r["k"] == k and r["method"] == KMCODEC}
        pp = {r["image"]: r["psnr"] for r in rows if r["k"] == k and r["method"] == SEEDING}
        worst = min(ours[i] - pp[i] for i in ours)
        lines.append(
            f"seeding: worst image against k-means++ {worst:+.3f} dB (goal >= -0.05):"
            f" {'met' if worst >= -0.05 else 'NOT met'}"
        )
        print(f"K = {k}")
        for line in lines:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
