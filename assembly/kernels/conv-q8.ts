// conv2d (one group) with Keras 3's absmax activation quantizer (docs/int8.md "absmax"): the
// convolution as the matrix product Keras quantizes for Dense, each output position's im2col row
// (its kh*kw*c patch, zeros where padded; a 1x1's row is one pixel's channels) quantized on its own,
// then gemm_q8 (gemm-q8.ts). The rows are the same whatever the path below, so the bits are.
import { im2colChannels } from './conv';
import { gemm_q8 } from './gemm-q8';

// y (B, OH, OW, F) = clamp(absmax rows of x (B, H, W, C) . q / (xs * ks) [+ b], lo, hi); q packed
// by gemm_pack_b_q8 as a (KH*KW*C, F) matrix at bp, ks (F) its scales. cols: convCols(chunkRows,
// KH, KW, C) bytes (unused by a 1x1 without padding); scratch: q8ScratchBytes(KH*KW*C).
export function conv2d_q8(y: usize, x: usize, bp: usize, ks: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, scratch: usize, lo: f32, hi: f32): void {
  const N = B * OH * OW;
  if (N <= 0 || F <= 0) return;
  const K = KH * KW * C;
  // A 1x1 without padding reads its rows in place: every position when stride 1 covers the input,
  // else each output row's positions SW*C floats apart.
  if (KH == 1 && KW == 1 && PT == 0 && PL == 0 && (OH - 1) * SH < H && (OW - 1) * SW < W) {
    if (SH == 1 && SW == 1 && OH == H && OW == W) {
      gemm_q8(y, x, bp, ks, b, N, F, C, C, F, lo, hi, scratch);
      return;
    }
    for (let r = 0; r < B * OH; r++) {
      const n = r / OH, ih = (r % OH) * SH;
      const xr = x + (<usize>((n * H + ih) * W * C) << 2);
      gemm_q8(y + (<usize>r * <usize>(OW * F) << 2), xr, bp, ks, b, OW, F, C, SW * C, F, lo, hi, scratch);
    }
    return;
  }
  const chunk = min(max(chunkRows, 1), N);
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = min(chunk, N - r0);
    im2colChannels(cols, x, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    gemm_q8(y + (<usize>r0 * <usize>F << 2), cols, bp, ks, b, rows, F, K, K, F, lo, hi, scratch);
  }
}
