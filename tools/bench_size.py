"""Bits per pixel of the same palette and indices in every lossless container, and load times.

Usage::

    python tools/bench_size.py [CORPUS_DIR] [--colors 2,4,16,64,256] [--step N] [--limit N]
                               [--jobs N] [--big] [--repeat N]

For each image and K, kmcodec quantises once (``smooth=0``, so every container holds exactly the
quantiser's indices; for an image with fewer colours than K, K is its own number of colours and
the image is stored losslessly), then stores the palette and indices as: .kmq coding 0, 1 and 2,
the encoder's default (coding 2, or coding 0 where smaller), PNG-8 (Pillow, optimize), PNG-8 +
optipng -o2, WebP lossless -m 4 and -m 6 (``cwebp -lossless -exact -q 100``) and JPEG XL
lossless (``cjxl -d 0 -e 9``). Tools that are not installed are skipped, and the output says so.
It prints the median bits per pixel per K, the median ratios of codings 1 and 2 and the default
to WebP -m 6 and to JPEG XL (with the worst image), the time ``Image.open(f).load()`` takes
through Pillow for each .kmq coding (coding 2 on one thread, and on the threads the decoder
chooses: ``c2 threads``), PNG-8 and WebP lossless (median over images of the best of
``--repeat`` runs) and the encoder's time for codings 1 and 2 next to
the quantiser's. ``--big`` adds the load times of a 12 MP image (the corpus's first image,
resized to 4240 x 2832) at K = 16 and 256, coding 2 on one thread and on every core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _common import Report, add_report_arguments, corpus_files
from PIL import Image

import kmcodec
from kmcodec.format.codings import context as context_coding
from kmcodec.format.codings import fast as fast_coding

TOOLS = {"cwebp": "webp", "optipng": "optipng", "cjxl": "libjxl-tools"}
COLUMNS = ("kmq0", "kmq1", "kmq2", "kmq", "png8", "png8+optipng", "webp-m4", "webp-m6", "jxl-e9")
LABELS = {
    "kmq0": ".kmq c0",
    "kmq1": ".kmq c1",
    "kmq2": ".kmq c2",
    "kmq2-mt": "c2 threads",
    "kmq": ".kmq dflt",
    "png8": "PNG-8",
    "png8+optipng": "+optipng",
    "webp-m4": "WebP -m4",
    "webp-m6": "WebP -m6",
    "jxl-e9": "JXL -e9",
}


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def store_all(q: kmcodec.Quantized, folder: Path, have: set[str]) -> dict[str, Path]:
    """Write the indices in every container; return {column: path}."""
    paths: dict[str, Path] = {}
    for name, coding in (("kmq0", 0), ("kmq1", 1), ("kmq2", 2), ("kmq", None)):
        paths[name] = folder / f"{name}.kmq"
        paths[name].write_bytes(q.encode(coding=coding))
    p = Image.fromarray(q.indices, mode="P")
    p.putpalette(q.palette[:, :3].tobytes())
    paths["png8"] = folder / "png8.png"
    p.save(paths["png8"], optimize=True)
    if "optipng" in have:
        paths["png8+optipng"] = folder / "optipng.png"
        _run(["optipng", "-quiet", "-o2", str(paths["png8"]), "-out", str(paths["png8+optipng"])])
    if "cwebp" in have:
        for m in (4, 6):
            paths[f"webp-m{m}"] = folder / f"m{m}.webp"
            webp = ["cwebp", "-quiet", "-lossless", "-exact", "-q", "100", "-m", str(m)]
            _run([*webp, str(paths["png8"]), "-o", str(paths[f"webp-m{m}"])])
    if "cjxl" in have:
        paths["jxl-e9"] = folder / "e9.jxl"
        _run(["cjxl", "-d", "0", "-e", "9", "--quiet", str(paths["png8"]), str(paths["jxl-e9"])])
    return paths


LOADS = ("kmq0", "kmq1", "kmq2", "png8", "webp-m6")


def load_seconds(path: Path, repeat: int, threads: int | None = 1) -> float:
    """Best of ``repeat`` runs of ``Image.open(path).load()``; coding 2 on ``threads`` threads
    (None: as many as the decoder chooses)."""
    best = float("inf")
    saved, fast_coding.THREADS = fast_coding.THREADS, threads
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            with Image.open(path) as im:
                im.load()
            best = min(best, time.perf_counter() - t0)
    finally:
        fast_coding.THREADS = saved
    return best


def best_seconds(fn: object, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def measure(path: Path, k: int, have: set[str], repeat: int) -> dict[str, object]:
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"))
    own = len(np.unique(pixels.reshape(-1, 3).view("V3")))
    t0 = time.perf_counter()
    kmcodec.quantize(pixels, min(k, own))  # the quantiser's own time, at default settings
    t_quantize = time.perf_counter() - t0
    q = kmcodec.quantize(pixels, min(k, own), smooth=0)
    t_context = best_seconds(lambda: context_coding.encode(q.indices, q.colors))
    t_fast = best_seconds(lambda: fast_coding.encode(q.indices, q.colors))
    n = pixels.shape[0] * pixels.shape[1]
    with tempfile.TemporaryDirectory() as tmp:
        paths = store_all(q, Path(tmp), have)
        bpp = {name: 8 * p.stat().st_size / n for name, p in paths.items()}
        loads = {name: load_seconds(paths[name], repeat) for name in LOADS if name in paths}
        # what a user on this machine gets: the decoder's own choice of threads
        loads["kmq2-mt"] = load_seconds(paths["kmq2"], repeat, threads=None)
    return dict(
        image=path.stem,
        k=k,
        colors=q.colors,
        bpp=bpp,
        loads=loads,
        t_quantize=t_quantize,
        t_context=t_context,
        t_fast=t_fast,
    )


def big_image_loads(path: Path, have: set[str], repeat: int) -> None:
    with Image.open(path) as im:
        big = np.asarray(im.convert("RGB").resize((4240, 2832), Image.Resampling.LANCZOS))
    print(
        f"\n12 MP image ({path.name} resized to 4240x2832): Image.open(f).load(), best of {repeat}"
    )
    cols = ("kmq0", "kmq1", "kmq2", "kmq2-mt", "png8", "webp-m6")
    print(f"{'K':>4}" + "".join(f"{LABELS[c]:>11}" for c in cols) + f"{'c2/WebP':>9}{'mt/1':>7}")
    for k in (16, 256):
        q = kmcodec.quantize(big, k, smooth=0)
        with tempfile.TemporaryDirectory() as tmp:
            paths = store_all(q, Path(tmp), have - {"cjxl", "optipng"})
            paths["kmq2-mt"] = paths["kmq2"]
            loads = {
                c: load_seconds(paths[c], repeat, None if c == "kmq2-mt" else 1)
                for c in cols
                if c in paths
            }
        row = "".join(f"{1e3 * loads[c]:>9.1f}ms" if c in loads else f"{'-':>11}" for c in cols)
        ratio = loads["kmq2"] / loads["webp-m6"] if "webp-m6" in loads else float("nan")
        print(f"{k:>4}{row}{ratio:>9.2f}{loads['kmq2-mt'] / loads['kmq2']:>7.2f}")
    height, width = big.shape[:2]
    parts = -(-height // fast_coding.part_rows_for(width, height))
    print(f"coding 2 in {parts} parts of {fast_coding.part_rows_for(width, height)} rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=None)
    parser.add_argument("--colors", default="2,4,16,64,256")
    parser.add_argument("--step", type=int, default=1, help="use every Nth image")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    parser.add_argument("--jobs", type=int, default=2, help="images measured at once")
    parser.add_argument("--repeat", type=int, default=5, help="load-time runs per file")
    parser.add_argument("--big", action="store_true", help="also time a 12 MP image")
    parser.add_argument("--skip", default="", help="tools not to run, e.g. cjxl,optipng")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    about = (
        "The same palette and indices (kmcodec's quantiser, `smooth=0`) stored in every lossless"
        " container: `.kmq` codings 0, 1, 2 and the encoder's default, PNG-8, WebP lossless and"
        " JPEG XL; the time `Image.open(f).load()` takes for each through Pillow; the encoder's"
        " time per coding next to the quantiser's."
    )
    with Report("bench_size", "Sizes and opening times", about, args) as report:
        return _measure(args, report)


def _measure(args: argparse.Namespace, report: Report) -> int:
    corpus, files = corpus_files(args.corpus, args.limit)
    files = files[:: args.step]
    ks = [int(k) for k in args.colors.split(",")]
    have = {tool for tool in TOOLS if shutil.which(tool)}
    for tool in sorted(set(TOOLS) - have):
        print(f"skipped: {tool} is not installed (apt-get install -y {TOOLS[tool]})")
    for tool in filter(None, args.skip.split(",")):
        if tool in have:
            have.discard(tool)
            print(f"skipped: {tool} (--skip)")
    print(f"corpus {corpus}: {len(files)} images; kmcodec {kmcodec.__version__}, smooth=0")
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(
            pool.map(
                lambda job: measure(*job, have, args.repeat), [(f, k) for k in ks for f in files]
            )
        )
    columns = [c for c in COLUMNS if c in results[0]["bpp"]]
    print("\nmedian bits per pixel (same palette and indices in every container)")
    print(f"{'K':>4}" + "".join(f"{LABELS[c]:>11}" for c in columns))
    bpp: dict[int, dict[str, float]] = {}
    for k in ks:
        rows = [r for r in results if r["k"] == k]
        bpp[k] = {c: float(np.median([r["bpp"][c] for r in rows])) for c in columns}
        print(f"{k:>4}" + "".join(f"{bpp[k][c]:>11.3f}" for c in columns))
    report.record("images", len(files))
    report.record("median_bpp", bpp)
    refs = [c for c in ("webp-m6", "jxl-e9") if c in columns]
    if refs:
        print("\n.kmq codings 1, 2 and the default against the references: median (largest) ratio")
        print(
            f"{'K':>4}"
            + "".join(f"{a + '/' + LABELS[b]:>22}" for b in refs for a in ("c1", "c2", "dflt"))
        )
        ratio_table: dict[int, dict[str, dict[str, float]]] = {}
        for k in ks:
            rows = [r for r in results if r["k"] == k]
            cells = []
            for b in refs:
                for a in ("kmq1", "kmq2", "kmq"):
                    ratios = [r["bpp"][a] / r["bpp"][b] for r in rows]
                    ratio_table.setdefault(k, {})[f"{a}/{b}"] = {
                        "median": float(np.median(ratios)),
                        "largest": float(max(ratios)),
                    }
                    cells.append(f"{np.median(ratios):.3f} ({max(ratios):.3f})")
            print(f"{k:>4}" + "".join(f"{c:>22}" for c in cells))
        report.record("ratios", ratio_table)
    load_cols = [c for c in (*LOADS, "kmq2-mt") if c in results[0]["loads"]]
    print(
        f"\nImage.open(f).load() in ms (median over images, best of {args.repeat} runs; coding 2"
        f" on one thread, and as the decoder chooses on {os.cpu_count()} cores: c2 threads)"
    )
    print(
        f"{'K':>4}"
        + "".join(f"{LABELS[c]:>11}" for c in load_cols)
        + ("  c2/WebP  c1/WebP  mt/WebP" if "webp-m6" in load_cols else "")
    )
    load_ms: dict[int, dict[str, float]] = {}
    for k in ks:
        rows = [r for r in results if r["k"] == k]
        med = {c: float(np.median([r["loads"][c] for r in rows])) for c in load_cols}
        load_ms[k] = {c: 1e3 * v for c, v in med.items()}
        tail = (
            f"{med['kmq2'] / med['webp-m6']:>9.2f}{med['kmq1'] / med['webp-m6']:>9.2f}"
            f"{med['kmq2-mt'] / med['webp-m6']:>9.2f}"
            if "webp-m6" in med
            else ""
        )
        print(f"{k:>4}" + "".join(f"{1e3 * med[c]:>11.2f}" for c in load_cols) + tail)
    report.record("load_ms", load_ms)
    _plots(report, ks, bpp, load_ms)
    print(
        "\nencoder time (median, s): the quantiser at default settings (one run) vs coding 1"
        " and coding 2 (best of 3)"
    )
    for k in ks:
        rows = [r for r in results if r["k"] == k]
        tq = float(np.median([r["t_quantize"] for r in rows]))
        tc = float(np.median([r["t_context"] for r in rows]))
        tf = float(np.median([r["t_fast"] for r in rows]))
        print(
            f"{k:>4}  quantise {tq:.3f}  coding 1 {tc:.3f} ({tc / tq:.2f}x)"
            f"  coding 2 {tf:.3f} ({tf / tq:.2f}x)"
        )
        report.record(f"encode_s_{k}", {"quantise": tq, "coding1": tc, "coding2": tf})
    if args.big:
        big_image_loads(files[0], have, args.repeat)
    return 0


def _plots(
    report: Report,
    ks: list[int],
    bpp: dict[int, dict[str, float]],
    load_ms: dict[int, dict[str, float]],
) -> None:
    """Bits per pixel and opening time against K, one line a container (for --markdown)."""
    if report.markdown is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, table, ylabel, caption in (
        ("bpp", bpp, "median bits per pixel", "Median bits per pixel against K"),
        ("load", load_ms, "Image.open(f).load(), ms", "Median opening time against K"),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 4))
        for column in table[ks[0]]:
            ax.plot(ks, [table[k][column] for k in ks], marker="o", label=LABELS[column])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("K (palette size)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        report.plot(fig, name, caption)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
