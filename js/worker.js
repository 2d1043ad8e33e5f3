// Decodes .kmq files off the main thread for viewer.html, so that a large file does not freeze
// the page. Post {id, bytes}; the reply is {id, image, ms} (the image's pixel buffers are
// transferred, not copied) or {id, error: {name, message}}. For an animation, image.frames is
// {count, durations, loop} and the worker keeps the file: post {id, frame: n} to get
// {id, frame: n, rgba, ms} (frames are decoded as they are asked for, onto one canvas).
import { decode } from "./kmq.js";

let animation = null, animationId = 0;

function fail(id, e) {
  self.postMessage({ id, error: { name: e.name, message: e.message } });
}

self.onmessage = (event) => {
  const { id, bytes, frame } = event.data;
  if (frame !== undefined) {
    try {
      if (id !== animationId || !animation) throw new RangeError("that file is no longer open");
      const t0 = performance.now();
      const rgba = animation.rgba(frame);
      self.postMessage({ id, frame, rgba, ms: performance.now() - t0 }, [rgba.buffer]);
    } catch (e) {
      fail(id, e);
    }
    return;
  }
  try {
    const t0 = performance.now();
    const image = decode(bytes);
    const ms = performance.now() - t0;
    animation = image.animation;
    animationId = id;
    if (animation) {
      image.frames = { count: animation.frameCount, durations: animation.durations, loop: animation.loop };
    }
    delete image.animation; // a class with the whole stream: kept here, not copied
    const buffers = new Set([image.rgba.buffer, image.indices.buffer]);
    self.postMessage({ id, image, ms }, [...buffers]);
  } catch (e) {
    fail(id, e);
  }
};
