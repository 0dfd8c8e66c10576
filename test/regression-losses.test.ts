// meanSquaredError and binaryCrossentropy (from logits and from probabilities): the wasm kernels
// against the formulas of the reference sheet in f64 (and finite differences of them), and a model's
// loss and weight gradients against TensorFlow.js computing the same loss.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, layers, optimizers, sequential, setSeed, tensor, verifyPlan } from '../dist/node.js';
import { harness, randomArray } from './support/harness';
import { expectClose } from './support/close';
import { numericGradient } from './support/finite-diff';
import { tf, tfl } from './tfjs';

// Keras clips in float32: [1e-7, 1 - 1e-7] as f32 values.
const LO = Math.fround(1e-7);
const HI = Math.fround(1 - 1e-7);
type Kind = 'mse' | 'bce_logits' | 'bce_probs';
// Mean over all m*n values (as Keras's mean over the last axis, then over rows).
function lossRef(kind: Kind, p: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const x = p[i], z = y[i];
    if (kind === 'mse') s += (x - z) ** 2;
    else if (kind === 'bce_logits') s += Math.max(x, 0) - x * z + Math.log1p(Math.exp(-Math.abs(x)));
    else { const c = Math.min(Math.max(x, LO), HI); s -= z * Math.log(c) + (1 - z) * Math.log(1 - c); }
  }
  return s / p.length;
}

const KERNEL: Record<Kind, string> = { mse: 'mse_loss', bce_logits: 'bce_logits_loss', bce_probs: 'bce_probs_loss' };

describe('regression and binary loss kernels', () => {
  for (const kind of ['mse', 'bce_logits', 'bce_probs'] as Kind[]) {
    it(`${kind}: loss and gradient match the formula and finite differences`, () => {
      for (const [m, n] of [[1, 1], [3, 5], [8, 17]]) {
        const h = harness(16);
        const p = kind === 'bce_probs' ? randomArray(m * n, m * 31 + n, 0.02, 0.98) : randomArray(m * n, m * 31 + n, -3, 3);
        const y = kind === 'mse' ? randomArray(m * n, n * 7 + m, -1, 1) : randomArray(m * n, n * 7 + m, 0, 1);
        const slot = h.alloc(2, 0);
        new Float64Array(h.memory.buffer, slot, 1)[0] = 0.25;
        const dx = h.alloc(m * n); // NaN-filled
        const scale = Math.fround(1 / m);
        // rows (m) of n values, one row per sample: norm = n
        h.k[KERNEL[kind]](slot, dx, h.put(p), h.put(y), m, n, n, scale);
        const got = new Float64Array(h.memory.buffer, slot, 1)[0] - 0.25;
        expect(Math.abs(got / m - lossRef(kind, p, y))).toBeLessThan(1e-6);
        const g = h.read(dx, m * n);
        const numeric = numericGradient((x64) => lossRef(kind, x64, y), p, 1e-4);
        expectClose(g, numeric, 1e-3, 1e-6, 'gradient vs finite differences');
        // no gradient wanted: dx = 0 writes nothing, the loss is still added
        const slot2 = h.alloc(2, 0);
        new Float64Array(h.memory.buffer, slot2, 1)[0] = 0;
        h.k[KERNEL[kind]](slot2, 0, h.put(p), h.put(y), m, n, n, scale);
        expect(new Float64Array(h.memory.buffer, slot2, 1)[0]).toBeCloseTo(got, 6);
      }
    });
  }
  it('bce from probabilities clips to [1e-7, 1 - 1e-7]: finite loss, zero gradient at the bounds', () => {
    const h = harness(16);
    const p = [0, 1, 1e-9, 0.5];
    const y = [1, 0, 1, 1];
    const slot = h.alloc(2, 0);
    new Float64Array(h.memory.buffer, slot, 1)[0] = 0;
    const dx = h.alloc(4);
    h.k.bce_probs_loss(slot, dx, h.put(p), h.put(y), 1, 4, 4, 1);
    expect(new Float64Array(h.memory.buffer, slot, 1)[0]).toBeCloseTo(lossRef('bce_probs', Float32Array.from(p), y), 5);
    expect(Array.from(h.read(dx, 3))).toEqual([0, 0, 0]);
  });
});

describe('models with meanSquaredError / binaryCrossentropy agree with TensorFlow.js', () => {
  const cases: [string, Record<string, unknown>, string | null][] = [
    ['meanSquaredError', { className: 'meanSquaredError' }, 'sigmoid'],
    ['binaryCrossentropy (probabilities)', { className: 'binaryCrossentropy' }, 'sigmoid'],
    ['binaryCrossentropy (logits)', { className: 'binaryCrossentropy', fromLogits: true }, null],
  ];
  for (const [name, loss, activation] of cases) {
    it(name, () => {
      setSeed(21);
      const n = 6;
      const model = sequential([layers.dense(4, { activation: 'tanh', inputShape: [7] }), layers.dense(5, { activation })]);
      model.compile({ optimizer: optimizers.sgd(), loss });
      const x = randomArray(n * 7, 2);
      const y = randomArray(n * 5, 3, 0, 1);
      const ours = model.computeGradients(tensor(x, [n, 7]), tensor(y, [n, 5]));
      const [w1, b1] = model.layers[0].getWeights();
      const [w2, b2] = model.layers[1].getWeights();
      const vars = [tf.variable(tf.tensor2d(w1, [7, 4])), tf.variable(tf.tensor1d(b1)), tf.variable(tf.tensor2d(w2, [4, 5])), tf.variable(tf.tensor1d(b2))];
      const xt = tf.tensor2d(x, [n, 7]);
      const yt = tf.tensor2d(y, [n, 5]);
      const { value, grads } = tf.variableGrads(() => {
        const z = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(xt, vars[0]), vars[1])), vars[2]), vars[3]);
        if (loss.className === 'meanSquaredError') return tf.losses.meanSquaredError(yt, tf.sigmoid(z)) as tf.Scalar;
        if (loss.fromLogits) return tf.losses.sigmoidCrossEntropy(yt, z) as tf.Scalar;
        return tf.mean(tfl.metrics.binaryCrossentropy(yt, tf.sigmoid(z))) as tf.Scalar;
      }, vars);
      expect(Math.abs(ours.loss - value.dataSync()[0])).toBeLessThan(1e-5);
      expect(() => verifyPlan(model.plan)).not.toThrow(); // the new loss ops stay inside their regions
      const names = ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias'].map((s, i) => [model.layers[i >> 1].name + s.slice(s.indexOf('/')), i] as const);
      for (const [key, i] of names) {
        expectClose(ours.weights.get(key)!, grads[vars[i].name].dataSync() as Float32Array, 1e-4, 1e-6, key);
      }
    });
  }
  it('accuracy needs a categorical loss; targets must match the output', () => {
    const model = sequential([layers.dense(3, { inputShape: [2] })]);
    expect(() => model.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['accuracy'] })).toThrow(InvalidArgumentError);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(() => model.evaluate(tensor(new Float32Array(4), [2, 2]), tensor(new Float32Array(4), [2, 2]))).toThrow(/do not match the output \[2, 3\]/);
  });
});
