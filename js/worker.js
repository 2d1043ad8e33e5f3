// Decodes .kmq files off the main thread for viewer.html, so that a large file does not freeze
// the page: post {id, bytes}; the reply is {id, image, ms} (the image's pixel buffers are
// transferred, not copied) or {id, error: {name, message}}.
import { decode } from "./kmq.js";

self.onmessage = (event) => {
  const { id, bytes } = event.data;
  try {
    const t0 = performance.now();
    const image = decode(bytes);
    const ms = performance.now() - t0;
    const buffers = new Set([image.rgba.buffer, image.indices.buffer]);
    self.postMessage({ id, image, ms }, [...buffers]);
  } catch (e) {
    self.postMessage({ id, error: { name: e.name, message: e.message } });
  }
};
