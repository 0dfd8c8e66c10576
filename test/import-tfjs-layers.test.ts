// TF.js layers models: models built and saved by tfjs-layers itself (Sequential and Functional),
// float32 and quantized (float16, uint8, uint16) weights, split over several shards; the imported
// model must predict what TF.js predicts after loading the same artifacts (tf.loadLayersModel).
import { describe, expect, it } from 'vitest';
import { importTfjsLayersModel, loadModel, ModelFormatError, tensor, UnsupportedOpError } from '../dist/node.js';
import { randomArray } from './support/harness';
import { maxAbsDiff } from './support/close';
import { tf, tfl } from './tfjs';

type Artifacts = tf.io.ModelArtifacts;

async function artifactsOf(m: tfl.LayersModel): Promise<Artifacts> {
  let saved: Artifacts | null = null;
  await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  return saved!;
}

function f16bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 112;
  if (e <= 0) return sign;
  return sign | ((e << 10) + Math.round((u & 0x7fffff) / 8192));
}

// model.json + shards as the converter writes them, optionally quantized, shards of `shardBytes`.
function files(a: Artifacts, quantize: 'none' | 'float16' | 'uint8' | 'uint16', shardBytes = 1 << 22) {
  const src = new Float32Array(a.weightData as ArrayBuffer);
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  let at = 0;
  for (const s of a.weightSpecs!) {
    const n = s.shape.reduce((p, q) => p * q, 1);
    const v = src.subarray(at, at + n);
    at += n;
    if (quantize === 'none') { parts.push(new Uint8Array(v.slice().buffer)); specs.push({ ...s }); continue; }
    if (quantize === 'float16') { parts.push(new Uint8Array(Uint16Array.from(v, f16bits).buffer)); specs.push({ ...s, quantization: { dtype: 'float16' } }); continue; }
    const levels = quantize === 'uint8' ? 255 : 65535;
    const min = Math.min(...v, 0); const max = Math.max(...v, 0);
    const scale = max > min ? (max - min) / levels : 1;
    const q = Array.from(v, (x) => Math.round((x - min) / scale));
    parts.push(quantize === 'uint8' ? Uint8Array.from(q) : new Uint8Array(Uint16Array.from(q).buffer));
    specs.push({ ...s, quantization: { dtype: quantize, min, scale } });
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  const shards: Uint8Array[] = [];
  for (let s = 0; s < all.length; s += shardBytes) shards.push(all.slice(s, s + shardBytes));
  const paths = shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`);
  const json = { format: 'layers-model', generatedBy: 'test', convertedBy: null, modelTopology: a.modelTopology, weightsManifest: [{ paths, weights: specs }] };
  const fsMap = new Map(paths.map((p, i) => [p, shards[i]]));
  return { json, readFile: async (p: string) => { const b = fsMap.get(p); if (!b) throw new Error(`ENOENT: no such file '${p}'`); return b; }, fsMap };
}

// TF.js loading the same files through an io handler.
async function tfjsLoad(f: ReturnType<typeof files>): Promise<tfl.LayersModel> {
  const group = f.json.weightsManifest[0];
  const buffers = group.paths.map((p) => f.fsMap.get(p)!);
  const data = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of buffers) { data.set(b, o); o += b.length; }
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: f.json.modelTopology as object, weightSpecs: group.weights, weightData: data.buffer }));
}

function sequentialCnn(): tfl.LayersModel {
  return tfl.sequential({ layers: [
    tfl.layers.conv2d({ inputShape: [12, 12, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tfl.layers.batchNormalization(),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', activation: 'relu6' }),
    tfl.layers.separableConv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: 'tanh' }),
    tfl.layers.averagePooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dropout({ rate: 0.3 }),
    tfl.layers.dense({ units: 16, activation: 'elu' }),
    tfl.layers.dense({ units: 5, activation: 'softmax' }),
  ] });
}

function functionalNet(): tfl.LayersModel {
  const inp = tfl.input({ shape: [10, 10, 4] });
  const a = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }).apply(inp) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization({ epsilon: 1e-3 }).apply(a) as tfl.SymbolicTensor;
  const r = tfl.layers.reLU().apply(bn) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 6, kernelSize: 1 }).apply(inp) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([r, b]) as tfl.SymbolicTensor;
  const lr = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(sum) as tfl.SymbolicTensor;
  const c = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'sigmoid' }).apply(lr) as tfl.SymbolicTensor;
  const cat = tfl.layers.concatenate().apply([lr, c]) as tfl.SymbolicTensor;
  const e = tfl.layers.elu().apply(cat) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({}).apply(e) as tfl.SymbolicTensor;
  const d = tfl.layers.dense({ units: 4 }).apply(g) as tfl.SymbolicTensor;
  const out = tfl.layers.softmax().apply(d) as tfl.SymbolicTensor;
  return tfl.model({ inputs: inp, outputs: out });
}

// BN statistics away from their initial values, so the moving statistics matter.
async function perturb(m: tfl.LayersModel): Promise<void> {
  let seed = 1;
  for (const w of m.weights) {
    const v = w.read();
    const noise = tf.mul(tf.tensor(randomArray(v.size, seed++), v.shape), 0.3);
    const next = w.name.includes('moving_variance') ? tf.add(v, tf.abs(noise)) : tf.add(v, noise);
    (w as unknown as { write(t: tf.Tensor): void }).write(next);
  }
}


describe.each([['sequential CNN', sequentialCnn, [12, 12, 3]], ['functional net', functionalNet, [10, 10, 4]]] as const)('%s', (_, make, shape) => {
  it.each(['none', 'float16', 'uint8', 'uint16'] as const)('weights %s: matches tf.loadLayersModel at batch 1 and 8 within 1e-4', async (quantize) => {
    const m = make();
    await perturb(m);
    const f = files(await artifactsOf(m), quantize, 200); // several shards, split mid-tensor
    expect(f.json.weightsManifest[0].paths.length).toBeGreaterThan(1);
    const ours = await importTfjsLayersModel(f.json, f.readFile, 'model.json');
    const theirs = await tfjsLoad(f);
    for (const batch of [1, 8]) {
      const x = randomArray(batch * shape.reduce((p, q) => p * q, 1), batch);
      const p = ours.predict(tensor(x, [batch, ...shape])).data;
      const q = (theirs.predict(tf.tensor(x, [batch, ...shape])) as tf.Tensor).dataSync();
      expect(maxAbsDiff(p, q)).toBeLessThan(1e-4);
    }
  });
});

describe('TF.js layers import: forms and failures', () => {
  it('reads the wrapped topology form and Keras 3 index weight names; the result trains, saves and reloads', async () => {
    const m = sequentialCnn();
    await perturb(m);
    const f = files(await artifactsOf(m), 'none');
    const wrapped = structuredClone(f.json) as any;
    wrapped.modelTopology = { keras_version: '3.5.0', backend: 'tensorflow', model_config: wrapped.modelTopology };
    // Keras 3 names: '<layer>/<index>' in Keras order
    const perLayer = new Map<string, number>();
    for (const w of wrapped.weightsManifest[0].weights) {
      const layer = w.name.slice(0, w.name.lastIndexOf('/'));
      const i = perLayer.get(layer) ?? 0;
      perLayer.set(layer, i + 1);
      w.name = `${layer}/${i}`;
    }
    const a = await importTfjsLayersModel(f.json, f.readFile, 'a.json');
    const b = await importTfjsLayersModel(wrapped, f.readFile, 'b.json');
    const x = tensor(randomArray(3 * 12 * 12 * 3, 9), [3, 12, 12, 3]);
    expect(b.predict(x).data).toEqual(a.predict(x).data);
    for (const l of b.layers.slice(0, -1)) l.trainable = false;
    b.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 3 });
    const frozen = b.layers[0].getWeights();
    await b.fit(x, tensor(new Int32Array([0, 1, 2]), [3]), { epochs: 2 });
    expect(b.layers[0].getWeights()).toEqual(frozen);
    const again = await loadModel(b.toBytes());
    expect(again.predict(x).data).toEqual(b.predict(x).data);
  });

  it('float32 weights are the shards\' bytes, copied as they are: -0, subnormals and a NaN payload keep their bits, across a shard boundary', async () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [2] })] });
    const kernel = new Uint32Array([0x80000000, 0x00000001, 0x7f7fffff, 0x7fa00001, 0x3f800000, 0xbf000000]); // kernel [2, 3]
    const bias = new Uint32Array([0x00800000, 0xff800000, 0x12345678]);
    m.layers[0].setWeights([tf.tensor(new Float32Array(kernel.buffer), [2, 3]), tf.tensor(new Float32Array(bias.buffer), [3])]);
    const a = await artifactsOf(m);
    a.weightData = new Uint8Array([...new Uint8Array(kernel.buffer), ...new Uint8Array(bias.buffer)]).buffer; // TF.js may quiet the NaN
    const f = files(a, 'none', 10); // shards of 10 bytes: a float split across two of them
    const [k, b] = (await importTfjsLayersModel(f.json, f.readFile, 'model.json')).layers[0].getWeights();
    expect(Array.from(new Uint32Array(k.buffer, k.byteOffset, 6))).toEqual(Array.from(kernel));
    expect(Array.from(new Uint32Array(b.buffer, b.byteOffset, 3))).toEqual(Array.from(bias));
  });

  it('names the file and tensor for a missing shard, a short shard, a wrong shape and an unsupported layer', async () => {
    const f = files(await artifactsOf(sequentialCnn()), 'none', 1000);
    const n = f.json.weightsManifest[0].paths.length;
    const missing = async (p: string) => { if (p.includes('shard2of')) throw new Error(`ENOENT: ${p}`); return f.readFile(p); };
    await expect(importTfjsLayersModel(f.json, missing, 'm.json')).rejects.toThrow(new RegExp(`m\\.json: weight shard 'group1-shard2of${n}\\.bin'.*cannot be read`));
    const short = async (p: string) => { const b = await f.readFile(p); return p.includes(`shard${n}of`) ? b.subarray(0, b.length - 8) : b; };
    await expect(importTfjsLayersModel(f.json, short, 'm.json')).rejects.toThrow(`group1-shard${n}of${n}.bin: shards are`);
    const lastWeight = f.json.weightsManifest[0].weights.at(-1)!.name;
    await expect(importTfjsLayersModel(f.json, short, 'm.json')).rejects.toThrow(`shorter than the manifest of m.json: weight '${lastWeight}'`);
    const bad = structuredClone(f.json) as any;
    const kernel = bad.weightsManifest[0].weights.find((w: { name: string }) => /dense_Dense\d+\/kernel/.test(w.name));
    kernel.shape = [kernel.shape[1], kernel.shape[0]];
    const err = await importTfjsLayersModel(bad, f.readFile, 'm.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(new RegExp(`m\\.json: weight '${kernel.name}' has shape \\[${kernel.shape}\\], but layer 'dense_Dense\\d+' \\(Dense\\) expects 'kernel' of shape \\[${kernel.shape[1]},${kernel.shape[0]}\\]`));
    expect(err.tensor).toBe(kernel.name);
    const odd = structuredClone(f.json) as any;
    odd.modelTopology.config.layers[2].class_name = 'LSTM';
    await expect(importTfjsLayersModel(odd, f.readFile, 'm.json')).rejects.toThrow(UnsupportedOpError);
    await expect(importTfjsLayersModel(odd, f.readFile, 'm.json')).rejects.toThrow(/m\.json: node 'max_pooling2d_MaxPooling2D\d+' uses op 'LSTM'/);
  });
});
