// Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1, dilation 1 and one group, in inference
// plans (issue 12). NHWC, geometry as assembly/kernels/conv.ts; f32; pointers are byte offsets.
//
// Each 2x2 block of outputs ("tile" (th, tw): rows 2th, 2th+1, columns 2tw, 2tw+1) comes from the
// 4x4 input patch d at rows 2th - PT .., columns 2tw - PL .. (zeros outside the input):
//   y = A^T [ sum over c of (G g G^T)[c, f] (.) (B^T d B)[c] ] A          (Lavin and Gray, 2015)
// with  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//       A^T = [1 1 1 0; 0 1 -1 -1].
// Per tile the 16 elements xi = 4i + j of the transformed patch are independent: the channel sum of
// each is one GEMM over a block of tiles, M[xi] (tiles, F) = V[xi] (tiles, C) . U[xi] (C, F), run by
// gemm_f32_packed on U[xi] packed once by `prepare` (winograd_f23_pack). 16 products of C*F per
// tile of 4 outputs instead of 36: 2.25x fewer multiplies (less on odd sizes, whose last tiles
// are half used), for an input and an output transform of adds only.
//
// The same bits with and without SIMD, and on any number of threads: the transforms are the same
// expressions in the same order per channel lane, and gemm_f32_packed sums each element of M in
// the same order however its rows are split. Not the bits of the direct convolution: the error
// analysis and the measured error are in docs/profile-conv.md.
import { gemm_f32_packed, gemm_pack_b, gemm_packed_floats } from './gemm-packed';
import { fill_f32 } from './elementwise';
import { arg, argf, argp, canSplit, runJob, setArg, setArgf, setArgp, splitThreads, tileStart, tilesFor, GEMM_SPLIT_MIN, JOB_WINOGRAD, TILE_MIN_WORK } from './threads';

// u: the 16 matrices U[xi] (C, F), each in gemm_pack_b's panels (gemm_packed_floats(F, C) floats
// apart), from w (3, 3, C, F) HWIO. tmp: C*F floats of scratch.
export function winograd_f23_pack(u: usize, w: usize, C: i32, F: i32, tmp: usize): void {
  const panel = <usize>gemm_packed_floats(F, C) << 2;
  const tap = <usize>(C * F) << 2;
  for (let xi = 0; xi < 16; xi++) {
    const i = xi >> 2, j = xi & 3;
    for (let e = 0; e < C * F; e++) {
      const g = w + (<usize>e << 2);
      // (g G^T) along the kernel's columns, then G (g G^T) along its rows.
      const h0 = gRow(j, load<f32>(g), load<f32>(g + tap), load<f32>(g + 2 * tap));
      const h1 = gRow(j, load<f32>(g + 3 * tap), load<f32>(g + 4 * tap), load<f32>(g + 5 * tap));
      const h2 = gRow(j, load<f32>(g + 6 * tap), load<f32>(g + 7 * tap), load<f32>(g + 8 * tap));
      store<f32>(tmp + (<usize>e << 2), gRow(i, h0, h1, h2));
    }
    gemm_pack_b(u + <usize>xi * panel, tmp, F, C, F, 1);
  }
}

// Row r of G times (a0, a1, a2). Also the scalar int8 kernel transform (winograd-i8.ts).
export function gRow(r: i32, a0: f32, a1: f32, a2: f32): f32 {
  if (r == 0) return a0;
  if (r == 3) return a2;
  return (a0 + (r == 1 ? a1 : -a1) + a2) * 0.5; // a0 + -a1 is a0 - a1, exactly
}

// Bytes of conv2d_winograd_f23's scratch for blocks of `tiles` tiles: a bound that covers its
// parts (64 + 4 cp + 64 tiles (cp + fp) + 16 min(C, KC), cp and fp C and F rounded up to 4).
export function winograd_f23_scratch(C: i32, F: i32, tiles: i32): i32 {
  return 64 * (max(tiles, 1) + 1) * (C + F + 6);
}

// y (B, OH, OW, F) = clamp(conv3x3(x (B, H, W, C)) + b (F), lo, hi), stride 1, dilation 1, padding
// PT, PL (bottom and right implied by OH = H + PT + PB - 2, OW likewise), its kernel transformed by
// winograd_f23_pack into u; b 0 for none, lo/hi -inf/inf for no clamp. `tiles`: tiles per block
// (V and M of a block stay in cache). Scratch: winograd_f23_scratch(C, F, tiles) bytes: the tap
// table (16 pointers), a zero row (C floats), V (16, tiles, C), M (16, tiles, F), the GEMM's pack.
// V's and M's rows are padded to a multiple of 4 floats, so that the SIMD transforms store whole
// vectors (the pad lanes are never read as values).
export function conv2d_winograd_f23(y: usize, x: usize, u: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  tiles: i32, scratch: usize, lo: f32, hi: f32): void {
  const T = B * ((OH + 1) >> 1) * ((OW + 1) >> 1);
  // The SIMD transforms read and write whole vectors of channels: C and F at least 4 (the
  // planner picks this kernel for 8 and more, conv-lowering.ts usesWinograd).
  if (T <= 0 || F < 4 || C < 4) return;
  tiles = max(tiles, 1);
  if (ASC_FEATURE_THREADS && winograd_split(y, x, u, b, B, H, W, C, F, PT, PL, OH, OW, tiles, scratch, lo, hi)) return;
  winograd_f23_range(y, x, u, b, B, H, W, C, F, PT, PL, OH, OW, 0, T, tiles, scratch, lo, hi);
}

// Tiles q0 .. q1-1 of conv2d_winograd_f23 (arguments as its own), in blocks of `tiles` from q0:
// per block the tap tables and input transforms into V, the 16 GEMMs, the output transforms. The
// whole call and each thread's share of a split one (threads.ts winograd_split, in its share of
// the scratch) run this.
export function winograd_f23_range(y: usize, x: usize, u: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  q0: i32, q1: i32, tiles: i32, scratch: usize, lo: f32, hi: f32): void {
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const cp = (C + 3) & ~3, fp = (F + 3) & ~3;
  const taps = scratch;
  const zero = scratch + 64;
  const v = zero + (<usize>cp << 2);
  const vStep = <usize>(tiles * cp) << 2;
  const m = v + 16 * vStep;
  const mStep = <usize>(tiles * fp) << 2;
  const pack = m + 16 * mStep;
  const panel = <usize>gemm_packed_floats(F, C) << 2;
  fill_f32(zero, 0, C);
  for (let t0 = q0; t0 < q1; t0 += tiles) {
    const n = min(tiles, q1 - t0);
    for (let t = 0; t < n; t++) {
      tapTable(taps, zero, x, t0 + t, TH, TW, H, W, C, PT, PL);
      inputTile(v + (<usize>(t * cp) << 2), vStep, taps, C);
    }
    for (let xi = 0; xi < 16; xi++) {
      gemm_f32_packed(m + <usize>xi * mStep, v + <usize>xi * vStep, u + <usize>xi * panel, 0, n, F, C, cp, 1, fp, 0,
        <f32>-Infinity, <f32>Infinity, pack);
    }
    for (let t = 0; t < n; t++) {
      const q = t0 + t;
      const tw = q % TW, th = (q / TW) % TH, bi = q / (TW * TH);
      const oh = 2 * th, ow = 2 * tw;
      const y00 = y + (<usize>(((bi * OH + oh) * OW + ow) * F) << 2);
      const y01 = ow + 1 < OW ? y00 + (<usize>F << 2) : y00;
      const y10 = oh + 1 < OH ? y00 + (<usize>(OW * F) << 2) : y00;
      const y11 = ow + 1 < OW ? y10 + (<usize>F << 2) : y10;
      outputTile(y00, y01, y10, y11, m + (<usize>(t * fp) << 2), mStep, b, 0, F, lo, hi);
    }
  }
}

// taps[4r + s] = where the patch of tile q reads row r, column s: x's pixel, or the zero row.
export function tapTable(taps: usize, zero: usize, x: usize, q: i32, TH: i32, TW: i32, H: i32, W: i32, C: i32, PT: i32, PL: i32): void {
  const tw = q % TW, th = (q / TW) % TH, bi = q / (TW * TH);
  const ih0 = 2 * th - PT, iw0 = 2 * tw - PL;
  for (let r = 0; r < 4; r++) {
    const ih = ih0 + r;
    for (let s = 0; s < 4; s++) {
      const iw = iw0 + s;
      const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
      store<usize>(taps + (<usize>(4 * r + s) << 2), inside ? x + (<usize>(((bi * H + ih) * W + iw) * C) << 2) : zero);
    }
  }
}

// @ts-ignore: decorator
@inline
function tapVector(taps: usize, r: i32, s: i32, o: usize): v128 {
  return v128.load(load<usize>(taps + (<usize>(4 * r + s) << 2)) + o);
}

// V[4i + j] (at v + (4i + j) * vStep) = (B^T d B)[i, j] for the patch whose taps are in `taps`, all
// C channels: first d B row by row into V (row r: d0 - d2, d1 + d2, d2 - d1, d1 - d3), then B^T
// (d B) column by column in place, the same four sums over the rows.
export function inputTile(v: usize, vStep: usize, taps: usize, C: i32): void {
  if (ASC_FEATURE_SIMD) {
    // Whole vectors: the last one overlaps the one before it (C >= 4) and writes the same values
    // again; B^T then runs over V's padded rows, pad lanes included (never read as values).
    for (let c = 0; c < C; c += 4) {
      const o = <usize>min(c, C - 4) << 2;
      for (let r = 0; r < 4; r++) {
        const d1 = tapVector(taps, r, 1, o), d2 = tapVector(taps, r, 2, o);
        const vr = v + <usize>(4 * r) * vStep + o;
        v128.store(vr, f32x4.sub(tapVector(taps, r, 0, o), d2));
        v128.store(vr + vStep, f32x4.add(d1, d2));
        v128.store(vr + 2 * vStep, f32x4.sub(d2, d1));
        v128.store(vr + 3 * vStep, f32x4.sub(d1, tapVector(taps, r, 3, o)));
      }
    }
    for (let c = 0; c < C; c += 4) {
      const o = <usize>c << 2;
      for (let j: usize = 0; j < 4; j++) {
        const vj = v + j * vStep + o;
        const t1 = v128.load(vj + 4 * vStep), t2 = v128.load(vj + 8 * vStep);
        v128.store(vj, f32x4.sub(v128.load(vj), t2));
        v128.store(vj + 8 * vStep, f32x4.sub(t2, t1));
        v128.store(vj + 4 * vStep, f32x4.add(t1, t2));
        v128.store(vj + 12 * vStep, f32x4.sub(t1, v128.load(vj + 12 * vStep)));
      }
    }
    return;
  }
  // Without SIMD, smaller: the patch copied into V, then B^T along its rows and its columns in place.
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    for (let k: usize = 0; k < 16; k++) store<f32>(v + k * vStep + o, load<f32>(load<usize>(taps + (k << 2)) + o));
    for (let r: usize = 0; r < 4; r++) bt4(v + 4 * r * vStep + o, vStep);
    for (let j: usize = 0; j < 4; j++) bt4(v + j * vStep + o, 4 * vStep);
  }
}

// (t0, t1, t2, t3) at p, p + step, p + 2 step, p + 3 step = B^T of themselves: t0 - t2, t1 + t2,
// t2 - t1, t1 - t3 (the scalar transforms; the same sums as the SIMD ones).
function bt4(p: usize, step: usize): void {
  const t1 = load<f32>(p + step), t2 = load<f32>(p + 2 * step);
  store<f32>(p, load<f32>(p) - t2);
  store<f32>(p + 2 * step, t2 - t1);
  store<f32>(p + step, t1 + t2);
  store<f32>(p + 3 * step, t1 - load<f32>(p + 3 * step));
}

// (m0, m1, m2, m3) at p, p + step, .. -> A^T of them at p and p + step: m0 + m1 + m2, m1 - m2 - m3.
function at4(p: usize, step: usize): void {
  const m1 = load<f32>(p + step), m2 = load<f32>(p + 2 * step);
  store<f32>(p, load<f32>(p) + m1 + m2);
  store<f32>(p + step, m1 - m2 - load<f32>(p + 3 * step));
}

// The tile's four outputs (y00, y01 / y10, y11; one that falls outside y aliases an earlier one and
// is stored first, so the valid store wins) = clamp(A^T M A [/ scale] + b, lo, hi), M[xi] at
// m + xi * mStep; scale (F per-filter divisors, winograd-i8.ts's int8 kernels) 0 for none.
// First A^T M in place over M's first two rows (s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 per column),
// then the same along each of those rows: two short loops rather than 24 loads in flight.
export function outputTile(y00: usize, y01: usize, y10: usize, y11: usize, m: usize, mStep: usize, b: usize, scale: usize, F: i32, lo: f32, hi: f32): void {
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    for (let f = 0; f < F; f += 4) {
      const pq = m + (<usize>f << 2);
      for (let q: usize = 0; q < 4; q++) {
        const p = pq + q * mStep;
        const m1 = v128.load(p + 4 * mStep), m2 = v128.load(p + 8 * mStep);
        v128.store(p, f32x4.add(f32x4.add(v128.load(p), m1), m2));
        v128.store(p + 4 * mStep, f32x4.sub(f32x4.sub(m1, m2), v128.load(p + 12 * mStep)));
      }
    }
    // The last vector overlaps the one before it (F >= 4) and stores the same values again.
    for (let f = 0; f < F; f += 4) {
      const o = <usize>min(f, F - 4) << 2;
      const bv = b != 0 ? v128.load(b + o) : f32x4.splat(0);
      for (let r = 1; r >= 0; r--) {
        const pr = m + o + <usize>(4 * r) * mStep;
        const s1 = v128.load(pr + mStep), s2 = v128.load(pr + 2 * mStep);
        let right = f32x4.sub(f32x4.sub(s1, s2), v128.load(pr + 3 * mStep));
        let left = f32x4.add(f32x4.add(v128.load(pr), s1), s2);
        if (scale != 0) {
          const sv = v128.load(scale + o);
          right = f32x4.div(right, sv);
          left = f32x4.div(left, sv);
        }
        // pmax / pmin: the same values as max / min here (NaN stays NaN; no sum is -0, the GEMM's
        // start from +0 and x - x is +0; scales are > 0), one instruction each.
        v128.store((r ? y11 : y01) + o, f32x4.pmin(f32x4.pmax(f32x4.add(right, bv), vlo), vhi));
        v128.store((r ? y10 : y00) + o, f32x4.pmin(f32x4.pmax(f32x4.add(left, bv), vlo), vhi));
      }
    }
    return;
  }
  // Without SIMD, smaller: A^T along M's columns and then along its first two rows, in place.
  for (let f = 0; f < F; f++) {
    const p = m + (<usize>f << 2);
    for (let q: usize = 0; q < 4; q++) at4(p + q * mStep, 4 * mStep);
    at4(p, mStep);
    at4(p + 4 * mStep, mStep);
    const bf: f32 = b != 0 ? load<f32>(b + (<usize>f << 2)) : 0;
    const o = <usize>f << 2;
    let v11 = load<f32>(p + 5 * mStep), v10 = load<f32>(p + 4 * mStep), v01 = load<f32>(p + mStep), v00 = load<f32>(p);
    if (scale != 0) {
      const sf = load<f32>(scale + o);
      v11 /= sf; v10 /= sf; v01 /= sf; v00 /= sf;
    }
    store<f32>(y11 + o, min(max(v11 + bf, lo), hi));
    store<f32>(y10 + o, min(max(v10 + bf, lo), hi));
    store<f32>(y01 + o, min(max(v01 + bf, lo), hi));
    store<f32>(y00 + o, min(max(v00 + bf, lo), hi));
  }
}

// conv2d_winograd_f23 split over threads by groups of tiles (threads build; docs/threads.md): each
// thread runs winograd_f23_range on its groups, in blocks of `sub` tiles in its own share of the
// scratch (slot s at scratch + s * winogradShare(C, F, sub)): sub = the largest multiple of 4
// (at most `tiles`) whose exact shares for all threads fit the plan's scratch for `tiles`
// (winograd_f23_scratch's bound would halve it again: 4 tiles a block, each GEMM reading all of U
// for 4 rows). Groups start at multiples of 4
// tiles, and so do blocks (sub and the whole call's `tiles` are multiples of 4, or it has one
// block): the same rows of each GEMM are the 1-row tail of the 4-row microkernel on any thread
// count, so the same bits. Inside a job gemm_f32_packed does not split again (canSplit). False
// (the whole call, its GEMMs split) when a share would be under 4 tiles or the work too small.
export function winograd_split(y: usize, x: usize, u: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  tiles: i32, scratch: usize, lo: f32, hi: f32): bool {
  if (!canSplit()) return false;
  const threads = splitThreads();
  const cp = (C + 3) & ~3, fp = (F + 3) & ~3;
  const sub = min(tiles, (winograd_f23_scratch(C, F, tiles) / threads - (127 + 4 * cp + 16 * C)) / (64 * (cp + fp))) & ~3;
  if (sub < 4) return false;
  const count = winogradJobTiles(B, C, F, OH, OW, sub);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, u); setArgp(3, b);
  setArg(4, B); setArg(5, H); setArg(6, W); setArg(7, C); setArg(8, F); setArg(9, PT); setArg(10, PL); setArg(11, OH); setArg(12, OW);
  setArg(13, sub); setArgp(14, scratch); setArgf(15, lo); setArgf(16, hi);
  runJob(JOB_WINOGRAD, count, 0);
  return true;
}

// The thread tiles a Winograd call of B images (C channels, F filters, OH x OW outputs) is split
// into (by units of 4 tiles), below 2 when it is too small to split; none holds fewer than a
// block of `sub` tiles when there are enough blocks for every thread: each of a tile's 16 GEMMs
// reads all of U once for the tile's rows, so tiles of 4 rows where a thread's share of the
// scratch takes 8 read U twice as often (resnet18 at batch 1 on 2 threads: the 7x7 stage's 16
// tiles went as 4 job tiles of 4, the 14x14 stage's 49 as 12; as 2 and 6, the model ran 31.9 ->
// 29.5 and 37.3 -> 34.8 ms, alternated in one process). Shared with winograd-i8.ts.
export function winogradJobTiles(B: i32, C: i32, F: i32, OH: i32, OW: i32, sub: i32): i32 {
  const T = B * ((OH + 1) >> 1) * ((OW + 1) >> 1);
  const work = <f64>T * 16 * <f64>C * <f64>F;
  if (work < GEMM_SPLIT_MIN) return 0;
  const count = tilesFor(T >> 2, work, TILE_MIN_WORK);
  const blocks = (T >> 2) / max(sub >> 2, 1);
  const threads = splitThreads();
  if (blocks >= count || blocks < threads) return count;
  return blocks - blocks % threads;
}

export function winogradTile(args: usize, tile: i32, count: i32, slot: i32): void {
  const B = arg(args, 4), C = arg(args, 7), F = arg(args, 8), OH = arg(args, 11), OW = arg(args, 12), sub = arg(args, 13);
  const T = B * ((OH + 1) >> 1) * ((OW + 1) >> 1);
  const units = T >> 2;
  const q0 = tileStart(tile, count, units) << 2;
  const q1 = tile == count - 1 ? T : tileStart(tile + 1, count, units) << 2;
  winograd_f23_range(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), B, arg(args, 5), arg(args, 6), C, F,
    arg(args, 9), arg(args, 10), OH, OW, q0, q1, sub, argp(args, 14) + <usize>slot * <usize>winogradShare(C, F, sub),
    argf(args, 15), argf(args, 16));
}

// Bytes of winograd_f23_range's scratch for blocks of `sub` tiles, exactly (its parts, as listed at
// winograd_f23_scratch, the GEMM's pack at most 16 C), rounded up to 64 bytes.
function winogradShare(C: i32, F: i32, sub: i32): i32 {
  const cp = (C + 3) & ~3, fp = (F + 3) & ~3;
  return (127 + 4 * cp + 64 * sub * (cp + fp) + 16 * C) & ~63;
}
