// Transfer learning from a real pretrained model: the emotion classifier (a TF.js graph model,
// mini-Xception trained on 64x64 grey faces) reused for MNIST digits with few labels.
//   1. import the graph model: ordinary trainable edgetune layers;
//   2. cut it before its classifier (the 1x1 conv that feeds the global pooling) and pool the
//      256-channel features with a new global average pooling;
//   3. adapt the input: 28x28 digits in [0, 1] -> Rescaling to [-1, 1] (the faces' range) ->
//      Resizing to 64x64 (bilinear, as Keras);
//   4. phase 1: base frozen, a new softmax head trained; phase 2: the top block unfrozen at a
//      100x lower learning rate (Keras's two-phase recipe);
//   5. the same head on the same architecture with a randomly initialised (Glorot) frozen base;
//      and two more baselines: that whole network trained from scratch, and the softmax head
//      alone on the raw pixels.
// Usage: npm run build && node examples/transfer-emotion.mjs [models dir] [labels per class]
import { readFile } from 'node:fs/promises';
import {
  importTfjsGraphModel, input, layers, model, optimizers, setSeed, tensor,
} from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';

const dir = process.argv[2] ?? new URL('../test/fixtures/models/', import.meta.url).pathname;
const perClass = Number(process.argv[3] ?? 20);
const EPOCHS_HEAD = 20;
const EPOCHS_FINE = 5;

async function emotionBase(randomize) {
  const json = JSON.parse(await readFile(`${dir}/emotion.json`, 'utf8'));
  const m = await importTfjsGraphModel(json, (p) => readFile(`${dir}/${p}`), 'emotion.json');
  if (randomize) {
    let s = 12345;
    const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
    for (const l of m.layers) {
      if (!l.weightSpecs.length) continue;
      l.setWeights(l.weightSpecs.map((spec) => {
        const n = spec.shape.reduce((a, b) => a * b, 1);
        if (spec.shape.length < 2) return new Float32Array(n).fill(spec.name === 'gamma' || spec.name === 'moving_variance' ? 1 : 0);
        const rf = spec.shape.slice(0, -2).reduce((a, b) => a * b, 1);
        const fanIn = spec.shape.at(-2) * rf;
        const fanOut = spec.shape.at(-1) * rf;
        const lim = Math.sqrt(6 / (fanIn + fanOut));
        return Float32Array.from({ length: n }, () => (2 * rand() - 1) * lim);
      }));
    }
  }
  return m;
}

// The emotion network replayed on a new input, up to (not including) its classifier convolution.
function cutBeforeClassifier(base, x) {
  const g = base.graph;
  const outputs = new Map([[g.inputs[0], x]]);
  const classifier = g.nodes.filter((n) => n.layer?.kind === 'conv2d').at(-1);
  for (const n of g.nodes) {
    if (!n.layer) continue;
    if (n.id === classifier.id) return outputs.get(n.inputs[0]);
    const ins = n.inputs.map((i) => outputs.get(i));
    outputs.set(n.id, n.layer.apply(ins.length === 1 ? ins[0] : ins));
  }
  throw new Error('no classifier convolution found');
}

async function transferModel(randomize) {
  setSeed(7);
  const base = await emotionBase(randomize);
  const inp = input({ shape: [28, 28, 1] });
  const scaled = layers.rescaling(2, { offset: -1 }).apply(inp);
  const resized = layers.resizing(64, 64).apply(scaled);
  const features = cutBeforeClassifier(base, resized);
  const pooled = layers.globalAveragePooling2d({ name: 'features_pool' }).apply(features);
  const head = layers.dense(10, { activation: 'softmax', name: 'digit_head' });
  const m = model({ inputs: inp, outputs: head.apply(pooled), name: 'emotion_to_digits' });
  for (const l of base.layers) l.trainable = false;
  return { m, base, head };
}

const digits = loadMnist();
const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const train = selectDigits(digits, all, 'train', { perClass });
const test = selectDigits(digits, all, 'test');
const xTrain = tensor(train.x, [train.n, 28, 28, 1]);
const yTrain = tensor(train.y, [train.n]);
const xTest = tensor(test.x, [test.n, 28, 28, 1]);
const yTest = tensor(test.y, [test.n]);
console.log(`MNIST: ${train.n} training images (${perClass} per class), ${test.n} held out`);

async function run(randomize, scratch = false) {
  const label = scratch ? 'random base, all layers trained from scratch' : randomize ? 'random base' : 'emotion base';
  const { m, base } = await transferModel(randomize);
  if (scratch) for (const l of base.layers) l.trainable = true;
  const t0 = performance.now();
  m.compile({ optimizer: optimizers.adam({ learningRate: scratch ? 1e-3 : 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 32 });
  const p = m.countParams();
  console.log(`\n${label}: ${m.layers.length} layers, ${p.trainable} trainable / ${p.nonTrainable} frozen parameters; training arena ${(m.plan.pages * 65536 / 2 ** 20).toFixed(2)} MB`);
  await m.fit(xTrain, yTrain, { epochs: EPOCHS_HEAD, batchSize: 32, seed: 1, onEpochEnd: (e, l) => { if ((e + 1) % 5 === 0) console.log(`  phase 1 epoch ${e + 1}: loss ${l.loss.toFixed(4)}, accuracy ${(l.accuracy * 100).toFixed(1)}%`); } });
  const frozen = m.evaluate(xTest, yTest, { batchSize: 64 });
  console.log(`  phase 1 (base ${scratch ? 'trained' : 'frozen'}): held-out accuracy ${(frozen.accuracy * 100).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  let fine = null;
  if (!randomize) {
    // Phase 2: the top block (everything after the first residual add) at a 100x lower rate.
    const names = base.layers.map((l) => l.name);
    const firstAdd = names.findIndex((n, i) => base.layers[i].kind === 'add');
    base.layers.forEach((l, i) => { l.trainable = i > firstAdd; });
    m.compile({ optimizer: optimizers.adam({ learningRate: 1e-4 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 32 });
    const p2 = m.countParams();
    console.log(`  phase 2: ${p2.trainable} trainable parameters (top block + head), lr 1e-4, training arena ${(m.plan.pages * 65536 / 2 ** 20).toFixed(2)} MB`);
    await m.fit(xTrain, yTrain, { epochs: EPOCHS_FINE, batchSize: 32, seed: 2 });
    fine = m.evaluate(xTest, yTest, { batchSize: 64 });
    console.log(`  phase 2 (top block unfrozen): held-out accuracy ${(fine.accuracy * 100).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(1)} s total)`);
  }
  return { frozen: frozen.accuracy, fine: fine?.accuracy };
}

async function pixelsHead() {
  setSeed(7);
  const inp = input({ shape: [28, 28, 1] });
  const m = model({ inputs: inp, outputs: layers.dense(10, { activation: 'softmax' }).apply(layers.flatten().apply(inp)) });
  m.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 32 });
  await m.fit(xTrain, yTrain, { epochs: EPOCHS_HEAD, batchSize: 32, seed: 1 });
  return m.evaluate(xTest, yTest, { batchSize: 64 }).accuracy;
}

const pretrained = await run(false);
const random = await run(true);
const scratch = await run(true, true);
const pixels = await pixelsHead();
console.log(`\nSummary (held-out accuracy, 10 digits, ${perClass} labels per class):`);
console.log(`  emotion base: frozen ${(pretrained.frozen * 100).toFixed(2)}%, two-phase ${(pretrained.fine * 100).toFixed(2)}%`);
console.log(`  random base (same head, frozen): ${(random.frozen * 100).toFixed(2)}%`);
console.log(`  same network from scratch (all layers trained, ${EPOCHS_HEAD} epochs): ${(scratch.frozen * 100).toFixed(2)}%`);
console.log(`  softmax head on the raw pixels: ${(pixels * 100).toFixed(2)}%`);
