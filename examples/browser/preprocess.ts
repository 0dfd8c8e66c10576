// A drawing -> a 28x28 MNIST-style input, the way the MNIST digits were made: the ink's bounding
// box scaled (aspect kept, area-averaged, so strokes get grey edges) to fit a 20x20 box, then
// placed in the 28x28 field so that its centre of mass is the centre. Values in [0, 1], ink high.

// ink (h, w): ink amount per pixel in [0, 1]. Returns 784 values, or null when there is no ink.
export function toMnistInput(ink: Float32Array, w: number, h: number, threshold = 0.02): Float32Array | null {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));
  // box (th, tw): each target pixel is the mean of the source area it covers (fractional overlaps
  // weighted), which both shrinks and, for tiny drawings, enlarges correctly.
  const box = new Float32Array(tw * th);
  const sx = bw / tw;
  const sy = bh / th;
  for (let ty = 0; ty < th; ty++) {
    const ya = y0 + ty * sy, yb = ya + sy;
    for (let tx = 0; tx < tw; tx++) {
      const xa = x0 + tx * sx, xb = xa + sx;
      let sum = 0;
      for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
          const wx = Math.min(xb, x + 1) - Math.max(xa, x);
          sum += wx * wy * ink[y * w + x];
        }
      }
      box[ty * tw + tx] = sum / (sx * sy);
    }
  }
  let mass = 0, mx = 0, my = 0;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      const v = box[ty * tw + tx];
      mass += v;
      mx += v * (tx + 0.5);
      my += v * (ty + 0.5);
    }
  }
  // Top-left corner that puts the centre of mass at (14, 14), whole pixels, kept inside the field.
  const left = Math.min(28 - tw, Math.max(0, Math.round(14 - mx / mass)));
  const top = Math.min(28 - th, Math.max(0, Math.round(14 - my / mass)));
  const out = new Float32Array(784);
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) out[(top + ty) * 28 + left + tx] = Math.min(1, Math.max(0, box[ty * tw + tx]));
  }
  return out;
}
