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
import { KC, MR } from './gemm';
import { fill_f32 } from './elementwise';

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

// Row r of G times (a0, a1, a2).
function gRow(r: i32, a0: f32, a1: f32, a2: f32): f32 {
  if (r == 0) return a0;
  if (r == 1) return (a0 + a1 + a2) * 0.5;
  if (r == 2) return (a0 - a1 + a2) * 0.5;
  return a2;
}

// Bytes of conv2d_winograd_f23's scratch for blocks of `tiles` tiles.
export function winograd_f23_scratch(C: i32, F: i32, tiles: i32): i32 {
  return 64 + (((C + 3) & ~3) << 2) + ((16 * max(tiles, 1) * (C + F)) << 2) + ((min(C, KC) * MR) << 2);
}

// y (B, OH, OW, F) = clamp(conv3x3(x (B, H, W, C)) + b (F), lo, hi), stride 1, dilation 1, padding
// PT, PL (bottom and right implied by OH = H + PT + PB - 2, OW likewise), its kernel transformed by
// winograd_f23_pack into u; b 0 for none, lo/hi -inf/inf for no clamp. `tiles`: tiles per block
// (V and M of a block stay in cache). Scratch: winograd_f23_scratch(C, F, tiles) bytes: the tap
// table (16 pointers), a zero row (C floats), V (16, tiles, C), M (16, tiles, F), the GEMM's pack.
export function conv2d_winograd_f23(y: usize, x: usize, u: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  tiles: i32, scratch: usize, lo: f32, hi: f32): void {
  const TH = (OH + 1) >> 1, TW = (OW + 1) >> 1;
  const T = B * TH * TW;
  if (T <= 0 || F <= 0 || C <= 0) return;
  tiles = max(tiles, 1);
  const taps = scratch;
  const zero = scratch + 64;
  const v = zero + (<usize>((C + 3) & ~3) << 2);
  const vStep = <usize>(tiles * C) << 2;
  const m = v + 16 * vStep;
  const mStep = <usize>(tiles * F) << 2;
  const pack = m + 16 * mStep;
  const panel = <usize>gemm_packed_floats(F, C) << 2;
  fill_f32(zero, 0, C);
  for (let t0 = 0; t0 < T; t0 += tiles) {
    const n = min(tiles, T - t0);
    for (let t = 0; t < n; t++) {
      tapTable(taps, zero, x, t0 + t, TH, TW, H, W, C, PT, PL);
      inputTile(v + (<usize>(t * C) << 2), vStep, taps, C);
    }
    for (let xi = 0; xi < 16; xi++) {
      gemm_f32_packed(m + <usize>xi * mStep, v + <usize>xi * vStep, u + <usize>xi * panel, 0, n, F, C, C, 1, F, 0,
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
      outputTile(y00, y01, y10, y11, m + (<usize>(t * F) << 2), mStep, b, F, lo, hi);
    }
  }
}

// taps[4r + s] = where the patch of tile q reads row r, column s: x's pixel, or the zero row.
function tapTable(taps: usize, zero: usize, x: usize, q: i32, TH: i32, TW: i32, H: i32, W: i32, C: i32, PT: i32, PL: i32): void {
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
function tapAt(taps: usize, r: i32, s: i32): usize {
  return load<usize>(taps + (<usize>(4 * r + s) << 2));
}

// V[4i + j] (at v + (4i + j) * vStep) = (B^T d B)[i, j] for the patch whose taps are in `taps`, all
// C channels. Column j of d B is (d0 - d2, d1 + d2, d2 - d1, d1 - d3)[j] of each row; B^T then
// combines the rows the same way.
function inputTile(v: usize, vStep: usize, taps: usize, C: i32): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      for (let j = 0; j < 4; j++) {
        const a = j == 0 ? 0 : j == 3 ? 1 : j, bb = j == 0 ? 2 : j == 3 ? 3 : 3 - j;
        // t_r = d[r, a] (+ or -) d[r, bb]: j = 0: d0 - d2; 1: d1 + d2; 2: d2 - d1; 3: d1 - d3.
        const t0 = colB(v128.load(tapAt(taps, 0, a) + o), v128.load(tapAt(taps, 0, bb) + o), j);
        const t1 = colB(v128.load(tapAt(taps, 1, a) + o), v128.load(tapAt(taps, 1, bb) + o), j);
        const t2 = colB(v128.load(tapAt(taps, 2, a) + o), v128.load(tapAt(taps, 2, bb) + o), j);
        const t3 = colB(v128.load(tapAt(taps, 3, a) + o), v128.load(tapAt(taps, 3, bb) + o), j);
        const vj = v + <usize>j * vStep + o;
        v128.store(vj, f32x4.sub(t0, t2));
        v128.store(vj + 4 * vStep, f32x4.add(t1, t2));
        v128.store(vj + 8 * vStep, f32x4.sub(t2, t1));
        v128.store(vj + 12 * vStep, f32x4.sub(t1, t3));
      }
    }
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    for (let j = 0; j < 4; j++) {
      const a = j == 0 ? 0 : j == 3 ? 1 : j, bb = j == 0 ? 2 : j == 3 ? 3 : 3 - j;
      const t0 = colBf(load<f32>(tapAt(taps, 0, a) + o), load<f32>(tapAt(taps, 0, bb) + o), j);
      const t1 = colBf(load<f32>(tapAt(taps, 1, a) + o), load<f32>(tapAt(taps, 1, bb) + o), j);
      const t2 = colBf(load<f32>(tapAt(taps, 2, a) + o), load<f32>(tapAt(taps, 2, bb) + o), j);
      const t3 = colBf(load<f32>(tapAt(taps, 3, a) + o), load<f32>(tapAt(taps, 3, bb) + o), j);
      const vj = v + <usize>j * vStep + o;
      store<f32>(vj, t0 - t2);
      store<f32>(vj + 4 * vStep, t1 + t2);
      store<f32>(vj + 8 * vStep, t2 - t1);
      store<f32>(vj + 12 * vStep, t1 - t3);
    }
  }
}

// Element j of a row of d times B, from its two inputs p = d[a], q = d[bb] (see inputTile).
// @ts-ignore: decorator
@inline
function colB(p: v128, q: v128, j: i32): v128 {
  return j == 1 ? f32x4.add(p, q) : f32x4.sub(p, q);
}

// @ts-ignore: decorator
@inline
function colBf(p: f32, q: f32, j: i32): f32 {
  return j == 1 ? p + q : p - q;
}

// The tile's four outputs (y00, y01 / y10, y11; one that falls outside y aliases an earlier one and
// is stored first, so the valid store wins) = clamp(A^T M A + b, lo, hi), M[xi] at m + xi * mStep.
// Rows of A^T M: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (per column), then the same along the row.
function outputTile(y00: usize, y01: usize, y10: usize, y11: usize, m: usize, mStep: usize, b: usize, F: i32, lo: f32, hi: f32): void {
  let f = 0;
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    for (; f + 4 <= F; f += 4) {
      const o = <usize>f << 2;
      const p = m + o;
      const s00 = f32x4.add(f32x4.add(v128.load(p), v128.load(p + 4 * mStep)), v128.load(p + 8 * mStep));
      const s10 = f32x4.sub(f32x4.sub(v128.load(p + 4 * mStep), v128.load(p + 8 * mStep)), v128.load(p + 12 * mStep));
      const s01 = f32x4.add(f32x4.add(v128.load(p + mStep), v128.load(p + 5 * mStep)), v128.load(p + 9 * mStep));
      const s11 = f32x4.sub(f32x4.sub(v128.load(p + 5 * mStep), v128.load(p + 9 * mStep)), v128.load(p + 13 * mStep));
      const s02 = f32x4.add(f32x4.add(v128.load(p + 2 * mStep), v128.load(p + 6 * mStep)), v128.load(p + 10 * mStep));
      const s12 = f32x4.sub(f32x4.sub(v128.load(p + 6 * mStep), v128.load(p + 10 * mStep)), v128.load(p + 14 * mStep));
      const s03 = f32x4.add(f32x4.add(v128.load(p + 3 * mStep), v128.load(p + 7 * mStep)), v128.load(p + 11 * mStep));
      const s13 = f32x4.sub(f32x4.sub(v128.load(p + 7 * mStep), v128.load(p + 11 * mStep)), v128.load(p + 15 * mStep));
      const bv = b != 0 ? v128.load(b + o) : f32x4.splat(0);
      // pmax / pmin: the same values as max / min here (NaN stays NaN; no sum is -0, the GEMM's
      // start from +0 and x - x is +0), one instruction each.
      v128.store(y11 + o, f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.sub(f32x4.sub(s11, s12), s13), bv), vlo), vhi));
      v128.store(y10 + o, f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.add(f32x4.add(s10, s11), s12), bv), vlo), vhi));
      v128.store(y01 + o, f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.sub(f32x4.sub(s01, s02), s03), bv), vlo), vhi));
      v128.store(y00 + o, f32x4.pmin(f32x4.pmax(f32x4.add(f32x4.add(f32x4.add(s00, s01), s02), bv), vlo), vhi));
    }
  }
  for (; f < F; f++) {
    const p = m + (<usize>f << 2);
    const s00 = load<f32>(p) + load<f32>(p + 4 * mStep) + load<f32>(p + 8 * mStep);
    const s10 = load<f32>(p + 4 * mStep) - load<f32>(p + 8 * mStep) - load<f32>(p + 12 * mStep);
    const s01 = load<f32>(p + mStep) + load<f32>(p + 5 * mStep) + load<f32>(p + 9 * mStep);
    const s11 = load<f32>(p + 5 * mStep) - load<f32>(p + 9 * mStep) - load<f32>(p + 13 * mStep);
    const s02 = load<f32>(p + 2 * mStep) + load<f32>(p + 6 * mStep) + load<f32>(p + 10 * mStep);
    const s12 = load<f32>(p + 6 * mStep) - load<f32>(p + 10 * mStep) - load<f32>(p + 14 * mStep);
    const s03 = load<f32>(p + 3 * mStep) + load<f32>(p + 7 * mStep) + load<f32>(p + 11 * mStep);
    const s13 = load<f32>(p + 7 * mStep) - load<f32>(p + 11 * mStep) - load<f32>(p + 15 * mStep);
    const bf: f32 = b != 0 ? load<f32>(b + (<usize>f << 2)) : 0;
    const o = <usize>f << 2;
    store<f32>(y11 + o, min(max(s11 - s12 - s13 + bf, lo), hi));
    store<f32>(y10 + o, min(max(s10 + s11 + s12 + bf, lo), hi));
    store<f32>(y01 + o, min(max(s01 - s02 - s03 + bf, lo), hi));
    store<f32>(y00 + o, min(max(s00 + s01 + s02 + bf, lo), hi));
  }
}
