// Cross-layer fusion that starts at a convolution (issue 12), reached only through the conv2d and
// depthwiseConv2d records' forward (host/layers/conv2d.ts, depthwise-conv2d.ts), so that an app
// without convolutions bundles none of it: an inference-mode batch norm folded into the
// convolution it alone reads, and a ReLU and 2x2 max pooling after that run in the convolution's
// epilogue; a ReLU / ReLU6 activation layer after a convolution or depthwise convolution (no
// gradient through them) runs in its epilogue; a zero pad folded into the convolution reads it
// with its padding grown (pad-fold.ts).
import { type GraphNode, isOutput } from './graph';
import { activationClamp, activationForward, type Clamp } from './activation-lowering';
import { convChunk, type ConvGeometry, geometry, isPointwise, usesDirectConv, usesWideDepthwiseI8 } from './conv-lowering';
import { conv2dPackBytes, convColsBytes } from './conv-scratch';
import { withPadding } from './pad-fold';
import { expandDepthwiseForward } from './expand-depthwise';
import { floatKernel } from './lower';
import {
  align16, type CompileContext, derivedRegion, type ForwardArgs, last, needScratch, type NodeValue, type ProgramBuilder, SCRATCH, weightRegions,
} from './program';

// host/layers/conv2d.ts conv2dForward: kernel w, bias b, and the clamp its epilogue runs.
type Conv2dForward = (a: ForwardArgs, w: number, b: number | undefined, g: ConvGeometry, chunkRows: number, colsBytes: number, fused: Clamp | null) => NodeValue;

// The layer a convolution reads its input with: itself, or, when that input is a zero pad folded
// into it (pad-fold.ts), a view of it with the pad added to its own padding.
export function withFoldedPad(a: ForwardArgs): ForwardArgs {
  const pad = a.x.pad;
  return pad ? { ...a, layer: withPadding(a.layer, pad, a.x.shape[0], a.x.shape[1]) } : a;
}

// An inference-mode batch norm that alone reads this linear convolution is folded into its
// weights, and a ReLU that alone reads that runs in the convolution's epilogue: two passes over
// the output saved. Backward still sees every node (the folded copy is forward-only).
// `conv2dForward`: the convolution's own forward (host/layers/conv2d.ts, passed by its record).
export function convForwardWithFusion(given: ForwardArgs, conv2dForward: Conv2dForward): NodeValue {
  const a = withFoldedPad(given);
  const { ctx, p, node, layer, x } = a;
  let [w, b] = a.params;
  const g = geometry(layer, x.shape);
  const f = last(a.shape);
  const { chunkRows, colsBytes } = convChunk(ctx, g, f);
  // The direct kernel and the packed-weights ones (an inference plan's constant kernel, f32 or
  // int8) take any clamp; an int8 kernel unpacked for a batch norm fold (conv2d_forward) does not.
  const int8 = ctx.int8Kernels.has(w);
  const packable = ctx.prepare !== null && ctx.regions[w].kind === 'param';
  // An absmax kernel (conv2d_q8, any plan) takes any clamp, and no batch norm folds into it: the
  // fold would make the kernel f32 and drop the quantization of its inputs (Keras runs the
  // quantized convolution, then the batch norm).
  const absmax = ctx.int8Kernels.get(w)?.absmax === true;
  const bnNode = absmax ? null : fusibleBatchNorm(ctx, node, a.training);
  const anyClamp = absmax || (int8 ? packable && !bnNode : usesDirectConv(g, f) || packable);
  if (!bnNode) return conv2dForward(a, w, b, g, chunkRows, colsBytes, absorbClamp(ctx, p, node, anyClamp));
  [w, b] = foldBatchNorm(ctx, p, node, bnNode, g, f, floatKernel(ctx, p, layer, w), b);
  const next = ctx.consumers.get(bnNode.id) ?? [];
  const r = next.length === 1 ? ctx.graph.nodes[next[0]] : null;
  if (!(r && r.layer?.kind === 'activation' && r.layer.config.activation === 'relu' && !isOutput(ctx.graph, r.id))) {
    return conv2dForward(a, w, b, g, chunkRows, colsBytes, absorbClamp(ctx, p, bnNode, anyClamp));
  }
  p.absorbed.add(r.id);
  const pool = fusiblePool(ctx, p, node, r, g);
  if (!pool) return conv2dForward(a, w, b, g, chunkRows, colsBytes, [0, Infinity]);
  // conv -> BN -> ReLU -> 2x2 max pooling with no gradient through any of them: each chunk is
  // pooled in cache and only the pooled output is written. Chunks hold whole pairs of output rows.
  p.absorbed.add(pool.id);
  const pairRows = 2 * g.ow;
  const chunk = Math.max(pairRows, Math.floor(chunkRows / pairRows) * pairRows);
  const cols = align16(convColsBytes(chunk, g.kh, g.kw, g.c));
  const pack = align16(conv2dPackBytes(chunk, g.kh, g.kw, g.c, f));
  needScratch(ctx, cols + pack + chunk * f * 4);
  const pooled = p.activation(`${pool.name}`, (a.count / 4) * ctx.batch);
  p.emit('conv2d_forward', layer.name, {
    y: pooled, x: x.region, w, ...(b !== undefined ? { b } : {}), cols: [SCRATCH, 0], pack: [SCRATCH, cols], chunkOut: [SCRATCH, cols + pack],
  }, { ...(b !== undefined ? {} : { b: 0 }), ...g, f, chunkRows: chunk, relu: 1, pool: 1 });
  return { region: pooled, shape: a.shape };
}

// Emits the fold of bnNode's moving statistics into the convolution's kernel and bias; returns
// the folded kernel and bias regions. An inference plan folds once, in its prepare program, into
// regions of its own (never into the layers' weights); a training plan folds in every run (the
// convolution's kernel may be training).
function foldBatchNorm(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, bnNode: GraphNode, g: ConvGeometry, f: number,
  w: number, b: number | undefined): [number, number] {
  const bnLayer = bnNode.layer!;
  const bn = weightRegions(bnLayer, ctx.paramRegions.get(bnLayer)!);
  const k = g.kh * g.kw * g.c;
  const once = ctx.prepare !== null && ctx.regions[w].kind === 'param';
  const wf = once ? derivedRegion(ctx, `${node.name} folded kernel`, k * f) : p.activation(`${node.name}:folded_kernel`, k * f);
  const bf = once ? derivedRegion(ctx, `${node.name} folded bias`, f) : p.activation(`${node.name}:folded_bias`, f);
  (once ? ctx.prepare! : p).emit('bn_fold', bnLayer.name, {
    wf, bf, w, ...(b !== undefined ? { b } : {}), movingMean: bn.moving_mean, movingVar: bn.moving_variance,
    ...(bn.gamma !== undefined ? { gamma: bn.gamma } : {}), ...(bn.beta !== undefined ? { beta: bn.beta } : {}),
  }, { ...(b !== undefined ? {} : { b: 0 }), ...(bn.gamma !== undefined ? {} : { gamma: 0 }), ...(bn.beta !== undefined ? {} : { beta: 0 }), k, f, epsilon: bnLayer.config.epsilon as number });
  p.absorbed.add(bnNode.id);
  return [wf, bf];
}

// The batch normalization node that alone reads `node` (a convolution with no activation), when
// that BN runs in inference mode in this program (not training, or frozen) and is not the output.
export function fusibleBatchNorm(ctx: CompileContext, node: GraphNode, training: boolean): GraphNode | null {
  // A model output keeps its own value, so nothing may be folded into it.
  if (node.layer!.config.activation !== 'linear' || isOutput(ctx.graph, node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const bn = ctx.graph.nodes[next[0]];
  if (bn.layer?.kind !== 'batchNormalization' || isOutput(ctx.graph, bn.id)) return null;
  if (training && bn.layer.trainable) return null;
  return bn;
}

// The 2x2 stride-2 'valid' max pooling that alone reads `relu` (itself fused into `conv`), when no
// gradient flows through the convolution in this program and the geometry pairs up evenly.
function fusiblePool(ctx: CompileContext, p: ProgramBuilder, conv: GraphNode, relu: GraphNode, g: ConvGeometry): GraphNode | null {
  if (p.gradNodes.has(conv.id) || g.oh % 2 !== 0 || g.ow % 2 !== 0) return null;
  if (isPointwise(g)) return null; // pointwise path
  const next = ctx.consumers.get(relu.id) ?? [];
  if (next.length !== 1) return null;
  const pool = ctx.graph.nodes[next[0]];
  const c = pool.layer?.config;
  if (pool.layer?.kind !== 'maxPooling2d' || isOutput(ctx.graph, pool.id) || !c) return null;
  const [kh, kw] = c.kernelSize as number[];
  const [sh, sw] = c.strides as number[];
  return kh === 2 && kw === 2 && sh === 2 && sw === 2 && c.padding === 'valid' ? pool : null;
}

// A ReLU or ReLU6 activation layer that alone reads `node` (linear, not an output), when no
// gradient flows through either in this program: marked absorbed, its clamp returned for the
// kernel's epilogue. anyClamp: the kernel takes any clamp (conv2d_direct; conv2d_forward only
// has a ReLU flag).
function absorbClamp(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, anyClamp: boolean): Clamp | null {
  if ((node.layer!.config.activation ?? 'linear') !== 'linear' || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const act = ctx.graph.nodes[next[0]];
  if (act.layer?.kind !== 'activation' || act.layer.config.activation === 'linear' || isOutput(ctx.graph, act.id) || p.gradNodes.has(act.id)) return null;
  const clamp = activationClamp(act.layer.config.activation);
  if (!clamp || (!anyClamp && clamp[1] !== Infinity)) return null;
  p.absorbed.add(act.id);
  return clamp;
}

// Depthwise convolution with its bias and a clamp in the epilogue: the layer's own ReLU / ReLU6,
// or an absorbed ReLU / ReLU6 layer after it (host/layers/depthwise-conv2d.ts otherwise).
// `depthwiseForward`: its own forward with the activation in a pass of its own (passed by its record).
export function depthwiseForwardWithClamp(given: ForwardArgs, depthwiseForward: (a: ForwardArgs) => NodeValue): NodeValue {
  const a = withFoldedPad(given);
  const { ctx, p, node, layer, x, shape, count } = a;
  const own = layer.config.activation === 'linear' ? null : activationClamp(layer.config.activation);
  const clamp = own ?? (layer.config.activation === 'linear' ? absorbClamp(ctx, p, node, true) : null);
  const [w, b] = a.params;
  // The 1x1 convolution it alone reads, run inside it (expand-depthwise.ts).
  if (x.expand) return expandDepthwiseForward(a, ...(clamp ?? [-Infinity, Infinity]));
  const int8 = ctx.int8Kernels.get(w);
  if (int8) return depthwiseForwardI8(a, w, int8.scale, b, clamp);
  if (!clamp) return depthwiseForward(a);
  const z = p.activation(node.name, count * ctx.batch);
  p.emit('depthwise_forward_clamp', layer.name, { y: z, x: x.region, w, ...(b !== undefined ? { b } : {}) },
    { ...(b !== undefined ? {} : { b: 0 }), ...geometry(layer, x.shape), m: layer.config.depthMultiplier as number, lo: clamp[0], hi: clamp[1] });
  return { region: z, shape };
}

// A depthwise convolution reading its int8 kernel q (per-channel scales): the clamp of its own or an
// absorbed ReLU / ReLU6 in the epilogue, any other activation after it.
function depthwiseForwardI8(a: ForwardArgs, q: number, scale: number, b: number | undefined, clamp: Clamp | null): NodeValue {
  const { ctx, p, node, layer, x, shape, count } = a;
  const z = p.activation(node.name, count * ctx.batch);
  const [lo, hi] = clamp ?? [-Infinity, Infinity];
  const g = geometry(layer, x.shape);
  const m = layer.config.depthMultiplier as number;
  // The 3x3 / 5x5 layers of mobile networks widen q into scratch per call and run in the f32
  // kernel's order (depthwise_forward_i8_wide); other shapes read q in registers.
  const wide = usesWideDepthwiseI8(g, m);
  if (wide) needScratch(ctx, g.kh * g.kw * g.c * 4);
  p.emit(wide ? 'depthwise_forward_i8_wide' : 'depthwise_forward_i8', layer.name,
    { y: z, x: x.region, q, scale, ...(b !== undefined ? { b } : {}), ...(wide ? { wf: SCRATCH } : {}) },
    { ...(b !== undefined ? {} : { b: 0 }), ...g, m, lo, hi });
  if (clamp) return { region: z, shape };
  const y = activationForward(p, layer, node, z, shape, a.outputLogits, ctx.batch, true);
  return { region: y, shape, pre: y === z ? undefined : z };
}
