// Kernel against kernel for the 3x3 stride-1 convolutions of int8 inference plans (docs/int8.md,
// "Winograd"): the int8 im2col + packed GEMM (conv2d_forward_i8_packed, chunked as the planner
// chunks it), the int8 Winograd (conv2d_winograd_i8, blocks from winogradI8Blocks) and the f32
// Winograd (conv2d_winograd_f23, winogradTiles), from build/edgetune.wasm, on one thread, at the
// layer shapes of the bench models. Rounds alternate the three kernels; each figure is the median
// of the rounds' CPU time per call (process.cpuUsage), so a loaded machine slows all three alike.
//   node scripts/bench-winograd-i8.mjs [--rounds N] [--only resnet18|squeezenet|emotion]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const args = process.argv.slice(2);
const at = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
const rounds = Number(at('--rounds', 15));
const only = at('--only', null);

// The planner's block sizes, from its own source.
const bundled = await build({
  entryPoints: [fileURLToPath(new URL('../host/compile/conv-lowering.ts', import.meta.url))], bundle: true, write: false, format: 'esm', logLevel: 'warning',
});
const { winogradI8Blocks, winogradI8ScratchBytes, winogradTiles, winogradScratchBytes } =
  await import(`data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString('base64')}`);

const memory = new WebAssembly.Memory({ initial: 4096, maximum: 4096 }); // 256 MiB
const { exports: k } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('../build/edgetune.wasm', import.meta.url))), { env: { memory } });

let top = 1 << 16;
function alloc(bytes, fill) {
  const ptr = top;
  top += Math.ceil(bytes / 64) * 64 + 64;
  if (top > memory.buffer.byteLength) throw new Error('bench memory exhausted');
  if (fill) fill(ptr, bytes);
  return ptr;
}
const randomF32 = (lo, hi) => (ptr, bytes) => { const v = new Float32Array(memory.buffer, ptr, bytes / 4); for (let i = 0; i < v.length; i++) v[i] = lo + Math.random() * (hi - lo); };
const randomI8 = (ptr, bytes) => { const v = new Int8Array(memory.buffer, ptr, bytes); for (let i = 0; i < v.length; i++) v[i] = Math.round(Math.random() * 254 - 127); };

// The planner's im2col chunk for an int8 kernel (conv-lowering.ts convChunk at the default 256 KB
// limit, then host/layers/conv2d.ts's INT8_CHUNK_ROWS for 64 filters and more).
function i8Chunk(rows, K, F) {
  const chunk = Math.min(rows, Math.max(4, Math.floor((256 << 10) / (4 * K) / 4) * 4));
  return F >= 64 ? Math.max(chunk, Math.min(rows, 128)) : chunk;
}

function cpuMs(fn, reps) {
  const t0 = process.cpuUsage();
  for (let r = 0; r < reps; r++) fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1e3 / reps;
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

function layer(name, B, H, W, C, F, pad) {
  top = 1 << 16;
  const OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
  const g = { h: H, w_: W, c: C, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw_: 1, pt: pad, pl: pad, oh: OH, ow: OW };
  const x = alloc(4 * B * H * W * C, randomF32(0, 2));
  const y = alloc(4 * B * OH * OW * F);
  const q = alloc(9 * C * F, randomI8);
  const scale = alloc(4 * F, randomF32(50, 200));
  const b = alloc(4 * F, randomF32(-1, 1));
  const w = alloc(4 * 9 * C * F, randomF32(-0.5, 0.5));
  // int8 im2col: q packed once at a byte a weight.
  const K = 9 * C, rows = B * OH * OW;
  const qp = alloc(K * Math.ceil(F / 8) * 8);
  k.gemm_pack_b_i8(qp, q, F, K, F);
  const chunk = i8Chunk(rows, K, F);
  const cols = alloc(4 * chunk * K);
  const pack = alloc(4 * 256 * (128 + 4) + 4 * 256 * 4);
  // int8 Winograd.
  const { tiles: ti, fb } = winogradI8Blocks(B, g, F);
  const si = alloc(winogradI8ScratchBytes(C, F, ti, fb));
  // f32 Winograd: the kernel transformed once.
  const tf = winogradTiles(B, g, F);
  const u = alloc(4 * 16 * C * Math.ceil(F / 8) * 8);
  const tmp = alloc(4 * C * F);
  k.winograd_f23_pack(u, w, C, F, tmp);
  const sf = alloc(winogradScratchBytes(C, F, tf));
  const kernels = {
    'i8 im2col': () => k.conv2d_forward_i8_packed(y, x, qp, scale, b, B, H, W, C, F, 3, 3, 1, 1, 1, 1, pad, pad, OH, OW, chunk, cols, pack, 0, Infinity),
    'i8 winograd': () => k.conv2d_winograd_i8(y, x, q, scale, b, B, H, W, C, F, pad, pad, OH, OW, ti, fb, si, 0, Infinity),
    'f32 winograd': () => k.conv2d_winograd_f23(y, x, u, b, B, H, W, C, F, pad, pad, OH, OW, tf, sf, 0, Infinity),
  };
  const names = Object.keys(kernels);
  const once = cpuMs(kernels['i8 im2col'], 1) + 0.01;
  const reps = Math.max(1, Math.round(30 / once));
  for (const n of names) cpuMs(kernels[n], reps); // warm-up (and V8's tier-up)
  const times = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) for (const n of names) times[n].push(cpuMs(kernels[n], reps));
  const m = Object.fromEntries(names.map((n) => [n, median(times[n])]));
  console.log(`| ${name} b${B} ${H}x${W}x${C} -> ${F} | ${m['i8 im2col'].toFixed(3)} | ${m['i8 winograd'].toFixed(3)} (tiles ${ti}, fb ${fb}) | ${m['f32 winograd'].toFixed(3)} | ${(m['i8 winograd'] / m['i8 im2col']).toFixed(2)} | ${(m['i8 winograd'] / m['f32 winograd']).toFixed(2)} |`);
}

const SHAPES = {
  emotion: [['block1_conv2', 31, 31, 32, 64, 0]],
  resnet18: [['layer1', 56, 56, 64, 64, 1], ['layer2', 28, 28, 128, 128, 1], ['layer3', 14, 14, 256, 256, 1], ['layer4', 7, 7, 512, 512, 1]],
  squeezenet: [['fire2 expand3x3', 55, 55, 16, 64, 1], ['fire4 expand3x3', 27, 27, 32, 128, 1], ['fire6 expand3x3', 13, 13, 48, 192, 1], ['fire8 expand3x3', 13, 13, 64, 256, 1]],
};
console.log(`ms of CPU a call, medians of ${rounds} alternated rounds`);
console.log('| layer | int8 im2col | int8 Winograd | f32 Winograd | i8 wino / i8 im2col | i8 wino / f32 wino |');
console.log('|---|---|---|---|---|---|');
for (const [model, shapes] of Object.entries(SHAPES)) {
  if (only && model !== only) continue;
  for (const B of [1, 8]) for (const [name, H, W, C, F, pad] of shapes) layer(`${model} ${name}`, B, H, W, C, F, pad);
}
