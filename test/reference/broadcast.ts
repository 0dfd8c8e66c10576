// Naive f64 twins of assembly/kernels/broadcast.ts and softmax-axis.ts, written from the
// definitions: shapes instead of strides (an operand's shape is the index space's with 1 on the
// axes it is broadcast along), one multi-index walk, then the reduction rule.

// The kernel's op codes (assembly/kernels/broadcast.ts BC_*), by name.
export const BC = {
  add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, sqdiff: 6, copy: 7, sum: 8, gMul: 9, gDiv: 10, gDivGrad: 11,
  gGe: 12, gLt: 13, gLe: 14, gGt: 15, gSqdiff: 16, eqCount: 17, eqSelect: 18, reduceMax: 19, reduceMin: 20,
  atan2: 21, gAtan2: 22,
} as const;

export function bcScalar(op: number, g: number, a: number, b: number): number {
  switch (op) {
    case BC.add: return a + b;
    case BC.sub: return a - b;
    case BC.mul: return a * b;
    case BC.div: return a / b;
    case BC.max: return Math.max(a, b);
    case BC.min: return Math.min(a, b);
    case BC.sqdiff: return (a - b) ** 2;
    case BC.copy: return a;
    case BC.gMul: return g * a;
    case BC.gDiv: return g / a;
    case BC.gDivGrad: return (g * a) / (b * b);
    case BC.gGe: return a >= b ? g : 0;
    case BC.gLt: return a < b ? g : 0;
    case BC.gLe: return a <= b ? g : 0;
    case BC.gGt: return a > b ? g : 0;
    case BC.gSqdiff: return 2 * g * (a - b);
    case BC.eqCount: return g === a ? 1 : 0;
    case BC.eqSelect: return g === a ? b : 0;
    case BC.atan2: return Math.atan2(a, b);
    case BC.gAtan2: return (g * b) / (a * a + b * b);
    default: return g; // sum, reduceMax, reduceMin
  }
}

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

// Row-major flat index into `shape` of the multi-index `idx` of the full space (broadcast axes read 0).
function flat(shape: readonly number[], idx: readonly number[]): number {
  let at = 0;
  shape.forEach((d, i) => { at = at * d + (d === 1 ? 0 : idx[i]); });
  return at;
}

// y (yShape) over the index space `space`: alpha * f(g, a, b), summed (max / min for the
// reductions) over the axes where yShape is 1 and space is not; added to y0 when given.
export function broadcastRef(op: number, space: readonly number[], yShape: readonly number[], g: ArrayLike<number> | null, a: ArrayLike<number> | null,
  aShape: readonly number[], b: ArrayLike<number> | null, bShape: readonly number[], alpha: number, y0: ArrayLike<number> | null): Float64Array {
  const reduced = yShape.some((d, i) => d === 1 && space[i] > 1);
  const isMax = op === BC.reduceMax, isMin = op === BC.reduceMin;
  const y = new Float64Array(size(yShape)).fill(y0 ? 0 : reduced ? (isMax ? -Infinity : isMin ? Infinity : 0) : 0);
  if (y0) y.set(Array.from(y0));
  const into = reduced || y0 !== null;
  const idx = space.map(() => 0);
  for (let i = 0; i < size(space); i++) {
    let r = i;
    for (let k = space.length - 1; k >= 0; k--) { idx[k] = r % space[k]; r = Math.floor(r / space[k]); }
    const v = bcScalar(op, g ? g[i] : 0, a ? a[flat(aShape, idx)] : 0, b ? b[flat(bShape, idx)] : 0);
    const at = flat(yShape, idx);
    if (isMax) y[at] = into ? Math.max(y[at], v) : v;
    else if (isMin) y[at] = into ? Math.min(y[at], v) : v;
    else y[at] = into ? y[at] + alpha * v : alpha * v;
  }
  return y;
}

// Row-major strides of `shape` with 0 on the axes it is broadcast along in `space`.
export function bcStrides(shape: readonly number[], space: readonly number[]): number[] {
  const out = shape.map(() => 0);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = shape[i] === 1 && space[i] > 1 ? 0 : step;
    step *= shape[i];
  }
  return out;
}

// Softmax of x viewed as (outer, n, inner) along n, and its backward.
export function softmaxAxisRef(x: ArrayLike<number>, outer: number, n: number, inner: number): Float64Array {
  const y = new Float64Array(outer * n * inner);
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) {
    const at = (k: number) => (o * n + k) * inner + j;
    let mx = -Infinity;
    for (let k = 0; k < n; k++) mx = Math.max(mx, x[at(k)]);
    let s = 0;
    for (let k = 0; k < n; k++) s += Math.exp(x[at(k)] - mx);
    for (let k = 0; k < n; k++) y[at(k)] = Math.exp(x[at(k)] - mx) / s;
  }
  return y;
}

export function softmaxAxisBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>, outer: number, n: number, inner: number): Float64Array {
  const dx = new Float64Array(outer * n * inner);
  for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) {
    const at = (k: number) => (o * n + k) * inner + j;
    let dot = 0;
    for (let k = 0; k < n; k++) dot += dy[at(k)] * y[at(k)];
    for (let k = 0; k < n; k++) dx[at(k)] = y[at(k)] * (dy[at(k)] - dot);
  }
  return dx;
}
