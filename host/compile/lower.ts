// Lowering: the walk from graph nodes to program ops. What each layer kind emits, forward and
// backward, is in its record (host/layers/<kind>.ts); here is the dispatch and the one fusion that
// no record starts: x * sigmoid(x) (PyTorch's SiLU as ONNX exports it: Sigmoid, then Mul) runs as
// one swish pass. The fusions that start at a layer are reached through its record, so a bundle
// without that kind has none of their code: a convolution's batch norm, activation and pooling
// (conv-fusion.ts), a linear convolution read only by a global average pooling (conv-gap.ts), a
// max pooling run inside the add that alone reads it (pool-add.ts), a depthwise convolution run
// inside the 1x1 convolution that alone reads it (sepconv.ts), a zero pad folded into the
// convolutions that read it (pad-fold.ts), channel re-layouts planned as gathers (channel-gather.ts).
import { type GraphNode, isOutput, sizeOf } from './graph';
import type { Layer } from '../layers/layer';
import { ACTIVATION_KIND } from '../layers/activations';
import { type BackwardArgs, type CompileContext, type ForwardArgs, type GradState, type NodeValue, type ProgramBuilder } from './program';

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
  const layer = node.layer!;
  // A channel gather (channel-gather.ts) is made only where every reader is a re-layout, whose
  // record reads it (or writes its bytes first); any other layer reads regions.
  if (!layer.def.readsGathers && given.some((v) => v.gather)) throw new Error(`internal: ${node.name} (${layer.kind}) was given a channel gather`);
  // A node whose work an earlier kernel already did passes its input's region on (and a deferred
  // 1x1 convolution, expand-depthwise.ts).
  if (p.absorbed.has(node.id)) return { region: given[0].region, shape: node.shape, ...(given[0].expand ? { expand: given[0].expand } : {}) };
  if (layer.kind !== 'depthwiseConv2d' && layer.kind !== 'zeroPadding2d' && given.some((v) => v.expand)) throw new Error(`internal: ${node.name} (${layer.kind}) was given a deferred 1x1 convolution`);
  const a: ForwardArgs = {
    ctx, p, node, layer, inputs: given, x: given[0], shape: node.shape, count: sizeOf(node.shape),
    params: readsInt8(layer) ? ctx.paramRegions.get(layer) ?? [] : floatParams(ctx, p, layer), training, outputLogits,
  };
  if (swishMultiply(ctx, p, node)) return { region: a.x.region, shape: node.shape };
  if (layer.kind === 'multiply' && node.inputs.some((i) => swishMultiply(ctx, p, ctx.graph.nodes[i]))) return swishForward(a);
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

export function floatKernel(ctx: CompileContext, p: ProgramBuilder, layer: Layer, r: number): number {
  const k = ctx.int8Kernels.get(r);
  if (!k) return r;
  const y = p.activation(`${layer.name} kernel f32`, k.rows * k.ch);
  p.emit('dequantize_i8', layer.name, { y, q: r, scale: k.scale }, { rows: k.rows, ch: k.ch });
  return y;
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
