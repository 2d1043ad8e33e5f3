// kmq.js: a decoder for .kmq palette images, written from spec/kmq.md. An ES module for browsers
// and Node, with no build step: `import { decode } from "./kmq.js"`.
//
// decode(bytes) checks everything the spec makes normative, in the spec's order (section 3),
// and throws the spec's error categories as classes (NotKmqError, UnsupportedError,
// TruncatedError, CorruptError, ChecksumError, IndexRangeError, LimitError, all KmqError).
// zstd frames (coding 0) are decompressed by fzstd (vendored, MIT); fzstd does not check the
// content checksum, the declared size or the one-frame rule, so this module does, per spec 2.5.

import { Decompress } from "./vendor/fzstd.mjs";
import { crc32 } from "./crc32.js";
import { xxh64Low32 } from "./xxh64.js";
import { decodeContextPlane, ENDS_EARLY, INDEX_RANGE, LEFT_OVER } from "./context.js";
import { decodeFastPlane, FAST_CHECKSUM, FAST_INDEX } from "./fast.js";

export { crc32 };

export class KmqError extends Error {
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }
}
/** The bytes do not start with the KMQ magic number. */
export class NotKmqError extends KmqError {}
/** A version, coding or critical chunk this decoder does not know. */
export class UnsupportedError extends KmqError {}
/** The data ends before the part the header announces. */
export class TruncatedError extends KmqError {}
/** A field breaks a rule of the spec. */
export class CorruptError extends KmqError {}
/** A CRC-32 or the zstd content checksum does not match. */
export class ChecksumError extends CorruptError {}
/** A pixel's palette index is >= the number of colours. */
export class IndexRangeError extends CorruptError {}
/** The image is larger than the format's pixel limit (or the caller's maxPixels). */
export class LimitError extends KmqError {}

export const MAGIC = Uint8Array.of(0x89, 0x4b, 0x4d, 0x51, 0x0d, 0x0a, 0x1a, 0x0a);
export const VERSION = 1;
export const MAX_PIXELS = 2 ** 28;
export const HEADER_SIZE = 28;
export const CODINGS = { 0: "rows", 1: "context", 2: "fast" };
const KNOWN_CHUNKS = new Set(["iccp", "exif"]);
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function u16(b, i) {
  return b[i] | (b[i + 1] << 8);
}
function u32(b, i) {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("decode takes a Uint8Array, an ArrayBuffer or a typed array view");
}

/**
 * Read and check everything before the index stream (spec section 3, steps 1-10).
 * @returns {{width, height, colors, indexBits, hasAlpha, coding, chunkCount, streamSize,
 *   palette: Uint8Array, chunks: Map<string, Uint8Array>, streamOffset}}
 */
export function readHeader(data) {
  const b = asBytes(data);
  // 1. magic
  for (let i = 0; i < 8; i++) {
    if (i >= b.length) {
      if (b.length === 0) throw new NotKmqError("not a KMQ file (empty)");
      throw new TruncatedError("truncated header: the data ends inside the magic number");
    }
    if (b[i] !== MAGIC[i]) throw new NotKmqError("not a KMQ file (bad magic number)");
  }
  // 2. header present
  if (b.length < HEADER_SIZE) {
    throw new TruncatedError(`truncated header: expected ${HEADER_SIZE} bytes, got ${b.length}`);
  }
  const version = b[8], flags = b[9], coding = b[10], indexBits = b[11];
  const width = u32(b, 12), height = u32(b, 16), colors = u16(b, 20);
  const chunkCount = u16(b, 22), streamSize = u32(b, 24);
  if (version !== VERSION) throw new UnsupportedError(`unsupported KMQ version ${version}`);
  if (flags & 0xfc) throw new CorruptError(`reserved flag bits are set (flags = ${flags})`);
  const animated = (flags & 2) === 2;
  if (!(coding in CODINGS)) throw new UnsupportedError(`unsupported index coding ${coding}`);
  if (width < 1 || height < 1) {
    throw new CorruptError(`width and height must be at least 1, got ${width}x${height}`);
  }
  if (width * height > MAX_PIXELS) {
    // exact: width * height < 2^64 and a double holds it to within 2^11, far from 2^28
    throw new LimitError(`${width}x${height} is more than the ${MAX_PIXELS} pixels a KMQ file may hold`);
  }
  if (animated) {
    if (colors < 1) throw new CorruptError(`an animation's palette must have 1 to 65535 colours, got ${colors}`);
    if (coding !== 0 || indexBits !== 0) {
      throw new CorruptError(`coding and index_bits must be 0 in an animation, got ${coding} and ${indexBits}`);
    }
  } else {
    if (colors < 1 || colors > 256) {
      throw new CorruptError(`palette size must be 1 to 256 colours, got ${colors}`);
    }
    if (![1, 2, 4, 8].includes(indexBits) || 2 ** indexBits < colors) {
      throw new CorruptError(`${indexBits} bits per index cannot code ${colors} colours`);
    }
  }
  // 8. palette and header CRC
  const hasAlpha = (flags & 1) === 1;
  const channels = hasAlpha ? 4 : 3;
  let pos = HEADER_SIZE;
  const paletteEnd = pos + colors * channels;
  if (b.length < paletteEnd) throw new TruncatedError("truncated palette");
  if (b.length < paletteEnd + 4) throw new TruncatedError("truncated header CRC");
  if (crc32(b.subarray(0, paletteEnd)) !== u32(b, paletteEnd)) {
    throw new ChecksumError("header CRC-32 mismatch: the header or palette is corrupt");
  }
  const palette = new Uint8Array(colors * 4);
  for (let k = 0; k < colors; k++) {
    const s = HEADER_SIZE + k * channels;
    palette[4 * k] = b[s];
    palette[4 * k + 1] = b[s + 1];
    palette[4 * k + 2] = b[s + 2];
    palette[4 * k + 3] = hasAlpha ? b[s + 3] : 255;
  }
  pos = paletteEnd + 4;
  // 9. chunks
  const chunks = new Map();
  for (let c = 0; c < chunkCount; c++) {
    if (b.length < pos + 8) throw new TruncatedError("truncated chunk header");
    const typeBytes = b.subarray(pos, pos + 4);
    const type = String.fromCharCode(...typeBytes);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new CorruptError(`chunk type ${JSON.stringify(type)} is not four ASCII letters`);
    if (type[0] >= "A" && type[0] <= "Z" && !KNOWN_CHUNKS.has(type)) {
      throw new UnsupportedError(`unknown critical chunk ${type}`);
    }
    if (chunks.has(type)) throw new CorruptError(`chunk ${type} appears twice`);
    const length = u32(b, pos + 4);
    if (b.length - (pos + 8) < length + 4) throw new TruncatedError(`truncated chunk ${type}`);
    const body = b.subarray(pos + 8, pos + 8 + length);
    if (crc32(body, crc32(typeBytes)) !== u32(b, pos + 8 + length)) {
      throw new ChecksumError(`CRC-32 mismatch in chunk ${type}`);
    }
    chunks.set(type, body);
    pos += 12 + length;
  }
  // 10. the stream fills the rest of the file exactly
  const left = b.length - pos;
  if (left < streamSize) {
    throw new TruncatedError(`truncated index stream: expected ${streamSize} bytes, got ${left}`);
  }
  if (left > streamSize) throw new CorruptError(`${left - streamSize} trailing bytes after the index stream`);
  return {
    version, width, height, colors, indexBits, hasAlpha, coding, codingName: CODINGS[coding],
    chunkCount, streamSize, palette, chunks, streamOffset: pos, animated,
  };
}

// Spec 2.5, steps 1-3: the zstd frame header and where the frame ends, before decompressing.
function checkZstdFrame(s, expected) {
  if (s.length < 4 || ZSTD_MAGIC.some((v, i) => s[i] !== v)) {
    throw new CorruptError("index stream is not a zstd frame (bad zstd magic number)");
  }
  if (s.length < 5) throw new CorruptError("the index stream ends inside the zstd frame header");
  const descriptor = s[4];
  const fcsFlag = descriptor >> 6, single = (descriptor & 0x20) !== 0;
  if (descriptor & 0x08) throw new CorruptError("the zstd frame header has its reserved bit set");
  const hasChecksum = (descriptor & 0x04) !== 0;
  const dictBytes = [0, 1, 2, 4][descriptor & 3];
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  const size = 5 + (single ? 0 : 1) + dictBytes + fcsBytes;
  if (s.length < size) throw new CorruptError("the index stream ends inside the zstd frame header");
  let pos = 5, window = 0;
  if (!single) {
    const exponent = s[5] >> 3, mantissa = s[5] & 7;
    const base = 2 ** (10 + exponent);
    window = base + (base / 8) * mantissa;
    pos = 6;
  }
  let dictionaryId = 0;
  for (let i = 0; i < dictBytes; i++) dictionaryId += s[pos + i] * 2 ** (8 * i);
  pos += dictBytes;
  let contentSize = null;
  if (fcsBytes) {
    contentSize = 0;
    for (let i = 0; i < fcsBytes; i++) contentSize += s[pos + i] * 2 ** (8 * i);
    if (fcsBytes === 2) contentSize += 256;
  }
  if (single) window = contentSize || 0;
  if (dictionaryId) throw new CorruptError(`the zstd frame names dictionary ${dictionaryId}; KMQ frames use none`);
  if (contentSize === null) throw new CorruptError("the zstd frame does not declare its content size");
  if (contentSize !== expected) {
    throw new CorruptError(`the zstd frame declares ${contentSize} bytes but the header implies ${expected}`);
  }
  if (!hasChecksum) throw new CorruptError("the zstd frame has no content checksum");
  if (window > Math.max(expected, 1024)) {
    throw new CorruptError(`the zstd frame asks for a ${window}-byte window for ${expected} bytes of content`);
  }
  // walk the blocks
  pos = size;
  for (;;) {
    if (pos + 3 > s.length) throw new CorruptError("the zstd frame runs past the end of the index stream");
    const head = s[pos] | (s[pos + 1] << 8) | (s[pos + 2] << 16);
    const last = head & 1, kind = (head >> 1) & 3, blockSize = head >>> 3;
    if (kind === 3) throw new CorruptError("the zstd frame has a block of the reserved type");
    if (blockSize > 128 * 1024) throw new CorruptError(`a zstd block of ${blockSize} bytes is larger than 128 KiB`);
    pos += 3 + (kind === 1 ? 1 : blockSize);
    if (last) break;
  }
  const end = pos + 4;
  if (end > s.length) throw new CorruptError("the zstd frame runs past the end of the index stream");
  if (end < s.length) throw new CorruptError(`${s.length - end} bytes follow the zstd frame inside the index stream`);
}

function decodeRows(stream, h) {
  const rowBytes = Math.ceil((h.width * h.indexBits) / 8);
  const expected = h.height * rowBytes;
  checkZstdFrame(stream, expected);
  // Block by block, so that the content's true length is known (fzstd's one-shot decompress
  // returns a buffer of the declared size however much the blocks hold).
  const rows = new Uint8Array(expected);
  let got = 0;
  try {
    const d = new Decompress((chunk) => {
      if (got + chunk.length <= expected) rows.set(chunk, got);
      got += chunk.length;
    });
    d.push(stream, true);
  } catch (e) {
    throw new CorruptError(`the index stream cannot be decompressed (${e.message})`);
  }
  if (got !== expected) throw new CorruptError(`the zstd frame holds ${got} bytes, it declares ${expected}`);
  if (xxh64Low32(rows) !== u32(stream, stream.length - 4)) {
    throw new ChecksumError("zstd content checksum mismatch: the index stream is corrupt");
  }
  const { width, height, indexBits: bits, colors } = h;
  const indices = new Uint8Array(width * height);
  const perByte = 8 / bits, mask = (1 << bits) - 1;
  let bad = false;
  for (let y = 0; y < height; y++) {
    const r = y * rowBytes, o = y * width;
    if (bits === 8) {
      const row = rows.subarray(r, r + width);
      indices.set(row, o);
      if (colors < 256) for (let x = 0; x < width; x++) if (row[x] >= colors) bad = true;
      continue;
    }
    for (let x = 0; x < width; x++) {
      const byte = rows[r + Math.floor(x / perByte)];
      const v = (byte >> (8 - bits * ((x % perByte) + 1))) & mask;
      indices[o + x] = v;
      if (v >= colors) bad = true;
    }
  }
  if (bad) throw new IndexRangeError(`a palette index is out of range for ${colors} colours`);
  return indices;
}

function decodeContext(stream, h) {
  if (stream.length < 8) {
    throw new CorruptError(`the context-coded stream is ${stream.length} bytes, shorter than the 8 it needs`);
  }
  const indices = new Uint8Array(h.width * h.height);
  const status = decodeContextPlane(stream.subarray(0, stream.length - 4), h.width, h.height, h.colors, indices);
  if (status === INDEX_RANGE) throw new IndexRangeError(`a palette index is out of range for ${h.colors} colours`);
  if (status === ENDS_EARLY) throw new CorruptError("the context-coded stream ends before the last pixel");
  if (status === LEFT_OVER) throw new CorruptError("bytes are left over after the last pixel of the context-coded stream");
  if (crc32(indices) !== u32(stream, stream.length - 4)) {
    throw new ChecksumError("index plane checksum (CRC-32) mismatch: the index stream is corrupt");
  }
  return indices;
}

function decodeFast(stream, h) {
  try {
    return decodeFastPlane(stream, h.width, h.height, h.colors);
  } catch (e) {
    if (e && e.code === FAST_INDEX) throw new IndexRangeError(`a palette index is out of range for ${h.colors} colours`);
    if (e && e.code === FAST_CHECKSUM) throw new ChecksumError(e.why);
    if (e && e.code) throw new CorruptError(e.why);
    throw e;
  }
}

/**
 * Decode a whole .kmq file.
 * @param {Uint8Array|ArrayBuffer} data
 * @param {{maxPixels?: number}} [options] refuse (LimitError) an image of more pixels, before
 *   anything is decoded
 * @returns {{width, height, colors, hasAlpha, coding, codingName, indexBits,
 *   palette: Uint8Array, indices: Uint8Array, rgba: Uint8ClampedArray,
 *   chunks: Map<string, Uint8Array>, iccProfile: Uint8Array|null, exif: Uint8Array|null}}
 *   `palette` holds K RGBA entries (alpha 255 for an RGB palette); `rgba` the pixels.
 */
export function decode(data, options = {}) {
  const b = asBytes(data);
  const h = readHeader(b);
  const stream = b.subarray(h.streamOffset, h.streamOffset + h.streamSize);
  let indices, animation = null;
  if (h.animated) {
    animation = new Animation(stream, h);
    if (options.maxPixels != null && h.width * h.height * animation.frameCount > options.maxPixels) {
      throw new LimitError(`${h.width}x${h.height} x ${animation.frameCount} frames is more than maxPixels=${options.maxPixels}`);
    }
    indices = animation.frame(0).slice();
  } else {
    if (options.maxPixels != null && h.width * h.height > options.maxPixels) {
      throw new LimitError(`${h.width}x${h.height} is more than maxPixels=${options.maxPixels}`);
    }
    indices = decodePlane(stream, h);
  }
  return {
    ...h,
    indices,
    rgba: toRgba(indices, h.palette),
    animation,
    iccProfile: h.chunks.get("iccp") || null,
    exif: h.chunks.get("exif") || null,
  };
}

function decodePlane(stream, h) {
  return h.coding === 2 ? decodeFast(stream, h)
    : h.coding === 1 ? decodeContext(stream, h) : decodeRows(stream, h);
}

/** Palette indices (Uint8Array or Uint16Array) to RGBA pixels, with K RGBA palette entries. */
export function toRgba(indices, palette) {
  const rgba = new Uint8ClampedArray(indices.length * 4);
  const out = new Uint32Array(rgba.buffer);
  const pal = new Uint32Array(palette.slice().buffer); // entries as native-endian u32
  for (let i = 0; i < indices.length; i++) out[i] = pal[indices[i]];
  return rgba;
}

const MAX_FRAMES = 2 ** 20;

/**
 * The frames of an animated file (spec section 2.8), decoded one at a time onto one canvas of
 * palette indices; going back starts again at the last key frame at or before the one asked.
 * `frameCount`, `durations` (ms), `loop` (null: no loop count; 0: for ever).
 */
export class Animation {
  constructor(stream, h) {
    this.h = h;
    this.stream = stream;
    if (stream.length < 8) throw new TruncatedError(`truncated animation head: ${stream.length} of 8 bytes`);
    const count = u32(stream, 0), loop = u16(stream, 4), flags = u16(stream, 6);
    if (flags & 0xfffe) throw new CorruptError(`reserved animation flag bits are set (${flags})`);
    if (count < 1) throw new CorruptError("an animation must have at least one frame");
    if (count > MAX_FRAMES) throw new LimitError(`${count} frames is more than the ${MAX_FRAMES} a KMQ animation may hold`);
    const first = 8 + 8 * count;
    if (first > stream.length) throw new CorruptError(`the frame table of ${count} frames does not fit the ${stream.length}-byte stream`);
    this.frameCount = count;
    this.loop = flags & 1 ? loop : null;
    this.durations = new Array(count);
    this.offsets = new Array(count);
    this.sizes = new Array(count);
    let offset = first;
    for (let n = 0; n < count; n++) {
      this.durations[n] = u32(stream, 8 + 8 * n);
      const size = u32(stream, 12 + 8 * n);
      if (size < 1) throw new CorruptError(`frame ${n} has no bytes (at least its layer count)`);
      this.offsets[n] = offset;
      this.sizes[n] = size;
      offset += size;
    }
    if (offset !== stream.length) throw new CorruptError(`the frames add up to ${offset} bytes, the stream has ${stream.length}`);
    this.canvas = h.colors <= 256 ? new Uint8Array(h.width * h.height) : new Uint16Array(h.width * h.height);
    this.at = -1;
  }

  isKey(n) {
    const f = this.stream.subarray(this.offsets[n], this.offsets[n] + Math.min(this.sizes[n], 21));
    return f.length >= 21 && f[0] > 0 && f[1] === 0 && u32(f, 2) === 0 && u32(f, 6) === 0
      && u32(f, 10) === this.h.width && u32(f, 14) === this.h.height;
  }

  layers(n) {
    const { width: W, height: H, colors: K } = this.h;
    const f = this.stream.subarray(this.offsets[n], this.offsets[n] + this.sizes[n]);
    const count = f[0];
    const layers = [];
    let pos = 1;
    for (let i = 0; i < count; i++) {
      if (pos + 20 > f.length) throw new CorruptError(`layer ${i} runs past the end of its frame`);
      const kind = f[pos], x = u32(f, pos + 1), y = u32(f, pos + 5), w = u32(f, pos + 9), h = u32(f, pos + 13);
      const size = u16(f, pos + 17), form = f[pos + 19];
      if (kind > 2) throw new CorruptError(`layer ${i} has unknown kind ${kind}`);
      if (w < 1 || h < 1 || x + w > W || y + h > H) throw new CorruptError(`layer ${i} (${w}x${h} at ${x},${y}) is not inside the ${W}x${H} canvas`);
      if (kind === 2) { // MOVE: the rectangle is copied from (fromX, fromY); no map, no stream
        if (pos + 25 > f.length) throw new CorruptError(`layer ${i} runs past the end of its frame`);
        const fromX = u32(f, pos + 17), fromY = u32(f, pos + 21);
        if (fromX + w > W || fromY + h > H) throw new CorruptError(`layer ${i} moves from ${w}x${h} at ${fromX},${fromY}, outside the canvas`);
        layers.push({ kind, x, y, w, h, fromX, fromY });
        pos += 25;
        continue;
      }
      pos += 20;
      if (size < 1 || size > 256 - kind) throw new CorruptError(`layer ${i} maps ${size} symbols`);
      if (form > 1) throw new CorruptError(`layer ${i} has unknown map form ${form}`);
      const table = form === 0 ? 2 * size : Math.ceil(K / 8);
      if (pos + table + 6 > f.length) throw new CorruptError(`layer ${i} runs past the end of its frame`);
      const map = new Array(size);
      if (form === 0) {
        for (let j = 0; j < size; j++) map[j] = u16(f, pos + 2 * j);
      } else {
        let j = 0;
        for (let e = 0; e < 8 * table; e++) {
          if (f[pos + (e >> 3)] & (1 << (e & 7))) {
            if (j === size) { j++; break; }
            map[j++] = e;
          }
        }
        if (j !== size) throw new CorruptError(`layer ${i}'s bitset does not hold ${size} entries`);
      }
      for (const e of map) if (e >= K) throw new CorruptError(`layer ${i} maps to palette entry ${e}, the palette has ${K}`);
      pos += table;
      const coding = f[pos], indexBits = f[pos + 1], streamSize = u32(f, pos + 2);
      pos += 6;
      if (pos + streamSize > f.length) throw new CorruptError(`layer ${i}'s stream runs past the end of its frame`);
      layers.push({ kind, x, y, w, h, map, coding, indexBits, stream: f.subarray(pos, pos + streamSize) });
      pos += streamSize;
    }
    if (pos !== f.length) throw new CorruptError(`${f.length - pos} bytes left over after the frame's layers`);
    if (n === 0 && !(layers.length && layers[0].kind === 0 && layers[0].x === 0 && layers[0].y === 0
      && layers[0].w === W && layers[0].h === H)) {
      throw new CorruptError("the first frame must be a key frame (PLAIN over the canvas)");
    }
    return layers;
  }

  paint(layer) {
    const { kind, x, y, w, h, map, coding, indexBits, stream } = layer;
    if (kind === 2) {
      // MOVE: rows in the order that reads each source row before it is written
      const W = this.h.width, canvas = this.canvas, { fromX, fromY } = layer;
      for (let k = 0; k < h; k++) {
        const j = fromY < y ? h - 1 - k : k;
        canvas.copyWithin((y + j) * W + x, (fromY + j) * W + fromX, (fromY + j) * W + fromX + w);
      }
      return;
    }
    const symbols = map.length + kind;
    if (!(coding in CODINGS)) throw new UnsupportedError(`unsupported index coding ${coding} in a layer`);
    if (![1, 2, 4, 8].includes(indexBits) || 2 ** indexBits < symbols) {
      throw new CorruptError(`${indexBits} bits per index cannot code a layer's ${symbols} symbols`);
    }
    const plane = decodePlane(stream, { width: w, height: h, colors: symbols, indexBits, coding });
    const W = this.h.width, canvas = this.canvas;
    const lut = kind === 0 ? map : [0, ...map];
    for (let j = 0; j < h; j++) {
      const row = (y + j) * W + x, src = j * w;
      if (kind === 0) {
        for (let i = 0; i < w; i++) canvas[row + i] = lut[plane[src + i]];
      } else {
        for (let i = 0; i < w; i++) {
          const s = plane[src + i];
          if (s !== 0) canvas[row + i] = lut[s];
        }
      }
    }
  }

  /** The canvas of palette indices after frame n (the same array each time: copy to keep). */
  frame(n) {
    if (!(n >= 0 && n < this.frameCount)) throw new RangeError(`frame ${n} is out of range (${this.frameCount} frames)`);
    if (n < this.at || this.at < 0) {
      let start = n;
      while (start > 0 && !this.isKey(start)) start--;
      this.at = start - 1;
    }
    while (this.at < n) {
      const t = this.at + 1;
      try {
        for (const layer of this.layers(t)) this.paint(layer);
      } catch (e) {
        this.at = -1;
        if (e instanceof KmqError) e.message = `frame ${t}: ${e.message}`;
        throw e;
      }
      this.at = t;
    }
    return this.canvas;
  }

  /** Frame n as RGBA pixels. */
  rgba(n) {
    return toRgba(this.frame(n), this.h.palette);
  }
}

/** The decoded image as an ImageData (browsers, or anywhere ImageData exists). */
export function toImageData(image) {
  return new ImageData(image.rgba, image.width, image.height);
}

/** Draw a decoded image onto a canvas (resized to the image), and return the canvas. */
export function drawToCanvas(image, canvas) {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext("2d").putImageData(toImageData(image), 0, 0);
  return canvas;
}
