// Keras .keras (Keras 3 zip) and legacy .h5 files, written here with h5wasm following the
// documented layouts (there is no Python/Keras on this machine): the imported model must predict
// what TF.js predicts with the same topology and weights.
import h5wasm from 'h5wasm';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ModelFormatError, tensor, UnsupportedOpError } from '../dist/node.js';
import { importKeras } from '../dist/import/keras.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { tf, tfl } from './tfjs';

const { FS } = await h5wasm.ready;

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
  return ~c >>> 0;
}

// A zip with deflated entries (as Python's zipfile writes .keras archives).
function zip(files: Record<string, Uint8Array>): Uint8Array {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const comp = deflateRawSync(data);
    const n = Buffer.from(name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0); h.writeUInt16LE(20, 4); h.writeUInt16LE(8, 8); h.writeUInt32LE(crc32(data), 14);
    h.writeUInt32LE(comp.length, 18); h.writeUInt32LE(data.length, 22); h.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt16LE(8, 10); c.writeUInt32LE(crc32(data), 16);
    c.writeUInt32LE(comp.length, 20); c.writeUInt32LE(data.length, 24); c.writeUInt16LE(n.length, 28); c.writeUInt32LE(offset, 42);
    locals.push(h, n, comp);
    central.push(c, n);
    offset += 30 + n.length + comp.length;
  }
  const cd = Buffer.concat(central);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0); e.writeUInt16LE(central.length / 2, 8); e.writeUInt16LE(central.length / 2, 10);
  e.writeUInt32LE(cd.length, 12); e.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, e]));
}

let fileCount = 0;
// Builds an HDF5 file in h5wasm's memory file system and returns its bytes.
function h5(build: (f: InstanceType<typeof h5wasm.File>, group: (path: string) => any) => void): Uint8Array {
  const path = `/test-${fileCount++}.h5`;
  const f = new h5wasm.File(path, 'w');
  const group = (p: string) => {
    let at = '';
    for (const part of p.split('/')) {
      const next = at ? `${at}/${part}` : part;
      if (!f.get(next)) (at ? f.get(at) as any : f).create_group(part);
      at = next;
    }
    return f.get(p);
  };
  build(f, group);
  f.close();
  const bytes = FS.readFile(path) as Uint8Array;
  FS.unlink(path);
  return bytes;
}

const snake = (n: string) => n.replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();

// Keras 3 config.json and model.weights.h5 for a tfjs model (its Keras 2 topology re-expressed).
function keras3(m: tfl.LayersModel): Uint8Array {
  const topo = (m.toJSON(undefined, false) as any);
  const cfg = structuredClone(topo.config);
  const kt = (name: string, node: number, t: number) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [name, node, t] } });
  for (const l of cfg.layers) {
    l.module = 'keras.layers';
    if (l.config.batch_input_shape) { l.config.batch_shape = l.config.batch_input_shape; delete l.config.batch_input_shape; }
    if (l.inbound_nodes) {
      l.inbound_nodes = l.inbound_nodes.map((call: [string, number, number][]) => ({
        args: call.length === 1 ? [kt(...call[0])] : [call.map((r) => kt(r[0], r[1], r[2]))], kwargs: {},
      }));
    }
  }
  if (topo.class_name === 'Sequential') {
    const first = cfg.layers[0];
    cfg.layers.unshift({ module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: first.config.batch_shape, dtype: 'float32', name: 'input_layer' } });
    delete first.config.batch_shape;
  }
  const config = { module: 'keras', class_name: topo.class_name === 'Model' ? 'Functional' : topo.class_name, config: cfg, build_config: {}, compile_config: null };
  const used = new Map<string, number>();
  const weights = h5((_f, group) => {
    for (const l of m.layers) {
      if (l.getClassName() === 'InputLayer') continue;
      const base = snake(l.getClassName());
      const k = used.get(base);
      used.set(base, k === undefined ? 0 : k + 1);
      const g = group(`layers/${k === undefined ? base : `${base}_${k + 1}`}/vars`);
      l.getWeights().forEach((w, i) => g.create_dataset({ name: String(i), data: w.dataSync() as Float32Array, shape: w.shape, dtype: '<f' }));
    }
  });
  return zip({ 'metadata.json': new TextEncoder().encode(JSON.stringify({ keras_version: '3.6.0' })), 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.weights.h5': weights });
}

// Legacy Keras 2 .h5: model_config attribute + model_weights/<layer>/<layer>/<weight>:0.
function legacyH5(m: tfl.LayersModel): Uint8Array {
  const topo = m.toJSON(undefined, false) as any;
  return h5((f, group) => {
    f.create_attribute('model_config', JSON.stringify(topo));
    f.create_attribute('keras_version', '2.15.0');
    const root = group('model_weights');
    root.create_attribute('layer_names', m.layers.map((l) => l.name));
    for (const l of m.layers) {
      const g = group(`model_weights/${l.name}`);
      const ws = l.getWeights();
      const names = l.weights.map((w) => `${l.name}/${w.name.split('/').pop()}:0`);
      if (names.length) g.create_attribute('weight_names', names);
      if (!ws.length) continue;
      const inner = group(`model_weights/${l.name}/${l.name}`);
      ws.forEach((w, i) => inner.create_dataset({ name: names[i].split('/').pop()!, data: w.dataSync() as Float32Array, shape: w.shape, dtype: '<f' }));
    }
  });
}

function nets(): [string, tfl.LayersModel, number[]][] {
  const seq = tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [10, 10, 2], filters: 6, kernelSize: 3, activation: 'relu' }),
    tfl.layers.batchNormalization(),
    tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }),
    tfl.layers.separableConv2d({ filters: 5, kernelSize: 3, activation: 'relu' }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 7, activation: 'tanh' }),
    tfl.layers.dense({ units: 3, activation: 'softmax' }),
  ] });
  const inp = tfl.input({ shape: [8, 8, 3] });
  const a = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(inp) as tfl.SymbolicTensor;
  const s = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
  const gate = tfl.layers.multiply().apply([s, b]) as tfl.SymbolicTensor;
  const padded = tfl.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }).apply(gate) as tfl.SymbolicTensor;
  const c = tfl.layers.concatenate().apply([padded, tfl.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }).apply(a) as tfl.SymbolicTensor]) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({}).apply(c) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(g) as tfl.SymbolicTensor;
  const fn = tfl.model({ inputs: inp, outputs: out });
  for (const m of [seq, fn]) {
    let seed = 1;
    for (const w of m.weights) {
      const v = w.read();
      const noise = tf.mul(tf.tensor(randomArray(v.size, seed++), v.shape), 0.3);
      (w as any).write(w.name.includes('moving_variance') ? tf.add(v, tf.abs(noise)) : tf.add(v, noise));
    }
  }
  return [['sequential', seq, [10, 10, 2]], ['functional', fn, [8, 8, 3]]];
}


describe.each(nets())('%s Keras model', (_, m, shape) => {
  it.each([['.keras', keras3], ['.h5', legacyH5]] as const)('%s matches TF.js on the same topology and weights (batch 1 and 8)', async (ext, write) => {
    const model = await importKeras(write(m), `model${ext}`);
    for (const batch of [1, 8]) {
      const x = randomArray(batch * shape.reduce((a, b) => a * b, 1), batch + 3);
      const ours = model.predict(tensor(x, [batch, ...shape])).data;
      const theirs = (m.predict(tf.tensor(x, [batch, ...shape])) as tf.Tensor).dataSync();
      expect(ours.length).toBe(theirs.length);
      expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-4);
    }
  });
});

describe('Keras import: bad files', () => {
  const [[, seq]] = nets();
  it('names the file and the weight for a wrong shape or a missing weight; rejects other files', async () => {
    const good = keras3(seq);
    const wrong = h5((_f, group) => {
      group('layers/conv2d/vars').create_dataset({ name: '0', data: new Float32Array(3 * 3 * 2 * 5), shape: [3, 3, 2, 5], dtype: '<f' });
    });
    const entries = { 'config.json': new TextEncoder().encode(JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [
      { class_name: 'InputLayer', config: { batch_shape: [null, 10, 10, 2], name: 'in' } },
      { class_name: 'Conv2D', config: { name: 'conv', filters: 6, kernel_size: [3, 3], use_bias: false } },
    ] } })), 'model.weights.h5': wrong };
    const err = await importKeras(zip(entries), 'w.keras').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toBe("w.keras/model.weights.h5: weight 'layers/conv2d/vars/0' has shape [3,3,2,5], but layer 'conv' (Conv2D) expects 'kernel' of shape [3,3,2,6]");
    const noWeights = zip({ 'config.json': entries['config.json'], 'model.weights.h5': h5(() => {}) });
    await expect(importKeras(noWeights, 'n.keras')).rejects.toThrow("n.keras/model.weights.h5: no weight for layer 'conv' (Conv2D) 'kernel' [3,3,2,6]");
    await expect(importKeras(good.subarray(0, good.length - 30), 't.keras')).rejects.toThrow(/t\.keras: (truncated zip|corrupt zip)/);
    await expect(importKeras(new Uint8Array(100), 'x.bin')).rejects.toThrow('x.bin: neither a .keras zip nor an HDF5 (.h5) file');
    const upsampling = zip({ 'config.json': new TextEncoder().encode(JSON.stringify({ class_name: 'Sequential', config: { layers: [
      { class_name: 'InputLayer', config: { batch_shape: [null, 4, 4, 1], name: 'in' } }, { class_name: 'UpSampling2D', config: { name: 'up' } }] } })), 'model.weights.h5': h5(() => {}) });
    await expect(importKeras(upsampling, 'u.keras')).rejects.toThrow(UnsupportedOpError);
  });
});
