// fit's microBatch (issue 14, item 2): gradient accumulation in the arena. Without a trainable
// BatchNormalization the weights equal the full batch's up to float summation order (checked
// against full-batch fit and a float64 reference of the same SGD steps); a micro-batch as large as
// the batch is bit-identical even with a trainable BN; the arena shrinks to a micro-batch's
// activations; bad microBatch values are refused before anything trains.
import { describe, expect, it } from 'vitest';
import { layers, sequential, model, input, optimizers, verifyPlan, regularizers, tensor, setSeed, InvalidArgumentError, type Model } from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';

const N = 20; // batch 8: batches of 8, 8 and 4 rows
const F = 12;
const C = 3;
const LR = 0.1;
const L2 = 0.01;

function mlp(): Model {
  setSeed(7);
  return sequential([
    layers.dense(6, { activation: 'relu', inputShape: [F], kernelRegularizer: regularizers.l2(L2) }),
    layers.dense(C, { activation: 'softmax' }),
  ]);
}

const x = randomArray(N * F, 11, -1, 1);
const labels = Int32Array.from({ length: N }, (_, i) => (i * 5 + 1) % C);

async function fitMlp(microBatch?: number, epochs = 2): Promise<Float32Array[]> {
  const m = mlp();
  m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
  await m.fit(tensor(x, [N, F]), tensor(labels, [N]), { epochs, batchSize: 8, shuffle: false, verbose: 0, ...(microBatch ? { microBatch } : {}) });
  return m.layers.flatMap((l) => l.getWeights());
}

// Float64 SGD on the same MLP: mean cross-entropy over each batch plus L2 * sum(w1^2).
function reference(epochs: number): Float64Array[] {
  const [w1, b1, w2, b2] = mlp().layers.flatMap((l) => l.getWeights()).map((w) => Float64Array.from(w));
  const H = 6;
  for (let e = 0; e < epochs; e++) {
    for (let start = 0; start < N; start += 8) {
      const rows = Math.min(8, N - start);
      const g = [w1, b1, w2, b2].map((w) => new Float64Array(w.length));
      for (let r = start; r < start + rows; r++) {
        const h = new Float64Array(H);
        for (let j = 0; j < H; j++) { let s = b1[j]; for (let i = 0; i < F; i++) s += x[r * F + i] * w1[i * H + j]; h[j] = Math.max(0, s); }
        const z = new Float64Array(C);
        for (let k = 0; k < C; k++) { let s = b2[k]; for (let j = 0; j < H; j++) s += h[j] * w2[j * C + k]; z[k] = s; }
        const mx = Math.max(...z);
        const p = z.map((v) => Math.exp(v - mx));
        const sum = p.reduce((a, b) => a + b, 0);
        const dz = p.map((v, k) => (v / sum - (k === labels[r] ? 1 : 0)) / rows);
        const dh = new Float64Array(H);
        for (let k = 0; k < C; k++) {
          g[3][k] += dz[k];
          for (let j = 0; j < H; j++) { g[2][j * C + k] += h[j] * dz[k]; dh[j] += w2[j * C + k] * dz[k]; }
        }
        for (let j = 0; j < H; j++) {
          if (h[j] <= 0) continue;
          g[1][j] += dh[j];
          for (let i = 0; i < F; i++) g[0][i * H + j] += x[r * F + i] * dh[j];
        }
      }
      for (let i = 0; i < w1.length; i++) g[0][i] += 2 * L2 * w1[i];
      [w1, b1, w2, b2].forEach((w, t) => { for (let i = 0; i < w.length; i++) w[i] -= LR * g[t][i]; });
    }
  }
  return [w1, b1, w2, b2];
}

describe('fit with microBatch', () => {
  it('no BN: micro-batches of 1, 2 and 4 give the full batch\'s weights and the float64 reference\'s', async () => {
    const ref = reference(2);
    const full = await fitMlp();
    full.forEach((w, i) => expectClose(w, ref[i], 1e-5, 1e-6, `full batch weight ${i}`));
    for (const micro of [1, 2, 4]) {
      const got = await fitMlp(micro);
      got.forEach((w, i) => {
        expectClose(w, full[i], 1e-5, 1e-6, `microBatch ${micro} weight ${i} vs full batch`);
        expectClose(w, ref[i], 1e-5, 1e-6, `microBatch ${micro} weight ${i} vs float64`);
      });
      expect(got.some((w, i) => w.some((v, j) => v !== mlp().layers.flatMap((l) => l.getWeights())[i][j]))).toBe(true);
    }
  });

  it('a frozen-BN CNN head fine-tunes to the full batch\'s weights; the arena holds one sample\'s activations', async () => {
    const cnn = () => {
      setSeed(3);
      const m = sequential([
        layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [8, 8, 2], name: 'c1' }),
        layers.batchNormalization({ name: 'bn' }), layers.relu(),
        layers.conv2d({ filters: 5, kernelSize: 3, name: 'c2' }), layers.flatten(), layers.dense(3, { activation: 'softmax', name: 'head' }),
      ]);
      const bn = m.layers[1];
      bn.setWeights(bn.getWeights().map((w, i) => w.map((_, j) => (i === 3 ? 0.5 + 0.1 * j : 0.1 * (j + i)))));
      bn.trainable = false;
      m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 16 });
      return m;
    };
    const xs = tensor(randomArray(32 * 128, 5, 0, 1), [32, 8, 8, 2]);
    const ys = tensor(Int32Array.from({ length: 32 }, (_, i) => i % 3), [32]);
    const full = cnn();
    await full.fit(xs, ys, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 });
    const fullActivations = full.plan.breakdown.activations;
    const micro = cnn();
    const h = await micro.fit(xs, ys, { epochs: 2, batchSize: 16, microBatch: 1, shuffle: false, verbose: 0 });
    expect(micro.plan.microBatching).toBe(true);
    expect(micro.plan.batchSize).toBe(1);
    expect(micro.plan.breakdown.activations * 8).toBeLessThan(fullActivations);
    expect(verifyPlan(micro.plan)).toEqual([]);
    expect(h.history.loss.every(Number.isFinite)).toBe(true);
    micro.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expectClose(w, full.layers[i].getWeights()[j], 2e-5, 1e-6, `${l.name} weight ${j}`)));
    // Afterwards a whole-batch step re-plans (the micro plan's 'train' only applies gradients).
    const before = micro.layers[5].getWeights()[0].slice();
    micro.trainOnBatch(xs, ys);
    expect(micro.plan.microBatching).toBe(false);
    expect(micro.layers[5].getWeights()[0]).not.toEqual(before);
  });

  it('a micro-batch as large as the batch is bit-identical to the full batch, trainable BN included', async () => {
    const model = () => {
      setSeed(9);
      const m = sequential([
        layers.dense(8, { inputShape: [F] }), layers.batchNormalization(), layers.relu(),
        layers.dense(C, { activation: 'softmax', kernelRegularizer: regularizers.l2(L2) }),
      ]);
      m.compile({ optimizer: optimizers.adam({ learningRate: 0.01, clipnorm: 0.5 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 10 });
      return m;
    };
    const a = model();
    const b = model();
    const ha = await a.fit(tensor(x, [N, F]), tensor(labels, [N]), { epochs: 2, batchSize: 10, shuffle: false, verbose: 0 });
    const hb = await b.fit(tensor(x, [N, F]), tensor(labels, [N]), { epochs: 2, batchSize: 10, microBatch: 10, shuffle: false, verbose: 0 });
    expect(b.plan.microBatching).toBe(true);
    a.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expect(b.layers[i].getWeights()[j]).toEqual(w)));
    expect(hb.history).toEqual(ha.history);
  });

  it('two outputs with loss weights: micro-batches give the full batch\'s weights and per-output logs', async () => {
    const twoHeads = () => {
      setSeed(21);
      const inp = input({ shape: [F] });
      const trunk = layers.dense(8, { activation: 'relu' }).apply(inp);
      const m = model({ inputs: inp, outputs: [layers.dense(C, { activation: 'softmax', name: 'main' }).apply(trunk), layers.dense(2, { name: 'aux' }).apply(trunk)] });
      m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: ['sparseCategoricalCrossentropy', 'meanSquaredError'], lossWeights: [1, 0.3], metrics: ['accuracy'], batchSize: 8 });
      return m;
    };
    const y = [tensor(labels, [N]), tensor(randomArray(N * 2, 4), [N, 2])];
    const a = twoHeads();
    const b = twoHeads();
    const ha = await a.fit(tensor(x, [N, F]), y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const hb = await b.fit(tensor(x, [N, F]), y, { epochs: 2, batchSize: 8, microBatch: 2, shuffle: false, verbose: 0 });
    expect(b.plan.microBatching).toBe(true);
    a.layers.forEach((l, i) => l.getWeights().forEach((w, j) => expectClose(b.layers[i].getWeights()[j], w, 1e-5, 1e-6, `${l.name} weight ${j}`)));
    expect(Object.keys(hb.history).sort()).toEqual(Object.keys(ha.history).sort());
    for (const k of Object.keys(ha.history)) expectClose(hb.history[k], ha.history[k], 1e-5, 1e-6, `history ${k}`);
  });

  it('refuses a microBatch that does not divide batchSize, exceeds it or is not a positive integer, before training', async () => {
    const m = mlp();
    m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    const before = m.layers.flatMap((l) => l.getWeights().map((w) => w.slice()));
    const fit = (microBatch: number) => m.fit(tensor(x, [N, F]), tensor(labels, [N]), { batchSize: 8, microBatch, verbose: 0 });
    await expect(fit(3)).rejects.toThrow(InvalidArgumentError);
    await expect(fit(3)).rejects.toThrow(/microBatch 3 does not divide batchSize 8/);
    await expect(fit(16)).rejects.toThrow(/microBatch 16 exceeds batchSize 8/);
    await expect(fit(0)).rejects.toThrow(/microBatch must be a positive integer, got 0/);
    await expect(fit(1.5)).rejects.toThrow(/microBatch must be a positive integer, got 1.5/);
    expect(m.layers.flatMap((l) => l.getWeights())).toEqual(before);
  });
});
