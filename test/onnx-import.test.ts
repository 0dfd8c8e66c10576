// The ONNX importer against onnxruntime-web executing the same files: outputs within 1e-4 for
// batch 1 and batch 8; and the refusals (unsupported op, dynamic shape, mismatched weight).
import { describe, expect, it } from 'vitest';
import { ModelFormatError, UnsupportedOpError, importOnnx, tensor, verifyPlan } from '../dist/node.js';
import { randomArray } from './support/harness';
import { badGemmWeight, groupedConv, mixedEncodings, nhwcExport, normalizedInput, pytorchCnn, pytorchExtras, pytorchMlp, withNode } from './onnx-models';
import { ortRun, toNhwc } from './ort';

async function compare(bytes: Uint8Array, chw: number[], outNhwc: number[] | null = null, inputIsNhwc = false) {
  const m = importOnnx(bytes, 'model.onnx');
  const image = chw.length === 3 && !inputIsNhwc;
  for (const n of [1, 8]) {
    const x = randomArray(n * chw.reduce((a, b) => a * b, 1), 100 + n, -1, 1);
    const ref = await ortRun(bytes, x, [n, ...chw]);
    const ours = m.predict(tensor(image ? toNhwc(x, n, chw[0], chw[1], chw[2]) : x, [n, ...(image ? [chw[1], chw[2], chw[0]] : chw)]));
    const expected = outNhwc ? toNhwc(ref.data, n, outNhwc[0], outNhwc[1], outNhwc[2]) : ref.data;
    expect(ours.data.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(ours.data[i] - expected[i]));
    expect(worst, `batch ${n}`).toBeLessThan(1e-4);
    expect(Number.isFinite(worst)).toBe(true);
  }
  return m;
}

describe('importOnnx matches onnxruntime-web', () => {
  it('a PyTorch-style CNN: conv/BN/pool, depthwise, add, concat, asymmetric same pads, CHW flatten into Gemm', async () => {
    const m = await compare(pytorchCnn(), [3, 12, 12]);
    const kinds = m.layers.map((l) => l.kind);
    expect(kinds).toContain('depthwiseConv2d');
    expect(kinds).toContain('batchNormalization');
    expect(m.getLayer('conv1').getWeights()[0].length).toBe(3 * 3 * 3 * 8);
    expect(m.outputShape).toEqual([5]);
  });
  it('float16 (raw and typed), float_data, int64 shape, GlobalAveragePool, Reshape, MatMul+Add bias, Gemm alpha/beta', async () => {
    const m = await compare(mixedEncodings(), [2, 9, 9]);
    expect(m.layers.map((l) => l.name)).toEqual(['conv', 'relu', 'gap', 'matmul', 'sigmoid', 'gemm']);
  });
  it('PyTorch extras: explicit pads (zeroPadding2d), Mul/Add of constants folded, x * sigmoid(x), AveragePool counting pads', async () => {
    const m = await compare(pytorchExtras(), [3, 12, 12]);
    const kinds = m.layers.map((l) => l.kind);
    expect(kinds.filter((k) => k === 'zeroPadding2d').length).toBe(2);
    expect(kinds).toContain('multiply');
    // the constants live in the conv's (new) bias and the batch norm's gamma/beta: no extra layers
    expect(m.layers.map((l) => l.name)).toEqual(['c1_pad', 'c1', 'Sigmoid', 'Mul_1', 'AveragePool_pad', 'AveragePool', 'bn', 'GlobalAveragePool', 'fc']);
  });
  it('input normalization ((x - mean) / std as rescaling), constant minus tensor, Sub of tensors', async () => {
    const m = await compare(normalizedInput(), [3, 8, 8]);
    expect(m.layers.map((l) => l.kind)).toEqual(['rescaling', 'rescaling', 'conv2d', 'activation', 'rescaling', 'subtract', 'globalAveragePooling2d']);
  });
  it('an NHWC (tf2onnx-style) export: its Transposes become relabellings, no ops', async () => {
    const m = await compare(nhwcExport(), [10, 10, 3], null, true);
    expect(m.inputShape).toEqual([10, 10, 3]);
    expect(m.layers.map((l) => l.kind)).toEqual(['conv2d', 'activation', 'flatten', 'dense', 'activation']);
  });
  it('an MLP, and the imported model trains like any other', async () => {
    const m = await compare(pytorchMlp(), [12]);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const x = tensor(randomArray(64 * 12, 3), [64, 12]);
    const y = tensor(Int32Array.from({ length: 64 }, (_, i) => i % 4), [64]);
    const before = m.evaluate(x, y).loss;
    await m.fit(x, y, { epochs: 20, batchSize: 16 });
    expect(m.evaluate(x, y).loss).toBeLessThan(before);
  });
});

describe('an imported CNN is an ordinary model', () => {
  it('freeze up to a layer, fine-tune the rest: frozen weights bit-identical, loss down, plan verified', async () => {
    const m = importOnnx(pytorchCnn(), 'cnn.onnx');
    m.freeze('down');
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    expect(() => verifyPlan(m.plan)).not.toThrow();
    const frozen = m.layers.filter((l) => !l.trainable).map((l) => l.getWeights());
    const x = tensor(randomArray(16 * 12 * 12 * 3, 9), [16, 12, 12, 3]);
    const y = tensor(Int32Array.from({ length: 16 }, (_, i) => i % 5), [16]);
    const before = m.evaluate(x, y).loss;
    await m.fit(x, y, { epochs: 15, batchSize: 8 });
    expect(m.evaluate(x, y).loss).toBeLessThan(before);
    m.layers.filter((l) => !l.trainable).forEach((l, i) => l.getWeights().forEach((w, j) => expect(Array.from(w)).toEqual(Array.from(frozen[i][j]))));
    expect(m.layers.filter((l) => l.trainable && l.countParams() > 0).map((l) => l.name)).toEqual(['fc1', 'fc2']);
  });
});

describe('importOnnx refuses what it cannot express, naming file and node', () => {
  const refused = (bytes: Uint8Array, ...parts: (string | RegExp)[]) => {
    let err: unknown;
    try { importOnnx(bytes, 'bad.onnx'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ModelFormatError);
    const msg = (err as Error).message;
    expect(msg).toContain('bad.onnx');
    for (const p of parts) expect(msg).toMatch(p);
  };
  it('an unsupported operator', () => {
    refused(withNode('LpNormalization'), "node 'my_lpnormalization'", "op 'LpNormalization'", 'does not support');
    expect(() => importOnnx(withNode('LpNormalization'), 'bad.onnx')).toThrow(UnsupportedOpError);
  });
  it('a dynamic (non-batch) dimension', () => refused(withNode('Relu', {}, ['N', 'features']), "input 'x'", 'dynamic shape', "'features'"));
  it('a weight whose shape does not match the input', () => refused(badGemmWeight(), "node 'fc' (Gemm)", "weight 'W'", '[3,5]'));
  it('a grouped convolution whose group does not divide the input channels', () => refused(groupedConv(), "node 'grouped' (Conv)", 'group 3', '4 channels'));
  it('bytes that are not ONNX', () => refused(new Uint8Array([0x0a, 0xff, 0xff, 0xff]), 'not a readable ONNX model'));
});
