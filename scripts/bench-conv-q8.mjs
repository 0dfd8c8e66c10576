// conv2d_q8 (docs/int8.md "absmax"): its gathering path (each patch quantized from x into its int16
// row) against the im2col path it replaced in SIMD builds (im2col_f32 chunks of LIMIT bytes, default
// 256 KB, then gemm_q8: the same build's exports, so the old code exactly), kernel against kernel:
// CPU time, 15 alternated rounds, medians; and whether the two give the same bits.
//   npm run build && node scripts/bench-conv-q8.mjs
import { readFileSync } from 'node:fs';
const bytes = readFileSync(new URL('../dist/edgetune.wasm', import.meta.url));
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 2048 });
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const f32 = new Float32Array(memory.buffer), i8 = new Int8Array(memory.buffer);
let top = Math.ceil(k.heap_base() / 64) * 64 + 64;
const alloc = (bytes) => { const p = top; top += Math.ceil(bytes / 64) * 64 + 64; return p; };
function cpu(fn, n) { fn(); const u = process.cpuUsage(); for (let i = 0; i < n; i++) fn(); const d = process.cpuUsage(u); return (d.user + d.system) / 1000 / n; }
const LIMIT = Number(process.env.LIMIT ?? 262144);
const shapes = [
  // B, H, W, C, F, KH, SH (same padding)
  [1, 64, 64, 1, 8, 3, 1], [1, 64, 64, 8, 8, 3, 1], [8, 64, 64, 8, 8, 3, 1], [1, 32, 32, 8, 16, 3, 2],
  [1, 56, 56, 64, 64, 3, 1], [1, 28, 28, 128, 128, 3, 1], [1, 14, 14, 256, 256, 3, 1], [1, 7, 7, 512, 512, 3, 1], [1, 112, 112, 3, 32, 3, 2],
];
for (const [B, H, W, C, F, KS, S] of shapes) {
  top = Math.ceil(k.heap_base() / 64) * 64 + 64;
  const OH = Math.ceil(H / S), OW = Math.ceil(W / S), K = KS * KS * C, N = B * OH * OW;
  const PT = Math.floor(Math.max((OH - 1) * S + KS - H, 0) / 2), PL = Math.floor(Math.max((OW - 1) * S + KS - W, 0) / 2);
  const x = alloc(4 * B * H * W * C), q = alloc(K * F), bp = alloc(Math.ceil(F / 8) * 8 * (K + 1)), ks = alloc(4 * F), b = alloc(4 * F);
  const chunk = Math.min(N, Math.max(4, Math.floor(LIMIT / (4 * K) / 4) * 4));
  const cols = alloc(4 * chunk * K), scratch = alloc(16 + 8 * (Math.ceil(K / 8) * 8) + 64);
  const y1 = alloc(4 * N * F), y2 = alloc(4 * N * F);
  let s = 1; const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < B * H * W * C; i++) f32[x / 4 + i] = rnd() * 2 - 1;
  for (let i = 0; i < K * F; i++) i8[q + i] = Math.floor(rnd() * 255) - 127;
  for (let i = 0; i < F; i++) { f32[ks / 4 + i] = 50 + rnd() * 100; f32[b / 4 + i] = rnd(); }
  k.gemm_pack_b_q8(bp, q, F, K, F);
  const gather = () => k.conv2d_q8(y1, x, bp, ks, b, B, H, W, C, F, KS, KS, S, S, 1, 1, PT, PL, OH, OW, chunk, cols, scratch, 0, Infinity);
  const im2col = () => { for (let r0 = 0; r0 < N; r0 += chunk) { const rows = Math.min(chunk, N - r0); k.im2col_f32(cols, x, B, H, W, C, KS, KS, S, S, 1, 1, PT, PL, OH, OW, r0, rows); k.gemm_q8(y2 + 4 * r0 * F, cols, bp, ks, b, rows, F, K, K, F, 0, Infinity, scratch); } };
  gather(); im2col();
  const same = f32.subarray(y1 / 4, y1 / 4 + N * F).every((v, i) => Object.is(v, f32[y2 / 4 + i]));
  const t0 = performance.now(); gather(); const n = Math.max(1, Math.round(20 / Math.max(performance.now() - t0, 0.01)));
  const a = [], c = [];
  for (let r = 0; r < 15; r++) { if (r & 1) { c.push(cpu(im2col, n)); a.push(cpu(gather, n)); } else { a.push(cpu(gather, n)); c.push(cpu(im2col, n)); } }
  const med = (v) => v.sort((p, q) => p - q)[v.length >> 1];
  console.log(`B${B} ${H}x${W}x${C} -> ${F} ${KS}x${KS} s${S}: gather ${med(a).toFixed(4)} ms, im2col+gemm_q8 ${med(c).toFixed(4)} ms, gather / im2col ${(med(a) / med(c)).toFixed(3)}  same bits ${same}`);
}
