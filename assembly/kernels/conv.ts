// 2-D convolution, NHWC, Keras/TensorFlow semantics. f32; pointers are byte offsets.
//
// Geometry, one convention for this file, assembly/kernels/pool.ts and host/compile/conv-scratch.ts (all i32):
//   x (B, H, W, C) input, y (B, OH, OW, F) output; kernel KH x KW, strides SH, SW, dilations DH, DW.
//   Output (oh, ow), tap (kh, kw) reads input row ih = oh*SH - PT + kh*DH, column iw = ow*SW - PL + kw*DW;
//   rows and columns outside [0, H) x [0, W) read as 0. PT and PL (top, left padding) come from the
//   host (conv2dOutputSize): 'valid' -> 0; 'same' -> floor(total/2), total = max((O-1)*S + (K-1)*D + 1 - I, 0).
//   The bottom and right padding are implied by OH and OW.
//   conv2d kernel w is HWIO (KH, KW, C, F), i.e. a (K, F) row-major matrix with K = KH*KW*C; bias b (F).
//   Depthwise kernel w is (KH, KW, C, M), output channel c*M + m; bias b (C*M).
//   Grouped conv2d (G groups): w is (KH, KW, C/G, F); output channel f sees input channels
//   [g*C/G, (g+1)*C/G) of its group g = f / (F/G). G == 1 is the plain convolution.
//
// conv2d is chunked im2col + GEMM so that its scratch is bounded: the N = B*OH*OW output positions,
// flattened in (b, oh, ow) order, are taken chunkRows (>= 1) at a time; a chunk's patches are unfolded
// into `cols` (chunkRows, K) and multiplied with gemm_f32. Scratch sizes (host/compile/conv-scratch.ts):
//   cols: convColsBytes(chunkRows, KH, KW, C) = 4*chunkRows*K;  pack: conv2dPackBytes(chunkRows, KH, KW, C, F).
// A 1x1 kernel with stride 1 and no padding is one GEMM on x itself; cols is then unused.
//
// Backward kernels take `accumulate` (0 = write, 1 = add) and a 0 pointer for an output that is not
// wanted (a frozen layer skips dw and db, the first layer skips dx). Nothing here allocates.
import { gemm_f32, gemm_i8f32, KC, NC, NR } from './gemm';
import { gemm_f32_packed, gemm_f32_packed_panels, gemm_pack_b, gemm_packed_floats } from './gemm-packed';
import { gemm_i8_either, gemm_i8_packed, widen_i8 } from './gemm-i8-packed';
import { bias_backward, bias_fill, fill_f32, relu_forward } from './elementwise';
import { endTap, firstTap } from './taps';
import { im2colColumns } from './im2col-columns';
import { conv2d_backward_filter_parts, filterPartsSub } from './conv-filter-parts';
import { conv2d_igemm_f32 } from './conv-igemm';
import { canSplit, col2im_split, conv_chunk_split, conv_igemm_split, conv_packed_split, im2col_split } from './threads';
import { conv_filter_split, conv_input_split } from './threads-train';


// @ts-ignore: decorator
@inline
export function copyFloats(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

// @ts-ignore: decorator
@inline
export function zeroFloats(dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const z = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

// dst (n) += src (n).
// @ts-ignore: decorator
@inline
function addFloats(dst: usize, src: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const p = dst + (<usize>i << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(src + (<usize>i << 2))));
    }
  }
  for (; i < n; i++) {
    const p = dst + (<usize>i << 2);
    store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>i << 2)));
  }
}

// A 1x1 kernel, stride 1, no padding: output position n reads exactly input position n.
// @ts-ignore: decorator
@inline
function isPointwise(H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): bool {
  return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 && PL == 0 && OH == H && OW == W;
}

// cols (rows, KH*KW*C) = the patches of output positions row0 .. row0+rows-1 (flattened over
// (B, OH, OW)); column (kh*KW + kw)*C + c holds x[b, ih, iw, c], or 0 outside the input.
export function im2col_f32(cols: usize, x: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  row0: i32, rows: i32): void {
  im2colChannels(cols, x, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows);
}

// im2col_f32 of the Cg channels c0 .. c0+Cg-1 of x (a grouped convolution's group): cols (rows,
// KH*KW*Cg), column (kh*KW + kw)*Cg + j holding x[b, ih, iw, c0 + j].
export function im2colChannels(cols: usize, x: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  row0: i32, rows: i32): void {
  // With a thread pool attached, a large unfold goes to the threads by rows (threads.ts).
  if (ASC_FEATURE_THREADS && im2col_split(cols, x, B, H, W, C, c0, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows)) return;
  const tapRow = KW * Cg;
  const rowBytes = <usize>(KH * tapRow) << 2;
  const runs = DW == 1 && Cg == C; // a tap row's channels are one contiguous run of the input
  let ow = row0 % OW;
  let t = row0 / OW;
  let oh = t % OH;
  let b = t / OH;
  let dst = cols;
  for (let r = 0; r < rows; r++) {
    const ih0 = oh * SH - PT;
    const iw0 = ow * SW - PL;
    const khLo = firstTap(ih0, DH, KH), khHi = endTap(ih0, DH, H, KH, khLo);
    const kwLo = firstTap(iw0, DW, KW), kwHi = endTap(iw0, DW, W, KW, kwLo);
    zeroFloats(dst, khLo * tapRow);
    for (let kh = khLo; kh < khHi; kh++) {
      const d = dst + (<usize>(kh * tapRow) << 2);
      const src = x + (<usize>(((b * H + ih0 + kh * DH) * W + iw0 + kwLo * DW) * C + c0) << 2);
      zeroFloats(d, kwLo * Cg);
      if (runs) {
        copyFloats(d + (<usize>(kwLo * C) << 2), src, (kwHi - kwLo) * C);
      } else {
        for (let kw = kwLo; kw < kwHi; kw++) {
          copyFloats(d + (<usize>(kw * Cg) << 2), src + (<usize>((kw - kwLo) * DW * C) << 2), Cg);
        }
      }
      zeroFloats(d + (<usize>(kwHi * Cg) << 2), (KW - kwHi) * Cg);
    }
    zeroFloats(dst + (<usize>(khHi * tapRow) << 2), (KH - khHi) * tapRow);
    dst += rowBytes;
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        b++;
      }
    }
  }
}

// dx (B, H, W, C) += the adjoint of im2col_f32: every entry of cols (rows, KH*KW*C) is added to the
// input element it was read from (entries for padded positions are dropped). Always adds: dx is
// written by several chunks, so the caller zeroes it first.
export function col2im_f32(dx: usize, cols: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  row0: i32, rows: i32): void {
  col2imChannels(dx, cols, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows);
}

// The adjoint of im2colChannels: into channels c0 .. c0+Cg-1 of dx.
function col2imChannels(dx: usize, cols: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  row0: i32, rows: i32): void {
  // With a thread pool attached, a large scatter goes to the threads by channels (threads.ts).
  if (ASC_FEATURE_THREADS && col2im_split(dx, cols, B, H, W, C, c0, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows)) return;
  col2im_channel_range(dx, cols, B, H, W, C, c0, Cg, 0, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows);
}

// col2imChannels into channels c0+j0 .. c0+j1-1 only: each of those dx elements gets the same
// additions in the same order as in the whole call, so channel ranges split it across threads.
export function col2im_channel_range(dx: usize, cols: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32, j0: i32, j1: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  row0: i32, rows: i32): void {
  const tapRow = KW * Cg;
  const rowBytes = <usize>(KH * tapRow) << 2;
  const runs = DW == 1 && Cg == C && j0 == 0 && j1 == Cg;
  const cn = j1 - j0;
  cols += <usize>j0 << 2;
  c0 += j0;
  let ow = row0 % OW;
  let t = row0 / OW;
  let oh = t % OH;
  let b = t / OH;
  let src = cols;
  for (let r = 0; r < rows; r++) {
    const ih0 = oh * SH - PT;
    const iw0 = ow * SW - PL;
    const khLo = firstTap(ih0, DH, KH), khHi = endTap(ih0, DH, H, KH, khLo);
    const kwLo = firstTap(iw0, DW, KW), kwHi = endTap(iw0, DW, W, KW, kwLo);
    for (let kh = khLo; kh < khHi; kh++) {
      const s = src + (<usize>(kh * tapRow + kwLo * Cg) << 2);
      const d = dx + (<usize>(((b * H + ih0 + kh * DH) * W + iw0 + kwLo * DW) * C + c0) << 2);
      if (runs) {
        addFloats(d, s, (kwHi - kwLo) * C);
      } else {
        for (let kw = 0; kw < kwHi - kwLo; kw++) {
          addFloats(d + (<usize>(kw * DW * C) << 2), s + (<usize>(kw * Cg) << 2), cn);
        }
      }
    }
    src += rowBytes;
    if (++ow == OW) {
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        b++;
      }
    }
  }
}

// y (B, OH, OW, F) = conv(x (B, H, W, C), w (KH, KW, C, F)) [+ b (F) when b != 0].
// Scratch: cols (chunkRows, KH*KW*C) and pack (conv2dPackBytes).
// With relu != 0, max(y, 0) on each chunk while it is still in cache: the planner's fusion of
// (convolution, inference-mode batch norm folded into w and b, ReLU) saves two passes over the output.
// With pool != 0 a 2x2 stride-2 max pooling of each chunk as well: the
// chunk goes to `chunkOut` (chunkRows*F floats) and only the pooled (B, OH/2, OW/2, F) output is
// written to y, so the full-size convolution output never touches memory. Needs OH and OW even,
// chunkRows a multiple of 2*OW, and a kernel that is not pointwise (the planner checks).
export function conv2d_forward_fused(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, relu: i32, pool: i32, chunkOut: usize): void {
  conv2dGroups(y, x, w, b, B, H, W, C, F, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunkRows, cols, pack, relu, pool, chunkOut, 0, 0);
}

// conv2d_forward_fused with a frozen layer's int8 kernel q (KH, KW, C, F) and its per-filter f32
// scales: the GEMM reads q itself (gemm_i8f32), so no f32 copy of the kernel is made.
export function conv2d_forward_i8(y: usize, x: usize, q: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, relu: i32, pool: i32, chunkOut: usize): void {
  conv2dGroups(y, x, q, b, B, H, W, C, F, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunkRows, cols, pack, relu, pool, chunkOut, 0, scale);
}

// conv2d_forward_fused with the kernel packed once (gemm_pack_b of w as a (K, F) matrix,
// assembly/kernels/gemm-packed.ts): y = clamp(conv(x) + b, lo, hi), the bias and the clamp run on
// each GEMM tile in cache instead of in passes over y. Same bits as conv2d_forward_fused (and its
// ReLU). Scratch: cols as conv2d_forward_fused's, pack min(K, KC) * MR floats.
export function conv2d_forward_packed(y: usize, x: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, lo: f32, hi: f32): void {
  const N = B * OH * OW;
  if (N <= 0 || F <= 0) return;
  const K = KH * KW * C;
  if (isPointwise(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    gemm_f32_packed(y, x, wp, b, N, F, C, C, 1, F, 0, lo, hi, pack);
    return;
  }
  const chunk = min(max(chunkRows, 1), N);
  // With a thread pool attached, the whole layer's positions go to the threads, each with its
  // share of cols (threads.ts); else each chunk's GEMM may be split.
  if (ASC_FEATURE_THREADS && conv_packed_split(y, x, wp, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, lo, hi, pack)) return;
  // A strided unpadded 1x1 kernel (a residual shortcut's projection): an output row's inputs are
  // rows of x SW*C floats apart, so each output row is one GEMM on x in place (no im2col copy).
  if (KH == 1 && KW == 1 && PT == 0 && PL == 0 && (OH - 1) * SH < H && (OW - 1) * SW < W) {
    for (let r = 0; r < B * OH; r++) {
      const n = r / OH, ih = (r % OH) * SH;
      const xr = x + (<usize>((n * H + ih) * W * C) << 2);
      gemm_f32_packed(y + (<usize>r * <usize>(OW * F) << 2), xr, wp, b, OW, F, C, SW * C, 1, F, 0, lo, hi, pack);
    }
    return;
  }
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = min(chunk, N - r0);
    im2colChannels(cols, x, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    gemm_f32_packed(y + (<usize>r0 * <usize>F << 2), cols, wp, b, rows, F, K, K, 1, F, 0, lo, hi, pack);
  }
}

// conv2d_forward_packed with a frozen layer's int8 kernel packed once (gemm_pack_b_i8 of q as a
// (K, F) matrix, assembly/kernels/gemm-i8-packed.ts) and its per-filter f32 scales: the same bits
// as conv2d_forward_i8 (and its ReLU). Scratch: cols as conv2d_forward_i8's, pack
// gemmScratch(rows, F, K) for the chunk's rows (N when pointwise).
// Fewest output positions a row for conv2d_forward_i8_packed's strided 1x1 path: gender b8's
// shortcuts (each op alone, minimums of 31 rounds) 0.85x the im2col path at 30 positions (8 -> 16
// filters), 1.00x at 15 (16 -> 32), 1.07x at 8 (32 -> 64).
const STRIDED_MIN_OW = 16;

export function conv2d_forward_i8_packed(y: usize, x: usize, qp: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, lo: f32, hi: f32): void {
  const N = B * OH * OW;
  if (N <= 0 || F <= 0) return;
  const K = KH * KW * C;
  if (isPointwise(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    gemm_i8_packed(y, x, qp, scale, b, N, F, C, C, 1, F, lo, hi, pack);
    return;
  }
  // The GEMMs below run per output row or im2col chunk; a kernel of one block of panels (K <= KC,
  // F <= NC: first layers, resnet18's 7x7 stem, gender's shortcuts) is widened into pack once here
  // instead of once per call (gemm_i8_either widened; the packed band of a after it: pack holds exactly
  // both, gemmScratch). The same sums, so the same bits.
  const once = K <= KC && F <= NC;
  const widened = pack + (<usize>(K * ((F + NR - 1) & ~(NR - 1))) << 2);
  if (once) widen_i8(pack, qp, K * ((F + NR - 1) & ~(NR - 1)));
  // A strided unpadded 1x1 kernel, as conv2d_forward_packed: each output row one GEMM on x in
  // place (rows SW*C floats apart), no im2col copy; the same a rows, so the same bits. Each call
  // widens the panels again (C * F floats against OW * C * F products), so only for rows of at
  // least STRIDED_MIN_OW positions.
  if (KH == 1 && KW == 1 && PT == 0 && PL == 0 && (OH - 1) * SH < H && (OW - 1) * SW < W && OW >= STRIDED_MIN_OW) {
    for (let r = 0; r < B * OH; r++) {
      const n = r / OH, ih = (r % OH) * SH;
      const xr = x + (<usize>((n * H + ih) * W * C) << 2);
      const yr = y + (<usize>r * <usize>(OW * F) << 2);
      gemm_i8_either(once, yr, xr, once ? pack : qp, scale, b, OW, F, C, SW * C, 1, F, lo, hi, once ? widened : pack);
    }
    return;
  }
  const chunk = min(max(chunkRows, 1), N);
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = min(chunk, N - r0);
    im2colChannels(cols, x, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    const yr = y + (<usize>r0 * <usize>F << 2);
    gemm_i8_either(once, yr, cols, once ? pack : qp, scale, b, rows, F, K, K, 1, F, lo, hi, once ? widened : pack);
  }
}

// Grouped convolution (Keras Conv2D groups, ONNX group): G groups, Cg = C/G input and Fg = F/G
// output channels each; w (KH, KW, Cg, F), output channel f reads input channels of group f / Fg.
// y (B, OH, OW, F) = conv(x) [+ b (F) when b != 0], or with accumulate != 0 y += conv(x) (b must
// be 0 then). Per chunk and group, an im2col of that group's channels (cols (chunkRows, KH*KW*Cg))
// and a GEMM writing its filters' columns of y in place: no copies of the groups' channels.
// Scratch: convColsBytes(chunkRows, KH, KW, C/G), conv2dPackBytes(chunkRows, KH, KW, C/G, F/G).
export function conv2d_grouped_forward(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, accumulate: i32): void {
  conv2dGroups(y, x, w, accumulate ? 0 : b, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunkRows, cols, pack, 0, 0, 0, accumulate, 0);
}

function conv2dGroups(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, relu: i32, pool: i32, chunkOut: usize, accumulate: i32,
  scale: usize): void {
  // scale != 0: w is int8 (G == 1 only, so no group offsets into it).
  const N = B * OH * OW;
  if (N <= 0 || F <= 0 || G <= 0) return;
  const Cg = C / G, Fg = F / G;
  const Kg = KH * KW * Cg;
  const withBias = b != 0 ? 1 : 0;
  const acc = withBias | accumulate;
  if (isPointwise(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    if (withBias) bias_fill(y, b, N, F);
    for (let g = 0; g < G; g++) {
      if (scale != 0) gemm_i8f32(y, x, w, scale, N, F, C, C, 1, F, F, acc, pack);
      else gemm_f32(y + (<usize>(g * Fg) << 2), x + (<usize>(g * Cg) << 2), w + (<usize>(g * Fg) << 2), N, Fg, Cg, C, 1, F, 1, F, acc, pack);
    }
    if (relu) relu_forward(y, y, N * F);
    return;
  }
  // One group, no pooling: packed straight from x, no im2col (conv-igemm.ts; the same bits). The
  // threads build splits it by images, or else keeps the chunked GEMMs, which it splits.
  if (scale == 0 && G == 1 && !pool && !accumulate && N >= 4) {
    if (!ASC_FEATURE_THREADS) {
      conv2d_igemm_f32(y, x, w, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, relu, pack);
      return;
    }
    if (conv_igemm_split(y, x, w, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, relu, pack)) return;
  }
  const chunk = min(max(chunkRows, 1), N);
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = min(chunk, N - r0);
    // With a thread pool attached, the chunk is cut into tiles of positions (threads.ts); an int8
    // kernel's chunks run on this thread.
    if (ASC_FEATURE_THREADS && scale == 0 && conv_chunk_split(y, x, w, b, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, cols, relu, pool, chunkOut, accumulate, r0, rows, pack)) continue;
    conv2d_chunk(y, x, w, b, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, cols, pack, relu, pool, chunkOut, accumulate, r0, rows, scale);
  }
}

// Output positions r0 .. r0+rows-1 of conv2dGroups (not pointwise): bias, per group im2col into
// cols (rows, Kg) and GEMM, then ReLU and 2x2 pooling (r0 and rows multiples of 2*OW). With
// pooling the rows go to chunkOut (rows, F) first. A thread's tile of a chunk is a call with its
// own r0, rows and parts of cols and chunkOut (threads.ts). scale != 0: w is int8 (G == 1).
export function conv2d_chunk(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, cols: usize, pack: usize, relu: i32, pool: i32, chunkOut: usize, accumulate: i32,
  r0: i32, rows: i32, scale: usize): void {
  const Cg = C / G, Fg = F / G;
  const Kg = KH * KW * Cg;
  const withBias = b != 0 ? 1 : 0;
  const acc = withBias | accumulate;
  const yc = pool ? chunkOut : y + (<usize>r0 * <usize>F << 2);
  // The bias goes in first and the GEMM adds onto it, while this chunk of y is in cache.
  if (withBias) bias_fill(yc, b, rows, F);
  // One group at a time: its patches (rows, Kg) stay in cache for its GEMM.
  for (let g = 0; g < G; g++) {
    im2colChannels(cols, x, B, H, W, C, g * Cg, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    if (scale != 0) gemm_i8f32(yc, cols, w, scale, rows, F, Kg, Kg, 1, F, F, acc, pack);
    else gemm_f32(yc + (<usize>(g * Fg) << 2), cols, w + (<usize>(g * Fg) << 2), rows, Fg, Kg, Kg, 1, F, 1, F, acc, pack);
  }
  if (relu) relu_forward(yc, yc, rows * F);
  if (pool) max_pool_2x2_rows(y + (<usize>((r0 / (2 * OW)) * (OW >> 1) * F) << 2), yc, rows / (2 * OW), OW, F);
}

// out (pairs, OW/2, F) = 2x2 stride-2 max over `pairs` pairs of output rows of in (2*pairs, OW, F).
function max_pool_2x2_rows(out: usize, src: usize, pairs: i32, OW: i32, F: i32): void {
  const rowBytes = <usize>(OW * F) << 2;
  const pixel = <usize>F << 2;
  for (let q = 0; q < pairs; q++) {
    const a = src + <usize>(2 * q) * rowBytes;
    const c = a + rowBytes;
    const o = out + <usize>(q * (OW >> 1)) * pixel;
    for (let pw = 0; pw < OW >> 1; pw++) {
      const a0 = a + <usize>(2 * pw) * pixel;
      const c0 = c + <usize>(2 * pw) * pixel;
      const op = o + <usize>pw * pixel;
      let f = 0;
      if (ASC_FEATURE_SIMD) {
        for (; f + 4 <= F; f += 4) {
          const fo = <usize>f << 2;
          const m0 = f32x4.max(v128.load(a0 + fo), v128.load(a0 + pixel + fo));
          const m1 = f32x4.max(v128.load(c0 + fo), v128.load(c0 + pixel + fo));
          v128.store(op + fo, f32x4.max(m0, m1));
        }
      }
      for (; f < F; f++) {
        const fo = <usize>f << 2;
        const m0 = max(load<f32>(a0 + fo), load<f32>(a0 + pixel + fo));
        const m1 = max(load<f32>(c0 + fo), load<f32>(c0 + pixel + fo));
        store<f32>(op + fo, max(m0, m1));
      }
    }
  }
}

// dw (KH, KW, C, F) [+]= im2col(x)^T . dy;  db (F) [+]= column sums of dy (B*OH*OW, F).
// Either may be 0 (not wanted). Scratch as conv2d_forward_fused.
export function conv2d_backward_filter(dw: usize, db: usize, x: usize, dy: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, accumulate: i32): void {
  conv2d_grouped_backward_filter(dw, db, x, dy, B, H, W, C, F, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunkRows, cols, pack, accumulate);
}

// The grouped convolution's dw (KH, KW, C/G, F) [+]= per group, im2col(x)^T . dy; db as above.
export function conv2d_grouped_backward_filter(dw: usize, db: usize, x: usize, dy: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, accumulate: i32): void {
  const N = B * OH * OW;
  // Chunked even when pointwise: the GEMM's depth is the chunk, which bounds its pack scratch.
  const chunk = min(max(chunkRows, 1), max(N, 1));
  // Few rows of dw (a first layer): sums over fixed ranges of positions (conv-filter-parts.ts).
  const sub = dw != 0 && F > 0 && G > 0 ? filterPartsSub(N, KH * KW * (C / G), F, G, chunk, isPointwise(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) : 0;
  if (sub > 0) {
    if (db != 0) bias_backward(db, dy, N, F, accumulate);
    conv2d_backward_filter_parts(dw, x, dy, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, sub, cols, pack, accumulate);
    return;
  }
  // With a thread pool attached, dw's rows go to the threads, each over every chunk, and db's
  // columns with them (threads-train.ts).
  if (ASC_FEATURE_THREADS && dw != 0 && F > 0 && G > 0 && N > 0 &&
    conv_filter_split(dw, db, x, dy, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, pack, accumulate)) return;
  if (db != 0) bias_backward(db, dy, N, F, accumulate);
  if (dw == 0 || F <= 0 || G <= 0) return;
  const Kg = KH * KW * (C / G);
  if (N <= 0) {
    if (!accumulate) fill_f32(dw, 0, Kg * F);
    return;
  }
  conv2d_backward_filter_rows(dw, x, dy, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, pack, accumulate, 0, Kg);
}

// Rows k0 .. k1-1 of every group's dw block (Kg, F/G) of conv2d_grouped_backward_filter, over
// every chunk of `chunk` positions: only columns k0 .. k1-1 of the unfold are made and read, as a
// (rows, k1-k0) matrix at offset chunk*k0 of cols (im2colColumns), so tiles with disjoint row ranges
// share cols without sharing a row of it, and each dw element gets the sums of the whole call.
export function conv2d_backward_filter_rows(dw: usize, x: usize, dy: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunk: i32, cols: usize, pack: usize, accumulate: i32, k0: i32, k1: i32): void {
  const N = B * OH * OW;
  const Cg = C / G, Fg = F / G;
  const Kg = KH * KW * Cg;
  const pointwise = isPointwise(H, W, KH, KW, SH, SW, PT, PL, OH, OW);
  const whole = k0 == 0 && k1 == Kg;
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = min(chunk, N - r0);
    const dyc = dy + (<usize>r0 * <usize>F << 2);
    const acc = r0 > 0 ? 1 : accumulate;
    for (let g = 0; g < G; g++) {
      const dwg = dw + (<usize>(k0 * F + g * Fg) << 2);
      const dyg = dyc + (<usize>(g * Fg) << 2);
      if (pointwise) {
        gemm_f32(dwg, x + ((<usize>r0 * <usize>C + <usize>(g * Cg + k0)) << 2), dyg, k1 - k0, Fg, rows, 1, C, F, 1, F, acc, pack);
      } else {
        // A tile's columns (rows, k1-k0) sit at offset chunk*k0 of the buffer: its own part
        // whatever chunk the other tiles are on (a last, shorter chunk included).
        const part = whole ? cols : cols + (<usize>chunk * <usize>k0 << 2);
        if (whole) im2colChannels(cols, x, B, H, W, C, g * Cg, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
        else im2colColumns(part, x, B, H, W, C, g * Cg, Cg, k0, k1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
        gemm_f32(dwg, part, dyg, k1 - k0, Fg, rows, 1, k1 - k0, F, 1, F, acc, pack);
      }
    }
  }
}

// dx (B, H, W, C) [+]= col2im(dy (B*OH*OW, F) . w^T), w (KH*KW*C, F). dx == 0 does nothing.
// Scratch as conv2d_forward_fused.
export function conv2d_backward_input(dx: usize, dy: usize, w: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, accumulate: i32): void {
  conv2d_grouped_backward_input(dx, dy, w, B, H, W, C, F, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunkRows, cols, pack, accumulate);
}

// The grouped convolution's dx [+]= per group, col2im(dy[:, group] . w[:, group]^T).
export function conv2d_grouped_backward_input(dx: usize, dy: usize, w: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, pack: usize, accumulate: i32): void {
  if (dx == 0 || G <= 0) return;
  const N = B * OH * OW;
  const Cg = C / G, Fg = F / G;
  if (isPointwise(H, W, KH, KW, SH, SW, PT, PL, OH, OW)) {
    for (let g = 0; g < G; g++) {
      gemm_f32(dx + (<usize>(g * Cg) << 2), dy + (<usize>(g * Fg) << 2), w + (<usize>(g * Fg) << 2), N, Cg, Fg, F, 1, 1, F, C, accumulate, pack);
    }
    return;
  }
  let chunk = min(max(chunkRows, 1), max(N, 1));
  // One group: w^T packed once into GEMM panels at the head of cols (gemm_pack_b), every chunk's
  // GEMM reading them (gemm_f32_packed: the same sums in the same order as gemm_f32, so the same
  // bits), the chunks in the rest. Packed per chunk, w^T cost the bench CNN's second layer 56
  // packs of 73.7 KB a step on one thread, and twice as many on two (each thread's chunks half
  // as long): 1.78x on 2 threads, 1.9x packed once (docs/threads.md).
  let bp: usize = 0;
  if (G == 1) {
    const Kg = KH * KW * C;
    // Floats of cols, and of the panels on whole 64-byte lines.
    const capacity = chunk * Kg;
    const packed = (gemm_packed_floats(Kg, F) + 15) & ~15;
    const rest = packed < capacity ? (capacity - packed) / Kg : 0;
    if (rest >= min(PACKED_INPUT_CHUNK_MIN, N)) {
      bp = cols;
      gemm_pack_b(bp, w, Kg, F, 1, F);
      cols += <usize>packed << 2;
      chunk = min(rest, N);
    }
  }
  // With a thread pool attached, whole images go to the threads, each with its share of cols (threads-train.ts).
  if (ASC_FEATURE_THREADS && conv_input_split(dx, dy, w, bp, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, pack, accumulate)) return;
  // Not split by images (one image) with a pool attached: each chunk's gemm_f32 is split instead.
  if (ASC_FEATURE_THREADS && bp != 0 && canSplit()) {
    chunk = min(max(chunkRows, 1), max(N, 1));
    cols = bp;
    bp = 0;
  }
  conv2d_backward_input_images(dx, dy, w, bp, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, pack, accumulate, 0, B);
}

// The fewest positions a chunk of the input gradient may keep beside the packed w^T.
const PACKED_INPUT_CHUNK_MIN = 32;

// conv2d_grouped_backward_input (not pointwise) for images b0 .. b1-1, `chunk` positions at a
// time: an image's patches never reach another image, and each dx element gets its additions in
// the order of its positions whatever the chunks, so image ranges split it across threads.
// bp: w^T in GEMM panels (G == 1), or 0 to pack it in every chunk's GEMM.
export function conv2d_backward_input_images(dx: usize, dy: usize, w: usize, bp: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunk: i32, cols: usize, pack: usize, accumulate: i32, b0: i32, b1: i32): void {
  const Cg = C / G, Fg = F / G;
  const Kg = KH * KW * Cg;
  const image = H * W * C;
  if (!accumulate) fill_f32(dx + (<usize>(b0 * image) << 2), 0, (b1 - b0) * image);
  const end = b1 * OH * OW;
  for (let r0 = b0 * OH * OW; r0 < end; r0 += chunk) {
    const rows = min(chunk, end - r0);
    const dyc = dy + (<usize>r0 * <usize>F << 2);
    if (bp) {
      gemm_f32_packed_panels(cols, dyc, bp, 0, rows, Kg, F, F, 1, Kg, 0, <f32>-Infinity, <f32>Infinity, pack);
      col2imChannels(dx, cols, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
      continue;
    }
    for (let g = 0; g < G; g++) {
      gemm_f32(cols, dyc + (<usize>(g * Fg) << 2), w + (<usize>(g * Fg) << 2), rows, Kg, Fg, F, 1, 1, F, Kg, 0, pack);
      col2imChannels(dx, cols, B, H, W, C, g * Cg, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    }
  }
}
