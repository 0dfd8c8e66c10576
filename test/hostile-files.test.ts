// Hostile and malformed model files: each is refused with a typed error that names the file and
// the layer, tensor, node or attribute, before anything is allocated from the file's numbers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileAccessError, importOnnx, importTfjsGraphModel, input, InvalidArgumentError, layers, loadModel, MemoryBudgetError, model,
  ModelFormatError, sequential, tensor, importTfjsLayersModel,
} from '../dist/node.js';
// @ts-expect-error: plain JavaScript module without types
import { node, onnxModel, valueInfo } from '../scripts/onnx-writer.mjs';

// A safetensors file written by hand (our writer would refuse some of these): an 8-byte header
// length, the JSON header, then F32 data. Every tensor here is zeros of its declared shape.
function safetensors(topology: unknown, tensors: Record<string, number[]> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'edgetune-model', format_version: '1', topology: JSON.stringify(topology) } };
  let offset = 0;
  for (const [name, shape] of Object.entries(tensors)) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  return out;
}

const sequentialOf = (...layerList: object[]) => ({ class_name: 'Sequential', config: { name: 's', layers: layerList } });
const dense = (name: string, units: number, extra: object = {}) => ({ class_name: 'Dense', config: { name, units, use_bias: true, ...extra } });

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(() => null, (err: Error) => err);
  if (!e) throw new Error('expected a refusal, the load succeeded');
  return e;
}

describe('topologies that would allocate from header numbers alone', () => {
  it('a 1e6-unit Dense in a tiny file is refused in under a second without allocating, naming layer and tensor', async () => {
    const file = safetensors(sequentialOf(dense('big', 1e6, { batch_input_shape: [null, 784] })), { 'big/kernel': [784, 2], 'big/bias': [2] });
    expect(file.length).toBeLessThan(7000);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const e = await refusal(loadModel(file));
    const ms = performance.now() - t0;
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/tensor 'big\/kernel' has shape \[784,2\], layer big expects \[784,1000000\]/);
    expect(ms).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(50 * 2 ** 20);
  });

  it('a Conv2D with 4096 filters and a 64x64 kernel declares 4 GB of weights: refused at once', async () => {
    const conv = { class_name: 'Conv2D', config: { name: 'c', filters: 4096, kernel_size: [64, 64], strides: [1, 1], padding: 'same', use_bias: true, batch_input_shape: [null, 64, 64, 64] } };
    const t0 = performance.now();
    const e = await refusal(loadModel(safetensors(sequentialOf(conv), { 'c/kernel': [1, 1, 1, 1], 'c/bias': [4096] })));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/tensor 'c\/kernel' has shape \[1,1,1,1\], layer c expects \[64,64,64,4096\]/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('units 2^31-1 and a weight missing from the file are format errors, not RangeErrors', async () => {
    const e = await refusal(loadModel(safetensors(sequentialOf(dense('d', 2 ** 31 - 1, { batch_input_shape: [null, 4] })), { 'd/kernel': [4, 2], 'd/bias': [2] })));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/tensor 'd\/kernel' has shape \[4,2\], layer d expects \[4,2147483647\]/);
    const missing = await refusal(loadModel(safetensors(sequentialOf(dense('d', 3, { batch_input_shape: [null, 4] })), { 'd/kernel': [4, 3] })));
    expect(missing).toBeInstanceOf(ModelFormatError);
    expect(missing.message).toMatch(/tensor 'd\/bias' \(shape \[3\]\) is missing/);
  });
});

describe('malformed safetensors topologies', () => {
  const fn = (layerList: object[], extra: object = {}) => ({
    class_name: 'Functional',
    config: { name: 'f', layers: layerList, input_layers: [['in', 0, 0]], output_layers: [['d', 0, 0]], ...extra },
  });
  const inputLayer = (config: object) => ({ class_name: 'InputLayer', name: 'in', config: { name: 'in', ...config }, inbound_nodes: [] });
  const d = { ...dense('d', 2), name: 'd', inbound_nodes: [[['in', 0, 0, {}]]] };
  const tensors = { 'd/kernel': [3, 2], 'd/bias': [2] };
  it.each([
    ['topology null', null, /topology/],
    ['no output_layers', fn([inputLayer({ batch_input_shape: [null, 3] }), d], { output_layers: undefined }), /output_layers/],
    ['an InputLayer without a shape', fn([inputLayer({}), d]), /input layer 'in'.*shape/],
    ['a non-array batch_input_shape', sequentialOf(dense('d', 2, { batch_input_shape: 7 })), /batch_input_shape/],
    ['a string batch_input_shape', sequentialOf(dense('d', 2, { batch_input_shape: 'abcdef' })), /batch_input_shape/],
    ['a non-list layers entry', { class_name: 'Sequential', config: { layers: [null] } }, /layer 0/],
    ['activation __proto__', sequentialOf(dense('d', 2, { batch_input_shape: [null, 3], activation: '__proto__' })), /layer 'd'.*activation '__proto__'/],
    ['activation constructor', sequentialOf(dense('d', 2, { batch_input_shape: [null, 3], activation: 'constructor' })), /activation 'constructor'/],
  ])('%s: ModelFormatError', async (_, topology, message) => {
    const e = await refusal(loadModel(safetensors(topology, tensors)));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(message);
  });

  it('names like __proto__ are not activations or initializers anywhere', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(() => layers.dense(2, { activation: name, inputShape: [3] })).toThrow(InvalidArgumentError);
      expect(() => layers.dense(2, { kernelInitializer: name as 'zeros', inputShape: [3] })).toThrow(InvalidArgumentError);
    }
  });
});

describe('malformed TF.js layers (Keras) topologies', () => {
  const json = (config: object) => ({ format: 'layers-model', modelTopology: { class_name: 'Functional', config: { name: 'f', input_layers: [['in', 0, 0]], output_layers: [['d', 0, 0]], ...config } }, weightsManifest: [] });
  const d = { class_name: 'Dense', name: 'd', config: { name: 'd', units: 2 }, inbound_nodes: [[['in', 0, 0, {}]]] };
  it.each([
    ['a null layer entry', { layers: [null, d] }, /layer 0 of the topology/],
    ['an InputLayer without a config', { layers: [{ class_name: 'InputLayer', name: 'in' }, d] }, /input layer 'in' has input shape/],
    ['inbound_nodes that are not a list', { layers: [{ class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_input_shape: [null, 3] } }, { ...d, inbound_nodes: 5 }] }, /layer 'd' has inbound_nodes 5/],
  ])('%s: ModelFormatError', async (_, config, message) => {
    const e = await refusal(importTfjsLayersModel(json(config), async () => new Uint8Array(0), 'm.json'));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(message);
  });
});

describe('plans too large for wasm memory are refused before allocating', () => {
  it('compile({ batchSize: 1e9 }) is a MemoryBudgetError with the figures', () => {
    const m = sequential([layers.dense(4, { inputShape: [8] })]);
    let e: unknown;
    try {
      m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 1e9 });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(MemoryBudgetError);
    const err = e as InstanceType<typeof MemoryBudgetError>;
    expect(err.budget).toBe(4 * 2 ** 30);
    expect(err.needed).toBeGreaterThan(1e9 * 8 * 4);
    expect(err.message).toMatch(/wasm/);
  });

  it('a layer with huge dimensions fails at plan time, not in WebAssembly.Memory', () => {
    const m = sequential([layers.flatten({ inputShape: [40000, 40000] }), layers.relu()]); // 6.4 GB of activations, no weights
    expect(() => m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 1 })).toThrow(MemoryBudgetError);
  });
});

describe('deep graphs', () => {
  it('a 5,000-layer functional chain builds without overflowing the stack', () => {
    const x = input({ shape: [2] });
    let y = x;
    for (let i = 0; i < 5000; i++) y = layers.relu().apply(y);
    const m = model({ inputs: x, outputs: y });
    expect(m.layers.length).toBe(5000);
    expect(m.graph.nodes.length).toBe(5001);
    expect(m.graph.nodes[5000].inputs).toEqual([4999]);
    expect([...m.predict(tensor(new Float32Array([1, -2]), [1, 2])).data]).toEqual([1, 0]);
  });

  it('a 5,000-node ONNX chain imports', () => {
    const nodes = Array.from({ length: 5000 }, (_, i) => node('Relu', [i ? `r${i - 1}` : 'x'], [`r${i}`], {}, `relu${i}`));
    const bytes = onnxModel({ nodes, inputs: [valueInfo('x', ['N', 3])], outputs: [valueInfo('r4999', ['N', 3])] });
    const m = importOnnx(bytes, 'deep.onnx');
    expect(m.layers.length).toBe(5000);
    expect([...m.predict(tensor(new Float32Array([0.5, -1, 2]), [1, 3])).data]).toEqual([0.5, 0, 2]);
  });
});

describe('malformed importer attributes', () => {
  it('ONNX pads given as an INT names the node, attribute and expected type', () => {
    const bytes = onnxModel({
      nodes: [node('MaxPool', ['x'], ['y'], { kernel_shape: [2, 2], pads: 1 }, 'pool')],
      inputs: [valueInfo('x', ['N', 1, 4, 4])],
      outputs: [valueInfo('y', ['N', 1, 3, 3])],
    });
    let e: Error | null = null;
    try { importOnnx(bytes, 'p.onnx'); } catch (err) { e = err as Error; }
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e!.message).toMatch(/p\.onnx.*node 'pool'.*attribute 'pads'.*list of ints/);
  });

  const graph = (input: unknown, padding: string) => ({
    format: 'graph-model',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '4' }, { size: '4' }, { size: '1' }] } } } },
        { name: 'w', op: 'Const', attr: {} },
        { name: 'conv', op: 'Conv2D', input, attr: { strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: padding } } },
      ],
    },
    weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'w', shape: [1, 1, 1, 2], dtype: 'float32' }] }],
  });
  const bin = async () => new Uint8Array(8);
  it('a TF.js node whose input is not a list of strings', async () => {
    const e = await refusal(importTfjsGraphModel(graph('x', Buffer.from('VALID').toString('base64')), bin, 'g.json'));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/g\.json: node 'conv'.*input.*list of strings/);
  });
  it('a TF.js attribute that is not base64', async () => {
    const e = await refusal(importTfjsGraphModel(graph(['x', 'w'], '%%not base64%%'), bin, 'g.json'));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/g\.json: node 'conv'.*attribute 'padding'.*base64/);
  });
});

describe('loadModel(path) I/O failures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-hostile-'));
  it.each([
    ['a missing file', join(dir, 'nope.safetensors'), /cannot read: no such file \(ENOENT\)/],
    ['a directory', dir, /cannot read: is a directory/],
  ])('%s is a typed error naming the path, with the original as cause', async (_, path, reason) => {
    const e = await refusal(loadModel(path)) as Error & { code?: string; path?: string };
    expect(e).toBeInstanceOf(FileAccessError);
    expect(e.code).toBe('FileAccess');
    expect(e.path).toBe(path);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(reason);
    expect((e.cause as { code?: string }).code).toMatch(/ENOENT|EISDIR/);
  });
});
