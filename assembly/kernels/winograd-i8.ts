// Winograd F(2x2, 3x3) on a frozen layer's int8 kernel (issue 14): winograd.ts's algorithm for the
// 3x3 stride-1 convolutions of int8 inference plans, whose kernel stays int8 in the arena (4x
// smaller): the transformed kernel U = G q G^T is made per call, a block of channels and filters
// at a time, straight into the packed GEMM's panels in the scratch, and each filter's scale divides its
// outputs in the output transform, before the bias and the clamp:
//   y = clamp(A^T [ sum over c of U[c, f] (.) (B^T d B)[c] ] A / scale[f] + b[f], lo, hi)
// (scale as gemm-i8-packed.ts's: the float weight is q / scale.) NHWC; pointers are byte offsets.
//
// U is exact in f32: q is an integer of at most 127 in magnitude and G's entries are 0, 1 and 1/2,
// so each U is a multiple of 1/4 of magnitude at most 9 * 127 (24-bit significands hold it), in any
// order of the sums: the SIMD transform and the scalar one give the same U, and the SIMD and scalar
// builds the bits of the naive twin (test/reference/winograd.ts with the scales and the blocks of
// channels; conv2d_winograd_f23's on the f32 kernel q, the division added, when C <= cb).
//
// Loop order: blocks of `tiles` tiles outside; inside, blocks of at most `fb` filters and, for each,
// blocks of at most `cb` channels: per block of channels the input transform of those channels
// into V, U for those channels and filters (16 cb fb floats; made once a call when one block of
// each covers C and F, or when one block of channels does and the blocks of filters go outside
// the blocks of tiles, else once per block of tiles), and the 16 GEMMs, accumulating into M over
// the blocks of channels; then the output transforms. q is read a block of whole cache lines at a
// time (fb bytes of a row), U stays in cache, and the scratch is bounded whatever C and F are.
// The transforms and GEMMs are winograd.ts's (its tap table, input and output transforms,
// gemm_f32_packed). Each element of M is summed in the channel blocks' order, from zero within a
// block (the GEMM's one k slice, cb <= KC), so the bits depend on cb but not on tiles or fb.
import { gemm_f32_packed } from './gemm-packed';
import { KC, kSliceStep, NC, NR } from './gemm';
import { fill_f32 } from './elementwise';
import { gRow, inputTile, outputTile, tapTable, winogradJobTiles } from './winograd';
import { arg, argf, argp, canSplit, runJob, setArg, setArgf, setArgp, splitThreads, tileStart, JOB_WINOGRAD_I8 } from './threads';

// Filters per block as the kernel runs it: fb, at most F and NC (one column block of the GEMM).
function blockFilters(F: i32, fb: i32): i32 {
  return min(min(fb, F), NC);
}

// Blocks of channels: C split into ceil(C / cb) blocks (cb from 8 to KC), the first C % blocks
// of them one channel longer than the rest: each at least 4 channels (the transforms' vectors).
function channelBlocks(C: i32, cb: i32): i32 {
  cb = min(max(cb, 8), KC);
  return (C + cb - 1) / cb;
}
// @ts-ignore: decorator
@inline
function widestBlock(C: i32, cb: i32): i32 {
  const n = channelBlocks(C, cb);
  return (C + n - 1) / n;
}

// Bytes between the 16 matrices of V, of M and of U past their own: their sizes are often
// multiples of 4 KB, and 16 streams that far apart, which the transforms read and write together,
// would fall in the same sets of the L1 cache (the whole transform of a 512 x 512 q: 4 times slower).
const PAD = 64;

// Bytes of conv2d_winograd_i8's scratch for blocks of `tiles` tiles, `fb` filters and `cb`
// channels, exactly (rounded up to 64): the tap table (16 pointers), a zero row, V (16, tiles, cp),
// M (16, tiles, fp), U (16 matrices (cw, fb) in panels 8 wide), each matrix PAD bytes apart, the
// GEMM's pack (16 cw); cw the widest block of channels, cp and fp cw and fb rounded up to 4.
export function winograd_i8_scratch(C: i32, F: i32, tiles: i32, fb: i32, cb: i32): i32 {
  fb = blockFilters(F, fb);
  const cw = widestBlock(C, cb);
  const cp = (cw + 3) & ~3, fp = (fb + 3) & ~3;
  return (127 + 3 * 16 * PAD + 4 * cp + 64 * max(tiles, 1) * (cp + fp) + 64 * cw * ((fb + NR - 1) & ~(NR - 1)) + 16 * cw) & ~63;
}

// y (B, OH, OW, F) = clamp(conv3x3(x (B, H, W, C), q / scale) + b (F), lo, hi): q (3, 3, C, F)
// HWIO int8, scale (F) f32; stride 1, dilation 1, padding PT, PL (bottom and right implied by OH,
// OW, as conv2d_winograd_f23); b 0 for none, lo/hi -inf/inf for no clamp. Blocks of `tiles`
// tiles, `fb` filters and `cb` channels (the planner's: host/compile/conv-lowering.ts
// winogradI8Blocks). Scratch: winograd_i8_scratch(C, F, tiles, fb, cb) bytes. C and F at least 4
// (the planner picks 8 and more), fb at least 4.
export function conv2d_winograd_i8(y: usize, x: usize, q: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  tiles: i32, fb: i32, cb: i32, scratch: usize, lo: f32, hi: f32): void {
  const T = B * ((OH + 1) >> 1) * ((OW + 1) >> 1);
  if (T <= 0 || F < 4 || C < 4 || fb < 4) return;
  tiles = max(tiles, 1);
  if (ASC_FEATURE_THREADS && winograd_i8_split(y, x, q, scale, b, B, H, W, C, F, PT, PL, OH, OW, tiles, fb, cb, scratch, lo, hi)) return;
  winograd_i8_range(y, x, q, scale, b, B, H, W, C, F, PT, PL, OH, OW, 0, T, tiles, fb, cb, scratch, lo, hi);
}

// Tiles q0 .. q1-1 of conv2d_winograd_i8 (arguments as its own), in blocks of `tiles` from q0, in
// winograd_i8_scratch(C, F, tiles, fb, cb) bytes at `scratch`: the whole call, or a thread's share.
function winograd_i8_range(y: usize, x: usize, q: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  q0: i32, q1: i32, tiles: i32, fb: i32, cb: i32, scratch: usize, lo: f32, hi: f32): void {
  fb = blockFilters(F, fb);
  const nc = channelBlocks(C, cb), cw = widestBlock(C, cb);
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const cp = (cw + 3) & ~3, fp = (fb + 3) & ~3;
  const taps = scratch;
  const zero = scratch + 64;
  const v = zero + (<usize>cp << 2);
  const vStep = (<usize>(tiles * cp) << 2) + PAD;
  const m = v + 16 * vStep;
  const mStep = (<usize>(tiles * fp) << 2) + PAD;
  const u = m + 16 * mStep;
  const uStep = (<usize>(cw * ((fb + NR - 1) & ~(NR - 1))) << 2) + PAD;
  const pack = u + 16 * uStep;
  fill_f32(zero, 0, cw);
  let made = -1; // which block of U (f0 * nc + its block of channels) is in the scratch
  // Blocks of tiles outside and blocks of filters inside, or with one block of channels (C <= cb:
  // squeezenet's fire modules) the other way round: then U is made once a call per block of
  // filters, not once per block of tiles too, and the input transform runs as often as before
  // (once per block of tiles and filters). Each (tile, filter) output is the same sum either way.
  const tileBlocks = (q1 - q0 + tiles - 1) / tiles, filterBlocks = (F + fb - 1) / fb;
  const filtersOutside = nc == 1;
  for (let s = 0; s < tileBlocks * filterBlocks; s++) {
    const t0 = q0 + tiles * (filtersOutside ? s % tileBlocks : s / filterBlocks);
    const f = fb * (filtersOutside ? s / tileBlocks : s % filterBlocks);
    const n = min(tiles, q1 - t0);
    {
      // A last block of fewer than 4 filters moves back to end at F (its vectors need 4): those
      // filters come out again with the same bits (each GEMM column is summed on its own).
      const f0 = F - f < 4 ? F - 4 : f;
      const nb = min(fb, F - f0);
      for (let ci = 0, c0 = 0; ci < nc; ci++) {
        const cn = C / nc + (ci < C % nc ? 1 : 0);
        const xc = x + (<usize>c0 << 2);
        for (let t = 0; t < n; t++) {
          tapTable(taps, zero, xc, t0 + t, TH, TW, H, W, C, PT, PL);
          inputTile(v + (<usize>(t * cp) << 2), vStep, taps, cn);
        }
        if (f0 * nc + ci != made) {
          winograd_i8_transform(u, uStep, q, C, F, c0, cn, f0, nb);
          made = f0 * nc + ci;
        }
        for (let xi = 0; xi < 16; xi++) {
          gemm_f32_packed(m + <usize>xi * mStep, v + <usize>xi * vStep, u + <usize>xi * uStep, 0, n, nb, cn, cp, 1, fp, ci > 0 ? 1 : 0,
            <f32>-Infinity, <f32>Infinity, pack);
        }
        c0 += cn;
      }
      const fo = <usize>f0 << 2;
      for (let t = 0; t < n; t++) {
        const qt = t0 + t;
        const tw = qt % TW, th = (qt / TW) % TH, bi = qt / (TW * TH);
        const oh = 2 * th, ow = 2 * tw;
        const y00 = y + (<usize>(((bi * OH + oh) * OW + ow) * F) << 2) + fo;
        const y01 = ow + 1 < OW ? y00 + (<usize>F << 2) : y00;
        const y10 = oh + 1 < OH ? y00 + (<usize>(OW * F) << 2) : y00;
        const y11 = ow + 1 < OW ? y10 + (<usize>F << 2) : y10;
        outputTile(y00, y01, y10, y11, m + (<usize>(t * fp) << 2), mStep, b != 0 ? b + fo : 0, scale + fo, nb, lo, hi);
      }
    }
  }
}

// u: the 16 matrices U[xi] (cn, nb) = (G q G^T)[xi] of channels c0 .. c0+cn-1 and filters f0 ..
// f0+nb-1 (nb <= NC), uStep bytes apart, each in gemm_pack_b's panels for a (cn, nb) B
// (gemm-packed.ts: one column block; per k slice pc, the NR-wide k-major panels, zero past nb).
// q (3, 3, C, F) HWIO int8.
export function winograd_i8_transform(u: usize, uStep: usize, q: usize, C: i32, F: i32, c0: i32, cn: i32, f0: i32, nb: i32): void {
  const kcStep = kSliceStep(cn);
  const ncPad = (nb + NR - 1) & ~(NR - 1);
  const tap = <usize>(C * F);
  for (let pc = 0; pc < cn; pc += kcStep) {
    const kc = min(kcStep, cn - pc);
    for (let j0 = 0; j0 < nb; j0 += NR) {
      const cols = min(NR, nb - j0);
      const panel = u + (<usize>(pc * ncPad + j0 * kc) << 2);
      for (let p = 0; p < kc; p++) {
        const src = q + <usize>((c0 + pc + p) * F + f0 + j0);
        const dst = panel + (<usize>(p * NR) << 2);
        if (ASC_FEATURE_SIMD && cols == NR) {
          const g0 = v128.load8x8_s(src), g1 = v128.load8x8_s(src + tap), g2 = v128.load8x8_s(src + 2 * tap);
          const g3 = v128.load8x8_s(src + 3 * tap), g4 = v128.load8x8_s(src + 4 * tap), g5 = v128.load8x8_s(src + 5 * tap);
          const g6 = v128.load8x8_s(src + 6 * tap), g7 = v128.load8x8_s(src + 7 * tap), g8 = v128.load8x8_s(src + 8 * tap);
          transform4(dst, uStep, lowF32(g0), lowF32(g1), lowF32(g2), lowF32(g3), lowF32(g4), lowF32(g5), lowF32(g6), lowF32(g7), lowF32(g8));
          transform4(dst + 16, uStep, highF32(g0), highF32(g1), highF32(g2), highF32(g3), highF32(g4), highF32(g5), highF32(g6), highF32(g7), highF32(g8));
          continue;
        }
        // Without SIMD, and the panel's last columns: one filter at a time (zeros past nb).
        for (let j = 0; j < NR; j++) {
          const s = src + <usize>j, d = dst + (<usize>j << 2);
          for (let xi = 0; xi < 16; xi++) {
            const i = xi >> 2, jj = xi & 3;
            let e: f32 = 0;
            if (j < cols) {
              const h0 = gRow(jj, <f32>load<i8>(s), <f32>load<i8>(s + tap), <f32>load<i8>(s + 2 * tap));
              const h1 = gRow(jj, <f32>load<i8>(s + 3 * tap), <f32>load<i8>(s + 4 * tap), <f32>load<i8>(s + 5 * tap));
              const h2 = gRow(jj, <f32>load<i8>(s + 6 * tap), <f32>load<i8>(s + 7 * tap), <f32>load<i8>(s + 8 * tap));
              e = gRow(i, h0, h1, h2);
            }
            store<f32>(d + <usize>xi * uStep, e);
          }
        }
      }
    }
  }
}

// The low / high four int16 lanes of h, as f32.
// @ts-ignore: decorator
@inline
function lowF32(h: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h));
}
// @ts-ignore: decorator
@inline
function highF32(h: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h));
}

// (G g G^T)[xi] at d + xi * step for four filters a lane, g (3, 3) the kernel rows g0 g1 g2 / g3 ..:
// g G^T row by row (a0, (a0 + a2 + a1) / 2, (a0 + a2 - a1) / 2, a2), then G (g G^T) column by
// column, the same sums (gRow's, in another order: exact here).
function transform4(d: usize, step: usize, g0: v128, g1: v128, g2: v128, g3: v128, g4: v128, g5: v128, g6: v128, g7: v128, g8: v128): void {
  const half = f32x4.splat(0.5);
  const s0 = f32x4.add(g0, g2), s1 = f32x4.add(g3, g5), s2 = f32x4.add(g6, g8);
  column(d, step, g0, g3, g6);
  column(d + step, step, f32x4.mul(f32x4.add(s0, g1), half), f32x4.mul(f32x4.add(s1, g4), half), f32x4.mul(f32x4.add(s2, g7), half));
  column(d + 2 * step, step, f32x4.mul(f32x4.sub(s0, g1), half), f32x4.mul(f32x4.sub(s1, g4), half), f32x4.mul(f32x4.sub(s2, g7), half));
  column(d + 3 * step, step, g2, g5, g8);
}

// G (h0, h1, h2) at d, d + 4 step, d + 8 step, d + 12 step.
// @ts-ignore: decorator
@inline
function column(d: usize, step: usize, h0: v128, h1: v128, h2: v128): void {
  const half = f32x4.splat(0.5);
  const s = f32x4.add(h0, h2);
  v128.store(d, h0);
  v128.store(d + 4 * step, f32x4.mul(f32x4.add(s, h1), half));
  v128.store(d + 8 * step, f32x4.mul(f32x4.sub(s, h1), half));
  v128.store(d + 12 * step, h2);
}

// conv2d_winograd_i8 split over threads by groups of tiles, as winograd.ts's winograd_split (its
// rules for the same bits: groups and blocks start at multiples of 4 tiles), each thread in its
// share of the scratch with its own U: blocks of `sub` tiles, the call's blocks of channels (they
// set the bits) and `fbt` filters, fbt halved from fb (to multiples of 8) until 4 tiles fit the
// share: a column of a GEMM is summed alone, so the block of filters it falls in does not change
// its bits. False (the whole call, its GEMMs split) when no share of 8 filters and 4 tiles fits or
// the work is too small.
function winograd_i8_split(y: usize, x: usize, q: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  tiles: i32, fb: i32, cb: i32, scratch: usize, lo: f32, hi: f32): bool {
  if (!canSplit()) return false;
  const threads = splitThreads();
  const share = winograd_i8_scratch(C, F, tiles, fb, cb) / threads;
  let fbt = blockFilters(F, fb);
  let sub = 0;
  for (;;) {
    sub = min(tiles, subTiles(C, F, fbt, cb, share)) & ~3;
    if (sub >= 4 || fbt <= 8) break;
    fbt = max(8, (fbt >> 1) & ~7);
  }
  if (sub < 4) return false;
  const count = winogradJobTiles(B, C, F, OH, OW, sub);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, q); setArgp(3, scale); setArgp(4, b);
  setArg(5, B); setArg(6, H); setArg(7, W); setArg(8, C); setArg(9, F); setArg(10, PT); setArg(11, PL); setArg(12, OH); setArg(13, OW);
  setArg(14, sub); setArg(15, fbt); setArg(16, cb); setArgp(17, scratch); setArgf(18, lo); setArgf(19, hi);
  runJob(JOB_WINOGRAD_I8, count, 0);
  return true;
}

// Tiles whose blocks fit `bytes` of scratch (winograd_i8_scratch solved for tiles).
function subTiles(C: i32, F: i32, fb: i32, cb: i32, bytes: i32): i32 {
  const fixed = winograd_i8_scratch(C, F, 1, fb, cb);
  const cw = widestBlock(C, cb);
  const cp = (cw + 3) & ~3, fp = (blockFilters(F, fb) + 3) & ~3;
  return bytes < fixed ? 0 : 1 + (bytes - fixed) / (64 * (cp + fp));
}

export function winogradI8Tile(args: usize, tile: i32, count: i32, slot: i32): void {
  const B = arg(args, 5), C = arg(args, 8), F = arg(args, 9), OH = arg(args, 12), OW = arg(args, 13);
  const sub = arg(args, 14), fbt = arg(args, 15), cb = arg(args, 16);
  const T = B * ((OH + 1) >> 1) * ((OW + 1) >> 1);
  const units = T >> 2;
  const q0 = tileStart(tile, count, units) << 2;
  const q1 = tile == count - 1 ? T : tileStart(tile + 1, count, units) << 2;
  winograd_i8_range(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4), B, arg(args, 6), arg(args, 7), C, F,
    arg(args, 10), arg(args, 11), OH, OW, q0, q1, sub, fbt, cb, argp(args, 17) + <usize>slot * <usize>winograd_i8_scratch(C, F, sub, fbt, cb),
    argf(args, 18), argf(args, 19));
}
