// A training step that finds a non-finite loss or gradient changes nothing: NonFiniteError says
// "the weights are those from before this step", and that must hold for every weight, every
// non-trainable state tensor (BatchNormalization's moving statistics), every optimizer slot, the
// iteration count and so every prediction. Each case trains with an absurd learning rate until a
// step fails, snapshotting everything after each good step, and compares bit for bit.
import { describe, expect, it } from 'vitest';
import { layers, sequential, optimizers, regularizers, tensor, NonFiniteError, type Model, type Tensor } from '../dist/node.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

interface Snapshot {
  weights: number[][][]; slots: Map<string, number[]>; iterations: number; learningRate: number; header: number[]; predictions: number[];
}

// The optimizer's scalars as a checkpoint stores them, as bits (i32 iterations, f32 base learning
// rate, momentum and LR override, f64 Nadam product: their widths in the step header).
function optimizerHeader(s: { iterations: number; baseLearningRate: number; momentum: number; nadamUProduct: number; learningRateOverride: number }): number[] {
  const v = new DataView(new ArrayBuffer(24));
  v.setInt32(0, s.iterations, true);
  v.setFloat32(4, s.baseLearningRate, true);
  v.setFloat32(8, s.momentum, true);
  v.setFloat64(12, s.nadamUProduct, true);
  v.setFloat32(20, s.learningRateOverride, true);
  return [...new Uint8Array(v.buffer)];
}

function snapshot(m: Model, probe: Tensor): Snapshot {
  const slots = new Map<string, number[]>();
  const optimizer = m.optimizerSnapshot();
  for (const [k, v] of optimizer.slots) slots.set(k, bits(v));
  return {
    weights: m.layers.map((l) => l.getWeights().map(bits)),
    slots,
    iterations: m.iterations,
    learningRate: m.learningRate,
    header: optimizerHeader(optimizer),
    predictions: bits(m.predict(probe).data),
  };
}

function denseBnDense(withDropout: boolean): Model {
  return sequential([
    layers.dense(8, { inputShape: [6], name: 'd1' }),
    layers.batchNormalization({ name: 'bn' }),
    layers.activation('relu'),
    ...(withDropout ? [layers.dropout(0.25, { name: 'drop' })] : []),
    layers.dense(3, { activation: 'softmax', name: 'head' }),
  ]);
}

const N = 16;
const xs = tensor(Float32Array.from({ length: N * 6 }, (_, i) => Math.sin(i * 1.7) * 3), [N, 6]);
const ys = tensor(Int32Array.from({ length: N }, (_, i) => i % 3), [N]);
const probe = tensor(Float32Array.from({ length: 4 * 6 }, (_, i) => Math.cos(i * 0.9)), [4, 6]);

type OptimizerChoice = Parameters<Model['compile']>[0]['optimizer'];
const OPTIMIZERS: [string, (lr: number) => OptimizerChoice][] = [
  ['SGD', (lr) => optimizers.sgd({ learningRate: lr })],
  ['SGD momentum', (lr) => optimizers.sgd({ learningRate: lr, momentum: 0.9 })],
  ['Adam', (lr) => optimizers.adam({ learningRate: lr })],
  ['RMSprop', (lr) => optimizers.rmsprop({ learningRate: lr })],
  ['Nadam', (lr) => optimizers.nadam({ learningRate: lr })],
];

function expectUnchanged(m: Model, before: Snapshot): void {
  const after = snapshot(m, probe);
  m.layers.forEach((l, i) => before.weights[i].forEach((w, j) => {
    expect(after.weights[i][j], `${l.name} weight ${l.weightSpecs[j].name}`).toEqual(w);
  }));
  expect([...after.slots.keys()]).toEqual([...before.slots.keys()]);
  for (const [k, v] of before.slots) expect(after.slots.get(k), `slot ${k}`).toEqual(v);
  expect(after.iterations).toBe(before.iterations);
  expect(after.learningRate).toBe(before.learningRate);
  expect(after.header).toEqual(before.header);
  expect(after.predictions).toEqual(before.predictions);
}

// Trains with `fit`, snapshotting after every good step; returns the error and the last snapshot.
async function fitUntilFailure(m: Model, x: Tensor, y: Tensor, epochs: number): Promise<{ error: unknown; last: Snapshot }> {
  let last = snapshot(m, probe);
  const cb = { onBatchEnd: () => { last = snapshot(m, probe); } };
  const error = await m.fit(x, y, { epochs, batchSize: 4, shuffle: false, callbacks: [cb] }).catch((e) => e);
  return { error, last };
}

// d1's kernel made positive (every column sums to 3 or more), so that inputs of 3e38 overflow its
// output to Infinity: the loss of that batch is NaN, while sane inputs still predict finite values.
function overflowingFirstLayer(m: Model): void {
  const d1 = m.getLayer('d1');
  d1.setWeights([Float32Array.from({ length: 6 * 8 }, (_, i) => 0.5 + (i % 7) / 10), d1.getWeights()[1]]);
}
const huge = tensor(new Float32Array(N * 6).fill(3e38), [N, 6]);

const finite = (m: Model) => m.predict(probe).data.every(Number.isFinite);

describe('a failed training step leaves the model as it was', () => {
  for (const [name, optimizer] of OPTIMIZERS) {
    for (const dropout of name === 'SGD' ? [false, true] : [false]) {
      it(`non-finite loss after good steps, ${name}${dropout ? ', with dropout' : ''}: everything bit-identical, predictions finite`, async () => {
        const m = denseBnDense(dropout);
        m.compile({ optimizer: optimizer(0.05), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
        await m.fit(xs, ys, { epochs: 2, batchSize: 4, shuffle: false }); // the moving statistics move
        overflowingFirstLayer(m);
        const before = snapshot(m, probe);
        expect(finite(m)).toBe(true);
        const error = await m.fit(huge, ys, { epochs: 1, batchSize: 4, shuffle: false }).catch((e) => e);
        expect(error).toBeInstanceOf(NonFiniteError);
        expect((error as NonFiniteError).what).toBe('loss');
        expectUnchanged(m, before);
        expect(finite(m)).toBe(true);
        // It trains on from there: the next good step is step 9.
        await m.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false });
        expect(m.iterations).toBe(before.iterations + N / 4);
      });
    }
  }

  it('non-finite gradients (finite loss): everything bit-identical, predictions finite', async () => {
    // One d1 kernel entry of 1e37 under an L2 penalty of 100: batch normalization keeps the
    // activations and so the data loss finite (the penalty is summed in f64), but the penalty's
    // gradient 2*100*1e37 overflows f32, after the forward pass has seen the batch statistics.
    const m = sequential([
      layers.dense(8, { inputShape: [6], name: 'd1', kernelRegularizer: regularizers.l2(100) }),
      layers.batchNormalization({ name: 'bn' }), layers.activation('relu'), layers.dense(3, { activation: 'softmax', name: 'head' }),
    ]);
    m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    await m.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false });
    const [k, b] = m.getLayer('d1').getWeights();
    k[5] = 1e37;
    m.getLayer('d1').setWeights([k, b]);
    const before = snapshot(m, probe);
    expect(finite(m)).toBe(true);
    const error = await m.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false }).catch((e) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).what).toBe('gradients');
    expectUnchanged(m, before);
    expect(finite(m)).toBe(true);
  });

  for (const [name, optimizer] of OPTIMIZERS) {
    it(`learning rate 1e30, ${name}: the failing step changes nothing (the step before already broke the model)`, async () => {
      const m = denseBnDense(false);
      m.compile({ optimizer: optimizer(1e30), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
      const { error, last } = await fitUntilFailure(m, xs, ys, 20);
      expect(error).toBeInstanceOf(NonFiniteError);
      expect((error as NonFiniteError).step).toBe(last.iterations + 1);
      expect(last.iterations).toBeGreaterThan(0); // a step ran and moved the statistics first
      expectUnchanged(m, last);
      const [, , mm, mv] = m.getLayer('bn').getWeights();
      expect([...mm, ...mv].every(Number.isFinite)).toBe(true);
    });
  }

  it('trainOnBatch: the failing call leaves everything bit-identical', () => {
    const m = denseBnDense(false);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    const batch = tensor(xs.data.slice(0, 4 * 6), [4, 6]);
    overflowingFirstLayer(m);
    const labels = tensor(Int32Array.from([0, 1, 2, 0]), [4]);
    let failed: unknown = null;
    for (let i = 0; i < 20 && !failed; i++) {
      const before = snapshot(m, probe);
      try {
        m.trainOnBatch(i < 3 ? batch : tensor(huge.data.slice(0, 4 * 6), [4, 6]), labels);
      } catch (e) {
        failed = e;
        expectUnchanged(m, before);
        expect(finite(m)).toBe(true);
      }
    }
    expect(failed).toBeInstanceOf(NonFiniteError);
    expect(m.iterations).toBe(3);
  });

  it('the moving statistics still follow Keras after good steps (committed once per step)', () => {
    // One SGD step at learning rate 0 (weights fixed): moving_mean = mm*0.99 + mean*(1-0.99) with the
    // batch mean of d1's output, moving_variance likewise with the biased batch variance.
    const m = denseBnDense(false);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1e-30 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    const [k, b] = m.getLayer('d1').getWeights();
    const x = xs.data.slice(0, 4 * 6);
    const h = Array.from({ length: 4 }, (_, r) => Array.from({ length: 8 }, (_, j) => {
      let s = b[j];
      for (let i = 0; i < 6; i++) s += x[r * 6 + i] * k[i * 8 + j];
      return s;
    }));
    m.trainOnBatch(tensor(x, [4, 6]), tensor(Int32Array.from([0, 1, 2, 0]), [4]));
    const [, , mm, mv] = m.getLayer('bn').getWeights();
    for (let j = 0; j < 8; j++) {
      const mean = h.reduce((s, r) => s + r[j], 0) / 4;
      const variance = h.reduce((s, r) => s + (r[j] - mean) ** 2, 0) / 4;
      expect(mm[j]).toBeCloseTo(mean * 0.01, 5);
      expect(mv[j]).toBeCloseTo(0.99 + variance * 0.01, 5);
    }
  });
});
