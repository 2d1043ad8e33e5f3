"""Estimate, before building it, what copies (LZ-style matches at any offset) would save on top
of a static per-pixel model like coding 2's: still graphics and photos against WebP lossless,
animations against gifsicle -O3. Exact static code lengths in numpy; the matches are found and
chosen by a greedy parse whose every cost is counted.

Usage::

    python tools/estimate_copies.py DIR [--colors 16,256] [--limit N]

DIR of ``.gif`` files: each animation as ``tools/estimate_anim.py`` reads it (one palette of
every colour, an index plane per frame); the model is the temporal one (the previous frame's
index P first among the candidates). DIR of still images: each quantised by kmcodec to each
``--colors`` K (``smooth=0``, as ``tools/bench_size.py``); the model is the intra one.

Printed per file, in bytes: the peer (``gifsicle -O3`` or ``cwebp -lossless -m 6``, when
installed), the real coding 2 file (stills, and animations of at most 256 colours frame by
frame) and coding 1 (stills), the model alone (``model``), and the model with copies
(``copies``), each with a rough table cost (8 bits a (context, symbol) pair, as
``estimate_anim.py``), and the share of pixels the copies cover. For animations also
``runs`` (:func:`animation_bytes`: the pixels equal to the previous frame's as runs, the changed
ones by the model with a table of values as the match) and ``runs+cp`` (the same with copies).

The copies: a pixel may start a match, a symbol of the token alphabet ("copy") in the pixel's
own context, followed by its length (at least :data:`MIN_MATCH`) and its distance back in the
raster order, each as a prefix code (a bucket, entropy coded, and extra bits; WebP's length
and distance codes) -- or a distance as one of the four last distances used (a cache slot,
entropy coded with the buckets). A match reaches back into the current frame and, for an
animation, the previous frame (what a decoder holding one canvas and one frame can copy from).
The candidates at each pixel: the most recent earlier place with the same next 4 indices, and
with the same next 16 (a hash of each, :data:`KEYS`), the pixel above, the same pixel of the
previous frame, the pixel to the left (a run), and the two last distances used; the longest
wins. The parse takes a match where its
cost (estimated with fixed code lengths) is below the model's cost of the pixels it covers
(from a first pass without copies), else codes the pixel by the model; the total is then the
exact static code length of what it chose.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from estimate_anim import _neighbours, frames_of, peer_size, tokens
from PIL import Image

import kmcodec

#: The shortest match.
MIN_MATCH = 4
#: The lengths of the keys whose most recent earlier place is a candidate: a short key finds
#: short matches nearby, a long one the long matches a short key's most recent place misses.
KEYS = (MIN_MATCH, 16)
#: The longest match the candidates' lengths are measured to (in pixels).
MAX_MATCH = 1 << 16
#: Distinct distances kept in the cache of last distances.
CACHE = 4
#: Bits for a (context, symbol) pair of a table, as ``estimate_anim.py``.
PAIR_BITS = 8
#: A copy symbol in the token alphabet (above every candidate's position and "literal").
COPY = 7
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)


def code_lengths(context: np.ndarray, symbol: np.ndarray) -> tuple[np.ndarray, int]:
    """Per element, its static code length in bits given its context (empirical conditional
    entropy), and the (context, symbol) pairs the tables hold."""
    if len(symbol) == 0:
        return np.zeros(0), 0
    base = int(symbol.max()) + 1
    key = context.astype(np.int64) * base + symbol
    pairs, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    _, of_context = np.unique(pairs // base, return_inverse=True)
    totals = np.bincount(of_context, weights=counts)
    bits = -np.log2(counts / totals[of_context])
    return bits[inverse], len(pairs)


def prefix_code(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WebP's prefix code of ``value`` >= 0 (of value + 1): its bucket and its extra bits."""
    v = value.astype(np.int64) + 1
    top = np.floor(np.log2(v)).astype(np.int64)
    second = np.where(top > 0, (v >> np.maximum(top - 1, 0)) & 1, 0)
    bucket = np.where(top > 0, 2 * top + second, 0)
    extra = np.maximum(top - 1, 0)
    return bucket, extra


def _run_lengths(equal: np.ndarray) -> np.ndarray:
    """Per element, how many elements from it on are True in a row (0 where False)."""
    n = len(equal)
    out = np.zeros(n + 1, dtype=np.int64)
    false_at = np.flatnonzero(~equal)
    nxt = np.full(n, n, dtype=np.int64)
    # the next False at or after each element
    idx = np.searchsorted(false_at, np.arange(n))
    has = idx < len(false_at)
    nxt[has] = false_at[idx[has]]
    out[:n] = nxt - np.arange(n)
    return np.minimum(out[:n], MAX_MATCH)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^i and B^-i mod 2^64 for i < max(n, MAX_MATCH + 1) (:data:`_HASH_BASE` is B)."""
    n = max(n, MAX_MATCH + 1)
    inverse = np.uint64(pow(int(_HASH_BASE), -1, 1 << 64))
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(n, _HASH_BASE, dtype=np.uint64))
        inverses = np.cumprod(np.full(n, inverse, dtype=np.uint64))
    one = np.ones(1, dtype=np.uint64)
    return np.concatenate([one, powers[:-1]]), np.concatenate([one, inverses[:-1]])


def candidates(
    stream: np.ndarray, start: int, width: int, frame: int
) -> tuple[np.ndarray, np.ndarray]:
    """The longest candidate match (length, distance) at each position of ``stream[start:]``,
    from earlier positions at or after 0: the most recent place with the same next values (for
    each length of :data:`KEYS`), the pixel above (``width``), the previous frame's (``frame``,
    if ``start`` > 0) and the left one."""
    n = len(stream)
    s = stream.astype(np.uint64) + np.uint64(1)
    pos = np.arange(start, n, dtype=np.int64)
    best_len = np.zeros(n - start, dtype=np.int64)
    best_d = np.zeros(n - start, dtype=np.int64)

    def offer(length: np.ndarray, d: np.ndarray | int) -> None:
        better = length > best_len
        best_len[better] = length[better]
        best_d[better] = d if np.isscalar(d) else d[better]

    for d in (1, width, frame if start > 0 else 0):
        if d <= 0 or d > n:
            continue
        eq = np.zeros(n - start, dtype=bool)
        src = pos - d
        ok = src >= 0
        eq[ok] = stream[pos[ok]] == stream[src[ok]]
        # the match may run past its own start (an overlapping copy): compare with the stream
        offer(_run_lengths(eq), d)
    # prefix hashes H[i] = sum s[k] B^(i-1-k) mod 2^64, as B^(i-1) times a cumulative sum of
    # s[k] B^(-k) (B is odd, so it has an inverse mod 2^64; uint64 arithmetic wraps)
    powers, inverses = _powers(n + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(n + 1, dtype=np.uint64)
        prefix[1:] = powers[:n] * np.cumsum(s * inverses[:n])

        def window(i: np.ndarray, length: np.ndarray) -> np.ndarray:
            return prefix[i + length] - prefix[i] * powers[length]

    for key_len in KEYS:
        if n < key_len:
            continue
        # the most recent earlier position with the same next key_len values
        all_pos = np.arange(0, n - key_len + 1, dtype=np.int64)
        with np.errstate(over="ignore"):
            all_key = window(all_pos, np.full(1, key_len))
        order = np.lexsort((all_pos, all_key))
        sk, sp = all_key[order], all_pos[order]
        prev = np.full(len(all_pos), -1, dtype=np.int64)
        same = sk[1:] == sk[:-1]
        prev[sp[1:][same]] = sp[:-1][same]
        here = pos[pos + key_len <= n]
        src = prev[here]
        has = src >= 0
        here, src = here[has], src[has]
        # the match's length, by doubling steps on the hashes (equal hashes taken as equal runs)
        length = np.zeros(len(here), dtype=np.int64)
        step = MAX_MATCH // 2
        with np.errstate(over="ignore"):
            while step >= 1:
                trial = length + step
                fits = here + trial <= n
                ok = np.zeros(len(here), dtype=bool)
                ok[fits] = window(here[fits], trial[fits]) == window(src[fits], trial[fits])
                length[ok] = trial[ok]
                step //= 2
        found_len = np.zeros(n - start, dtype=np.int64)
        found_d = np.zeros(n - start, dtype=np.int64)
        found_len[here - start] = length
        found_d[here - start] = here - src
        offer(found_len, found_d)
    return best_len, best_d


def _match_length(stream: np.ndarray, at: int, d: int, cap: int = 256) -> int:
    a = stream[at : at + cap]
    b = stream[at - d : at - d + len(a)]
    differ = np.flatnonzero(a != b)
    return int(differ[0]) if len(differ) else len(a)


def _bits_of(v: int) -> int:
    return 2 * max(0, (v + 1).bit_length() - 1) + 1


def parse(
    stream: np.ndarray, start: int, cost: np.ndarray, width: int, frame: int
) -> list[tuple[int, int, int]]:
    """Greedy: the matches (position, length, distance) taken in ``stream[start:]``, given the
    model's cost in bits of each of its pixels."""
    best_len, best_d = candidates(stream, start, width, frame)
    cum = np.concatenate([[0.0], np.cumsum(cost)]).tolist()
    lens, dists = best_len.tolist(), best_d.tolist()
    n = len(lens)
    cache: list[int] = []
    out: list[tuple[int, int, int]] = []
    # where a match may start: every pixel the model pays for (free ones are left to runs)
    visit = [*np.flatnonzero(cost > 0).tolist(), n]
    k = 0
    i = 0
    while True:
        while visit[k] < i:
            k += 1
        i = visit[k]
        if i >= n:
            break
        length, d = lens[i], dists[i]
        for c in cache[:2]:
            if length < 64 and start + i - c >= 0:
                cl = _match_length(stream, start + i, c)
                if cl > length:
                    length, d = cl, c
        length = min(length, n - i)
        if length >= MIN_MATCH:
            dist_bits = 2.0 if d in cache else _bits_of(d) + 1.0
            match = 3.0 + _bits_of(length - MIN_MATCH) + dist_bits
            if match < cum[i + length] - cum[i]:
                out.append((start + i, length, d))
                if d in cache:
                    cache.remove(d)
                cache.insert(0, d)
                del cache[CACHE:]
                i += length
                continue
        i += 1
    return out


def _static_bits(sym: np.ndarray, extra: np.ndarray) -> tuple[float, int]:
    """Bits of symbols in one static table plus their extra bits, and the table's pairs."""
    if len(sym) == 0:
        return 0.0, 0
    b, n = code_lengths(np.zeros(len(sym), dtype=np.int64), sym)
    return float(b.sum() + extra.sum()), n


class _MatchCodes:
    """The length and distance codes of the matches taken, in order: a distance among the
    :data:`CACHE` last ones is its slot, any other its prefix code after the slots."""

    def __init__(self) -> None:
        self.cache: list[int] = []
        self.length: list[tuple[int, int]] = []
        self.distance: list[tuple[int, int]] = []

    def add(self, length: int, d: int) -> None:
        if d in self.cache:
            self.distance.append((self.cache.index(d), 0))
            self.cache.remove(d)
        else:
            b, e = prefix_code(np.array([d - 1]))
            self.distance.append((CACHE + int(b[0]), int(e[0])))
        self.cache.insert(0, d)
        del self.cache[CACHE:]
        b, e = prefix_code(np.array([length - MIN_MATCH]))
        self.length.append((int(b[0]), int(e[0])))

    def bits(self) -> tuple[float, int]:
        """Their bits (each code one static table) and the tables' pairs."""
        bits, pairs = 0.0, 0
        for codes in (self.length, self.distance):
            if codes:
                sym, extra = np.array(codes, dtype=np.int64).T
                b, n = _static_bits(sym, extra)
                bits, pairs = bits + b, pairs + n
        return bits, pairs


def total_bytes(
    planes: list[np.ndarray], temporal: bool, matches: list[list[tuple[int, int, int]]] | None
) -> tuple[float, float]:
    """Bytes of the model (with the copies in ``matches``, per plane: positions in the plane's
    raster order), tables counted, and the share of pixels the copies cover."""
    groups = [[0], list(range(1, len(planes)))] if temporal else [list(range(len(planes)))]
    bits, pairs, covered, pixels = 0.0, 0, 0, 0
    codes = _MatchCodes()
    for group in groups:
        if not group:
            continue
        tok_all, ctx_all, lit_ctx, lit_val = [], [], [], []
        for i in group:
            prev = planes[i - 1] if temporal and i else None
            token, context, literal, west = tokens(planes[i], prev)
            value = planes[i].ravel()
            keep = np.ones(len(token), dtype=bool)
            token = token.copy()
            pixels += len(token)
            if matches is not None:
                codes.cache.clear()
                for at, length, d in matches[i]:
                    keep[at + 1 : at + length] = False
                    token[at] = COPY
                    literal[at] = False
                    covered += length
                    codes.add(length, d)
            tok_all.append(token[keep])
            ctx_all.append(context[keep])
            lit = literal & keep
            lit_ctx.append(west[lit])
            lit_val.append(value[lit])
        b, n = code_lengths(np.concatenate(ctx_all), np.concatenate(tok_all))
        lb, ln = code_lengths(np.concatenate(lit_ctx), np.concatenate(lit_val))
        bits += float(b.sum() + lb.sum())
        pairs += n + ln
    b, n = codes.bits()
    bits, pairs = bits + b, pairs + n
    return bits / 8 + pairs * PAIR_BITS / 8, covered / max(1, pixels)


def pixel_costs(planes: list[np.ndarray], temporal: bool) -> list[np.ndarray]:
    """The model's code length in bits of each pixel of each plane (no copies)."""
    groups = [[0], list(range(1, len(planes)))] if temporal else [list(range(len(planes)))]
    out: list[np.ndarray] = [np.zeros(0)] * len(planes)
    for group in groups:
        if not group:
            continue
        parts = [tokens(planes[i], planes[i - 1] if temporal and i else None) for i in group]
        token, context, literal, west = (np.concatenate([p[k] for p in parts]) for k in range(4))
        value = np.concatenate([planes[i].ravel() for i in group])
        bits, _ = code_lengths(context, token)
        lb, _ = code_lengths(west[literal], value[literal])
        bits[literal] += lb
        at = 0
        for i in group:
            out[i] = bits[at : at + planes[i].size]
            at += planes[i].size
    return out


def copies_of(planes: list[np.ndarray], temporal: bool) -> list[list[tuple[int, int, int]]]:
    """The parse's matches, per plane, positions in the plane's raster order."""
    costs = pixel_costs(planes, temporal)
    out = []
    for i, plane in enumerate(planes):
        width, size = plane.shape[1], plane.size
        if temporal and i:
            stream = np.concatenate([planes[i - 1].ravel(), plane.ravel()])
            found = parse(stream, size, costs[i], width, size)
            out.append([(at - size, length, d) for at, length, d in found])
        else:
            out.append(parse(plane.ravel(), 0, costs[i], width, size))
    return out


#: log2 of the entries of :func:`hash_matches`'s table of last positions (coding 1's largest).
MATCH_BITS = 18


def _neighbourhood_slots(plane: np.ndarray) -> list[int]:
    """Per pixel, the table slot of a hash of its W, N, NW, NE, WW, NN (coding 1's ``slot``,
    with a 64-bit multiplier)."""
    west, north, ne, nw = _neighbours(plane)
    ww = np.empty_like(plane)
    ww[:, 2:] = plane[:, :-2]
    ww[:, :2] = west[:, :2]
    nn = np.empty_like(plane)
    nn[2:] = plane[:-2]
    nn[:2] = north[:2]
    key = np.zeros(plane.shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for a in (west, north, nw, ne, ww, nn):
            key = (key + a.astype(np.uint64) + np.uint64(1)) * _HASH_BASE
    return (key >> np.uint64(64 - MATCH_BITS)).astype(np.int64).ravel().tolist()


def hash_matches(planes: list[np.ndarray], temporal: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Coding 1's match model as a candidate: per plane, the value ``S0`` it predicts at each
    pixel (-1: none) and the bucket of its match length (0 none, 1 new, 2 below 4, 3 below 16,
    4 longer). A table keeps, per hash of the neighbourhood, the last place it was seen; where
    no match is being followed, the pixel after that place is the prediction, and a right
    prediction is followed on to the next pixel (an implicit copy: no length or distance is
    coded). For an animation the table and the match carry over to the next frame, and may
    point into the previous frame (what a decoder holding one canvas and one frame has)."""
    table = [0] * (1 << MATCH_BITS)  # a global position + 1; frame f starts at f * size
    out = []
    mptr = mlen = 0
    previous: list[int] = []
    for f, plane in enumerate(planes):
        size = plane.size
        here = plane.ravel().tolist()
        base = (f - 1) * size if temporal and f else f * size  # global position of flat[0]
        flat = previous + here if temporal and f else here
        first = (f - 1) * size if temporal and f else f * size  # the oldest position readable
        offset = len(flat) - size  # where this frame starts in flat
        slots = _neighbourhood_slots(plane)
        s0 = [-1] * size
        lq = [0] * size
        if not temporal:
            table = [0] * (1 << MATCH_BITS)
            mptr = mlen = 0
        elif mptr and mptr - 1 < first:
            mptr = mlen = 0
        for i in range(size):
            slot = slots[i]
            if mlen == 0:
                mptr = table[slot]
                if mptr and mptr - 1 < first:
                    mptr = 0
            if mptr:
                v = flat[mptr - 1 - base]
                s0[i] = v
                lq[i] = 1 if mlen == 0 else 2 if mlen < 4 else 3 if mlen < 16 else 4
                if v == here[i]:
                    mptr += 1
                    mlen += 1
                else:
                    mptr = mlen = 0
            table[slot] = base + offset + i + 1
        out.append((np.array(s0, dtype=np.int64).reshape(plane.shape), np.array(lq)))
        previous = here
    return out


def match_bytes(planes: list[np.ndarray], temporal: bool) -> tuple[float, float]:
    """Bytes of the model with coding 1's match prediction ``S0`` as a candidate (after P, for
    an animation) and its length bucket in the token's context, tables counted; and the share
    of pixels ``S0`` predicts right."""
    found = hash_matches(planes, temporal)
    groups = [[0], list(range(1, len(planes)))] if temporal else [list(range(len(planes)))]
    bits, pairs, right = 0.0, 0, 0
    for group in groups:
        if not group:
            continue
        parts = []
        for i in group:
            s0, lq = found[i]
            firsts = [planes[i - 1], s0] if temporal and i else [s0]
            token, context, literal, west = tokens(planes[i], firsts)
            parts.append((token, context * 5 + lq, literal, west, planes[i].ravel()))
            right += int((s0 == planes[i]).sum())
        token, context, literal, west, value = (
            np.concatenate([p[k] for p in parts]) for k in range(5)
        )
        b, n = code_lengths(context, token)
        lb, ln = code_lengths(west[literal], value[literal])
        bits += float(b.sum() + lb.sum())
        pairs += n + ln
    return bits / 8 + pairs * PAIR_BITS / 8, right / max(1, sum(p.size for p in planes))


#: A run symbol in the token alphabet: pixels equal to the previous frame's, then a length.
RUN = 8


def _value_matches(planes: list[np.ndarray], changed: list[np.ndarray]) -> list[np.ndarray]:
    """The table-of-values variant of the match (``docs/design/codings.md``): per hash of the
    neighbourhood, the last index seen after it, consulted and updated at the changed pixels
    only (frame 0: every pixel); -1 where it holds none."""
    table: dict[int, int] = {}
    out = []
    for plane, where in zip(planes, changed, strict=True):
        slots = _neighbourhood_slots(plane)
        flat = plane.ravel().tolist()
        s0 = np.full(plane.size, -1, dtype=np.int64)
        got = []
        for i in np.flatnonzero(where.ravel()).tolist():
            slot = slots[i]
            got.append((i, table.get(slot, -1)))
            table[slot] = flat[i]
        if got:
            at, value = zip(*got, strict=True)
            s0[list(at)] = value
        out.append(s0.reshape(plane.shape))
    return out


def animation_bytes(planes: list[np.ndarray], copies: bool) -> tuple[float, float]:
    """Bytes of an animation coding that puts the estimates together: frame 0 as a still
    with the match; every later frame in raster order as runs of pixels equal to the previous
    frame's (a ``RUN`` token, then the run's length as a prefix code) and changed pixels coded
    by the model with the match's value first among the candidates (the match consulted and
    updated at changed pixels only) -- and, with ``copies``, LZ-style copies from this frame
    and the previous one where they cost less than the changed pixels they cover. Tables
    counted as elsewhere; returns (bytes, share of the later frames' pixels in runs)."""
    first, _ = match_bytes(planes[:1], False)
    if len(planes) == 1:
        return first, 0.0
    later = planes[1:]
    changed = [p != q for p, q in zip(later, planes[:-1], strict=True)]
    s0s = _value_matches(planes, [np.ones(planes[0].shape, bool), *changed])[1:]
    parts = [tokens(p, [s]) for p, s in zip(later, s0s, strict=True)]
    # the model's cost of each changed pixel, before copies (unchanged pixels: 0, left to runs)
    costs = []
    if copies:
        token = np.concatenate([t[0][c.ravel()] for t, c in zip(parts, changed, strict=True)])
        context = np.concatenate([t[1][c.ravel()] for t, c in zip(parts, changed, strict=True)])
        literal = np.concatenate([t[2][c.ravel()] for t, c in zip(parts, changed, strict=True)])
        west = np.concatenate([t[3][c.ravel()] for t, c in zip(parts, changed, strict=True)])
        value = np.concatenate([p.ravel()[c.ravel()] for p, c in zip(later, changed, strict=True)])
        bits, _ = code_lengths(context, token)
        lb, _ = code_lengths(west[literal], value[literal])
        bits[literal] += lb
        at = 0
        for c in changed:
            cost = np.zeros(c.size)
            k = int(c.sum())
            cost[c.ravel()] = bits[at : at + k]
            at += k
            costs.append(cost)
    tok_all, ctx_all, lit_ctx, lit_val = [], [], [], []
    run_sym, run_extra = [], []
    codes = _MatchCodes()
    in_runs = 0
    for f, (plane, (token, context, literal, west)) in enumerate(zip(later, parts, strict=True)):
        size = plane.size
        covered = np.zeros(size, dtype=bool)
        coded = changed[f].ravel().copy()
        token = token.copy()
        if copies:
            stream = np.concatenate([planes[f].ravel(), plane.ravel()])
            codes.cache.clear()
            for at, length, d in parse(stream, size, costs[f], plane.shape[1], size):
                at -= size
                covered[at : at + length] = True
                coded[at : at + length] = False
                coded[at] = True
                token[at] = COPY
                literal[at] = False
                codes.add(length, d)
        # runs of unchanged pixels not under a copy: a RUN token at each start
        same = ~changed[f].ravel() & ~covered
        starts = same & ~np.concatenate([[False], same[:-1]])
        ends = same & ~np.concatenate([same[1:], [False]])
        lengths = np.flatnonzero(ends) - np.flatnonzero(starts) + 1
        in_runs += int(same.sum())
        token[starts] = RUN
        literal[starts] = False
        coded |= starts
        b, e = prefix_code(lengths - 1)
        run_sym.append(b)
        run_extra.append(e)
        tok_all.append(token[coded])
        ctx_all.append(context[coded])
        lit = literal & coded
        lit_ctx.append(west[lit])
        lit_val.append(plane.ravel()[lit])
    b, n = code_lengths(np.concatenate(ctx_all), np.concatenate(tok_all))
    lb, ln = code_lengths(np.concatenate(lit_ctx), np.concatenate(lit_val))
    bits_total, pairs = float(b.sum() + lb.sum()), n + ln
    for b, n in (_static_bits(np.concatenate(run_sym), np.concatenate(run_extra)), codes.bits()):
        bits_total, pairs = bits_total + b, pairs + n
    total = first + bits_total / 8 + pairs * PAIR_BITS / 8
    return total, in_runs / max(1, sum(p.size for p in later))


def _row(name: str, peer: int | None, cells: list[tuple[str, float | int | None]]) -> str:
    text = f"{name:<28}{peer or '-':>10}"
    for fmt, v in cells:
        text += f"{'-':>10}" if v is None else f"{v:>10{fmt}}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--colors", default="16,256", help="K for still images")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = parser.parse_args(argv)
    gifs = sorted(args.folder.glob("*.gif"))
    stills = sorted(
        p for p in args.folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")
    )
    anim = bool(gifs)
    paths = (gifs if anim else stills)[: args.limit or None]
    if not paths:
        print(f"estimate_copies: no images in {args.folder}", file=sys.stderr)
        return 2
    tool = "gifsicle" if anim else "cwebp"
    have = shutil.which(tool) is not None
    if not have:
        print(f"skipped {tool}: not on PATH (apt-get install {tool if anim else 'webp'})")
    peer_name = "gifsicle" if anim else "WebP -m6"
    print(
        f"{'file':<28}{peer_name:>10}{'coding 2':>10}{'coding 1':>10}{'model':>10}"
        f"{'copies':>10}{'covered':>10}{'match':>10}{'S0 right':>10}"
        f"{'c2 x':>10}{'model x':>10}{'copies x':>10}{'match x':>10}"
        + (
            f"{'runs':>10}{'in runs':>10}{'runs+cp':>10}{'runs x':>10}{'runs+cp x':>10}"
            if anim
            else ""
        )
    )
    keys = ("c2", "model", "copies", "match", "c1", "runs", "runs+cp")
    ratios: dict[str, list[float]] = {k: [] for k in keys}
    jobs: list[tuple[str, list[np.ndarray], np.ndarray, Path]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            if anim:
                palette, planes = frames_of(path)
                jobs.append((path.name, planes, palette, path))
            else:
                with Image.open(path) as im:
                    pixels = np.asarray(im.convert("RGB"))
                for k in (int(c) for c in args.colors.split(",")):
                    q = kmcodec.quantize(pixels, k, smooth=0)
                    png = Path(tmp) / f"{path.stem}-{k}.png"
                    p = Image.fromarray(q.indices, mode="P")
                    p.putpalette(q.palette[:, :3].tobytes())
                    p.save(png)
                    jobs.append((f"{path.stem} K={k}", [q.indices.astype(np.int32)], q, png))
        for name, planes, extra, source in jobs:
            peer = None
            if have and anim:
                out = Path(tmp) / "o.gif"
                peer = peer_size(["gifsicle", "-O3", str(source), "-o", str(out)], out)
            elif have:
                out = Path(tmp) / "o.webp"
                cmd = ["cwebp", "-quiet", "-lossless", "-exact", "-q", "100", "-m", "6"]
                peer = peer_size([*cmd, str(source), "-o", str(out)], out)
            c2 = c1 = None
            if anim and len(extra) <= 256:
                c2 = sum(
                    len(kmcodec.encode_indexed(extra, p.astype(np.uint8), coding=2)) for p in planes
                )
            elif not anim:
                c2, c1 = len(extra.encode(coding=2)), len(extra.encode(coding=1))
            model, _ = total_bytes(planes, anim, None)
            copies, covered = total_bytes(planes, anim, copies_of(planes, anim))
            match, right = match_bytes(planes, anim)
            cells: list[tuple[str, float | int | None]] = [
                ("", c2),
                ("", c1),
                (".0f", model),
                (".0f", copies),
                (".1%", covered),
                (".0f", match),
                (".1%", right),
            ]
            pairs = (("c2", c2), ("model", model), ("copies", copies), ("match", match), ("c1", c1))
            for key, v in pairs:
                r = v / peer if peer and v is not None else None
                if r is not None:
                    ratios[key].append(r)
                if key != "c1":
                    cells.append((".2f", r))
            if anim:
                runs, in_runs = animation_bytes(planes, copies=False)
                runs_cp, _ = animation_bytes(planes, copies=True)
                cells += [(".0f", runs), (".1%", in_runs), (".0f", runs_cp)]
                for key, v in (("runs", runs), ("runs+cp", runs_cp)):
                    r = v / peer if peer else None
                    if r is not None:
                        ratios[key].append(r)
                    cells.append((".2f", r))
            print(_row(name, peer, cells))
    for key, label in (
        ("c2", "coding 2"),
        ("c1", "coding 1"),
        ("model", "model"),
        ("copies", "model + copies"),
        ("match", "model + match (S0)"),
        ("runs", "runs + match"),
        ("runs+cp", "runs + match + copies"),
    ):
        if ratios[key]:
            r = np.array(ratios[key])
            print(
                f"median {label} / {peer_name}: {np.median(r):.2f} (largest {r.max():.2f},"
                f" {int((r > 1).sum())} above 1)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
