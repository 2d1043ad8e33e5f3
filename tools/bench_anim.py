"""Animations: .kmq against the original GIF, gifsicle -O3 and animated WebP, side by side.

Usage::

    python tools/bench_anim.py [DIR] [--no-made] [--min-size] [--repeat N] [--json FILE]

For every GIF in DIR (default ``../shared/corpus/anim``) and the animations the tool makes for
what real GIFs there lack (a UI screencast, an animated bar chart and a dithered photographic
clip with a palette per frame, saved as GIFs by Pillow; see :func:`made_animations`):

- **lossless**: the frames as Pillow composites them, stored as .kmq (the encoder's default,
  and coding 1 in every layer), ``gifsicle -O3`` of the GIF, and animated WebP lossless
  (``gif2webp -m 6 -q 100``; with ``--min-size`` also ``-min_size``, which can take minutes).
  Every .kmq file is decoded and each frame compared with the source's: ``exact`` says so;
- **opening**: ``Image.open`` and every frame loaded through ``ImageSequence`` for the .kmq
  file, the animated WebP and the GIF itself (best of ``--repeat`` runs, taken in turn);
- **encoding**: the .kmq encoder's time as a Pillow user runs it (the GIF opened and
  ``im.save(f, "KMQ", save_all=True)``, its frames read as they are encoded, in this process)
  against ``gifsicle -O3``'s, best of up to 3 runs of each, taken in turn.

Then, quantised from RGB animations (a rendered, anti-aliased chart and a pan over a photo of
the Kodak set or of ``samples/``), at 64 and 256 colours: .kmq against ffmpeg's
``palettegen``/``paletteuse`` GIF, with PSNR over all frames and the share of pixels that stand
still in the source but change index (flicker).

Peers that are not installed are skipped with a message (``apt-get install gifsicle webp
ffmpeg``). It prints tables and medians, and with ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, Report, add_report_arguments, corpus_files
from PIL import Image, ImageDraw

import kmcodec
from kmcodec.animation import encode_animation, read_animation
from kmcodec.comparison.animation import _run, composited, measure_animation

ANIM = ROOT.parent / "shared" / "corpus" / "anim"


def ui_screencast(frames: int = 48) -> list[Image.Image]:
    """A window with a title bar, a list that scrolls, text typed into a box and a blinking
    cursor: what a UI recording for a README looks like (a few flat colours)."""
    w, h = 360, 240
    items = [f"item {i:02d}: {'settings' if i % 3 else 'profile'}" for i in range(40)]
    text = "kmq encode anim.gif --colors 64"
    out = []
    for t in range(frames):
        im = Image.new("P", (w, h))
        im.putpalette([250, 250, 250, 40, 44, 52, 66, 133, 244, 210, 210, 210, 20, 20, 20] * 1)
        d = ImageDraw.Draw(im)
        d.rectangle((0, 0, w, 24), fill=1)
        d.text((8, 6), "Preferences", fill=0)
        d.rectangle((8, 32, 170, h - 8), outline=3)
        scroll = min(t, 24) * 3
        for i, item in enumerate(items):
            y = 36 + i * 16 - scroll
            if 32 < y < h - 20:
                d.text((14, y), item, fill=4 if i != 5 else 2)
        d.rectangle((180, 32, w - 8, 56), outline=2)
        typed = text[: max(0, t - 16)]
        d.text((186, 38), typed, fill=4)
        if t % 8 < 4:
            x = 186 + int(d.textlength(typed))
            d.line((x + 1, 37, x + 1, 50), fill=4)
        out.append(im)
    return out


def bar_chart(frames: int = 40, antialiased: bool = False) -> list[Image.Image]:
    """Bars growing to their values with axes and labels; drawn at 2x and reduced with a
    Lanczos filter when ``antialiased`` (an RGB animation of many colours, for quantising)."""
    scale = 2 if antialiased else 1
    w, h = 320 * scale, 200 * scale
    values = [0.3, 0.8, 0.55, 0.95, 0.4, 0.7]
    colours = [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188)]
    out = []
    for t in range(frames):
        im = Image.new("RGB", (w, h), (255, 255, 255))
        d = ImageDraw.Draw(im)
        d.line((30 * scale, 10 * scale, 30 * scale, h - 20 * scale), fill=(0, 0, 0), width=scale)
        d.line((30 * scale, h - 20 * scale, w - 10, h - 20 * scale), fill=(0, 0, 0), width=scale)
        grow = min(1.0, (t + 1) / (frames * 0.75))
        for i, v in enumerate(values):
            x0 = (40 + i * 45) * scale
            top = h - 20 * scale - int(v * grow * (h - 40 * scale))
            if antialiased:
                d.rounded_rectangle(
                    (x0, top, x0 + 30 * scale, h - 20 * scale), 6, fill=colours[i % 5]
                )
            else:
                d.rectangle((x0, top, x0 + 30 * scale, h - 20 * scale), fill=colours[i % 5])
            d.text((x0, h - 16 * scale), f"Q{i + 1}", fill=(60, 60, 60))
        if antialiased:
            im = im.resize((w // scale, h // scale), Image.LANCZOS)
        out.append(im if antialiased else im.convert("P", palette=Image.ADAPTIVE, colors=16))
    return out


def photo_pan(frames: int = 30) -> list[Image.Image]:
    """A 320 x 240 window panning across a photo: every pixel changes, many colours."""
    _, files = corpus_files(None, limit=1)
    with Image.open(files[0]) as src:
        photo = src.convert("RGB")
    w, h = 320, 240
    span = photo.width - w
    return [photo.crop((s, 40, s + w, 40 + h)) for s in np.linspace(0, span, frames).astype(int)]


def dithered_clip(frames: int = 20) -> list[Image.Image]:
    """A photographic clip as GIF encoders make one: each frame of :func:`photo_pan` reduced by
    Pillow to 256 colours of its own, Floyd-Steinberg dithered (a local palette per frame, and
    dither noise that changes wherever the picture moves)."""
    return [f.quantize(256, dither=Image.Dither.FLOYDSTEINBERG) for f in photo_pan(frames)]


def made_animations(folder: Path) -> list[Path]:
    """The palette animations the corpus lacks, written as GIFs into ``folder``."""
    made = []
    for name, frames in (
        ("made-ui-screencast", ui_screencast()),
        ("made-bar-chart", bar_chart()),
        ("made-dithered-clip", dithered_clip()),
    ):
        path = folder / f"{name}.gif"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)
        made.append(path)
    return made


# --- lossless ----------------------------------------------------------------------------------


def _ratio(row: dict, a: str, b: str) -> float | None:
    return row[a] / row[b] if a in row and b in row else None


def _ratio_cell(row: dict, a: str, b: str, width: int) -> str:
    v = _ratio(row, a, b)
    return f"{v:>{width}.2f}" if v is not None else f"{'-':>{width}}"


def print_lossless(rows: list[dict]) -> dict:
    head = (
        f"{'file':28}{'frames':>7}{'canvas':>10}{'colours':>8}{'GIF':>9}{'gifsicle':>9}"
        f"{'WebP':>9}{'.kmq':>9}{'kmq c1':>9}{'x gsc':>7}{'c1 x gsc':>9}{'x WebP':>7}"
        f"{'exact':>6}{'open x WebP':>12}{'x GIF':>7}{'enc x gsc':>10}"
    )
    print(head)
    for r in rows:
        cells = [
            f"{r['file'][:27]:28}{r['frames']:>7}{r['canvas']:>10}{r['colors']:>8}{r['gif']:>9}",
            f"{r.get('gifsicle', '-'):>9}{r.get('webp', '-'):>9}{r['kmq']:>9}{r['kmq_c1']:>9}",
        ]
        sizes = (("kmq", "gifsicle", 7), ("kmq_c1", "gifsicle", 9), ("kmq", "webp", 7))
        times = (
            ("open_kmq_s", "open_webp_s", 12),
            ("open_kmq_s", "open_gif_s", 7),
            ("encode_s", "gifsicle_s", 10),
        )
        cells += [_ratio_cell(r, *column) for column in sizes]
        cells.append(f"{'yes' if r['exact'] else 'NO':>6}")
        cells += [_ratio_cell(r, *column) for column in times]
        print("".join(cells))
    summary: dict = {}
    for name, a, b in (
        ("kmq / gifsicle -O3", "kmq", "gifsicle"),
        ("kmq coding 1 / gifsicle -O3", "kmq_c1", "gifsicle"),
        ("kmq / animated WebP", "kmq", "webp"),
        ("kmq coding 1 / animated WebP", "kmq_c1", "webp"),
        ("kmq / WebP -min_size", "kmq", "webp_min"),
        ("open kmq / open WebP", "open_kmq_s", "open_webp_s"),
        ("open kmq / open GIF", "open_kmq_s", "open_gif_s"),
        ("encode kmq / gifsicle -O3", "encode_s", "gifsicle_s"),
    ):
        values = [v for r in rows if (v := _ratio(r, a, b)) is not None]
        if values:
            worst = max(zip(values, (r["file"] for r in rows if _ratio(r, a, b)), strict=True))
            summary[name] = {
                "median": statistics.median(values),
                "max": worst[0],
                "worst": worst[1],
            }
            median = statistics.median(values)
            print(f"median {name}: {median:.2f} (largest {worst[0]:.2f}, {worst[1]})")
    exact = sum(r["exact"] for r in rows)
    print(f"every frame identical to the source's: {exact} of {len(rows)} files")
    summary["exact_files"] = exact
    return summary


# --- quantised -------------------------------------------------------------------------------


def quantised_rows(work: Path, colours: tuple[int, ...], has_ffmpeg: bool) -> list[dict]:
    rows = []
    for name, frames in (
        ("chart (anti-aliased)", bar_chart(antialiased=True)),
        ("photo pan", photo_pan()),
    ):
        rgb = [np.asarray(f.convert("RGB")) for f in frames]
        still = [np.ones(rgb[0].shape[:2], bool)] + [
            (rgb[t] == rgb[t - 1]).all(axis=2) for t in range(1, len(rgb))
        ]
        for k in colours:
            row: dict = {"file": name, "colors": k, "frames": len(rgb)}
            t = time.perf_counter()
            data = encode_animation(frames, 80, 0, colors=k)
            row["encode_s"] = time.perf_counter() - t
            anim = read_animation(data, max_pixels=None)
            row["kmq"] = len(data)
            row["kmq_psnr"] = _psnr(rgb, [anim.frame(n)[..., :3] for n in range(anim.n_frames)])
            row["kmq_flicker"] = _flicker([anim.indices(n) for n in range(anim.n_frames)], still)
            if has_ffmpeg:
                row.update(_ffmpeg_gif(frames, k, work / f"{name[:5]}-{k}", rgb, still))
            rows.append(row)
    return rows


def _psnr(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    se = sum(
        float(((a.astype(np.int32) - b.astype(np.int32)) ** 2).sum())
        for a, b in zip(ref, got, strict=True)
    )
    mse = se / sum(a.size for a in ref)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def _flicker(planes: list[np.ndarray], still: list[np.ndarray]) -> float:
    """Share of the pixels that stand still in the source and change index (or colour)."""
    changed = sum(int((planes[t] != planes[t - 1])[still[t]].sum()) for t in range(1, len(planes)))
    standing = sum(int(still[t].sum()) for t in range(1, len(planes)))
    return changed / standing if standing else 0.0


def _ffmpeg_gif(frames, k: int, stem: Path, rgb, still) -> dict:
    stem.mkdir(parents=True, exist_ok=True)
    for n, f in enumerate(frames):
        f.convert("RGB").save(stem / f"{n:04d}.png")
    out = stem.with_suffix(".gif")
    filt = f"split[a][b];[a]palettegen=max_colors={k}:stats_mode=full[p];[b][p]paletteuse"
    _run(
        [
            "ffmpeg",
            "-y",
            "-framerate",
            "12.5",
            "-i",
            str(stem / "%04d.png"),
            "-filter_complex",
            filt,
            str(out),
        ]
    )
    got, _, _ = composited(out)
    planes = [
        np.asarray(g[..., :3]).astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
        for g in got
    ]
    return {
        "ffmpeg": out.stat().st_size,
        "ffmpeg_psnr": _psnr(rgb, [g[..., :3] for g in got]),
        "ffmpeg_flicker": _flicker(planes, still),
    }


def print_quantised(rows: list[dict]) -> None:
    print(
        f"{'animation':22}{'K':>5}{'frames':>7}{'.kmq B':>9}{'PSNR':>7}{'flicker':>9}"
        f"{'ffmpeg B':>10}{'PSNR':>7}{'flicker':>9}{'dB over':>8}{'x bytes':>8}"
    )
    for r in rows:
        line = (
            f"{r['file']:22}{r['colors']:>5}{r['frames']:>7}{r['kmq']:>9}{r['kmq_psnr']:>7.2f}"
            f"{100 * r['kmq_flicker']:>8.2f}%"
        )
        if "ffmpeg" in r:
            line += (
                f"{r['ffmpeg']:>10}{r['ffmpeg_psnr']:>7.2f}{100 * r['ffmpeg_flicker']:>8.2f}%"
                f"{r['kmq_psnr'] - r['ffmpeg_psnr']:>8.2f}{r['kmq'] / r['ffmpeg']:>8.2f}"
            )
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ANIM)
    parser.add_argument("--no-made", action="store_true", help="only the GIFs of the folder")
    parser.add_argument("--min-size", action="store_true", help="also gif2webp -min_size (slow)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--colors", default="64,256", help="K for the quantised animations")
    parser.add_argument("--no-quantised", action="store_true")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    add_report_arguments(parser, json=False)
    args = parser.parse_args(argv)
    about = (
        "Animated `.kmq` files against the original GIF, gifsicle -O3 and animated WebP lossless "
        "(every composited frame checked identical), opening every frame through Pillow, and "
        "quantised RGB animations against ffmpeg's palettegen/paletteuse GIF."
    )
    with Report("bench_anim", "Animations", about, args, json=False) as report:
        return _measure(args, report)


def _measure(args: argparse.Namespace, report: Report) -> int:
    peers = {name: shutil.which(name) is not None for name in ("gifsicle", "gif2webp", "ffmpeg")}
    for name, present in peers.items():
        if not present:
            print(f"({name} is not installed: its column is skipped)")
    gifs = sorted(args.folder.glob("*.gif")) if args.folder.is_dir() else []
    if not gifs and args.no_made:
        print(f"no GIFs in {args.folder}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.no_made:
            gifs += made_animations(work)
        rows = [
            measure_animation(g, work, repeat=args.repeat, min_size=args.min_size) for g in gifs
        ]
        enc = min(args.repeat, 3)
        print(
            f"lossless, {len(rows)} animations (one process; opening: best of {args.repeat},"
            f" encoding: best of {enc}, runs taken in turn)"
        )
        summary = print_lossless(rows)
        quantised: list[dict] = []
        if not args.no_quantised:
            print()
            colours = tuple(int(c) for c in args.colors.split(","))
            quantised = quantised_rows(work, colours, peers["ffmpeg"])
            print_quantised(quantised)
    if args.json:
        payload = {
            "kmcodec": kmcodec.__version__,
            "lossless": rows,
            "summary": summary,
            "quantised": quantised,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
