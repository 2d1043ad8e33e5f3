"""Estimate, before building it, what an index coding that uses the previous frame would save on
animations: exact static code lengths in numpy, next to the real sizes of the peers.

Usage::

    python tools/estimate_anim.py DIR [--gifsicle] [--webp]

For each GIF in DIR, the frames as Pillow composites them (RGBA), one palette of every colour
over the whole animation, and per frame its index plane. Printed per file, in bytes:

- ``GIF``: the file itself; ``gifsicle -O3`` and ``gif2webp -m 6 -q 100`` (lossless animated
  WebP) with ``--gifsicle`` / ``--webp``, when installed;
- ``c2 frames``: kmcodec's coding 2 on each frame alone (real files, frame by frame, only where
  the animation has at most 256 colours);
- ``intra``: the static model below without the previous frame, tables not counted;
- ``temporal``: the same model with the previous frame's index at the pixel (P) as the first
  candidate and in the context; ``+ tables``: with a rough cost of the tables (8 bits per
  symbol a context uses);
- ``blocks``: 4x4 blocks on a grid, each unchanged, a copy of a block seen before (named by
  its number among the distinct blocks seen), or coded by the temporal model
  (:func:`blocks_estimate`);
- ``zstd diff``: a generic LZ coder (zstd level 19, long-distance matching) on the frames with
  every pixel equal to the previous frame's replaced by one marker: what matches (repeated
  glyphs, sprites, the same change in several frames) find that the per-pixel model does not;
- ``unchanged``: the share of pixels equal to the previous frame's.

The model (per pixel, raster order): candidates P (temporal only), W, N, NE, NW, in that order,
duplicates dropped; the token is the first candidate equal to the pixel's index, or "literal";
the token's context is the equality pattern of the candidates and how the left pixel was coded;
a literal is coded with the context W. Code lengths are the empirical conditional entropies
(two-pass, static), so ``temporal`` is what a table-driven coder like coding 2 could reach
with the previous frame, before table costs and span/run savings.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

import kmcodec


def frames_of(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """The composited frames of an animation: (palette (K, 4), [index plane per frame])."""
    with Image.open(path) as im:
        rgba = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(im)]
    stack = np.stack(rgba)
    codes = (
        stack[..., 0].astype(np.uint32) << 24
        | stack[..., 1].astype(np.uint32) << 16
        | stack[..., 2].astype(np.uint32) << 8
        | stack[..., 3]
    )
    codes[stack[..., 3] == 0] = 0  # every transparent pixel is one colour
    distinct, inverse = np.unique(codes, return_inverse=True)
    palette = np.stack([(distinct >> s) & 0xFF for s in (24, 16, 8, 0)], axis=1).astype(np.uint8)
    planes = inverse.reshape(stack.shape[:3]).astype(np.int32)
    return palette, list(planes)


def _neighbours(plane: np.ndarray) -> tuple[np.ndarray, ...]:
    """W, N, NE, NW of every pixel, with coding 2's edge rules (a missing one is W, or N)."""
    west = np.empty_like(plane)
    west[:, 1:] = plane[:, :-1]
    west[1:, 0] = plane[:-1, 0]
    west[0, 0] = 0
    north = np.empty_like(plane)
    north[1:] = plane[:-1]
    north[0] = west[0]
    ne = np.empty_like(plane)
    ne[1:, :-1] = plane[:-1, 1:]
    ne[1:, -1] = north[1:, -1]
    ne[0] = north[0]
    nw = np.empty_like(plane)
    nw[1:, 1:] = plane[:-1, :-1]
    nw[1:, 0] = north[1:, 0]
    nw[0] = north[0]
    return west, north, ne, nw


def tokens(
    plane: np.ndarray, previous: np.ndarray | list[np.ndarray] | None
) -> tuple[np.ndarray, ...]:
    """Per pixel: (token, token context, literal context W). Token = position of the first
    candidate equal to the index among the distinct candidates, or their count (a literal).
    The candidates are ``previous`` (one plane, or a list of planes, before the neighbours;
    -1 in one of them is "none", equal to nothing), then W, N, NE, NW."""
    west, north, ne, nw = _neighbours(plane)
    if previous is None:
        firsts = []
    else:
        firsts = [previous] if isinstance(previous, np.ndarray) else previous
    cands = [*firsts, west, north, ne, nw]
    c = len(cands)
    # the equality pattern of the candidates: one bit per pair
    pattern = np.zeros(plane.shape, dtype=np.int64)
    bit = 0
    for i in range(c):
        for j in range(i + 1, c):
            pattern |= (cands[i] == cands[j]).astype(np.int64) << bit
            bit += 1
    token = np.full(plane.shape, -1, dtype=np.int64)
    distinct_before = np.zeros(plane.shape, dtype=np.int64)
    for i, cand in enumerate(cands):
        new = np.ones(plane.shape, dtype=bool)
        for j in range(i):
            new &= cand != cands[j]
        hit = (token < 0) & new & (cand == plane)
        token[hit] = distinct_before[hit]
        distinct_before += new
    literal = token < 0
    token[literal] = distinct_before[literal]  # "literal" is the token after the candidates
    # how the left pixel was coded: 0 its first candidate, 1 another, 2 a literal
    how = np.where(token == 0, 0, np.where(literal, 2, 1))
    left = np.zeros_like(how)
    left[:, 1:] = how[:, :-1]
    context = pattern * 3 + left
    return token.ravel(), context.ravel(), literal.ravel(), west.ravel()


def entropy_bits(context: np.ndarray, symbol: np.ndarray) -> tuple[float, int]:
    """Static code length (bits) of ``symbol`` given ``context``, and how many (context,
    symbol) pairs occur (what the tables would have to hold)."""
    if len(symbol) == 0:
        return 0.0, 0
    base = int(symbol.max()) + 1
    pairs, counts = np.unique(context.astype(np.int64) * base + symbol, return_counts=True)
    _, of_context = np.unique(pairs // base, return_inverse=True)
    totals = np.bincount(of_context, weights=counts)[of_context]
    return float(-(counts * np.log2(counts / totals)).sum()), len(pairs)


#: The farthest shift :func:`shifted` tries, in pixels along one axis.
MAX_SHIFT = 64


def shifted(previous: np.ndarray, plane: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The previous frame moved by the one-axis shift (|d| <= :data:`MAX_SHIFT`) under which
    most of ``plane``'s pixels equal it (pixels it does not cover keep their own index from
    ``previous``), and the shift (dy, dx); ``previous`` and (0, 0) if no shift beats none: what
    a layer that copies the canvas at an offset (a scroll, a pan, a moving window) would give
    the temporal model as P."""
    height, width = plane.shape
    best, best_n = (0, 0), int((plane == previous).sum())
    for axis, length in ((0, height), (1, width)):
        reach = min(MAX_SHIFT, length - 1)
        for d in range(-reach, reach + 1):
            if d == 0:
                continue
            cut_src = slice(max(0, d), length + min(0, d))
            cut_dst = slice(max(0, -d), length - max(0, d))
            if axis == 0:
                n = int((plane[cut_dst] == previous[cut_src]).sum())
            else:
                n = int((plane[:, cut_dst] == previous[:, cut_src]).sum())
            if n > best_n:
                best, best_n = ((d, 0) if axis == 0 else (0, d)), n
    dy, dx = best
    moved = previous.copy()
    if dy:
        moved[max(0, -dy) : height - max(0, dy)] = previous[max(0, dy) : height + min(0, dy)]
    if dx:
        moved[:, max(0, -dx) : width - max(0, dx)] = previous[:, max(0, dx) : width + min(0, dx)]
    return moved, best


def estimate(
    planes: list[np.ndarray],
    temporal: bool,
    coded: list[np.ndarray] | None = None,
    previous: list[np.ndarray] | None = None,
) -> tuple[float, int]:
    """Bits of the whole animation under the model, and its table pairs. With ``temporal``,
    frame 0 (no previous frame) has tables of its own. ``coded`` (a boolean plane per frame)
    restricts the count to those pixels (their neighbours still come from the whole frame).
    ``previous`` replaces each frame's previous frame as P (``previous[i]`` for frame i)."""
    groups = [[0], list(range(1, len(planes)))] if temporal else [list(range(len(planes)))]
    bits, pairs = 0.0, 0

    def before(i: int) -> np.ndarray | None:
        if not temporal or i == 0:
            return None
        return planes[i - 1] if previous is None else previous[i]

    for group in groups:
        if not group:
            continue
        parts = [tokens(planes[i], before(i)) for i in group]
        token, context, literal, west = (np.concatenate([p[k] for p in parts]) for k in range(4))
        value = np.concatenate([planes[i].ravel() for i in group])
        if coded is not None:
            keep = np.concatenate([coded[i].ravel() for i in group])
            token, context, literal, west, value = (
                a[keep] for a in (token, context, literal, west, value)
            )
        b, n = entropy_bits(context, token)
        lb, ln = entropy_bits(west[literal], value[literal])
        bits, pairs = bits + b + lb, pairs + n + ln
    return bits, pairs


#: Block size of :func:`blocks_estimate`.
BLOCK = 4


def blocks_estimate(planes: list[np.ndarray]) -> float:
    """Bits of a block model: each 4x4 block (the frame's edges repeated to whole blocks) is
    "unchanged" (equal to the previous frame's), a "copy" of a block seen before anywhere in
    this or an earlier frame (its number among the distinct blocks seen so far, log2 of their
    count in bits), or "coded", its pixels by the temporal model. The block's kind is coded
    with the kinds of the blocks left of and above it as context."""
    h, w = planes[0].shape
    ph, pw = -(-h // BLOCK) * BLOCK, -(-w // BLOCK) * BLOCK
    kinds, contents = [], []
    for i, plane in enumerate(planes):
        padded = np.pad(plane, ((0, ph - h), (0, pw - w)), mode="edge").astype(np.uint16)
        blocks = padded.reshape(ph // BLOCK, BLOCK, pw // BLOCK, BLOCK).swapaxes(1, 2)
        blocks = blocks.reshape(ph // BLOCK, pw // BLOCK, BLOCK * BLOCK)
        if i:
            before = np.pad(planes[i - 1], ((0, ph - h), (0, pw - w)), mode="edge")
            before = before.astype(np.uint16).reshape(ph // BLOCK, BLOCK, pw // BLOCK, BLOCK)
            unchanged = (before.swapaxes(1, 2).reshape(blocks.shape) == blocks).all(axis=2)
        else:
            unchanged = np.zeros(blocks.shape[:2], dtype=bool)
        kinds.append(unchanged)
        contents.append(blocks.reshape(-1, BLOCK * BLOCK))
    # first sight of each distinct block, in coding order (frame by frame, raster order)
    every = np.ascontiguousarray(np.concatenate(contents))
    keys = every.view(np.dtype((np.void, every.itemsize * every.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.arange(len(keys))
    seen_before = first[inverse] < order
    known = np.cumsum(~seen_before) - ~seen_before  # distinct blocks before each
    n_blocks = kinds[0].size
    bits, coded_planes, kind_all, ctx_all = 0.0, [], [], []
    for i, unchanged in enumerate(kinds):
        at = slice(i * n_blocks, (i + 1) * n_blocks)
        copy = seen_before[at].reshape(unchanged.shape) & ~unchanged
        kind = np.where(unchanged, 0, np.where(copy, 1, 2))
        bits += float(np.log2(np.maximum(known[at][copy.ravel()], 1)).sum())
        left = np.zeros_like(kind)
        left[:, 1:] = kind[:, :-1]
        up = np.zeros_like(kind)
        up[1:] = kind[:-1]
        kind_all.append(kind.ravel())
        ctx_all.append((left * 3 + up).ravel())
        coded = np.repeat(np.repeat(kind == 2, BLOCK, axis=0), BLOCK, axis=1)[:h, :w]
        coded_planes.append(coded)
    bits += entropy_bits(np.concatenate(ctx_all), np.concatenate(kind_all))[0]
    pixel_bits, _ = estimate(planes, temporal=True, coded=coded_planes)
    return bits + pixel_bits


def zstd_of_differences(planes: list[np.ndarray], colors: int) -> int:
    """Bytes of zstd -19 (long-distance matching) over the frames, each pixel equal to the
    previous frame's replaced by a marker (``colors``), as 8- or 16-bit values."""
    import zstandard

    dtype = np.uint8 if colors < 256 else np.uint16
    parts = [planes[0].astype(dtype)]
    for before, now in itertools.pairwise(planes):
        parts.append(np.where(now == before, colors, now).astype(dtype))
    data = np.concatenate([p.ravel() for p in parts]).tobytes()
    params = zstandard.ZstdCompressionParameters.from_level(
        19, source_size=len(data), window_log=min(27, max(10, len(data).bit_length())),
        enable_ldm=True,
    )  # fmt: skip
    return len(zstandard.ZstdCompressor(compression_params=params).compress(data))


def peer_size(command: list[str], out: Path) -> int | None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--gifsicle", action="store_true", help="also gifsicle -O3")
    parser.add_argument("--webp", action="store_true", help="also gif2webp -m 6 -q 100 (slow)")
    args = parser.parse_args(argv)
    paths = sorted(args.folder.glob("*.gif"))
    if not paths:
        print(f"estimate_anim: no .gif files in {args.folder}", file=sys.stderr)
        return 2
    gifsicle = shutil.which("gifsicle") if args.gifsicle else None
    gif2webp = shutil.which("gif2webp") if args.webp else None
    for wanted, tool, name, package in (
        (args.gifsicle, gifsicle, "gifsicle", "gifsicle"),
        (args.webp, gif2webp, "gif2webp", "webp"),
    ):
        if wanted and tool is None:
            print(f"skipped {name}: not on PATH (apt-get install {package})")
    print(
        f"{'file':<24}{'frames':>7}{'colours':>8}{'unchanged':>10}{'GIF':>9}{'gifsicle':>9}"
        f"{'webp':>9}{'c2 frames':>10}{'intra':>9}{'temporal':>9}{'+ tables':>9}{'x gifsicle':>11}"
        f"{'+ shift':>9}{'x gifsicle':>11}"
        f"{'zstd diff':>10}{'x gifsicle':>11}{'blocks':>9}{'x gifsicle':>11}"
    )
    ratios, lz_ratios, block_ratios, shift_ratios = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            palette, planes = frames_of(path)
            pixels = sum(p.size for p in planes)
            same = sum(int((planes[i] == planes[i - 1]).sum()) for i in range(1, len(planes)))
            unchanged = same / max(1, pixels - planes[0].size)
            c2 = "-"
            if len(palette) <= 256:
                c2 = str(
                    sum(
                        len(kmcodec.encode_indexed(palette, p.astype(np.uint8), coding=2))
                        for p in planes
                    )
                )
            intra, _ = estimate(planes, temporal=False)
            temporal, pairs = estimate(planes, temporal=True)
            with_tables = temporal / 8 + pairs  # 8 bits a (context, symbol) pair
            moved = [planes[0]] + [
                shifted(planes[i - 1], planes[i])[0] for i in range(1, len(planes))
            ]
            shift_bits, shift_pairs = estimate(planes, temporal=True, previous=moved)
            with_shift = shift_bits / 8 + shift_pairs + 2 * len(planes)  # a shift: 2 bytes
            lz = zstd_of_differences(planes, len(palette))
            blocks = blocks_estimate(planes) / 8
            sizes = {}
            if gifsicle:
                out = Path(tmp) / "o.gif"
                sizes["gifsicle"] = peer_size([gifsicle, "-O3", str(path), "-o", str(out)], out)
            if gif2webp:
                out = Path(tmp) / "o.webp"
                sizes["webp"] = peer_size(
                    [gif2webp, "-m", "6", "-q", "100", str(path), "-o", str(out)], out
                )
            ref = sizes.get("gifsicle")
            shift_ratio = f"{with_shift / ref:.2f}" if ref else "-"
            if ref:
                shift_ratios.append(with_shift / ref)
            ratio = f"{with_tables / ref:.2f}" if ref else "-"
            lz_ratio = f"{lz / ref:.2f}" if ref else "-"
            block_ratio = f"{blocks / ref:.2f}" if ref else "-"
            if ref:
                ratios.append(with_tables / ref)
                lz_ratios.append(lz / ref)
                block_ratios.append(blocks / ref)
            print(
                f"{path.name:<24}{len(planes):>7}{len(palette):>8}{unchanged:>10.1%}"
                f"{path.stat().st_size:>9}{sizes.get('gifsicle') or '-':>9}"
                f"{sizes.get('webp') or '-':>9}{c2:>10}{intra / 8:>9.0f}{temporal / 8:>9.0f}"
                f"{with_tables:>9.0f}{ratio:>11}{with_shift:>9.0f}{shift_ratio:>11}"
                f"{lz:>10}{lz_ratio:>11}{blocks:>9.0f}{block_ratio:>11}"
            )
    if ratios:
        print(f"median temporal + tables / gifsicle -O3: {float(np.median(ratios)):.2f}")
        median = float(np.median(shift_ratios))
        print(f"median temporal + shift + tables / gifsicle -O3: {median:.2f}")
        print(f"median zstd diff / gifsicle -O3: {float(np.median(lz_ratios)):.2f}")
        median = float(np.median(block_ratios))
        print(f"median blocks / gifsicle -O3 (tables not counted): {median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
