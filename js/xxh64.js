// XXH64 with seed 0, the content checksum of a zstd frame (its low 32 bits are stored), in
// 32-bit halves: BigInt would be 10-50x slower. Only what kmq.js needs: the low 32 bits.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

let RH = 0, RL = 0; // the result of the last 64-bit operation

function mul(ah, al, bh, bl) {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  RL = Math.imul(al, bl) >>> 0;
  RH = ((hi >>> 0) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

function add(ah, al, bh, bl) {
  const lo = al + bl;
  RL = lo >>> 0;
  RH = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

function rotl(h, l, r) {
  if (r >= 32) { const t = h; h = l; l = t; r -= 32; }
  if (r === 0) { RH = h; RL = l; return; }
  RH = ((h << r) | (l >>> (32 - r))) >>> 0;
  RL = ((l << r) | (h >>> (32 - r))) >>> 0;
}

// acc = rotl(acc + input * P2, 31) * P1
function round(acch, accl, ih, il) {
  mul(ih, il, P2H, P2L);
  add(acch, accl, RH, RL);
  rotl(RH, RL, 31);
  mul(RH, RL, P1H, P1L);
}

function read64(b, i) {
  RL = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
  RH = (b[i + 4] | (b[i + 5] << 8) | (b[i + 6] << 16) | (b[i + 7] << 24)) >>> 0;
}

/** The low 32 bits of XXH64(bytes, seed 0). */
export function xxh64Low32(b) {
  const len = b.length;
  let i = 0, hh, hl;
  if (len >= 32) {
    add(P1H, P1L, P2H, P2L);
    let v1h = RH, v1l = RL;
    let v2h = P2H, v2l = P2L;
    let v3h = 0, v3l = 0;
    // -P1 mod 2^64
    let v4h = (~P1H + (P1L === 0 ? 1 : 0)) >>> 0, v4l = (-P1L) >>> 0;
    const limit = len - 32;
    while (i <= limit) {
      read64(b, i); round(v1h, v1l, RH, RL); v1h = RH; v1l = RL;
      read64(b, i + 8); round(v2h, v2l, RH, RL); v2h = RH; v2l = RL;
      read64(b, i + 16); round(v3h, v3l, RH, RL); v3h = RH; v3l = RL;
      read64(b, i + 24); round(v4h, v4l, RH, RL); v4h = RH; v4l = RL;
      i += 32;
    }
    rotl(v1h, v1l, 1); hh = RH; hl = RL;
    rotl(v2h, v2l, 7); add(hh, hl, RH, RL); hh = RH; hl = RL;
    rotl(v3h, v3l, 12); add(hh, hl, RH, RL); hh = RH; hl = RL;
    rotl(v4h, v4l, 18); add(hh, hl, RH, RL); hh = RH; hl = RL;
    for (const [vh, vl] of [[v1h, v1l], [v2h, v2l], [v3h, v3l], [v4h, v4l]]) {
      round(0, 0, vh, vl);
      hh = (hh ^ RH) >>> 0; hl = (hl ^ RL) >>> 0;
      mul(hh, hl, P1H, P1L);
      add(RH, RL, P4H, P4L); hh = RH; hl = RL;
    }
  } else {
    hh = P5H; hl = P5L;
  }
  add(hh, hl, Math.floor(len / 0x100000000) >>> 0, len >>> 0); hh = RH; hl = RL;
  while (i + 8 <= len) {
    read64(b, i);
    round(0, 0, RH, RL);
    hh = (hh ^ RH) >>> 0; hl = (hl ^ RL) >>> 0;
    rotl(hh, hl, 27);
    mul(RH, RL, P1H, P1L);
    add(RH, RL, P4H, P4L); hh = RH; hl = RL;
    i += 8;
  }
  if (i + 4 <= len) {
    const k = (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
    mul(0, k, P1H, P1L);
    hh = (hh ^ RH) >>> 0; hl = (hl ^ RL) >>> 0;
    rotl(hh, hl, 23);
    mul(RH, RL, P2H, P2L);
    add(RH, RL, P3H, P3L); hh = RH; hl = RL;
    i += 4;
  }
  while (i < len) {
    mul(0, b[i], P5H, P5L);
    hh = (hh ^ RH) >>> 0; hl = (hl ^ RL) >>> 0;
    rotl(hh, hl, 11);
    mul(RH, RL, P1H, P1L); hh = RH; hl = RL;
    i++;
  }
  // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul(hh, hl, P2H, P2L); hh = RH; hl = RL;
  hl = (hl ^ ((hl >>> 29) | (hh << 3))) >>> 0;
  hh = (hh ^ (hh >>> 29)) >>> 0;
  mul(hh, hl, P3H, P3L); hh = RH; hl = RL;
  return (hl ^ hh) >>> 0;
}
