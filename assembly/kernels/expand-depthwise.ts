// A 1x1 expansion convolution and the depthwise convolution that alone reads it (MobileNetV2's
// inverted residual: expand, ReLU6, 3x3 depthwise, ReLU6) as one op in an inference plan: the
// expanded rows are computed a band at a time into scratch, and the depthwise rows that need them
// run while they are still in cache, instead of writing the whole expanded tensor and reading it
// back (mobilenet_v2's first block expands 112x112x16 to 96 channels: 4.8 MB written, then read,
// out of cache; its depthwise ran no faster on 2 threads than on 1).
// The same bits as conv2d_forward_packed's pointwise GEMM then depthwise_conv2d_forward_clamp: each
// expanded row is a GEMM row computed as the whole call computes it (a row's sums depend on that
// row alone; at least MR rows a call, the plan asks W >= MR), and each depthwise output row is
// computed by depthwise_forward_rows as the whole call computes it.
import { depthwise_forward_rows } from './depthwise';
import { gemm_f32_packed } from './gemm-packed';
import { arg, argf, argp, canSplit, runJob, setArg, setArgf, setArgp, splitThreads, tileStart, tilesFor, TILE_MIN_WORK } from './threads';

// The thread job (threads.ts runs expandDepthwiseTile); counted at threads.ts's TRAIN_MORE_JOBS.
export const JOB_EXPAND_DEPTHWISE: i32 = 45;

// A band's header: the image and the expanded rows [lo, hi) its rows hold (image -1: none).
const HEADER_BYTES: usize = 16;

// y (B, OH, OW, E) = clamp(depthwise(z, wd (KH, KW, E)) [+ bd], dlo, dhi), z (B, H, W, E) =
// clamp(x (B, H, W, C) . wp [+ be], elo, ehi): wp the (C, E) 1x1 kernel packed by gemm_pack_b;
// the depthwise multiplier 1, dilation 1. band: bandBytes of scratch, a share of it per thread,
// each a header and whole expanded rows (W * E floats each); pack: gemm_f32_packed's scratch for
// k = C (the driver's; a worker packs in its own GEMM scratch).
export function expand_depthwise_f32(y: usize, x: usize, wp: usize, be: usize, wd: usize, bd: usize,
  B: i32, H: i32, W: i32, C: i32, E: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  elo: f32, ehi: f32, dlo: f32, dhi: f32, bandBytes: i32, band: usize, pack: usize): void {
  if (B <= 0 || OH <= 0 || OW <= 0) return;
  if (ASC_FEATURE_THREADS && expandDepthwiseSplit(y, x, wp, be, wd, bd, B, H, W, C, E, KH, KW, SH, SW, PT, PL, OH, OW, elo, ehi, dlo, dhi, bandBytes, band, pack)) return;
  store<i32>(band, -1);
  // The plan's band holds at least a header and KH rows (host/compile/expand-depthwise.ts).
  const step = max(1, bandStep(bandBytes, W, E, KH, SH));
  expandDepthwiseRows(false, y, x, wp, be, wd, bd, B, H, W, C, E, KH, KW, SH, SW, PT, PL, OH, OW, elo, ehi, dlo, dhi, step, 0, B * OH, band, pack);
}

// Output rows a band computes at once: its expanded rows ((step - 1) * SH + KH of them) fit
// `bytes` after the header (at least one output row: the plan reserves KH rows a thread).
// @ts-ignore: decorator
@inline
function bandStep(bytes: i32, W: i32, E: i32, KH: i32, SH: i32): i32 {
  const rows = (bytes - <i32>HEADER_BYTES) / (W * E * 4);
  return rows < KH ? 0 : (rows - KH) / SH + 1;
}

// Output rows row0 .. row1-1 (row = n*OH + oh), at most `step` of one image a band, from the
// last (`down`: a worker, claiming tiles from the back) or the first. Expanded rows the band
// already holds from the band before (the rows two windows share) move instead of being computed
// again, so a thread's consecutive tiles compute each expanded row once.
function expandDepthwiseRows(down: bool, y: usize, x: usize, wp: usize, be: usize, wd: usize, bd: usize,
  B: i32, H: i32, W: i32, C: i32, E: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  elo: f32, ehi: f32, dlo: f32, dhi: f32, step: i32, row0: i32, row1: i32, band: usize, pack: usize): void {
  const rows = band + HEADER_BYTES;
  const rowFloats = W * E;
  const rowBytes = <usize>rowFloats << 2;
  let r = down ? row1 : row0;
  while (down ? r > row0 : r < row1) {
    // This band's output rows oh0 .. oh1-1 of image n.
    const n = (down ? r - 1 : r) / OH;
    const first = down ? max(row0, max(n * OH, r - step)) : r;
    const end = down ? r : min(row1, min((n + 1) * OH, r + step));
    r = down ? first : end;
    const oh0 = first - n * OH, oh1 = end - n * OH;
    // The expanded rows its windows read, [a, b) (inside the image).
    const a = max(0, oh0 * SH - PT), b = min(H, (oh1 - 1) * SH - PT + KH);
    let c0 = b, c1 = b; // rows to compute besides [a, b) below: [a, c0) and [c1, b)
    const heldImage = load<i32>(band), heldLo = load<i32>(band, 4), heldHi = load<i32>(band, 8);
    const lo = max(a, heldLo), hi = min(b, heldHi);
    if (heldImage == n && lo < hi) {
      memory.copy(rows + <usize>(lo - a) * rowBytes, rows + <usize>(lo - heldLo) * rowBytes, <usize>(hi - lo) * rowBytes);
      c0 = lo;
      c1 = hi;
    }
    const xn = x + (<usize>(n * H * W * C) << 2);
    expandRows(rows, xn, wp, be, W, C, E, elo, ehi, a, a, c0, pack);
    expandRows(rows, xn, wp, be, W, C, E, elo, ehi, a, c1, b, pack);
    store<i32>(band, n);
    store<i32>(band, a, 4);
    store<i32>(band, b, 8);
    // The depthwise reads input row (n, ih) at its x + (n*H + ih) * rowBytes: x shifted so that
    // row (n, a) lands at `rows` (wrapping u32 arithmetic; every byte read is inside the band).
    const z = rows - <usize>(n * H + a) * rowBytes;
    depthwise_forward_rows(y, z, wd, bd, B, H, W, E, 1, KH, KW, SH, SW, 1, 1, PT, PL, OH, OW, dlo, dhi, first, end);
  }
}

// Expanded rows [r0, r1) of one image (xn its first input row) into the band whose first row is a.
// @ts-ignore: decorator
@inline
function expandRows(rows: usize, xn: usize, wp: usize, be: usize, W: i32, C: i32, E: i32, elo: f32, ehi: f32,
  a: i32, r0: i32, r1: i32, pack: usize): void {
  if (r1 <= r0) return;
  gemm_f32_packed(rows + (<usize>((r0 - a) * W * E) << 2), xn + (<usize>(r0 * W * C) << 2), wp, be,
    (r1 - r0) * W, E, C, C, 1, E, 0, elo, ehi, pack);
}

// The split: tiles of whole output rows. Each thread's share of the band is bandBytes / threads
// (16-byte aligned), at least a header and KH expanded rows, else the op runs whole (its GEMMs
// split). Bands never straddle a tile, so a row's values do not depend on the tiles.
// @ts-ignore: decorator
@inline
function expandDepthwiseSplit(y: usize, x: usize, wp: usize, be: usize, wd: usize, bd: usize,
  B: i32, H: i32, W: i32, C: i32, E: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  elo: f32, ehi: f32, dlo: f32, dhi: f32, bandBytes: i32, band: usize, pack: usize): bool {
  if (!canSplit()) return false;
  const threads = splitThreads();
  const share = (bandBytes / threads) & ~15;
  const step = bandStep(share, W, E, KH, SH);
  if (step < 1) return false;
  const work = <f64>(B * OH * OW) * <f64>(E * KH * KW) + <f64>(B * H * W) * <f64>C * <f64>E;
  const count = tilesFor(B * OH, work, TILE_MIN_WORK);
  if (count < 2) return false;
  // Every thread's band starts empty (a worker's header may hold rows of an earlier call).
  for (let t = 0; t < threads; t++) store<i32>(band + <usize>(t * share), -1);
  setArgp(0, y); setArgp(1, x); setArgp(2, wp); setArgp(3, be); setArgp(4, wd); setArgp(5, bd);
  setArg(6, B); setArg(7, H); setArg(8, W); setArg(9, C); setArg(10, E); setArg(11, KH); setArg(12, KW);
  setArg(13, SH); setArg(14, SW); setArg(15, PT); setArg(16, PL); setArg(17, OH); setArg(18, OW);
  setArgf(19, elo); setArgf(20, ehi); setArgf(21, dlo); setArgf(22, dhi); setArg(23, step); setArg(24, share); setArgp(25, band);
  runJob(JOB_EXPAND_DEPTHWISE, count, pack);
  return true;
}

// One tile: output rows tileStart(tile) .. tileStart(tile + 1) - 1 in the band of `slot` (0 the
// driver, which claims tiles from the front and runs a tile's rows from its first; w + 1 worker w,
// which claims from the back and runs them from its last), its GEMMs packing in `scratch` (the
// op's pack for the driver, a worker's GEMM scratch).
export function expandDepthwiseTile(args: usize, tile: i32, count: i32, scratch: usize, slot: i32): void {
  const B = arg(args, 6), OH = arg(args, 17);
  const units = B * OH;
  const band = argp(args, 25) + <usize>(slot * arg(args, 24));
  expandDepthwiseRows(slot > 0, argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4), argp(args, 5),
    B, arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
    arg(args, 15), arg(args, 16), OH, arg(args, 18), argf(args, 19), argf(args, 20), argf(args, 21), argf(args, 22),
    arg(args, 23), tileStart(tile, count, units), tileStart(tile + 1, count, units), band, scratch);
}
