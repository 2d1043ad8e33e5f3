"""A plain-Python reference of coding 1 (``CONTEXT``), written from spec/kmq.md section 2.6.

Slow (a few microseconds a decision) and independent of
``kmcodec/format/codings/_context_coder.c``: the tests check that both give the same bytes and
the same pixels. ``encode`` codes any value that fits the literal's bits, even one >= K, so
``tools/make_vectors.py`` can build invalid files with it.
"""

from __future__ import annotations

import zlib

PROB_ONE = 1 << 16
PROB_MIN, PROB_MAX = 32, PROB_ONE - 32
COUNT_LIMIT = 255
RATE = [131072 // (2 * n + 3) for n in range(COUNT_LIMIT + 1)]
HASH_MUL = 0x9E3779B1
MASK32 = 0xFFFFFFFF
MATCH_LIMIT = 65535
MSTATES = 10
HOWS = 9
SQUASH_T = [
    1,
    2,
    3,
    6,
    10,
    16,
    27,
    45,
    73,
    120,
    194,
    310,
    488,
    747,
    1101,
    1546,
    2047,
    2549,
    2994,
    3348,
    3607,
    3785,
    3901,
    3975,
    4022,
    4050,
    4068,
    4079,
    4085,
    4089,
    4092,
    4093,
    4094,
]


def squash(d: int) -> int:
    if d > 2047:
        return 4095
    if d < -2047:
        return 1
    w = d & 127
    i = (d >> 7) + 16
    return (SQUASH_T[i] * (128 - w) + SQUASH_T[i + 1] * w + 64) >> 7


def _stretch_table() -> list[int]:
    table = [0] * 4096
    pi = 0
    for x in range(-2047, 2048):
        v = squash(x)
        for i in range(pi, v + 1):
            table[i] = x
        pi = v + 1
    for i in range(pi, 4096):
        table[i] = 2047
    return table


STRETCH = _stretch_table()


class StreamError(Exception):
    """The stream breaks a rule; ``kind`` is "ends-early", "left-over", "index" or "checksum"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def ceil_log2(v: int) -> int:
    b = 0
    while (1 << b) < v:
        b += 1
    return b


def h(acc: int, v: int) -> int:
    return ((acc + v + 1) * HASH_MUL) & MASK32


class Counter:
    __slots__ = ("n", "p")

    def __init__(self) -> None:
        self.p = PROB_ONE // 2
        self.n = 0

    def update(self, bit: int) -> None:
        target = PROB_ONE if bit else 0
        self.p = min(PROB_MAX, max(PROB_MIN, self.p + (((target - self.p) * RATE[self.n]) >> 16)))
        if self.n < COUNT_LIMIT:
            self.n += 1


class Tables:
    def __init__(self, width: int, height: int, colors: int) -> None:
        pb = ceil_log2(width * height)
        self.match_bits = min(max(pb, 8), 18)
        self.hash_bits = min(max(pb + 1, 10), 18)
        self.index_bits = ceil_log2(colors)
        self.match: dict[int, int] = {}
        self.flag: dict[int, Counter] = {}
        self.flag_near: dict[int, Counter] = {}
        self.flag_wide: dict[int, Counter] = {}
        self.flag_value: dict[int, Counter] = {}
        self.literal_w: dict[int, Counter] = {}
        self.literal_n: dict[int, Counter] = {}
        self.literal_near: dict[int, Counter] = {}
        self.literal_wide: dict[int, Counter] = {}
        sets = 5 * MSTATES + 8
        self.weights = [[1 << 14] * 5 for _ in range(sets)]

    @staticmethod
    def get(table: dict[int, Counter], i: int) -> Counter:
        c = table.get(i)
        if c is None:
            c = table[i] = Counter()
        return c


class RangeDecoder:
    def __init__(self, data: bytes) -> None:
        if len(data) < 4:
            raise StreamError("ends-early")
        self.data, self.pos = data, 4
        self.range, self.code = MASK32, int.from_bytes(data[:4], "big")
        self.ended_early = False

    def bit(self, p1: int) -> int:
        bound = (self.range >> 16) * p1
        if self.code < bound:
            self.range, bit = bound, 1
        else:
            self.code -= bound
            self.range -= bound
            bit = 0
        while self.range < (1 << 24):
            self.range = (self.range << 8) & MASK32
            nxt = 0
            if self.pos < len(self.data):
                nxt = self.data[self.pos]
                self.pos += 1
            else:
                self.ended_early = True
            self.code = ((self.code << 8) | nxt) & MASK32
        return bit


class RangeEncoder:
    def __init__(self) -> None:
        self.low, self.range, self.cache, self.cache_size = 0, MASK32, 0, 1
        self.out = bytearray()

    def shift_low(self) -> None:
        if (self.low & MASK32) < 0xFF000000 or (self.low >> 32) != 0:
            carry = self.low >> 32
            temp = self.cache
            while True:
                self.out.append((temp + carry) & 0xFF)
                temp = 0xFF
                self.cache_size -= 1
                if self.cache_size == 0:
                    break
            self.cache = (self.low >> 24) & 0xFF
        self.cache_size += 1
        self.low = (self.low << 8) & MASK32

    def bit(self, p1: int, bit: int) -> None:
        bound = (self.range >> 16) * p1
        if bit:
            self.range = bound
        else:
            self.low += bound
            self.range -= bound
        while self.range < (1 << 24):
            self.range = (self.range << 8) & MASK32
            self.shift_low()

    def finish(self) -> bytes:
        for _ in range(5):
            self.shift_low()
        assert self.out[0] == 0
        return bytes(self.out[1:])


#: Set to a list to record, per pixel, (x, y, sources, [(what, p1, bit), ...], index).
TRACE: list | None = None


def _run(
    width: int,
    height: int,
    colors: int,
    plane: list[int],
    coder,
    encoding: bool,
    lie_at: frozenset[int] = frozenset(),
) -> None:
    t = Tables(width, height, colors)
    K, B = colors, t.index_bits  # noqa: N806  (the spec's names)
    mptr = mlen = 0
    hit_above = [0] * width
    hit_row = [0] * width
    for y in range(height):
        hit_above, hit_row = hit_row, hit_above
        for x in range(width):
            pos = y * width + x
            w = plane[pos - 1] if x > 0 else (plane[pos - width] if y > 0 else 0)
            n = plane[pos - width] if y > 0 else w
            nw = plane[pos - width - 1] if y > 0 and x > 0 else n
            ne = plane[pos - width + 1] if y > 0 and x + 1 < width else n
            ww = plane[pos - 2] if x > 1 else w
            nn = plane[pos - 2 * width] if y > 1 else n
            nww = plane[pos - width - 2] if y > 0 and x > 1 else nw
            nee = plane[pos - width + 2] if y > 0 and x + 2 < width else ne
            nnw = plane[pos - 2 * width - 1] if y > 1 and x > 0 else nn
            nne = plane[pos - 2 * width + 1] if y > 1 and x + 1 < width else nn
            far = h(h(h(h(0, nww), nee), nnw), nne)
            key = 0
            for v in (w, n, nw, ne, ww, nn):
                key = h(key, v)
            slot = key >> (32 - t.match_bits)
            if mlen == 0:
                mptr = t.match.get(slot, 0)
            src = [plane[mptr - 1] if mptr else -1, w, n, ne, nw]
            lenq = 0 if not mptr else 1 if mlen == 0 else 2 if mlen < 4 else 3 if mlen < 16 else 4
            mstate = lenq * 2 + (hit_above[x] & 1 if y > 0 else 0)
            how = 3 * (hit_row[x - 1] >> 1 if x > 0 else 2) + (hit_above[x] >> 1 if y > 0 else 2)
            value = plane[pos] if encoding else -1
            steps: list = []
            decided = -1
            how_here = 2
            excluded: set[int] = set()
            flags = [s for s in range(5) if src[s] >= 0 and src[s] not in src[:s]]
            for i, s in enumerate(flags):
                if len(excluded) == K - 1:
                    break
                v = src[s]
                agree = 0
                j = 0
                for u in range(5):
                    if u == s:
                        continue
                    agree |= (src[u] == v) << j
                    j += 1
                ctx = (s * 16 + agree) * MSTATES + mstate
                h2 = h(h(h(h(0, ctx), w), n), nw * 16 + ne if K <= 16 else 0)
                h3 = h(h(h(h(h(h2, nw), ne), ww), nn), far)
                h4 = h(h(h(0x1234, ctx), w), v)
                counters = (
                    Tables.get(t.flag, ctx * HOWS + how),
                    Tables.get(t.flag_near, h2 >> (32 - t.hash_bits)),
                    Tables.get(t.flag_wide, h3 >> (32 - t.hash_bits)),
                    Tables.get(t.flag_value, h4 >> (32 - t.hash_bits)),
                )
                weights = t.weights[s * MSTATES + mstate]
                truth = int(value == v and pos not in lie_at)
                bit = _decide(coder, encoding, counters, weights, truth, steps, f"flag s={s} v={v}")
                if bit:
                    decided = v
                    how_here = 0 if i == 0 else 1
                    break
                excluded.add(v)
            if decided < 0 and len(excluded) == K - 1:
                decided = min(set(range(K)) - excluded)
                if encoding and decided != value:
                    raise ValueError(f"cannot code pixel {pos} as a literal: its flags leave one")
            if decided < 0:
                node = 1
                done = 0
                while done < B:
                    group = min(4, B - done)
                    h2 = h(h(h(0xFFFF, node), w), n)
                    h3 = h(h(h2, nw), ne)
                    block2 = (h2 >> (32 - t.hash_bits + 4)) << 4
                    block3 = (h3 >> (32 - t.hash_bits + 4)) << 4
                    sub = 1
                    for _ in range(group):
                        b = B - 1 - done
                        counters = (
                            Tables.get(t.literal_w, (w << B) + node),
                            Tables.get(t.literal_near, block2 + sub),
                            Tables.get(t.literal_wide, block3 + sub),
                            Tables.get(t.literal_n, (n << B) + node),
                        )
                        weights = t.weights[5 * MSTATES + (B - 1 - b)]
                        bit = _decide(
                            coder,
                            encoding,
                            counters,
                            weights,
                            (value >> b) & 1,
                            steps,
                            f"literal node={node}",
                        )
                        node = node * 2 + bit
                        sub = sub * 2 + bit
                        done += 1
                decided = node - (1 << B)
                if decided >= K and not encoding:
                    raise StreamError("index")
            if not encoding:
                plane[pos] = decided
            if TRACE is not None:
                TRACE.append((x, y, src, steps, decided))
            hit_row[x] = int(src[0] == decided) | (how_here << 1)
            if src[0] == decided:
                mptr += 1
                mlen = min(mlen + 1, MATCH_LIMIT)
            else:
                mptr = mlen = 0
            t.match[slot] = pos + 1
            # Spec 2.6.2: a stream that ends early is reported when the pixel whose decoding
            # first needed a byte past the end is done (an out-of-range literal in that pixel
            # is reported first, above).
            if not encoding and coder.ended_early:
                raise StreamError("ends-early")


def _fdiv(v: int, s: int) -> int:
    """floor(v / 2^s): Python's >> already rounds toward minus infinity."""
    return v >> s


def _decide(
    coder, encoding: bool, counters, weights: list[int], bit: int, steps: list, what: str
) -> int:
    x = [STRETCH[c.p >> 4] for c in counters] + [256]
    d = _fdiv(sum(wi * xi for wi, xi in zip(weights, x, strict=True)), 16)
    p12 = squash(max(-4095, min(4095, d)))
    p16 = p12 << 4
    if encoding:
        coder.bit(p16, bit)
    else:
        bit = coder.bit(p16)
    steps.append((what, p16, bit))
    err = (bit << 12) - p12
    for i in range(5):
        weights[i] += _fdiv(x[i] * err + (1 << 11), 12)
    for c in counters:
        c.update(bit)
    return bit


def encode(indices: list[list[int]], colors: int, *, lie_at: frozenset[int] = frozenset()) -> bytes:
    """Return the index stream (coded bytes + CRC-32 of the plane) for rows of indices.

    At the positions ``lie_at`` every flag is coded 0, even the one whose value is the pixel's,
    and the index follows as a literal equal to a value a flag excluded: a valid stream (spec
    2.6.5 step 7) that kmcodec's encoder never writes.
    """
    height, width = len(indices), len(indices[0])
    plane = [v for row in indices for v in row]
    enc = RangeEncoder()
    _run(width, height, colors, plane, enc, True, lie_at)
    crc = zlib.crc32(bytes(v & 0xFF for v in plane))
    return enc.finish() + crc.to_bytes(4, "little")


def decode(stream: bytes, width: int, height: int, colors: int) -> list[int]:
    """Decode an index stream to a flat list of indices, raising :class:`StreamError`."""
    if len(stream) < 8:
        raise StreamError("ends-early")
    coded, crc = stream[:-4], int.from_bytes(stream[-4:], "little")
    dec = RangeDecoder(coded)
    plane = [0] * (width * height)
    _run(width, height, colors, plane, dec, False)
    if dec.pos != len(coded) or dec.code != 0:
        raise StreamError("left-over")
    if zlib.crc32(bytes(plane)) != crc:
        raise StreamError("checksum")
    return plane
