"""A plain-Python decoder of coding 2 (``FAST``), written from spec/kmq.md section 2.7 alone.

It shares no code with kmcodec (only the error classes, so that tests compare what each
raises). ``decode(stream, width, height, colors, trace=None)`` returns the plane as a list of
rows; with a list as ``trace`` it appends one line per pixel, span or decision, as the spec's
worked example shows them.
"""

from __future__ import annotations

import struct
import zlib

from kmcodec.errors import ChecksumError, CorruptError, IndexRangeError

TOKEN_CTX, AFTER_SPAN, SPAN_BASE, LIT_BASE = 0, 252, 280, 296


def d_of(q: int) -> int:
    return 1 + max(q >> 4, (q >> 2) & 3, q & 3)


def table_kind(tid: int) -> tuple[int, int]:
    """(alphabet, precision bits) of table ``tid``."""
    if tid < SPAN_BASE:
        q = tid // 9 if tid < AFTER_SPAN else tid - AFTER_SPAN
        return d_of(q) + 1, 12
    if tid < LIT_BASE:
        return 65, 10
    return 256, 10


class Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def bit(self) -> int:
        if self.pos >= 8 * len(self.data):
            raise CorruptError("the tables end early")
        b = (self.data[self.pos >> 3] >> (self.pos & 7)) & 1
        self.pos += 1
        return b

    def bits(self, n: int) -> int:
        return sum(self.bit() << i for i in range(n))

    def eg(self, k: int) -> int:
        z = 0
        while not self.bit():
            z += 1
            if z > 24:
                raise CorruptError("an Exp-Golomb code of more than 24 zeros")
        return (1 << (z + k)) + self.bits(z + k) - (1 << k)


def read_tables(data: bytes, colors: int) -> list[list[int] | None]:
    r = Bits(data)
    tables: list[list[int] | None] = []
    for tid in range(LIT_BASE + colors):
        a, b = table_kind(tid)
        nz = r.eg(0)
        if nz > a:
            raise CorruptError("symbol out of range")
        if nz == 0:
            tables.append(None)
            continue
        syms, s = [], -1
        for _ in range(nz):
            s += 1 + r.eg(0)
            if s >= a:
                raise CorruptError("symbol out of range")
            syms.append(s)
        freq = [0] * a
        if nz == 1:
            freq[syms[0]] = 1 << b
        else:
            shift, k = r.bits(4), r.bits(3)
            if shift > b:
                raise CorruptError("shift larger than the precision")
            t, total = 1 << (b - shift), 0
            for s in syms[:-1]:
                f = r.eg(k) + 1
                total += f
                if total >= t:
                    raise CorruptError("table does not sum")
                freq[s] = f << shift
            freq[syms[-1]] = (t - total) << shift
        tables.append(freq)
    if (r.pos + 7) // 8 != len(data) or any(r.bit() for _ in range(8 * len(data) - r.pos)):
        raise CorruptError("bytes or bits left over after the tables")
    return tables


class Rans:
    def __init__(self, data: bytes) -> None:
        if len(data) < 4:
            raise CorruptError("ends early")
        self.data, self.pos = data, 4
        self.x = struct.unpack_from("<I", data)[0]
        if self.x < 1 << 16:
            raise CorruptError("initial state below 2^16")

    def renorm(self) -> None:
        if self.x < 1 << 16:
            if self.pos + 2 > len(self.data):
                raise CorruptError("ends early")
            self.x = (self.x << 16) | struct.unpack_from("<H", self.data, self.pos)[0]
            self.pos += 2

    def symbol(self, freq: list[int], b: int) -> int:
        u = self.x & ((1 << b) - 1)
        c = 0
        for s, f in enumerate(freq):
            if c <= u < c + f:
                self.x = f * (self.x >> b) + u - c
                self.renorm()
                return s
            c += f
        raise AssertionError("frequencies sum to 2^b")

    def raw(self, m: int) -> int:
        r = self.x & ((1 << m) - 1)
        self.x >>= m
        self.renorm()
        return r


def decode(
    stream: bytes, width: int, height: int, colors: int, trace: list[str] | None = None
) -> list[list[int]]:
    stream = bytes(stream)
    if len(stream) < 8:
        raise CorruptError("stream shorter than its head")
    part_rows, table_size = struct.unpack_from("<II", stream)
    if part_rows < 1:
        raise CorruptError("parts of 0 rows")
    pos = 8 + table_size
    if pos + 4 > len(stream):
        raise CorruptError("ends inside the tables")
    table_bytes = stream[8:pos]
    if zlib.crc32(table_bytes) != struct.unpack_from("<I", stream, pos)[0]:
        raise ChecksumError("table checksum")
    pos += 4
    parts = []
    for _ in range(-(-height // part_rows)):
        if pos + 8 > len(stream):
            raise CorruptError("ends before a part")
        size, crc = struct.unpack_from("<II", stream, pos)
        if pos + 8 + size > len(stream):
            raise CorruptError("ends inside a part")
        parts.append((stream[pos + 8 : pos + 8 + size], crc))
        pos += 8 + size
    if pos != len(stream):
        raise CorruptError("bytes after the last part")
    tables = read_tables(table_bytes, colors)
    plane: list[list[int]] = []
    for i, (data, crc) in enumerate(parts):
        if zlib.crc32(data) != crc:
            raise ChecksumError("part checksum")
        rows = min(part_rows, height - i * part_rows)
        plane += decode_part(data, tables, width, rows, colors, trace)
    return plane


def decode_part(
    data: bytes,
    tables: list[list[int] | None],
    width: int,
    rows: int,
    colors: int,
    trace: list[str] | None,
) -> list[list[int]]:
    rans = Rans(data)
    img: list[list[int]] = []
    how: list[list[int]] = []

    def read(tid: int, what: str) -> int:
        freq = tables[tid]
        if freq is None:
            raise CorruptError("a symbol from an empty table")
        s = rans.symbol(freq, table_kind(tid)[1])
        if trace is not None:
            trace.append(f"{what} table {tid} -> {s}")
        return s

    def neighbours(x: int, y: int) -> tuple[int, int, int, int]:
        row = img[y]
        w = row[x - 1] if x > 0 else (img[y - 1][x] if y > 0 else 0)
        n = img[y - 1][x] if y > 0 else w
        nw = img[y - 1][x - 1] if y > 0 and x > 0 else n
        ne = img[y - 1][x + 1] if y > 0 and x + 1 < width else n
        return w, n, ne, nw

    def pixel(x: int, y: int, after_span: bool) -> None:
        w, n, ne, nw = neighbours(x, y)
        dist: list[int] = []
        for v in (w, n, ne, nw):
            if v not in dist:
                dist.append(v)
        q = 16 * dist.index(n) + 4 * dist.index(ne) + dist.index(nw)
        if after_span:
            tid = AFTER_SPAN + q
        else:
            hw = how[y][x - 1] if x > 0 else 0
            hn = how[y - 1][x] if y > 0 else 0
            tid = (q * 3 + hw) * 3 + hn
        t = read(tid, f"({x},{y}) token")
        if t < len(dist):
            img[y][x], how[y][x] = dist[t], (0 if t == 0 else 1)
            return
        v = read(LIT_BASE + w, f"({x},{y}) literal")
        if v >= colors:
            raise IndexRangeError("literal >= K")
        img[y][x], how[y][x] = v, 2

    for y in range(rows):
        img.append([0] * width)
        how.append([0] * width)
        x = 0
        while x < width:
            w, n, ne, nw = neighbours(x, y)
            if y > 0 and w == n == ne == nw:
                c = w
                r = 1
                while x + r < width and img[y - 1][x + r] == c:
                    r += 1
                s = read(SPAN_BASE + min(r.bit_length() - 1, 15), f"({x},{y}) span R={r}")
                if s == 0:
                    for j in range(r):
                        img[y][x + j] = c
                    x += r
                    continue
                h = s - 1
                if h < 16:
                    k = h
                else:
                    e = 4 + (h - 16) // 2
                    extra = (
                        rans.raw(e - 1) if e - 1 <= 16 else rans.raw(16) + (rans.raw(e - 17) << 16)
                    )
                    k = (1 << e) + (h % 2) * (1 << (e - 1)) + extra
                if k >= r:
                    raise CorruptError("span longer than the run above")
                for j in range(k):
                    img[y][x + j] = c
                x += k
                pixel(x, y, True)
                x += 1
                continue
            pixel(x, y, False)
            x += 1
    if rans.pos != len(rans.data) or rans.x != 1 << 16:
        raise CorruptError("bytes left over")
    return img


# ---- a minimal encoder, to make streams the real encoder never writes (for the vectors) ----


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def put(self, v: int, n: int) -> None:
        self.bits += [(v >> i) & 1 for i in range(n)]

    def eg(self, v: int, k: int) -> None:
        u = v + (1 << k)
        n = u.bit_length() - 1
        self.put(0, n - k)
        self.put(1, 1)
        self.put(u - (1 << n), n)

    def bytes(self) -> bytes:
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(sum(bits[i + j] << j for j in range(8)) for i in range(0, len(bits), 8))


def write_tables(freqs: dict[int, dict[int, int]], colors: int) -> bytes:
    """The table section for {table id: {symbol: frequency}} (others empty), at shift 0 and
    Exp-Golomb order 0; the frequencies are written as given, so they need not sum."""
    w = BitWriter()
    for tid in range(LIT_BASE + colors):
        f = freqs.get(tid, {})
        w.eg(len(f), 0)
        prev = -1
        for s in sorted(f):
            w.eg(s - prev - 1, 0)
            prev = s
        if len(f) > 1:
            w.put(0, 4)
            w.put(0, 3)
            for s in sorted(f)[:-1]:
                w.eg(f[s] - 1, 0)
    return w.bytes()


def encode_symbols(symbols: list[tuple[int, int, int]]) -> bytes:
    """rANS-code [(frequency, start, precision bits)] in decoding order (informative 2.7.4)."""
    x, words = 1 << 16, []
    for f, c, b in reversed(symbols):
        if x >= f << (32 - b):
            words.append(x & 0xFFFF)
            x >>= 16
        x = (x // f << b) + x % f + c
    return struct.pack("<I", x) + b"".join(struct.pack("<H", v) for v in reversed(words))


def build_stream(tables: bytes, parts: list[bytes], part_rows: int) -> bytes:
    out = (
        struct.pack("<II", part_rows, len(tables)) + tables + struct.pack("<I", zlib.crc32(tables))
    )
    for p in parts:
        out += struct.pack("<II", len(p), zlib.crc32(p)) + p
    return out
