// Keras sample_weight and class_weight: each sample's loss (and gradient) times its weight, the loss
// still a mean over the batch size. Oracles: TensorFlow.js model.fit({classWeight}) (tfjs-layers
// has class weights, not sample weights), and for sample weights a TF.js training loop that
// minimizes mean(w * per-sample loss) with the same SGD; the weighted loss of evaluate against the
// formula in f64; accuracy unweighted; bad weights refused with typed errors.
import { describe, expect, it } from 'vitest';
import {
  input, InvalidArgumentError, layers, model, optimizers, sequential, setSeed, ShapeError, type Model, type Prediction, type Tensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';
import { tf, tfjsCopy } from './tfjs';

const N = 10;
const BATCH = 4; // 10 samples: batches of 4, 4 and 2
const LR = 0.1;
const LO = Math.fround(1e-7);
const HI = Math.fround(1 - 1e-7);

type Case = 'sparse_softmax' | 'categorical_logits' | 'categorical_probs' | 'mse' | 'bce_logits' | 'bce_probs';
interface Setup { units: number; activation: 'softmax' | 'sigmoid' | 'linear'; loss: object | string; sparse: boolean; binary: boolean }
const CASES: Record<Case, Setup> = {
  sparse_softmax: { units: 3, activation: 'softmax', loss: 'sparseCategoricalCrossentropy', sparse: true, binary: false },
  categorical_logits: { units: 3, activation: 'linear', loss: { className: 'categoricalCrossentropy', fromLogits: true }, sparse: false, binary: false },
  categorical_probs: { units: 3, activation: 'sigmoid', loss: 'categoricalCrossentropy', sparse: false, binary: false },
  mse: { units: 2, activation: 'linear', loss: 'meanSquaredError', sparse: false, binary: false },
  bce_logits: { units: 2, activation: 'linear', loss: { className: 'binaryCrossentropy', fromLogits: true }, sparse: false, binary: true },
  bce_probs: { units: 2, activation: 'sigmoid', loss: 'binaryCrossentropy', sparse: false, binary: true },
};

function net(s: Setup): Model {
  setSeed(5);
  const m = sequential([layers.dense(6, { activation: 'relu', inputShape: [4] }), layers.dense(s.units, { activation: s.activation })]);
  m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: s.loss as 'meanSquaredError' });
  return m;
}

function data(s: Setup): { x: Tensor; y: Tensor; yDense: Float32Array } {
  const x = { data: randomArray(N * 4, 21, -1, 1), shape: [N, 4] };
  const classes = Array.from({ length: N }, (_, i) => (i * 7) % s.units);
  const yDense = new Float32Array(N * s.units);
  if (s.sparse || !s.binary && s.loss !== 'meanSquaredError') classes.forEach((c, i) => { yDense[i * s.units + c] = 1; });
  else yDense.set(s.binary ? randomArray(N * s.units, 33, 0, 1).map(Math.round) : randomArray(N * s.units, 33, -1, 1));
  const y = s.sparse ? { data: Int32Array.from(classes), shape: [N] } : { data: yDense, shape: [N, s.units] };
  return { x, y, yDense };
}

// The per-sample loss of a batch in TF.js, from the model's output (probabilities for a softmax
// or sigmoid output, else the raw values).
function perSampleLoss(c: Case, out: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (c === 'sparse_softmax' || c === 'categorical_probs') return tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(out, LO, HI))), -1));
  if (c === 'categorical_logits') return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(out)), -1));
  if (c === 'mse') return tf.mean(tf.square(tf.sub(out, y)), -1);
  if (c === 'bce_logits') return tf.mean(tf.add(tf.sub(tf.relu(out), tf.mul(out, y)), tf.log1p(tf.exp(tf.neg(tf.abs(out))))), -1);
  const p = tf.clipByValue(out, LO, HI);
  return tf.mean(tf.neg(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p))))), -1);
}

// TF.js: SGD steps on mean over the batch of w * loss, in order (no shuffling), as Keras.
function tfjsWeightedTraining(c: Case, m: Model, x: Tensor, yDense: Float32Array, w: Float32Array, epochs: number): { weights: Float32Array[]; losses: number[] } {
  const t = tfjsCopy(m);
  const opt = tf.train.sgd(LR);
  const losses: number[] = [];
  const units = CASES[c].units;
  for (let e = 0; e < epochs; e++) {
    for (let start = 0; start < N; start += BATCH) {
      const count = Math.min(BATCH, N - start);
      const xb = tf.tensor(x.data.slice(start * 4, (start + count) * 4), [count, 4]);
      const yb = tf.tensor(yDense.slice(start * units, (start + count) * units), [count, units]);
      const wb = tf.tensor(w.slice(start, start + count), [count]);
      const loss = opt.minimize(() => tf.div(tf.sum(tf.mul(wb, perSampleLoss(c, t.apply(xb) as tf.Tensor, yb))), count) as tf.Scalar, true)!;
      losses.push(loss.dataSync()[0]);
    }
  }
  return { weights: t.layers.flatMap((l) => l.getWeights().map((v) => v.dataSync() as Float32Array)), losses };
}

const weightsOf = (m: Model) => m.layers.flatMap((l) => l.getWeights());

describe('fit with sampleWeight matches TF.js minimizing the weighted mean loss', () => {
  for (const c of Object.keys(CASES) as Case[]) {
    it(c, async () => {
      const s = CASES[c];
      const m = net(s);
      const { x, y, yDense } = data(s);
      const w = randomArray(N, 77, 0, 2);
      w[3] = 0; // a sample that does not count at all
      const expected = tfjsWeightedTraining(c, m, x, yDense, w, 2);
      const h = await m.fit(x, y, { sampleWeight: w, epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
      expectClose(h.steps.loss, expected.losses, 1e-5, 1e-6, `${c}: step losses`);
      weightsOf(m).forEach((v, i) => expectClose(v, expected.weights[i], 1e-5, 1e-6, `${c}: weight ${i} after 6 steps`));
      // the epoch loss is the mean over samples of w * loss (sum over batches / n), not / sum(w)
      expect(h.history.loss[0]).toBeCloseTo((expected.losses[0] * 4 + expected.losses[1] * 4 + expected.losses[2] * 2) / N, 5);
    });
  }

  it('weights of one train exactly as no weights; a number array and a tensor are the same weights', async () => {
    const s = CASES.sparse_softmax;
    const { x, y } = data(s);
    const plain = net(s);
    await plain.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
    const ones = net(s);
    await ones.fit(x, y, { sampleWeight: new Float32Array(N).fill(1), epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
    weightsOf(ones).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(weightsOf(plain)[i])));
    const w = randomArray(N, 9, 0, 3);
    const a = net(s);
    await a.fit(x, y, { sampleWeight: Array.from(w), epochs: 1, batchSize: BATCH, verbose: 0, seed: 1 });
    const b = net(s);
    await b.fit(x, y, { sampleWeight: { data: w, shape: [N, 1] }, epochs: 1, batchSize: BATCH, verbose: 0, seed: 1 });
    weightsOf(a).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(weightsOf(b)[i])));
  });
});

describe('classWeight', () => {
  it('sparse and one-hot labels: loss and weights as TF.js model.fit({classWeight})', async () => {
    for (const sparse of [true, false]) {
      const s = { ...CASES.sparse_softmax, sparse, loss: sparse ? 'sparseCategoricalCrossentropy' : 'categoricalCrossentropy' };
      const m = net(s);
      const { x, y, yDense } = data(s);
      const t = tfjsCopy(m);
      t.compile({ optimizer: tf.train.sgd(LR), loss: 'categoricalCrossentropy' });
      const classWeight = { 0: 0.5, 1: 3, 2: 1.5 };
      const th = await t.fit(tf.tensor(x.data, x.shape), tf.tensor(yDense, [N, 3]), { classWeight, epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
      const h = await m.fit(x, y, { classWeight, epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
      expectClose(h.history.loss, th.history.loss as number[], 1e-5, 1e-6, `${sparse ? 'sparse' : 'one-hot'}: epoch losses`);
      const expected = t.layers.flatMap((l) => l.getWeights().map((v) => v.dataSync()));
      weightsOf(m).forEach((v, i) => expectClose(v, expected[i], 1e-5, 1e-6, `weight ${i}`));
    }
  });

  it('multiplies sampleWeight; a class without an entry weighs 1 (Keras 3)', async () => {
    const s = CASES.sparse_softmax;
    const { x, y } = data(s);
    const labels = y.data as Int32Array;
    const sw = randomArray(N, 4, 0.5, 2);
    const both = net(s);
    await both.fit(x, y, { sampleWeight: sw, classWeight: { 1: 4 }, epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    const product = net(s);
    await product.fit(x, y, { sampleWeight: sw.map((v, i) => Math.fround(v * (labels[i] === 1 ? 4 : 1))), epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    weightsOf(both).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(weightsOf(product)[i])));
  });

  it('binary targets: the class is the rounded target', async () => {
    const s = { ...CASES.bce_probs, units: 1 };
    const m = net(s);
    const x = { data: randomArray(N * 4, 3, -1, 1), shape: [N, 4] };
    const z = Float32Array.from({ length: N }, (_, i) => i % 3 === 0 ? 1 : 0);
    const y = { data: z, shape: [N, 1] };
    const weighted = net(s);
    await weighted.fit(x, y, { classWeight: { 0: 1, 1: 5 }, epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    await m.fit(x, y, { sampleWeight: z.map((v) => (v === 1 ? 5 : 1)), epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    weightsOf(weighted).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(weightsOf(m)[i])));
  });
});

describe('evaluate and validation with sample weights', () => {
  it('evaluate: the loss is sum(w * loss) / n in f64; accuracy is not weighted', () => {
    const s = CASES.sparse_softmax;
    const m = net(s);
    m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const { x, y } = data(s);
    const labels = y.data as Int32Array;
    const w = randomArray(N, 12, 0, 2);
    const p = m.predict(x).data;
    let sum = 0;
    for (let i = 0; i < N; i++) sum += w[i] * -Math.log(p[i * 3 + labels[i]]);
    const plain = m.evaluate(x, y, { batchSize: BATCH });
    const r = m.evaluate(x, y, { batchSize: BATCH, sampleWeight: w });
    expect(Math.abs(r.loss - sum / N)).toBeLessThan(1e-5 * (sum / N));
    expect(r.accuracy).toBe(plain.accuracy);
    expect(Math.abs(r.loss - plain.loss)).toBeGreaterThan(1e-3);
    // a later unweighted evaluate weighs every sample 1 again
    expect(m.evaluate(x, y, { batchSize: BATCH }).loss).toBeCloseTo(plain.loss, 6);
  });

  it('validationSplit keeps the held-out samples\' weights; validationData without weights is unweighted', async () => {
    const s = CASES.mse;
    const { x, y } = data(s);
    const w = randomArray(N, 13, 0, 2);
    const m = net(s);
    const h = await m.fit(x, y, { sampleWeight: w, validationSplit: 0.3, epochs: 1, batchSize: BATCH, verbose: 0 });
    const cut = (t: Tensor, at: number): Tensor => ({ data: t.data.slice(at * (t.data.length / N)), shape: [N - at, ...t.shape.slice(1)] } as Tensor);
    expect(h.history.val_loss[0]).toBeCloseTo(m.evaluate(cut(x, 7), cut(y, 7), { sampleWeight: w.slice(7) }).loss, 6);
    const h2 = await m.fit(x, y, { sampleWeight: w, validationData: [cut(x, 7), cut(y, 7)], epochs: 1, batchSize: BATCH, verbose: 0 });
    expect(h2.history.val_loss[0]).toBeCloseTo(m.evaluate(cut(x, 7), cut(y, 7)).loss, 6);
  });

  it('trainOnBatch takes sampleWeight and classWeight', () => {
    const s = CASES.sparse_softmax;
    const { x, y } = data(s);
    const a = net(s);
    const b = net(s);
    const ra = a.trainOnBatch(x, y, { classWeight: { 0: 2, 1: 1, 2: 0.5 } });
    const labels = y.data as Int32Array;
    const rb = b.trainOnBatch(x, y, { sampleWeight: Array.from(labels, (l) => [2, 1, 0.5][l]) });
    expect(ra.loss).toBe(rb.loss);
    weightsOf(a).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(weightsOf(b)[i])));
    // and the weights count: the loss is sum(w * loss) / n of the unweighted step's per-sample losses
    const plain = net(s);
    const p = plain.predict(x).data;
    let weighted = 0;
    for (let i = 0; i < N; i++) weighted += [2, 1, 0.5][labels[i]] * -Math.log(p[i * 3 + labels[i]]);
    expect(Math.abs(ra.loss - weighted / N)).toBeLessThan(1e-5);
    const rp = plain.trainOnBatch(x, y);
    expect(Math.abs(rp.loss - ra.loss)).toBeGreaterThan(1e-3);
    expect(Array.from(weightsOf(plain)[0])).not.toEqual(Array.from(weightsOf(a)[0]));
  });
});

describe('several outputs: sampleWeight per output or one array for all', () => {
  function twoHeads(): Model<Prediction> {
    setSeed(8);
    const x = input({ shape: [4] });
    const trunk = layers.dense(5, { activation: 'relu', name: 'trunk' }).apply(x);
    const cls = layers.dense(3, { activation: 'softmax', name: 'cls' }).apply(trunk);
    const reg = layers.dense(1, { name: 'reg' }).apply(trunk);
    const m = model({ inputs: x, outputs: [cls, reg] });
    m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: ['sparseCategoricalCrossentropy', 'meanSquaredError'], lossWeights: [1, 0.5] });
    return m;
  }
  const x = { data: randomArray(N * 4, 41, -1, 1), shape: [N, 4] };
  const labels = { data: Int32Array.from({ length: N }, (_, i) => i % 3), shape: [N] };
  const targets = { data: randomArray(N, 42, -1, 1), shape: [N, 1] };

  it('each output\'s loss is weighted by its own array (evaluate against the formula)', () => {
    const m = twoHeads();
    const w1 = randomArray(N, 51, 0, 2);
    const w2 = randomArray(N, 52, 0, 2);
    const [p, q] = m.predict(x) as Tensor<Float32Array>[];
    let l1 = 0, l2 = 0;
    for (let i = 0; i < N; i++) {
      l1 += w1[i] * -Math.log(p.data[i * 3 + labels.data[i]]);
      l2 += w2[i] * (q.data[i] - targets.data[i]) ** 2;
    }
    const r = m.evaluate(x, [labels, targets], { sampleWeight: { cls: w1, reg: w2 } });
    expect(r.cls_loss!).toBeCloseTo(l1 / N, 5);
    expect(r.reg_loss!).toBeCloseTo(l2 / N, 5);
    expect(r.loss).toBeCloseTo(l1 / N + 0.5 * l2 / N, 5);
  });

  it('one array weighs every output; the same as that array per output', async () => {
    const w = randomArray(N, 53, 0, 2);
    const a = twoHeads();
    await a.fit(x, [labels, targets], { sampleWeight: w, epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    const b = twoHeads();
    await b.fit(x, [labels, targets], { sampleWeight: [w, w], epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    const c = twoHeads();
    await c.fit(x, [labels, targets], { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
    weightsOf(a).forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(weightsOf(b)[i])));
    expect(Array.from(weightsOf(a)[0])).not.toEqual(Array.from(weightsOf(c)[0]));
  });

  it('classWeight is refused for several outputs (as Keras), with what to use', async () => {
    await expect(twoHeads().fit(x, [labels, targets], { classWeight: { 0: 2 }, verbose: 0 })).rejects.toThrow(/classWeight is only supported for a model with one output .* use sampleWeight per output/);
    await expect(twoHeads().fit(x, [labels, targets], { sampleWeight: { cls: new Float32Array(N) }, verbose: 0 })).rejects.toThrow(/sampleWeight has no weights for output 'reg'/);
    await expect(twoHeads().fit(x, [labels, targets], { sampleWeight: { clss: new Float32Array(N) }, verbose: 0 })).rejects.toThrow(/sampleWeight names no output 'clss'/);
    await expect(twoHeads().fit(x, [labels, targets], { sampleWeight: [new Float32Array(N)], verbose: 0 })).rejects.toThrow(/sampleWeight has 1 arrays for 2 outputs/);
  });
});

describe('bad weights are typed errors that say what is wrong', () => {
  const s = CASES.sparse_softmax;
  const { x, y } = data(s);
  const refusal = async (options: object): Promise<Error> => {
    try { await net(s).fit(x, y, { verbose: 0, ...options }); } catch (e) { return e as Error; }
    throw new Error('not refused');
  };
  it('wrong length or shape: ShapeError', async () => {
    const e = await refusal({ sampleWeight: new Float32Array(N - 1) });
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toBe(`fit: sampleWeight has ${N - 1} weights for ${N} samples`);
    const e2 = await refusal({ sampleWeight: { data: new Float32Array(2 * N), shape: [N, 2] } });
    expect(e2).toBeInstanceOf(ShapeError);
    expect(e2.message).toMatch(/sampleWeight has shape \[10,2\]; expected \[10\]/);
  });
  it('negative or non-finite weights: InvalidArgumentError naming the sample', async () => {
    const w = new Float32Array(N).fill(1);
    w[4] = -1;
    const e = await refusal({ sampleWeight: w });
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toBe('fit: sampleWeight: weight 4 is -1; weights must be finite and non-negative');
    w[4] = NaN;
    expect((await refusal({ sampleWeight: w })).message).toMatch(/weight 4 is NaN/);
    expect((await refusal({ classWeight: { 0: -2 } })).message).toBe('fit: classWeight for class 0 is -2; weights must be finite and non-negative');
  });
  it('an unknown class: InvalidArgumentError naming the output and its classes', async () => {
    const e = await refusal({ classWeight: { 0: 1, 3: 2 } });
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/^fit: classWeight names an unknown class '3' for output dense_\d+ \(sparseCategoricalCrossentropy, shape \[3\]\): expected one of 0\.\.2$/);
    expect((await refusal({ classWeight: { cat: 1 } })).message).toMatch(/unknown class 'cat'/);
    expect((await refusal({ classWeight: [1, 2] })).message).toBe('fit: classWeight must be an object {class index: weight}, got an array');
  });
  it('evaluate and trainOnBatch check their option names', () => {
    const m = net(s);
    expect(() => m.evaluate(x, y, { sampleWeights: [] } as never)).toThrow(/unknown option 'sampleWeights' for evaluate; did you mean 'sampleWeight'\?/);
    expect(() => m.trainOnBatch(x, y, { classWeights: {} } as never)).toThrow(/unknown option 'classWeights' for trainOnBatch; did you mean 'classWeight'\?/);
    expect(() => m.evaluate(x, y, { classWeight: {} } as never)).toThrow(/unknown option 'classWeight' for evaluate/);
  });
});
