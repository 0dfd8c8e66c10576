// One column range of a convolution's im2col unfold (conv.ts's im2colChannels layout), for the
// threads' filter-gradient tiles that split a layer by columns (threads-train.ts).
import { copyFloats, zeroFloats } from './conv';

// Columns k0 .. k1-1 only of im2colChannels' cols, as a matrix of their own: cols (rows, k1-k0),
// column k of the unfold in column k-k0. A tile of the filter gradient unfolds its columns into its
// own part of the shared buffer, so no two threads write one row (and no 128-byte line pair), and
// its GEMM packs its rows of cols^T from rows of k1-k0 floats rather than every other line of rows
// of KH*KW*Cg.
export function im2colColumns(cols: usize, x: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32, k0: i32, k1: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  row0: i32, rows: i32): void {
  const rowBytes = <usize>(k1 - k0) << 2;
  let ow = row0 % OW;
  let t = row0 / OW;
  let oh = t % OH;
  let b = t / OH;
  let dst = cols;
  for (let r = 0; r < rows; r++) {
    const ih0 = oh * SH - PT;
    const iw0 = ow * SW - PL;
    for (let tap = k0 / Cg; tap * Cg < k1; tap++) {
      const j0 = max(k0 - tap * Cg, 0), j1 = min(k1 - tap * Cg, Cg);
      const ih = ih0 + (tap / KW) * DH, iw = iw0 + (tap % KW) * DW;
      const d = dst + (<usize>(tap * Cg + j0 - k0) << 2);
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) zeroFloats(d, j1 - j0);
      else copyFloats(d, x + (<usize>(((b * H + ih) * W + iw) * C + c0 + j0) << 2), j1 - j0);
    }
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
