// Peer implementations for the edgetune benchmark (imported by scripts/bench.mjs).
//
// Everything here runs in the caller's Node process, single-threaded:
//   - tfjs-wasm: @tensorflow/tfjs-backend-wasm, non-threaded SIMD binary
//     (tfjs-backend-wasm-simd.wasm), XNNPACK thread count 1.
//   - tfjs-cpu:  @tensorflow/tfjs-backend-cpu (plain JS, single-threaded by nature).
//   - ort-web:   onnxruntime-web, env.wasm.numThreads = 1 (ort-wasm-simd-threaded.wasm
//                is the only plain-wasm binary ORT ships; with numThreads = 1 no
//                pthread workers are started).
// Cold start is measured in fresh child processes (scripts/cold-start-peer.mjs).
//
// All diagnostics go to stderr; exported functions return plain records
// {workload, impl, value, unit}.

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const NM = path.join(ROOT, 'node_modules');
export const TFJS_WASM_DIST = path.join(NM, '@tensorflow', 'tfjs-backend-wasm', 'dist');
export const ORT_DIST = path.join(NM, 'onnxruntime-web', 'dist');
export const ORT_WASM_FILE = path.join(ORT_DIST, 'ort-wasm-simd-threaded.wasm');

// ---------------------------------------------------------------------------
// Small shared helpers (also used by the main bench)
// ---------------------------------------------------------------------------

/** Diagnostics to stderr only (stdout is reserved for the bench table). */
export function log(...args) {
  process.stderr.write(`[bench-peers] ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
}

/** Median of a numeric array (does not mutate the input). NaN for empty input. */
export function median(arr) {
  if (!arr || arr.length === 0) return NaN;
  const s = Float64Array.from(arr).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Summary statistics of timing samples (ms). */
export function stats(samples) {
  const n = samples.length;
  const s = Float64Array.from(samples).sort();
  const mean = samples.reduce((a, b) => a + b, 0) / n;
  return { median: median(samples), min: s[0], max: s[n - 1], mean, n, samples: [...samples] };
}

function normOpts({ warmup = 3, reps = 10, minMs = 0, maxReps = 10000, inner = 1 } = {}) {
  return { warmup, reps, minMs, maxReps, inner };
}

/**
 * Time an async (or sync) function. Runs `warmup` untimed calls, then timed
 * samples until at least `reps` samples AND `minMs` of total timed time
 * (capped at `maxReps` samples). Each sample times `inner` back-to-back calls
 * and records the per-call time. Returns stats in ms per call.
 */
export async function timeItStats(fn, opts) {
  const { warmup, reps, minMs, maxReps, inner } = normOpts(opts);
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  let total = 0;
  while (samples.length < maxReps && (samples.length < reps || total < minMs)) {
    const t0 = performance.now();
    for (let j = 0; j < inner; j++) await fn();
    const dt = performance.now() - t0;
    total += dt;
    samples.push(dt / inner);
  }
  return stats(samples);
}

/** Median ms per call of an async (or sync) function. See timeItStats. */
export async function timeIt(fn, opts) {
  return (await timeItStats(fn, opts)).median;
}

/**
 * Times several (sync or async) functions in alternation: after `warmup` calls of each, rounds
 * of one timed call of each, until every one has `reps` samples and `minMs` of timed time.
 * Returns the median ms per call of each, in order. On a shared machine a burst of load that
 * lands in one stretch of time slows every function of the rounds it covers, not just the one
 * being timed then, so their ratio holds (timed one after the other, a burst during one
 * function's short window made mobilenet_v2 at batch 1 read 2.8x slower than batch 8 per sample,
 * when its CPU time per sample was the same).
 */
export async function timeInterleaved(fns, opts) {
  return (await timeInterleavedRounds(fns, opts)).medians;
}

/** timeInterleaved, with the number of rounds timed (each function ran once a round). */
export async function timeInterleavedRounds(fns, opts) {
  const { warmup, reps, minMs, maxReps } = normOpts(opts);
  for (const fn of fns) for (let i = 0; i < warmup; i++) await fn();
  const samples = fns.map(() => []);
  const totals = fns.map(() => 0);
  const more = () => samples[0].length < maxReps && fns.some((_, i) => samples[i].length < reps || totals[i] < minMs);
  while (more()) {
    for (let i = 0; i < fns.length; i++) {
      // With threads, one runtime's pool still spins right after its run (onnxruntime-web's
      // does, and edgetune's workers briefly) and takes the next runtime's second core: each
      // timed call follows an untimed call of the same function.
      if (peerThreads > 1) await fns[i]();
      const t0 = performance.now();
      await fns[i]();
      const dt = performance.now() - t0;
      totals[i] += dt;
      samples[i].push(dt);
    }
  }
  return { medians: samples.map((s) => median(s)), rounds: samples[0].length };
}

/**
 * CPU ms per call of a synchronous fn over `runs` back-to-back calls, after one untimed call.
 * process.cpuUsage counts every thread of the process (a thread pool's spinning included); a
 * thread running on another core is accounted with a lag of up to a scheduler tick, small beside
 * a long stretch of calls.
 */
export function cpuPerRun(fn, runs) {
  fn();
  const u = process.cpuUsage();
  for (let i = 0; i < runs; i++) fn();
  const d = process.cpuUsage(u);
  return (d.user + d.system) / 1000 / runs;
}

/** Synchronous variant of timeItStats (no await between calls). */
export function timeItSyncStats(fn, opts) {
  const { warmup, reps, minMs, maxReps, inner } = normOpts(opts);
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  let total = 0;
  while (samples.length < maxReps && (samples.length < reps || total < minMs)) {
    const t0 = performance.now();
    for (let j = 0; j < inner; j++) fn();
    const dt = performance.now() - t0;
    total += dt;
    samples.push(dt / inner);
  }
  return stats(samples);
}

/** Median ms per call of a synchronous function. */
export function timeItSync(fn, opts) {
  return timeItSyncStats(fn, opts).median;
}

/** Deterministic PRNG (mulberry32), returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32Array of uniform [lo, hi) values from a seeded PRNG. */
export function randomF32(n, seed, lo = 0, hi = 1) {
  const r = mulberry32(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Linux-only: number of OS threads in this process (null elsewhere). */
export function osThreadCount() {
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(/^Threads:\s+(\d+)/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Run `fn` with console.log/info/debug/warn redirected to stderr so library
 * chatter can never end up in the stdout table.
 */
export async function quietly(fn) {
  const saved = { log: console.log, info: console.info, debug: console.debug, warn: console.warn };
  const toErr = (...a) => process.stderr.write(`[peer-lib] ${a.map(String).join(' ')}\n`);
  console.log = console.info = console.debug = console.warn = toErr;
  try {
    return await fn();
  } finally {
    Object.assign(console, saved);
  }
}

/**
 * Record which .wasm binaries get instantiated while `fn` runs, by matching
 * the byte length of buffers passed to WebAssembly.instantiate/compile against
 * the .wasm files in `dirs`. The hook is removed when `fn` settles.
 */
async function watchWasm(dirs, fn) {
  const bySize = new Map();
  for (const d of dirs) {
    for (const f of fs.readdirSync(d)) {
      if (f.endsWith('.wasm')) {
        const size = fs.statSync(path.join(d, f)).size;
        bySize.set(size, [...(bySize.get(size) ?? []), f]);
      }
    }
  }
  const seen = [];
  const note = (src) => {
    const len = src?.byteLength;
    if (typeof len === 'number') seen.push((bySize.get(len) ?? [`<unknown ${len} bytes>`]).join('|'));
    else if (src instanceof WebAssembly.Module) seen.push('<precompiled WebAssembly.Module>');
    else seen.push('<streaming/other>');
  };
  const { instantiate, compile } = WebAssembly;
  WebAssembly.instantiate = function (src, ...rest) {
    note(src);
    return instantiate.call(this, src, ...rest);
  };
  WebAssembly.compile = function (src, ...rest) {
    note(src);
    return compile.call(this, src, ...rest);
  };
  try {
    const result = await fn();
    return { result, binaries: seen };
  } finally {
    WebAssembly.instantiate = instantiate;
    WebAssembly.compile = compile;
  }
}

const flops2n3 = (n, ms) => (2 * n * n * n) / (ms / 1e3) / 1e9;

// ---------------------------------------------------------------------------
// TensorFlow.js (shared by tfjs-wasm and tfjs-cpu)
// ---------------------------------------------------------------------------

let tfjs = null; // {tf, tfl, wasm}
let tfjsWasmInfo = null; // {binaries, threads}

// The threads the peers are asked for (scripts/bench-threads.mjs: --threads N); set before the
// first peer loads (each initializes its wasm once per process). tfjs-wasm gets setThreadsCount,
// which in Node changes nothing: the threaded binary's pthread pool makes its workers from blob:
// URLs, which node:worker_threads refuses (ERR_WORKER_PATH), so its backend fails to start, and
// the non-threaded binary it loads instead has no pool (WASM_HAS_MULTITHREAD_SUPPORT is false in
// Node: https://github.com/tensorflow/tfjs/issues/3830). onnxruntime-web gets env.wasm.numThreads.
let peerThreads = 1;
export function setPeerThreads(n) {
  if (tfjs || ortMod) throw new Error('setPeerThreads: a peer is already loaded in this process');
  peerThreads = n;
}

async function loadTfjs() {
  if (tfjs) return tfjs;
  const [tf, wasm, tfl] = await quietly(async () => {
    const core = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const w = await import('@tensorflow/tfjs-backend-wasm');
    const l = await import('@tensorflow/tfjs-layers');
    return [core, w, l];
  });
  // Silence tfjs warnings (e.g. the "install tfjs-node" banner of the cpu backend).
  tf.enableProdMode();
  // Single-threaded XNNPACK and the non-threaded SIMD binary. In Node,
  // WASM_HAS_MULTITHREAD_SUPPORT already evaluates to false (https://github.com/tensorflow/tfjs/issues/3830),
  // we pin it anyway so the threaded binary can never be selected.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(peerThreads);
  // Explicit directory prefix (Emscripten reads it with fs in Node).
  wasm.setWasmPaths(TFJS_WASM_DIST + path.sep);
  tfjs = { tf, tfl, wasm };
  return tfjs;
}

export async function useTfBackend(name) {
  const { tf, wasm } = await loadTfjs();
  if (name === 'wasm' && !tfjsWasmInfo) {
    const threadsBefore = osThreadCount();
    const { binaries } = await watchWasm([TFJS_WASM_DIST], () => quietly(async () => {
      if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: setBackend("wasm") failed');
      await tf.ready();
    }));
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    tfjsWasmInfo = {
      binaries: binaries.length ? binaries : ['<none instantiated: backend was already initialized>'],
      xnnpackThreads: wasm.getThreadsCount(),
      simd, multithread: mt,
      osThreads: [threadsBefore, osThreadCount()],
    };
    log(`tfjs-wasm: loaded ${tfjsWasmInfo.binaries.join(', ')}; SIMD=${simd} MULTITHREAD=${mt} ` +
      `XNNPACK threads=${tfjsWasmInfo.xnnpackThreads}; OS threads before/after init ${threadsBefore}/${osThreadCount()}`);
    if (binaries.length && !binaries.every((b) => b === 'tfjs-backend-wasm-simd.wasm')) {
      log('WARNING: tfjs-wasm did not load the non-threaded SIMD binary');
    }
  } else {
    if (!(await quietly(() => tf.setBackend(name)))) throw new Error(`tfjs: setBackend("${name}") failed`);
    await tf.ready();
  }
  if (tf.getBackend() !== name) throw new Error(`tfjs: backend is ${tf.getBackend()}, wanted ${name}`);
  return tfjs;
}

// ---------------------------------------------------------------------------
// onnxruntime-web
// ---------------------------------------------------------------------------

let ortMod = null;
let ortInfo = null;

async function loadOrt() {
  if (ortMod) return ortMod;
  const ort = await quietly(() => import('onnxruntime-web'));
  // Must be set before the first session is created (wasm init happens once).
  ort.env.wasm.numThreads = peerThreads;
  ort.env.wasm.proxy = false;
  // Pin the binary explicitly. In Node, Emscripten reads file:// URLs with fs.
  ort.env.wasm.wasmPaths = { wasm: pathToFileURL(ORT_WASM_FILE).href };
  ort.env.logLevel = 'error';
  ortMod = ort;
  return ort;
}

const ORT_SESSION_OPTS = {
  executionProviders: ['wasm'],
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  // (intra/interOpNumThreads are not read by onnxruntime-web; env.wasm.numThreads rules.)
  logSeverityLevel: 3,
};

export async function ortSession(bytes) {
  const ort = await loadOrt();
  if (!ortInfo) {
    const threadsBefore = osThreadCount();
    const { result, binaries } = await watchWasm([ORT_DIST], () =>
      quietly(() => ort.InferenceSession.create(bytes, ORT_SESSION_OPTS)));
    ortInfo = { binaries, numThreads: ort.env.wasm.numThreads, osThreads: [threadsBefore, osThreadCount()] };
    log(`ort-web ${ort.env.versions?.web ?? ''}: loaded ${binaries.join(', ') || '<none: already initialized>'}; ` +
      `env.wasm.numThreads=${ort.env.wasm.numThreads}; OS threads before/after init ${threadsBefore}/${osThreadCount()}`);
    return result;
  }
  return quietly(() => ort.InferenceSession.create(bytes, ORT_SESSION_OPTS));
}

// ---------------------------------------------------------------------------
// 1. GEMM
// ---------------------------------------------------------------------------

/** Reference value of C[i][j] for row-major A, B (n x n), in float64. */
function refElem(A, B, n, i, j) {
  let s = 0;
  for (let k = 0; k < n; k++) s += A[i * n + k] * B[k * n + j];
  return s;
}

function checkGemm(impl, n, A, B, C) {
  for (const [i, j] of [[0, 0], [n - 1, n - 1], [n >> 1, 1]]) {
    const ref = refElem(A, B, n, i, j);
    const got = C[i * n + j];
    if (!(Math.abs(got - ref) <= 1e-3 * Math.max(1, Math.abs(ref)) + 1e-3)) {
      log(`WARNING: ${impl} gemm-${n} C[${i}][${j}]=${got}, expected ${ref}`);
      return false;
    }
  }
  return true;
}

function gemmTimingOpts(n) {
  // Enough samples for a stable median without blowing the time budget.
  if (n <= 128) return { warmup: 10, reps: 30, minMs: 300, inner: 4 };
  if (n <= 256) return { warmup: 5, reps: 20, minMs: 300 };
  if (n <= 512) return { warmup: 3, reps: 12, minMs: 400 };
  return { warmup: 2, reps: 8, minMs: 800 };
}

/**
 * Square f32 GEMM C = A.B, GFLOP/s (2n^3 / median seconds).
 * @param {number[]} sizes
 * @param {{impls?: string[]}} [opts]
 */
export async function gemmPeers(sizes = [128, 256, 512, 1024], { impls = ['tfjs-wasm', 'ort-web'] } = {}) {
  const out = [];
  const { matmulModel } = await import('./onnx-writer.mjs');
  for (const n of sizes) {
    const Ad = randomF32(n * n, 1000 + n, -1, 1);
    const Bd = randomF32(n * n, 2000 + n, -1, 1);
    const topts = gemmTimingOpts(n);

    if (impls.includes('tfjs-wasm')) {
      const { tf } = await useTfBackend('wasm');
      const A = tf.tensor2d(Ad, [n, n]);
      const B = tf.tensor2d(Bd, [n, n]);
      const C0 = tf.matMul(A, B);
      checkGemm('tfjs-wasm', n, Ad, Bd, C0.dataSync());
      C0.dispose();
      let sink = 0;
      const st = timeItSyncStats(() => {
        const C = tf.matMul(A, B);
        sink += C.dataSync()[0]; // forces the kernel to run and the result to be read back
        C.dispose();
      }, topts);
      A.dispose();
      B.dispose();
      const value = flops2n3(n, st.median);
      log(`gemm-${n} tfjs-wasm: median ${st.median.toFixed(3)} ms (min ${st.min.toFixed(3)}, n=${st.n}) -> ${value.toFixed(2)} GFLOP/s`);
      out.push({ workload: `gemm-${n}`, impl: 'tfjs-wasm', value, unit: 'GFLOP/s' });
      if (Number.isNaN(sink)) log('(sink NaN)');
    }

    if (impls.includes('ort-web')) {
      const ort = await loadOrt();
      const sess = await ortSession(matmulModel(n, n, n));
      const feeds = {
        A: new ort.Tensor('float32', Ad, [n, n]),
        B: new ort.Tensor('float32', Bd, [n, n]),
      };
      const r0 = await sess.run(feeds);
      checkGemm('ort-web', n, Ad, Bd, r0.Y.data);
      let sink = 0;
      const st = await timeItStats(async () => {
        const r = await sess.run(feeds);
        sink += r.Y.data[0]; // output is a CPU tensor already copied out of the wasm heap
      }, topts);
      await sess.release();
      const value = flops2n3(n, st.median);
      log(`gemm-${n} ort-web: median ${st.median.toFixed(3)} ms (min ${st.min.toFixed(3)}, n=${st.n}) -> ${value.toFixed(2)} GFLOP/s`);
      out.push({ workload: `gemm-${n}`, impl: 'ort-web', value, unit: 'GFLOP/s' });
      if (Number.isNaN(sink)) log('(sink NaN)');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// 2. MLP training step
// ---------------------------------------------------------------------------

export const MLP_SIZES = [784, 256, 256, 10];

function buildTfMlp(tfl, seed = 1) {
  const model = tfl.sequential();
  const [i0, h1, h2, o] = MLP_SIZES;
  model.add(tfl.layers.dense({
    inputShape: [i0], units: h1, activation: 'relu',
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed }), biasInitializer: 'zeros',
  }));
  model.add(tfl.layers.dense({
    units: h2, activation: 'relu',
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }), biasInitializer: 'zeros',
  }));
  model.add(tfl.layers.dense({
    units: o, activation: 'softmax',
    kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }), biasInitializer: 'zeros',
  }));
  return model;
}

/**
 * ms per training step (forward, loss, backward, Adam update) of the
 * 784-256-256-10 MLP at batch 64.
 *
 * method 'minimize' (default): optimizer.minimize over the layers model's
 *   forward with the same sparse categorical cross-entropy tfjs-layers uses
 *   (normalize, clip to [eps, 1-eps], -sum(onehot*log p), batch mean).
 *   Measured faster than trainOnBatch on both backends (less per-call
 *   bookkeeping); the math is the same.
 * method 'trainOnBatch': model.compile + model.trainOnBatch.
 */
export async function mlpTrainPeers({ batch = 64, impls = ['tfjs-wasm', 'tfjs-cpu'], method = 'minimize', seed = 1234 } = {}) {
  const out = [];
  const xd = randomF32(batch * MLP_SIZES[0], seed, 0, 1);
  const yr = mulberry32(seed + 1);
  const yd = new Int32Array(batch);
  for (let i = 0; i < batch; i++) yd[i] = Math.floor(yr() * 10);

  for (const impl of impls) {
    const backend = { 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu' }[impl];
    if (!backend) throw new Error(`mlpTrainPeers: unknown impl ${impl}`);
    const { tf, tfl } = await useTfBackend(backend);
    const tensorsBefore = tf.memory().numTensors;
    const x = tf.tensor2d(xd, [batch, MLP_SIZES[0]]);
    const labels = tf.tensor1d(yd, 'int32');
    const model = buildTfMlp(tfl, 1);
    const opt = tf.train.adam(1e-3);
    let step;
    let yTob = null;
    if (method === 'trainOnBatch') {
      model.compile({ optimizer: opt, loss: 'sparseCategoricalCrossentropy' });
      yTob = tf.tensor2d(Float32Array.from(yd), [batch, 1]);
      step = async () => model.trainOnBatch(x, yTob); // resolves after loss data is read
    } else {
      const vars = model.trainableWeights.map((w) => w.read());
      const eps = 1e-7; // tfjs-layers epsilon()
      const lossFn = () => {
        const p = model.apply(x, { training: true });
        const pn = tf.div(p, tf.sum(p, -1, true));
        const pc = tf.clipByValue(pn, eps, 1 - eps);
        const onehot = tf.oneHot(labels, MLP_SIZES[3]);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.log(pc)), -1)));
      };
      step = async () => {
        const loss = opt.minimize(lossFn, true, vars);
        const v = (await loss.data())[0];
        loss.dispose();
        return v;
      };
    }
    const first = await step();
    const topts = backend === 'cpu' ? { warmup: 2, reps: 8, minMs: 1500 } : { warmup: 3, reps: 15, minMs: 1500 };
    const st = await timeItStats(step, topts);
    const last = await step();
    model.dispose();
    opt.dispose();
    x.dispose();
    labels.dispose();
    if (yTob) yTob.dispose();
    const leaked = tf.memory().numTensors - tensorsBefore;
    log(`mlp-train-b${batch} ${impl} (${method}): median ${st.median.toFixed(2)} ms/step ` +
      `(min ${st.min.toFixed(2)}, n=${st.n}); loss ${Number(first).toFixed(4)} -> ${Number(last).toFixed(4)}` +
      (leaked ? `; ${leaked} tensors leaked` : ''));
    out.push({ workload: `mlp-train-b${batch}`, impl, value: st.median, unit: 'ms/step' });
  }
  return out;
}

// ---------------------------------------------------------------------------
// 2b. The CNN benchmark: conv3x3(32, same, no bias)-BN-ReLU-maxpool-conv3x3(64, same, no bias)-
//     BN-ReLU-maxpool-flatten-dense(10, softmax) on 28x28x1 at batch 64.
// ---------------------------------------------------------------------------

function buildTfCnn(tfl) {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', useBias: false }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.reLU());
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.reLU());
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return m;
}

/**
 * The CNN on tfjs backends: inference ms (batch 64), full training step ms (Adam), and
 * frozen-base head fine-tuning step ms (only the dense head's weights are variables, so no
 * convolution gradient is needed). The wasm backend cannot run a full training step: it has no
 * Conv2DBackpropFilter kernel; that record is left out and the reason logged.
 */
export async function cnnPeers({ batch = 64, impls = ['tfjs-wasm', 'tfjs-cpu'], seed = 4321, quick = false } = {}) {
  const out = [];
  const xd = randomF32(batch * 784, seed, 0, 1);
  const yr = mulberry32(seed + 1);
  const yd = new Int32Array(batch);
  for (let i = 0; i < batch; i++) yd[i] = Math.floor(yr() * 10);
  for (const impl of impls) {
    const backend = { 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu' }[impl];
    const { tf, tfl } = await useTfBackend(backend);
    const x = tf.tensor4d(xd, [batch, 28, 28, 1]);
    const labels = tf.tensor1d(yd, 'int32');
    const model = buildTfCnn(tfl);
    const slow = backend === 'cpu';
    const infer = async () => {
      const y = model.predict(x);
      await y.data();
      y.dispose();
    };
    const ti = await timeItStats(infer, slow ? { warmup: 1, reps: 3, minMs: 500 } : { warmup: 3, reps: 10, minMs: 1000 });
    out.push({ workload: `cnn-infer-b${batch}`, impl, value: ti.median, unit: 'ms' });
    const lossOf = (training) => () => {
      const p = model.apply(x, { training });
      const pc = tf.clipByValue(p, 1e-7, 1 - 1e-7);
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, 10), tf.log(pc)), -1)));
    };
    const stepWith = (vars, training) => {
      const opt = tf.train.adam(1e-3);
      const f = lossOf(training);
      return async () => {
        const loss = opt.minimize(f, true, vars);
        await loss.data();
        loss.dispose();
      };
    };
    // Frozen base: only the head's kernel and bias are trained (BN in inference mode, as Keras
    // runs a frozen BatchNormalization).
    const head = model.layers[model.layers.length - 1].trainableWeights.map((w) => w.read());
    const tf2 = await timeItStats(stepWith(head, false), slow ? { warmup: 1, reps: 3, minMs: 500 } : { warmup: 3, reps: 10, minMs: 1000 });
    out.push({ workload: `cnn-finetune-b${batch}`, impl, value: tf2.median, unit: 'ms/step' });
    try {
      const all = model.trainableWeights.map((w) => w.read());
      const full = stepWith(all, true);
      await full();
      // tfjs-cpu needs about a minute and a half per step here: one step after the first is all we time.
      const tt = await timeItStats(full, slow ? { warmup: 0, reps: quick ? 1 : 2, minMs: 0 } : { warmup: 2, reps: 5, minMs: 1000 });
      out.push({ workload: `cnn-train-b${batch}`, impl, value: tt.median, unit: 'ms/step' });
    } catch (e) {
      log(`cnn-train-b${batch} ${impl}: cannot train (${String(e.message ?? e).split('\n')[0]})`);
    }
    log(`cnn ${impl}: infer ${ti.median.toFixed(1)} ms, finetune ${tf2.median.toFixed(1)} ms/step`);
    model.dispose();
    x.dispose();
    labels.dispose();
  }
  return out;
}

// ---------------------------------------------------------------------------
// 3. Cold start (fresh child processes)
// ---------------------------------------------------------------------------

const COLD_SCRIPT = path.join(HERE, 'cold-start-peer.mjs');

function runChild(impl, model = 'mlp') {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [COLD_SCRIPT, impl, model], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = performance.now() - t0;
      const line = stdout.trim().split('\n').pop();
      if (code !== 0 || !line) {
        reject(new Error(`cold-start child ${impl} exited ${code}: ${stderr.trim().slice(-2000)}`));
        return;
      }
      try {
        resolve({ ...JSON.parse(line), wallMs: wall });
      } catch (e) {
        reject(new Error(`cold-start child ${impl}: bad output ${JSON.stringify(line)}`));
      }
    });
  });
}

/**
 * Import-to-first-prediction time (ms, median of `runs` fresh processes) for
 * the 784-256-256-10 MLP at batch 1. One extra untimed run per impl first
 * warms the OS file cache, so this is a "warm disk, cold process" number.
 */
// model: 'mlp' (workload cold-start) or 'emotion' (cold-start-emotion); see cold-start-peer.mjs.
export async function coldStartPeers({ runs = 5, impls = ['tfjs-wasm', 'ort-web'], model = 'mlp' } = {}) {
  const workload = model === 'mlp' ? 'cold-start' : `cold-start-${model}`;
  const results = Object.fromEntries(impls.map((i) => [i, []]));
  for (const impl of impls) await runChild(impl, model); // page-cache warm-up, discarded
  // Interleave impls so machine noise spreads evenly.
  for (let r = 0; r < runs; r++) {
    for (const impl of impls) results[impl].push(await runChild(impl, model));
  }
  const out = [];
  for (const impl of impls) {
    const rs = results[impl];
    const value = median(rs.map((x) => x.totalMs));
    const phases = Object.keys(rs[0].phases)
      .map((k) => `${k} ${median(rs.map((x) => x.phases[k])).toFixed(1)}`).join(', ');
    log(`${workload} ${impl}: median ${value.toFixed(1)} ms [${rs.map((x) => x.totalMs.toFixed(0)).join(' ')}] ` +
      `(${phases}); process wall incl. node boot ${median(rs.map((x) => x.wallMs)).toFixed(0)} ms; ` +
      `binary ${rs[0].binary}; threads ${rs[0].threads}`);
    out.push({ workload, impl, value, unit: 'ms' });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Optimizer update throughput (tfjs-wasm): optimizer.applyGradients on one variable of `params`
// elements, the optimizers tfjs has (sgd with momentum, adagrad, rmsprop, adam, adamax). The
// -clipnorm variants clip as a user would with tf ops first: g * c / max(||g||, c), c = 1.
// Returns records in Mparams/s. `selected(workload)` filters, as bench.mjs --only does.
// ---------------------------------------------------------------------------

export async function updatePeers({ params = 1 << 20, quick = false, selected = () => true } = {}) {
  const out = [];
  const { tf } = await useTfBackend('wasm');
  const make = {
    sgd: () => tf.train.momentum(0.01, 0.9),
    adagrad: () => tf.train.adagrad(0.001, 0.1),
    rmsprop: () => tf.train.rmsprop(0.001, 0.9, 0, 1e-7),
    adam: () => tf.train.adam(0.001, 0.9, 0.999, 1e-7),
    adamax: () => tf.train.adamax(0.001, 0.9, 0.999, 1e-7),
  };
  for (const [name, create] of Object.entries(make)) {
    for (const clip of [false, true]) {
      const workload = `update-${name}${clip ? '-clipnorm' : ''}`;
      if (!selected(workload)) continue;
      const tensorsBefore = tf.memory().numTensors;
      const v = tf.variable(tf.tensor1d(randomF32(params, 11, -1, 1)), true, `w_${workload}`);
      const g = tf.tensor1d(randomF32(params, 12, -0.01, 0.01));
      const c = tf.scalar(1);
      const opt = create();
      const step = clip
        ? () => tf.tidy(() => opt.applyGradients({ [v.name]: tf.div(tf.mul(g, c), tf.maximum(tf.norm(g), c)) }))
        : () => opt.applyGradients({ [v.name]: g });
      const w0 = v.dataSync()[5];
      step();
      const w1 = v.dataSync()[5];
      if (!(w1 !== w0 && Number.isFinite(w1))) throw new Error(`${workload} tfjs-wasm: the weights did not move`);
      const st = timeItSyncStats(() => { step(); }, { warmup: 3, reps: quick ? 7 : 25, minMs: quick ? 200 : 800 });
      v.dataSync(); // the wasm backend runs eagerly; read back once anyway before disposing
      opt.dispose();
      v.dispose();
      g.dispose();
      c.dispose();
      const leaked = tf.memory().numTensors - tensorsBefore;
      const value = params / (st.median / 1000) / 1e6;
      log(`${workload} tfjs-wasm: median ${st.median.toFixed(3)} ms (min ${st.min.toFixed(3)}, n=${st.n}) -> ${value.toFixed(1)} Mparams/s` +
        (leaked ? `; ${leaked} tensors leaked` : ''));
      out.push({ workload, impl: 'tfjs-wasm', value, unit: 'Mparams/s' });
    }
  }
  return out;
}
