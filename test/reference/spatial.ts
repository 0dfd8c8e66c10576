// Naive f64 twins of assembly/kernels/merge.ts and assembly/kernels/spatial.ts, written from the definitions.

// TF resize_bilinear, half_pixel_centers: the (lower, upper, weight of upper) source of index i.
function source(i: number, size: number, out: number): [number, number, number] {
  const f = (i + 0.5) * (size / out) - 0.5;
  return [Math.max(Math.floor(f), 0), Math.min(Math.ceil(f), size - 1), f - Math.floor(f)];
}

// x (B, h, w, c) -> y (B, oh, ow, c); each output pixel a weighted sum of four inputs.
export function resizeRef(x: ArrayLike<number>, b: number, h: number, w: number, c: number, oh: number, ow: number): Float64Array {
  const y = new Float64Array(b * oh * ow * c);
  for (let n = 0; n < b; n++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const [y0, y1, ly] = source(i, h, oh);
    const [x0, x1, lx] = source(j, w, ow);
    for (let k = 0; k < c; k++) {
      const at = (r: number, s: number) => x[((n * h + r) * w + s) * c + k];
      y[((n * oh + i) * ow + j) * c + k] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
    }
  }
  return y;
}

// The transpose: dx[p] = sum over outputs o of weight(o, p) * dy[o].
export function resizeBackwardRef(dy: ArrayLike<number>, b: number, h: number, w: number, c: number, oh: number, ow: number): Float64Array {
  const dx = new Float64Array(b * h * w * c);
  for (let n = 0; n < b; n++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const [y0, y1, ly] = source(i, h, oh);
    const [x0, x1, lx] = source(j, w, ow);
    for (let k = 0; k < c; k++) {
      const g = dy[((n * oh + i) * ow + j) * c + k];
      const add = (r: number, s: number, wt: number) => { dx[((n * h + r) * w + s) * c + k] += wt * g; };
      add(y0, x0, (1 - ly) * (1 - lx)); add(y0, x1, (1 - ly) * lx); add(y1, x0, ly * (1 - lx)); add(y1, x1, ly * lx);
    }
  }
  return dx;
}

export function padRef(x: ArrayLike<number>, b: number, h: number, w: number, c: number, pt: number, pb: number, pl: number, pr: number): Float64Array {
  const oh = h + pt + pb, ow = w + pl + pr;
  const y = new Float64Array(b * oh * ow * c);
  for (let n = 0; n < b; n++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) {
    y[((n * oh + i + pt) * ow + j + pl) * c + k] = x[((n * h + i) * w + j) * c + k];
  }
  return y;
}

export function padBackwardRef(dy: ArrayLike<number>, b: number, h: number, w: number, c: number, pt: number, pb: number, pl: number, pr: number): Float64Array {
  const oh = h + pt + pb, ow = w + pl + pr;
  const dx = new Float64Array(b * h * w * c);
  for (let n = 0; n < b; n++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) {
    dx[((n * h + i) * w + j) * c + k] = dy[((n * oh + i + pt) * ow + j + pl) * c + k];
  }
  return dx;
}
