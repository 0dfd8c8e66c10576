// The main job (`npm start`, `edgetune demo`): transfer learning on real MNIST digits.
// 1. Train a base MLP on digits 0-4 and save it to models/.
// 2. Load it, freeze the base, put a new softmax head on it for digits 5-9 and fine-tune with
//    only 50 labelled images per class; train the same network from scratch on the same images.
// 3. Report the arena plans, test accuracy of each, and the time taken.
import { formatBytes, describeBreakdown } from './errors';
import { layers, loadModel, optimizers, sequential, setSeed, tensor, type Model } from './index';
import './node-fs';
import { loadMnist, selectDigits } from './mnist';

export const BASE_MODEL_PATH = 'models/mnist-base-0to4.safetensors';

export interface DemoResult {
  baseAccuracy: number;
  frozenAccuracy: number;
  transferAccuracy: number;
  scratchAccuracy: number;
  seconds: number;
}

function planLine(label: string, m: Model): string {
  const p = m.plan;
  return `  ${label.padEnd(24)} ${formatBytes(p.pages * 65536).padStart(9)}  (${describeBreakdown(p.breakdown)})`;
}

export function baseModel(): Model {
  return sequential([
    layers.dense(300, { activation: 'relu', inputShape: [784], name: 'base_dense_1' }),
    layers.dense(100, { activation: 'relu', name: 'base_dense_2' }),
    layers.dense(5, { activation: 'softmax', name: 'base_head' }),
  ], { name: 'mnist_base_0to4' });
}

// Step 1 on its own (scripts/train-base.mjs): deterministic, so it reproduces the committed file.
export async function trainBase(log: (s: string) => void = console.log, path = BASE_MODEL_PATH): Promise<{ model: Model; accuracy: number }> {
  setSeed(2024);
  const mnist = loadMnist();
  const train = selectDigits(mnist, [0, 1, 2, 3, 4], 'train');
  const test = selectDigits(mnist, [0, 1, 2, 3, 4], 'test');
  const model = baseModel();
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 64 });
  log(`Base model: digits 0-4, ${train.n} training and ${test.n} held-out images`);
  log(planLine('training arena', model));
  await model.fit(tensor(train.x, [train.n, 784]), tensor(train.y, [train.n]), {
    epochs: 10, batchSize: 64, seed: 1,
    onEpochEnd: (e, l) => log(`  epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy!).toFixed(2)}%`),
  });
  const { accuracy } = model.evaluate(tensor(test.x, [test.n, 784]), tensor(test.y, [test.n]));
  log(`  held-out accuracy on digits 0-4: ${(100 * accuracy!).toFixed(2)}%`);
  await model.save(path);
  log(`  saved ${path}`);
  return { model, accuracy: accuracy! };
}

export async function runDemo(options: { log?: (s: string) => void; perClass?: number; epochs?: number } = {}): Promise<DemoResult> {
  const log = options.log ?? console.log;
  const perClass = options.perClass ?? 50;
  const epochs = options.epochs ?? 40;
  const t0 = performance.now();
  const base = await trainBase(log);

  const mnist = loadMnist();
  const small = selectDigits(mnist, [5, 6, 7, 8, 9], 'train', { perClass, relabel: true });
  const test = selectDigits(mnist, [5, 6, 7, 8, 9], 'test', { relabel: true });
  const xs = tensor(small.x, [small.n, 784]);
  const ys = tensor(small.y, [small.n]);
  const xt = tensor(test.x, [test.n, 784]);
  const yt = tensor(test.y, [test.n]);
  log(`\nNew task: digits 5-9 with only ${perClass} labelled images per class (${small.n}), ${test.n} held-out images`);

  // Transfer, Keras's two-phase recipe: the saved base frozen under a new head (phase 1), then the
  // top base layer unfrozen at a lower learning rate (phase 2).
  setSeed(7);
  const loaded = await loadModel(BASE_MODEL_PATH);
  const [b1, b2] = loaded.layers;
  b1.trainable = false;
  b2.trainable = false;
  const transfer = sequential([b1, b2, layers.dense(5, { activation: 'softmax', name: 'head_5to9' })], { name: 'transfer_5to9' });
  transfer.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 25 });
  const frozenPlan = transfer.plan;
  const frozenBefore = b1.getWeights()[0];
  const fitLog = (name: string) => (e: number, l: { loss: number; accuracy?: number }) => {
    if ((e + 1) % 10 === 0) log(`  ${name} epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy!).toFixed(1)}%`);
  };
  const half = Math.round(epochs / 2);
  await transfer.fit(xs, ys, { epochs: half, batchSize: 25, seed: 3, onEpochEnd: fitLog('transfer, frozen base') });
  const frozenAcc = transfer.evaluate(xt, yt).accuracy!;
  const frozenSame = b1.getWeights()[0].every((v, i) => Object.is(v, frozenBefore[i]));
  b2.trainable = true;
  transfer.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 25 });
  await transfer.fit(xs, ys, { epochs: epochs - half, batchSize: 25, seed: 4, onEpochEnd: fitLog('transfer, top unfrozen') });
  const transferAcc = transfer.evaluate(xt, yt).accuracy!;

  // From scratch: the same network, randomly initialised, all layers trained on the same images
  // for the same number of epochs.
  setSeed(7);
  const scratch = sequential([
    layers.dense(300, { activation: 'relu', inputShape: [784] }),
    layers.dense(100, { activation: 'relu' }),
    layers.dense(5, { activation: 'softmax' }),
  ], { name: 'scratch_5to9' });
  scratch.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 25 });
  await scratch.fit(xs, ys, { epochs, batchSize: 25, seed: 3, onEpochEnd: fitLog('scratch') });
  const scratchAcc = scratch.evaluate(xt, yt).accuracy!;

  const seconds = (performance.now() - t0) / 1000;
  log('\nArena plans (one fixed wasm memory each, sized before training starts):');
  log(planLine('base, full training', base.model));
  log(`  ${'transfer, frozen base'.padEnd(24)} ${formatBytes(frozenPlan.pages * 65536).padStart(9)}  (${describeBreakdown(frozenPlan.breakdown)})`);
  log(planLine('transfer, top unfrozen', transfer));
  log(planLine('scratch, full training', scratch));
  log(`\nHeld-out accuracy on digits 5-9 after ${epochs} epochs on ${small.n} images:`);
  log(`  transfer, phase 1 (frozen base + new head, ${half} epochs): ${(100 * frozenAcc).toFixed(2)}%`);
  log(`  transfer, phase 2 (top base layer unfrozen, ${epochs - half} more): ${(100 * transferAcc).toFixed(2)}%`);
  log(`  from scratch (${epochs} epochs):                          ${(100 * scratchAcc).toFixed(2)}%`);
  log(`  frozen base weights unchanged by phase 1: ${frozenSame ? 'yes, bit for bit' : 'NO'}`);
  log(`  transfer ${transferAcc > scratchAcc ? 'beats' : 'does not beat'} training from scratch on this set` +
    (transferAcc > scratchAcc ? '' : ' (dense features learned on digits 0-4 carry little to 5-9; see README)'));
  log(`\nBase accuracy on digits 0-4: ${(100 * base.accuracy).toFixed(2)}%. Total time ${seconds.toFixed(1)} s.`);
  return { baseAccuracy: base.accuracy, frozenAccuracy: frozenAcc, transferAccuracy: transferAcc, scratchAccuracy: scratchAcc, seconds };
}
