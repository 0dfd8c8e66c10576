// Activations in a program: the `activation` option of dense and convolution layers, and
// activation layers. relu and softmax have their own kernels; the rest go to act_forward /
// act_backward with a kind (host/layers/activations.ts).
import { ACTIVATION_KIND, activationAlpha, activationNeedsInput, type ActivationName } from '../layers/activations';
import type { GraphNode } from './graph';
import { sizeOf } from './graph';
import type { Layer } from '../layers/layer';
import { type BackwardArgs, last, type NodeValue, type ProgramBuilder, rowsOf } from './program';

function activationOf(layer: Layer): { name: ActivationName; alpha: number } {
  const name = layer.config.activation as ActivationName;
  const alpha = layer.kind === 'activation' ? (layer.config.alpha as number) : activationAlpha(name);
  return { name, alpha };
}

// A Softmax layer's axis other than the last (Keras's axis, 0 the batch) as the softmax_axis
// kernels' (outer, n, inner) view of the per-sample shape; null for the last axis.
export function softmaxInnerAxis(layer: Layer, shape: readonly number[]): { outer: number; n: number; inner: number } | null {
  const axis = layer.kind === 'activation' ? (layer.config.axis as number | undefined) ?? -1 : -1;
  const k = axis < 0 ? shape.length + axis : axis - 1;
  if (k === shape.length - 1) return null;
  return { outer: sizeOf(shape.slice(0, k)), n: shape[k], inner: sizeOf(shape.slice(k + 1)) };
}

// A last-axis softmax output, whose loss the fused softmax cross-entropy computes from the logits.
export function isSoftmaxOutput(node: GraphNode): boolean {
  const l = node.layer;
  return !!l && l.config.activation === 'softmax' && (l.kind === 'dense' || l.kind === 'conv2d' || l.kind === 'depthwiseConv2d' || l.kind === 'activation') &&
    softmaxInnerAxis(l, node.shape) === null;
}

// [lo, hi] of the activations that are a clamp, for kernels that apply it in their epilogue
// (depthwise_forward_clamp, conv2d_direct): linear, relu, relu6; null for the others.
export type Clamp = [lo: number, hi: number];
export function activationClamp(name: unknown): Clamp | null {
  if (name === 'linear') return [-Infinity, Infinity];
  if (name === 'relu') return [0, Infinity];
  if (name === 'relu6') return [0, 6];
  return null;
}

// Applies the activation to `z` (count floats per sample). Returns the output region: `z` itself
// when it can be overwritten, else a new one (the input is then kept for the backward pass).
export function activationForward(p: ProgramBuilder, layer: Layer, node: GraphNode, z: number, shape: number[], outputLogits: boolean, batch: number, inPlace: boolean): number {
  const { name, alpha } = activationOf(layer);
  const count = sizeOf(shape);
  if (name === 'linear' || (name === 'softmax' && outputLogits)) return z;
  const y = inPlace && !activationNeedsInput(name) ? z : p.activation(`${node.name}:act`, count * batch);
  if (name === 'relu') p.emit('relu_forward', layer.name, { y, x: z }, { count });
  else if (name === 'softmax' && softmaxInnerAxis(layer, shape)) p.emit('softmax_axis_forward', layer.name, { y, x: z }, softmaxInnerAxis(layer, shape)!);
  else if (name === 'softmax') p.emit('softmax_forward', layer.name, { y, x: z }, { rows: rowsOf(shape), n: last(shape) });
  else p.emit('act_forward', layer.name, { y, x: z }, { kind: ACTIVATION_KIND[name], count, alpha });
  return y;
}

// Writes (or accumulates into) dz the gradient through the activation, given dy.
export function activationBackward(p: ProgramBuilder, layer: Layer, dz: number, dy: number, v: NodeValue, accumulate: number): void {
  const { name, alpha } = activationOf(layer);
  const count = sizeOf(v.shape);
  const x = v.pre ?? v.region;
  if (name === 'relu') p.emit('relu_backward', layer.name, { dx: dz, dy, y: v.region }, { count, accumulate });
  else if (name === 'softmax' && softmaxInnerAxis(layer, v.shape)) {
    p.emit('softmax_axis_backward', layer.name, { dx: dz, dy, y: v.region }, { ...softmaxInnerAxis(layer, v.shape)!, accumulate });
  } else if (name === 'softmax') p.emit('softmax_backward', layer.name, { dx: dz, dy, y: v.region }, { rows: rowsOf(v.shape), n: last(v.shape), accumulate });
  else p.emit('act_backward', layer.name, { dx: dz, dy, x, y: v.region }, { kind: ACTIVATION_KIND[name], count, alpha, accumulate });
}

// Whether the layer's activation is the identity in this program (linear, or a softmax whose
// gradient the fused loss already gives).
export function activationIsIdentity(layer: Layer, fusedOutput: boolean): boolean {
  const name = layer.config.activation as ActivationName;
  return name === 'linear' || (name === 'softmax' && fusedOutput);
}

// The gradient of a dense or convolution layer's pre-activation: dy itself, or a new buffer.
export function gradThroughActivation(a: BackwardArgs): number {
  if (activationIsIdentity(a.layer, a.fusedOutput)) return a.dy;
  const dz = a.p.activation(`dz_${a.node.name}`, a.count * a.ctx.batch);
  activationBackward(a.p, a.layer, dz, a.dy, a.v, 0);
  return dz;
}
