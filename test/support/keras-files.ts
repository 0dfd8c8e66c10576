// Keras .keras (Keras 3 zip) and legacy .h5 files, written with h5wasm following the documented
// layouts (there is no Python/Keras on this machine), from a tfjs-layers model's topology and
// weights. Shared by test/import-keras.test.ts and the fuzzer (test/fuzz/).
import h5wasm from 'h5wasm';
import { deflateRawSync } from 'node:zlib';
import type { tfl } from '../tfjs';

const { FS } = await h5wasm.ready;

export function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
  return ~c >>> 0;
}

// A zip with deflated entries (as Python's zipfile writes .keras archives).
export function zip(files: Record<string, Uint8Array>): Uint8Array {
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
export function h5(build: (f: InstanceType<typeof h5wasm.File>, group: (path: string) => any) => void): Uint8Array {
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

// Keras 3 config.json and model.weights.h5 for a tfjs model (its Keras 2 topology re-expressed);
// `patch` may edit the Keras 3 model config first (Keras 3 options that TF.js lacks).
export function keras3(m: tfl.LayersModel, patch?: (config: any) => void): Uint8Array {
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
  patch?.(config);
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
export function legacyH5(m: tfl.LayersModel): Uint8Array {
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
