// model.quantize('int8', { activationQuantizer: 'absmax' }) (docs/int8.md "absmax"): Keras 3's int8
// layers with the default AbsMaxQuantizer on their inputs (Dense._int8_call: the inputs quantized per
// row at run time, int8 x int8 -> int32, one division by the product of the scales), against an
// independent numpy reference of that formula (test/torch/absmax_int8.py, run by /usr/bin/python3):
// dense at batch 1 and 8, conv2d 1x1 and 3x3 at strides 1 and 2 with padding, with and without
// bias, ReLU / ReLU6 / linear. Bit for bit. Also: the mode saved and loaded, shown by the summary,
// kept by setWeights; a head trained on an absmax base (the training plan's forward) against the
// same head trained on the base's predictions; absmax is the default, null weight-only; bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomArray } from './support/harness';
import { expectClose, expectSame } from './support/close';
import { layers, sequential, optimizers, tensor, setSeed, loadModel, verifyPlan, threadsReady, InvalidArgumentError, ModelFormatError, readSafetensors, writeSafetensors, type Layer, type Model } from '../dist/node.js';

const SCRIPT = new URL('./torch/absmax_int8.py', import.meta.url).pathname;
const PYTHON = process.env.EDGETUNE_PYTHON ?? '/usr/bin/python3';

interface RefCase {
  kind: 'dense' | 'conv'; x: number[]; xShape: number[]; q: number[]; ks: number[]; b: number[] | null; act: string;
  kh?: number; kw?: number; sh?: number; sw?: number; padding?: string;
}

function numpy(cases: RefCase[]): number[][] {
  const out = execFileSync(PYTHON, [SCRIPT], { input: JSON.stringify(cases), maxBuffer: 256 << 20, timeout: 300_000 });
  return JSON.parse(out.toString()) as number[][];
}

const int8Of = (l: Layer) => (l as unknown as { int8: { q: Int8Array; scale: Float32Array; activationQuantizer?: string } | null }).int8;

// The numpy case of an absmax layer l on input x (shape with the batch).
function refCase(l: Layer, x: Float32Array, xShape: number[]): RefCase {
  const k = int8Of(l)!;
  expect(k.activationQuantizer, `${l.name} is absmax`).toBe('absmax');
  const w = l.getWeights();
  const c = l.config as Record<string, unknown>;
  const conv = l.kind === 'conv2d';
  const [kh, kw] = conv ? (c.kernelSize as number[]) : [1, 1];
  const [sh, sw] = conv ? (c.strides as number[]) : [1, 1];
  return {
    kind: conv ? 'conv' : 'dense', x: Array.from(x), xShape, q: Array.from(k.q), ks: Array.from(k.scale), b: w.length > 1 ? Array.from(w[1]) : null,
    act: String(c.activation), kh, kw, sh, sw, padding: conv ? String(c.padding) : undefined,
  };
}

function denseModel(k: number, n: number, activation: string, useBias: boolean): Model {
  setSeed(3 + k + n);
  const m = sequential([layers.dense(n, { activation, useBias, inputShape: [k], name: 'd' })]);
  m.freeze('d');
  // Biases drawn too (zeros would hide their add); large enough to cross ReLU6's 6.
  if (useBias) m.getLayer('d').setWeights([m.getLayer('d').getWeights()[0], randomArray(n, 7 + n, -2, 2)]);
  return m.quantize('int8', { activationQuantizer: 'absmax' });
}

function convModel(shape: number[], filters: number, kernelSize: number, strides: number, padding: string, activation: string, useBias: boolean): Model {
  setSeed(5 + filters + kernelSize);
  const m = sequential([layers.conv2d({ filters, kernelSize, strides, padding, activation, useBias, inputShape: shape, name: 'c' })]);
  m.freeze('c');
  if (useBias) m.getLayer('c').setWeights([m.getLayer('c').getWeights()[0], randomArray(filters, 9 + filters, -1, 1)]);
  return m.quantize('int8', { activationQuantizer: 'absmax' });
}

// Inputs with rows of very different ranges (a row's scale is its own), one row all zero.
function rowsOf(batch: number, per: number, seed: number, scale = 3): Float32Array {
  const x = randomArray(batch * per, seed, -scale, scale);
  for (let r = 0; r < batch; r++) for (let i = 0; i < per; i++) x[r * per + i] *= [1, 0.01, 40, 0][r % 4];
  return x;
}

describe("quantize('int8', { activationQuantizer: 'absmax' }): the numpy reference's bits", () => {
  it('dense at batch 1 and 8: ReLU with bias, linear without, ReLU6 over 1280 inputs', () => {
    const cases: { m: Model; x: Float32Array; shape: number[]; batch: number }[] = [];
    for (const [k, n, act, bias] of [[37, 19, 'relu', true], [64, 8, 'linear', false], [1280, 10, 'relu6', true], [1, 3, 'linear', true]] as const) {
      for (const batch of [1, 8]) {
        const m = denseModel(k, n, act, bias);
        cases.push({ m, x: rowsOf(batch, k, k + batch), shape: [batch, k], batch });
      }
    }
    const want = numpy(cases.map(({ m, x, shape }) => refCase(m.getLayer('d'), x, shape)));
    cases.forEach(({ m, x, shape, batch }, i) => {
      const got = m.predict(tensor(x, shape), { batchSize: batch }).data;
      expectSame(got, want[i], `dense case ${i} (${shape}, ${m.getLayer('d').config.activation})`);
    });
  });
});

describe('conv2d with the absmax quantizer: each output position\'s im2col row quantized on its own', () => {
  it('1x1 (pointwise, strided in place, padded) and 3x3 / 5x5 at strides 1 and 2 with padding, the numpy reference\'s bits', () => {
    const cases: { m: Model; x: Float32Array; shape: number[] }[] = [];
    const specs: [number[], number, number, number, string, string, boolean, number?][] = [
      [[6, 5, 16], 24, 1, 1, 'valid', 'relu', true], // pointwise: one GEMM over every pixel
      [[9, 7, 12], 10, 1, 2, 'valid', 'linear', false], // strided 1x1: rows read in place
      [[4, 4, 9], 8, 1, 2, 'same', 'relu6', true],
      [[7, 6, 5], 9, 3, 1, 'same', 'relu', true],
      [[9, 8, 4], 17, 3, 2, 'same', 'linear', true],
      [[8, 8, 3], 16, 3, 2, 'valid', 'relu', false],
      [[11, 9, 6], 12, 5, 2, 'same', 'relu6', true],
      // gender's few-channel first layers (1 -> 8, 8 -> 8 3x3 'same', ReLU), batch 1 and 8: each
      // patch gathered from x and quantized as it goes (conv-q8.ts)
      [[12, 10, 1], 8, 3, 1, 'same', 'relu', true, 1], [[11, 9, 1], 8, 3, 2, 'same', 'relu', true, 8],
      [[10, 12, 8], 8, 3, 1, 'same', 'relu', true, 8], [[9, 9, 8], 8, 3, 2, 'same', 'relu', false, 1],
    ];
    for (const [i, [shape, filters, ks, st, pad, act, bias, batch = 2]] of specs.entries()) {
      const m = convModel(shape, filters, ks, st, pad, act, bias);
      const per = shape[0] * shape[1] * shape[2];
      const x = randomArray(batch * per, 90 + i, -2, 2);
      for (let j = 0; j < shape[2] * 5; j++) x[(batch - 1) * per + j] *= 30; // a few large pixels in the last image
      cases.push({ m, x, shape: [batch, ...shape] });
    }
    const want = numpy(cases.map(({ m, x, shape }) => refCase(m.getLayer('c'), x, shape)));
    cases.forEach(({ m, x, shape }, i) => {
      const got = m.predict(tensor(x, shape)).data;
      expectSame(got, want[i], `conv case ${i} (${JSON.stringify(specs[i])})`);
    });
  });

  it('a batch norm after an absmax conv is not folded into it, and a depthwise layer stays weight-only', () => {
    setSeed(8);
    const m = sequential([
      layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', inputShape: [6, 6, 3], name: 'c' }),
      layers.batchNormalization({ name: 'bn' }),
      layers.depthwiseConv2d({ kernelSize: 3, name: 'dw' }),
    ]);
    m.freeze('dw');
    m.quantize('int8', { activationQuantizer: 'absmax' });
    expect(int8Of(m.getLayer('c'))!.activationQuantizer).toBe('absmax');
    expect(int8Of(m.getLayer('dw'))!.activationQuantizer).toBeUndefined();
    const ops = m.planInference(2).programs.forward!.ops.map((o) => o.op);
    expect(ops).toContain('conv2d_q8');
    expect(ops).toContain('bn_forward_infer');
  });
});

describe('an absmax base in training plans (q packed per call) and under a trainable head', () => {
  const build = (withHead: boolean, compiled: boolean) => {
    setSeed(21);
    const m = sequential([
      layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, activation: 'relu', inputShape: [9, 9, 2], name: 'c1' }),
      layers.flatten(),
      layers.dense(10, { activation: 'relu', name: 'd1' }),
      ...(withHead ? [layers.dense(4, { activation: 'softmax', name: 'head' })] : []),
    ]);
    m.freeze('d1');
    m.quantize('int8', { activationQuantizer: 'absmax' });
    if (compiled) m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    return m;
  };
  const x = tensor(randomArray(16 * 162, 5, 0, 1), [16, 9, 9, 2]);
  const y = tensor(Int32Array.from({ length: 16 }, (_, i) => i % 4), [16]);

  it('the training plan packs q per call and predicts the inference plan\'s bits', () => {
    const lean = build(true, false);
    const want = lean.predict(x, { batchSize: 8 }).data;
    expect(lean.plan.programs.prepare!.ops.filter((o) => o.op === 'pack_b_q8').map((o) => o.layer)).toEqual(['c1', 'd1']);
    const q = build(true, true);
    expect(Array.from(q.predict(x, { batchSize: 8 }).data)).toEqual(Array.from(want));
    const ops = q.plan.programs.forward!.ops.map((o) => [o.op, o.layer]);
    expect(ops).toEqual(expect.arrayContaining([['pack_b_q8', 'c1'], ['conv2d_q8', 'c1'], ['pack_b_q8', 'd1'], ['gemm_q8', 'd1']]));
    expect(verifyPlan(q.plan)).toEqual([]);
    expect(verifyPlan(lean.plan)).toEqual([]);
  });

  it('a head fit on the absmax base learns what the same head fit on the base\'s predictions learns', async () => {
    const features = build(false, false).predict(x, { batchSize: 8 });
    const q = build(true, true);
    setSeed(22);
    const head = sequential([layers.dense(4, { activation: 'softmax', inputShape: [10], name: 'head' })]);
    head.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    head.getLayer('head').setWeights(q.getLayer('head').getWeights());
    const hq = await q.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const hh = await head.fit(features, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expect(hq.history.loss).toEqual(hh.history.loss);
    expectSame(q.getLayer('head').getWeights()[0], head.getLayer('head').getWeights()[0], 'head kernel');
    expect(hq.history.loss[2]).toBeLessThan(hq.history.loss[0]);
  });

  it('the gradient through a frozen absmax layer to a trainable layer below uses the dequantized kernel (Keras\'s custom gradient)', async () => {
    setSeed(30);
    const m = sequential([
      layers.dense(4, { useBias: false, inputShape: [3], name: 'below' }),
      layers.dense(5, { useBias: false, name: 'mid' }),
    ]);
    m.getLayer('mid').trainable = false;
    m.quantize('int8', { layers: ['mid'], activationQuantizer: 'absmax' });
    const lr = 0.1, n = 6;
    m.compile({ optimizer: optimizers.sgd({ learningRate: lr }), loss: 'meanSquaredError', batchSize: n });
    const xv = randomArray(n * 3, 41, -1, 1), yv = randomArray(n * 5, 43, -1, 1);
    const w1 = m.getLayer('below').getWeights()[0];
    const z = m.predict(tensor(xv, [n, 3])).data; // the absmax forward, checked against numpy above
    const k = int8Of(m.getLayer('mid'))!;
    const wq = Float64Array.from(k.q, (v, i) => v / k.scale[i % 5]);
    await m.fit(tensor(xv, [n, 3]), tensor(yv, [n, 5]), { epochs: 1, batchSize: n, shuffle: false, verbose: 0 });
    // dL/dz = 2 (z - y) / (n * 5); dL/dh = dL/dz . wq^T; dL/dw1 = x^T . dL/dh
    const want = Float64Array.from(w1, (w, idx) => {
      const i = Math.floor(idx / 4), j = idx % 4;
      let g = 0;
      for (let r = 0; r < n; r++) {
        let dh = 0;
        for (let o = 0; o < 5; o++) dh += (2 * (z[r * 5 + o] - yv[r * 5 + o]) / (n * 5)) * wq[j * 5 + o];
        g += xv[r * 3 + i] * dh;
      }
      return w - lr * g;
    });
    expectClose(m.getLayer('below').getWeights()[0], want, 1e-5, 1e-6, 'below kernel after one step');
    expect(Math.max(...Array.from(want, (v, i) => Math.abs(v - w1[i])))).toBeGreaterThan(1e-3); // it moved
  });

  it('gives the same bits on 1, 2 and 3 threads, conv2d_q8 split by bands of 4 positions that the workers run', async () => {
    // A 3x3 conv of 16 -> 32 channels over 24x24 at batch 4 (2304 im2col rows of 144: tiles long
    // enough for a worker to wake and take some: split by bands of 4 positions, job kind 20) and a
    // dense 18432 -> 32 (the flattened maps, 4 rows; its k past a worker's scratch: one thread).
    const big = () => {
      setSeed(12);
      const m = sequential([
        layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [24, 24, 16], name: 'c' }),
        layers.flatten(),
        layers.dense(32, { activation: 'relu', name: 'd' }),
      ]);
      m.freeze('d');
      return m.quantize('int8', { activationQuantizer: 'absmax' });
    };
    const xb = tensor(randomArray(4 * 24 * 24 * 16, 31, -1, 1), [4, 24, 24, 16]);
    const m = big();
    m.planInference(4, undefined, 1);
    const one = Array.from(m.predict(xb, { batchSize: 4 }).data);
    expect(m.plan.programs.forward!.ops.map((o) => o.op)).toEqual(['conv2d_q8', 'gemm_q8']);
    for (const threads of [2, 3]) {
      m.planInference(4, undefined, threads);
      let runs = 0;
      for (; runs < 40 && (runs < 2 || m.threads.workerTiles === 0); runs++) {
        if (runs === 1) await threadsReady();
        expect(Array.from(m.predict(xb, { batchSize: 4 }).data), `${threads} threads, run ${runs}`).toEqual(one);
      }
      expect(m.threads.threads).toBe(threads);
      expect(m.threads.workerTiles, 'tiles the workers ran').toBeGreaterThan(0);
      const jobs = (m as unknown as { arena: { executor: { splitJobs: Record<string, number> | null } } }).arena.executor.splitJobs;
      expect(jobs?.['conv2d q8'], 'the conv\'s gathered products split').toBeGreaterThanOrEqual(runs);
    }
  });
});

describe('the absmax mode as model state', () => {
  it("absmax is the default for dense (Keras 3's Int8QuantizationConfig); null gives no mode and the weight-only bits", () => {
    const x = rowsOf(4, 7, 1);
    setSeed(3);
    const byDefault = sequential([layers.dense(5, { inputShape: [7], name: 'd' })]);
    byDefault.freeze('d');
    const named = sequential([layers.dense(5, { inputShape: [7], name: 'd' })]);
    named.freeze('d');
    named.getLayer('d').setWeights(byDefault.getLayer('d').getWeights());
    byDefault.quantize('int8');
    named.quantize('int8', { activationQuantizer: 'absmax' });
    expect(int8Of(byDefault.getLayer('d'))!.activationQuantizer).toBe('absmax');
    expectSame(byDefault.predict(tensor(x, [4, 7])).data, named.predict(tensor(x, [4, 7])).data, 'default = absmax');
    // a dense layer of 2 units is absmax by default too: Keras quantizes every Dense
    const tiny = sequential([layers.dense(2, { inputShape: [3], name: 't' })]);
    tiny.freeze('t');
    expect(int8Of(tiny.quantize('int8').getLayer('t'))!.activationQuantizer).toBe('absmax');
    const a = sequential([layers.dense(5, { inputShape: [7], name: 'd' })]);
    a.freeze('d');
    a.quantize('int8', { activationQuantizer: null });
    expect(int8Of(a.getLayer('d'))!.activationQuantizer).toBeUndefined();
    const w = a.getLayer('d').getWeights();
    const want = Array.from({ length: 20 }, (_, j) => {
      const r = Math.floor(j / 5), c = j % 5;
      let s = 0;
      for (let p = 0; p < 7; p++) s = Math.fround(s + Math.fround(x[r * 7 + p] * int8Of(a.getLayer('d'))!.q[p * 5 + c]));
      return Math.fround(Math.fround(s / int8Of(a.getLayer('d'))!.scale[c]) + w[1][c]);
    });
    expectSame(a.predict(tensor(x, [4, 7])).data, want, 'weight-only dense');
  });

  it("the default takes conv2d inputs only with >= 16 filters and >= 1024 products a patch; 'absmax' takes every conv2d's; the bits are each layer's own mode", async () => {
    // stem 1 -> 16 3x3 (144 products a patch: weight-only), mid 16 -> 8 3x3 (8 filters:
    // weight-only), wide 8 -> 32 3x3 (72 x 32: absmax), few 32 -> 16 1x1 (512: weight-only), edge
    // 16 -> 64 1x1 (1024, the bound: absmax), head dense 4 (absmax, as every Dense)
    const build = () => {
      setSeed(21);
      const m = sequential([
        layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [9, 9, 1], name: 'stem' }),
        layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'mid' }),
        layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'wide' }),
        layers.conv2d({ filters: 16, kernelSize: 1, activation: 'relu', name: 'few' }),
        layers.conv2d({ filters: 64, kernelSize: 1, name: 'edge' }),
        layers.flatten({ name: 'f' }),
        layers.dense(4, { name: 'head' }),
      ]);
      for (const l of m.layers) l.trainable = false;
      return m;
    };
    const modes = (m: Model) => Object.fromEntries(m.layers.filter((l) => int8Of(l)).map((l) => [l.name, int8Of(l)!.activationQuantizer ?? 'weight-only']));
    const byDefault = build().quantize('int8');
    expect(modes(byDefault)).toEqual({ stem: 'weight-only', mid: 'weight-only', wide: 'absmax', few: 'weight-only', edge: 'absmax', head: 'absmax' });
    expect(modes(build().quantize('int8', { activationQuantizer: 'default' }))).toEqual(modes(byDefault));
    const all = build().quantize('int8', { activationQuantizer: 'absmax' });
    expect(Object.values(modes(all)).every((v) => v === 'absmax')).toBe(true);
    // the default model's bits = a model whose layers were each given that mode by name (each
    // mode's formula is checked against numpy above and in test/int8.test.ts)
    const byName = build();
    for (const l of byName.layers) if (l.kind !== 'flatten') l.quantize('int8', { activationQuantizer: ['stem', 'mid', 'few'].includes(l.name) ? null : 'absmax' });
    const x = randomArray(3 * 81, 17, -2, 2);
    expectSame(byDefault.predict(tensor(x, [3, 9, 9, 1])).data, byName.predict(tensor(x, [3, 9, 9, 1])).data, 'default = per-layer modes');
    expect(Array.from(all.predict(tensor(x, [3, 9, 9, 1])).data)).not.toEqual(Array.from(byDefault.predict(tensor(x, [3, 9, 9, 1])).data));
    // the numpy reference for the absmax layer 'wide' on its input (the model's 'mid' output)
    const upTo = build();
    const cut = sequential(upTo.layers.slice(0, 2));
    for (const l of cut.layers) l.quantize('int8', { activationQuantizer: null });
    const mid = cut.predict(tensor(x, [3, 9, 9, 1])).data;
    const wide = sequential([byDefault.getLayer('wide')]);
    const [want] = numpy([refCase(byDefault.getLayer('wide'), mid, [3, 9, 9, 8])]);
    expectSame(wide.predict(tensor(mid, [3, 9, 9, 8])).data, want, 'wide (absmax by default) = numpy');
    // saved per layer, loaded as saved
    expect(JSON.parse(readSafetensors(byDefault.toBytes()).metadata.int8_activation_quantizer)).toEqual({ wide: 'absmax', edge: 'absmax', head: 'absmax' });
    expect(modes(await loadModel(byDefault.toBytes()))).toEqual(modes(byDefault));
  });

  it('is saved and loaded (safetensors metadata), giving the same bits; kept through setWeights', async () => {
    const m = denseModel(33, 12, 'relu', true);
    const x = rowsOf(8, 33, 4);
    const before = m.predict(tensor(x, [8, 33])).data;
    const bytes = m.toBytes();
    expect(JSON.parse(readSafetensors(bytes).metadata.int8_activation_quantizer)).toEqual({ d: 'absmax' });
    const back = await loadModel(bytes);
    expect(int8Of(back.getLayer('d'))!.activationQuantizer).toBe('absmax');
    expectSame(back.predict(tensor(x, [8, 33])).data, before, 'loaded');
    back.getLayer('d').setWeights(back.getLayer('d').getWeights());
    expect(int8Of(back.getLayer('d'))!.activationQuantizer).toBe('absmax');
    // quantize again without the option keeps the mode; with null, weight-only (a new plan, other
    // bits). (setWeights above quantized q / scale again: scales within an ulp, so a new reference.)
    const after = back.predict(tensor(x, [8, 33])).data.slice();
    back.quantize('int8');
    expect(int8Of(back.getLayer('d'))!.activationQuantizer).toBe('absmax');
    expectSame(back.predict(tensor(x, [8, 33])).data, after, 'quantized again, mode kept');
    back.quantize('int8', { activationQuantizer: null });
    expect(int8Of(back.getLayer('d'))!.activationQuantizer).toBeUndefined();
    expect(Array.from(back.predict(tensor(x, [8, 33])).data)).not.toEqual(Array.from(after));
    back.quantize('int8', { activationQuantizer: 'absmax' });
    expect(back.summary()).toMatch(/d \(dense\).*frozen, int8 absmax/);
    // edgetune inspect shows it too, in its table and its JSON
    const file = join(mkdtempSync(join(tmpdir(), 'absmax-')), 'm.safetensors');
    writeFileSync(file, bytes);
    const cli = new URL('../dist/cli.js', import.meta.url).pathname;
    expect(execFileSync(process.execPath, [cli, 'inspect', file], { encoding: 'utf8' })).toMatch(/d \(dense\).*frozen, int8 absmax/);
    const json = JSON.parse(execFileSync(process.execPath, [cli, 'inspect', file, '--json'], { encoding: 'utf8' }));
    expect(json.layers[0]).toMatchObject({ name: 'd', int8: true, activationQuantizer: 'absmax' });
  });

  it('a lite process (edgetune/lite) runs a loaded absmax dense model with the full build\'s bits, batch 1 and 5', () => {
    const m = sequential([layers.dense(16, { inputShape: [20], activation: 'relu', name: 'd1' }), layers.dense(3, { name: 'head' })]);
    m.freeze('d1');
    m.quantize('int8', { activationQuantizer: 'absmax' });
    const x = rowsOf(5, 20, 6);
    const want = [1, 5].map((b) => Array.from(m.predict(tensor(x.slice(0, 20 * b), [b, 20]), { batchSize: b }).data));
    const script = `
      const et = await import(${JSON.stringify(new URL('../dist/lite.js', import.meta.url).href)});
      await et.ready();
      const chunks = [];
      for await (const c of process.stdin) chunks.push(c);
      const { model, x } = JSON.parse(Buffer.concat(chunks).toString());
      const m = await et.loadModel(Uint8Array.from(model));
      const out = [1, 5].map((b) => Array.from(m.predict(et.tensor(Float32Array.from(x.slice(0, 20 * b)), [b, 20]), { batchSize: b }).data));
      process.stdout.write(JSON.stringify({ out }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { input: JSON.stringify({ model: Array.from(m.toBytes()), x: Array.from(x) }), encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { out: number[][] };
    got.out.forEach((o, i) => expectSame(o, want[i], `lite batch ${[1, 5][i]}`));
  });

  it('refuses a bad value naming the model or layer, and a file whose metadata names a wrong layer or value', async () => {
    const m = sequential([layers.dense(5, { inputShape: [7], name: 'd' }), layers.dense(2, { name: 'head' })]);
    m.freeze('d');
    expect(() => m.quantize('int8', { activationQuantizer: 'minmax' as never })).toThrow(InvalidArgumentError);
    expect(() => m.quantize('int8', { activationQuantizer: 'minmax' as never })).toThrow(/activationQuantizer must be 'default'.*'absmax'.*"minmax"/);
    expect(() => m.getLayer('d').quantize('int8', { activationQuantizer: 1 as never })).toThrow(/layer d quantize: activationQuantizer/);
    expect(int8Of(m.getLayer('d'))).toBeNull(); // nothing changed
    m.quantize('int8', { activationQuantizer: 'absmax' });
    const file = readSafetensors(m.toBytes());
    const rewrite = (meta: string) => writeSafetensors([...file.tensors].map(([name, t]) => ({ name, ...t })), { ...file.metadata, int8_activation_quantizer: meta });
    await expect(loadModel(rewrite('{"head":"absmax"}'))).rejects.toThrow(ModelFormatError);
    await expect(loadModel(rewrite('{"head":"absmax"}'))).rejects.toThrow(/layer head/);
    await expect(loadModel(rewrite('{"d":"minmax"}'))).rejects.toThrow(/layer d: activation quantizer must be 'absmax', got "minmax"/);
    await expect(loadModel(rewrite('[1]'))).rejects.toThrow(ModelFormatError);
  });

  it('refuses, at plan time and naming the layer, a product whose int32 sums could overflow (127 * 127 * k >= 2^31)', () => {
    const at = (k: number) => {
      const m = sequential([layers.dense(1, { inputShape: [k], name: 'wide' })]);
      m.freeze('wide');
      return m.quantize('int8', { activationQuantizer: 'absmax' });
    };
    expect(() => at(133_145).planInference(1)).toThrow(InvalidArgumentError);
    expect(() => at(133_145).planInference(1)).toThrow(/layer wide: an absmax int8 product over 133145 inputs can overflow/);
    expect(() => at(133_144).planInference(1)).not.toThrow();
  });
});
