// The 256 KB fine-tune (issue 14's showcase): the bundled MNIST CNN base (digits 0-4), frozen and
// quantized to int8, gets a new dense head for digits 5-9 trained with Adam at an effective batch
// of 16, one sample at a time (microBatch 1), inside one arena of at most 256 KB that holds
// everything: weights, gradients, optimizer slots, activations, scratch, the programs and the I/O.
// The same fine-tune runs in the JS host (mcuFinetune: model.fit) and in the WASI module
// (mcuWasiFiles writes its plan, weights and data files; finetune-wasi.mjs runs it): the training
// rows are in one fixed shuffled order and fit does not reshuffle, so both see the same steps and
// end with the same weights, bit for bit.
import { compileTrainPlan, layers, loadModel, optimizers, packDataFile, planToFileBytes, sequential, setSeed, tensor } from '../../dist/node.js';
import { loadMnist, selectDigits } from '../../dist/examples.js';

export const ARENA_BUDGET = 256 * 1024;
const BASE = new URL('../../models/mnist-cnn-base-0to4.safetensors', import.meta.url).pathname;

// The new-class data: `perClass` training images of each of 5-9 (relabelled 0-4) in one fixed
// shuffled order, and the whole held-out test split of those digits.
export function mcuData({ perClass = 50 } = {}) {
  const mnist = loadMnist();
  const sorted = selectDigits(mnist, [5, 6, 7, 8, 9], 'train', { perClass, relabel: true });
  // Fisher-Yates with a small fixed-seed generator (mulberry32): the same order on every runtime.
  let seed = 3;
  const next = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: sorted.n }, (_, i) => i);
  for (let i = sorted.n - 1; i > 0; i--) { const j = Math.floor(next() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
  const x = new Float32Array(sorted.x.length);
  const y = new Int32Array(sorted.n);
  order.forEach((from, to) => { x.set(sorted.x.subarray(from * 784, from * 784 + 784), to * 784); y[to] = sorted.y[from]; });
  return { train: { x, y, n: sorted.n }, test: selectDigits(mnist, [5, 6, 7, 8, 9], 'test', { relabel: true }) };
}

// The model before training: the frozen base (int8 kernels) and a fresh head, compiled at one
// sample per run; the budget covers the whole arena, so a plan that does not fit is refused up front.
// activationQuantizer: not given (the default config) quantizes base_conv_2's inputs too, not
// base_conv_1's 9-value patches (docs/int8.md "Which layers"); 'absmax' both convolutions'; null
// is weight-only.
export async function mcuModel({ activationQuantizer } = {}) {
  setSeed(7);
  const base = await loadModel(BASE);
  const reused = base.layers.slice(0, -1);
  for (const l of reused) l.trainable = false;
  const model = sequential([...reused, layers.dense(5, { activation: 'softmax', name: 'head_5to9' })], { name: 'mcu_finetune' });
  model.quantize('int8', { activationQuantizer });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 1, memoryBudget: ARENA_BUDGET });
  return model;
}

export async function mcuFinetune({ epochs = 20, perClass = 50, batchSize = 16, log = () => {}, activationQuantizer } = {}) {
  const { train, test } = mcuData({ perClass });
  const model = await mcuModel({ activationQuantizer });
  const initialBytes = model.toBytes();
  const history = await model.fit(tensor(train.x, [train.n, 28, 28, 1]), tensor(train.y, [train.n]), {
    epochs, batchSize, microBatch: 1, shuffle: false, verbose: 0,
    onEpochEnd: (e, l) => log(`epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy).toFixed(1)}%`),
  });
  const accuracy = model.evaluate(tensor(test.x, [test.n, 28, 28, 1]), tensor(test.y, [test.n])).accuracy;
  return { model, initialBytes, plan: model.plan, history, accuracy, trainCount: train.n, testCount: test.n };
}

// The WASI module's inputs, in `dir`: model.safetensors (the model before training), model.plan
// (the same micro-batched plan fit runs, at most ARENA_BUDGET) and train.etd (the rows in fit's
// order). Returns the plan.
export async function mcuWasiFiles(dir, { perClass = 50, batchSize = 16, activationQuantizer } = {}) {
  const { writeFileSync } = await import('node:fs');
  const { train } = mcuData({ perClass });
  const bytes = (await mcuModel({ activationQuantizer })).toBytes();
  writeFileSync(`${dir}/model.safetensors`, bytes);
  const plan = compileTrainPlan(await loadModel(bytes), { batch: batchSize, microBatch: 1, budget: ARENA_BUDGET });
  writeFileSync(`${dir}/model.plan`, planToFileBytes(plan, { stepBatch: batchSize }));
  await packDataFile(`${dir}/train.etd`, { x: train.x, xFloats: 784, labels: train.y, labelWords: 1 });
  return plan;
}
