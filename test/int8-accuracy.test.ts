// The accuracy cost of int8 frozen weights (issue 14 item 1; docs/int8.md), against the float32
// model's own predictions on held-out inputs: the emotion model (TF.js graph model; its float32
// import checked against TF.js, test/reference/tfjs-graph-exec.ts) on MNIST test digits fed as
// examples/transfer-emotion.mjs feeds them ([-1, 1], 64x64), and the bundled MNIST CNN base on
// held-out digits 0-4. Both int8 models must run the
// int8 kernels (no f32 copy of a kernel). The thresholds sit below the measured agreement
// (scripts/int8-accuracy.mjs: emotion 98.55% of 2004 digits, MNIST CNN 100%).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importTfjsGraphModel, input, layers, loadModel, model, tensor, type Model } from '../dist/node.js';
import { loadMnist, selectDigits } from '../dist/examples.js';
import { decodeWeights, runGraph } from './reference/tfjs-graph-exec';
import { tf } from './tfjs';

const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;
const HELD_OUT = 300;

function top1(d: ArrayLike<number>, classes: number): number[] {
  return Array.from({ length: d.length / classes }, (_, i) => {
    let b = 0;
    for (let j = 1; j < classes; j++) if (d[i * classes + j] > d[i * classes + b]) b = j;
    return b;
  });
}
const agreement = (a: number[], b: number[]) => a.filter((v, i) => v === b[i]).length / a.length;

type Mode = 'absmax' | null;
// quantize('int8') with no option is the default config (absmax inputs for dense, and for conv2d
// where int32 pays); null is weight-only.
function quantizeAll(m: Model, mode: Mode): Model {
  for (const l of m.layers) l.trainable = false;
  return mode === 'absmax' ? m.quantize('int8') : m.quantize('int8', { activationQuantizer: null });
}

function int8Ops(m: Model): string[] {
  return m.plan.programs.forward!.ops.map((o) => o.op).filter((op) => op.includes('_i8') || op.includes('_q8') || op === 'dequantize_i8');
}

const MODES: Mode[] = ['absmax', null];

describe('int8 top-1 agreement with float32 on held-out inputs', () => {
  const digits = loadMnist({ allowSubset: true });

  it.each(MODES)('emotion (int8, activationQuantizer %s) agrees with float32 on >= 97% of 300 MNIST test digits at 64x64', async (mode) => {
    const test = selectDigits(digits, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'test');
    const n = Math.min(HELD_OUT, test.n);
    const inp = input({ shape: [28, 28, 1] });
    const prep = model({ inputs: inp, outputs: layers.resizing(64, 64).apply(layers.rescaling(2, { offset: -1 }).apply(inp)) });
    const x = prep.predict(tensor(test.x.subarray(0, n * 784), [n, 28, 28, 1]), { batchSize: 50 });
    const json = JSON.parse(readFileSync(join(MODELS, 'emotion.json'), 'utf8'));
    const shards = json.weightsManifest.map((g: { paths: string[] }) => g.paths.map((p: string) => readFileSync(join(MODELS, p))));
    const load = () => importTfjsGraphModel(json, async (p: string) => new Uint8Array(readFileSync(join(MODELS, p))), 'emotion.json');
    const f = await load();
    const q = quantizeAll(await load(), mode);
    const yf = f.predict(x, { batchSize: 50 }).data;
    const yq = q.predict(x, { batchSize: 50 }).data;
    const classes = yf.length / n;
    // The float32 model is TF.js's model: same top-1 on the first 8 digits (TF.js's executor is
    // too slow here for all 300).
    const theirs = runGraph(json, decodeWeights(json, shards), tf.tensor(x.data.subarray(0, 8 * 4096), [8, 64, 64, 1])).dataSync();
    expect(top1(yf.subarray(0, 8 * classes), classes)).toEqual(top1(theirs, classes));
    if (mode === null) {
      // Weight-only: its inference plan packs the conv kernels once at a byte a weight
      // (docs/int8.md); the 3x3 stride-1 32 -> 64 one runs as Winograd on q (conv2d_winograd_i8);
      // each 3x3 depthwise runs inside the 1x1 after it (sepconv_i8) and the 3x3 head inside the
      // mean (conv_gap_i8).
      expect(int8Ops(q).sort()).toEqual([...Array(3).fill('conv2d_forward_i8_packed'), 'conv2d_winograd_i8', ...Array(4).fill('sepconv_i8'), 'conv_gap_i8'].sort());
    } else {
      // The default config: 7 of the 9 conv2d layers (3 plain, 4 pointwise) run the int32 product
      // on their quantized rows, the 4 pointwise ones with the weight-only depthwise before them
      // inside (sepconv_q8), the others alone (conv2d_q8); the 1-channel 3x3 stem (9 x 32 products
      // a patch) and the 7-filter head stay weight-only (docs/int8.md "Which layers").
      expect(int8Ops(q).sort()).toEqual([...Array(3).fill('conv2d_q8'), ...Array(4).fill('sepconv_q8'), 'conv2d_forward_i8_packed', 'conv_gap_i8'].sort());
    }
    expect(agreement(top1(yq, classes), top1(yf, classes))).toBeGreaterThanOrEqual(0.97);
    expect(new Set(top1(yf, classes)).size).toBeGreaterThan(1); // the reference is not one class everywhere
  }, 120_000);

  it.each(MODES)('the MNIST CNN base (int8, activationQuantizer %s) agrees with its float32 self on >= 99% of 300 held-out digits 0-4', async (mode) => {
    const base = new URL('../models/mnist-cnn-base-0to4.safetensors', import.meta.url).pathname;
    const test = selectDigits(digits, [0, 1, 2, 3, 4], 'test');
    const n = Math.min(HELD_OUT, test.n);
    const x = tensor(test.x.subarray(0, n * 784), [n, 28, 28, 1]);
    const f = await loadModel(base);
    const q = quantizeAll(await loadModel(base), mode);
    const yf = f.predict(x, { batchSize: 50 }).data, yq = q.predict(x, { batchSize: 50 }).data;
    expect(int8Ops(q).length).toBeGreaterThan(0);
    expect(int8Ops(q)).not.toContain('dequantize_i8');
    const classes = yf.length / n;
    expect(agreement(top1(yq, classes), top1(yf, classes))).toBeGreaterThanOrEqual(0.99);
    expect(agreement(top1(yf, classes), Array.from(test.y.subarray(0, n)))).toBeGreaterThan(0.9); // the float model is a real classifier
  }, 120_000);
});
