// The accuracy and memory cost of int8 frozen weights (issue 14 item 1; the figures in docs/int8.md).
//   - emotion (TF.js graph model, test/fixtures/models): top-1 agreement of the int8 model with the
//     float32 model on the bundled MNIST test digits, rescaled to [-1, 1] and resized to 64x64
//     (bilinear) as examples/transfer-emotion.mjs feeds them;
//   - the emotion transfer example's phase 1 (frozen base, new softmax head on 20 digits a class):
//     held-out accuracy with the base in int8 vs float32;
//   - the torchvision zoo (test/torch/export.py, random weights with randomised BN statistics, as
//     the bench uses): top-1 agreement with float32 on generated images (below);
//   - each model's inference arena at batch 1 and 8, float32 and int8.
// The int8 models quantize their dense inputs too, and their conv2d inputs where int32 pays (the
// default config, Keras's activation quantizer, docs/int8.md "absmax" and "Which layers");
// --absmax: on every dense and conv2d layer; --weight-only: quantize('int8', { activationQuantizer:
// null }), the inputs stay float32.
// Usage: npm run build && node scripts/int8-accuracy.mjs [--weight-only] [--zoo-only | --emotion-only [--no-transfer]] [images per zoo model]
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importOnnx, importTfjsGraphModel, input, layers, model, optimizers, setSeed, tensor } from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';

const ROOT = new URL('..', import.meta.url).pathname;
const GRAPH_DIR = join(ROOT, 'test/fixtures/models');
const ZOO_DIR = process.env.EDGETUNE_BENCH_CACHE ?? join(tmpdir(), 'edgetune-bench-models');
const ZOO = ['mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0', 'resnet18', 'squeezenet1_1', 'shufflenet_v2_x0_5'];
const args = process.argv.slice(2);
const zooImages = Number(args.find((a) => /^\d+$/.test(a)) ?? 32);
const activationQuantizer = args.includes('--weight-only') ? null : args.includes('--absmax') ? 'absmax' : 'default';

// Every frozen dense / conv2d / depthwise layer of m in int8 (all layers frozen first).
export function quantizeAll(m) {
  for (const l of m.layers) l.trainable = false;
  return m.quantize('int8', { activationQuantizer });
}

const argmax = (d, off, n) => { let b = 0; for (let j = 1; j < n; j++) if (d[off + j] > d[off + b]) b = j; return b; };
export function agreement(a, b, classes) {
  let same = 0;
  const n = a.length / classes;
  for (let i = 0; i < n; i++) if (argmax(a, i * classes, classes) === argmax(b, i * classes, classes)) same++;
  return { same, n };
}

function arena(m, batch) {
  const p = m.planInference(batch);
  return { bytes: p.totalBytes, weights: p.breakdown.weights };
}
const kb = (b) => `${(b / 1024).toFixed(0)} KB`;
const arenaLine = (f, q) => [1, 8].map((b) => `b${b} ${kb(arena(f, b).bytes)} -> ${kb(arena(q, b).bytes)}`).join(', ') + ` (weights ${kb(arena(f, 1).weights)} -> ${kb(arena(q, 1).weights)})`;

const emotionGraph = async () => importTfjsGraphModel(JSON.parse(await readFile(join(GRAPH_DIR, 'emotion.json'), 'utf8')), (p) => readFile(join(GRAPH_DIR, p)), 'emotion.json');

// MNIST digits as the emotion model sees them in examples/transfer-emotion.mjs.
function digitsAs64(x28, n) {
  const inp = input({ shape: [28, 28, 1] });
  const prep = model({ inputs: inp, outputs: layers.resizing(64, 64).apply(layers.rescaling(2, { offset: -1 }).apply(inp)) });
  return prep.predict(tensor(x28, [n, 28, 28, 1]), { batchSize: 64 });
}

async function emotionAgreement(test) {
  const f = await emotionGraph();
  const q = quantizeAll(await emotionGraph());
  const x = digitsAs64(test.x, test.n);
  const yf = f.predict(x, { batchSize: 64 }).data, yq = q.predict(x, { batchSize: 64 }).data;
  const { same, n } = agreement(yf, yq, yf.length / test.n);
  console.log(`emotion: int8 vs float32 top-1 agreement ${same}/${n} = ${(100 * same / n).toFixed(2)}% (MNIST test digits, [-1, 1], 64x64)`);
  console.log(`emotion: inference arena ${arenaLine(f, q)}`);
}

// examples/transfer-emotion.mjs phase 1, with the frozen base in float32 or int8.
async function transferHead(train, test, int8) {
  setSeed(7);
  const base = await emotionGraph();
  const inp = input({ shape: [28, 28, 1] });
  const g = base.graph;
  const outputs = new Map([[g.inputs[0], layers.resizing(64, 64).apply(layers.rescaling(2, { offset: -1 }).apply(inp))]]);
  const classifier = g.nodes.filter((n) => n.layer?.kind === 'conv2d').at(-1);
  let features = null;
  for (const n of g.nodes) {
    if (!n.layer) continue;
    if (n.id === classifier.id) { features = outputs.get(n.inputs[0]); break; }
    const ins = n.inputs.map((i) => outputs.get(i));
    outputs.set(n.id, n.layer.apply(ins.length === 1 ? ins[0] : ins));
  }
  const pooled = layers.globalAveragePooling2d().apply(features);
  const m = model({ inputs: inp, outputs: layers.dense(10, { activation: 'softmax', name: 'digit_head' }).apply(pooled) });
  for (const l of base.layers) l.trainable = false;
  if (int8) m.quantize('int8', { activationQuantizer });
  m.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 32 });
  await m.fit(tensor(train.x, [train.n, 28, 28, 1]), tensor(train.y, [train.n]), { epochs: 20, batchSize: 32, seed: 1, verbose: 0 });
  const r = m.evaluate(tensor(test.x, [test.n, 28, 28, 1]), tensor(test.y, [test.n]), { batchSize: 64 });
  return { accuracy: r.accuracy, arena: m.plan.totalBytes };
}

// Generated images for the random-weight zoo: smooth random fields (a sum of 6 random 2-D
// sinusoids of 1-8 cycles per image, per channel) plus a little uniform noise, in [-2, 2], NHWC.
// They spread the random networks' top-1 over many classes, which pure noise does not.
function zooImagesNhwc(n, size, seed) {
  let s = seed >>> 0;
  const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
  const out = new Float32Array(n * size * size * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const waves = Array.from({ length: 6 }, () => ({ fx: 1 + 7 * rand(), fy: 1 + 7 * rand(), ph: 6.283 * rand(), a: 0.2 + 0.4 * rand() }));
      for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
        let v = 0;
        for (const w of waves) v += w.a * Math.sin(6.283 * (w.fx * x + w.fy * y) / size + w.ph);
        out[((i * size + y) * size + x) * 3 + c] = Math.max(-2, Math.min(2, v + 0.2 * (rand() - 0.5)));
      }
    }
  }
  return out;
}

async function zooAgreement(name) {
  const file = join(ZOO_DIR, `${name}.onnx`);
  if (!existsSync(file)) { console.log(`${name}: skipped (no ${file}; npm run bench exports it)`); return; }
  const bytes = new Uint8Array(readFileSync(file));
  const f = importOnnx(bytes, `${name}.onnx`);
  const q = quantizeAll(importOnnx(bytes, `${name}.onnx`));
  const x = tensor(zooImagesNhwc(zooImages, 224, 99), [zooImages, 224, 224, 3]);
  const yf = f.predict(x, { batchSize: 8 }).data, yq = q.predict(x, { batchSize: 8 }).data;
  const classes = yf.length / zooImages;
  const { same, n } = agreement(yf, yq, classes);
  const distinct = new Set(Array.from({ length: n }, (_, i) => argmax(yf, i * classes, classes))).size;
  let num = 0, den = 0;
  for (let i = 0; i < yf.length; i++) { num += (yq[i] - yf[i]) ** 2; den += yf[i] ** 2; }
  console.log(`${name}: int8 vs float32 top-1 agreement ${same}/${n} = ${(100 * same / n).toFixed(1)}% (${distinct} distinct float32 classes), output relative RMS error ${Math.sqrt(num / den).toExponential(2)}; arena ${arenaLine(f, q)}`);
}

if (!args.includes('--zoo-only')) {
  const digits = loadMnist({ allowSubset: true });
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const train = selectDigits(digits, all, 'train', { perClass: 20 });
  const test = selectDigits(digits, all, 'test');
  await emotionAgreement(test);
  if (args.includes('--no-transfer')) process.exit(0);
  const hf = await transferHead(train, test, false);
  const hq = await transferHead(train, test, true);
  console.log(`emotion transfer head (20 digits a class, 20 epochs, ${test.n} held out): float32 base ${(100 * hf.accuracy).toFixed(2)}%, int8 base ${(100 * hq.accuracy).toFixed(2)}% (training arena ${kb(hf.arena)} -> ${kb(hq.arena)})`);
}
if (!args.includes('--emotion-only')) for (const name of ZOO) await zooAgreement(name);
