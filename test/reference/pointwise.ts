// Naive twins of the unary kinds (assembly/kernels/activations.ts unary_forward), the resize
// kernel (assembly/kernels/resize.ts) and PReLU (assembly/kernels/prelu.ts), written from the
// definitions in f64 (the resize coordinates in f32, as TF and PyTorch compute them).

export const UNARY_OPS = [
  'abs', 'neg', 'square', 'sqrt', 'rsqrt', 'exp', 'log', 'reciprocal', 'floor', 'ceil', 'round', 'sign', 'sin', 'cos', 'softplus',
  'softsign', 'erf', 'hardSigmoid', 'clip',
] as const;
export type UnaryName = typeof UNARY_OPS[number];
export const UNARY_KIND_REF: Record<UnaryName, number> = Object.fromEntries(UNARY_OPS.map((op, i) => [op, 13 + i])) as Record<UnaryName, number>;

// erf by its Maclaurin series (|x| < 3) or its asymptotic complement, to ~1e-15.
export function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax >= 3) {
    // erfc(x) = e^{-x^2}/(x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + ...)
    let term = 1, sum = 1;
    for (let n = 1; n < 12; n++) { term *= -(2 * n - 1) / (2 * ax * ax); sum += term; }
    const erfc = (Math.exp(-ax * ax) / (ax * Math.sqrt(Math.PI))) * sum;
    return Math.sign(x) * (1 - erfc);
  }
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) { term *= (-x * x) / n; sum += term / (2 * n + 1); }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

// f(x) for a unary kind; a and b are hardSigmoid's alpha and beta, clip's min and max.
export function unaryRef(op: UnaryName, x: number, a = 0, b = 0): number {
  switch (op) {
    case 'abs': return Math.abs(x);
    case 'neg': return -x;
    case 'square': return x * x;
    case 'sqrt': return Math.sqrt(x);
    case 'rsqrt': return 1 / Math.sqrt(x);
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'reciprocal': return 1 / x;
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    case 'round': return roundHalfEven(x);
    case 'sign': return Math.sign(x);
    case 'sin': return Math.sin(x);
    case 'cos': return Math.cos(x);
    case 'softplus': return Math.log1p(Math.exp(x));
    case 'softsign': return x / (1 + Math.abs(x));
    case 'erf': return erfRef(x);
    case 'hardSigmoid': return Math.min(Math.max(a * x + b, 0), 1);
    case 'clip': return Math.min(Math.max(x, a), b);
  }
}

// f'(x), and the points where it jumps (finite differences stay away from them).
export function unaryGradRef(op: UnaryName, x: number, a = 0, b = 0): number {
  switch (op) {
    case 'abs': return Math.sign(x);
    case 'neg': return -1;
    case 'square': return 2 * x;
    case 'sqrt': return 0.5 / Math.sqrt(x);
    case 'rsqrt': return -0.5 * x ** -1.5;
    case 'exp': return Math.exp(x);
    case 'log': return 1 / x;
    case 'reciprocal': return -1 / (x * x);
    case 'floor': case 'ceil': case 'round': case 'sign': return 0;
    case 'sin': return Math.cos(x);
    case 'cos': return -Math.sin(x);
    case 'softplus': return 1 / (1 + Math.exp(-x));
    case 'softsign': return 1 / (1 + Math.abs(x)) ** 2;
    case 'erf': return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
    case 'hardSigmoid': { const v = a * x + b; return v > 0 && v < 1 ? a : 0; }
    case 'clip': return x >= a && x <= b ? 1 : 0;
  }
}

// The input domain where f is defined and smooth enough for the checks.
export function unaryDomain(op: UnaryName): [number, number] {
  if (op === 'sqrt' || op === 'rsqrt' || op === 'log') return [0.05, 4];
  if (op === 'exp') return [-4, 4];
  return [-4, 4];
}

// ---------------------------------------------------------------------------------------------
// Resize: mode 0 nearest, 1 bilinear; transform 0 half_pixel, 1 align_corners, 2 asymmetric,
// 3 pytorch_half_pixel; nearest mode 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil.

const f = Math.fround;

export function resizeCoordinate(i: number, n: number, m: number, transform: number): number {
  if (transform === 1) return m > 1 ? f(i * f(f(n - 1) / f(m - 1))) : 0;
  const s = f(n / m);
  if (transform === 2) return f(i * s);
  if (transform === 3 && m === 1) return 0;
  return f(f(f(i + 0.5) * s) - 0.5);
}

// [lower, upper, weight of upper] of output index i.
export function resizeTaps(i: number, n: number, m: number, mode: number, transform: number, nearestMode: number): [number, number, number] {
  const v = resizeCoordinate(i, n, m, transform);
  if (mode === 0) {
    // ONNX: round_prefer_floor takes the floor at a tie, round_prefer_ceil the ceiling (Math.round's rule).
    const r = [v - Math.floor(v) === 0.5 ? Math.floor(v) : Math.round(v), Math.round(v), Math.floor(v), Math.ceil(v)][nearestMode];
    const k = Math.min(Math.max(r, 0), n - 1);
    return [k, k, 0];
  }
  const c = Math.min(Math.max(v, 0), n - 1);
  const lo = Math.floor(c);
  return [lo, Math.min(lo + 1, n - 1), c - lo];
}

export interface ResizeGeometry { b: number; h: number; w: number; c: number; oh: number; ow: number; mode: number; transform: number; nearestMode: number }

function eachTap(g: ResizeGeometry, visit: (out: number, inp: number, weight: number) => void): void {
  for (let n = 0; n < g.b; n++) for (let i = 0; i < g.oh; i++) for (let j = 0; j < g.ow; j++) {
    const [y0, y1, ly] = resizeTaps(i, g.h, g.oh, g.mode, g.transform, g.nearestMode);
    const [x0, x1, lx] = resizeTaps(j, g.w, g.ow, g.mode, g.transform, g.nearestMode);
    const taps: [number, number, number][] = [[y0, x0, (1 - ly) * (1 - lx)], [y0, x1, (1 - ly) * lx], [y1, x0, ly * (1 - lx)], [y1, x1, ly * lx]];
    for (const [r, s, wt] of taps) {
      if (wt === 0) continue;
      for (let k = 0; k < g.c; k++) visit(((n * g.oh + i) * g.ow + j) * g.c + k, ((n * g.h + r) * g.w + s) * g.c + k, wt);
    }
  }
}

export function resize2dRef(x: ArrayLike<number>, g: ResizeGeometry): Float64Array {
  const y = new Float64Array(g.b * g.oh * g.ow * g.c);
  eachTap(g, (o, i, wt) => { y[o] += wt * x[i]; });
  return y;
}

export function resize2dBackwardRef(dy: ArrayLike<number>, g: ResizeGeometry): Float64Array {
  const dx = new Float64Array(g.b * g.h * g.w * g.c);
  eachTap(g, (o, i, wt) => { dx[i] += wt * dy[o]; });
  return dx;
}

// ---------------------------------------------------------------------------------------------
// PReLU over a per-sample shape with alpha of the same rank (1 along shared axes).

function alphaIndex(idx: number, shape: readonly number[], alphaShape: readonly number[]): number {
  let rest = idx, a = 0, stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const i = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
    if (alphaShape[d] !== 1) a += i * stride;
    stride *= alphaShape[d];
  }
  return a;
}

export function preluRef(x: ArrayLike<number>, alpha: ArrayLike<number>, shape: readonly number[], alphaShape: readonly number[]): Float64Array {
  const per = shape.reduce((p, q) => p * q, 1);
  return Float64Array.from(x, (v, i) => (v > 0 ? v : alpha[alphaIndex(i % per, shape, alphaShape)] * v));
}

export function preluBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, alpha: ArrayLike<number>, shape: readonly number[], alphaShape: readonly number[]): { dx: Float64Array; dalpha: Float64Array } {
  const per = shape.reduce((p, q) => p * q, 1);
  const dx = new Float64Array(x.length);
  const dalpha = new Float64Array(alpha.length);
  for (let i = 0; i < x.length; i++) {
    const a = alphaIndex(i % per, shape, alphaShape);
    dx[i] = x[i] > 0 ? dy[i] : alpha[a] * dy[i];
    if (!(x[i] > 0)) dalpha[a] += x[i] * dy[i];
  }
  return { dx, dalpha };
}
