// A depthwise convolution and the 1x1 convolution that alone reads it, lowered as one sepconv op
// (issue 12, assembly/kernels/sepconv.ts) in an inference plan: the depthwise output goes a band of
// rows at a time through scratch into the 1x1 GEMM instead of through a whole-batch activation
// (mini-Xception's separable convolutions, MobileNet's depthwise -> projection). The depthwise node
// emits nothing and passes its input on with its weights and geometry; the 1x1 convolution (after
// its batch norm fold and clamp absorption, host/layers/conv2d.ts) emits the fused op. The same bits.
// Both layers' frozen int8 kernels (docs/int8.md) fuse as sepconv_i8: the depthwise a wide one
// (usesWideDepthwiseI8), the 1x1's q packed at a byte a weight; as sepconv_q8 when the 1x1 takes
// Keras's absmax activation quantizer (its q in pack_b_q8's k-pair panels, each band's rows
// quantized as conv2d_q8 quantizes them: the bits of depthwise_forward_i8_wide then conv2d_q8).
import { type GraphNode, isOutput } from './graph';
import { activationClamp } from './activation-lowering';
import { type ConvGeometry, geometry, isPointwise, usesWideDepthwiseI8 } from './conv-lowering';
import { fusibleBatchNorm } from './conv-fusion';
import { callSize } from './size-expr';
import { q8ScratchBytes } from './gemm-scratch';
import { align16, type ForwardArgs, needScratch, type NodeValue, packedScratchBytes, SCRATCH } from './program';

// A deferred depthwise convolution: kernel wd (KH, KW, C), bias bd, its geometry and clamp; scale:
// the region of its per-channel scales when wd is its int8 kernel q.
export interface DeferredDepthwise { wd: number; bd?: number; g: ConvGeometry; lo: number; hi: number; scale?: number }

// Bytes of the depthwise rows per band: 4 rows of emotion's 29x29x128 and 15x15x256 outputs.
// Kernel against kernel (JS-driven bands, CPU-time medians, batch 8): bands of 2 rows 0.98-1.04x,
// 4 rows 1.03-1.04x, 8 rows 1.01-1.05x the unfused pair.
const BAND_BYTES = 64 << 10;

// The 1x1 convolution that alone reads depthwise node `node`, when both can fuse in this program:
// its kernel int8 when the depthwise's is (`int8`), f32 when not.
function pointwiseReader(a: ForwardArgs, int8: boolean): GraphNode | null {
  const { ctx, p, node } = a;
  if (ctx.prepare === null || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const conv = ctx.graph.nodes[next[0]];
  const l = conv.layer;
  if (l?.kind !== 'conv2d' || l.config.groups !== 1 || conv.inputs.length !== 1 || p.gradNodes.has(conv.id)) return null;
  if (!isPointwise(geometry(l, node.shape))) return null;
  // The packed paths only: f32 panels, or int8 byte panels (absmax: k-pair panels) of a kernel no
  // batch norm is folded into (a fold makes it f32, host/compile/conv-fusion.ts).
  const [w] = ctx.paramRegions.get(l) ?? [];
  if (w === undefined || ctx.regions[w].kind !== 'param' || ctx.int8Kernels.has(w) !== int8) return null;
  // No batch norm folds into an absmax 1x1 (host/compile/conv-fusion.ts): it runs after sepconv_q8.
  const absmax = ctx.int8Kernels.get(w)?.absmax === true;
  return int8 && !absmax && fusibleBatchNorm(ctx, conv, a.training) ? null : conv;
}

// At a depthwise convolution (multiplier 1, linear or a clamp activation; an f32 kernel, or an int8
// one of the wide shapes) read only by a 1x1 convolution that fuses: its input passed on with the
// depthwise's weights (no op), or null.
export function deferredDepthwise(a: ForwardArgs): NodeValue | null {
  const { ctx, layer, x } = a;
  if (layer.kind !== 'depthwiseConv2d' || layer.config.depthMultiplier !== 1 || x.expand) return null;
  const act = (layer.config.activation as string | undefined) ?? 'linear';
  const clamp = act === 'linear' ? [-Infinity, Infinity] : activationClamp(act);
  const [wd, bd] = a.params;
  const g = geometry(layer, x.shape);
  const int8 = ctx.int8Kernels.get(wd);
  if (!clamp || (int8 && !usesWideDepthwiseI8(g, 1)) || !pointwiseReader(a, int8 !== undefined)) return null;
  return {
    region: x.region, shape: a.shape,
    depthwise: { wd, ...(bd !== undefined ? { bd } : {}), g, lo: clamp[0], hi: clamp[1], ...(int8 ? { scale: int8.scale } : {}) },
  };
}

// Emits sepconv (sepconv_i8 with `scale`, the region of the 1x1's int8 scales; sepconv_q8 when
// also `absmax`, wp then pack_b_q8's panels) for the 1x1 convolution a.layer (f filters, kernel
// packed at wp, bias b, clamp lo / hi) reading a deferred depthwise convolution, writing y.
export function sepconvForward(a: ForwardArgs, y: number, wp: number, b: number | undefined, f: number, lo: number, hi: number, scale?: number, absmax = false): void {
  const { ctx, p, layer, x } = a;
  const d = x.depthwise!;
  const rowBytes = 4 * d.g.ow * d.g.c;
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / rowBytes));
  const band = align16(bandRows * rowBytes);
  const biases = { ...(d.bd !== undefined ? { bd: d.bd } : {}), ...(b !== undefined ? { b } : {}) };
  const noBias = { ...(d.bd !== undefined ? {} : { bd: 0 }), ...(b !== undefined ? {} : { b: 0 }) };
  if ((scale === undefined) !== (d.scale === undefined)) throw new Error(`internal: ${layer.name} and its deferred depthwise convolution differ in int8`);
  if (scale !== undefined && absmax) {
    // Scratch: the depthwise's q widened, the band, then gemm_q8's (4 row scales, 4 quantized rows;
    // the band first in what a tile gets, as below).
    const { h, w_, c, kh, kw, sh, sw, pt, pl, oh, ow } = d.g;
    const wf = align16(4 * kh * kw * c);
    needScratch(ctx, wf + band + q8ScratchBytes(c));
    p.emit('sepconv_q8', layer.name, {
      y, x: x.region, qd: d.wd, sd: d.scale!, bp: wp, ks: scale, ...biases, wf: [SCRATCH, 0], band: [SCRATCH, wf], q8: [SCRATCH, wf + band],
    }, { ...noBias, h, w_, c, f, kh, kw, sh, sw, pt, pl, oh, ow, dlo: d.lo, dhi: d.hi, lo, hi, bandRows });
    return;
  }
  if (scale !== undefined) {
    // Scratch: the depthwise's q widened (and the 1x1's panels, when small enough), then the band,
    // then the band's GEMM scratch (the layout assembly/kernels/sepconv.ts's threads assume: the
    // band first in what a tile gets).
    const { h, w_, c, kh, kw, sh, sw, pt, pl, oh, ow } = d.g;
    const wf = align16(callSize('sepconvI8Wf', [kh, kw, c, f]));
    needScratch(ctx, wf + band + callSize('sepconvI8Pack', [bandRows * ow, f, c]));
    p.emit('sepconv_i8', layer.name, {
      y, x: x.region, qd: d.wd, sd: d.scale!, qp: wp, sp: scale, ...biases, wf: [SCRATCH, 0], band: [SCRATCH, wf], pack: [SCRATCH, wf + band],
    }, { ...noBias, h, w_, c, f, kh, kw, sh, sw, pt, pl, oh, ow, dlo: d.lo, dhi: d.hi, lo, hi, bandRows });
    return;
  }
  needScratch(ctx, band + packedScratchBytes(d.g.c));
  p.emit('sepconv', layer.name, {
    y, x: x.region, wd: d.wd, wp, ...biases, band: [SCRATCH, 0], pack: [SCRATCH, band],
  }, { ...noBias, ...d.g, f, dlo: d.lo, dhi: d.hi, lo, hi, bandRows });
}
