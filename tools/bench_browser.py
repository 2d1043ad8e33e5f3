"""Decode times of kmq.js in a browser (headless Chromium) and in Node, next to the same image
as PNG-8 decoded by the browser's own decoder (``createImageBitmap``).

Usage::

    python tools/bench_browser.py [IMAGE] [--colors 16,256] [--repeat 5]

For a 768x512 photo (the Kodak set's kodim23, or the repository's sample) and the same photo
resized to 4240x2832 (12 MP), at each K: the .kmq file in each coding, and the PNG-8 of the
same palette and indices (Pillow, optimize). Times are the best of ``--repeat`` runs, bytes in
memory to RGBA pixels. Needs chromium (and node for the Node column); says what it skipped.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import Report, add_report_arguments
from PIL import Image

import kmcodec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import CHROMIUM, Server, chromium_until  # noqa: E402

KODIM = ROOT.parent / "shared" / "corpus" / "kodak" / "kodim23.png"
NODE_SCRIPT = """
import { decode } from "%s";
import { readFileSync } from "node:fs";
const [list, repeat] = [JSON.parse(readFileSync(process.argv[2], "utf8")), +process.argv[3]];
const out = {};
for (const job of list) {
  const bytes = readFileSync(job.path);
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    decode(bytes);
    best = Math.min(best, performance.now() - t0);
  }
  out[job.file] = best;
}
console.log(JSON.stringify(out));
"""


def make_files(source: Path, folder: Path, ks: list[int]) -> list[dict]:
    with Image.open(source) as im:
        small = im.convert("RGB")
    big = small.resize((4240, 2832), Image.Resampling.LANCZOS)
    jobs = []
    for label, image in (("768x512", small), ("12 MP", big)):
        pixels = np.asarray(image)
        for k in ks:
            q = kmcodec.quantize(pixels, k)
            stem = f"{label.replace(' ', '')}-k{k}"
            for coding in (0, 1, 2):
                path = folder / f"{stem}-c{coding}.kmq"
                path.write_bytes(q.encode(coding=coding))
                jobs.append(dict(image=label, k=k, kind="kmq", coding=coding, file=path.name))
            png = Image.fromarray(q.indices, mode="P")
            png.putpalette(q.palette[:, :3].tobytes())
            path = folder / f"{stem}.png"
            png.save(path, optimize=True)
            jobs.append(dict(image=label, k=k, kind="png8", file=path.name))
    return jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", type=Path)
    parser.add_argument("--colors", default="16,256")
    parser.add_argument("--repeat", type=int, default=5)
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    about = (
        "kmq.js decoding each coding in headless Chromium and in Node, at 768x512 and 12 MP, next"
        " to the browser's own PNG-8 decode (`createImageBitmap`)."
    )
    with Report("bench_browser", "Decoding in the browser", about, args) as report:
        return _measure(args, report)


def _measure(args: argparse.Namespace, report: Report) -> int:
    if CHROMIUM is None:
        print("skipped: chromium is not installed (apt-get install -y chromium)")
        return 0
    source = args.image or (KODIM if KODIM.is_file() else ROOT / "samples" / "kodim23.png")
    ks = [int(k) for k in args.colors.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "js").symlink_to(ROOT / "js")
        files = root / "files"
        files.mkdir()
        jobs = make_files(source, files, ks)
        for job in jobs:
            job["file"] = f"/files/{job['file']}"
        (files / "list.json").write_text(json.dumps(jobs))
        server = Server(root)
        try:
            page = f"{server.url}/js/bench.html?list=/files/list.json&repeat={args.repeat}"
            rows = json.loads(chromium_until(root, server, page, timeout=900))
        finally:
            server.close()
        node_ms: dict[str, float] = {}
        node = shutil.which("node")
        if node:
            script = root / "bench_node.mjs"
            script.write_text(NODE_SCRIPT % (ROOT / "js" / "kmq.js").as_uri())
            listing = root / "node.json"
            listing.write_text(
                json.dumps(
                    [
                        dict(file=j["file"], path=str(root / j["file"][1:]))
                        for j in jobs
                        if j["kind"] == "kmq"
                    ]
                )
            )
            result = subprocess.run(
                [node, str(script), str(listing), str(args.repeat)], capture_output=True, text=True
            )
            if result.returncode:
                raise SystemExit(f"node failed: {result.stderr[-2000:]}")
            node_ms = json.loads(result.stdout)
    version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout
    print(f"source: {source.name}; {version.strip()}; best of {args.repeat} runs, bytes to RGBA")
    if not node:
        print("skipped the Node column: node is not installed")
    print(
        f"{'image':<9}{'K':>5}  {'file':<22}{'bytes':>10}{'browser ms':>12}{'Node ms':>9}"
        f"{'x PNG-8 (browser)':>19}{'x coding 0':>12}"
    )
    for image in ("768x512", "12 MP"):
        for k in ks:
            group = [r for r in rows if r["image"] == image and r["k"] == k]
            png = next(r for r in group if r["kind"] == "png8")
            c0 = next(r for r in group if r.get("coding") == 0)
            for r in group:
                name = (
                    "PNG-8 createImageBitmap"
                    if r["kind"] == "png8"
                    else f".kmq coding {r['coding']}"
                )
                nms = node_ms.get(r["file"])
                print(
                    f"{image:<9}{k:>5}  {name:<22}{r['bytes']:>10}{r['ms']:>12.1f}"
                    f"{(f'{nms:.1f}' if nms is not None and r['kind'] == 'kmq' else '-'):>9}"
                    f"{r['ms'] / png['ms']:>19.2f}"
                    + (f"{r['ms'] / c0['ms']:>12.2f}" if r["kind"] == "kmq" else f"{'-':>12}")
                )
                report.record(
                    f"{image} K={k} {name}",
                    dict(
                        bytes=r["bytes"],
                        browser_ms=r["ms"],
                        node_ms=nms,
                        x_png8=r["ms"] / png["ms"],
                    ),
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
