// Coding 1 (CONTEXT) of the .kmq format: the adaptive context model and binary range decoder of
// spec/kmq.md section 2.6, in integer arithmetic exactly as the spec states it (JavaScript
// numbers hold every intermediate exactly: no product here reaches 2^53).

const PROB_MIN = 32;
const PROB_MAX = 65536 - 32;
const COUNT_LIMIT = 255;
const HASH_MUL = 0x9e3779b1;
const SOURCES = 5; // match, w, n, ne, nw
const AGREE = 16;
const MSTATES = 10;
const HOWS = 9;
const HASH_BITS_MAX = 18;
const MATCH_BITS_MAX = 18;
const MIX_INPUTS = 5;
const MIX_SETS = SOURCES * MSTATES + 8;
const MIX_W0 = 1 << 14;
const FLAG_CONTEXTS = SOURCES * AGREE * MSTATES;
const MATCH_LIMIT = 65535;

/** Error codes of {@link decodeContextPlane}. */
export const ENDS_EARLY = -1;
export const LEFT_OVER = -2;
export const INDEX_RANGE = -3;

const RATE = new Uint32Array(COUNT_LIMIT + 1);
for (let n = 0; n <= COUNT_LIMIT; n++) RATE[n] = Math.floor(131072 / (2 * n + 3));
const SQUASH_T = [1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047, 2549,
  2994, 3348, 3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094];

function squash(d) {
  if (d > 2047) return 4095;
  if (d < -2047) return 1;
  const w = d & 127;
  const i = (d >> 7) + 16;
  return (SQUASH_T[i] * (128 - w) + SQUASH_T[i + 1] * w + 64) >> 7;
}

const STRETCH = new Int16Array(4096);
{
  let pi = 0;
  for (let x = -2047; x <= 2047; x++) {
    const v = squash(x);
    for (let i = pi; i <= v; i++) STRETCH[i] = x;
    pi = v + 1;
  }
  for (let i = pi; i < 4096; i++) STRETCH[i] = 2047;
}

// (h + v + 1) * HASH_MUL mod 2^32, kept as a signed 32-bit integer (the same bits; readers
// take `>>> shift`): values above 2^31 as JavaScript numbers would be boxed on the heap.
function hashStep(h, v) {
  return Math.imul((h + v + 1) | 0, HASH_MUL);
}

function ceilLog2(v) {
  let b = 0;
  while (2 ** b < v) b++;
  return b;
}

// One binary decision (spec 2.6.3): the four counters st.cidx[0..3] mixed by weight set `set`,
// then the range decoder's bit, then the weights and counters learn it. A top-level function
// over one state object: V8 keeps it monomorphic and inlines it at both call sites.
function decide(st, set) {
  const { P, N, weights, x, cidx, rc, input } = st;
  x[0] = STRETCH[P[cidx[0]] >> 4];
  x[1] = STRETCH[P[cidx[1]] >> 4];
  x[2] = STRETCH[P[cidx[2]] >> 4];
  x[3] = STRETCH[P[cidx[3]] >> 4];
  x[4] = 256;
  const wo = set * MIX_INPUTS;
  let dot = 0;
  for (let i = 0; i < MIX_INPUTS; i++) dot += weights[wo + i] * x[i];
  let d = Math.floor(dot / 65536);
  if (d > 4095) d = 4095;
  else if (d < -4095) d = -4095;
  const p12 = squash(d);
  let range = rc[0], code = rc[1];
  const bound = (range >>> 16) * (p12 << 4);
  let bit;
  if (code < bound) {
    range = bound;
    bit = 1;
  } else {
    code -= bound;
    range -= bound;
    bit = 0;
  }
  while (range < 0x1000000) {
    range = (range << 8) >>> 0;
    if (st.pos < st.len) code = ((code << 8) | input[st.pos++]) >>> 0;
    else {
      code = (code << 8) >>> 0;
      st.error = ENDS_EARLY;
    }
  }
  rc[0] = range;
  rc[1] = code;
  const err = (bit << 12) - p12;
  for (let i = 0; i < MIX_INPUTS; i++) weights[wo + i] += (x[i] * err + 2048) >> 12;
  const target = bit ? 65536 : 0;
  for (let t = 0; t < 4; t++) {
    const c = cidx[t];
    const old = P[c];
    const n = N[c];
    let q = old + Math.floor(((target - old) * RATE[n]) / 65536);
    if (q < PROB_MIN) q = PROB_MIN;
    else if (q > PROB_MAX) q = PROB_MAX;
    P[c] = q;
    if (n < COUNT_LIMIT) N[c] = n + 1;
  }
  return bit;
}

/**
 * Decode a coding-1 stream (without its 4-byte CRC) into `plane` (a Uint8Array of
 * width * height indices). Returns 0, or ENDS_EARLY, LEFT_OVER or INDEX_RANGE.
 */
export function decodeContextPlane(input, width, height, colors, plane) {
  const len = input.length;
  if (len < 4) return ENDS_EARLY;
  // The range decoder's state lives in a typed array: a number above 2^31 kept in an object's
  // field would be boxed on every write.
  const rc = new Uint32Array(2); // [range, code]
  rc[0] = 0xffffffff;
  rc[1] = ((input[0] << 24) | (input[1] << 16) | (input[2] << 8) | input[3]) >>> 0;
  if (colors === 1) {
    plane.fill(0);
    return len === 4 && rc[1] === 0 ? 0 : LEFT_OVER;
  }

  const W = width, H = height, K = colors;
  const B = ceilLog2(K);
  const pb = ceilLog2(W * H);
  const matchBits = pb < 8 ? 8 : Math.min(pb, MATCH_BITS_MAX);
  const hashBits = pb + 1 < 10 ? 10 : Math.min(pb + 1, HASH_BITS_MAX);
  const mshift = 32 - matchBits, hshift = 32 - hashBits;
  const nlit = (1 << B) * K;
  const hsize = 2 ** hashBits;
  // Every counter lives in one pair of arrays (probability, count); the tables are ranges.
  const FLAG = 0;
  const FLAG_NEAR = FLAG + FLAG_CONTEXTS * HOWS;
  const FLAG_WIDE = FLAG_NEAR + hsize;
  const FLAG_VALUE = FLAG_WIDE + hsize;
  const LIT_NEAR = FLAG_VALUE + hsize;
  const LIT_WIDE = LIT_NEAR + hsize;
  const LIT_W = LIT_WIDE + hsize;
  const LIT_N = LIT_W + nlit;
  const total = LIT_N + nlit;
  const P = new Uint16Array(total).fill(32768);
  const N = new Uint8Array(total);
  const weights = new Int32Array(MIX_SETS * MIX_INPUTS).fill(MIX_W0);
  const match = new Uint32Array(2 ** matchBits);
  const hist = new Uint8Array(W);
  const x = new Int32Array(MIX_INPUTS);
  const cidx = new Int32Array(4);
  const st = { P, N, weights, x, cidx, rc, input, pos: 4, len, error: 0 };

  const src = new Int32Array(SOURCES);
  const cand = new Int32Array(SOURCES);
  const excluded = new Uint8Array(256);
  let mptr = 0, mlen = 0;
  for (let y = 0; y < H; y++) {
    const row = y * W, up = row - W, up2 = row - 2 * W;
    for (let xx = 0; xx < W; xx++) {
      // 2.6.4 neighbours
      const w = xx > 0 ? plane[row + xx - 1] : y > 0 ? plane[up] : 0;
      const n = y > 0 ? plane[up + xx] : w;
      const nw = y > 0 && xx > 0 ? plane[up + xx - 1] : n;
      const ne = y > 0 && xx + 1 < W ? plane[up + xx + 1] : n;
      const ww = xx > 1 ? plane[row + xx - 2] : w;
      const nn = y > 1 ? plane[up2 + xx] : n;
      const nww = y > 0 && xx > 1 ? plane[up + xx - 2] : nw;
      const nee = y > 0 && xx + 2 < W ? plane[up + xx + 2] : ne;
      const nnw = y > 1 && xx > 0 ? plane[up2 + xx - 1] : nn;
      const nne = y > 1 && xx + 1 < W ? plane[up2 + xx + 1] : nn;
      const far = hashStep(hashStep(hashStep(hashStep(0, nww), nee), nnw), nne);
      const key = hashStep(hashStep(hashStep(hashStep(hashStep(hashStep(0, w), n), nw), ne), ww), nn);
      const slot = key >>> mshift;
      const p = row + xx;
      if (mlen === 0) mptr = match[slot];
      src[0] = mptr ? plane[mptr - 1] : -1;
      src[1] = w; src[2] = n; src[3] = ne; src[4] = nw;
      const lenq = !mptr ? 0 : mlen === 0 ? 1 : mlen < 4 ? 2 : mlen < 16 ? 3 : 4;
      const mstate = lenq * 2 + (y > 0 ? hist[xx] & 1 : 0);
      const how = 3 * (xx > 0 ? hist[xx - 1] >> 1 : 2) + (y > 0 ? hist[xx] >> 1 : 2);
      let howHere = 2;
      let decided = -1;
      let nexcluded = 0;
      let ncand = 0;
      for (let s = 0; s < SOURCES; s++) {
        const v = src[s];
        if (v < 0) continue;
        let dup = false;
        for (let t = 0; t < s; t++) if (src[t] === v) dup = true;
        if (!dup) cand[ncand++] = s;
      }
      for (let i = 0; i < ncand && nexcluded < K - 1; i++) {
        const s = cand[i];
        const v = src[s];
        let agree = 0;
        for (let t = 0, j = 0; t < SOURCES; t++) {
          if (t === s) continue;
          if (src[t] === v) agree |= 1 << j;
          j++;
        }
        const ctx = (s * AGREE + agree) * MSTATES + mstate;
        const h = hashStep(hashStep(hashStep(hashStep(0, ctx), w), n), K <= 16 ? nw * 16 + ne : 0);
        const h3 = hashStep(hashStep(hashStep(hashStep(hashStep(h, nw), ne), ww), nn), far);
        const h4 = hashStep(hashStep(hashStep(0x1234, ctx), w), v);
        cidx[0] = FLAG + ctx * HOWS + how;
        cidx[1] = FLAG_NEAR + (h >>> hshift);
        cidx[2] = FLAG_WIDE + (h3 >>> hshift);
        cidx[3] = FLAG_VALUE + (h4 >>> hshift);
        if (decide(st, s * MSTATES + mstate)) {
          decided = v;
          howHere = i === 0 ? 0 : 1;
          break;
        }
        excluded[v] = 1;
        nexcluded++;
      }
      if (decided < 0 && nexcluded === K - 1) {
        for (let v = 0; v < K; v++) {
          if (!excluded[v]) { decided = v; break; }
        }
      }
      if (decided < 0) {
        // the literal's bits, most significant first, in groups of up to 4
        let node = 1;
        const lw = LIT_W + (w << B);
        const ln = LIT_N + (n << B);
        for (let done = 0; done < B;) {
          const nb = B - done < 4 ? B - done : 4;
          const h = hashStep(hashStep(hashStep(0xffff, node), w), n);
          const h3 = hashStep(hashStep(h, nw), ne);
          const b2 = LIT_NEAR + ((h >>> (hshift + 4)) << 4);
          const b3 = LIT_WIDE + ((h3 >>> (hshift + 4)) << 4);
          let sub = 1;
          for (let i = 0; i < nb; i++) {
            cidx[0] = lw + node;
            cidx[1] = b2 + sub;
            cidx[2] = b3 + sub;
            cidx[3] = ln + node;
            const bit = decide(st, SOURCES * MSTATES + done + i);
            node = node * 2 + bit;
            sub = sub * 2 + bit;
          }
          done += nb;
        }
        decided = node - (1 << B);
        if (decided >= K) return INDEX_RANGE;
      }
      for (let i = 0; i < ncand; i++) excluded[src[cand[i]]] = 0;
      plane[p] = decided;
      hist[xx] = (src[0] === decided ? 1 : 0) | (howHere << 1);
      if (src[0] === decided) {
        mptr++;
        if (mlen < MATCH_LIMIT) mlen++;
      } else {
        mptr = 0;
        mlen = 0;
      }
      match[slot] = p + 1;
      if (st.error) return st.error;
    }
  }
  if (st.error) return st.error;
  if (st.pos !== len || rc[1] !== 0) return LEFT_OVER;
  return 0;
}
