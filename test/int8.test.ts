// int8 weights for frozen layers (issue 14, item 1; Keras 3 model.quantize('int8')), weight-only
// (activationQuantizer: null; the absmax default has test/int8-absmax*.test.ts): the
// dequantize_i8 kernel against its naive twin, the quantization's own guarantees, a frozen int8
// base computing exactly what a float model holding q / scale computes (forward and a head
// fine-tune), 1 byte a kernel weight in the arena, and the refusals.
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose, expectSame } from './support/close';
import { SIZES, ROWS } from './support/kernel-cases';
import { layers, sequential, optimizers, tensor, setSeed, loadModel, verifyPlan, readSafetensors, writeSafetensors, InvalidArgumentError, ModelFormatError, type Model } from '../dist/node.js';

describe('dequantize_i8', () => {
  it('y = q / scale per output channel, exactly n values written, for every tail', () => {
    const t = harness(64);
    for (const rows of ROWS) {
      for (const ch of SIZES) {
        const n = rows * ch;
        const q = Int8Array.from(randomArray(n, 3 * n + rows, -127.99, 127.99), (v) => Math.trunc(v));
        q[0] = -127;
        const scale = randomArray(ch, 7 * ch, 0.5, 300);
        const qp = t.alloc(Math.ceil(n / 4));
        new Int8Array(t.memory.buffer).set(q, qp);
        const sp = t.put(scale);
        const y = t.buf(n);
        t.k.dequantize_i8(y, qp, sp, rows, ch);
        expectSame(t.read(y, n), Array.from(q, (v, i) => Math.fround(v / scale[i % ch])), `rows=${rows} ch=${ch}`);
      }
    }
    expect(t.brokenGuards()).toEqual([]);
  });
});

function base(compiled = true): Model {
  setSeed(17);
  const m = sequential([
    layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', inputShape: [9, 9, 2], name: 'c1' }),
    layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: 'relu', name: 'dw' }),
    layers.flatten(),
    layers.dense(10, { activation: 'relu', name: 'd1' }),
    layers.dense(4, { activation: 'softmax', name: 'head' }),
  ]);
  m.freeze('d1');
  if (compiled) m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
  return m;
}

const x = tensor(randomArray(16 * 162, 5, 0, 1), [16, 9, 9, 2]);
const y = tensor(Int32Array.from({ length: 16 }, (_, i) => i % 4), [16]);

describe("model.quantize('int8')", () => {
  it('per-output-channel symmetric: |q| <= 127 with 127 reached in each channel, |w - q/scale| <= half a step', () => {
    const m = base();
    const before = m.layers.map((l) => l.getWeights());
    m.quantize('int8', { activationQuantizer: null });
    for (const [i, name] of [[0, 'c1'], [1, 'dw'], [3, 'd1']] as const) {
      const l = m.getLayer(name);
      const k = (l as unknown as { int8: { q: Int8Array; scale: Float32Array } }).int8;
      const w = before[i][0];
      const ch = k.scale.length;
      expect(ch).toBe(name === 'dw' ? 12 : name === 'c1' ? 6 : 10);
      const amax = new Float64Array(ch);
      w.forEach((v, j) => { amax[j % ch] = Math.max(amax[j % ch], Math.abs(v)); });
      const reached = new Set<number>();
      k.q.forEach((q, j) => {
        expect(Math.abs(q)).toBeLessThanOrEqual(127);
        if (Math.abs(q) === 127) reached.add(j % ch);
        expect(Math.abs(w[j] - q / k.scale[j % ch])).toBeLessThanOrEqual(0.5 / k.scale[j % ch] + 1e-6);
      });
      expect(reached.size).toBe(ch);
      amax.forEach((a, c) => expect(k.scale[c]).toBeCloseTo(127 / a, 2));
      expectSame(l.getWeights()[0], Array.from(k.q, (q, j) => Math.fround(q / k.scale[j % ch])), `${name} kernel is q / scale`);
    }
    expect(m.getLayer('head').getWeights()).toEqual(before[4]); // trainable: untouched
  });

  it('an int8 base computes what a float base holding q / scale computes, predicting and fine-tuning the head; its kernels take 1 byte a weight', async () => {
    const q = base();
    const floatWeights = q.plan.breakdown.weights;
    q.quantize('int8', { activationQuantizer: null });
    const f = base();
    f.layers.forEach((l, i) => l.setWeights(q.layers[i].getWeights())); // the float twin: q / scale as f32
    expectClose(q.predict(x).data, f.predict(x).data, 1e-6, 1e-7, 'predict');
    const hq = await q.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const hf = await f.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expectClose(hq.history.loss, hf.history.loss, 1e-5, 1e-7, 'loss');
    expectClose(q.getLayer('head').getWeights()[0], f.getLayer('head').getWeights()[0], 1e-5, 1e-7, 'head kernel');
    expect(q.getLayer('c1').getWeights()).toEqual(f.getLayer('c1').getWeights()); // frozen
    const kernels = [q.getLayer('c1'), q.getLayer('dw'), q.getLayer('d1')].map((l) => l.weightSpecs[0].shape.reduce((a, b) => a * b, 1));
    const regions = q.plan.regions.filter((r) => r.kind === 'param');
    for (const [i, name] of ['c1/kernel', 'dw/depthwise_kernel', 'd1/kernel'].entries()) {
      expect(regions.find((r) => r.name === name)!.bytes).toBe(Math.ceil(kernels[i] / 16) * 16);
    }
    expect(q.plan.breakdown.weights).toBeLessThan(floatWeights - 2.5 * kernels.reduce((a, b) => a + b, 0));
    // The kernels read q themselves: no f32 copy of any kernel in the plan (docs/int8.md).
    const ops = q.plan.programs.forward!.ops;
    expect(ops.filter((o) => o.op === 'dequantize_i8')).toEqual([]);
    expect(ops.filter((o) => o.op.endsWith('_i8')).map((o) => [o.op, o.layer])).toEqual([['conv2d_forward_i8', 'c1'], ['depthwise_forward_i8', 'dw'], ['gemm_i8', 'd1']]);
    expect(q.plan.regions.filter((r) => r.name.endsWith('kernel f32'))).toEqual([]);
    expect(verifyPlan(q.plan)).toEqual([]);
  });

  it('an inference plan packs each int8 conv and dense kernel once, a byte a weight, and predicts the bits of the per-call int8 kernels', () => {
    const lean = base(false).quantize('int8', { activationQuantizer: null }); // never compiled: predict plans for inference
    const got = lean.predict(x, { batchSize: 16 }).data;
    const plan = lean.plan;
    expect(plan.mode).toBe('inference');
    // c1 (2 channels, 6 filters: float32 runs it direct) runs direct on its q widened once.
    expect(plan.programs.forward!.ops.filter((o) => o.op.includes('_i8')).map((o) => [o.op, o.layer])).toEqual([
      ['conv2d_direct_i8', 'c1'], ['depthwise_forward_i8', 'dw'], ['gemm_i8_packed', 'd1']]);
    // No f32 copy of a large int8 kernel: int8 panels (k x roundUp(n, 8) bytes), never pack_b's
    // floats; only the few-channel c1's 108 weights widened to f32 (432 bytes).
    expect(plan.programs.prepare!.ops.filter((o) => o.op.startsWith('pack_b') || o.op === 'widen_i8').map((o) => [o.op, o.layer])).toEqual([
      ['widen_i8', 'c1'], ['pack_b_i8', 'd1'], ['pack_b', 'head']]);
    const bytes = (name: string, kind: string) => plan.regions.find((r) => r.kind === 'derived' && r.name.startsWith(`${name} ${kind}`))!.bytes;
    expect([bytes('c1', 'widened'), bytes('d1', 'packed')]).toEqual([3 * 3 * 2 * 6 * 4, Math.ceil((5 * 5 * 12 * 16) / 16) * 16]);
    expect(verifyPlan(plan)).toEqual([]);
    // The compiled twin's training plan reads q per call (conv2d_forward_i8, gemm_i8): the same bits.
    const q = base().quantize('int8', { activationQuantizer: null });
    const want = q.predict(x, { batchSize: 16 }).data;
    expect(q.plan.programs.forward!.ops.map((o) => o.op)).toEqual(expect.arrayContaining(['conv2d_forward_i8', 'gemm_i8']));
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(new Set(got).size).toBeGreaterThan(16); // not a constant output
  });

  it('an inference plan gives a deep int8 im2col convolution of 64 filters chunks of at least 128 positions (each chunk widens every block of panels once), with the bits of the per-call kernels', () => {
    // 3x3x128 kernel: K = 1152, so the 256 KB im2col limit alone allows 56 positions a chunk.
    // Dilated, so not Winograd (conv2d_winograd_i8 takes the undilated stride-1 3x3 ones).
    const deep = (compiled: boolean) => {
      setSeed(5);
      const m = sequential([
        layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', dilationRate: 2, inputShape: [12, 12, 128], name: 'c' }),
        layers.flatten(),
        layers.dense(3, { name: 'head' }),
      ]);
      m.freeze('c');
      if (compiled) m.compile({ optimizer: optimizers.sgd({ learningRate: 0.01 }), loss: 'meanSquaredError', batchSize: 2 });
      return m.quantize('int8', { layers: ['c'], activationQuantizer: null });
    };
    const input = tensor(randomArray(2 * 12 * 12 * 128, 9, -1, 1), [2, 12, 12, 128]);
    const lean = deep(false);
    const got = lean.predict(input, { batchSize: 2 }).data;
    const op = lean.plan.programs.forward!.ops.find((o) => o.op === 'conv2d_forward_i8_packed')!;
    expect(op.args.chunkRows).toBe(128); // of 2 * 144 positions
    expect(verifyPlan(lean.plan)).toEqual([]);
    const q = deep(true);
    const want = q.predict(input, { batchSize: 2 }).data;
    expect(q.plan.programs.forward!.ops.find((o) => o.op === 'conv2d_forward_i8')!.args.chunkRows).toBe(56);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('refuses a trainable layer, a layer with no int8 kernel and a model with nothing frozen; an int8 layer cannot be unfrozen', async () => {
    const m = base();
    expect(() => m.quantize('int8', { layers: ['c1', 'head'] })).toThrow(InvalidArgumentError);
    expect(() => m.quantize('int8', { layers: ['c1', 'head'] })).toThrow(/layer head is trainable; freeze it first/);
    const flat = m.layers[2].name;
    expect(() => m.quantize('int8', { layers: [flat] })).toThrow(new RegExp(`layer ${flat} \\(flatten\\) has no int8 kernel`));
    expect(() => m.getLayer('head').quantize('int8')).toThrow(/layer head is trainable/);
    expect(m.layers.every((l) => (l as unknown as { int8: unknown }).int8 === null)).toBe(true); // nothing quantized
    setSeed(1);
    const open = sequential([layers.dense(3, { inputShape: [4] })]);
    expect(() => open.quantize('int8')).toThrow(/no frozen dense, conv2d or depthwiseConv2d layer to quantize/);
    m.quantize('int8', { activationQuantizer: null });
    m.getLayer('d1').trainable = true;
    await expect(m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 })).rejects.toThrow(/layer d1 has an int8 kernel and cannot train/);
  });

  it('saves I8 kernels with F32 <kernel>_scale tensors and loads them back bit for bit; a bad int8 file is refused', async () => {
    const m = base();
    const floatBytes = m.toBytes();
    m.quantize('int8', { activationQuantizer: null });
    const bytes = m.toBytes();
    const file = readSafetensors(bytes);
    expect(file.tensors.get('c1/kernel')!.dtype).toBe('I8');
    expect(file.tensors.get('dw/depthwise_kernel')!.dtype).toBe('I8');
    expect(file.tensors.get('c1/kernel_scale')!.shape).toEqual([6]);
    expect(file.tensors.get('head/kernel')!.dtype).toBe('F32');
    const kernels = 3 * 3 * 2 * 6 + 3 * 3 * 6 * 2 + 5 * 5 * 12 * 10;
    expect(floatBytes.length - bytes.length).toBeGreaterThan(3 * kernels - 1024);
    const back = await loadModel(bytes);
    for (const name of ['c1', 'dw', 'd1']) {
      const [a, b] = [m.getLayer(name), back.getLayer(name)] as unknown as { int8: { q: Int8Array; scale: Float32Array } }[];
      expect(b.int8.q).toEqual(a.int8.q);
      expect(b.int8.scale).toEqual(a.int8.scale);
    }
    expect(back.predict(x).data).toEqual(m.predict(x).data);
    // I8 on the trainable head, and an I8 kernel without its scales.
    const tensors = [...file.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: t.data }));
    const headQ = tensors.map((t) => (t.name === 'head/kernel' ? { ...t, dtype: 'I8' as const, data: new Uint8Array(t.data.length / 4) } : t));
    await expect(loadModel(writeSafetensors(headQ, file.metadata))).rejects.toThrow(ModelFormatError);
    await expect(loadModel(writeSafetensors(headQ, file.metadata))).rejects.toThrow(/'head\/kernel' is I8, but only the kernel of a frozen/);
    const noScale = tensors.filter((t) => t.name !== 'd1/kernel_scale');
    await expect(loadModel(writeSafetensors(noScale, file.metadata))).rejects.toThrow(/int8 tensor 'd1\/kernel' needs an F32 tensor 'd1\/kernel_scale' of shape \[10\]/);
  });
});

describe('the 256 KB fine-tune (examples/mcu)', () => {
  it('an int8 MNIST base and a new head at effective batch 16 (microBatch 1) train inside one 256 KB arena', async () => {
    // @ts-expect-error: plain JavaScript module without types
    const { mcuFinetune, ARENA_BUDGET } = await import('../examples/mcu/finetune-lib.mjs');
    const r = await mcuFinetune({ epochs: 3 });
    expect(r.plan.pages * 65536).toBeLessThanOrEqual(ARENA_BUDGET);
    expect(r.plan.totalBytes).toBeLessThanOrEqual(256 * 1024);
    expect(r.plan.microBatching).toBe(true);
    expect(r.plan.params.filter((p: { int8Scale?: number }) => p.int8Scale !== undefined).map((p: { layer: string }) => p.layer)).toEqual(['base_conv_1', 'base_conv_2']);
    const loss = r.history.history.loss as number[];
    expect(loss[2]).toBeLessThan(loss[0] / 2);
    expect(r.accuracy).toBeGreaterThan(0.8);
  }, 120_000);
});
