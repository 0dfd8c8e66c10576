// Direct convolution with a frozen layer's int8 kernel (issue 14): the few-channel first layers
// that float32 runs as conv2d_direct (host/compile/conv-lowering.ts usesDirectConv), where im2col
// + the int8 GEMM copied every patch for a reduction of 9 to 72 products. An inference plan's
// prepare program widens q to f32 once (widen_i8, gemm-i8-packed.ts: exact, K*F floats, a few KB
// for these layers) and this runs conv-direct.ts's 4x8 tile on it, each filter's sum divided by
// its scale before the bias.
//
// Same bits as conv2d_forward_i8 (im2col + gemm_i8f32) for K = KH*KW*C <= 256, one k slice:
// each output is clamp(sum over (kh, kw, c) in order of x * q, from zero, / scale [+ b]).
import { conv2d_direct_4x8 } from './conv-direct';

// y (B, OH, OW, F) = clamp(conv(x (B, H, W, C), qf (KH, KW, C, F)) / scale (F) [+ b (F)], lo, hi);
// qf: q widened to f32; zero: C floats of scratch.
export function conv2d_direct_i8(y: usize, x: usize, qf: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, zero: usize): void {
  conv2d_direct_4x8(y, x, qf, scale, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, zero);
}
