// Naive twins of the convolution and pooling kernels (assembly/kernels/conv.ts, assembly/kernels/pool.ts), written
// straight from the definitions (not from im2col), in f64 on plain arrays. Layout NHWC, conv kernel
// HWIO (KH, KW, C, F), depthwise kernel (KH, KW, C, M) with output channel c*M + m. Geometry as in
// the header of assembly/kernels/conv.ts: output (oh, ow), tap (kh, kw) reads input row oh*SH - PT + kh*DH,
// column ow*SW - PL + kw*DW, and positions outside the input read as 0.
// The backward twins are the transposes of the forward sums, looped over the same (output, tap) pairs.

export interface ConvGeometry {
  B: number; H: number; W: number; C: number;
  KH: number; KW: number; SH: number; SW: number; DH: number; DW: number;
  PT: number; PL: number; OH: number; OW: number;
}

// Calls visit(o, i, t) for every output position o (flat over B, OH, OW), input position i (flat over
// B, H, W) and tap t (flat over KH, KW) where the tap lands inside the input.
function forEachTap(g: ConvGeometry, visit: (o: number, i: number, t: number) => void): void {
  for (let b = 0; b < g.B; b++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        const o = (b * g.OH + oh) * g.OW + ow;
        for (let kh = 0; kh < g.KH; kh++) {
          const ih = oh * g.SH - g.PT + kh * g.DH;
          if (ih < 0 || ih >= g.H) continue;
          for (let kw = 0; kw < g.KW; kw++) {
            const iw = ow * g.SW - g.PL + kw * g.DW;
            if (iw < 0 || iw >= g.W) continue;
            visit(o, (b * g.H + ih) * g.W + iw, kh * g.KW + kw);
          }
        }
      }
    }
  }
}

const outCount = (g: ConvGeometry) => g.B * g.OH * g.OW;

// y[o, f] = b[f] + sum over taps, c of x[i, c] * w[t, c, f].
export function conv2dRef(g: ConvGeometry, F: number, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  const { C } = g;
  const y = new Float64Array(outCount(g) * F);
  if (bias) for (let o = 0; o < outCount(g); o++) for (let f = 0; f < F; f++) y[o * F + f] = bias[f];
  forEachTap(g, (o, i, t) => {
    for (let c = 0; c < C; c++) {
      const xv = x[i * C + c];
      for (let f = 0; f < F; f++) y[o * F + f] += xv * w[(t * C + c) * F + f];
    }
  });
  return y;
}

// dx[i, c] = sum over the (o, t) that read input i of dy[o, f] * w[t, c, f].
export function conv2dBackwardInputRef(g: ConvGeometry, F: number, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const { C } = g;
  const dx = new Float64Array(g.B * g.H * g.W * C);
  forEachTap(g, (o, i, t) => {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let f = 0; f < F; f++) s += dy[o * F + f] * w[(t * C + c) * F + f];
      dx[i * C + c] += s;
    }
  });
  return dx;
}

// dw[t, c, f] = sum over outputs o of x[i(o, t), c] * dy[o, f];  db[f] = sum over o of dy[o, f].
export function conv2dBackwardFilterRef(g: ConvGeometry, F: number, x: ArrayLike<number>, dy: ArrayLike<number>): { dw: Float64Array; db: Float64Array } {
  const { C } = g;
  const dw = new Float64Array(g.KH * g.KW * C * F);
  const db = new Float64Array(F);
  for (let o = 0; o < outCount(g); o++) for (let f = 0; f < F; f++) db[f] += dy[o * F + f];
  forEachTap(g, (o, i, t) => {
    for (let c = 0; c < C; c++) {
      const xv = x[i * C + c];
      for (let f = 0; f < F; f++) dw[(t * C + c) * F + f] += xv * dy[o * F + f];
    }
  });
  return { dw, db };
}

// y[o, c*M + m] = b[c*M + m] + sum over taps of x[i, c] * w[t, c, m].
export function depthwiseRef(g: ConvGeometry, M: number, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  const CM = g.C * M;
  const y = new Float64Array(outCount(g) * CM);
  if (bias) for (let o = 0; o < outCount(g); o++) for (let k = 0; k < CM; k++) y[o * CM + k] = bias[k];
  forEachTap(g, (o, i, t) => {
    for (let c = 0; c < g.C; c++) {
      for (let m = 0; m < M; m++) y[o * CM + c * M + m] += x[i * g.C + c] * w[t * CM + c * M + m];
    }
  });
  return y;
}

export function depthwiseBackwardInputRef(g: ConvGeometry, M: number, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const CM = g.C * M;
  const dx = new Float64Array(g.B * g.H * g.W * g.C);
  forEachTap(g, (o, i, t) => {
    for (let c = 0; c < g.C; c++) {
      for (let m = 0; m < M; m++) dx[i * g.C + c] += dy[o * CM + c * M + m] * w[t * CM + c * M + m];
    }
  });
  return dx;
}

export function depthwiseBackwardFilterRef(g: ConvGeometry, M: number, x: ArrayLike<number>, dy: ArrayLike<number>): { dw: Float64Array; db: Float64Array } {
  const CM = g.C * M;
  const dw = new Float64Array(g.KH * g.KW * CM);
  const db = new Float64Array(CM);
  for (let o = 0; o < outCount(g); o++) for (let k = 0; k < CM; k++) db[k] += dy[o * CM + k];
  forEachTap(g, (o, i, t) => {
    for (let c = 0; c < g.C; c++) {
      for (let m = 0; m < M; m++) dw[t * CM + c * M + m] += x[i * g.C + c] * dy[o * CM + c * M + m];
    }
  });
  return { dw, db };
}

// Pooling uses the same geometry with DH = DW = 1. Padded positions take no part.
// Max: the first maximum in (kh, kw) order wins; argmax is the flat input index i*C + c.
export function maxPoolRef(g: ConvGeometry, x: ArrayLike<number>): { y: Float64Array; argmax: Int32Array } {
  const { C } = g;
  const n = outCount(g) * C;
  const y = new Float64Array(n).fill(-Infinity);
  const argmax = new Int32Array(n).fill(-1);
  forEachTap(g, (o, i, _t) => {
    for (let c = 0; c < C; c++) {
      const v = x[i * C + c];
      if (argmax[o * C + c] < 0 || v > y[o * C + c]) {
        y[o * C + c] = v;
        argmax[o * C + c] = i * C + c;
      }
    }
  });
  return { y, argmax };
}

// Average over the window positions inside the input (TF 'same' pooling divides by that count),
// or with `includePad` (count_include_pad, PyTorch / ONNX) over the window clipped to the input
// and its declared bottom and right padding PB, PR.
export interface IncludePad { PB: number; PR: number }

function windowCounts(g: ConvGeometry, includePad?: IncludePad): Float64Array {
  const counts = new Float64Array(outCount(g));
  if (!includePad) {
    forEachTap(g, (o) => counts[o]++);
    return counts;
  }
  for (let o = 0; o < outCount(g); o++) {
    const oh = Math.floor(o / g.OW) % g.OH, ow = o % g.OW;
    const ih0 = oh * g.SH - g.PT, iw0 = ow * g.SW - g.PL;
    counts[o] = (Math.min(ih0 + g.KH, g.H + includePad.PB) - ih0) * (Math.min(iw0 + g.KW, g.W + includePad.PR) - iw0);
  }
  return counts;
}

export function avgPoolRef(g: ConvGeometry, x: ArrayLike<number>, includePad?: IncludePad): Float64Array {
  const { C } = g;
  const y = new Float64Array(outCount(g) * C);
  const counts = windowCounts(g, includePad);
  forEachTap(g, (o, i) => {
    for (let c = 0; c < C; c++) y[o * C + c] += x[i * C + c] / counts[o];
  });
  return y;
}

export function avgPoolBackwardRef(g: ConvGeometry, dy: ArrayLike<number>, includePad?: IncludePad): Float64Array {
  const { C } = g;
  const dx = new Float64Array(g.B * g.H * g.W * C);
  const counts = windowCounts(g, includePad);
  forEachTap(g, (o, i) => {
    for (let c = 0; c < C; c++) dx[i * C + c] += dy[o * C + c] / counts[o];
  });
  return dx;
}

// Grouped convolution, G groups: w (KH, KW, C/G, F); output channel f reads the input channels of
// group floor(f / (F/G)). y[o, f] = b[f] + sum over taps, j of x[i, g*Cg + j] * w[t, j, f].
export function groupedConv2dRef(g: ConvGeometry, F: number, G: number, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  const { C } = g, Cg = C / G, Fg = F / G;
  const y = new Float64Array(outCount(g) * F);
  if (bias) for (let o = 0; o < outCount(g); o++) for (let f = 0; f < F; f++) y[o * F + f] = bias[f];
  forEachTap(g, (o, i, t) => {
    for (let f = 0; f < F; f++) {
      const c0 = Math.floor(f / Fg) * Cg;
      for (let j = 0; j < Cg; j++) y[o * F + f] += x[i * C + c0 + j] * w[(t * Cg + j) * F + f];
    }
  });
  return y;
}

// The transposes of groupedConv2dRef: dx, and dw with db.
export function groupedConv2dBackwardInputRef(g: ConvGeometry, F: number, G: number, dy: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const { C } = g, Cg = C / G, Fg = F / G;
  const dx = new Float64Array(g.B * g.H * g.W * C);
  forEachTap(g, (o, i, t) => {
    for (let f = 0; f < F; f++) {
      const c0 = Math.floor(f / Fg) * Cg;
      for (let j = 0; j < Cg; j++) dx[i * C + c0 + j] += dy[o * F + f] * w[(t * Cg + j) * F + f];
    }
  });
  return dx;
}

export function groupedConv2dBackwardFilterRef(g: ConvGeometry, F: number, G: number, x: ArrayLike<number>, dy: ArrayLike<number>): { dw: Float64Array; db: Float64Array } {
  const { C } = g, Cg = C / G, Fg = F / G;
  const dw = new Float64Array(g.KH * g.KW * Cg * F);
  const db = new Float64Array(F);
  for (let o = 0; o < outCount(g); o++) for (let f = 0; f < F; f++) db[f] += dy[o * F + f];
  forEachTap(g, (o, i, t) => {
    for (let f = 0; f < F; f++) {
      const c0 = Math.floor(f / Fg) * Cg;
      for (let j = 0; j < Cg; j++) dw[(t * Cg + j) * F + f] += x[i * C + c0 + j] * dy[o * F + f];
    }
  });
  return { dw, db };
}

export function maxPoolBackwardRef(g: ConvGeometry, dy: ArrayLike<number>, argmax: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(g.B * g.H * g.W * g.C);
  for (let k = 0; k < argmax.length; k++) if (argmax[k] >= 0) dx[argmax[k]] += dy[k];
  return dx;
}

// y (B, C) = mean over HW of x (B, HW, C).
export function globalAvgPoolRef(x: ArrayLike<number>, B: number, HW: number, C: number): Float64Array {
  const y = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) y[b * C + c] += x[(b * HW + p) * C + c];
  }
  return y.map((v) => v / HW);
}
