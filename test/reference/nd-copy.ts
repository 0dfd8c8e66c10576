// Naive twin of assembly/kernels/nd-copy.ts, written from its definition: one element of the box
// at a time, each address computed from scratch.

// The strided copy over the box `dims` (axis 0 the batch): y [+]= x, with the element at index i
// of an axis of size n and stride s at i * s (s >= 0) or (n - 1 - i) * |s| (s < 0) from its base.
// Returns a copy of y after the copy; y and x are flat arrays, the bases float offsets into them.
export function ndCopyRef(y: ArrayLike<number>, yBase: number, ys: readonly number[], x: ArrayLike<number>, xBase: number, xs: readonly number[],
  dims: readonly number[], accumulate: number): Float64Array {
  const out = Float64Array.from(y);
  const total = dims.reduce((a, b) => a * b, 1);
  const at = (flat: number, strides: readonly number[]) => {
    let off = 0;
    for (let k = dims.length - 1; k >= 0; k--) {
      const i = flat % dims[k];
      flat = Math.floor(flat / dims[k]);
      off += strides[k] >= 0 ? i * strides[k] : (dims[k] - 1 - i) * -strides[k];
    }
    return off;
  };
  for (let e = 0; e < total; e++) {
    const v = x[xBase + at(e, xs)];
    const o = yBase + at(e, ys);
    out[o] = accumulate ? out[o] + v : v;
  }
  return out;
}

// Floats a strided access spans: sum of (n - 1) * |s| over the axes, plus one.
export const ndExtent = (dims: readonly number[], s: readonly number[]) => dims.reduce((t, n, k) => t + (n - 1) * Math.abs(s[k]), 0) + 1;
