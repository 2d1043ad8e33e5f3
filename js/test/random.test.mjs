// Files written by the Python encoder (tests/test_js.py makes them: random K, sizes, RGB/RGBA,
// both codings) decode to exactly the pixels kmcodec.decode gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decode } from "../kmq.js";

const FOLDER = process.env.KMQ_RANDOM;

test("random files from the Python encoder", { skip: !FOLDER && "KMQ_RANDOM not set" }, () => {
  const names = readdirSync(FOLDER).filter((n) => n.endsWith(".kmq")).sort();
  assert.ok(names.length >= 200, `only ${names.length} files`);
  for (const name of names) {
    const image = decode(readFileSync(join(FOLDER, name)));
    const want = readFileSync(join(FOLDER, name.replace(/\.kmq$/, ".rgba")));
    let got = Buffer.from(image.rgba.buffer);
    if (image.animation) { // every frame, in order
      const frames = [];
      for (let n = 0; n < image.animation.frameCount; n++) frames.push(Buffer.from(image.animation.rgba(n).buffer));
      got = Buffer.concat(frames);
    }
    assert.ok(got.equals(want), `${name}: pixels differ`);
  }
  console.log(`# decoded ${names.length} random files`);
});
