// Implicit-GEMM convolution: conv2d as the GEMM y (N, F) = patches (N, K) . w (K, F) without
// the patches matrix. NHWC, geometry as assembly/kernels/conv.ts; f32; pointers are byte offsets.
//   y (B, OH, OW, F) = [relu](conv(x (B, H, W, C), w (KH, KW, C, F)) [+ b (F)]),
//   N = B*OH*OW output positions in (b, oh, ow) order, K = KH*KW*C, k = (kh*KW + kw)*C + c.
//
// Why: the chunked im2col path (conv.ts) copies every patch into `cols` and then packs it again
// into the GEMM's MR-row panels, and since gemm_f32 is called once per chunk it packs all of w
// again for every chunk (ResNet's 3x3 512->512 convolution at 7x7: 49 rows in chunks of 12, so
// 9.4 MB of weights packed five times). Here, as in gemm_f32 (BLIS order), each NC-wide column
// block and KC-deep slice of w is packed once per row block (MC_FLOATS of y; one block for most
// layers past the stem), and each MR-row band of the patches is
// packed straight from x into the panel the microkernel reads: a tap's run of channels is
// contiguous in x, so four output positions' runs are transposed 4x4 at a time, and taps in the
// padding are written as zeros (like XNNPACK's indirection buffer pointing at a zero row).
//
// The same bits as im2col + gemm_f32: the same column blocks, the same even k slices, the same
// microkernel (gemm_f32_4x8) on the same packed values; the bias is written into y before the
// first slice adds onto it and the ReLU runs after the last, as in conv2d_forward_fused.
// Scratch at `pack`: gemmScratch(N, F, K) bytes (host/compile/gemm-scratch.ts), which the
// forward conv2dPackBytes covers whenever N >= 4. Nothing else is written outside y.
import { gemm_f32_4x8, KC, MR, NC, NR, packB } from './gemm';
import { bias_fill, relu_forward } from './elementwise';

// Output rows per block: a block's slab of y (mc x F floats, at most MC_FLOATS: 128 KB) stays in cache
// while every k slice adds onto it; w is packed once per block, so blocks are at least MC_MIN rows.
const MC_FLOATS = 32768;
const MC_MIN = 64;

export function conv2d_igemm_f32(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, relu: i32, pack: usize): void {
  const N = B * OH * OW;
  const K = KH * KW * C;
  if (N <= 0 || F <= 0 || K <= 0) return;
  const mc = max(MC_MIN, (MC_FLOATS / F) & ~(MR - 1));
  for (let i0 = 0; i0 < N; i0 += mc) {
    const iEnd = min(N, i0 + mc);
    convBlock(y, x, w, b, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, relu, pack, i0, iEnd);
  }
}

// Rows i0 .. iEnd-1 of y: every column block and k slice of w packed once for them.
function convBlock(y: usize, x: usize, w: usize, b: usize, H: i32, W: i32, C: i32, F: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  relu: i32, pack: usize, i0: i32, iEnd: i32): void {
  const K = KH * KW * C;
  const kcMax = min(K, KC);
  const ncMax = min(F, NC);
  const packA = pack + (<usize>(kcMax * ((ncMax + NR - 1) & ~(NR - 1))) << 2);
  const ldcBytes = <usize>F << 2;
  const kcStep = (K + (K + KC - 1) / KC - 1) / ((K + KC - 1) / KC);
  const withBias = b != 0 ? 1 : 0;
  // The bias goes in first and every slice adds onto it; the ReLU runs once the block is done,
  // each one call over the block's rows (contiguous, in cache), as conv2d_forward_fused does per chunk.
  const yBlock = y + (<usize>i0 * <usize>F << 2);
  if (withBias) bias_fill(yBlock, b, iEnd - i0, F);
  for (let jc = 0; jc < F; jc += NC) {
    const nc = min(NC, F - jc);
    for (let pc = 0; pc < K; pc += kcStep) {
      const kc = min(kcStep, K - pc);
      const acc = pc > 0 ? 1 : withBias;
      packB(pack, w + (<usize>(pc * F + jc) << 2), kc, nc, F, 1);
      // Position i0 as (image, output row, output column), then stepped MR at a time.
      let ow = i0 % OW, oh = (i0 / OW) % OH, n = i0 / (OW * OH);
      for (let ic = i0; ic < iEnd; ic += MR) {
        const mr = min(MR, iEnd - ic);
        packPatches(packA, x, H, W, C, KW, SH, SW, DH, DW, PT, PL, OH, OW, n, oh, ow, mr, pc, kc);
        gemm_f32_4x8(y + (<usize>(ic * F + jc) << 2), ldcBytes, packA, pack, kc, mr, nc, acc, 0);
        ow += MR;
        while (ow >= OW) {
          ow -= OW;
          if (++oh == OH) { oh = 0; n++; }
        }
      }
    }
  }
  if (relu) relu_forward(yBlock, yBlock, (iEnd - i0) * F);
}

// dst (kc, MR): dst[p*MR + i] = patch value k = k0 + p of output position i of the band whose
// first position is image n, output row oh, column ow; positions past mr repeat the last one
// (the microkernel's aliased rows). No divisions per band: positions step along (n, oh, ow).
function packPatches(dst: usize, x: usize, H: i32, W: i32, C: i32, KW: i32, SH: i32, SW: i32,
  DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, n: i32, oh: i32, ow: i32, mr: i32, k0: i32, kc: i32): void {
  // Position i's top-left input row and column, and its float offset in x (may point before x).
  const ih0 = oh * SH - PT, iw0 = ow * SW - PL;
  const o0 = ((n * H + ih0) * W + iw0) * C;
  if (mr > 1 && ++ow == OW) { ow = 0; if (++oh == OH) { oh = 0; n++; } }
  const ih1 = oh * SH - PT, iw1 = ow * SW - PL;
  const o1 = ((n * H + ih1) * W + iw1) * C;
  if (mr > 2 && ++ow == OW) { ow = 0; if (++oh == OH) { oh = 0; n++; } }
  const ih2 = oh * SH - PT, iw2 = ow * SW - PL;
  const o2 = ((n * H + ih2) * W + iw2) * C;
  if (mr > 3 && ++ow == OW) { ow = 0; if (++oh == OH) { oh = 0; n++; } }
  const ih3 = oh * SH - PT, iw3 = ow * SW - PL;
  const o3 = ((n * H + ih3) * W + iw3) * C;
  // With DW == 1 the rest of a kernel row is one contiguous run of x when every position has
  // all of it inside the image: one run instead of KW - kw (a 3-channel stem's runs are 3 floats).
  const iwMin = min(min(iw0, iw1), min(iw2, iw3)), iwMax = max(max(iw0, iw1), max(iw2, iw3));
  const kEnd = k0 + kc;
  const tap = k0 / C;
  let c = k0 - tap * C;
  let kh = tap / KW, kw = tap - kh * KW;
  let d = dst;
  for (let k = k0; k < kEnd; ) {
    const dy = kh * DH, dx = kw * DW;
    const rowRun = DW == 1 && iwMin + dx >= 0 && iwMax + KW - 1 < W;
    const run = min(rowRun ? (KW - kw) * C - c : C - c, kEnd - k);
    const tapOff = (dy * W + dx) * C + c;
    // A position whose tap falls in the padding reads as 0 (p = 0 marks it; x is never at 0).
    const p0 = <u32>(ih0 + dy) < <u32>H && <u32>(iw0 + dx) < <u32>W ? x + (<usize>(o0 + tapOff) << 2) : 0;
    const p1 = <u32>(ih1 + dy) < <u32>H && <u32>(iw1 + dx) < <u32>W ? x + (<usize>(o1 + tapOff) << 2) : 0;
    const p2 = <u32>(ih2 + dy) < <u32>H && <u32>(iw2 + dx) < <u32>W ? x + (<usize>(o2 + tapOff) << 2) : 0;
    const p3 = <u32>(ih3 + dy) < <u32>H && <u32>(iw3 + dx) < <u32>W ? x + (<usize>(o3 + tapOff) << 2) : 0;
    packRun(d, p0, p1, p2, p3, run);
    d += <usize>run << 4;
    k += run;
    // A run ends at the end of its tap or kernel row, or at kEnd (the loop ends then).
    c = 0;
    if (rowRun || ++kw == KW) {
      kw = 0;
      kh++;
    }
  }
}

// d (run, 4) = the transpose of four runs of `run` floats at p0..p3 (0: a run of zeros).
// @ts-ignore: decorator
@inline
function packRun(d: usize, p0: usize, p1: usize, p2: usize, p3: usize, run: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD && p0 != 0 && p1 != 0 && p2 != 0 && p3 != 0) {
    for (; j + 4 <= run; j += 4) {
      const o = <usize>j << 2;
      const r0 = v128.load(p0 + o), r1 = v128.load(p1 + o), r2 = v128.load(p2 + o), r3 = v128.load(p3 + o);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
      const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const q = d + (<usize>j << 4);
      v128.store(q, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
      v128.store(q, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 16);
      v128.store(q, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 32);
      v128.store(q, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 48);
    }
  }
  for (; j < run; j++) {
    const o = <usize>j << 2;
    const q = d + (<usize>j << 4);
    store<f32>(q, p0 != 0 ? load<f32>(p0 + o) : 0);
    store<f32>(q, p1 != 0 ? load<f32>(p1 + o) : 0, 4);
    store<f32>(q, p2 != 0 ? load<f32>(p2 + o) : 0, 8);
    store<f32>(q, p3 != 0 ? load<f32>(p3 + o) : 0, 12);
  }
}
