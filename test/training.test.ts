// End-to-end training against TensorFlow.js run in the same test: same initial weights, same
// batches, and the weights must agree after many steps. Where the reference sheet says tfjs
// differs from Keras (Adam's epsilon), tfjs supplies only the gradients and the Keras update
// rule is applied in plain TypeScript.
import { describe, expect, it } from 'vitest';
import { layers, sequential, optimizers, tensor, setSeed, KernelStatusError, NonFiniteError, type Model } from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';
import { tf, tfjsCopy, tfjsWeights } from './tfjs';

function data(n: number, features: number, classes: number, seed: number) {
  const x = randomArray(n * features, seed, 0, 1);
  const labels = new Int32Array(n).map((_, i) => (i * 7 + seed) % classes);
  return { x: tensor(x, [n, features]), y: tensor(labels, [n]), labels };
}

function smallModel(): Model {
  return sequential([
    layers.dense(10, { activation: 'relu', inputShape: [12] }),
    layers.dense(7, { activation: 'relu' }),
    layers.dense(4, { activation: 'softmax' }),
  ]);
}

function expectWeightsClose(model: Model, expected: Float32Array[][], rtol: number, atol: number) {
  model.layers.forEach((l, i) => l.getWeights().forEach((w, j) => {
    expectClose(w, expected[i][j], rtol, atol, `${l.name} weight ${j}`);
  }));
}

describe('training matches TensorFlow.js', () => {
  it('SGD: 15 steps of a 12-10-7-4 MLP, batch 8, sparse labels', async () => {
    const model = smallModel();
    const ref = tfjsCopy(model);
    const { x, y, labels } = data(40, 12, 4, 3);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 8 });
    ref.compile({ optimizer: tf.train.sgd(0.1), loss: 'sparseCategoricalCrossentropy' });
    const h = await model.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false });
    const rh = await ref.fit(tf.tensor(x.data, x.shape), tf.tensor(Float32Array.from(labels), [40]), { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expectWeightsClose(model, tfjsWeights(ref), 1e-4, 1e-6);
    h.history.loss.forEach((l, i) => expect(l).toBeCloseTo(rh.history.loss[i] as number, 5));
    expect(model.iterations).toBe(15);
  });

  it('predict and evaluate agree with tfjs for batch sizes that do not divide the plan batch', async () => {
    const model = smallModel();
    const ref = tfjsCopy(model);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 32 });
    for (const n of [1, 7, 70]) {
      const { x, y, labels } = data(n, 12, 4, n);
      const ours = model.predict(x, { batchSize: 32 });
      const theirs = (ref.predict(tf.tensor(x.data, x.shape)) as tf.Tensor).dataSync();
      expect(ours.shape).toEqual([n, 4]);
      expectClose(ours.data, theirs, 1e-5, 1e-7, 'predictions');
      const ev = model.evaluate(x, y);
      const p = Array.from(theirs);
      let ce = 0;
      let hits = 0;
      for (let i = 0; i < n; i++) {
        const row = p.slice(i * 4, i * 4 + 4);
        ce -= Math.log(row[labels[i]]);
        if (row.indexOf(Math.max(...row)) === labels[i]) hits++;
      }
      expect(ev.loss).toBeCloseTo(ce / n, 5);
      expect(ev.accuracy).toBeCloseTo(hits / n, 10);
    }
  });

  it('Adam (Keras formula, epsilon outside the bias correction) over tfjs gradients, 12 steps', async () => {
    const model = smallModel();
    const ref = tfjsCopy(model);
    const { x, labels } = data(24, 12, 4, 5);
    const lr = 0.01;
    const b1 = 0.9;
    const b2 = 0.999;
    const eps = 1e-7;
    model.compile({ optimizer: optimizers.adam({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy', batchSize: 6 });
    await model.fit(x, tensor(labels, [24]), { epochs: 3, batchSize: 6, shuffle: false });
    // Reference: Keras Adam in f64 on gradients from tfjs.
    const vars = ref.trainableWeights.map((w) => w.read() as tf.Variable);
    const values = vars.map((v) => Float64Array.from(v.dataSync()));
    const m = values.map((v) => new Float64Array(v.length));
    const v2 = values.map((v) => new Float64Array(v.length));
    let t = 0;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let s = 0; s < 24; s += 6) {
        t++;
        const xb = tf.tensor(x.data.slice(s * 12, (s + 6) * 12), [6, 12]);
        const yb = tf.oneHot(tf.tensor1d(labels.slice(s, s + 6), 'int32'), 4);
        const { grads } = tf.variableGrads(() => {
          const probs = ref.apply(xb) as tf.Tensor2D;
          return tf.neg(tf.mean(tf.sum(tf.mul(yb, tf.log(probs)), 1))) as tf.Scalar;
        }, vars);
        vars.forEach((variable, i) => {
          const g = grads[variable.name].dataSync();
          const alpha = lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
          for (let j = 0; j < g.length; j++) {
            m[i][j] += (g[j] - m[i][j]) * (1 - b1);
            v2[i][j] += (g[j] * g[j] - v2[i][j]) * (1 - b2);
            values[i][j] -= (alpha * m[i][j]) / (Math.sqrt(v2[i][j]) + eps);
          }
          variable.assign(tf.tensor(Float32Array.from(values[i]), variable.shape));
        });
      }
    }
    expectWeightsClose(model, tfjsWeights(ref), 1e-4, 1e-5);
  });

  it('one-hot targets with categoricalCrossentropy match sparse labels with sparseCategoricalCrossentropy', async () => {
    setSeed(11);
    const a = smallModel();
    const b = smallModel();
    b.layers.forEach((l, i) => l.setWeights(a.layers[i].getWeights()));
    const { x, y, labels } = data(16, 12, 4, 9);
    const onehot = new Float32Array(16 * 4);
    labels.forEach((l, i) => { onehot[i * 4 + l] = 1; });
    a.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    b.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', batchSize: 4 });
    await a.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false });
    await b.fit(x, tensor(onehot, [16, 4]), { epochs: 2, batchSize: 4, shuffle: false });
    a.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expectClose(w, b.layers[i].getWeights()[j], 1e-6, 1e-7, `${l.name} weight ${j}`)));
  });
});

describe('freezing and fine-tuning', () => {
  it('frozen weights are bit-identical after fine-tuning; the head matches tfjs training with the same layers frozen', async () => {
    const model = smallModel();
    model.layers[0].trainable = false;
    model.layers[1].trainable = false;
    const before = model.layers.map((l) => l.getWeights());
    const ref = tfjsCopy(model);
    const { x, y, labels } = data(32, 12, 4, 13);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.2 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    ref.compile({ optimizer: tf.train.sgd(0.2), loss: 'sparseCategoricalCrossentropy' });
    await model.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false });
    await ref.fit(tf.tensor(x.data, x.shape), tf.tensor(Float32Array.from(labels), [32]), { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    for (const i of [0, 1]) model.layers[i].getWeights().forEach((w, j) => expect(w).toEqual(before[i][j]));
    expect(model.layers[2].getWeights()[0]).not.toEqual(before[2][0]);
    expectWeightsClose(model, tfjsWeights(ref), 1e-4, 1e-6);
  });

  it('unfreezing after compile re-plans and keeps training the now-trainable layer', async () => {
    const model = smallModel();
    model.layers[0].trainable = false;
    const { x, y } = data(16, 12, 4, 2);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    const frozenBytes = model.plan.totalBytes;
    await model.fit(x, y, { epochs: 1, batchSize: 8 });
    const w0 = model.layers[0].getWeights()[0];
    model.layers[0].trainable = true;
    await model.fit(x, y, { epochs: 1, batchSize: 8 });
    expect(model.plan.totalBytes).toBeGreaterThan(frozenBytes);
    expect(model.layers[0].getWeights()[0]).not.toEqual(w0);
  });
});

describe('reproducibility and failure', () => {
  it('the same seed gives the same weights twice, bit for bit', async () => {
    const run = async () => {
      setSeed(42);
      const m = smallModel();
      const { x, y } = data(50, 12, 4, 1);
      m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 16 });
      await m.fit(x, y, { epochs: 2, batchSize: 16, seed: 7 });
      return m.layers.flatMap((l) => l.getWeights());
    };
    expect(await run()).toEqual(await run());
  });

  it('a non-finite loss stops fit with a typed error and leaves the weights as they were before that step', async () => {
    const model = smallModel();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    const good = data(8, 12, 4, 4);
    await model.fit(good.x, good.y, { epochs: 1, batchSize: 4, shuffle: false });
    const before = model.layers.map((l) => l.getWeights());
    const iterations = model.iterations;
    const bad = tensor(new Float32Array(8 * 12).fill(3e38), [8, 12]);
    let error: unknown;
    try {
      await model.fit(bad, good.y, { epochs: 1, batchSize: 4, shuffle: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).message).toMatch(/epoch 1, batch 1/);
    model.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expect(w).toEqual(before[i][j])));
    expect(model.iterations).toBe(iterations);
  });

  it('an opcode the kernels do not know stops the step with a KernelStatusError naming the status, program and op', async () => {
    const model = smallModel();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    const good = data(8, 12, 4, 4);
    const exec = model.trainingExecutor(4);
    const train = exec.plan.programs.train!;
    const at = 2; // the third op of the train program gets an opcode no build has
    let word = exec.plan.regions[train.region].offset / 4;
    for (let i = 0; i < at; i++) word += 2 + exec.i32[word + 1]; // [opcode, nargs, args...]
    exec.i32[word] = 0x7fff;
    let error: unknown;
    try {
      await model.fit(good.x, good.y, { epochs: 1, batchSize: 4, shuffle: false });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelStatusError);
    const e = error as KernelStatusError;
    expect([e.program, e.status, e.op, e.opName]).toEqual(['train', -(at + 1), at, train.ops[at].op]);
    expect(e.message).toMatch(/program 'train' stopped with status -3 at op 2 .*an opcode this kernel build does not know/);
  });
});
