"""Images per second for a folder of small images: kmq encode -j 1, -j 2 and on a Dask
LocalCluster of 2 workers, next to pngquant converting the same files the way its users do.

Usage::

    python tools/bench_batch.py [--count 2000] [--size 256] [--colors 256] [--corpus DIR]

It cuts ``--count`` crops of ``--size`` x ``--size`` pixels at random places (fixed seed) from
the corpus's photos (the Kodak set, else the repository's samples) into a temporary folder, then
times, as whole commands from start to exit (start-up and imports included, as a user pays
them; outputs removed between runs so that nothing is skipped as up to date):

- ``kmq encode DIR --colors K --nofs -j 1``, ``-j 2``, and ``--dask local -j 2`` (a LocalCluster
  of two worker processes, started by the command), and the dithered default at ``-j 2``;
- ``xargs -P 2 -n 1 pngquant --nofs K`` and ``xargs -P 2 -n 1 pngquant K`` (one pngquant process
  per file, two at a time), when pngquant is installed.

Goals (issue 12): -j 2 >= 1.8x -j 1; Dask within 15% of -j 2; kmq -j 2 >= pngquant --nofs.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpus_files


def make_crops(sources: list[Path], folder: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(2026)
    images = []
    for path in sources:
        with Image.open(path) as im:
            images.append(im.convert("RGB"))
    for i in range(count):
        im = images[i % len(images)]
        x = int(rng.integers(0, im.width - size + 1))
        y = int(rng.integers(0, im.height - size + 1))
        im.crop((x, y, x + size, y + size)).save(folder / f"crop{i:05d}.png", compress_level=1)


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if result.returncode not in (0, 98):
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{result.stderr[-2000:]}")
    return elapsed


def clean(folder: Path) -> None:
    for path in folder.iterdir():
        if path.suffix == ".kmq" or path.name.endswith(".pq.png"):
            path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--colors", type=int, default=256)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args(argv)
    corpus, sources = corpus_files(args.corpus)
    kmq = [sys.executable, "-m", "kmcodec.cli", "encode"]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_crops(sources, folder, args.count, args.size)
        print(
            f"{args.count} crops of {args.size}x{args.size} from {len(sources)} images in"
            f" {corpus}; K = {args.colors}; {os.cpu_count()} cores; whole commands, start-up"
            " included"
        )
        # --nofs: undithered, as the pngquant --nofs it is compared with; the dithered default
        # is timed too, next to pngquant's dithered default.
        common = [str(folder), "--colors", str(args.colors), "-q"]
        runs = [("kmq encode --nofs -j 1", [*kmq, *common, "--nofs", "-j", "1"])]
        runs.append(("kmq encode --nofs -j 2", [*kmq, *common, "--nofs", "-j", "2"]))
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("skipped Dask: pip install 'kmcodec[dask]'")
        else:
            if not args.no_dask:
                runs.append(
                    (
                        "kmq encode --nofs --dask local -j 2",
                        [*kmq, *common, "--nofs", "--dask", "local", "-j", "2"],
                    )
                )
        runs.append(("kmq encode -j 2 (dithered)", [*kmq, *common, "-j", "2"]))
        for label, command in runs:
            clean(folder)
            rows.append((label, timed(command, env)))
            made = len(list(folder.glob("*.kmq")))
            if made != args.count:
                raise SystemExit(f"{label}: {made} of {args.count} files written")
        pngquant = shutil.which("pngquant")
        if pngquant is None:
            print("skipped pngquant: not installed (apt-get install -y pngquant)")
        else:
            files = "\n".join(str(p) for p in sorted(folder.glob("crop*.png"))) + "\n"
            for label, extra in (
                ("xargs -P 2 pngquant --nofs", ["--nofs"]),
                ("xargs -P 2 pngquant", []),
            ):
                clean(folder)
                command = [
                    "xargs",
                    "-P",
                    "2",
                    "-n",
                    "1",
                    pngquant,
                    *extra,
                    "--force",
                    "--ext",
                    ".pq.png",
                    str(args.colors),
                ]
                t0 = time.perf_counter()
                subprocess.run(command, input=files, text=True, env=env, check=True)
                rows.append((label, time.perf_counter() - t0))
            clean(folder)
    rate = {label: args.count / seconds for label, seconds in rows}
    print(f"{'command':<34}{'seconds':>9}{'images/s':>10}")
    for label, seconds in rows:
        print(f"{label:<34}{seconds:>9.1f}{rate[label]:>10.1f}")
    j1, j2 = rate["kmq encode --nofs -j 1"], rate["kmq encode --nofs -j 2"]
    print(f"goal -j 2 >= 1.8x -j 1: {j2 / j1:.2f}x, {'met' if j2 >= 1.8 * j1 else 'NOT met'}")
    if "kmq encode --nofs --dask local -j 2" in rate:
        d = rate["kmq encode --nofs --dask local -j 2"]
        verdict = "met" if d >= 0.85 * j2 else "NOT met"
        print(f"goal Dask within 15% of -j 2: {d / j2:.2f}x, {verdict}")
    if "xargs -P 2 pngquant --nofs" in rate:
        p = rate["xargs -P 2 pngquant --nofs"]
        verdict = "met" if j2 >= p else "NOT met"
        print(f"goal kmq --nofs -j 2 >= xargs -P 2 pngquant --nofs: {j2 / p:.2f}x, {verdict}")
        dithered, pd = rate["kmq encode -j 2 (dithered)"], rate["xargs -P 2 pngquant"]
        print(f"dithered: kmq -j 2 / xargs -P 2 pngquant: {dithered / pd:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
