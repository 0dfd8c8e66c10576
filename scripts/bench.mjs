// npm run bench [-- --json] [-- --quick] [-- --only <workload prefix>] [-- --profile] [-- --threads N]
// edgetune beside its peers, in one process, single-threaded: TensorFlow.js (wasm and cpu
// backends) and onnxruntime-web. Prints a table of medians and ratios; --json prints one JSON
// array of {workload, impl, value, unit} records instead. The machine is shared and noisy:
// every figure is a median of repeated runs, and ratios are taken within this one run.
import { readFileSync } from 'node:fs';
import { buildAppKernels, bundleSize } from './size.mjs';
import { cnnPeers, coldStartPeers, gemmPeers, log, mlpTrainPeers, randomF32, timeItSync, updatePeers } from './bench-peers.mjs';

const args = new Set(process.argv.slice(2));
// npm run bench -- --runtimes: the Node / Deno / Bun comparison instead (scripts/bench-runtimes.mjs).
if (args.has('--runtimes')) {
  await import('./bench-runtimes.mjs');
  process.exit(0);
}
// npm run bench -- --threads N: edgetune on 1 and N threads beside ort-web (scripts/bench-threads.mjs).
if (args.has('--threads')) {
  await import('./bench-threads.mjs');
  process.exit(0);
}
const json = args.has('--json');
// --json: stdout carries the JSON array and nothing else (a peer library's console output goes to stderr).
if (json) console.log = console.info = console.debug = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const quick = args.has('--quick');
// --only <prefix>: run just the workloads whose name starts with it (e.g. --only update, --only gemm).
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : null;
const selected = (workload) => only === null || workload.startsWith(only) || only.startsWith(workload);
const records = [];
const add = (workload, impl, value, unit) => records.push({ workload, impl, value, unit });

// ---------------------------------------------------------------------------------------------
// GEMM: the kernel itself, called with byte offsets exactly as the plan executor calls it.

function edgetuneGemm(n) {
  const bytes = readFileSync(new URL('../build/edgetune.wasm', import.meta.url));
  const floats = n * n;
  // Three matrices plus packing scratch (the kernel needs at most 132 KiB; 1 MiB is room to spare).
  const need = 16384 + 4 * 3 * floats + 1048576;
  const pages = Math.ceil(need / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  const base = 16384;
  const a = base;
  const b = a + floats * 4;
  const c = b + floats * 4;
  const pack = c + floats * 4;
  const f32 = new Float32Array(memory.buffer);
  f32.set(randomF32(floats, 1, -1, 1), a / 4);
  f32.set(randomF32(floats, 2, -1, 1), b / 4);
  const run = () => k.gemm_f32(c, a, b, n, n, n, n, 1, n, 1, n, 0, pack);
  // Check one element against a dot product before timing it.
  run();
  let ref = 0;
  for (let p = 0; p < n; p++) ref += f32[a / 4 + 3 * n + p] * f32[b / 4 + p * n + 5];
  const got = f32[c / 4 + 3 * n + 5];
  if (Math.abs(got - ref) > 1e-3 * Math.max(1, Math.abs(ref))) throw new Error(`edgetune gemm ${n}: C[3,5] = ${got}, expected ${ref}`);
  const ms = timeItSync(run, { warmup: 3, reps: quick ? 5 : 15, minMs: quick ? 100 : 400 });
  return (2 * n ** 3) / (ms / 1000) / 1e9;
}

const sizes = [128, 256, 512, 1024];
if (selected('gemm')) {
log('GEMM ...');
for (const n of sizes) add(`gemm-${n}`, 'edgetune', edgetuneGemm(n), 'GFLOP/s');
records.push(...(await gemmPeers(sizes)));
}

// ---------------------------------------------------------------------------------------------
// MLP training step: 784-256-256-10, Adam, batch 64, sparse categorical cross-entropy.
const et = await import('../dist/node.js');
// This table is single-threaded (--threads N compares thread counts).
et.setThreads(1);
if (selected('mlp-train')) {
log('MLP training step ...');
  et.setSeed(1234);
  const model = et.sequential([
    et.layers.dense(256, { activation: 'relu', inputShape: [784] }),
    et.layers.dense(256, { activation: 'relu' }),
    et.layers.dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: et.optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy', batchSize: 64 });
  const batches = 8;
  const xs = [];
  const ys = [];
  for (let i = 0; i < batches; i++) {
    xs.push(et.tensor(randomF32(64 * 784, 10 + i), [64, 784]));
    ys.push(et.tensor(Int32Array.from({ length: 64 }, (_, j) => (j * 7 + i) % 10), [64]));
  }
  let step = 0;
  const ms = timeItSync(() => { model.trainOnBatch(xs[step % batches], ys[step % batches]); step++; },
    { warmup: 5, reps: quick ? 20 : 60, minMs: quick ? 200 : 1500 });
  add('mlp-train-b64', 'edgetune', ms, 'ms/step');
  add('mlp-train-b64-arena', 'edgetune', model.plan.pages * 65536, 'bytes');
records.push(...(await mlpTrainPeers()));
}

// ---------------------------------------------------------------------------------------------
// The CNN: conv3x3(32, same, no bias)-BN-ReLU-maxpool-conv3x3(64, same, no bias)-BN-ReLU-maxpool-
// flatten-dense(10) on 28x28x1 at batch 64: inference, full training step, frozen-base fine-tuning.
if (selected('cnn')) {
log('CNN ...');
  const { layers } = et;
  const cnn = () => et.sequential([
    layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', useBias: false, inputShape: [28, 28, 1] }),
    layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }),
    layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(), layers.dense(10, { activation: 'softmax' }),
  ]);
  const x = et.tensor(randomF32(64 * 784, 4321, 0, 1), [64, 28, 28, 1]);
  const y = et.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 3) % 10), [64]);
  const opts = { warmup: 2, reps: quick ? 5 : 12, minMs: quick ? 300 : 1500 };
  const infer = cnn();
  add('cnn-infer-b64', 'edgetune', timeItSync(() => infer.predict(x, { batchSize: 64 }), opts), 'ms');
  add('cnn-arena-inference', 'edgetune', infer.planInference(64).pages * 65536, 'bytes');
  const full = cnn();
  full.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 64 });
  add('cnn-train-b64', 'edgetune', timeItSync(() => full.trainOnBatch(x, y), opts), 'ms/step');
  add('cnn-arena-training', 'edgetune', full.plan.pages * 65536, 'bytes');
  const tune = cnn();
  for (const l of tune.layers.slice(0, -1)) l.trainable = false;
  tune.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 64 });
  add('cnn-finetune-b64', 'edgetune', timeItSync(() => tune.trainOnBatch(x, y), opts), 'ms/step');
  add('cnn-arena-finetune', 'edgetune', tune.plan.pages * 65536, 'bytes');
records.push(...(await cnnPeers({ quick })));
}

// ---------------------------------------------------------------------------------------------
// Real models at batch 1 and 8 against the peer that runs the same file (scripts/bench-models.mjs);
// --profile prints edgetune's time per op kind for each.
if (selected('model-')) {
  log('real models ...');
  const { modelRows } = await import('./bench-models.mjs');
  records.push(...(await modelRows(et, { quick, profile: args.has('--profile'), selected })));
}

// ---------------------------------------------------------------------------------------------
// Import to first prediction, in fresh processes: the MLP, and the emotion model (TF.js graph).
if (selected('cold-start')) {
  log('cold start ...');
  if (only === null || 'cold-start'.startsWith(only) || only === 'cold-start-mlp') {
    records.push(...(await coldStartPeers({ runs: quick ? 3 : 7, impls: ['edgetune', 'edgetune-lite', 'tfjs-wasm', 'ort-web'] })));
  }
  if (selected('cold-start-emotion')) records.push(...(await coldStartPeers({ runs: quick ? 3 : 7, impls: ['edgetune', 'tfjs-wasm'], model: 'emotion' })));
}

// ---------------------------------------------------------------------------------------------
// What a browser app that builds, trains and runs a model downloads (scripts/size.mjs).
if (selected('bundle-gz')) {
  const size = await bundleSize();
  log(`bundle: JS ${size.jsGz} B gz (${size.jsBytes} B minified) + edgetune.wasm ${size.wasmGz} B gz`);
  add('bundle-gz', 'edgetune', size.totalGz / 1024, 'KB');
}
// The same app on edgetune/lite, which loads the lite kernels (dense networks only).
if (selected('bundle-gz-lite')) {
  const size = await bundleSize('lite');
  log(`bundle (edgetune/lite): JS ${size.jsGz} B gz (${size.jsBytes} B minified) + edgetune-lite.wasm ${size.wasmGz} B gz`);
  add('bundle-gz-lite', 'edgetune', size.totalGz / 1024, 'KB');
}
// And on its own kernel build (`edgetune kernels` with the ops its plans use, scripts/size.mjs).
if (selected('bundle-gz-app')) {
  await buildAppKernels();
  const size = await bundleSize('lite-app');
  log(`bundle (edgetune/lite, its own kernels): JS ${size.jsGz} B gz (${size.jsBytes} B minified) + app kernels ${size.wasmGz} B gz`);
  add('bundle-gz-app', 'edgetune', size.totalGz / 1024, 'KB');
}

// ---------------------------------------------------------------------------------------------
// Optimizer update throughput on a 1M-parameter slab: one apply_gradients op (the fused clip,
// weight decay and update pass; Nadam adds its nadam_prep word) run by the plan interpreter,
// exactly as a training step runs it. `-clipnorm` clips the slab as one tensor by its own norm.
const UPDATE_PARAMS = 1 << 20;
const UPDATE_OPTIMIZERS = ['sgd', 'adagrad', 'rmsprop', 'adam', 'adamw', 'nadam', 'adamax'];

function edgetuneUpdate(name, clipnorm) {
  const bytes = readFileSync(new URL('../build/edgetune.wasm', import.meta.url));
  const n = UPDATE_PARAMS;
  const pages = Math.ceil((65536 + 4 * 5 * n + 65536) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  const base = Math.ceil(k.heap_base() / 64) * 64 + 64;
  const header = base; // 128-byte step header
  const ops = base + 128; // room for 64 words
  const [w, g, s1, s2, s3] = [0, 1, 2, 3, 4].map((i) => base + 512 + i * 4 * n);
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  f32.set(randomF32(n, 11, -1, 1), w / 4);
  f32.set(randomF32(n, 12, -0.01, 0.01), g / 4);
  // Opcodes and argument order as host/compile/ops.ts (OP_SPECS); kinds and slots as host/compile/plan.ts.
  const spec = {
    sgd: { kind: 0, lr: 0.01, mu: 0.9, slots: [s1, 0, 0], h1: 0, h2: 0, wd: 0 },
    adagrad: { kind: 1, lr: 0.001, mu: 0, slots: [s1, 0, 0], h1: 0, h2: 1e-7, wd: 0, fill: 0.1 },
    rmsprop: { kind: 2, lr: 0.001, mu: 0, slots: [s1, 0, 0], h1: 0.9, h2: 1e-7, wd: 0 },
    adam: { kind: 3, lr: 0.001, mu: 0.9, slots: [s1, s2, 0], h1: 0.999, h2: 1e-7, wd: 0 },
    adamw: { kind: 3, lr: 0.001, mu: 0.9, slots: [s1, s2, 0], h1: 0.999, h2: 1e-7, wd: 0.004 },
    nadam: { kind: 4, lr: 0.001, mu: 0.9, slots: [s1, s2, 0], h1: 0.999, h2: 1e-7, wd: 0 },
    adamax: { kind: 5, lr: 0.001, mu: 0.9, slots: [s1, s2, 0], h1: 0.999, h2: 1e-7, wd: 0 },
  }[name];
  for (const s of spec.slots) if (s) f32.fill(spec.fill ?? 0, s / 4, s / 4 + n);
  const bits = (v) => new Int32Array(Float32Array.of(v).buffer)[0];
  const words = [
    46, 2, bits(spec.lr), bits(spec.mu), // optimizer_init
    ...(spec.kind === 4 ? [48, 0] : []), // nadam_prep
    17, 13, spec.kind, w, g, ...spec.slots, n, clipnorm ? 2 : 0, bits(clipnorm ? 1 : 0), bits(spec.wd), bits(spec.h1), bits(spec.h2), 0,
    47, 0, // step_done
  ];
  i32.set(words, ops / 4);
  i32[header / 4] = 1; // batch
  if (k.run(ops, 1, header) !== 0) throw new Error('optimizer_init failed');
  const step = ops + 16; // skip optimizer_init
  const count = spec.kind === 4 ? 3 : 2;
  const w0 = f32[w / 4 + 5];
  if (k.run(step, count, header) !== 0) throw new Error(`update-${name}: run failed`);
  if (!(f32[w / 4 + 5] !== w0 && Number.isFinite(f32[w / 4 + 5]))) throw new Error(`update-${name}: the weights did not move`);
  const ms = timeItSync(() => k.run(step, count, header), { warmup: 3, reps: quick ? 7 : 25, minMs: quick ? 200 : 800 });
  return n / (ms / 1000) / 1e6;
}

if (selected('update')) {
  log('optimizer updates ...');
  // Each workload's peer right after it: on a shared machine the load drifts, and a ratio of
  // two figures taken seconds apart is steadier than one of figures taken a minute apart.
  for (const name of UPDATE_OPTIMIZERS) {
    for (const clip of [false, true]) {
      const workload = `update-${name}${clip ? '-clipnorm' : ''}`;
      if (!selected(workload)) continue;
      add(workload, 'edgetune', edgetuneUpdate(name, clip), 'Mparams/s');
      records.push(...(await updatePeers({ params: UPDATE_PARAMS, quick, selected: (w) => w === workload })));
    }
  }
}

// ---------------------------------------------------------------------------------------------
const get = (w, i) => records.find((r) => r.workload === w && r.impl === i)?.value;
if (json) {
  process.stdout.write(JSON.stringify(records, null, 1) + '\n');
} else {
  const fmt = (v) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
  const lines = [];
  lines.push(`edgetune bench (single thread, medians; ${new Date().toISOString().slice(0, 10)}, node ${process.version})`);
  lines.push('');
  lines.push('| workload | unit | edgetune | tfjs-wasm | tfjs-cpu | ort-web | edgetune vs best peer |');
  lines.push('|---|---|---|---|---|---|---|');
  const workloads = [...new Set(records.map((r) => r.workload))].filter((w) => !w.includes('-arena'));
  for (const w of workloads) {
    const unit = records.find((r) => r.workload === w).unit;
    const higherIsBetter = unit === 'GFLOP/s' || unit === 'Mparams/s';
    const ours = get(w, 'edgetune');
    const peers = ['tfjs-wasm', 'tfjs-cpu', 'ort-web'].map((i) => get(w, i)).filter((v) => v !== undefined);
    if (!peers.length) { lines.push(`| ${w} | ${unit} | ${fmt(ours)} | - | - | - | (no peer) |`); continue; }
    const best = higherIsBetter ? Math.max(...peers) : Math.min(...peers);
    const ratio = higherIsBetter ? ours / best : best / ours;
    lines.push(`| ${w} | ${unit} | ${fmt(ours)} | ${fmt(get(w, 'tfjs-wasm'))} | ${fmt(get(w, 'tfjs-cpu'))} | ${fmt(get(w, 'ort-web'))} | ${ratio.toFixed(2)}x ${higherIsBetter ? 'the throughput' : 'faster'} |`);
  }
  lines.push('');
  const r = (a, b) => (a / b).toFixed(2);
  lines.push('Targets (ratios within this run):');
  for (const w of workloads.filter((x) => x.startsWith('model-'))) {
    const peer = get(w, 'tfjs-wasm') !== undefined ? 'tfjs-wasm' : 'ort-web';
    if (get(w, peer) !== undefined) lines.push(`  ${w}: ${peer} / edgetune = ${r(get(w, peer), get(w, 'edgetune'))}x faster (target >= 1.5x)`);
  }
  for (const w of workloads.filter((x) => x.startsWith('update-') && get(x, 'tfjs-wasm') !== undefined)) {
    lines.push(`  ${w}: edgetune / tfjs-wasm = ${r(get(w, 'edgetune'), get(w, 'tfjs-wasm'))}x the parameters per second (target >= 3x)`);
  }
  if (only === null) {
  for (const n of [256, 512, 1024]) lines.push(`  gemm-${n}: edgetune / ort-web = ${r(get(`gemm-${n}`, 'edgetune'), get(`gemm-${n}`, 'ort-web'))}x (target >= 1.1x)`);
  lines.push(`  mlp-train-b64: tfjs-wasm / edgetune = ${r(get('mlp-train-b64', 'tfjs-wasm'), get('mlp-train-b64', 'edgetune'))}x faster (target >= 5x)`);
  lines.push(`  cold-start: tfjs-wasm / edgetune = ${r(get('cold-start', 'tfjs-wasm'), get('cold-start', 'edgetune'))}x faster, ${get('cold-start', 'edgetune')?.toFixed(1)} ms (target >= 30x, < 10 ms)`);
  lines.push(`  cold-start-emotion: tfjs-wasm / edgetune = ${r(get('cold-start-emotion', 'tfjs-wasm'), get('cold-start-emotion', 'edgetune'))}x faster, ${get('cold-start-emotion', 'edgetune')?.toFixed(1)} ms (target < 20 ms)`);
  lines.push(`  cold-start (edgetune/lite): tfjs-wasm / edgetune-lite = ${r(get('cold-start', 'tfjs-wasm'), get('cold-start', 'edgetune-lite'))}x faster, ${get('cold-start', 'edgetune-lite')?.toFixed(1)} ms`);
  lines.push(`  bundle-gz: ${get('bundle-gz', 'edgetune')?.toFixed(1)} KB, edgetune/lite ${get('bundle-gz-lite', 'edgetune')?.toFixed(1)} KB, on its own kernels ${get('bundle-gz-app', 'edgetune')?.toFixed(1)} KB (target <= 50 KB)`);
  lines.push(`  cnn-infer-b64: tfjs-wasm / edgetune = ${r(get('cnn-infer-b64', 'tfjs-wasm'), get('cnn-infer-b64', 'edgetune'))}x faster (target >= 1.5x)`);
  lines.push(`  cnn-finetune-b64: tfjs-wasm / edgetune = ${r(get('cnn-finetune-b64', 'tfjs-wasm'), get('cnn-finetune-b64', 'edgetune'))}x faster (target >= 2.5x)`);
  lines.push(`  cnn-train-b64: tfjs-cpu / edgetune = ${r(get('cnn-train-b64', 'tfjs-cpu'), get('cnn-train-b64', 'edgetune'))}x faster (target >= 100x; tfjs-wasm cannot train convolutions)`);
  lines.push('');
  lines.push('Planned arenas (one fixed wasm memory each):');
  lines.push(`  MLP 784-256-256-10, Adam, batch 64, training: ${(get('mlp-train-b64-arena', 'edgetune') / 1048576).toFixed(2)} MB`);
  for (const mode of ['inference', 'training', 'finetune']) lines.push(`  CNN batch 64, ${mode}: ${(get(`cnn-arena-${mode}`, 'edgetune') / 1048576).toFixed(2)} MB`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}
