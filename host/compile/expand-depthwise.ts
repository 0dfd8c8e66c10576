// A 1x1 convolution and the depthwise convolution that alone reads it, lowered as one
// expand_depthwise op in an inference plan (assembly/kernels/expand-depthwise.ts): MobileNetV2's
// expansion, its ReLU6 and the 3x3 depthwise after it. The expanded rows go a band at a time
// through scratch into the depthwise rows that read them, instead of through a whole activation
// (mobilenet_v2's first block: 112x112x96, 4.8 MB written and read back out of cache). The 1x1
// node (after its batch norm fold and clamp absorption, host/compile/conv-fusion.ts) emits nothing
// and passes its input on with its packed kernel and clamp; the depthwise node emits the fused op.
// The same bits as the two ops apart.
import { type GraphNode, isOutput } from './graph';
import { activationClamp, type Clamp } from './activation-lowering';
import { type ConvGeometry, geometry, isPointwise, usesDirectConv } from './conv-lowering';
import { foldsIntoReaders } from './pad-fold';
import { GEMM_MR } from './gemm-scratch';
import { align16, type ForwardArgs, last, needScratch, type NodeValue, packedScratchBytes, packedWeight, SCRATCH } from './program';

// A deferred 1x1 convolution: its kernel packed at wp (c input channels), bias b, clamp lo / hi.
export interface DeferredExpansion { wp: number; b?: number; c: number; lo: number; hi: number }

// Bytes of expanded rows a thread's band holds (at least the depthwise's kernel height in rows):
// 6 rows of mobilenet_v2's 112x112x96 expansion, 8 of its 56x56x144.
const BAND_BYTES = 256 << 10;
// Threads the plan's scratch holds a band of at least kernel-height rows for (beyond them the op
// runs whole, its GEMMs split).
const BAND_THREADS = 4;
// Bytes of expanded tensor (the whole batch) from which the pair fuses: mobilenet_v2's 112x112x96
// and 56x56x144 at batch 1, not its 28x28x192. Per block, in program order, one thread / two
// (2026-12-06): 112x112x96 0.95x / 0.91x the pair's time, 56x56 0.96-1.02x / 0.96-1.04x, 28x28
// 1.03-1.06x / 0.94-1.01x, 14x14 1.00-1.07x / 1.06-1.18x and 7x7 1.00-1.04x / 1.16-1.24x: a
// tensor that stays in cache gains nothing, and where two threads meet each computes the rows
// their windows share (1 of 7 at 14x14).
const EXPANDED_MIN_BYTES = 1 << 20;

// At a 1x1 convolution about to run (kernel w, bias b, geometry g, the clamp its epilogue would
// run): when a depthwise convolution alone reads its output and both can fuse, its input passed
// on with the packed kernel (no op), else null.
export function deferredExpansion(a: ForwardArgs, w: number, b: number | undefined, g: ConvGeometry, fused: Clamp | null): NodeValue | null {
  const { ctx, p, node, layer, x, shape } = a;
  if (ctx.prepare === null || x.depthwise || x.expand || x.pad || p.gradNodes.has(node.id) || isOutput(ctx.graph, node.id)) return null;
  const kind = ctx.regions[w].kind;
  const f = last(shape);
  // Every expanded row is computed in a GEMM call of at least the microkernel's rows, as in the
  // whole 1x1 convolution (the same bits), so an image row must hold them.
  if (ctx.int8Kernels.has(w) || (kind !== 'param' && kind !== 'derived') || !isPointwise(g) || usesDirectConv(g, f) || g.w_ < GEMM_MR) return null;
  if (4 * ctx.batch * g.h * g.w_ * f < EXPANDED_MIN_BYTES) return null;
  const clamp = fused ?? activationClamp(layer.config.activation ?? 'linear');
  if (!clamp || !depthwiseReader(a, node)) return null;
  const wp = packedWeight(ctx, layer.name, w, f, g.c)!;
  return { region: x.region, shape, expand: { wp, ...(b !== undefined ? { b } : {}), c: g.c, lo: clamp[0], hi: clamp[1] } };
}

// The depthwise convolution that alone reads `conv`'s output (through the batch norm and
// activation nodes the convolution absorbed, and a zero pad folded into the depthwise: torchvision's
// stride-2 layers), when it runs on its f32 kernel with a clamp or none, multiplier 1, dilation 1,
// and is not itself run inside the 1x1 convolution after it (host/compile/sepconv.ts), else null.
function depthwiseReader(a: ForwardArgs, conv: GraphNode): GraphNode | null {
  const { ctx, p } = a;
  const reader = (n: GraphNode) => {
    const next = ctx.consumers.get(n.id) ?? [];
    return next.length === 1 ? ctx.graph.nodes[next[0]] : null;
  };
  let at: GraphNode | null = conv;
  do at = reader(at);
  while (at !== null && p.absorbed.has(at.id));
  if (at?.layer?.kind === 'zeroPadding2d' && foldsIntoReaders(ctx, p, at, { region: -1, shape: a.shape })) at = reader(at);
  if (at === null) return null;
  const l = at.layer;
  if (l?.kind !== 'depthwiseConv2d' || at.inputs.length !== 1 || p.gradNodes.has(at.id)) return null;
  const c = l.config;
  const [dh, dw] = c.dilationRate as number[];
  if (c.depthMultiplier !== 1 || dh !== 1 || dw !== 1 || !activationClamp(c.activation ?? 'linear')) return null;
  const [wd] = ctx.paramRegions.get(l) ?? [];
  if (wd === undefined || ctx.int8Kernels.has(wd)) return null;
  // A 1x1 convolution alone reading the depthwise takes it into a sepconv instead.
  const readers = ctx.consumers.get(at.id) ?? [];
  if (readers.length === 1 && ctx.graph.nodes[readers[0]].layer?.kind === 'conv2d') return null;
  return at;
}

// Emits expand_depthwise for the depthwise convolution a.layer (kernel and bias a.params, clamp
// lo / hi) reading a deferred 1x1 convolution.
export function expandDepthwiseForward(a: ForwardArgs, lo: number, hi: number): NodeValue {
  const { ctx, p, node, layer, x, shape, count } = a;
  const e = x.expand!;
  const [wd, bd] = a.params;
  const g = geometry(layer, x.shape);
  const rowBytes = 4 * g.w_ * g.c;
  const band = (rows: number) => align16(16 + rows * rowBytes);
  const bandBytes = Math.max(2 * band(Math.max(g.kh, Math.floor(BAND_BYTES / rowBytes))), BAND_THREADS * band(g.kh));
  needScratch(ctx, bandBytes + packedScratchBytes(e.c));
  const y = p.activation(node.name, count * ctx.batch);
  const { h, w_, kh, kw, sh, sw, pt, pl, oh, ow } = g;
  p.emit('expand_depthwise', layer.name, {
    y, x: x.region, wp: e.wp, ...(e.b !== undefined ? { be: e.b } : {}), wd, ...(bd !== undefined ? { bd } : {}), band: [SCRATCH, 0], pack: [SCRATCH, bandBytes],
  }, {
    ...(e.b !== undefined ? {} : { be: 0 }), ...(bd !== undefined ? {} : { bd: 0 }),
    h, w_, c: e.c, e: g.c, kh, kw, sh, sw, pt, pl, oh, ow, elo: e.lo, ehi: e.hi, dlo: lo, dhi: hi, bandBytes,
  });
  return { region: y, shape };
}
