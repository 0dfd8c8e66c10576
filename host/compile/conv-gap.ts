// A linear convolution whose only reader is a global average pooling, lowered as one conv_gap op
// (assembly/kernels/conv-gap.ts) in an inference plan: the mean over positions of conv(x) + b from
// tap sums of x and one product with the kernel packed once, instead of the convolution and a
// pass over its output (mini-Xception's head, 3x3 256 -> 7 at 8x8, then the mean). The summation
// order is not the convolution's; test/conv-gap.test.ts bounds the error against f64.
import { type GraphNode, isOutput } from './graph';
import { geometry } from './conv-lowering';
import { gemmScratchBytes } from './gemm-scratch';
import { align16, type ForwardArgs, last, needScratch, type NodeValue, packedInt8Weight, packedScratchBytes, packedWeight, SCRATCH } from './program';

// Floats of conv_gap_f32's scratch before its packing buffer (conv_gap_scratch_floats).
export const convGapScratchFloats = (batch: number, c: number, kh: number, kw: number) => (batch * kh + 1) * kw * c;

// The global average pooling that alone reads this convolution node (ungrouped, linear, not an
// output), when no gradient flows through either in this program.
function gapReader(a: ForwardArgs): GraphNode | null {
  const { ctx, p, node, layer } = a;
  // A depthwise convolution deferred into this one (sepconv.ts) runs with it instead.
  if (a.x.depthwise) return null;
  if (layer.kind !== 'conv2d' || layer.config.groups !== 1 || (layer.config.activation ?? 'linear') !== 'linear') return null;
  if (isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const gap = ctx.graph.nodes[next[0]];
  return gap.layer?.kind === 'globalAveragePooling2d' && !p.gradNodes.has(gap.id) ? gap : null;
}

// Emits conv_gap for a convolution read only by a global average pooling, with a constant f32
// kernel an inference plan packs once (conv_gap_i8 for a frozen int8 kernel); the pooling is
// absorbed (it passes this region on, F floats a sample). null: not fused.
export function convGapForward(a: ForwardArgs): NodeValue | null {
  const gap = gapReader(a);
  if (!gap) return null;
  const { ctx, p, layer, x } = a;
  const [w, b] = a.params;
  const g = geometry(layer, x.shape);
  const f = last(a.shape);
  const k = g.kh * g.kw * g.c;
  // A frozen int8 kernel: packed at a byte a weight, its product by the int8 GEMM (conv_gap_i8).
  const int8 = ctx.int8Kernels.get(w);
  // An absmax kernel quantizes each position's patch (conv2d_q8); tap sums would quantize their sum.
  if (int8?.absmax) return null;
  const wp = int8 ? packedInt8Weight(ctx, layer.name, w, f, k) : packedWeight(ctx, layer.name, w, f, k);
  if (wp === null) return null;
  const sums = align16(4 * convGapScratchFloats(ctx.batch, g.c, g.kh, g.kw));
  needScratch(ctx, sums + (int8 ? gemmScratchBytes(ctx.batch, f, k) : packedScratchBytes(k)));
  const y = p.activation(gap.name, f * ctx.batch);
  const weights: Record<string, number> = int8 ? { qp: wp, scale: int8.scale } : { wp };
  p.emit(int8 ? 'conv_gap_i8' : 'conv_gap', layer.name, { y, x: x.region, ...weights, ...(b !== undefined ? { b } : {}), scratch: [SCRATCH, 0], pack: [SCRATCH, sums] },
    { ...(b !== undefined ? {} : { b: 0 }), ...g, f });
  p.absorbed.add(gap.id);
  return { region: y, shape: a.shape };
}
