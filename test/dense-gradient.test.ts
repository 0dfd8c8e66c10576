// End-to-end gradient check of one dense layer, composed from the raw kernels exactly as a plan runs it:
//   z (B,N) = x (B,K) . W (K,N) + b (N);  a = relu(z);  loss = mean_i xent(softmax(a_i), label_i)
// Backward: da from softmax_xent_sparse (scale 1/B), dz = relu_backward, dW = x^T.dz, db = column sums
// of dz, dx = dz.W^T. Each gradient is compared with central finite differences of the loss computed
// in f64 by a naive forward in TypeScript. Odd sizes (B 3, K 7, N 5) keep every tail path in play.
import { describe, expect, it } from 'vitest';
import { gemmScratchBytes } from '../host/compile/gemm-scratch';
import { harness, randomArray } from './support/harness';
import { expectClose } from './support/close';
import { numericGradient } from './support/finite-diff';

const B = 3;
const K = 7;
const N = 5;
const H = 1e-3; // finite-difference step
// No pre-activation may come closer to the ReLU kink than this: a step of H moves z by at most
// H * max(|x|, |W|, 1) = 1e-3, so every perturbed forward stays on the same side of 0.
const KINK_MARGIN = 2e-2;

// Naive f64 forward: mean sparse softmax cross-entropy of relu(x.W + b).
function lossRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, labels: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < B; i++) {
    const a: number[] = [];
    for (let j = 0; j < N; j++) {
      let z = b[j];
      for (let p = 0; p < K; p++) z += x[i * K + p] * w[p * N + j];
      a.push(Math.max(z, 0));
    }
    const mx = Math.max(...a);
    const lse = mx + Math.log(a.reduce((s, v) => s + Math.exp(v - mx), 0));
    total += lse - a[labels[i]];
  }
  return total / B;
}

function preActivations(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const z: number[] = [];
  for (let i = 0; i < B; i++) {
    for (let j = 0; j < N; j++) {
      let s = b[j];
      for (let p = 0; p < K; p++) s += x[i * K + p] * w[p * N + j];
      z.push(s);
    }
  }
  return z;
}

// Deterministic inputs with every pre-activation clear of the kink, and both ReLU branches present.
function inputs(): { x: Float32Array; w: Float32Array; b: Float32Array; labels: Int32Array } {
  for (let seed = 1; seed < 1000; seed++) {
    const x = randomArray(B * K, 1000 + seed, -1, 1);
    const w = randomArray(K * N, 2000 + seed, -0.8, 0.8);
    const b = randomArray(N, 3000 + seed, -0.2, 0.3);
    const z = preActivations(x, w, b);
    const positive = z.filter((v) => v > 0).length;
    if (z.every((v) => Math.abs(v) > KINK_MARGIN) && positive >= 5 && positive <= B * N - 4) {
      return { x, w, b, labels: Int32Array.from([1, 4, 0]) };
    }
  }
  throw new Error('no seed gives pre-activations clear of the ReLU kink');
}

describe('dense layer + relu + sparse softmax cross-entropy, from raw kernels', () => {
  it('dW, db and dx match central finite differences of the f64 loss', () => {
    const h = harness();
    const { k } = h;
    const { x, w, b, labels } = inputs();
    const xp = h.put(x);
    const wp = h.put(w);
    const bp = h.put(b);
    const lp = h.putI32(labels);
    const z = h.alloc(B * N);
    const a = h.alloc(B * N);
    const da = h.alloc(B * N);
    const dz = h.alloc(B * N);
    const dW = h.alloc(K * N);
    const db = h.alloc(N);
    const dx = h.alloc(B * K);
    const lossSlot = h.alloc(2, 0);
    const packBytes = Math.max(gemmScratchBytes(B, N, K), gemmScratchBytes(K, N, B), gemmScratchBytes(B, K, N));
    const pack = h.alloc(packBytes / 4);

    // Forward.
    k.bias_fill(z, bp, B, N);
    k.gemm_f32(z, xp, wp, B, N, K, K, 1, N, 1, N, 1, pack);
    k.relu_forward(a, z, B * N);
    k.softmax_xent_sparse(lossSlot, da, a, lp, B, N, Math.fround(1 / B));
    // Backward.
    k.relu_backward(dz, da, a, B * N, 0);
    k.gemm_f32(dW, xp, dz, K, N, B, 1, K, N, 1, N, 0, pack);
    k.bias_backward(db, dz, B, N, 0);
    k.gemm_f32(dx, dz, wp, B, K, N, N, 1, 1, N, K, 0, pack);

    const loss = new Float64Array(h.memory.buffer, lossSlot, 1)[0] / B;
    expect(Math.abs(loss - lossRef(x, w, b, labels))).toBeLessThan(1e-6);

    const rtol = 1e-3;
    const atol = 1e-5;
    const fdW = numericGradient((v) => lossRef(x, v, b, labels), w, H);
    const fdb = numericGradient((v) => lossRef(x, w, v, labels), b, H);
    const fdx = numericGradient((v) => lossRef(v, w, b, labels), x, H);
    const report = (name: string, got: Float32Array, want: Float64Array) => expectClose(got, want, rtol, atol, `${name} vs finite differences`);
    report('dW', h.read(dW, K * N), fdW);
    report('db', h.read(db, N), fdb);
    report('dx', h.read(dx, B * K), fdx);
    // The gradients are not trivially zero: some of every kind carries signal.
    expect(Array.from(h.read(dW, K * N)).filter((v) => Math.abs(v) > 1e-3).length).toBeGreaterThan(K);
    expect(Array.from(h.read(dx, B * K)).filter((v) => Math.abs(v) > 1e-3).length).toBeGreaterThan(B);
    expect(h.brokenGuards()).toEqual([]);
  });
});
