// A depthwise convolution and the 1x1 convolution that alone reads it (a separable convolution:
// mini-Xception, MobileNet) as one op (issue 12): the depthwise output is computed a band of output
// rows at a time into scratch, and the 1x1 GEMM runs on the band while it is still in cache,
// instead of writing the whole depthwise output (3.4 MB at emotion's batch 8) and reading it back.
// The same bits as depthwise_conv2d_forward_clamp then conv2d_forward_packed's pointwise GEMM: each
// depthwise output row is computed by depthwise_forward_rows as the whole-batch call computes it,
// and each GEMM row depends only on its own row of the band (the same k order, bias, clamp).
import { depthwise_forward_rows } from './depthwise';
import { gemm_f32_packed } from './gemm-packed';

// y (B, OH, OW, F) = clamp(z . wp [+ b], lo, hi), z (B, OH, OW, C) = clamp(depthwise(x (B, H, W,
// C), wd (KH, KW, C)) [+ bd], dlo, dhi) (depthwise multiplier 1); wp the (C, F) 1x1 kernel packed by
// gemm_pack_b. band: bandRows * OW * C floats; pack: gemm_f32_packed's scratch for k = C.
export function sepconv_f32(y: usize, x: usize, wd: usize, bd: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, bandRows: i32, band: usize, pack: usize): void {
  const rows = B * OH;
  const step = max(bandRows, 1);
  const rowBytes = <usize>(OW * C) << 2;
  for (let r0 = 0; r0 < rows; r0 += step) {
    const r1 = min(rows, r0 + step);
    // depthwise_forward_rows writes output row r at its y + r * rowBytes: y shifted so that row r0
    // lands at band (wrapping u32 arithmetic; every byte written is inside the band).
    depthwise_forward_rows(band - <usize>r0 * rowBytes, x, wd, bd, B, H, W, C, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, r0, r1);
    gemm_f32_packed(y + (<usize>(r0 * OW * F) << 2), band, wp, b, (r1 - r0) * OW, F, C, C, 1, F, 0, lo, hi, pack);
  }
}
