// The filter gradient of a convolution with few taps (KH*KW*C under 64 rows of dw: a first layer
// over one to seven channels), summed over FILTER_PARTS fixed ranges of output positions and then
// combined in their order. Its dw has too few rows to split by rows, and split by columns every
// tile unfolded every position again (docs/threads.md); by position ranges each tile unfolds only
// its own positions, and the parts and their order do not depend on the thread count, so any
// thread count gives the same bits (threads-train.ts conv_filter_parts_split runs the parts as tiles).
//
// Layout in the scratch `cols` (chunk*Kg floats, as every backward pass has): the FILTER_PARTS
// partial sums (Kg, F) first, each on whole 64-byte lines, then FILTER_SHARES unfold shares of
// `sub` rows of Kg floats, one for each thread that may run a part at once (a thread's `slot`).
import { im2colChannels } from './conv';
import { bias_backward, fill_f32 } from './elementwise';
import { gemm_f32 } from './gemm';
import { conv_filter_parts_split } from './threads-train';

export const FILTER_PARTS = 8;
// Unfold shares: one per thread the host allows (host/runtime/thread-pool.ts MAX_THREADS).
export const FILTER_SHARES = 8;
// Fewer rows of dw than this split by rows (threads-train.ts conv_filter_split); these by parts.
const PARTS_KG_MAX = 64;
// A share of fewer positions than this makes GEMMs too shallow to be worth the split.
const SUB_MIN = 64;

// Floats of one partial sum (Kg, F), rounded up to whole 64-byte lines.
// @ts-ignore: decorator
@inline function partFloats(Kg: i32, F: i32): i32 {
  return (Kg * F + 15) & ~15;
}

// Positions a part unfolds at a time: the GEMM depth, fixed by the geometry alone (0: this layer
// does not take the parts path).
export function filterPartsSub(N: i32, Kg: i32, F: i32, G: i32, chunk: i32, pointwise: bool): i32 {
  if (pointwise || G != 1 || Kg >= PARTS_KG_MAX || N < FILTER_PARTS * SUB_MIN) return 0;
  const free = chunk * Kg - FILTER_PARTS * partFloats(Kg, F);
  const sub = (free / (FILTER_SHARES * Kg)) & ~3;
  return sub >= SUB_MIN ? sub : 0;
}

// dw (Kg, F) [+]= im2col(x)^T . dy over all N = B*OH*OW positions, as FILTER_PARTS partial sums
// added in order: dw = ((dw or 0) + part 0) + part 1 + ... Parts run as a thread job when a pool
// is attached, else one after the other here. `sub` from filterPartsSub.
export function conv2d_backward_filter_parts(dw: usize, x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, F: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  sub: i32, cols: usize, pack: usize, accumulate: i32): void {
  if (!(ASC_FEATURE_THREADS && conv_filter_parts_split(x, dy, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, sub, cols, pack))) {
    for (let p = 0; p < FILTER_PARTS; p++) filter_part(p, x, dy, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, sub, cols, pack, 0);
  }
  combineParts(dw, cols, KH * KW * C, F, accumulate);
}

// The plan's filter gradient by parts (op conv2d_backward_filter_parts): a layer with more rows of
// dw whose FILTER_PARTS partial sums the plan gave room for (host/compile/conv-lowering.ts
// convFilterParts: 8 x (Kg, F) floats and FILTER_SHARES unfold shares of `sub` positions, in that
// order from `parts`; the GEMM scratch at `pack`). Split by rows of dw, as the row split does, each
// of two threads packed every chunk's dy again and unfolded its columns of every position: the
// bench CNN's second layer (Kg 288, F 64) ran 1.6x faster on 2 threads; by parts each thread
// unfolds and packs only its own positions. db (0: not wanted) is summed whole first.
export function conv2d_backward_filter_by_parts(dw: usize, db: usize, x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, F: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  sub: i32, parts: usize, pack: usize, accumulate: i32): void {
  if (db != 0) bias_backward(db, dy, B * OH * OW, F, accumulate);
  if (dw == 0 || F <= 0 || sub <= 0) return;
  conv2d_backward_filter_parts(dw, x, dy, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, sub, parts, pack, accumulate);
}

// Part p: positions p*N/FILTER_PARTS .. (p+1)*N/FILTER_PARTS - 1, `sub` at a time, unfolded into
// share `slot`, summed into the part's (Kg, F) block of cols.
export function filter_part(p: i32, x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, F: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  sub: i32, cols: usize, pack: usize, slot: i32): void {
  const N = B * OH * OW, Kg = KH * KW * C;
  const part = cols + (<usize>(p * partFloats(Kg, F)) << 2);
  const share = cols + (<usize>(FILTER_PARTS * partFloats(Kg, F) + slot * sub * Kg) << 2);
  const p0 = <i32>(<i64>p * <i64>N / FILTER_PARTS), p1 = <i32>(<i64>(p + 1) * <i64>N / FILTER_PARTS);
  // A batch smaller than the plan's may leave a part no positions: its sum is 0.
  if (p0 >= p1) fill_f32(part, 0, Kg * F);
  for (let r0 = p0; r0 < p1; r0 += sub) {
    const rows = min(sub, p1 - r0);
    im2colChannels(share, x, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    gemm_f32(part, share, dy + (<usize>r0 * <usize>F << 2), Kg, F, rows, 1, Kg, F, 1, F, r0 > p0 ? 1 : 0, pack);
  }
}

// dw (n = Kg*F) = (accumulate ? dw : 0) + part 0 + part 1 + ..., each element in that order.
function combineParts(dw: usize, cols: usize, Kg: i32, F: i32, accumulate: i32): void {
  const n = Kg * F;
  const stride = <usize>partFloats(Kg, F) << 2;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let s = v128.load(cols + o);
      if (accumulate) s = f32x4.add(v128.load(dw + o), s);
      for (let p = 1; p < FILTER_PARTS; p++) s = f32x4.add(s, v128.load(cols + <usize>p * stride + o));
      v128.store(dw + o, s);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let s = load<f32>(cols + o);
    if (accumulate) s = load<f32>(dw + o) + s;
    for (let p = 1; p < FILTER_PARTS; p++) s += load<f32>(cols + <usize>p * stride + o);
    store<f32>(dw + o, s);
  }
}
