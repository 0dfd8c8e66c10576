// TF.js graph models: the real emotion and gender classifiers (mini-Xception, 64x64x1) and a
// synthetic graph covering the rest of the op set, against an independent tfjs-core executor of
// the same GraphDef; imported models train, save and reload like any edgetune model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importTfjsGraphModel, loadModel, ModelFormatError, optimizers, tensor, UnsupportedOpError, verifyPlan } from '../dist/node.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { decodeWeights, runGraph } from './reference/tfjs-graph-exec';
import { tf } from './tfjs';

const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;
const reader = (dir: string) => async (p: string) => new Uint8Array(readFileSync(join(dir, p)));

describe.each(['emotion', 'gender'])('%s graph model', (name) => {
  const json = JSON.parse(readFileSync(join(MODELS, `${name}.json`), 'utf8'));
  const shards = json.weightsManifest.map((g: { paths: string[] }) => g.paths.map((p: string) => readFileSync(join(MODELS, p))));
  const oracleWeights = decodeWeights(json, shards);

  it.each([1, 8])('matches TF.js at batch %i within 1e-4 on probabilities', async (batch) => {
    const model = await importTfjsGraphModel(json, reader(MODELS), `${name}.json`);
    const x = randomArray(batch * 64 * 64, 11 + batch).map((v) => (v + 1) / 2); // [0, 1], like the scaled grey faces
    const ours = model.predict(tensor(x, [batch, 64, 64, 1]), { batchSize: batch }).data;
    const theirs = runGraph(json, oracleWeights, tf.tensor(x, [batch, 64, 64, 1])).dataSync();
    const d = maxAbsDiff(ours, theirs);
    expect(d).toBeLessThan(1e-4);
    // rows are distributions that differ between inputs (a broken model would not)
    expect(ours.slice(0, model.outputShape[0]).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('is an ordinary model: trains with the base frozen, saves and reloads bit for bit', async () => {
    const model = await importTfjsGraphModel(json, reader(MODELS), `${name}.json`);
    const kinds = new Set(model.layers.map((l) => l.kind));
    expect(kinds.has('conv2d') && kinds.has('depthwiseConv2d') && kinds.has('add') && kinds.has('globalAveragePooling2d')).toBe(true);
    const last = model.layers.filter((l) => l.weightSpecs.length).at(-1)!;
    for (const l of model.layers) l.trainable = l === last;
    const before = model.layers[1].getWeights();
    model.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    const n = 8;
    const classes = model.outputShape[0];
    const x = tensor(randomArray(n * 64 * 64, 5).map((v) => (v + 1) / 2), [n, 64, 64, 1]);
    const y = tensor(Int32Array.from({ length: n }, (_, i) => i % classes), [n]);
    const lastBefore = last.getWeights();
    const h = await model.fit(x, y, { epochs: 2, batchSize: 4 });
    expect(h.history.loss.every(Number.isFinite)).toBe(true);
    expect(model.layers[1].getWeights()).toEqual(before); // frozen stays bit-identical
    expect(maxAbsDiff(last.getWeights()[0], lastBefore[0])).toBeGreaterThan(0);
    const again = await loadModel(model.toBytes());
    // Compiled as the original, so both predict through a training plan: an inference plan runs
    // the 3x3 32 -> 64 convolution as Winograd (other bits, within rounding).
    again.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    expect(again.predict(x).data).toEqual(model.predict(x).data);
  });
});

// A hand-built GraphDef covering the ops the real models do not use. Weights are stored as
// float32, float16 and uint8 as the converter's --quantize options write them.
const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });
function f16bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 127 + 15;
  const m = u & 0x7fffff;
  if (e <= 0) return sign;
  return sign | (e << 10) | Math.round(m / 8192);
}
function syntheticGraph() {
  const nodes: object[] = [];
  const weights: { name: string; shape: number[]; dtype: string; quantization?: object }[] = [];
  const data: Buffer[] = [];
  let seed = 100;
  const konst = (name: string, shape: number[], how: 'f32' | 'f16' | 'u8' | 'i32' = 'f32', values?: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from(randomArray(n, seed++)).map((x) => x * 0.5);
    nodes.push({ name, op: 'Const', attr: { dtype: { type: how === 'i32' ? 'DT_INT32' : 'DT_FLOAT' } } });
    if (how === 'i32') { weights.push({ name, shape, dtype: 'int32' }); data.push(Buffer.from(Int32Array.from(v).buffer)); }
    else if (how === 'f16') { weights.push({ name, shape, dtype: 'float32', quantization: { dtype: 'float16' } }); data.push(Buffer.from(Uint16Array.from(v, f16bits).buffer)); }
    else if (how === 'u8') {
      const min = Math.min(...v); const scale = (Math.max(...v) - min) / 255;
      weights.push({ name, shape, dtype: 'float32', quantization: { dtype: 'uint8', min, scale } });
      data.push(Buffer.from(Uint8Array.from(v, (x) => Math.round((x - min) / scale))));
    } else { weights.push({ name, shape, dtype: 'float32' }); data.push(Buffer.from(Float32Array.from(v).buffer)); }
    return name;
  };
  const node = (name: string, op: string, input: string[], attr: object = {}) => { nodes.push({ name, op, input, attr }); return name; };
  const conv = { strides: ints(1, 1, 1, 1), dilations: ints(1, 1, 1, 1), data_format: { s: b64('NHWC') } };
  node('x', 'Placeholder', [], { shape: { shape: { dim: [{ size: '-1' }, { size: '9' }, { size: '9' }, { size: '3' }] } } });
  const c1 = node('m/c1', '_FusedConv2D', ['x', konst('m/c1/w', [3, 3, 3, 8], 'f16'), konst('m/c1/scale', [8]), konst('m/c1/offset', [8]), konst('m/c1/mean', [8]), konst('m/c1/var', [8], 'f32', Array.from({ length: 8 }, (_, i) => 0.5 + i / 8))],
    { ...conv, padding: { s: b64('SAME') }, fused_ops: { list: { s: [b64('FusedBatchNorm'), b64('Relu6')] } }, num_args: { i: '4' }, epsilon: { f: 0.001 } });
  const d1 = node('m/d1', 'FusedDepthwiseConv2dNative', [c1, konst('m/d1/w', [3, 3, 8, 2], 'u8'), konst('m/d1/b', [16])],
    { ...conv, strides: ints(1, 2, 2, 1), padding: { s: b64('VALID') }, fused_ops: { list: { s: [b64('BiasAdd'), b64('LeakyRelu')] } }, leakyrelu_alpha: { f: 0.1 } });
  const c2 = node('m/c2', 'Conv2D', [d1, konst('m/c2/w', [1, 1, 16, 6])], { ...conv, padding: { s: b64('VALID') } });
  const s2 = node('m/c2/mul', 'Mul', [c2, konst('m/c2/s', [6])]);
  const b2 = node('m/c2/sub', 'Sub', [s2, konst('m/c2/sub_c', [1, 1, 1, 6])]);
  const e2 = node('m/c2/elu', 'Elu', [b2]);
  const bn = node('m/bn', 'FusedBatchNormV3', [d1, konst('m/bn/g', [16]), konst('m/bn/b', [16]), konst('m/bn/m', [16]), konst('m/bn/v', [16], 'f32', Array.from({ length: 16 }, (_, i) => 1 + i / 16))], { epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') } });
  const t = node('m/tanh', 'Tanh', [bn]);
  const cat = node('m/cat', 'ConcatV2', [e2, t, konst('m/cat/axis', [], 'i32', [-1])]);
  const ap = node('m/ap', 'AvgPool', [cat], { ksize: ints(1, 2, 2, 1), strides: ints(1, 2, 2, 1), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') } });
  const r = node('m/flat', 'Reshape', [ap, konst('m/flat/shape', [2], 'i32', [-1, 2 * 2 * 22])]);
  const fc = node('m/fc', '_FusedMatMul', [r, konst('m/fc/w', [88, 10]), konst('m/fc/b', [10])], { fused_ops: { list: { s: [b64('BiasAdd'), b64('Sigmoid')] } }, transpose_a: { b: false }, transpose_b: { b: false } });
  const fc2 = node('m/fc2', 'MatMul', [fc, konst('m/fc2/w', [5, 10])], { transpose_b: { b: true } });
  const ba = node('m/fc2/bias', 'BiasAdd', [fc2, konst('m/fc2/b', [5])]);
  const sm = node('m/out', 'Softmax', [ba]);
  node('Identity', 'Identity', [sm]);
  const json = { format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights }] };
  return { json, bin: new Uint8Array(Buffer.concat(data)) };
}

describe('synthetic graph: the rest of the op set', () => {
  it.each([1, 8])('matches TF.js at batch %i (fused BN + relu6, quantized depthwise + leaky relu, Mul/Sub folded, concat, avg pool, reshape, matmul)', async (batch) => {
    const { json, bin } = syntheticGraph();
    const model = await importTfjsGraphModel(json, async () => bin, 'synthetic.json');
    expect(model.layers.map((l) => l.kind)).toEqual(['conv2d', 'batchNormalization', 'activation', 'depthwiseConv2d', 'activation', 'conv2d', 'batchNormalization', 'activation', 'concatenate', 'averagePooling2d', 'flatten', 'dense', 'dense']);
    expect(model.layers.at(-1)!.config.activation).toBe('softmax'); // Softmax fused into the dense before it
    const x = randomArray(batch * 9 * 9 * 3, 7);
    const ours = model.predict(tensor(x, [batch, 9, 9, 3])).data;
    const ow = decodeWeights(json, [[bin]]);
    const theirs = runGraph(json, ow, tf.tensor(x, [batch, 9, 9, 3])).dataSync();
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
  });

  it('rejects bad graphs with typed errors naming the file and the node or tensor', async () => {
    const { json, bin } = syntheticGraph();
    const withOp = structuredClone(json);
    (withOp.modelTopology.node as { op: string; name: string }[]).find((n) => n.name === 'm/tanh')!.op = 'Lgamma'; // (Erf is a unary layer now)
    await expect(importTfjsGraphModel(withOp, async () => bin, 'g.json')).rejects.toThrow(UnsupportedOpError);
    await expect(importTfjsGraphModel(withOp, async () => bin, 'g.json')).rejects.toThrow(/g\.json: node 'm\/tanh' uses op 'Lgamma'/);
    await expect(importTfjsGraphModel(json, async () => bin.subarray(0, bin.length - 4), 'g.json')).rejects.toThrow(/group1-shard1of1\.bin.*shorter than the manifest of g\.json: weight 'm\/fc2\/b'/);
    await expect(importTfjsGraphModel(json, async (p) => { throw new Error(`ENOENT: ${p}`); }, 'g.json')).rejects.toThrow(/g\.json: weight shard 'group1-shard1of1\.bin'.*cannot be read/);
    const badShape = structuredClone(json);
    badShape.weightsManifest[0].weights.find((w) => w.name === 'm/fc/w')!.shape = [44, 20];
    await expect(importTfjsGraphModel(badShape, async () => bin, 'g.json')).rejects.toThrow(ModelFormatError);
    await expect(importTfjsGraphModel(badShape, async () => bin, 'g.json')).rejects.toThrow(/m\/fc\/w.*\[44,20\]/);
  });
});

// Pad, a gate (Mul of two tensors), Sub of two tensors and ResizeBilinear become the new layers.
function paddedGraph() {
  const nodes: object[] = [];
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  const data: Buffer[] = [];
  let seed = 300;
  const konst = (name: string, shape: number[], values?: number[], dtype = 'float32') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from(randomArray(n, seed++)).map((x) => x * 0.5);
    nodes.push({ name, op: 'Const', attr: {} });
    weights.push({ name, shape, dtype });
    data.push(Buffer.from(dtype === 'int32' ? Int32Array.from(v).buffer : Float32Array.from(v).buffer));
    return name;
  };
  const node = (name: string, op: string, input: string[], attr: object = {}) => { nodes.push({ name, op, input, attr }); return name; };
  const conv = { strides: ints(1, 1, 1, 1), dilations: ints(1, 1, 1, 1), padding: { s: b64('VALID') } };
  node('x', 'Placeholder', [], { shape: { shape: { dim: [{ size: '-1' }, { size: '6' }, { size: '5' }, { size: '2' }] } } });
  const centred = node('norm/sub', 'Sub', ['x', konst('norm/mean', [2], [0.25, -0.5])]);
  const scaled = node('norm/mul', 'Mul', [konst('norm/inv_std', [1, 1, 1, 2], [2, 0.5]), centred]);
  const p = node('pad', 'Pad', [scaled, konst('pad/p', [4, 2], [0, 0, 1, 2, 2, 0, 0, 0], 'int32')]);
  const a = node('a', '_FusedConv2D', [p, konst('a/w', [3, 3, 2, 4]), konst('a/b', [4])], { ...conv, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } }, num_args: { i: '1' } });
  const g = node('g', '_FusedConv2D', [p, konst('g/w', [3, 3, 2, 4]), konst('g/b', [4])], { ...conv, fused_ops: { list: { s: [b64('BiasAdd'), b64('Sigmoid')] } }, num_args: { i: '1' } });
  const m = node('gate', 'Mul', [a, g]);
  const s0 = node('diff', 'Sub', [m, g]);
  const s = node('flip', 'Sub', [konst('flip/c', [], [0.5]), s0]); // c - x: a Rescaling of its own
  const r = node('resize', 'ResizeBilinear', [s, konst('resize/size', [2], [9, 7], 'int32')], { half_pixel_centers: { b: true }, align_corners: { b: false } });
  const mean = node('mean', 'Mean', [r, konst('mean/axes', [2], [1, 2], 'int32')], { keep_dims: { b: false } });
  const fc = node('fc', '_FusedMatMul', [mean, konst('fc/w', [4, 3]), konst('fc/b', [3])], { fused_ops: { list: { s: [b64('BiasAdd')] } } });
  node('out', 'Softmax', [fc]);
  return { json: { format: 'graph-model', modelTopology: { node: nodes }, weightsManifest: [{ paths: ['w.bin'], weights }] }, bin: new Uint8Array(Buffer.concat(data)) };
}

describe('synthetic graph: input normalization, Pad, Mul and Sub of tensors, ResizeBilinear', () => {
  it.each([1, 8])('matches TF.js at batch %i; trains, saves and reloads', async (batch) => {
    const { json, bin } = paddedGraph();
    const model = await importTfjsGraphModel(json, async () => bin, 'padded.json');
    // input normalization (Sub then Mul by constants) becomes one Rescaling layer
    expect(model.layers.map((l) => l.kind)).toEqual(['rescaling', 'zeroPadding2d', 'conv2d', 'conv2d', 'multiply', 'subtract', 'rescaling', 'resizing', 'globalAveragePooling2d', 'dense']);
    expect(model.layers[0].getWeights().map((w) => Array.from(w))).toEqual([[2, 0.5], [-0.5, 0.25]]);
    const x = randomArray(batch * 6 * 5 * 2, 17);
    const ours = model.predict(tensor(x, [batch, 6, 5, 2])).data;
    const theirs = runGraph(json, decodeWeights(json, [[bin]]), tf.tensor(x, [batch, 6, 5, 2])).dataSync();
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: batch });
    const h = await model.fit(tensor(x, [batch, 6, 5, 2]), tensor(Int32Array.from({ length: batch }, (_, i) => i % 3), [batch]), { epochs: 2 });
    expect(h.history.loss.every(Number.isFinite)).toBe(true);
    expect(verifyPlan(model.plan)).toEqual([]);
    const again = await loadModel(model.toBytes());
    expect(again.layers.map((l) => l.kind)).toEqual(model.layers.map((l) => l.kind));
    expect(again.predict(tensor(x, [batch, 6, 5, 2])).data).toEqual(model.predict(tensor(x, [batch, 6, 5, 2])).data);
  });
});
