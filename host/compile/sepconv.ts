// A depthwise convolution and the 1x1 convolution that alone reads it, lowered as one sepconv op
// (issue 12, assembly/kernels/sepconv.ts) in an inference plan: the depthwise output goes a band of
// rows at a time through scratch into the 1x1 GEMM instead of through a whole-batch activation
// (mini-Xception's separable convolutions, MobileNet's depthwise -> projection). The depthwise node
// emits nothing and passes its input on with its weights and geometry; the 1x1 convolution (after
// its batch norm fold and clamp absorption, host/layers/conv2d.ts) emits the fused op. The same bits.
import { type GraphNode, isOutput } from './graph';
import { activationClamp } from './activation-lowering';
import { type ConvGeometry, geometry, isPointwise } from './conv-lowering';
import { align16, type ForwardArgs, needScratch, type NodeValue, packedScratchBytes, SCRATCH } from './program';

// A deferred depthwise convolution: kernel wd (KH, KW, C), bias bd, its geometry and clamp.
export interface DeferredDepthwise { wd: number; bd?: number; g: ConvGeometry; lo: number; hi: number }

// Bytes of the depthwise rows per band: 4 rows of emotion's 29x29x128 and 15x15x256 outputs.
// Kernel against kernel (JS-driven bands, CPU-time medians, batch 8): bands of 2 rows 0.98-1.04x,
// 4 rows 1.03-1.04x, 8 rows 1.01-1.05x the unfused pair.
const BAND_BYTES = 64 << 10;

// The 1x1 convolution that alone reads depthwise node `node`, when both can fuse in this program.
function pointwiseReader(a: ForwardArgs): GraphNode | null {
  const { ctx, p, node } = a;
  if (ctx.prepare === null || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const conv = ctx.graph.nodes[next[0]];
  const l = conv.layer;
  if (l?.kind !== 'conv2d' || l.config.groups !== 1 || conv.inputs.length !== 1 || p.gradNodes.has(conv.id)) return null;
  if (!isPointwise(geometry(l, node.shape))) return null;
  // The packed f32 path only (an int8 kernel keeps its own kernels).
  const [w] = ctx.paramRegions.get(l) ?? [];
  return w !== undefined && ctx.regions[w].kind === 'param' && !ctx.int8Kernels.has(w) ? conv : null;
}

// At a depthwise convolution (multiplier 1, f32 kernel, linear or a clamp activation) read only by
// a 1x1 convolution that fuses: its input passed on with the depthwise's weights (no op), or null.
export function deferredDepthwise(a: ForwardArgs): NodeValue | null {
  const { ctx, layer, x } = a;
  if (layer.kind !== 'depthwiseConv2d' || layer.config.depthMultiplier !== 1) return null;
  const act = (layer.config.activation as string | undefined) ?? 'linear';
  const clamp = act === 'linear' ? [-Infinity, Infinity] : activationClamp(act);
  const [wd, bd] = a.params;
  if (!clamp || ctx.int8Kernels.has(wd) || !pointwiseReader(a)) return null;
  return { region: x.region, shape: a.shape, depthwise: { wd, ...(bd !== undefined ? { bd } : {}), g: geometry(layer, x.shape), lo: clamp[0], hi: clamp[1] } };
}

// Emits sepconv for the 1x1 convolution a.layer (f filters, kernel packed at wp, bias b, clamp
// lo / hi) reading a deferred depthwise convolution, writing y.
export function sepconvForward(a: ForwardArgs, y: number, wp: number, b: number | undefined, f: number, lo: number, hi: number): void {
  const { ctx, p, layer, x } = a;
  const d = x.depthwise!;
  const rowBytes = 4 * d.g.ow * d.g.c;
  const bandRows = Math.max(1, Math.floor(BAND_BYTES / rowBytes));
  const band = align16(bandRows * rowBytes);
  needScratch(ctx, band + packedScratchBytes(d.g.c));
  p.emit('sepconv', layer.name, {
    y, x: x.region, wd: d.wd, ...(d.bd !== undefined ? { bd: d.bd } : {}), wp, ...(b !== undefined ? { b } : {}), band: [SCRATCH, 0], pack: [SCRATCH, band],
  }, { ...(d.bd !== undefined ? {} : { bd: 0 }), ...(b !== undefined ? {} : { b: 0 }), ...d.g, f, dlo: d.lo, dhi: d.hi, lo, hi, bandRows });
}
