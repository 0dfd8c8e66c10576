// A linear convolution read only by a global average pooling, as one op (issue 12: the head of
// mini-Xception, 3x3 256 -> 7 at 8x8, then the mean over the 64 positions). By linearity the mean
// over the P = OH*OW output positions of conv(x) + b is b + (1/P) sum over taps t and channels c of
// w[t, c, :] * S[t, c], where S[t, c] sums x[., ., c] over the input positions tap t reads. So the
// plan forms S (KH*KW*C per sample, from per-row column sums) and one (B, K) . (K, F) product on the
// kernel packed once, instead of the convolution's P*K*F multiply-adds and a pass over its output.
//
// Summation order (not the convolution's; the error against f64 is bounded in
// test/conv-gap.test.ts): for each input row ih, Q[kw, c] = the sum from zero over the output
// columns ow (ascending) whose tap kw reads inside the row; then S[kh, kw, c] += Q[kw, c] for each kh
// that an output row reads ih with (rows ascending, S from zero); y = (S . w) / P + b, the product
// by gemm_f32_packed (conv_gap_i8: gemm_i8_packed on a frozen int8 kernel). Channels run four
// lanes at a time with a scalar tail in the same order per channel, so the SIMD and scalar builds
// give the same bits; a thread split of the product (by rows or column blocks) does not change
// them either.
import { gemm_f32_packed } from './gemm-packed';
import { gemm_i8_packed } from './gemm-i8-packed';
import { zeroFloats } from './conv';
import { copy_f32 } from './elementwise';

// Floats of conv_gap_f32's scratch before the packing buffer: S (B, KH*KW*C), then Q (KW*C).
export function conv_gap_scratch_floats(B: i32, C: i32, KH: i32, KW: i32): i32 {
  return (B * KH + 1) * KW * C;
}

// y (B, F) = mean over (OH, OW) of conv(x (B, H, W, C), w (KH, KW, C, F)) [+ b (F) when b != 0],
// w packed by gemm_pack_b as a (KH*KW*C, F) matrix at wp. Geometry as conv2d_forward_packed's
// (assembly/kernels/conv.ts). scratch: conv_gap_scratch_floats floats; pack: the packed GEMM's
// scratch for k = KH*KW*C.
export function conv_gap_f32(y: usize, x: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, scratch: usize, pack: usize): void {
  if (B <= 0 || F <= 0) return;
  const K = KH * KW * C;
  tapSums(scratch, x, B, H, W, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW);
  gemm_f32_packed(y, scratch, wp, 0, B, F, K, K, 1, F, 0, <f32>-Infinity, <f32>Infinity, pack);
  meanAndBias(y, b, B, F, <f32>(OH * OW));
}

// conv_gap_f32 with a frozen layer's int8 kernel (issue 14, docs/int8.md): q packed by
// gemm_pack_b_i8 at qp, its per-filter scales at scale; y = ((S . q) / scale) / P + b, the product
// by gemm_i8_packed (each k slice's sums divided by the scale, as the int8 convolution's are).
// pack: gemm_i8_packed's scratch, gemmScratch(B, F, KH*KW*C) bytes.
export function conv_gap_i8(y: usize, x: usize, qp: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, scratch: usize, pack: usize): void {
  if (B <= 0 || F <= 0) return;
  const K = KH * KW * C;
  tapSums(scratch, x, B, H, W, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW);
  gemm_i8_packed(y, scratch, qp, scale, 0, B, F, K, K, 1, F, <f32>-Infinity, <f32>Infinity, pack);
  meanAndBias(y, b, B, F, <f32>(OH * OW));
}

// S (B, KH*KW*C) at scratch, Q (KW*C) after it: the tap sums of x (the order above).
function tapSums(scratch: usize, x: usize, B: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32): void {
  const K = KH * KW * C;
  const tapBytes = <usize>C << 2;
  const q = scratch + (<usize>(B * K) << 2);
  for (let n = 0; n < B; n++) {
    const s = scratch + (<usize>(n * K) << 2);
    zeroFloats(s, K);
    for (let ih = 0; ih < H; ih++) {
      const row = x + (<usize>((n * H + ih) * W) << 2) * <usize>C;
      let summed = false;
      for (let kh = 0; kh < KH; kh++) {
        // Output row oh reads ih with tap kh when oh*SH = ih + PT - kh*DH.
        const t = ih + PT - kh * DH;
        if (t < 0 || t % SH != 0 || t / SH >= OH) continue;
        if (!summed) {
          columnSums(q, row, W, C, KW, SW, DW, PL, OW);
          summed = true;
        }
        copy_f32(s + <usize>(kh * KW) * tapBytes, q, KW * C, 1);
      }
    }
  }
}

// q (KW, C) = for each tap kw, the sum over output columns ow of the input pixel it reads in `row`
// (W pixels of C channels), from zero in ascending ow; columns reading padding are left out.
function columnSums(q: usize, row: usize, W: i32, C: i32, KW: i32, SW: i32, DW: i32, PL: i32, OW: i32): void {
  const tapBytes = <usize>C << 2;
  for (let kw = 0; kw < KW; kw++) {
    const qk = q + <usize>kw * tapBytes;
    zeroFloats(qk, C);
    // iw = ow*SW + kw*DW - PL inside [0, W).
    const off = PL - kw * DW;
    const owLo = off <= 0 ? 0 : (off + SW - 1) / SW;
    const lim = W - 1 + off;
    const owHi = lim < 0 ? 0 : min(OW, lim / SW + 1);
    for (let ow = owLo; ow < owHi; ow++) copy_f32(qk, row + <usize>(ow * SW - off) * tapBytes, C, 1);
  }
}

// y (B, F) = y / P + b (b == 0: none).
function meanAndBias(y: usize, b: usize, B: i32, F: i32, P: f32): void {
  for (let n = 0; n < B; n++) {
    const yr = y + (<usize>(n * F) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vp = f32x4.splat(P);
      for (; j + 4 <= F; j += 4) {
        const o = <usize>j << 2;
        let v = f32x4.div(v128.load(yr + o), vp);
        if (b != 0) v = f32x4.add(v, v128.load(b + o));
        v128.store(yr + o, v);
      }
    }
    for (; j < F; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(yr + o) / P;
      if (b != 0) v += load<f32>(b + o);
      store<f32>(yr + o, v);
    }
  }
}
