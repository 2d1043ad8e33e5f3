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
  const bit = () => {
    if (pos >= 8 * bytes.length) corrupt("the tables of the fast-coded stream are malformed");
    const b = (bytes[pos >> 3] >> (pos & 7)) & 1;
    pos++;
    return b;
  };
  const bits = (n) => { let v = 0; for (let i = 0; i < n; i++) v += bit() * 2 ** i; return v; };
  const eg = (k) => {
    let z = 0;
    while (!bit()) if (++z > 24) corrupt("the tables of the fast-coded stream are malformed");
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

function decodePart(src, tables, width, rows, colors, out) {
  const { cum, luts } = tables;
  const len = src.length;
  if (len < 4) corrupt("a part of the fast-coded stream ends before its last pixel");
  let x0 = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0;
  if (x0 < 65536) corrupt("a part of the fast-coded stream starts with a rANS state below 65536");
  let X = x0, p = 4;
  const endsEarly = () => corrupt("a part of the fast-coded stream ends before its last pixel");
  const renorm = () => {
    if (X < 65536) {
      if (p + 2 > len) endsEarly();
      X = ((X << 16) | src[p] | (src[p + 1] << 8)) >>> 0;
      p += 2;
    }
  };
  const lut = (t) => {
    const e = t[X & 1023];
    X = (((e >>> 10) & 1023) + 1) * (X >>> 10) + (e & 1023);
    renorm();
    return e >>> 20;
  };
  const how = new Uint8Array(2 * width);
  const empty = () => corrupt("the fast-coded stream reads a symbol from an empty table");
  // The distinct values among W, N, NE, NW in order of first appearance, and how many: one
  // array for the whole part (a new one a pixel was most of the decoder's time, in the GC).
  const dist = new Int32Array(4);
  let nd = 0;
  const label = (v) => {
    for (let i = 0; i < nd; i++) if (dist[i] === v) return i;
    dist[nd] = v;
    return nd++;
  };
  // ctx: after a span, the pattern's own table; else the pattern and how W and N were coded
  const pixel = (o, up, x, hrow, afterSpan, hw, hn) => {
    const w = x ? out[o + x - 1] : (up >= 0 ? out[up + x] : 0);
    const n = up >= 0 ? out[up + x] : w;
    const nw = up >= 0 && x ? out[up + x - 1] : n;
    const ne = up >= 0 && x + 1 < width ? out[up + x + 1] : n;
    dist[0] = w;
    nd = 1;
    const q = 16 * label(n) + 4 * label(ne) + label(nw);
    const c = cum[afterSpan ? TOKEN_CTX + q : (q * 3 + hw) * 3 + hn];
    if (!c) empty();
    const u = X & 4095;
    const t = (u >= c[1]) + (u >= c[2]) + (u >= c[3]) + (u >= c[4]);
    X = (c[t + 1] - c[t]) * (X >>> 12) + u - c[t];
    renorm();
    let v, h;
    if (t < nd) {
      v = dist[t];
      h = t ? 1 : 0;
    } else {
      const l = luts[16 + w];
      if (!l) empty();
      v = lut(l);
      if (v >= colors) throw new Fail(FAST_INDEX);
      h = 2;
    }
    out[o + x] = v;
    hrow[x] = h;
  };
  for (let y = 0; y < rows; y++) {
    const o = y * width, up = y ? o - width : -1;
    const hrow = how.subarray((y & 1) * width, (y & 1) * width + width);
    const hup = how.subarray(((y & 1) ^ 1) * width, ((y & 1) ^ 1) * width + width);
    let x = 0, lastEnd = 0;
    while (x < width) {
      if (y > 0) {
        const c = x ? out[o + x - 1] : out[up + x];
        const n = out[up + x], nw = x ? out[up + x - 1] : n, ne = x + 1 < width ? out[up + x + 1] : n;
        if (c === n && c === ne && c === nw) {
          if (x >= lastEnd) {
            let e = x + 1;
            while (e < width && out[up + e] === c) e++;
            lastEnd = e;
          }
          const r = lastEnd - x;
          const l = luts[Math.min(31 - Math.clz32(r), 15)];
          if (!l) empty();
          const s = lut(l);
          if (s === 0) {
            out.fill(c, o + x, o + x + r);
            hrow.fill(0, x, x + r);
            x += r;
            continue;
          }
          const tok = s - 1;
          let k = tok;
          if (tok >= 16) {
            const e = 4 + ((tok - 16) >> 1);
            let nb = e - 1, extra;
            const raw = (m) => { const v = X & ((1 << m) - 1); X = X >>> m; renorm(); return v; };
            extra = nb > 16 ? raw(16) + raw(nb - 16) * 65536 : raw(nb);
            k = 2 ** e + (tok & 1) * 2 ** (e - 1) + extra;
          }
          if (k >= r) corrupt("a span of the fast-coded stream is longer than the run above it");
          out.fill(c, o + x, o + x + k);
          hrow.fill(0, x, x + k);
          x += k;
          pixel(o, up, x, hrow, true, 0, 0);
          x++;
          continue;
        }
      }
      const hw = x ? hrow[x - 1] : 0, hn = y ? hup[x] : 0;
      pixel(o, up, x, hrow, false, hw, hn);
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
