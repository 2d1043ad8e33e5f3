// Every conformance file in spec/vectors: valid ones decode to their PNG's pixels, invalid ones
// throw the error the manifest names. Run with `node --test test/` (make test does).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as kmq from "../kmq.js";

const VECTORS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "spec", "vectors");
const manifest = JSON.parse(readFileSync(join(VECTORS, "manifest.json"), "utf8"));
// Expected pixels of the valid files, as raw RGBA written by tests/test_js.py (Node has no PNG
// decoder); without them only the invalid files and the decodes themselves are checked.
const EXPECTED = process.env.KMQ_EXPECTED;

for (const { file } of manifest.valid) {
  test(`valid ${file}`, () => {
    const image = kmq.decode(readFileSync(join(VECTORS, file)));
    assert.equal(image.rgba.length, image.width * image.height * 4);
    if (EXPECTED) {
      const want = readFileSync(join(EXPECTED, file.replace(/\//g, "_") + ".rgba"));
      assert.ok(Buffer.from(image.rgba.buffer).equals(want), "pixels differ from the PNG");
    }
  });
}

for (const { file, frames, durations, loop } of manifest.animations) {
  test(`valid animation ${file}`, () => {
    const image = kmq.decode(readFileSync(join(VECTORS, file)));
    const anim = image.animation;
    assert.equal(anim.frameCount, frames.length);
    assert.deepEqual(anim.durations, durations);
    assert.equal(anim.loop, loop);
    for (let n = frames.length - 1; n >= 0; n--) { // backwards: seeking to key frames too
      const rgba = anim.rgba(n);
      if (EXPECTED) {
        const want = readFileSync(join(EXPECTED, frames[n].replace(/\//g, "_").replace(/\.png$/, ".kmq.rgba")));
        assert.ok(Buffer.from(rgba.buffer).equals(want), `frame ${n} differs from ${frames[n]}`);
      }
    }
  });
}

/** What a conformant decoder does with a file: the image, or every frame of an animation. */
function decodeAll(data) {
  const image = kmq.decode(data);
  if (image.animation) for (let n = 0; n < image.animation.frameCount; n++) image.animation.frame(n);
}

for (const { file, error } of manifest.invalid) {
  test(`invalid ${file} -> ${error}`, () => {
    assert.throws(
      () => decodeAll(readFileSync(join(VECTORS, file))),
      (e) => e instanceof kmq.KmqError && e.name === error,
    );
  });
}

test("error classes form the spec's hierarchy", () => {
  assert.ok(new kmq.ChecksumError("x") instanceof kmq.CorruptError);
  assert.ok(new kmq.IndexRangeError("x") instanceof kmq.CorruptError);
  for (const name of ["NotKmqError", "UnsupportedError", "TruncatedError", "CorruptError", "LimitError"]) {
    assert.ok(new kmq[name]("x") instanceof kmq.KmqError);
    assert.equal(new kmq[name]("x").name, name);
  }
});

test("maxPixels refuses a large image before decoding", () => {
  const data = readFileSync(join(VECTORS, "valid", "bits8.kmq"));
  assert.throws(() => kmq.decode(data, { maxPixels: 10 }), kmq.LimitError);
});
