// Grouped convolution speed on a RegNet-like layer (RegNetX-400MF stage 3: 160 channels at 14x14,
// 3x3 'same', group width 16, so 10 groups), batch 8, kernels called with byte offsets as the plan
// executor calls them (single-threaded; medians of repeated runs on a shared, noisy machine):
//   grouped   conv2d_grouped_forward: per chunk and group, an im2col of the group's channels and a
//             GEMM writing its filters' columns in place;
//   per-group the lowering it replaces: per group, copy its channels out (copy_strided_f32), an
//             ungrouped convolution of 16 channels, copy its filters back;
//   dense     the same layer ungrouped (10x the multiply-adds), for the GEMM's throughput.
// Effective GFLOP/s counts 2 * B * OH * OW * F * KH * KW * C/G. Run after `npm run build`:
//   node scripts/bench-grouped-conv.mjs
import { readFileSync } from 'node:fs';

const B = 8, H = 14, C = 160, F = 160, K = 3, G = 10;
// The planner's chunks at its first scratch limit (256 KiB of columns): 444 rows of one group's
// (or a 16-channel convolution's) 144 columns, 44 rows of the dense layer's 1440.
const CHUNK_GROUP = 444, CHUNK_DENSE = 44;
const N = B * H * H;
const bytes = readFileSync(new URL('../build/edgetune.wasm', import.meta.url));
const pages = 1024;
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
let top = k.heap_base() + 64;
const alloc = (floats) => { const p = (top + 15) & ~15; top = p + 4 * floats; return p; };
const fill = (p, n) => { const v = new Float32Array(memory.buffer, p, n); for (let i = 0; i < n; i++) v[i] = Math.sin(i * 0.37); };
const x = alloc(N * C), y = alloc(N * F), w = alloc(K * K * C * F), b = alloc(F);
const cols = alloc(CHUNK_DENSE * K * K * C), pack = alloc(64 * 1024);
const xg = alloc(N * C / G), yg = alloc(N * F / G);
fill(x, N * C); fill(w, K * K * C * F); fill(b, F);
const geo = (c, f) => [B, H, H, c, f];
const rest = [K, K, 1, 1, 1, 1, 1, 1, H, H];

const grouped = () => k.conv2d_grouped_forward(y, x, w, b, ...geo(C, F), G, ...rest, CHUNK_GROUP, cols, pack, 0);
const perGroup = () => {
  for (let g = 0; g < G; g++) {
    k.copy_strided_f32(xg, C / G, x + 4 * g * (C / G), C, N, C / G, 0);
    k.conv2d_forward_fused(yg, xg, w + 4 * g * (K * K * (C / G) * (F / G)), b + 4 * g * (F / G), ...geo(C / G, F / G), ...rest, CHUNK_GROUP, cols, pack, 0, 0, 0);
    k.copy_strided_f32(y + 4 * g * (F / G), F, yg, F / G, N, F / G, 0);
  }
};
const dense = () => k.conv2d_forward_fused(y, x, w, b, ...geo(C, F), ...rest, CHUNK_DENSE, cols, pack, 0, 0, 0);
const flops = (groups) => 2 * N * F * K * K * (C / groups);
// Interleaved rounds, so that the machine's load changes hit every variant alike; medians.
const variants = [['grouped', grouped, G], ['per-group', perGroup, G], ['dense', dense, 1]];
const times = variants.map(() => []);
for (let round = 0; round < 31; round++) {
  variants.forEach(([, fn], i) => { const t0 = performance.now(); fn(); times[i].push(performance.now() - t0); });
}
variants.forEach(([name, , groups], i) => {
  const ms = times[i].sort((a, c) => a - c)[15];
  console.log(`${name.padEnd(9)} ${ms.toFixed(2).padStart(7)} ms  ${(flops(groups) / ms / 1e6).toFixed(1).padStart(5)} GFLOP/s`);
});
