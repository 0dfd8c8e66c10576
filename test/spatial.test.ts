// assembly/kernels/merge.ts (axpy, mul) and assembly/kernels/spatial.ts (zero padding, bilinear resize), forward
// and backward, against the f64 twins in test/reference/spatial.ts, for the SIMD build and the
// same sources compiled with --disable simd. Outputs start as NaN (accumulate 0) or known values
// (accumulate 1); guard words after every buffer and the inputs must come back unchanged.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { expectClose } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { padBackwardRef, padRef, resizeBackwardRef, resizeRef } from './reference/spatial';

const BYTES = 4 << 20;
let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/merge.ts', 'assembly/kernels/spatial.ts'], 'spatial-scalar.wasm');
});

const close = (a: ArrayLike<number>, e: ArrayLike<number>, what: string) => expectClose(a, e, 1e-5, 1e-6, what);
const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);

function suite(name: string, make: () => Arena) {
  describe(name, () => {
    it('axpy and mul, every tail of the 4-wide loop, write and accumulate', () => {
      for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 33]) for (const accumulate of [0, 1]) {
        const a = make();
        const x = randomArray(n, n), z = randomArray(n, n + 1), y0 = randomArray(n, n + 2);
        const px = a.put(x), pz = a.put(z);
        const py = accumulate ? a.put(y0) : a.alloc(n);
        a.k.axpy_f32(py, px, n, -0.75, accumulate);
        close(a.read(py, n), Float64Array.from(x, (v, i) => (accumulate ? y0[i] : 0) + -0.75 * v), 'py');
        const pm = accumulate ? a.put(y0) : a.alloc(n);
        a.k.mul_f32(pm, px, pz, n, accumulate);
        close(a.read(pm, n), Float64Array.from(x, (v, i) => (accumulate ? y0[i] : 0) + v * z[i]), 'pm');
        expect(a.read(px, n)).toEqual(x);
        expect(a.guardsIntact()).toBe(true);
      }
    });

    it('channel affine (Rescaling) forward and its backward, every channel tail', () => {
      for (const c of [1, 3, 4, 5, 9]) for (const accumulate of [0, 1]) {
        const a = make();
        const rows = 7;
        const x = randomArray(rows * c, c), sc = randomArray(c, c + 1), of = randomArray(c, c + 2), d0 = randomArray(rows * c, c + 3);
        const py = a.alloc(rows * c);
        const psc = a.put(sc);
        a.k.channel_affine_f32(py, a.put(x), psc, a.put(of), rows, c);
        close(a.read(py, rows * c), Float64Array.from(x, (v, i) => v * sc[i % c] + of[i % c]), 'py');
        const pdx = accumulate ? a.put(d0) : a.alloc(rows * c);
        a.k.channel_scale_backward(pdx, a.put(x), psc, rows, c, accumulate);
        close(a.read(pdx, rows * c), Float64Array.from(x, (v, i) => (accumulate ? d0[i] : 0) + v * sc[i % c]), 'pdx');
        expect(a.guardsIntact()).toBe(true);
      }
    });

    it('zero padding forward and backward, asymmetric, batch 1-3, channels 1-5', () => {
      let s = 0;
      for (const [h, w] of [[1, 1], [3, 5], [4, 4]]) for (const [pt, pb, pl, pr] of [[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 0, 3], [0, 1, 2, 0]]) for (const accumulate of [0, 1]) {
        const a = make();
        const b = 1 + (s % 3), c = 1 + (s++ % 5);
        const oh = h + pt + pb, ow = w + pl + pr;
        const x = randomArray(b * h * w * c, s);
        const px = a.put(x);
        const py = a.alloc(b * oh * ow * c);
        a.k.zero_pad2d_forward(py, px, b, h, w, c, pt, pb, pl, pr);
        expect(a.read(py, b * oh * ow * c)).toEqual(Float32Array.from(padRef(x, b, h, w, c, pt, pb, pl, pr)));
        const dy = randomArray(b * oh * ow * c, s + 50);
        const d0 = randomArray(b * h * w * c, s + 60);
        const pdx = accumulate ? a.put(d0) : a.alloc(b * h * w * c);
        a.k.zero_pad2d_backward(pdx, a.put(dy), b, h, w, c, pt, pb, pl, pr, accumulate);
        const ref = padBackwardRef(dy, b, h, w, c, pt, pb, pl, pr);
        close(a.read(pdx, b * h * w * c), accumulate ? plus(ref, d0) : ref, 'pdx');
        expect(a.guardsIntact()).toBe(true);
      }
    });

    it('bilinear resize forward and backward: up, down, mixed, 1-pixel, 28x28 -> 64x64', () => {
      let s = 0;
      for (const [h, w, oh, ow] of [[5, 7, 11, 4], [4, 4, 2, 2], [1, 1, 3, 2], [3, 1, 1, 5], [6, 9, 6, 9], [28, 28, 64, 64], [7, 5, 3, 3]]) for (const accumulate of [0, 1]) {
        const a = make();
        const b = 1 + (s % 3), c = [1, 3, 4, 5][s++ % 4];
        const x = randomArray(b * h * w * c, s);
        const py = a.alloc(b * oh * ow * c);
        a.k.resize_bilinear_forward(py, a.put(x), b, h, w, c, oh, ow);
        close(a.read(py, b * oh * ow * c), resizeRef(x, b, h, w, c, oh, ow), 'py');
        const dy = randomArray(b * oh * ow * c, s + 70);
        const d0 = randomArray(b * h * w * c, s + 80);
        const pdx = accumulate ? a.put(d0) : a.alloc(b * h * w * c);
        a.k.resize_bilinear_backward(pdx, a.put(dy), b, h, w, c, oh, ow, accumulate);
        const ref = resizeBackwardRef(dy, b, h, w, c, oh, ow);
        close(a.read(pdx, b * h * w * c), accumulate ? plus(ref, d0) : ref, 'pdx');
        expect(a.guardsIntact()).toBe(true);
      }
    });

    it('resize backward is the transpose of forward: <R x, dy> = <x, R^T dy>', () => {
      const a = make();
      const [b, h, w, c, oh, ow] = [2, 5, 6, 3, 9, 4];
      const x = randomArray(b * h * w * c, 1), dy = randomArray(b * oh * ow * c, 2);
      const py = a.alloc(b * oh * ow * c), pdx = a.alloc(b * h * w * c);
      a.k.resize_bilinear_forward(py, a.put(x), b, h, w, c, oh, ow);
      a.k.resize_bilinear_backward(pdx, a.put(dy), b, h, w, c, oh, ow, 0);
      const y = a.read(py, b * oh * ow * c), dx = a.read(pdx, b * h * w * c);
      const lhs = y.reduce((t, v, i) => t + v * dy[i], 0);
      const rhs = dx.reduce((t, v, i) => t + v * x[i], 0);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.abs(lhs) + 1e-5);
    });
  });
}

suite('SIMD build', () => simdArena(BYTES));
suite('scalar build (--disable simd)', () => scalarArena(scalar, 128, BYTES));
