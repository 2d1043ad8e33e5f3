// fast.js: coding 2 (FAST) of the .kmq format, spec/kmq.md section 2.7: a static context model
// and rANS in independently decodable parts of rows. decodeFastPlane(stream, width, height,
// colors) returns the index plane or throws { code, part } with code one of the constants below;
// kmq.js turns them into its error classes.

import { crc32 } from "./crc32.js";

export const FAST_CORRUPT = 1; // a layout, table or coder rule is broken (message in `why`)
export const FAST_CHECKSUM = 2;
export const FAST_INDEX = 3;

const TOKEN_CTX = 252, SPAN_BASE = 280, LIT_BASE = 296;

class Fail {
  constructor(code, why) {
    this.code = code;
    this.why = why;
  }
}

const corrupt = (why) => { throw new Fail(FAST_CORRUPT, why); };

function dOf(q) { return 1 + Math.max(q >> 4, (q >> 2) & 3, q & 3); }

function kind(id) {
  if (id < SPAN_BASE) return [dOf(id < TOKEN_CTX ? Math.floor(id / 9) : id - TOKEN_CTX) + 1, 12];
  return id < LIT_BASE ? [65, 10] : [256, 10];
}

function readTables(bytes, colors) {
  let pos = 0;
  const total = 8 * bytes.length;
  const malformed = () => corrupt("the tables of the fast-coded stream are malformed");
  const bit = () => {
    if (pos >= total) malformed();
    const b = (bytes[pos >> 3] >> (pos & 7)) & 1;
    pos++;
    return b;
  };
  // n bits, the first read the least significant; a byte's worth at a time
  const bits = (n) => {
    if (pos + n > total) malformed();
    let v = 0, shift = 0;
    while (n > 0) {
      const off = pos & 7, take = Math.min(8 - off, n);
      v += ((bytes[pos >> 3] >> off) & ((1 << take) - 1)) * 2 ** shift;
      pos += take;
      shift += take;
      n -= take;
    }
    return v;
  };
  // Exp-Golomb of order k: at most 24 zero bits, then the 1, then z + k bits
  const eg = (k) => {
    let z = 0;
    for (;;) {
      if (pos >= total) malformed();
      const rest = bytes[pos >> 3] >> (pos & 7);
      if (rest === 0) {
        const zeros = 8 - (pos & 7);
        z += zeros;
        pos += zeros;
        if (z > 24) malformed();
        continue;
      }
      const zeros = 31 - Math.clz32(rest & -rest);
      z += zeros;
      pos += zeros + 1;
      if (z > 24) malformed();
      break;
    }
    return 2 ** (z + k) + bits(z + k) - 2 ** k;
  };
  const tables = [];
  for (let id = 0; id < LIT_BASE + colors; id++) {
    const [a, b] = kind(id);
    const nz = eg(0);
    if (nz > a) corrupt("a table of the fast-coded stream holds a symbol out of range");
    if (nz === 0) { tables.push(null); continue; }
    const syms = [];
    let s = -1;
    for (let i = 0; i < nz; i++) {
      s += 1 + eg(0);
      if (s >= a) corrupt("a table of the fast-coded stream holds a symbol out of range");
      syms.push(s);
    }
    const freq = new Uint32Array(a);
    if (nz === 1) {
      freq[syms[0]] = 1 << b;
    } else {
      const shift = bits(4), k = bits(3);
      if (shift > b) corrupt("the tables of the fast-coded stream are malformed");
      const t = 1 << (b - shift);
      let sum = 0;
      for (let i = 0; i + 1 < nz; i++) {
        const f = eg(k) + 1;
        sum += f;
        if (sum >= t) corrupt("a table of the fast-coded stream does not sum to its total");
        freq[syms[i]] = f << shift;
      }
      freq[syms[nz - 1]] = (t - sum) << shift;
    }
    tables.push(freq);
  }
  if (Math.ceil(pos / 8) !== bytes.length) corrupt("the tables of the fast-coded stream are malformed");
  while (pos < 8 * bytes.length) if (bit()) corrupt("the tables of the fast-coded stream are malformed");
  // look-up form: tokens as cumulative frequencies, spans and literals as 1024-entry tables
  const cum = tables.slice(0, SPAN_BASE).map((f) => {
    if (!f) return null;
    const c = new Uint16Array(6).fill(4096);
    let acc = 0;
    for (let t = 0; t <= f.length && t < 6; t++) { c[t] = acc; acc += t < f.length ? f[t] : 0; }
    c[f.length] = 4096;
    return c;
  });
  const luts = tables.slice(SPAN_BASE).map((f) => {
    if (!f) return null;
    const lut = new Uint32Array(1024);
    let start = 0;
    for (let s = 0; s < f.length; s++) {
      for (let j = 0; j < f[s]; j++) lut[start + j] = (s << 20) | ((f[s] - 1) << 10) | j;
      start += f[s];
    }
    return lut;
  });
  return { cum, luts };
}

// The equality pattern of (W, N, NE, NW) as a 6-bit mask, as in _fast_coder.c: bit 0 N = W,
// 1 NE = W, 2 NE = N, 3 NW = W, 4 NW = N, 5 NW = NE. For each mask: the pattern q, the number
// of distinct values d, and which neighbour (0 W, 1 N, 2 NE, 3 NW) holds distinct value t.
const Q_OF = new Uint8Array(64), D_OF = new Uint8Array(64), SRC_OF = new Uint8Array(256);
for (let v = 0; v < 256; v++) {
  const nb = [v & 3, (v >> 2) & 3, (v >> 4) & 3, (v >> 6) & 3];
  const dist = [], lab = [];
  for (const value of nb) {
    let j = dist.indexOf(value);
    if (j < 0) { j = dist.length; dist.push(value); }
    lab.push(j);
  }
  const [w, n, ne, nw] = nb;
  const m = (n === w) | ((ne === w) << 1) | ((ne === n) << 2) | ((nw === w) << 3) | ((nw === n) << 4) | ((nw === ne) << 5);
  Q_OF[m] = 16 * lab[1] + 4 * lab[2] + lab[3];
  D_OF[m] = dist.length;
  for (let t = 0; t < 4; t++) {
    const i = lab.indexOf(t);
    SRC_OF[4 * m + t] = i < 0 ? 0 : i;
  }
}

// One part: pixels in raster order (spec 2.7.3), one rANS state (2.7.4). The token tables are
// looked up by the neighbours' mask and how W and N were coded, as the C decoder does; the
// multiplies stay in 32-bit integers (Math.imul: every product and sum is below 2^32).
function decodePart(src, tables, width, rows, colors, out) {
  const { cum, luts } = tables;
  const len = src.length;
  if (len < 4) corrupt("a part of the fast-coded stream ends before its last pixel");
  let X = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0;
  if (X < 65536) corrupt("a part of the fast-coded stream starts with a rANS state below 65536");
  let p = 4;
  const endsEarly = () => corrupt("a part of the fast-coded stream ends before its last pixel");
  const empty = () => corrupt("the fast-coded stream reads a symbol from an empty table");
  // token tables by (mask << 4 | hw << 2 | hn), and after a span by mask
  const byMask = new Array(1024).fill(null), afterSpan = new Array(64).fill(null);
  for (let m = 0; m < 64; m++) {
    const q = Q_OF[m];
    afterSpan[m] = cum[TOKEN_CTX + q];
    for (let hw = 0; hw < 3; hw++) for (let hn = 0; hn < 3; hn++) byMask[(m << 4) | (hw << 2) | hn] = cum[(q * 3 + hw) * 3 + hn];
  }
  const lits = luts.slice(16, 16 + colors);
  const how = new Uint8Array(2 * width);
  // a span or literal look-up table: the symbol; X advanced and renormalised
  const lut = (t) => {
    const e = t[X & 1023];
    X = (Math.imul(((e >>> 10) & 1023) + 1, X >>> 10) + (e & 1023)) >>> 0;
    if (X < 65536) {
      if (p + 2 > len) endsEarly();
      X = ((X << 16) | src[p] | (src[p + 1] << 8)) >>> 0;
      p += 2;
    }
    return e >>> 20;
  };
  for (let y = 0; y < rows; y++) {
    const o = y * width, up = o - width;
    const hrow = (y & 1) * width, hup = width - hrow;
    let x = 0, lastEnd = 0, hw = 0;
    let w = y ? out[up] : 0;
    while (x < width) {
      let c, m;
      let n = w, ne = w, nw = w;
      if (y) {
        n = out[up + x];
        nw = x ? out[up + x - 1] : n;
        ne = x + 1 < width ? out[up + x + 1] : n;
      }
      m = (n === w) | ((ne === w) << 1) | ((ne === n) << 2) | ((nw === w) << 3) | ((nw === n) << 4) | ((nw === ne) << 5);
      if (m === 63 && y) {
        // a span: the row above's run of w from x (spec 2.7.3, "Spans")
        if (x >= lastEnd) {
          let e = x + 1;
          while (e < width && out[up + e] === w) e++;
          lastEnd = e;
        }
        const r = lastEnd - x;
        const l = luts[31 - Math.clz32(r) < 15 ? 31 - Math.clz32(r) : 15];
        if (!l) empty();
        const s = lut(l);
        if (s === 0) {
          out.fill(w, o + x, o + x + r);
          how.fill(0, hrow + x, hrow + x + r);
          x += r;
          hw = 0;
          continue;
        }
        const tok = s - 1;
        let k = tok;
        if (tok >= 16) {
          const e = 4 + ((tok - 16) >> 1);
          const nb = e - 1;
          const raw = (bits) => {
            const v = X & ((1 << bits) - 1);
            X = X >>> bits;
            if (X < 65536) {
              if (p + 2 > len) endsEarly();
              X = ((X << 16) | src[p] | (src[p + 1] << 8)) >>> 0;
              p += 2;
            }
            return v;
          };
          const extra = nb > 16 ? raw(16) + raw(nb - 16) * 65536 : raw(nb);
          k = 2 ** e + (tok & 1) * 2 ** (e - 1) + extra;
        }
        if (k >= r) corrupt("a span of the fast-coded stream is longer than the run above it");
        out.fill(w, o + x, o + x + k);
        how.fill(0, hrow + x, hrow + x + k);
        x += k;
        n = out[up + x];
        nw = x ? out[up + x - 1] : n;
        ne = x + 1 < width ? out[up + x + 1] : n;
        m = (n === w) | ((ne === w) << 1) | ((ne === n) << 2) | ((nw === w) << 3) | ((nw === n) << 4) | ((nw === ne) << 5);
        c = afterSpan[m];
      } else {
        c = byMask[(m << 4) | (hw << 2) | (y ? how[hup + x] : 0)];
      }
      if (!c) empty();
      const u = X & 4095;
      const t = (u >= c[1]) + (u >= c[2]) + (u >= c[3]) + (u >= c[4]);
      const lo = c[t];
      X = (Math.imul(c[t + 1] - lo, X >>> 12) + u - lo) >>> 0;
      if (X < 65536) {
        if (p + 2 > len) endsEarly();
        X = ((X << 16) | src[p] | (src[p + 1] << 8)) >>> 0;
        p += 2;
      }
      let v;
      if (t < D_OF[m]) {
        const at = SRC_OF[4 * m + t];
        v = at === 0 ? w : at === 1 ? n : at === 2 ? ne : nw;
        hw = t ? 1 : 0;
      } else {
        const l = lits[w];
        if (!l) empty();
        v = lut(l);
        if (v >= colors) throw new Fail(FAST_INDEX);
        hw = 2;
      }
      out[o + x] = v;
      how[hrow + x] = hw;
      w = v;
      x++;
    }
  }
  if (p !== len || X !== 65536) {
    corrupt("a part of the fast-coded stream has bytes left over after its last pixel, or its final rANS state is not 65536");
  }
}

const u32 = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

export function decodeFastPlane(stream, width, height, colors) {
  try {
    if (stream.length < 8) corrupt(`the fast-coded stream is ${stream.length} bytes, shorter than its 8-byte head`);
    const partRows = u32(stream, 0), tableSize = u32(stream, 4);
    if (partRows < 1) corrupt("the fast-coded stream declares parts of 0 rows");
    let pos = 8 + tableSize;
    if (pos + 4 > stream.length) corrupt("the fast-coded stream ends inside its tables");
    const tableBytes = stream.subarray(8, pos);
    if (crc32(tableBytes) !== u32(stream, pos)) throw new Fail(FAST_CHECKSUM, "the fast-coded stream's tables fail their checksum (CRC-32)");
    pos += 4;
    const count = Math.ceil(height / partRows);
    const parts = [];
    for (let i = 0; i < count; i++) {
      if (pos + 8 > stream.length) corrupt(`the fast-coded stream ends before part ${i} of ${count}`);
      const size = u32(stream, pos);
      if (pos + 8 + size > stream.length) corrupt(`the fast-coded stream ends inside part ${i} of ${count}`);
      parts.push([stream.subarray(pos + 8, pos + 8 + size), u32(stream, pos + 4)]);
      pos += 8 + size;
    }
    if (pos !== stream.length) corrupt("bytes are left over after the fast-coded stream's last part");
    const tables = readTables(tableBytes, colors);
    const plane = new Uint8Array(width * height);
    parts.forEach(([bytes, crc], i) => {
      if (crc32(bytes) !== crc) throw new Fail(FAST_CHECKSUM, `part ${i} of the fast-coded stream fails its checksum (CRC-32)`);
      const y0 = i * partRows, rows = Math.min(partRows, height - y0);
      decodePart(bytes, tables, width, rows, colors, plane.subarray(y0 * width, (y0 + rows) * width));
    });
    return plane;
  } catch (e) {
    if (e instanceof Fail) throw { code: e.code, why: e.why || "" };
    throw e;
  }
}
