// Lowering: the walk from graph nodes to program ops. What each layer kind emits, forward and
// backward, is in its record (host/layers/<kind>.ts); here is the dispatch and the fusion across
// layers: an inference-mode batch norm folded into the convolution it alone reads, and a ReLU and
// 2x2 max pooling after that run in the convolution's epilogue; a ReLU / ReLU6 activation layer
// after a convolution or depthwise convolution (no gradient through them) runs in its epilogue;
// x * sigmoid(x) (PyTorch's SiLU as ONNX exports it: Sigmoid, then Mul) runs as one swish pass;
// a linear convolution read only by a global average pooling runs as one conv_gap (conv-gap.ts);
// a max pooling read only by an add runs inside it, with a ReLU after it (pool-add.ts); a depthwise
// convolution read only by a 1x1 convolution runs inside it, a band of rows at a time (sepconv.ts).
import { type GraphNode, isOutput, sizeOf } from './graph';
import type { Layer } from '../layers/layer';
import { conv2dForward } from '../layers/conv2d';
import { activationClamp, activationForward, type Clamp } from './activation-lowering';
import { ACTIVATION_KIND } from '../layers/activations';
import { convChunk, type ConvGeometry, geometry, isPointwise, usesDirectConv } from './conv-lowering';
import { conv2dPackBytes, convColsBytes } from './conv-scratch';
import { gatherForward, materializeInputs } from './channel-gather';
import { foldsIntoReaders, type Pads2d, withPadding } from './pad-fold';
import { convGapForward } from './conv-gap';
import { deferredPool, poolAddForward } from './pool-add';
import { deferredDepthwise } from './sepconv';
import {
  align16, type BackwardArgs, type CompileContext, derivedRegion, type ForwardArgs, type GradState, last, needScratch, type NodeValue,
  type ProgramBuilder, SCRATCH, weightRegions,
} from './program';

// What plan.ts builds programs from (the builder, loss ops and softmax detection live apart).
export {
  align16, type CompileContext, type GradState, type NodeValue, outputGrad, ProgramBuilder, type ProgramName, type Ref, type Region,
  type RegionKind, SCRATCH,
} from './program';
export { accuracyOp, lossOps } from './loss-ops';
export { isSoftmaxOutput } from './activation-lowering';

// Emits one node's forward pass. `training` selects Keras training-mode behaviour (batch
// statistics for trainable BatchNormalization, active dropout); `outputLogits` leaves a softmax
// output as logits for the fused loss.
export function forwardNode(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, given: NodeValue[], training: boolean, outputLogits: boolean): NodeValue {
  // Channel re-layouts that stay gathers, or write one from its sources (channel-gather.ts).
  const gathered = gatherForward(ctx, p, node, given);
  if (gathered) return gathered;
  const inputs = materializeInputs(ctx, p, node, given);
  // A zero pad that its convolutions do in their kernels (pad-fold.ts).
  if (foldsIntoReaders(ctx, p, node, inputs[0])) return { region: inputs[0].region, shape: inputs[0].shape, pad: node.layer!.config.padding as Pads2d };
  const pad = inputs[0]?.pad;
  const layer = pad ? withPadding(node.layer!, pad, inputs[0].shape[0], inputs[0].shape[1]) : node.layer!;
  // A node whose work an earlier kernel already did passes its input's region on.
  if (p.absorbed.has(node.id)) return { region: inputs[0].region, shape: node.shape };
  const a: ForwardArgs = {
    ctx, p, node, layer, inputs, x: inputs[0], shape: node.shape, count: sizeOf(node.shape),
    params: readsInt8(layer) ? ctx.paramRegions.get(node.layer!) ?? [] : floatParams(ctx, p, node.layer!), training, outputLogits,
  };
  // A residual block's max pooling run by its add (pool-add.ts); a depthwise convolution run by
  // the 1x1 convolution after it (sepconv.ts).
  const deferred = deferredPool(a) ?? poolAddForward(a) ?? deferredDepthwise(a);
  if (deferred) return deferred;
  if (swishMultiply(ctx, p, node)) return { region: a.x.region, shape: node.shape };
  if (layer.kind === 'multiply' && node.inputs.some((i) => swishMultiply(ctx, p, ctx.graph.nodes[i]))) return swishForward(a);
  if (layer.kind === 'conv2d' && layer.config.groups === 1) return convGapForward(a) ?? convForwardWithFusion(a);
  if (layer.kind === 'depthwiseConv2d') return depthwiseForwardWithClamp(a);
  return layer.def.forward(a);
}

// Emits one node's backward pass, given the gradient dy of its output. needsInputGrad: some node
// upstream has trainable weights. fusedOutput: dy is already the gradient of the logits.
export function backwardNode(ctx: CompileContext, p: ProgramBuilder, g: GradState, node: GraphNode, values: NodeValue[],
  needsInputGrad: boolean, dy: number, fusedOutput: boolean): void {
  const layer = node.layer!;
  const v = values[node.id];
  const inputNodes = node.inputs.map((i) => ctx.graph.nodes[i]);
  const a: BackwardArgs = {
    ctx, p, g, node, layer, values, v, inputNodes, input: inputNodes[0], x: values[inputNodes[0].id], count: sizeOf(v.shape),
    grads: ctx.gradRegions.get(layer), params: needsInputGrad ? floatParams(ctx, p, layer) : ctx.paramRegions.get(layer) ?? [], needsInputGrad, dy, fusedOutput,
  };
  layer.def.backward(a);
}

// Layers whose forward kernels read an int8 kernel themselves (gemm_i8, conv2d_forward_i8,
// depthwise_forward_i8; docs/int8.md): their forward gets the int8 region as it is.
function readsInt8(layer: Layer): boolean {
  return layer.kind === 'dense' || layer.kind === 'depthwiseConv2d' || (layer.kind === 'conv2d' && layer.config.groups === 1);
}

// A layer's weight regions, an int8 kernel unpacked into a f32 activation first (alive from here
// to the layer's kernels that read it): for the kernels with no int8 form (backward to a
// trainable layer below, a batch norm folded into the kernel, grouped convolution).
function floatParams(ctx: CompileContext, p: ProgramBuilder, layer: Layer): number[] {
  return (ctx.paramRegions.get(layer) ?? []).map((r) => floatKernel(ctx, p, layer, r));
}

function floatKernel(ctx: CompileContext, p: ProgramBuilder, layer: Layer, r: number): number {
  const k = ctx.int8Kernels.get(r);
  if (!k) return r;
  const y = p.activation(`${layer.name} kernel f32`, k.rows * k.ch);
  p.emit('dequantize_i8', layer.name, { y, q: r, scale: k.scale }, { rows: k.rows, ch: k.ch });
  return y;
}

// ---------------------------------------------------------------------------------------------
// Convolution fusion

// An inference-mode batch norm that alone reads this linear convolution is folded into its
// weights, and a ReLU that alone reads that runs in the convolution's epilogue: two passes over
// the output saved. Backward still sees every node (the folded copy is forward-only).
function convForwardWithFusion(a: ForwardArgs): NodeValue {
  const { ctx, p, node, layer, x } = a;
  let [w, b] = a.params;
  const g = geometry(layer, x.shape);
  const f = last(a.shape);
  const { chunkRows, colsBytes } = convChunk(ctx, g, f);
  // The direct kernel and the packed-weights ones (an inference plan's constant kernel, f32 or
  // int8) take any clamp; an int8 kernel unpacked for a batch norm fold (conv2d_forward) does not.
  const int8 = ctx.int8Kernels.has(w);
  const packable = ctx.prepare !== null && ctx.regions[w].kind === 'param';
  const bnNode = fusibleBatchNorm(ctx, node, a.training);
  const anyClamp = int8 ? packable && !bnNode : usesDirectConv(g, f) || packable;
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
function fusibleBatchNorm(ctx: CompileContext, node: GraphNode, training: boolean): GraphNode | null {
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
function depthwiseForwardWithClamp(a: ForwardArgs): NodeValue {
  const { ctx, p, node, layer, x, shape, count } = a;
  const own = layer.config.activation === 'linear' ? null : activationClamp(layer.config.activation);
  const clamp = own ?? (layer.config.activation === 'linear' ? absorbClamp(ctx, p, node, true) : null);
  const [w, b] = a.params;
  const int8 = ctx.int8Kernels.get(w);
  if (int8) return depthwiseForwardI8(a, w, int8.scale, b, clamp);
  if (!clamp) return layer.def.forward(a);
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
  const wide = m === 1 && g.dh === 1 && g.dw_ === 1 && g.kh === g.kw && (g.kh === 3 || g.kh === 5);
  if (wide) needScratch(ctx, g.kh * g.kw * g.c * 4);
  p.emit(wide ? 'depthwise_forward_i8_wide' : 'depthwise_forward_i8', layer.name,
    { y: z, x: x.region, q, scale, ...(b !== undefined ? { b } : {}), ...(wide ? { wf: SCRATCH } : {}) },
    { ...(b !== undefined ? {} : { b: 0 }), ...g, m, lo, hi });
  if (clamp) return { region: z, shape };
  const y = activationForward(p, layer, node, z, shape, a.outputLogits, ctx.batch, true);
  return { region: y, shape, pre: y === z ? undefined : z };
}

// ---------------------------------------------------------------------------------------------
// Swish fusion

// The multiply node that reads `node` and node's own input, when `node` is a sigmoid activation
// layer that only it reads (x * sigmoid(x), EfficientNet's SiLU as PyTorch exports it to ONNX)
// and no gradient flows through either in this program. The sigmoid then emits nothing and
// passes x on; the multiply runs act_forward swish on x instead of a sigmoid pass and a mul pass
// over its output (the same bits: swish is x * the sigmoid's own expression, in f32).
function swishMultiply(ctx: CompileContext, p: ProgramBuilder, node: GraphNode): GraphNode | null {
  const l = node.layer;
  if (l?.kind !== 'activation' || l.config.activation !== 'sigmoid' || isOutput(ctx.graph, node.id) || p.gradNodes.has(node.id)) return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const m = ctx.graph.nodes[next[0]];
  if (m.layer?.kind !== 'multiply' || m.inputs.length !== 2 || p.gradNodes.has(m.id)) return null;
  const [a, b] = m.inputs;
  return (a === node.id && b === node.inputs[0]) || (b === node.id && a === node.inputs[0]) ? m : null;
}

// The multiply of swishMultiply: both its inputs' regions are x's (the sigmoid passed x on).
function swishForward(a: ForwardArgs): NodeValue {
  const { ctx, p, node, layer, x, shape, count } = a;
  const y = p.activation(node.name, count * ctx.batch);
  p.emit('act_forward', layer.name, { y, x: x.region }, { kind: ACTIVATION_KIND.swish, count, alpha: 0 });
  return { region: y, shape };
}
