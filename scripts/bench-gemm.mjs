// GEMM throughput: GFLOP/s = 2*m*n*k / time for gemm_f32 from build/edgetune.wasm (or the wasm
// given as the first argument), median of several timed runs after a warm-up.
//   node scripts/bench-gemm.mjs [file.wasm] [--runs N]
// Square row-major products are the ones compared with onnxruntime-web; the three MLP forms are
// what a dense layer calls: forward y = x.W, dX = dY.W^T, dW = X^T.dY.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 9;
const wasmPath = args[0] ?? new URL('../build/edgetune.wasm', import.meta.url);

// The scratch size formula lives in host/compile/gemm-scratch.ts (over size-expr.ts): bundled and
// loaded as the planner would.
const { outputFiles } = await build({ entryPoints: [fileURLToPath(new URL('../host/compile/gemm-scratch.ts', import.meta.url))], bundle: true, write: false, format: 'esm', platform: 'neutral', logLevel: 'warning' });
const { gemmScratchBytes } = await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString('base64')}`);

const memory = new WebAssembly.Memory({ initial: 2048, maximum: 2048 }); // 128 MiB
const { exports: kernels } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasmPath)), { env: { memory } });
const gemm = kernels.gemm_f32;

let top = 1024;
function alloc(floats) {
  const ptr = top;
  top += Math.ceil((floats * 4) / 64) * 64 + 64;
  if (top > memory.buffer.byteLength) throw new Error('bench memory exhausted');
  const view = new Float32Array(memory.buffer, ptr, floats);
  for (let i = 0; i < floats; i++) view[i] = Math.random() - 0.5;
  return ptr;
}

// Median GFLOP/s of `runs` timed runs of ~40 ms each, after a warm-up (which also lets V8 tier up
// from Liftoff to TurboFan). Runs alternate between the "hot" way (the same a, b, c every call,
// as the square peers are timed) and the "rotated" way (up to 8 sets of a, b, c within 8 MiB,
// one after the other, so each call starts with its operands out of L2, as a layer's weights are
// in a training step), so that a slow stretch of a shared machine hits both alike.
function bench({ name, m, n, k, rsa, csa, rsb, csb, accumulate = 0 }) {
  top = 1024;
  const bytes = m * k * 4 + k * n * 4 + m * n * 4;
  const sets = Math.max(1, Math.min(8, Math.floor((8 << 20) / bytes)));
  const bufs = [];
  for (let s = 0; s < sets; s++) bufs.push({ a: alloc(m * k), b: alloc(k * n), c: alloc(m * n) });
  const pack = alloc(gemmScratchBytes(m, n, k) / 4);
  const flops = 2 * m * n * k;
  const reps = Math.max(1, Math.round(40e-3 * 20e9 / flops));
  const once = (rotate) => {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) {
      const { a, b, c } = bufs[rotate ? r % sets : 0];
      gemm(c, a, b, m, n, k, rsa, csa, rsb, csb, n, accumulate, pack);
    }
    return (flops * reps) / ((performance.now() - t0) / 1e3) / 1e9;
  };
  for (let w = 0; w < 3; w++) { once(false); once(true); }
  const hot = [];
  const rotated = [];
  for (let r = 0; r < runs; r++) {
    hot.push(once(false));
    rotated.push(once(true));
  }
  const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];
  const fmt = (x) => x.toFixed(1).padStart(6);
  console.log(`${name.padEnd(36)} ${fmt(median(hot))} ${fmt(hot[0])} ${fmt(hot[hot.length - 1])} ${fmt(median(rotated))} ${(gemmScratchBytes(m, n, k) / 1024).toFixed(1).padStart(8)}`);
}

const cases = [];
for (const s of [128, 256, 512, 1024]) {
  cases.push({ name: `square ${s}`, m: s, n: s, k: s, rsa: s, csa: 1, rsb: s, csb: 1 });
}
// Dense 784 -> 256 -> 10 at batch 64.
for (const [kin, kout] of [[784, 256], [256, 10]]) {
  const batch = 64;
  cases.push({ name: `forward x.W   ${batch}x${kin} . ${kin}x${kout}`, m: batch, n: kout, k: kin, rsa: kin, csa: 1, rsb: kout, csb: 1 });
  cases.push({ name: `dX dY.W^T     ${batch}x${kout} . (${kin}x${kout})^T`, m: batch, n: kin, k: kout, rsa: kout, csa: 1, rsb: 1, csb: kout, accumulate: 1 });
  cases.push({ name: `dW X^T.dY     (${batch}x${kin})^T . ${batch}x${kout}`, m: kin, n: kout, k: batch, rsa: 1, csa: kin, rsb: kout, csb: 1, accumulate: 1 });
}

console.log(`gemm_f32 from ${wasmPath}, GFLOP/s over ${runs} runs (hot: median, min, max; rotated: median)`);
console.log(`${'case'.padEnd(36)} ${'hot'.padStart(6)} ${'min'.padStart(6)} ${'max'.padStart(6)} ${'rotated'.padStart(7)} ${'scratch KiB'.padStart(8)}`);
for (const c of cases) bench(c);
