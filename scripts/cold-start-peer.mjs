// Cold-start probe, run in a fresh process by bench-peers.mjs:
//   node scripts/cold-start-peer.mjs edgetune|edgetune-lite|tfjs-wasm|ort-web [mlp|emotion]
// Measures "import the library" -> "first prediction available", single-threaded, at batch 1:
// mlp, the 784-256-256-10 MLP (random init); emotion, the TF.js graph model (mini-Xception,
// 64x64x1; edgetune imports it, TF.js runs tf.loadGraphModel), its files read before the clock.
// Prints exactly one JSON line on stdout; nothing else goes to stdout.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from './bench-peers.mjs';

const impl = process.argv[2];
const workload = process.argv[3] ?? 'mlp';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const NM = path.resolve(HERE, '..', 'node_modules');
const SIZES = [784, 256, 256, 10];

// Keep library chatter off stdout.
const toErr = (...a) => process.stderr.write(a.map(String).join(' ') + '\n');
console.log = console.info = console.debug = console.warn = toErr;

// Record which wasm binary gets instantiated (byte length -> file name).
const wasmSeen = [];
const origInstantiate = WebAssembly.instantiate;
WebAssembly.instantiate = function (src, ...rest) {
  if (src && typeof src.byteLength === 'number') wasmSeen.push(src.byteLength);
  return origInstantiate.call(this, src, ...rest);
};
function nameBinary(dir) {
  const bySize = new Map();
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.wasm')) bySize.set(fs.statSync(path.join(dir, f)).size, f);
  }
  return wasmSeen.map((s) => bySize.get(s) ?? `<unknown ${s} bytes>`).join(',') || '<none>';
}
function osThreads() {
  try {
    return Number(fs.readFileSync('/proc/self/status', 'utf8').match(/^Threads:\s+(\d+)/m)[1]);
  } catch {
    return null;
  }
}

const rnd = mulberry32(7);
const sample = new Float32Array(SIZES[0]);
for (let i = 0; i < sample.length; i++) sample[i] = rnd();

// TF.js on its wasm backend, one thread, production mode: as the bench's other tfjs-wasm rows.
async function singleThreadedWasm(tf, wasm) {
  tf.enableProdMode();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  wasm.setWasmPaths(path.join(NM, '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep);
  await tf.setBackend('wasm');
  await tf.ready();
}

async function tfjsWasm() {
  const phases = {};
  const t0 = performance.now();
  const [tf, wasm, tfl] = await Promise.all([
    import('@tensorflow/tfjs-core'),
    import('@tensorflow/tfjs-backend-wasm'),
    import('@tensorflow/tfjs-layers'),
  ]);
  const t1 = performance.now();
  phases.import = t1 - t0;
  await singleThreadedWasm(tf, wasm);
  const t2 = performance.now();
  phases.init = t2 - t1;
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [SIZES[0]], units: SIZES[1], activation: 'relu' }));
  model.add(tfl.layers.dense({ units: SIZES[2], activation: 'relu' }));
  model.add(tfl.layers.dense({ units: SIZES[3], activation: 'softmax' }));
  const t3 = performance.now();
  phases.build = t3 - t2;
  const x = tf.tensor2d(sample, [1, SIZES[0]]);
  const y = model.predict(x);
  const out = await y.data();
  const t4 = performance.now();
  phases.predict = t4 - t3;
  if (out.length !== SIZES[3] || !Number.isFinite(out[0])) throw new Error('bad prediction');
  return {
    totalMs: t4 - t0, phases,
    binary: nameBinary(path.join(NM, '@tensorflow', 'tfjs-backend-wasm', 'dist')),
    threads: `xnnpack=${wasm.getThreadsCount()} os=${osThreads()}`,
  };
}

async function ortWeb() {
  // The model "file" exists before the clock starts (as if read from disk):
  // glorot-uniform weights, zero biases, serialized with our ONNX writer.
  const { mlpModel } = await import('./onnx-writer.mjs');
  const weights = [];
  const biases = [];
  for (let l = 0; l < SIZES.length - 1; l++) {
    const fanIn = SIZES[l], fanOut = SIZES[l + 1];
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rnd() - 1) * lim;
    weights.push(w);
    biases.push(new Float32Array(fanOut));
  }
  const bytes = mlpModel(SIZES, { weights, biases }, { batch: 1 });
  const wasmFile = path.join(NM, 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.wasm');

  const phases = {};
  const t0 = performance.now();
  const ort = await import('onnxruntime-web');
  const t1 = performance.now();
  phases.import = t1 - t0;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = { wasm: pathToFileURL(wasmFile).href };
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3,
  });
  const t2 = performance.now();
  phases.session = t2 - t1;
  const res = await session.run({ input: new ort.Tensor('float32', sample, [1, SIZES[0]]) });
  const out = res.output.data;
  const t3 = performance.now();
  phases.predict = t3 - t2;
  if (out.length !== SIZES[3] || !Number.isFinite(out[0])) throw new Error('bad prediction');
  return {
    totalMs: t3 - t0, phases,
    binary: nameBinary(path.join(NM, 'onnxruntime-web', 'dist')),
    threads: `numThreads=${ort.env.wasm.numThreads} os=${osThreads()}`,
  };
}

// The threads a model ran on (after the clock; `model.threads`, which edgetune/lite's models have too).
const ranOn = (model) => `edgetune=${model.threads.threads}`;

// edgetune: import the bundle, build the same MLP (glorot-uniform weights), plan it for inference
// (one fixed arena), predict one sample. edgetune-lite: the same on edgetune/lite (dist/lite.js and
// the lite kernels, dense networks only).
async function edgetune(entry = 'index.js') {
  const phases = {};
  const t0 = performance.now();
  const et = await import(pathToFileURL(path.resolve(HERE, '..', 'dist', entry)).href);
  et.setThreads(1); // single-threaded, as the peers are
  await et.ready();
  const t1 = performance.now();
  phases.import = t1 - t0;
  const model = et.sequential([
    et.layers.dense(SIZES[1], { activation: 'relu', inputShape: [SIZES[0]] }),
    et.layers.dense(SIZES[2], { activation: 'relu' }),
    et.layers.dense(SIZES[3], { activation: 'softmax' }),
  ]);
  const t2 = performance.now();
  phases.build = t2 - t1;
  const out = model.predict(et.tensor(sample, [1, SIZES[0]]), { batchSize: 1 }).data;
  const t3 = performance.now();
  phases.predict = t3 - t2;
  if (out.length !== SIZES[3] || !Number.isFinite(out[0])) throw new Error('bad prediction');
  return { totalMs: t3 - t0, phases, binary: entry === 'lite.js' ? 'dist/edgetune-lite.wasm' : 'dist/edgetune.wasm', threads: `${ranOn(model)} os=${osThreads()}` };
}

// The emotion model's files, read before the clock starts (as if fetched), and one input.
function emotionFiles() {
  const dir = path.resolve(HERE, '..', 'test', 'fixtures', 'models');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'emotion.json'), 'utf8'));
  const shards = new Map(json.weightsManifest.flatMap((g) => g.paths).map((p) => [p, new Uint8Array(fs.readFileSync(path.join(dir, p)))]));
  const input = new Float32Array(64 * 64);
  for (let i = 0; i < input.length; i++) input[i] = rnd();
  return { json, shards, input };
}

async function edgetuneEmotion() {
  const { json, shards, input } = emotionFiles();
  const phases = {};
  const t0 = performance.now();
  const [et, importers] = await Promise.all([
    import(pathToFileURL(path.resolve(HERE, '..', 'dist', 'index.js')).href),
    import(pathToFileURL(path.resolve(HERE, '..', 'dist', 'import', 'tfjs.js')).href), // edgetune/import/tfjs
  ]);
  et.setThreads(1); // single-threaded, as TF.js is (a plan with a convolution would start workers)
  await et.ready();
  const t1 = performance.now();
  phases.import = t1 - t0;
  const model = await importers.importTfjsGraphModel(json, async (p) => shards.get(p), 'emotion.json');
  const t2 = performance.now();
  phases.load = t2 - t1;
  const out = model.predict(et.tensor(input, [1, 64, 64, 1]), { batchSize: 1 }).data;
  const t3 = performance.now();
  phases.predict = t3 - t2;
  if (out.length !== 7 || !Number.isFinite(out[0])) throw new Error('bad prediction');
  return { totalMs: t3 - t0, phases, binary: 'dist/edgetune.wasm', threads: `${ranOn(model)} os=${osThreads()}` };
}

async function tfjsWasmEmotion() {
  const { json, shards, input } = emotionFiles();
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const parts = [...shards.values()];
  const weightData = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  parts.reduce((o, b) => { weightData.set(b, o); return o + b.length; }, 0);
  const phases = {};
  const t0 = performance.now();
  const [tf, wasm, tfconv] = await Promise.all([
    import('@tensorflow/tfjs-core'),
    import('@tensorflow/tfjs-backend-wasm'),
    import('@tensorflow/tfjs-converter'),
  ]);
  await singleThreadedWasm(tf, wasm);
  const t1 = performance.now();
  phases.import = t1 - t0;
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer, format: 'graph-model' }));
  const t2 = performance.now();
  phases.load = t2 - t1;
  const out = await model.predict(tf.tensor(input, [1, 64, 64, 1])).data();
  const t3 = performance.now();
  phases.predict = t3 - t2;
  if (out.length !== 7 || !Number.isFinite(out[0])) throw new Error('bad prediction');
  return { totalMs: t3 - t0, phases, binary: nameBinary(path.join(NM, '@tensorflow', 'tfjs-backend-wasm', 'dist')), threads: `xnnpack=${wasm.getThreadsCount()} os=${osThreads()}` };
}

const runners = {
  mlp: { 'tfjs-wasm': tfjsWasm, 'ort-web': ortWeb, edgetune: () => edgetune(), 'edgetune-lite': () => edgetune('lite.js') },
  emotion: { 'tfjs-wasm': tfjsWasmEmotion, edgetune: edgetuneEmotion },
}[workload];
if (!runners?.[impl]) {
  toErr('usage: node cold-start-peer.mjs edgetune|edgetune-lite|tfjs-wasm|ort-web [mlp|emotion] (emotion: edgetune|tfjs-wasm)');
  process.exit(2);
}
const result = await runners[impl]();
// ORT/emscripten may keep handles alive; exit explicitly once the result is out.
process.stdout.write(JSON.stringify({ impl, ...result }) + '\n', () => process.exit(0));
