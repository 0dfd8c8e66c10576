// One runtime's share of `npm run bench -- --runtimes` (scripts/bench-runtimes.mjs starts it under
// Node, Deno and Bun). Runs the same workloads the same way in each and prints one JSON array of
// {workload, value, unit} on stdout. Runtime-neutral: node: modules and the built dist/ files only.
//   [--quick]      shorter timing windows
//   [--clock=cpu]  time by the process's CPU time (user + system) instead of the wall clock: on a
//                  shared, oversubscribed machine the wall clock also counts time spent descheduled
import process from 'node:process';
import { readFileSync } from 'node:fs';
import { KERNEL_FLOPS_PER_K, REG_LOOP_FLOPS_PER_ITER, kernelWasm, regLoopWasm } from './wasm-probes.mjs';

const quick = process.argv.includes('--quick');
const windowMs = quick ? 300 : 1000;
const cpuClock = process.argv.includes('--clock=cpu');
const now = cpuClock ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
const records = [];
const add = (workload, value, unit) => records.push({ workload, value, unit });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Median ms per call: `warmup` untimed calls (V8 tiers a wasm function up from Liftoff to
// TurboFan after enough of them), then samples of `inner` calls until the window is used.
function timeMs(fn, { warmup = 5, inner = 1, minSamples = 7 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  const start = performance.now();
  while (samples.length < minSamples || performance.now() - start < windowMs) {
    const t = now();
    for (let j = 0; j < inner; j++) fn();
    samples.push((now() - t) / inner);
  }
  return median(samples);
}

// Deterministic pseudo-random floats in [-1, 1) (integer hash; same on every engine).
function fill(view, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < view.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    view[i] = (s >>> 8) / 8388608 - 1;
  }
}

// ---------------------------------------------------------------------------------------------
// Probes (scripts/wasm-probes.mjs): the register-only f32x4 loop, first as one long call of a
// freshly compiled module (whatever tier it starts in, V8 has no on-stack replacement for wasm,
// JavaScriptCore has), then called repeatedly; the 4x8 microkernel in its two shapes.
{
  const iters = 2_000_000;
  const { regLoop } = new WebAssembly.Instance(await WebAssembly.compile(regLoopWasm())).exports;
  const t = now();
  regLoop(iters);
  add('reg-loop-first-call', (iters * REG_LOOP_FLOPS_PER_ITER) / (now() - t) / 1e6, 'GFLOP/s');
  const per = 100_000;
  add('reg-loop', (per * REG_LOOP_FLOPS_PER_ITER) / timeMs(() => regLoop(per), { warmup: 50, inner: 10 }) / 1e6, 'GFLOP/s');

  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
  const k = new WebAssembly.Instance(await WebAssembly.compile(kernelWasm()), { env: { memory } }).exports;
  const kc = 256;
  const ap = 1024;
  const bp = ap + kc * 16;
  fill(new Float32Array(memory.buffer, ap, kc * 4 + kc * 8), 11);
  const reps = 100;
  for (const [name, fn] of [['kernel-4x8-splat', k.kernel4x8Splat], ['kernel-4x8-shuffle', k.kernel4x8Shuffle]]) {
    add(name, (reps * kc * KERNEL_FLOPS_PER_K) / timeMs(() => fn(ap, bp, kc, reps), { warmup: 50, inner: 5 }) / 1e6, 'GFLOP/s');
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM: gemm_f32 of build/edgetune.wasm called with byte offsets, as scripts/bench.mjs does.
{
  const module = await WebAssembly.compile(readFileSync(new URL('../build/edgetune.wasm', import.meta.url)));
  for (const n of [256, 512]) {
    const floats = n * n;
    const pages = Math.ceil((16384 + 12 * floats + 1048576) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
    // The microkernel's k-loop shape as host/runtime/executor.ts picks it for this engine.
    k.gemm_set_a_broadcast(typeof Deno !== 'undefined' || typeof Bun !== 'undefined' ? 1 : 0);
    const a = 16384;
    const b = a + 4 * floats;
    const c = b + 4 * floats;
    const pack = c + 4 * floats;
    const f32 = new Float32Array(memory.buffer);
    fill(f32.subarray(a / 4, a / 4 + 2 * floats), n);
    const run = () => k.gemm_f32(c, a, b, n, n, n, n, 1, n, 1, n, 0, pack);
    run();
    let ref = 0;
    for (let p = 0; p < n; p++) ref += f32[a / 4 + 3 * n + p] * f32[b / 4 + p * n + 5];
    if (Math.abs(f32[c / 4 + 3 * n + 5] - ref) > 1e-3 * Math.max(1, Math.abs(ref))) throw new Error(`gemm ${n}: C[3,5] = ${f32[c / 4 + 3 * n + 5]}, expected ${ref}`);
    add(`gemm-${n}`, (2 * n ** 3) / timeMs(run, { warmup: 3 }) / 1e6, 'GFLOP/s');
  }
}

// ---------------------------------------------------------------------------------------------
// MLP training step: 784-256-256-10, Adam, batch 64 (the mlp-train workload of scripts/bench.mjs).
// The first step is timed on its own: kernel compile (ready()), planning, and a step whose wasm
// still runs in the baseline tier.
{
  const et = await import('../dist/index.js');
  const t0 = now();
  await et.ready();
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
    const x = new Float32Array(64 * 784);
    fill(x, 10 + i);
    xs.push(et.tensor(x, [64, 784]));
    ys.push(et.tensor(Int32Array.from({ length: 64 }, (_, j) => (j * 7 + i) % 10), [64]));
  }
  model.trainOnBatch(xs[0], ys[0]);
  add('mlp-first-step', now() - t0, 'ms');
  let step = 1;
  add('mlp-train-b64', timeMs(() => { model.trainOnBatch(xs[step % batches], ys[step % batches]); step++; }, { warmup: 5, minSamples: 20 }), 'ms/step');
}

process.stdout.write(JSON.stringify(records) + '\n');
