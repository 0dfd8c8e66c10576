// The unary kinds (unary_forward / unary_backward), the general resize (resize2d_forward /
// resize2d_backward) and PReLU (prelu_forward / prelu_backward) against their naive twins in
// test/reference/pointwise.ts; gradients also against central differences of the twins. Outputs
// start as NaN, buffers carry guard words, sizes sweep odd shapes.
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose } from './support/close';
import { centralDifference } from './support/finite-diff';
import {
  preluBackwardRef, preluRef, resize2dBackwardRef, resize2dRef, type ResizeGeometry, UNARY_KIND_REF, UNARY_OPS, unaryDomain, unaryGradRef, unaryRef,
  type UnaryName,
} from './reference/pointwise';
import { UNARY_KIND } from '../host/layers/unary';

// Parameters per op: hardSigmoid's (alpha, beta), clip's (min, max); 0, 0 for the rest.
const PARAMS: Partial<Record<UnaryName, [number, number][]>> = {
  hardSigmoid: [[0.2, 0.5], [1 / 6, 0.5], [-0.7, 0.1]],
  clip: [[0, 6], [-1.5, 0.25], [-Infinity, 1], [0.5, Infinity]],
};
const params = (op: UnaryName): [number, number][] => PARAMS[op] ?? [[0, 0]];

function points(op: UnaryName): Float32Array {
  const [lo, hi] = unaryDomain(op);
  const v = [...randomArray(300, 3, lo, hi), lo, hi, (lo + hi) / 2];
  if (lo < 0) v.push(0, -0, 0.5, -0.5, 1.5, -2.5, 2.5, 1e-20, -1e-20, 1e-3, -1e-3);
  // reciprocal's poles are checked by hand (1/0 = inf) and kept out of the relative checks.
  return Float32Array.from(op === 'reciprocal' ? v.filter((t) => Math.abs(t) >= 1e-3) : v);
}

describe('unary kinds', () => {
  it('the host kinds are the kernel kinds the twins are written for', () => {
    for (const op of UNARY_OPS) expect(UNARY_KIND[op], op).toBe(UNARY_KIND_REF[op]);
  });

  it('forward matches the f64 definition to 1e-6 relative (halves round to even; exact ops exact)', () => {
    const h = harness(64);
    for (const op of UNARY_OPS) for (const [a, b] of params(op)) {
      const x = points(op);
      const n = x.length;
      const xp = h.buf(n, x, 1);
      const yp = h.buf(n, undefined, 1);
      h.k.unary_forward(UNARY_KIND[op], yp, xp, n, a, b);
      const want = Float64Array.from(x, (v) => unaryRef(op, v, Math.fround(a), Math.fround(b)));
      expectClose(h.read(yp, n), want, 1e-6, 1e-37, `${op} (${a}, ${b})`);
      h.k.unary_forward(UNARY_KIND[op], xp, xp, n, a, b); // in place
      expect(h.read(xp, n), `${op} in place`).toEqual(h.read(yp, n));
    }
    expect(h.guardsIntact()).toBe(true);
  });

  it('round halves to even, sign keeps zero, clip is inclusive', () => {
    const h = harness(16);
    const xp = h.put([0.5, 1.5, 2.5, -0.5, -1.5, 0, 6, -1]);
    const yp = h.alloc(8);
    h.k.unary_forward(UNARY_KIND.round, yp, xp, 8, 0, 0);
    expect(Array.from(h.read(yp, 8))).toEqual([0, 2, 2, -0, -2, 0, 6, -1]);
    h.k.unary_forward(UNARY_KIND.sign, yp, xp, 8, 0, 0);
    expect(Array.from(h.read(yp, 8))).toEqual([1, 1, 1, -1, -1, 0, 1, -1]);
    const dyp = h.put(new Float32Array(8).fill(1));
    h.k.unary_backward(UNARY_KIND.clip, yp, dyp, xp, 8, 0, 6, 0);
    expect(Array.from(h.read(yp, 8))).toEqual([1, 1, 1, 0, 0, 1, 1, 0]);
    h.k.unary_forward(UNARY_KIND.reciprocal, yp, h.put([0, -0]), 2, 0, 0);
    expect(Array.from(h.read(yp, 2))).toEqual([Infinity, -Infinity]);
  });

  it('backward is dy * f\'(x), written and accumulated', () => {
    const h = harness(64);
    for (const op of UNARY_OPS) for (const [a, b] of params(op)) {
      const x = points(op);
      const n = x.length;
      const dy = randomArray(n, 9, -2, 2);
      const dx0 = randomArray(n, 10, -1, 1);
      const xp = h.buf(n, x);
      const dyp = h.buf(n, dy);
      for (const accumulate of [0, 1]) {
        const dxp = h.buf(n, accumulate ? dx0 : undefined);
        h.k.unary_backward(UNARY_KIND[op], dxp, dyp, xp, n, a, b, accumulate);
        const want = Float64Array.from(x, (v, i) => (accumulate ? dx0[i] : 0) + dy[i] * unaryGradRef(op, v, Math.fround(a), Math.fround(b)));
        expectClose(h.read(dxp, n), want, 2e-6, 1e-6, `${op} (${a}, ${b}) accumulate ${accumulate}`);
      }
    }
    expect(h.guardsIntact()).toBe(true);
  });

  it('backward agrees with central differences of the f64 forward away from kinks', () => {
    const h = harness(16);
    for (const op of UNARY_OPS) for (const [a, b] of params(op)) {
      const kinks = op === 'hardSigmoid' ? [-b / a, (1 - b) / a] : op === 'clip' ? [a, b] : [0];
      const jumps = ['floor', 'ceil', 'round'].includes(op);
      const x = points(op).filter((v) => kinks.every((k) => Math.abs(v - k) > 1e-2) && (!jumps || Math.abs(v * 2 - Math.round(v * 2)) > 1e-2));
      const n = x.length;
      const dxp = h.alloc(n);
      h.k.unary_backward(UNARY_KIND[op], dxp, h.put(new Float32Array(n).fill(1)), h.put(x), n, a, b, 0);
      const fd = Float64Array.from(x, (xi) => {
        let v = xi;
        return centralDifference(() => unaryRef(op, v, Math.fround(a), Math.fround(b)), () => v, (u) => { v = u; }, 1e-6);
      });
      expectClose(h.read(dxp, n), fd, 1e-5, 1e-6, `${op} (${a}, ${b})`);
    }
  });

  it('unknown kinds trap in both directions', () => {
    const h = harness(16);
    const p = h.put([1, 2, 3, 4]);
    for (const kind of [12, 32, -1]) {
      expect(() => h.k.unary_forward(kind, h.alloc(4), p, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
      expect(() => h.k.unary_backward(kind, h.alloc(4), p, p, 4, 0, 0, 0)).toThrow(WebAssembly.RuntimeError);
    }
  });
});

const GEOMETRIES: [number, number, number, number][] = [[3, 4, 5, 7], [4, 6, 8, 12], [5, 7, 3, 2], [4, 4, 4, 4], [3, 2, 1, 1], [1, 1, 3, 4], [6, 5, 6, 10]];

describe('resize', () => {
  it('every mode, transform and nearest mode equals the twin forward and backward, writing and accumulating', () => {
    const h = harness(64);
    for (const [hh, ww, oh, ow] of GEOMETRIES) for (const mode of [0, 1]) for (const transform of [0, 1, 2, 3]) for (const nearestMode of (mode ? [0] : [0, 1, 2, 3])) {
      const g: ResizeGeometry = { b: 2, h: hh, w: ww, c: 3, oh, ow, mode, transform, nearestMode };
      const where = `${hh}x${ww} -> ${oh}x${ow} mode ${mode} transform ${transform} nearest ${nearestMode}`;
      const nIn = g.b * hh * ww * g.c, nOut = g.b * oh * ow * g.c;
      const x = randomArray(nIn, hh * 7 + ow, -1, 1);
      const yp = h.buf(nOut);
      h.k.resize2d_forward(yp, h.buf(nIn, x), g.b, hh, ww, g.c, oh, ow, mode, transform, nearestMode);
      expectClose(h.read(yp, nOut), resize2dRef(x, g), 1e-6, 1e-6, `${where} forward`);
      const dy = randomArray(nOut, oh * 5 + ww, -1, 1);
      const dx0 = randomArray(nIn, 3, -1, 1);
      for (const accumulate of [0, 1]) {
        const dxp = h.buf(nIn, accumulate ? dx0 : undefined);
        h.k.resize2d_backward(dxp, h.buf(nOut, dy), g.b, hh, ww, g.c, oh, ow, mode, transform, nearestMode, accumulate);
        const want = resize2dBackwardRef(dy, g).map((v, i) => v + (accumulate ? dx0[i] : 0));
        expectClose(h.read(dxp, nIn), want, 1e-5, 1e-5, `${where} backward accumulate ${accumulate}`);
      }
      h.reset();
    }
  });

  it('hand-checked taps: nearest asymmetric floor repeats, align_corners keeps the corners, round_prefer_floor picks the lower at a tie', () => {
    const h = harness(16);
    const run = (x: number[], n: number, m: number, mode: number, transform: number, nearestMode: number) => {
      const yp = h.alloc(m);
      h.k.resize2d_forward(yp, h.put(x), 1, 1, n, 1, 1, m, mode, transform, nearestMode);
      return Array.from(h.read(yp, m));
    };
    expect(run([1, 2, 3], 3, 6, 0, 2, 2)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(run([0, 10], 2, 5, 1, 1, 0)).toEqual([0, 2.5, 5, 7.5, 10]);
    // asymmetric coordinates of 4 -> 8 are 0, 0.5, 1, ...: ties at every odd index.
    expect(run([1, 2, 3, 4], 4, 8, 0, 2, 0)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(run([1, 2, 3, 4], 4, 8, 0, 2, 1)).toEqual([1, 2, 2, 3, 3, 4, 4, 4]);
    // half-pixel bilinear 2 -> 4: coordinates -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    expect(run([0, 4], 2, 4, 1, 0, 0)).toEqual([0, 1, 3, 4]);
    // pytorch_half_pixel to a single pixel reads index 0; half_pixel the centre.
    expect(run([0, 4, 8], 3, 1, 1, 3, 0)).toEqual([0]);
    expect(run([0, 4, 8], 3, 1, 1, 0, 0)).toEqual([4]);
  });

  it('bad mode, transform or nearest mode traps', () => {
    const h = harness(16);
    const x = h.put([1, 2, 3, 4]);
    expect(() => h.k.resize2d_forward(h.alloc(16), x, 1, 2, 2, 1, 4, 4, 2, 0, 0)).toThrow(WebAssembly.RuntimeError);
    expect(() => h.k.resize2d_forward(h.alloc(16), x, 1, 2, 2, 1, 4, 4, 1, 4, 0)).toThrow(WebAssembly.RuntimeError);
    expect(() => h.k.resize2d_backward(h.alloc(4), h.alloc(16, 0), 1, 2, 2, 1, 4, 4, 0, 0, 7, 0)).toThrow(WebAssembly.RuntimeError);
  });
});

// [per-sample shape, alpha shape, the collapsed dims d0..d3 and shared bits the host would pass]
const PRELU_CASES: [number[], number[], number[], number][] = [
  [[3, 4, 5], [1, 1, 5], [1, 1, 12, 5], 0b0100],
  [[3, 4, 5], [3, 4, 5], [1, 1, 1, 60], 0],
  [[3, 4, 5], [1, 1, 1], [1, 1, 1, 60], 0b1000],
  [[3, 4, 5], [3, 1, 5], [1, 3, 4, 5], 0b0100],
  [[3, 4, 5], [1, 4, 1], [1, 3, 4, 5], 0b1010],
  [[2, 3, 4, 5], [2, 1, 4, 1], [2, 3, 4, 5], 0b1010],
  [[7], [7], [1, 1, 1, 7], 0],
];

describe('prelu', () => {
  it('forward and both gradients equal the twin for every sharing pattern, each gradient optional', () => {
    const h = harness(64);
    const B = 3;
    for (const [shape, aShape, [d0, d1, d2, d3], shared] of PRELU_CASES) {
      const n = B * shape.reduce((p, q) => p * q, 1);
      const na = aShape.reduce((p, q) => p * q, 1);
      const x = Float32Array.from(randomArray(n, n + na, -2, 2), (v, i) => (i % 9 === 4 ? 0 : v));
      const alpha = randomArray(na, na, -0.5, 0.8);
      const dy = randomArray(n, 5, -1, 1);
      const where = `shape [${shape}] alpha [${aShape}]`;
      const xp = h.buf(n, x), ap = h.buf(na, alpha), dyp = h.buf(n, dy);
      const yp = h.buf(n);
      h.k.prelu_forward(yp, xp, ap, B, d0, d1, d2, d3, shared);
      expectClose(h.read(yp, n), preluRef(x, alpha, shape, aShape), 1e-7, 0, `${where} forward`);
      const want = preluBackwardRef(dy, x, alpha, shape, aShape);
      const dx0 = randomArray(n, 8), da0 = randomArray(na, 9);
      for (const acc of [0, 1]) {
        const dxp = h.buf(n, acc ? dx0 : undefined), dap = h.buf(na, acc ? da0 : undefined);
        h.k.prelu_backward(dxp, dap, dyp, xp, ap, B, d0, d1, d2, d3, shared, acc, acc);
        expectClose(h.read(dxp, n), want.dx.map((v, i) => v + (acc ? dx0[i] : 0)), 1e-6, 1e-7, `${where} dx accumulate ${acc}`);
        expectClose(h.read(dap, na), want.dalpha.map((v, i) => v + (acc ? da0[i] : 0)), 1e-5, 1e-6, `${where} dalpha accumulate ${acc}`);
      }
      const onlyAlpha = h.buf(na);
      h.k.prelu_backward(0, onlyAlpha, dyp, xp, ap, B, d0, d1, d2, d3, shared, 0, 0);
      expectClose(h.read(onlyAlpha, na), want.dalpha, 1e-5, 1e-6, `${where} dalpha alone`);
      const onlyX = h.buf(n);
      h.k.prelu_backward(onlyX, 0, dyp, xp, ap, B, d0, d1, d2, d3, shared, 0, 0);
      expectClose(h.read(onlyX, n), want.dx, 1e-6, 1e-7, `${where} dx alone`);
    }
    expect(h.guardsIntact()).toBe(true);
  });

  it('gradients agree with central differences of the twin', () => {
    const shape = [2, 3, 4], aShape = [1, 3, 1];
    const x = Float32Array.from(randomArray(24, 4, -2, 2), (v) => (Math.abs(v) < 0.05 ? 0.3 : v));
    const alpha = Float64Array.from(randomArray(3, 5, 0.1, 0.6));
    const dy = randomArray(24, 6);
    const loss = (xx: ArrayLike<number>, aa: ArrayLike<number>) => preluRef(xx, aa, shape, aShape).reduce((s, v, i) => s + v * dy[i], 0);
    const want = preluBackwardRef(dy, x, alpha, shape, aShape);
    const xs = Float64Array.from(x);
    xs.forEach((_, i) => expect(centralDifference(() => loss(xs, alpha), () => xs[i], (v) => { xs[i] = v; }, 1e-6)).toBeCloseTo(want.dx[i], 6));
    alpha.forEach((_, i) => expect(centralDifference(() => loss(xs, alpha), () => alpha[i], (v) => { alpha[i] = v; }, 1e-6)).toBeCloseTo(want.dalpha[i], 6));
  });
});
