// Whole-model optimizer checks.
// 1. Against TensorFlow.js (cpu backend, in this process) for the optimizers whose tfjs formula
//    equals Keras's (docs/numerics.md): sgd, sgd with momentum at a constant lr (tfjs keeps
//    a = mu*a + g and steps -lr*a; Keras v = mu*v - lr*g: the same sequence when lr is constant),
//    adagrad, rmsprop plain and with momentum (not centered: tfjs subtracts eps there), adamax.
//    Same 12-16-16-4 MLP (ReLU, softmax output, sparse categorical cross-entropy), same initial
//    weights, same 10 batches of 8 in order, 5 epochs = 50 steps. Tolerance rule: every weight w
//    of a tensor W satisfies |w - w_tfjs| <= 1e-5 * (|w_tfjs| + max|W_tfjs|), i.e. 1e-5 relative
//    to the weight, or to its tensor's largest weight for weights near zero (whose absolute
//    error is set by the rounding of their larger neighbours' dot products).
//    Adam is not compared with tfjs: tfjs puts epsilon after the bias correction (docs/numerics.md).
// 2. Step by step against the float64 reference (test/reference/optimizers.ts) for Adam, AdamW,
//    AMSGrad, Nadam, centered RMSprop (with and without momentum), and for clipping and weight
//    decay on several optimizers: at each step the gradients come from model.computeGradients,
//    the reference update is applied to a float64 copy of the current weights (the reference keeps
//    its own slots across steps), then model.trainOnBatch runs the real plan, and every weight
//    must match: |w - w_ref| <= 2^-22 |w_ref| (f32 rounding of the stored weight) + 1e-4 |step|
//    (the update itself to 1e-4 relative) + 1e-9.
import { describe, expect, it } from 'vitest';
import { layers, optimizers, sequential, tensor, type Model, type OptimizerConfig } from '../dist/node.js';
import { randomArray } from './support/harness';
import { type ReferenceSpec, ReferenceOptimizer, l2norm } from './reference/optimizers';
import { tf, tfjsCopy, tfjsWeights } from './tfjs';

const f = Math.fround;
const N = 80;
const BATCH = 8;
const FEATURES = 12;
const CLASSES = 4;

function data() {
  const x = randomArray(N * FEATURES, 4242, -1, 1);
  // Labels from a fixed random linear map of x, so there is something to learn.
  const map = randomArray(FEATURES * CLASSES, 77, -1, 1);
  const labels = new Int32Array(N).map((_, i) => {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      let v = 0;
      for (let k = 0; k < FEATURES; k++) v += x[i * FEATURES + k] * map[k * CLASSES + c];
      if (v > bestV) [best, bestV] = [c, v];
    }
    return best;
  });
  return { x, labels };
}

function mlp(): Model {
  return sequential([
    layers.dense(16, { activation: 'relu', inputShape: [FEATURES] }),
    layers.dense(16, { activation: 'relu' }),
    layers.dense(CLASSES, { activation: 'softmax' }),
  ]);
}

describe('50 training steps match TensorFlow.js', () => {
  const { x, labels } = data();
  const cases: { name: string; ours: OptimizerConfig; theirs: () => tf.Optimizer }[] = [
    { name: 'sgd', ours: optimizers.sgd({ learningRate: 0.1 }), theirs: () => tf.train.sgd(0.1) },
    { name: 'sgd momentum 0.9', ours: optimizers.sgd({ learningRate: 0.02, momentum: 0.9 }), theirs: () => tf.train.momentum(0.02, 0.9) },
    { name: 'adagrad', ours: optimizers.adagrad({ learningRate: 0.05 }), theirs: () => tf.train.adagrad(0.05, 0.1) },
    { name: 'rmsprop', ours: optimizers.rmsprop({ learningRate: 0.003 }), theirs: () => tf.train.rmsprop(0.003, 0.9, 0, 1e-7) },
    { name: 'rmsprop momentum 0.5', ours: optimizers.rmsprop({ learningRate: 0.002, momentum: 0.5 }), theirs: () => tf.train.rmsprop(0.002, 0.9, 0.5, 1e-7) },
    { name: 'adamax', ours: optimizers.adamax({ learningRate: 0.01 }), theirs: () => tf.train.adamax(0.01, 0.9, 0.999, 1e-7) },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const model = mlp();
      const ref = tfjsCopy(model);
      const initial = model.layers.map((l) => l.getWeights());
      model.compile({ optimizer: c.ours, loss: 'sparseCategoricalCrossentropy', batchSize: BATCH });
      ref.compile({ optimizer: c.theirs(), loss: 'sparseCategoricalCrossentropy' });
      const h = await model.fit(tensor(x, [N, FEATURES]), tensor(labels, [N]), { epochs: 5, batchSize: BATCH, shuffle: false });
      await ref.fit(tf.tensor(x, [N, FEATURES]), tf.tensor(Float32Array.from(labels), [N]), { epochs: 5, batchSize: BATCH, shuffle: false, verbose: 0 });
      expect(h.steps.loss).toHaveLength(50);
      const want = tfjsWeights(ref);
      let moved = 0;
      model.layers.forEach((l, i) => l.getWeights().forEach((w, j) => {
        const e = want[i][j];
        const scale = e.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        for (let k = 0; k < w.length; k++) {
          const tol = 1e-5 * (Math.abs(e[k]) + scale);
          if (!(Math.abs(w[k] - e[k]) <= tol)) expect.fail(`${c.name}: ${l.name} weight ${j}[${k}] = ${w[k]}, tfjs ${e[k]} (tolerance ${tol.toExponential(2)})`);
          moved = Math.max(moved, Math.abs(w[k] - initial[i][j][k]));
        }
      }));
      expect(moved, 'training moved the weights').toBeGreaterThan(0.01);
      expect(h.history.loss.at(-1)!).toBeLessThan(h.history.loss[0]);
    });
  }
});

// ---------------------------------------------------------------------------------------------

// The model's trainable weights in computeGradients' key order, as '<layer>/<weight>'.
function trainableKeys(model: Model): { key: string; layer: number; index: number }[] {
  const out: { key: string; layer: number; index: number }[] = [];
  model.layers.forEach((l, i) => l.weightSpecs.forEach((s, j) => { if (s.trainable && l.trainable) out.push({ key: `${l.name}/${s.name}`, layer: i, index: j }); }));
  return out;
}

describe('step by step against the float64 reference (computeGradients, reference update, trainOnBatch)', () => {
  const { x, labels } = data();
  const B1 = f(0.9);
  const B2 = f(0.999);
  const EPS = f(1e-7);
  const adam = { beta1: B1, beta2: B2, epsilon: EPS };
  const cases: { name: string; ours: OptimizerConfig; ref: ReferenceSpec; lr: number }[] = [
    { name: 'adam', ours: optimizers.adam({ learningRate: 0.01 }), ref: { kind: 'adam', ...adam, amsgrad: false }, lr: 0.01 },
    { name: 'adamw (default weight decay 0.004)', ours: optimizers.adamw({ learningRate: 0.01 }), ref: { kind: 'adam', ...adam, amsgrad: false, weightDecay: f(0.004) }, lr: 0.01 },
    { name: 'adam amsgrad', ours: optimizers.adam({ learningRate: 0.01, amsgrad: true }), ref: { kind: 'adam', ...adam, amsgrad: true }, lr: 0.01 },
    { name: 'nadam', ours: optimizers.nadam({ learningRate: 0.01 }), ref: { kind: 'nadam', ...adam }, lr: 0.01 },
    { name: 'rmsprop centered', ours: optimizers.rmsprop({ learningRate: 0.003, centered: true }), ref: { kind: 'rmsprop', rho: B1, momentum: 0, epsilon: EPS, centered: true }, lr: 0.003 },
    {
      name: 'rmsprop centered momentum 0.5', ours: optimizers.rmsprop({ learningRate: 0.002, centered: true, momentum: 0.5 }),
      ref: { kind: 'rmsprop', rho: B1, momentum: 0.5, epsilon: EPS, centered: true }, lr: 0.002,
    },
    // Clipping and weight decay through the real plan (thresholds below the gradient norms seen here).
    { name: 'sgd nesterov clipnorm 0.05', ours: optimizers.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 0.05 }), ref: { kind: 'sgd', momentum: B1, nesterov: true, clipnorm: f(0.05) }, lr: 0.1 },
    { name: 'adam globalClipnorm 0.1 + weight decay 0.01', ours: optimizers.adam({ learningRate: 0.01, globalClipnorm: 0.1, weightDecay: 0.01 }), ref: { kind: 'adam', ...adam, amsgrad: false, globalClipnorm: f(0.1), weightDecay: f(0.01) }, lr: 0.01 },
    { name: 'nadam clipvalue 0.01', ours: optimizers.nadam({ learningRate: 0.01, clipvalue: 0.01 }), ref: { kind: 'nadam', ...adam, clipvalue: f(0.01) }, lr: 0.01 },
    { name: 'adamax clipnorm 0.05 + weight decay 0.1', ours: optimizers.adamax({ learningRate: 0.01, clipnorm: 0.05, weightDecay: 0.1 }), ref: { kind: 'adamax', ...adam, clipnorm: f(0.05), weightDecay: f(0.1) }, lr: 0.01 },
    { name: 'adagrad globalClipnorm 0.1', ours: optimizers.adagrad({ learningRate: 0.05, globalClipnorm: 0.1 }), ref: { kind: 'adagrad', initialAccumulatorValue: f(0.1), epsilon: EPS, globalClipnorm: f(0.1) }, lr: 0.05 },
    { name: 'rmsprop momentum clipvalue 0.02 + weight decay 0.05', ours: optimizers.rmsprop({ learningRate: 0.003, momentum: 0.5, clipvalue: 0.02, weightDecay: 0.05 }), ref: { kind: 'rmsprop', rho: B1, momentum: 0.5, epsilon: EPS, centered: false, clipvalue: f(0.02), weightDecay: f(0.05) }, lr: 0.003 },
  ];

  for (const c of cases) {
    it(`${c.name}: 30 steps`, () => {
      const model = mlp();
      model.compile({ optimizer: c.ours, loss: 'sparseCategoricalCrossentropy', batchSize: BATCH });
      const keys = trainableKeys(model);
      const ref = new ReferenceOptimizer(c.ref, keys.map((k) => model.layers[k.layer].getWeights()[k.index].length));
      const clip = c.ref.clipnorm ?? c.ref.globalClipnorm ?? c.ref.clipvalue;
      let clipped = 0;
      for (let step = 0; step < 30; step++) {
        const b = step % (N / BATCH);
        const xb = tensor(x.slice(b * BATCH * FEATURES, (b + 1) * BATCH * FEATURES), [BATCH, FEATURES]);
        const yb = tensor(labels.slice(b * BATCH, (b + 1) * BATCH), [BATCH]);
        const grads = model.computeGradients(xb, yb).weights;
        const g = keys.map((k) => grads.get(k.key)!);
        expect(g.every((v) => v !== undefined), 'a gradient for every trainable weight').toBe(true);
        if (c.ref.clipnorm !== undefined && g.some((v) => l2norm(v) > clip!)) clipped++;
        if (c.ref.globalClipnorm !== undefined && Math.hypot(...g.map(l2norm)) > clip!) clipped++;
        if (c.ref.clipvalue !== undefined && g.some((v) => v.some((e) => Math.abs(e) > clip!))) clipped++;
        const before = keys.map((k) => Float64Array.from(model.layers[k.layer].getWeights()[k.index]));
        const want = before.map((w) => Float64Array.from(w));
        ref.step(want, g, f(c.lr));
        model.trainOnBatch(xb, yb);
        keys.forEach((k, i) => {
          const got = model.layers[k.layer].getWeights()[k.index];
          for (let e = 0; e < got.length; e++) {
            const tol = 2 ** -22 * Math.abs(want[i][e]) + 1e-4 * Math.abs(want[i][e] - before[i][e]) + 1e-9;
            if (!(Math.abs(got[e] - want[i][e]) <= tol)) {
              expect.fail(`${c.name} step ${step + 1}: ${k.key}[${e}] = ${got[e]}, reference ${want[i][e]} (before ${before[i][e]}, tolerance ${tol.toExponential(2)})`);
            }
          }
        });
      }
      if (clip !== undefined) expect(clipped, 'the clip threshold was active on most steps').toBeGreaterThan(20);
    });
  }
});
