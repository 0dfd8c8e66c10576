// The fuzzer's targets: one per loader, each with its seed files and how a mutated input is fed
// to it. `run` resolves when the loader accepted the input (and checks the accepted model runs),
// and throws what the loader threw otherwise.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compileTrainPlan, dataFromFileBytes, dataToFileBytes, importOnnx, importPytorchSafetensors, importTfjsGraphModel, importTfjsLayersModel,
  EdgetuneError, layers, loadModel, type Model, optimizers, planToFileBytes, readPlanFileInfo, readSafetensors, sequential, tensor, writeSafetensors,
} from '../../dist/node.js';
import { toTfjsLayersModel } from '../../host/formats/export-tfjs';
import { pytorchCnn } from '../onnx-models';
import { keras3, legacyH5 } from '../support/keras-files';
import { tfl } from '../tfjs';
import { runs } from './accepted.mjs';
import { concat, mutateBytes, mutateJson, type Rng } from './mutate';
import { Sandbox } from './sandbox';

const ROOT = new URL('../..', import.meta.url).pathname;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export interface Target {
  name: string;
  // The mutated input for case `r`, as something `run` takes.
  mutate: (r: Rng) => unknown;
  // Resolves 'refused' for a clean refusal that is not a thrown error (a WASI exit 1, an HTTP 4xx).
  run: (input: any) => Promise<void | 'refused'>;
  smoke?: number; // cases in `npm test` when it is slow per case (default 200)
  sandboxed?: true; // runs in the sandbox child, which times the case (sandboxTime)
}

// A safetensors file's header as JSON, to mutate it and write it back with its length prefix.
function splitSafetensors(b: Uint8Array): { header: unknown; data: Uint8Array } {
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(dec(b.subarray(8, 8 + n))), data: b.subarray(8 + n) };
}
function joinSafetensors(headerText: string, data: Uint8Array): Uint8Array {
  const h = enc(headerText);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  return concat(len, h, data);
}
function mutateSafetensors(seed: Uint8Array, r: Rng): Uint8Array {
  if (r.next() < 0.5) return mutateBytes(seed, r).bytes;
  const { header, data } = splitSafetensors(seed);
  return joinSafetensors(mutateJson(header, r).text, data);
}

function smallModel(): Model {
  const m = sequential([layers.dense(6, { inputShape: [5], activation: 'relu', name: 'd1' }), layers.batchNormalization({ name: 'bn' }), layers.dense(3, { activation: 'softmax', name: 'd2' })], { name: 'fuzz' });
  m.compile({ optimizer: optimizers.adam(0.01), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
  return m;
}

// Safetensors through loadModel: an accepted file means exactly its bytes (every F32 layer weight
// of the loaded model equals the tensor of that name in the file).
async function loadSafetensorsExactly(bytes: Uint8Array): Promise<void> {
  const m = await loadModel(bytes);
  runs(m);
  const file = readSafetensors(bytes);
  for (const l of m.layers) {
    l.weightSpecs.forEach((s, i) => {
      const t = file.tensors.get(`${l.name}/${s.name}`);
      if (!t) throw new Error(`accepted file has no tensor ${l.name}/${s.name}`);
      if (t.dtype !== 'F32') return;
      const got = new Uint8Array(l.values[i].buffer, l.values[i].byteOffset, l.values[i].byteLength);
      const want = t.data as Uint8Array;
      if (got.length !== want.length || got.some((x, j) => x !== want[j])) throw new Error(`accepted ${l.name}/${s.name} differs from the file's bytes`);
    });
  }
}

function tfjsJsonTarget(name: string, json: unknown, shard: Uint8Array, load: (json: unknown, read: (p: string) => Promise<Uint8Array>, file: string) => Promise<Model>): Target {
  return {
    name,
    mutate: (r) => {
      const k = r.next();
      // The importers take parsed JSON: a mutation that is no longer JSON is not their input.
      const parsed = (text: string) => { try { return JSON.parse(text); } catch { return json; } };
      if (k < 0.6) return { json: parsed(mutateJson(json, r).text), shard };
      if (k < 0.75) return { json: parsed(dec(mutateBytes(enc(JSON.stringify(json)), r).bytes)), shard };
      return { json, shard: mutateBytes(shard, r).bytes };
    },
    run: async ({ json: j, shard: s }) => runs(await load(j, async () => s, `${name}.json`)),
  };
}

// WASI runs and Keras reads go to a sandboxed child process (test/fuzz/sandbox.ts): a case that
// crashes, hangs or grows the process past 1 GB is reported, and the next case gets a new child.
const sandbox = new Sandbox();
export const closeSandbox = () => sandbox.close();
// The last sandboxed case's own time (undefined if the child did not answer), and how many
// children the run started.
export const sandboxTime = () => sandbox.last;
export const sandboxStarts = () => sandbox.starts;
async function wasiExit(args: string[], preopens: Record<string, string>): Promise<number> {
  const r = await sandbox.value({ kind: 'wasi', args, preopens });
  if (r.trap) throw new Error(`the WASI run threw (a trap?): ${r.trap}`);
  return r.code;
}
async function kerasRun(bytes: Uint8Array, name: string): Promise<void> {
  const r = await sandbox.value({ kind: 'keras', bytes, name });
  if (r.accepted) return;
  if (r.typed) throw new EdgetuneError('Sandboxed', r.error); // the child's typed refusal, retold
  throw new Error(r.error);
}

export async function targets(): Promise<Target[]> {
  const st = smallModel();
  const x = tensor(new Float32Array(40).map((_, i) => Math.sin(i)), [8, 5]);
  const yl = tensor(new Float32Array([0, 1, 2, 0, 1, 2, 0, 1]), [8]);
  await st.fit(x, yl, { epochs: 1 });
  const modelBytes = st.toBytes();
  const checkpointBytes = st.toBytes({ includeOptimizer: true });

  const tfjs = toTfjsLayersModel(st);
  const emotion = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/models/emotion.json'), 'utf8'));
  const emotionBin = new Uint8Array(readFileSync(join(ROOT, 'test/fixtures/models/emotion.bin')));
  const onnx = pytorchCnn();

  const kerasNet = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] });
  const dotKeras = keras3(kerasNet);
  const h5 = legacyH5(kerasNet);

  const torchModel = () => sequential([layers.dense(4, { inputShape: [3], name: 'fc1' }), layers.dense(2, { name: 'fc2' })]);
  const torch = writeSafetensors([
    { name: 'fc1.weight', dtype: 'F32', shape: [4, 3], data: new Float32Array(12).fill(0.5) }, { name: 'fc1.bias', dtype: 'F32', shape: [4], data: new Float32Array(4) },
    { name: 'fc2.weight', dtype: 'F32', shape: [2, 4], data: new Float32Array(8).fill(-0.25) }, { name: 'fc2.bias', dtype: 'F32', shape: [2], data: new Float32Array(2) },
  ]);

  const planModel = sequential([layers.dense(8, { inputShape: [6], activation: 'relu', name: 'a' }), layers.dense(3, { name: 'b' })]);
  planModel.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
  const plan = planToFileBytes(compileTrainPlan(planModel, { batch: 4 }));
  const etd = dataToFileBytes({ x: new Float32Array(24).fill(0.5), xFloats: 6, labels: new Int32Array([0, 1, 2, 0]), labelWords: 1 });

  // The WASI module trains one epoch from the plan, weights and data files: exit 0 or 1, never a trap.
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-fuzz-wasi-'));
  for (const d of ['p', 'w', 'd']) mkdirSync(join(dir, d));
  const weights = planModel.toBytes();
  const wasiRun = async ({ plan: p, data: d }: { plan: Uint8Array; data: Uint8Array }) => {
    writeFileSync(join(dir, 'p/model.plan'), p);
    writeFileSync(join(dir, 'w/model.safetensors'), weights);
    writeFileSync(join(dir, 'd/train.etd'), d);
    const code = await wasiExit(['train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd', '--epochs', '1'],
      { '/p': join(dir, 'p'), '/w': join(dir, 'w'), '/d': join(dir, 'd') });
    if (code === 1) return 'refused' as const;
    if (code !== 0) throw new Error(`WASI module exit ${code}`);
  };
  if (await wasiExit(['train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd', '--epochs', '1'], {}) !== 1) throw new Error('WASI without files must exit 1');
  await wasiRun({ plan, data: etd }).then((r) => { if (r) throw new Error('the WASI seed files are refused'); });

  // The edge handler's request bodies: 200, or 4xx with a JSON error; never 500, never a throw.
  const { createHandler } = await import('../../examples/edge/handler.mjs');
  const edge = await createHandler(new Uint8Array(readFileSync(join(ROOT, 'models/mnist-base-0to4.safetensors'))), { maxTenants: 4 });
  const row = () => Array.from({ length: 784 }, (_, i) => (i % 7) / 7);
  const bodies = [
    { path: '/predict', body: { inputs: [row()] } },
    { path: '/predict', body: { inputs: [row()], tenant: 'fuzz' } },
    { path: '/tenants/fuzz/train', body: { inputs: [row(), row()], labels: [5, 6], epochs: 1 } },
  ];
  const edgeRun = async ({ path, body }: { path: string; body: Uint8Array }) => {
    const res = await edge.fetch(new Request(`http://edge.test${path}`, { method: 'POST', body }));
    const text = await res.text();
    if (res.status === 200) return;
    let json: unknown;
    try { json = JSON.parse(text); } catch { throw new Error(`${path}: ${res.status} with a body that is not JSON: ${text.slice(0, 80)}`); }
    if (res.status >= 400 && res.status < 500 && json && typeof (json as { error?: unknown }).error === 'string') return 'refused' as const;
    throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
  };

  return [
    { name: 'safetensors-model', mutate: (r) => mutateSafetensors(modelBytes, r), run: loadSafetensorsExactly },
    { name: 'safetensors-checkpoint', mutate: (r) => mutateSafetensors(checkpointBytes, r), run: loadSafetensorsExactly },
    tfjsJsonTarget('tfjs-layers', tfjs.modelJson, tfjs.shards[0].bytes, importTfjsLayersModel),
    { ...tfjsJsonTarget('tfjs-graph', emotion, emotionBin, importTfjsGraphModel), smoke: 60 },
    { name: 'onnx', mutate: (r) => mutateBytes(onnx, r).bytes, run: async (b) => runs(importOnnx(b, 'fuzz.onnx')) },
    // h5wasm's C reader loops forever on some mutated files (about 1 in 25 .h5 cases): importKeras
    // stops its worker after the 2 s the sandbox child gives it and refuses the file (the run
    // counts these as `stopped`, within typed; test/keras-hdf5-bounded.test.ts).
    { name: 'keras-zip', smoke: 40, sandboxed: true, mutate: (r) => mutateBytes(dotKeras, r).bytes, run: (b) => kerasRun(b, 'fuzz.keras') },
    { name: 'keras-h5', smoke: 24, sandboxed: true, mutate: (r) => mutateBytes(h5, r).bytes, run: (b) => kerasRun(b, 'fuzz.h5') },
    { name: 'pytorch-safetensors', mutate: (r) => mutateSafetensors(torch, r), run: async (b) => runs(importPytorchSafetensors(b, torchModel(), {}, 'fuzz.safetensors')) },
    { name: 'plan-js', mutate: (r) => mutateBytes(plan, r).bytes, run: async (b) => void readPlanFileInfo(b, 'fuzz.plan') },
    { name: 'wasi-plan', smoke: 200, sandboxed: true, mutate: (r) => ({ plan: mutateBytes(plan, r).bytes, data: etd }), run: wasiRun },
    { name: 'wasi-etd', smoke: 200, sandboxed: true, mutate: (r) => ({ plan, data: mutateBytes(etd, r).bytes }), run: wasiRun },
    {
      name: 'edge-requests', smoke: 100,
      mutate: (r) => {
        const b = r.pick(bodies);
        const text = r.next() < 0.5 ? mutateJson(b.body, r).text : dec(mutateBytes(enc(JSON.stringify(b.body)), r).bytes);
        return { path: b.path, body: enc(text) };
      },
      run: edgeRun,
    },
    { name: 'etd-js', mutate: (r) => mutateBytes(etd, r).bytes, run: async (b) => void dataFromFileBytes(b, 'fuzz.etd') },
  ];
}
