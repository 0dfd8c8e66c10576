// sepconv_q8 (op 259, docs/int8.md "absmax"): an int8 depthwise 3x3 and the absmax 1x1 after it as
// one op (the depthwise a band of rows into scratch, the band quantized and multiplied while in
// cache) against the same pair run apart as the unfused plan runs them (depthwise_conv2d_forward_i8_wide
// over the whole batch, then conv2d_q8 as a 1x1: one gemm_q8 over every pixel), and float32's fused
// sepconv_f32 on the same shapes for scale; kernel against kernel on gender's 8 separable pairs
// (--emotion: emotion's 4):
// CPU time, ROUNDS alternated rounds (default 15), medians; and whether fused and apart give the same bits.
//   npm run build && node scripts/bench-sepconv-q8.mjs [--batch 8] [--emotion]
// BAND_BYTES=<bytes> sizes the fused op's bands (the plan's: 64 KB of depthwise rows).
import { readFileSync } from 'node:fs';
const bytes = readFileSync(new URL('../dist/edgetune.wasm', import.meta.url));
const memory = new WebAssembly.Memory({ initial: 2048, maximum: 2048 });
const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const f32 = new Float32Array(memory.buffer), i8 = new Int8Array(memory.buffer);
let top = 0;
const alloc = (n) => { const p = top; top += Math.ceil(n / 64) * 64 + 64; return p; };
function cpu(fn, n) { fn(); const u = process.cpuUsage(); for (let i = 0; i < n; i++) fn(); const d = process.cpuUsage(u); return (d.user + d.system) / 1000 / n; }
const argv = process.argv.slice(2);
const B = argv.includes('--batch') ? Number(argv[argv.indexOf('--batch') + 1]) : 1;
const BAND_BYTES = Number(process.env.BAND_BYTES ?? 65536);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
// gender's pairs: H (= W), C, F (3x3 'same', stride 1), with the clamp of the 1x1 (ReLU or none)
const gender = [[60, 8, 16, 0], [60, 16, 16, 1], [30, 16, 32, 0], [30, 32, 32, 1], [15, 32, 64, 0], [15, 64, 64, 1], [8, 64, 128, 0], [8, 128, 128, 1]];
const emotion = [[29, 64, 128, 0], [29, 128, 128, 1], [15, 128, 256, 0], [15, 256, 256, 1]];
const pairs = argv.includes('--emotion') ? emotion : gender;
const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
let sums = [0, 0, 0];
for (const [H, C, F, linear] of pairs) {
  top = Math.ceil(k.heap_base() / 64) * 64 + 64;
  const W = H, OH = H, OW = W, N = B * OH * OW;
  const lo = linear ? -Infinity : 0;
  const x = alloc(4 * B * H * W * C), qd = alloc(9 * C), sd = alloc(4 * C), q = alloc(C * F), ks = alloc(4 * F), b = alloc(4 * F);
  const bp = alloc(Math.ceil(F / 8) * 8 * (C + 1)), wf = alloc(4 * 9 * C), wd = alloc(4 * 9 * C), wp = alloc(4 * k.gemm_packed_floats(F, C)), w = alloc(4 * C * F);
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / (4 * OW * C)));
  const band = alloc(4 * bandRows * OW * C), q8 = alloc(16 + 8 * Math.ceil(C / 8) * 8), pack = alloc(4 * Math.min(C, 256) * 4);
  const z = alloc(4 * N * C), y1 = alloc(4 * N * F), y2 = alloc(4 * N * F), y3 = alloc(4 * N * F);
  let s = 7; const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < B * H * W * C; i++) f32[x / 4 + i] = rnd() * 2 - 1;
  for (let i = 0; i < 9 * C; i++) i8[qd + i] = Math.floor(rnd() * 255) - 127;
  for (let i = 0; i < C * F; i++) i8[q + i] = Math.floor(rnd() * 255) - 127;
  for (let i = 0; i < C; i++) f32[sd / 4 + i] = 50 + rnd() * 100;
  for (let i = 0; i < F; i++) { f32[ks / 4 + i] = 50 + rnd() * 100; f32[b / 4 + i] = rnd(); }
  // float32's weights: q / scale, as the float model holding the int8 model's values would
  for (let i = 0; i < 9 * C; i++) f32[wd / 4 + i] = i8[qd + i] / f32[sd / 4 + (i % C)];
  for (let i = 0; i < C * F; i++) f32[w / 4 + i] = i8[q + i] / f32[ks / 4 + (i % F)];
  k.gemm_pack_b_q8(bp, q, F, C, F);
  k.gemm_pack_b(wp, w, F, C, F, 1);
  const fused = () => k.sepconv_q8(y1, x, qd, sd, 0, bp, ks, b, B, H, W, C, F, 3, 3, 1, 1, 1, 1, OH, OW, -Infinity, Infinity, lo, Infinity, bandRows, wf, band, q8);
  const apart = () => {
    k.depthwise_conv2d_forward_i8_wide(z, x, qd, sd, 0, B, H, W, C, 1, 3, 3, 1, 1, 1, 1, 1, 1, OH, OW, -Infinity, Infinity, wf);
    k.conv2d_q8(y2, z, bp, ks, b, B, OH, OW, C, F, 1, 1, 1, 1, 1, 1, 0, 0, OH, OW, 1, 0, q8, lo, Infinity);
  };
  const float = () => k.sepconv_f32(y3, x, wd, 0, wp, b, B, H, W, C, F, 3, 3, 1, 1, 1, 1, 1, 1, OH, OW, -Infinity, Infinity, lo, Infinity, bandRows, band, pack);
  fused(); apart();
  const same = f32.subarray(y1 / 4, y1 / 4 + N * F).every((v, i) => Object.is(v, f32[y2 / 4 + i]));
  const t0 = performance.now(); apart(); const n = Math.max(1, Math.round(10 / Math.max(performance.now() - t0, 0.01)));
  const t = [[], [], []], fns = [fused, apart, float];
  for (let r = 0; r < ROUNDS; r++) for (let j = 0; j < 3; j++) { const i = (j + r) % 3; t[i].push(cpu(fns[i], n)); }
  const [a, c, f] = t.map(med);
  sums = [sums[0] + a, sums[1] + c, sums[2] + f];
  console.log(`B${B} ${H}x${W} ${C} -> ${F} band ${bandRows}: sepconv_q8 ${a.toFixed(4)} ms, apart ${c.toFixed(4)} ms, sepconv_f32 ${f.toFixed(4)} ms; fused / apart ${(a / c).toFixed(3)}, fused / f32 ${(a / f).toFixed(3)}  same bits ${same}`);
}
console.log(`sum of the ${pairs.length} pairs: sepconv_q8 ${sums[0].toFixed(3)} ms, apart ${sums[1].toFixed(3)} ms, sepconv_f32 ${sums[2].toFixed(3)} ms; fused / apart ${(sums[0] / sums[1]).toFixed(3)}, fused / f32 ${(sums[0] / sums[2]).toFixed(3)}`);
