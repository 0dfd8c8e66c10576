// Convolution and pooling geometry in a program, and how a convolution's im2col work is chunked
// to fit the scratch limit.
import { conv2dPackBytes, convColsBytes, FILTER_PARTS, FILTER_SHARES, windowAxis } from './conv-scratch';
import { gemmScratchBytes } from './gemm-scratch';
import type { ConvPadding } from '../layers/config';
import type { Layer } from '../layers/layer';
import { align16, type CompileContext, needScratch } from './program';

export interface ConvGeometry {
  h: number; w_: number; c: number; kh: number; kw: number; sh: number; sw: number; dh: number; dw_: number;
  pt: number; pl: number; oh: number; ow: number;
}

// The output size and padding of both spatial axes for a layer's kernelSize, strides, dilationRate,
// padding ('valid', 'same' or [[top, bottom], [left, right]]) and ceilMode (pooling).
export function windowAxes(config: Record<string, unknown>, h: number, w: number): { y: ReturnType<typeof windowAxis>; x: ReturnType<typeof windowAxis> } {
  const [kh, kw] = config.kernelSize as number[];
  const [sh, sw] = config.strides as number[];
  const [dh, dw] = (config.dilationRate as number[] | undefined) ?? [1, 1];
  const pad = config.padding as ConvPadding;
  const ceil = config.ceilMode === true;
  if (typeof pad === 'string') return { y: windowAxis(h, kh, sh, dh, pad, ceil), x: windowAxis(w, kw, sw, dw, pad, ceil) };
  return { y: windowAxis(h, kh, sh, dh, pad[0], ceil), x: windowAxis(w, kw, sw, dw, pad[1], ceil) };
}

export function geometry(layer: Layer, inShape: readonly number[]): ConvGeometry {
  const [h, w, c] = inShape;
  const [kh, kw] = layer.config.kernelSize as number[];
  const [sh, sw] = layer.config.strides as number[];
  const [dh, dw] = (layer.config.dilationRate as number[] | undefined) ?? [1, 1];
  const { y, x } = windowAxes(layer.config, h, w);
  return { h, w_: w, c, kh, kw, sh, sw, dh, dw_: dw, pt: y.padBefore, pl: x.padBefore, oh: y.out, ow: x.out };
}

// Pooling geometry: the convolution's without dilation.
export function poolGeometry(layer: Layer, inShape: readonly number[]): Omit<ConvGeometry, 'dh' | 'dw_'> {
  const { dh, dw_, ...pool } = geometry(layer, inShape);
  void dh; void dw_;
  return pool;
}

// A 1x1 stride-1 unpadded convolution reads its input directly (no im2col); explicit bottom or
// right padding makes its output larger than its input, so that one is not direct.
export function isPointwise(g: ConvGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.pt === 0 && g.pl === 0 && g.oh === g.h && g.ow === g.w_;
}

// A convolution with few input channels and filters and a short reduction (kh*kw*c <= 256, one k
// slice of the GEMM) runs as conv2d_direct (assembly/kernels/conv-direct.ts) instead of im2col +
// GEMM. Kernel against kernel (2026-12-04, best of 11 on a shared machine): 1.2-2.3x faster with
// at most 8 filters (1 to 8 channels), 1.45x with 16 filters on one channel; 0.9x with 16 filters
// on 3 channels and 0.5x with 32 (the stem of MobileNet), where the GEMM's packed panels win.
export function usesDirectConv(g: ConvGeometry, f: number): boolean {
  return g.c <= 8 && g.kh * g.kw * g.c <= 256 && (f <= 8 || (g.c === 1 && f <= 16)) && !isPointwise(g);
}

// The int8 depthwise convolutions that widen q into scratch per call and run in the f32 kernel's
// order (depthwise_forward_i8_wide, and inside sepconv_i8): the 3x3 / 5x5 layers of mobile networks.
export function usesWideDepthwiseI8(g: ConvGeometry, m: number): boolean {
  return m === 1 && g.dh === 1 && g.dw_ === 1 && g.kh === g.kw && (g.kh === 3 || g.kh === 5);
}

// Winograd F(2x2, 3x3) (assembly/kernels/winograd.ts, conv2d_winograd) for a 3x3 convolution with
// stride 1 and dilation 1 whose kernel an inference plan transforms once: 2.25x fewer multiplies
// for an input and an output transform. Chosen where it measured faster kernel against kernel
// (docs/profile-conv.md, "Winograd"): at least WINOGRAD_MIN_CHANNELS input channels and filters,
// below which the transforms (per channel and per filter) outweigh the products saved.
export const WINOGRAD_MIN_CHANNELS = 8;
export function usesWinograd(g: ConvGeometry, f: number): boolean {
  return g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw_ === 1 &&
    g.c >= WINOGRAD_MIN_CHANNELS && f >= WINOGRAD_MIN_CHANNELS && g.oh > 0 && g.ow > 0;
}

// Tiles per block of conv2d_winograd: its transformed inputs and products (64 * (c + f) bytes a
// tile) kept within WINOGRAD_BLOCK_BYTES so they stay in cache between the transforms and the
// 16 GEMMs; at least 16 so that each GEMM reads its kernel panels for more than a few rows.
const WINOGRAD_BLOCK_BYTES = 256 << 10;
export function winogradTiles(batch: number, g: ConvGeometry, f: number): number {
  const all = batch * Math.ceil(g.oh / 2) * Math.ceil(g.ow / 2);
  return Math.min(all, Math.max(16, Math.floor(WINOGRAD_BLOCK_BYTES / (64 * (g.c + f)) / 4) * 4));
}

// Bytes of conv2d_winograd's scratch (winograd_f23_scratch in assembly/kernels/winograd.ts).
export const winogradScratchBytes = (c: number, f: number, tiles: number) => 64 * (Math.max(tiles, 1) + 1) * (c + f + 6);

// An int8 kernel's 3x3 stride-1 convolution in an inference plan runs as Winograd too
// (assembly/kernels/winograd-i8.ts, conv2d_winograd_i8), reading q as int8 and transforming it per
// call in blocks of at most WINOGRAD_I8_CHANNELS channels and WINOGRAD_I8_FILTERS filters (64 c f
// bytes: 256 KB; once a call when c and f fit one block), then tiles a block as winogradTiles for
// those blocks: at most ~0.5 MB of scratch whatever c and f.
const WINOGRAD_I8_CHANNELS = 64;
const WINOGRAD_I8_FILTERS = 64;
export function winogradI8Blocks(batch: number, g: ConvGeometry, f: number): { tiles: number; fb: number; cb: number } {
  const fb = Math.min(f, WINOGRAD_I8_FILTERS);
  const cb = Math.min(g.c, WINOGRAD_I8_CHANNELS);
  return { tiles: winogradTiles(batch, { ...g, c: cb }, fb), fb, cb };
}

// Whether an int8 kernel's convolution (in an inference plan) runs as conv2d_winograd_i8: where
// float32 runs Winograd. Kernel against kernel it beat the int8 im2col + GEMM on every layer of
// resnet18, squeezenet1_1 and emotion at batch 1 and 8 (docs/int8.md, stop 25: 0.51-0.79x), the
// closest resnet18's 7x7x512 -> 512 at batch 1 (16 tiles for one transform of q: 0.72x).
export function usesWinogradI8(g: ConvGeometry, f: number): boolean {
  return usesWinograd(g, f);
}

// Bytes of conv2d_winograd_i8's scratch (winograd_i8_scratch in assembly/kernels/winograd-i8.ts,
// before its rounding): cw the widest of its blocks of channels.
export function winogradI8ScratchBytes(c: number, f: number, tiles: number, fb: number, cb: number): number {
  const nb = Math.min(fb, f, 128);
  const cw = Math.ceil(c / Math.ceil(c / Math.min(Math.max(cb, 8), 256)));
  const cp = Math.ceil(cw / 4) * 4, fp = Math.ceil(nb / 4) * 4;
  return 127 + 3072 + 4 * cp + 64 * Math.max(tiles, 1) * (cp + fp) + 64 * cw * Math.ceil(nb / 8) * 8 + 16 * cw;
}

// The training filter gradient as FILTER_PARTS partial sums over fixed ranges of positions, added in
// their order (op conv2d_backward_filter_parts, assembly/kernels/conv-filter-parts.ts), when its
// partial sums (8 x kh*kw*c x f floats) take at most 4 column buffers and every part has at least
// one unfold of `sub` positions: each thread then unfolds and packs only its own parts' positions,
// where split by rows of dw every thread packed all of dy and unfolded its columns of every
// position. The same parts and order on any thread count, so the same bits. Fewer than 64 rows of
// dw (a first layer) take the kernel's own parts path inside the column buffer (conv.ts). `sub`
// fills 2 column buffers with the FILTER_SHARES unfold shares; `bytes` is parts and shares, the
// GEMM scratch after them. null: rows of dw as before (a tighter memory budget gets there through
// the smaller column limits, 64 KB and less).
export function convFilterParts(ctx: CompileContext, g: ConvGeometry, f: number): { sub: number; bytes: number; scratch: number } | null {
  if (isPointwise(g)) return null;
  const k = g.kh * g.kw * g.c;
  if (k < 64) return null;
  const partFloats = Math.ceil((k * f) / 16) * 16;
  if (FILTER_PARTS * partFloats * 4 > 4 * ctx.convScratchLimit) return null;
  const sub = Math.floor((2 * ctx.convScratchLimit) / (FILTER_SHARES * 4 * k) / 4) * 4;
  if (sub < 32 || ctx.batch * g.oh * g.ow < FILTER_PARTS * sub) return null;
  const bytes = 4 * (FILTER_PARTS * partFloats + FILTER_SHARES * sub * k);
  return { sub, bytes, scratch: bytes + gemmScratchBytes(k, f, sub) };
}

// Output positions per im2col chunk: as many as fit the scratch limit (a multiple of 4, the GEMM
// tile height), at least 4. The scratch holds the columns, then the GEMM packing buffer. A grouped
// convolution unfolds one group's C/groups channels at a time.
export function convChunk(ctx: CompileContext, g: ConvGeometry, f: number, groups = 1): { chunkRows: number; colsBytes: number } {
  const c = g.c / groups;
  const k = g.kh * g.kw * c;
  const rows = ctx.batch * g.oh * g.ow;
  const direct = isPointwise(g);
  let chunkRows = direct ? rows : Math.min(rows, Math.max(4, Math.floor(ctx.convScratchLimit / (4 * k) / 4) * 4));
  if (chunkRows < 1) chunkRows = 1;
  const colsBytes = direct ? 0 : align16(convColsBytes(chunkRows, g.kh, g.kw, c));
  needScratch(ctx, colsBytes + conv2dPackBytes(chunkRows, g.kh, g.kw, c, f / groups));
  return { chunkRows, colsBytes };
}
