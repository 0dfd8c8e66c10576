// activation_forward / activation_backward (assembly/kernels/activations.ts) against the f64 twins in
// test/reference/layers.ts.
//
// Accuracy: every kind is checked to a relative 1e-6 of the exact value (rtol) on a grid that
// covers saturation (|x| up to 50), the region near zero (down to 1e-30) and every branch
// boundary; outputs below the smallest normal f32 are allowed an absolute 1e-38. A derivative is
// held to 1e-6 of the magnitude of its terms (`scale`), since swish' and gelu' cross zero.
// The y-based backward (in-place forward) is held to TF's accuracy: absolute 1e-6 * |dy|.
// Outputs start as NaN, buffers carry guard words, sizes sweep the SIMD body and every tail, and
// gradients are checked by central differences of the twin.
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose } from './support/close';
import { centralDifference } from './support/finite-diff';
import { ACT, activationGradRef, activationKinks, activationRef, type ActName } from './reference/layers';
import { ACTIVATION_KIND } from '../host/layers/activations';

const KINDS = Object.keys(ACT) as ActName[];
// 23 and 47: the four-vector loop of sigmoid and swish (activations.ts forwardExp), then the one-vector loop, then the scalar tail.
const SIZES = [1, 3, 4, 5, 7, 8, 9, 16, 17, 23, 33, 47, 100];
const FROM_OUTPUT: ActName[] = ['linear', 'relu', 'sigmoid', 'tanh', 'leakyRelu', 'elu', 'selu', 'relu6', 'hardSigmoid'];
const ALPHAS: Record<ActName, number[]> = {
  linear: [0], relu: [0], sigmoid: [0], tanh: [0], leakyRelu: [0.3, 0.2, 0], elu: [1, 0.5], selu: [0], gelu: [0],
  geluTanh: [0], swish: [0], relu6: [0], hardSigmoid: [0], hardSwish: [0],
};
const RTOL = 1e-6;
const TINY = 1e-38;

// Saturation, near zero, branch boundaries and ordinary values, as f32.
function grid(): Float32Array {
  const v: number[] = [0, -0, 1, -1, 3, -3, 6, -6, 50, -50, 0.5, -0.5, 2.5, -2.5, 0.34657, -0.34657, 0.34658, -0.34658, 0.84375, 1.25, 2.857];
  for (let e = -30; e <= 1.7; e += 0.05) v.push(10 ** e, -(10 ** e));
  for (const b of [-6, -3, 0, 3, 6]) for (const d of [1e-7, 1e-6, 1e-4]) v.push(b + d, b - d);
  v.push(...randomArray(2000, 7, -50, 50), ...randomArray(2000, 8, -4, 4));
  return Float32Array.from(v.filter((x) => Math.abs(x) <= 50));
}

function run(kinds: ActName[], body: (name: ActName, kind: number, alpha: number) => void): void {
  for (const name of kinds) for (const alpha of ALPHAS[name]) body(name, ACT[name], Math.fround(alpha));
}

describe('activations', () => {
  it('kind constants agree with the wasm exports and the host table', () => {
    const h = harness(16);
    const exported = h.k as unknown as Record<string, WebAssembly.Global>;
    const wasmName: Record<ActName, string> = {
      linear: 'ACT_LINEAR', relu: 'ACT_RELU', sigmoid: 'ACT_SIGMOID', tanh: 'ACT_TANH', leakyRelu: 'ACT_LEAKY_RELU', elu: 'ACT_ELU',
      selu: 'ACT_SELU', gelu: 'ACT_GELU', geluTanh: 'ACT_GELU_TANH', swish: 'ACT_SWISH', relu6: 'ACT_RELU6', hardSigmoid: 'ACT_HARD_SIGMOID',
      hardSwish: 'ACT_HARD_SWISH',
    };
    for (const name of KINDS) {
      expect(exported[wasmName[name]].value, name).toBe(ACT[name]);
      expect(ACTIVATION_KIND[name], name).toBe(ACT[name]);
    }
  });

  it('forward is within 1e-6 of the f64 value across saturation and near zero', () => {
    const x = grid();
    const n = x.length;
    const h = harness(64);
    const xp = h.put(x);
    const yp = h.alloc(n);
    run(KINDS, (name, kind, alpha) => {
      h.k.activation_forward(kind, yp, xp, n, alpha);
      const want = Float64Array.from(x, (v) => activationRef(kind, v, alpha));
      expectClose(h.read(yp, n), want, RTOL, TINY, `${name} alpha ${alpha}`);
    });
  });

  it('backward from x is within 1e-6 of the f64 derivative, writing and accumulating', () => {
    const x = grid();
    const n = x.length;
    const h = harness(64);
    const xp = h.put(x);
    const dy = randomArray(n, 11, -2, 2);
    const dx0 = randomArray(n, 12, -1, 1);
    const dyp = h.put(dy);
    const dxp = h.alloc(n);
    const yp = h.alloc(n, 123); // never read when x is given
    run(KINDS, (name, kind, alpha) => {
      for (const accumulate of [0, 1]) {
        new Float32Array(h.memory.buffer, dxp, n).set(accumulate ? dx0 : new Float32Array(n).fill(NaN));
        h.k.activation_backward(kind, dxp, dyp, xp, yp, n, alpha, accumulate);
        const got = h.read(dxp, n);
        let worst = 0;
        for (let i = 0; i < n; i++) {
          const { d, scale } = activationGradRef(kind, x[i], alpha);
          const base = accumulate ? dx0[i] : 0;
          const err = Math.abs(got[i] - (base + dy[i] * d)) / (RTOL * (Math.abs(dy[i]) * scale + Math.abs(base)) + TINY);
          worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
        }
        expect(worst, `${name} alpha ${alpha} accumulate ${accumulate}`).toBeLessThanOrEqual(1);
      }
    });
  });

  it('backward from y (x = 0, or x == y after an in-place forward) matches to f32 absolute accuracy', () => {
    const x = grid();
    const n = x.length;
    const h = harness(64);
    const dy = randomArray(n, 13, -2, 2);
    const dyp = h.put(dy);
    const dxp = h.alloc(n);
    const vp = h.alloc(n);
    run(FROM_OUTPUT, (name, kind, alpha) => {
      for (const inPlace of [false, true]) {
        new Float32Array(h.memory.buffer, vp, n).set(x);
        h.k.activation_forward(kind, vp, vp, n, alpha); // in place: only y is left
        new Float32Array(h.memory.buffer, dxp, n).fill(NaN);
        h.k.activation_backward(kind, dxp, dyp, inPlace ? vp : 0, vp, n, alpha, 0);
        const got = h.read(dxp, n);
        let worst = 0;
        for (let i = 0; i < n; i++) {
          const want = dy[i] * activationGradRef(kind, x[i], alpha).d;
          // At a kink an f32 output can land on the other side: relu6(6 - 1e-7) rounds to 6.
          const nearKink = activationKinks(kind).some((k) => Math.abs(x[i] - k) <= 1e-6 * Math.max(1, Math.abs(k)));
          if (nearKink) continue;
          const err = Math.abs(got[i] - want) / (1e-6 * Math.abs(dy[i]) + RTOL * Math.abs(want) + TINY);
          worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
        }
        expect(worst, `${name} alpha ${alpha} x ${inPlace ? '== y' : '= 0'}`).toBeLessThanOrEqual(1);
      }
    });
  });

  it('kinds that need x trap without it; unknown kinds trap', () => {
    const h = harness(16);
    const p = h.put([1, 2, 3, 4]);
    const q = h.alloc(4);
    for (const name of ['gelu', 'geluTanh', 'swish', 'hardSwish'] as ActName[]) {
      expect(() => h.k.activation_backward(ACT[name], q, p, 0, p, 4, 0, 0), name).toThrow(WebAssembly.RuntimeError);
      expect(() => h.k.activation_backward(ACT[name], q, p, p, p, 4, 0, 0), name).toThrow(WebAssembly.RuntimeError);
    }
    expect(() => h.k.activation_forward(13, q, p, 4, 0)).toThrow(WebAssembly.RuntimeError);
    expect(() => h.k.activation_backward(-1, q, p, p, q, 4, 0, 0)).toThrow(WebAssembly.RuntimeError);
  });

  it('every size and alignment: all of y and dx written, nothing outside, in place allowed', () => {
    const h = harness(64);
    const g = h;
    for (const n of SIZES) {
      for (const offset of [0, 1]) {
        const x = Float32Array.from(randomArray(n, n + 100 * offset, -8, 8), (v, i) => (i % 5 === 0 ? v * 6 : v));
        const dy = randomArray(n, n + 7, -1, 1);
        const dx0 = randomArray(n, n + 9, -1, 1);
        run(KINDS, (name, kind, alpha) => {
          const where = `${name} n ${n} offset ${offset}`;
          const want = Float64Array.from(x, (v) => activationRef(kind, v, alpha));
          const xp = g.buf(n, x, offset);
          const yp = g.buf(n, undefined, offset);
          h.k.activation_forward(kind, yp, xp, n, alpha);
          expectClose(g.read(yp, n), want, RTOL, TINY, where);
          const ip = g.buf(n, x, offset);
          h.k.activation_forward(kind, ip, ip, n, alpha);
          expect(g.read(ip, n), `${where} in place`).toEqual(g.read(yp, n));
          expect(g.read(xp, n), `${where} x untouched`).toEqual(x);

          const dyp = g.buf(n, dy, offset);
          for (const accumulate of [0, 1]) {
            const dxp = g.buf(n, accumulate ? dx0 : undefined, offset);
            h.k.activation_backward(kind, dxp, dyp, xp, yp, n, alpha, accumulate);
            const got = g.read(dxp, n);
            for (let i = 0; i < n; i++) {
              const { d, scale } = activationGradRef(kind, x[i], alpha);
              const base = accumulate ? dx0[i] : 0;
              const tol = RTOL * (Math.abs(dy[i]) * scale + Math.abs(base)) + TINY;
              if (!(Math.abs(got[i] - (base + dy[i] * d)) <= tol)) expect.fail(`${where} accumulate ${accumulate} [${i}]: ${got[i]} vs ${base + dy[i] * d}`);
            }
          }
        });
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('an element gets the same bits in the SIMD body as alone in the scalar tail', () => {
    const x = grid().subarray(0, 400);
    const n = x.length;
    const h = harness(64);
    const xp = h.put(x);
    const dyp = h.put(randomArray(n, 5, -1, 1));
    const all = h.alloc(n);
    const one = h.alloc(n);
    run(KINDS, (name, kind, alpha) => {
      h.k.activation_forward(kind, all, xp, n, alpha);
      for (let i = 0; i < n; i++) h.k.activation_forward(kind, one + 4 * i, xp + 4 * i, 1, alpha);
      expect(h.read(one, n), `${name} forward`).toEqual(h.read(all, n));
      h.k.activation_backward(kind, all, dyp, xp, 0, n, alpha, 0);
      for (let i = 0; i < n; i++) h.k.activation_backward(kind, one + 4 * i, dyp + 4 * i, xp + 4 * i, 0, 1, alpha, 0);
      expect(h.read(one, n), `${name} backward`).toEqual(h.read(all, n));
    });
  });

  // exp-f32.ts clamps e^x's argument with pmax, and hard_sigmoid / hard_swish clamp x + 3 with
  // pmax and pmin, which must act as max and min: NaN kept, -Infinity and everything below the
  // exp clamp (-104) saturated, subnormals and -0 passed through, x + 3 at 0 and 6 exactly.
  it('the SIMD body and the scalar tail agree at the clamps and on special values', () => {
    const x = Float32Array.from([NaN, -Infinity, Infinity, -0, 0, -104, -103.99, -104.01, -150, -1e30, 1e-45, -1e-45, -1.2e-38, 88.7, -88.7, -87.4, 1e30,
      -3, 3, -3.0000002, -2.9999998, 2.9999998, 3.0000002]);
    const n = x.length;
    const h = harness(16);
    const xp = h.put(x);
    const all = h.alloc(n);
    const one = h.alloc(n);
    run(KINDS, (name, kind, alpha) => {
      h.k.activation_forward(kind, all, xp, n, alpha);
      for (let i = 0; i < n; i++) h.k.activation_forward(kind, one + 4 * i, xp + 4 * i, 1, alpha);
      const a = h.read(all, n), b = h.read(one, n);
      expect(Array.from(a).every((v, i) => Object.is(v, b[i])), `${name}: ${Array.from(a)} vs ${Array.from(b)}`).toBe(true);
      expect(Number.isNaN(a[0]), `${name}(NaN)`).toBe(true);
    });
    const y = (kind: number) => { h.k.activation_forward(kind, all, xp, n, 1); return h.read(all, n); };
    const sig = y(2);
    expect([sig[1], sig[8], sig[9]]).toEqual([0, 0, 0]); // sigmoid(-inf), (-150), (-1e30)
    expect(sig[2]).toBe(1);
    expect(sig[14]).toBeGreaterThan(0); // e^-88.7: a subnormal, not flushed
    expect(sig[14]).toBeLessThan(1.2e-38);
    const hs = y(12); // hard_swish
    expect([hs[17], hs[18]]).toEqual([-0, 3]);
    expect(Number.isNaN(hs[0]) && Number.isNaN(y(11)[0])).toBe(true);
  });

  it('NaN in, NaN out', () => {
    const h = harness(16);
    const xp = h.put([NaN, 1, NaN, -1, NaN]);
    const yp = h.alloc(5);
    const dxp = h.alloc(5);
    const dyp = h.put([1, 1, 1, 1, 1]);
    run(KINDS, (name, kind, alpha) => {
      h.k.activation_forward(kind, yp, xp, 5, alpha);
      const y = h.read(yp, 5);
      expect([y[0], y[2], y[4]].every(Number.isNaN), name).toBe(true);
      if (['linear', 'relu', 'leakyRelu', 'relu6', 'hardSigmoid'].includes(name)) return; // piecewise-constant f'
      h.k.activation_backward(kind, dxp, dyp, xp, yp, 5, alpha, 0);
      const dx = h.read(dxp, 5);
      expect([dx[0], dx[2], dx[4]].every(Number.isNaN), name).toBe(true);
    });
  });

  it('backward agrees with central differences of the f64 forward', () => {
    const h = harness(16);
    const pts = Float32Array.from([...randomArray(300, 21, -12, 12), ...randomArray(100, 22, -1.5, 1.5), 40, -40, 1e-3, -1e-3]);
    run(KINDS, (name, kind, alpha) => {
      const x = pts.filter((v) => activationKinks(kind).every((k) => Math.abs(v - k) > 1e-3));
      const n = x.length;
      const xp = h.put(x);
      const dyp = h.put(new Float32Array(n).fill(1));
      const dxp = h.alloc(n);
      h.k.activation_backward(kind, dxp, dyp, xp, 0, n, alpha, 0);
      const got = h.read(dxp, n);
      const fd = Float64Array.from(x, (xi) => {
        let v = xi;
        return centralDifference(() => activationRef(kind, v, alpha), () => v, (u) => { v = u; }, 1e-5 * Math.max(1, Math.abs(xi)));
      });
      const tol = Float64Array.from(x, (xi) => 1e-5 * activationGradRef(kind, xi, alpha).scale + 1e-9);
      expectClose(got, fd, 0, tol, `${name} alpha ${alpha}: dx vs finite differences`);
    });
  });
});
