// Kernel against kernel for the int8 packed GEMM (docs/int8.md): gemm_i8_packed of this build, of
// another build (--base <wasm>, e.g. main's build/edgetune.wasm), the absmax int32 GEMM gemm_q8
// (its row quantization included) and float32's gemm_f32_packed, on
// one memory, at the 1x1-convolution shapes (m rows, n filters, k channels) of the bench models;
// rounds alternate the kernels, each figure the median of the rounds' CPU time per call
// (process.cpuUsage). Also checks that the two int8 builds give the same bits.
//   node scripts/bench-gemm-i8.mjs [--rounds N] [--base path/to/edgetune.wasm] [m,n,k ...]
import { readFileSync } from 'node:fs';
import { cpuPerRun } from './bench-peers.mjs';

const args = process.argv.slice(2);
const take = (flag, fallback) => { const i = args.indexOf(flag); if (i < 0) return fallback; return args.splice(i, 2)[1]; };
const rounds = Number(take('--rounds', 15));
const basePath = take('--base', null);
// mobilenet_v2's expansions and projections at b1 / b8, squeezenet1_1's expands, gender's 1x1s.
const shapes = args.length ? args.map((s) => s.split(',').map(Number)) : [
  [12544, 96, 16], [100352, 96, 16], [3136, 144, 24], [25088, 144, 24], [784, 192, 32], [196, 384, 64], [1568, 384, 64],
  [3025, 64, 16], [729, 128, 32], [169, 192, 48], [1352, 192, 48], [169, 256, 64], [3136, 144, 24], [49, 960, 160], [3600, 16, 16],
  // the dense heads at b1 / b8 (mobilenet_v2, resnet18, mobilenet_v3_small's two, shufflenet's)
  [1, 1000, 1280], [8, 1000, 1280], [1, 1000, 512], [8, 1000, 512], [1, 1024, 576], [8, 1024, 576], [1, 1000, 1024], [8, 1000, 1024],
];

const memory = new WebAssembly.Memory({ initial: 4096, maximum: 4096 }); // 256 MiB
const instance = (path) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(path)), { env: { memory } }).exports;
const mine = instance(new URL('../build/edgetune.wasm', import.meta.url));
const base = basePath ? instance(basePath) : null;

let top = 1 << 16;
function alloc(bytes) {
  const ptr = top;
  top += Math.ceil(bytes / 64) * 64 + 64;
  if (top > memory.buffer.byteLength) throw new Error('bench memory exhausted');
  return ptr;
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

console.log(`${'m x n x k'.padEnd(18)} ${'i8 ms'.padStart(8)} ${base ? 'base ms'.padStart(8) : ''} ${'q8 ms'.padStart(8)} ${'f32 ms'.padStart(8)}  i8/f32${base ? '  i8/base' : ''}  q8/f32  q8/i8`);
for (const [m, n, k] of shapes) {
  top = 1 << 16;
  const a = alloc(4 * m * k), c = alloc(4 * m * n), c2 = alloc(4 * m * n);
  const q = alloc(k * n), qp = alloc(k * (n + 8)), scale = alloc(4 * n), bias = alloc(4 * n);
  const w = alloc(4 * k * n), bp = alloc(4 * k * (n + 8)), pack = alloc(1 << 20), q8p = alloc((k + 1) * (n + 8)), c3 = alloc(4 * m * n);
  const f = new Float32Array(memory.buffer), i8 = new Int8Array(memory.buffer);
  for (let i = 0; i < m * k; i++) f[a / 4 + i] = Math.random() * 2 - 1;
  for (let i = 0; i < k * n; i++) { i8[q + i] = Math.round(Math.random() * 254 - 127); }
  for (let j = 0; j < n; j++) { f[scale / 4 + j] = 127 / (0.01 + Math.random()); f[bias / 4 + j] = Math.random() - 0.5; }
  for (let i = 0; i < k * n; i++) f[w / 4 + i] = i8[q + i] / f[scale / 4 + (i % n)];
  mine.gemm_pack_b_i8(qp, q, n, k, n);
  mine.gemm_pack_b(bp, w, n, k, n, 1);
  mine.gemm_pack_b_q8(q8p, q, n, k, n);
  const runs = [
    () => mine.gemm_i8_packed(c, a, qp, scale, bias, m, n, k, k, 1, n, 0, 6, pack),
    ...(base ? [() => base.gemm_i8_packed(c2, a, qp, scale, bias, m, n, k, k, 1, n, 0, 6, pack)] : []),
    () => mine.gemm_q8(c3, a, q8p, scale, bias, m, n, k, k, n, 0, 6, pack),
    () => mine.gemm_f32_packed(c2, a, bp, bias, m, n, k, k, 1, n, 0, 0, 6, pack),
  ];
  if (base) {
    runs[0](); runs[1]();
    const u = new Uint32Array(memory.buffer);
    for (let i = 0; i < m * n; i++) if (u[c / 4 + i] !== u[c2 / 4 + i]) throw new Error(`${m}x${n}x${k}: the two int8 builds differ at ${i}`);
  }
  const reps = Math.max(1, Math.round(4e6 / (m * n * k)));
  const times = runs.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = r & 1 ? [...runs.keys()].reverse() : [...runs.keys()];
    for (const i of order) times[i].push(cpuPerRun(runs[i], reps));
  }
  const t = times.map(median);
  const fl = t.at(-1), q8 = t.at(-2);
  console.log(`${`${m}x${n}x${k}`.padEnd(18)} ${t[0].toFixed(3).padStart(8)} ${base ? t[1].toFixed(3).padStart(8) : ''} ${q8.toFixed(3).padStart(8)} ${fl.toFixed(3).padStart(8)}  ${(t[0] / fl).toFixed(3).padStart(6)}${base ? (t[0] / t[1]).toFixed(3).padStart(9) : ''}  ${(q8 / fl).toFixed(3).padStart(6)} ${(q8 / t[0]).toFixed(3).padStart(6)}`);
}
