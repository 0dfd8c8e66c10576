// The program builder and what lowering works with: regions referred to symbolically (region
// index, byte offset inside it; the plan compiler lays them out), the per-node values a forward
// leaves behind, the compile context, and the helpers that emit into gradient buffers. Backward ops
// write a gradient the first time a buffer receives one and accumulate afterwards, so fan-out in
// a DAG needs no extra pass.
import { GEMM_KC, GEMM_MR, GEMM_NR, gemmScratchBytes, q8PackedBytes } from './gemm-scratch';
import { InvalidArgumentError } from '../core/errors';
import type { Graph, GraphNode } from './graph';
import { sizeOf } from './graph';
import type { Layer } from '../layers/layer';
import type { OpName } from './ops';
import type { ChannelGather } from './channel-gather';
import type { DeferredDepthwise } from './sepconv';
import type { DeferredExpansion } from './expand-depthwise';

// forward: predict; evaluate: loss and metrics; train: one optimizer step; gradients: the loss's
// gradients with respect to every trainable weight and the input, without an update.
// prepare: what an inference plan derives from its weights once, whenever they change (packed
// GEMM panels, batch norm folded into a convolution); the executor runs it, not each predict.
export type ProgramName = 'train' | 'evaluate' | 'forward' | 'gradients' | 'init' | 'prepare';
export type RegionKind = 'static' | 'header' | 'program' | 'input' | 'labels' | 'param' | 'grad' | 'slot' | 'state' | 'scratch' | 'activation' | 'derived';

export interface Region {
  name: string;
  kind: RegionKind;
  offset: number;
  bytes: number;
  // Activations belong to one program and are alive from op live[0] to op live[1] (inclusive);
  // every other region is alive for the whole run of every program.
  program?: ProgramName;
  live?: [number, number];
  // Parameter, gradient, slot and state regions belong to a slab ('trainable', 'frozen', 'grads',
  // 'slot:m', 'state'): consecutive regions of one slab may be swept by one op.
  slab?: string;
}

// A pointer argument: a region, or a region and a byte offset inside it.
export type Ref = number | [number, number];

export interface SymbolicOp {
  op: OpName;
  layer: string;
  args: Record<string, number>;
  tail?: number[];
  refs: Record<string, Ref>;
}

export const align16 = (n: number) => Math.ceil(n / 16) * 16;

// Placeholder region index for the shared scratch region, resolved at layout.
export const SCRATCH = -2;

export class ProgramBuilder {
  readonly ops: SymbolicOp[] = [];
  // Activation regions the host reads after the run: alive until the program ends.
  readonly pinned: number[] = [];
  // Nodes whose work an earlier node's kernel already did (batch norm folded into a convolution,
  // ReLU applied in its epilogue): their forward emits nothing and passes the region on.
  readonly absorbed = new Set<number>();
  // Nodes whose output gradient the backward pass of this program computes (set before the
  // forward is lowered, so fusions that drop intermediate values can avoid them).
  readonly gradNodes = new Set<number>();
  // Non-trainable state that training-mode layers update (BatchNormalization's moving statistics):
  // state region -> the activation region holding its new value until commitState() copies it
  // back, after the step's finiteness checks, so that a failed step leaves the state untouched.
  readonly pendingState = new Map<number, { pending: number; floats: number; layer: string }>();
  constructor(readonly name: ProgramName, readonly regions: Region[]) {}

  activation(name: string, floats: number): number {
    this.regions.push({ name: `${this.name}:${name}`, kind: 'activation', offset: -1, bytes: align16(floats * 4), program: this.name });
    return this.regions.length - 1;
  }

  // Where a layer reads a state tensor's current value (its pending value if a node of the same
  // layer already updated it in this program) and where it writes the new one.
  updateState(state: number, floats: number, layer: string): { read: number; write: number } {
    const known = this.pendingState.get(state);
    if (known) return { read: known.pending, write: known.pending };
    const pending = this.activation(`pending ${this.regions[state].name}`, floats);
    this.pendingState.set(state, { pending, floats, layer });
    return { read: state, write: pending };
  }

  commitState(): void {
    for (const [state, { pending, floats, layer }] of this.pendingState) this.emit('commit_state', layer, { y: state, x: pending }, { count: floats });
  }

  emit(op: OpName, layer: string, refs: Record<string, Ref>, args: Record<string, number>, tail?: number[]): void {
    this.ops.push(tail ? { op, layer, refs, args, tail } : { op, layer, refs, args });
  }
}

// What a node's forward leaves behind in one program.
export interface NodeValue {
  region: number; // output (post-activation; logits for a fused softmax output)
  shape: number[]; // per sample
  pre?: number; // pre-activation, kept when the activation's backward needs its input
  mean?: number; // batch normalization: saved batch mean and 1/sqrt(var + eps)
  invstd?: number;
  mask?: number; // dropout mask
  argmax?: number; // max pooling: flat index of each output's maximum
  bnTraining?: boolean;
  // A re-layout planned away (host/compile/channel-gather.ts): region is -1, the bytes are where
  // the gather says; only re-layout consumers read it, through gatherOrForward.
  gather?: ChannelGather;
  // A ZeroPadding2D folded into its readers (host/compile/pad-fold.ts): region and shape are its
  // input's, and each reader pads by this much in its kernel.
  pad?: [[number, number], [number, number]];
  // A max pooling run by the add that alone reads it (host/compile/pool-add.ts): region is the
  // pooling's input, shape its output's; only that add reads it.
  pooledBy?: Record<string, number>;
  // A depthwise convolution run by the 1x1 convolution that alone reads it (host/compile/sepconv.ts):
  // region is the depthwise's input, shape its output's; only that convolution reads it.
  depthwise?: DeferredDepthwise;
  // A 1x1 convolution run by the depthwise convolution that alone reads it
  // (host/compile/expand-depthwise.ts): region is the 1x1's input, shape its output's; only that
  // depthwise convolution reads it (the nodes it absorbed pass it on).
  expand?: DeferredExpansion;
}

export interface CompileContext {
  graph: Graph;
  batch: number;
  regions: Region[];
  paramRegions: Map<Layer, number[]>; // layer -> region per weight (Keras order)
  gradRegions: Map<Layer, (number | null)[]>; // trainable layers: gradient region per weight
  gradWritten: Set<number>; // parameter-gradient regions already written this step
  // int8 kernel regions (q, rows * ch bytes) -> the region of their ch f32 scales.
  // absmax: the layer's inputs are quantized per row (Keras's AbsMaxQuantizer, gemm_q8: docs/int8.md).
  int8Kernels: Map<number, { scale: number; rows: number; ch: number; absmax: boolean }>;
  scratchBytes: number;
  convScratchLimit: number; // bytes of im2col columns a convolution may use
  fusedOutputs: Set<number>; // output nodes whose softmax + cross-entropy is computed from logits
  consumers: Map<number, number[]>; // node id -> ids of the nodes that read its output
  // Inference plans: the 'prepare' program, which writes 'derived' regions (weights packed into
  // GEMM panels, folded kernels) from the weights once; null where weights change every step.
  prepare: ProgramBuilder | null;
}

// A region that `prepare` derives from constant weights: alive for the whole run of every program.
export function derivedRegion(ctx: CompileContext, name: string, floats: number): number {
  ctx.regions.push({ name, kind: 'derived', offset: -1, bytes: align16(floats * 4) });
  return ctx.regions.length - 1;
}

// Floats of a (k, n) weight packed by gemm_pack_b (assembly/kernels/gemm-packed.ts).
export const packedFloats = (n: number, k: number) => k * Math.ceil(n / GEMM_NR) * GEMM_NR;

// Bytes of gemm_f32_packed's scratch for depth k: one packed band of a.
export const packedScratchBytes = (k: number) => 4 * Math.min(k, GEMM_KC) * GEMM_MR;

// The region holding weight w ((k, n), row stride rsb, column stride csb) packed into GEMM panels
// by `prepare`, or null when the plan has no prepare program or w is not a weight the plan keeps
// constant (an int8 kernel's per-run f32 copy). One packed copy per weight region.
export function packedWeight(ctx: CompileContext, layer: string, w: number, n: number, k: number, rsb = n, csb = 1): number | null {
  // An int8 kernel stays int8: its own kernels read it (packing it as f32 would undo the 4x).
  if (!ctx.prepare || ctx.int8Kernels.has(w)) return null;
  const kind = ctx.regions[w].kind;
  if (kind !== 'param' && kind !== 'derived') return null;
  const bp = derivedRegion(ctx, `${layer} packed ${ctx.regions[w].name}`, packedFloats(n, k));
  ctx.prepare.emit('pack_b', layer, { bp, b: w }, { n, k, rsb, csb });
  return bp;
}

// The region holding a 3x3 kernel w (3, 3, c, f) transformed for Winograd F(2x2, 3x3) by `prepare`
// (winograd_pack: 16 matrices (c, f) in GEMM panels, 16/9 of the kernel's packed size), or null
// when the plan has no prepare program or w is not a constant f32 weight.
export function winogradWeight(ctx: CompileContext, layer: string, w: number, c: number, f: number): number | null {
  if (!ctx.prepare || ctx.int8Kernels.has(w)) return null;
  const kind = ctx.regions[w].kind;
  if (kind !== 'param' && kind !== 'derived') return null;
  const u = derivedRegion(ctx, `${layer} winograd ${ctx.regions[w].name}`, 16 * packedFloats(f, c));
  needScratch(ctx, 4 * c * f);
  ctx.prepare.emit('winograd_pack', layer, { u, w, tmp: [SCRATCH, 0] }, { c, f });
  return u;
}

// The region holding int8 kernel q ((k, n) row-major) packed into GEMM panels at a byte a weight
// by `prepare` (gemm_pack_b_i8), or null when the plan has no prepare program or q is not an int8
// kernel the plan keeps constant. One packed copy per kernel region; its scales stay where they are.
export function packedInt8Weight(ctx: CompileContext, layer: string, q: number, n: number, k: number): number | null {
  if (!ctx.prepare || !ctx.int8Kernels.has(q) || ctx.regions[q].kind !== 'param') return null;
  const bp = derivedRegion(ctx, `${layer} packed ${ctx.regions[q].name}`, packedFloats(n, k) / 4);
  ctx.prepare.emit('pack_b_i8', layer, { bp, q }, { n, k, rsq: n });
  return bp;
}

// The region holding int8 kernel q ((k, n) row-major) in gemm_q8's k-pair panels (gemm_pack_b_q8,
// assembly/kernels/gemm-q8.ts): packed once by `prepare` in an inference plan, else per call into
// a region of the forward program (training plans: a frozen absmax base under a trainable head).
// Refuses a depth whose int32 sums could overflow (127 * 127 * k >= 2^31).
export function packedQ8Weight(ctx: CompileContext, p: ProgramBuilder, layer: string, q: number, n: number, k: number): number {
  if (127 * 127 * k >= 2 ** 31) {
    throw new InvalidArgumentError(`layer ${layer}: an absmax int8 product over ${k} inputs can overflow its int32 sums (at most ${Math.floor((2 ** 31 - 1) / (127 * 127))}); quantize it with activationQuantizer: null`);
  }
  const floats = q8PackedBytes(n, k) / 4;
  if (ctx.prepare && ctx.regions[q].kind === 'param') {
    const bp = derivedRegion(ctx, `${layer} q8 panels ${ctx.regions[q].name}`, floats);
    ctx.prepare.emit('pack_b_q8', layer, { bp, q }, { n, k, rsq: n });
    return bp;
  }
  const bp = p.activation(`${layer} q8 panels`, floats);
  p.emit('pack_b_q8', layer, { bp, q }, { n, k, rsq: n });
  return bp;
}

// The region holding int8 kernel q widened to f32 (exact, 4 bytes a weight) by `prepare`
// (widen_i8), for the direct int8 convolution of a few-channel layer (conv2d_direct_i8: a few KB),
// or null when the plan has no prepare program or q is not an int8 kernel the plan keeps constant.
export function widenedInt8Weight(ctx: CompileContext, layer: string, q: number): number | null {
  const k = ctx.int8Kernels.get(q);
  if (!ctx.prepare || !k || ctx.regions[q].kind !== 'param') return null;
  const y = derivedRegion(ctx, `${layer} widened ${ctx.regions[q].name}`, k.rows * k.ch);
  ctx.prepare.emit('widen_i8', layer, { y, q }, { count: k.rows * k.ch });
  return y;
}

// What a layer record's forward lowering gets: the node, its input values, and where its
// weights live. `training` selects Keras training-mode behaviour (batch statistics for trainable
// BatchNormalization, active dropout); `outputLogits` leaves a softmax output as logits for the
// fused loss.
export interface ForwardArgs {
  ctx: CompileContext;
  p: ProgramBuilder;
  node: GraphNode;
  layer: Layer;
  inputs: NodeValue[];
  x: NodeValue; // inputs[0]
  shape: number[]; // output shape per sample
  count: number; // output floats per sample
  params: number[]; // region per weight (Keras order)
  training: boolean;
  outputLogits: boolean;
}

// What a layer record's backward lowering gets: dy, the gradient of the node's output.
// needsInputGrad: some node upstream has trainable weights. fusedOutput: dy is already the
// gradient of the logits.
export interface BackwardArgs {
  ctx: CompileContext;
  p: ProgramBuilder;
  g: GradState;
  node: GraphNode;
  layer: Layer;
  values: NodeValue[];
  v: NodeValue; // this node's forward value
  inputNodes: GraphNode[];
  input: GraphNode; // inputNodes[0]
  x: NodeValue; // the value of inputNodes[0]
  count: number; // output floats per sample
  grads: (number | null)[] | undefined; // gradient region per weight, for a trainable layer
  params: number[];
  needsInputGrad: boolean;
  dy: number;
  fusedOutput: boolean;
}

export const rowsOf = (shape: readonly number[]) => sizeOf(shape.slice(0, -1));
export const last = (shape: readonly number[]) => shape[shape.length - 1];

export function needScratch(ctx: CompileContext, bytes: number): void {
  ctx.scratchBytes = Math.max(ctx.scratchBytes, align16(bytes));
}

export function gemm(ctx: CompileContext, p: ProgramBuilder, layer: string, c: number, a: number, b: number,
  dims: { m: number; n: number; k: number; rsa: number; csa: number; rsb: number; csb: number; ldc: number; accumulate: number; batchFlags: number }): void {
  const bm = dims.m * (dims.batchFlags & 1 ? ctx.batch : 1);
  const bn = dims.n * (dims.batchFlags & 2 ? ctx.batch : 1);
  const bk = dims.k * (dims.batchFlags & 4 ? ctx.batch : 1);
  needScratch(ctx, gemmScratchBytes(bm, bn, bk));
  const int8 = ctx.int8Kernels.get(b);
  if (int8) {
    // A frozen int8 kernel is only ever b of a forward product x.W (row-major, per-sample rows).
    if (dims.csb !== 1 || dims.batchFlags !== 1) throw new Error(`gemm: int8 kernel of ${layer} read as other than x.W`);
    const { m, n, k, rsa, csa, rsb, ldc, accumulate } = dims;
    p.emit('gemm_i8', layer, { c, a, q: b, scale: int8.scale, pack: SCRATCH }, { m, n, k, rsa, csa, rsq: rsb, ldc, accumulate });
    return;
  }
  p.emit('gemm', layer, { c, a, b, pack: SCRATCH }, dims);
}

export function weightRegions(layer: Layer, regions: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  layer.weightSpecs.forEach((s, i) => { out[s.name] = regions[i]; });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Gradient buffers

export interface GradState {
  regions: Map<number, number>; // node id -> gradient region of its output
  written: Set<number>; // gradient regions already written (later contributions accumulate)
}

export function gradTarget(p: ProgramBuilder, g: GradState, node: GraphNode, floats: number): { region: number; accumulate: number } {
  let region = g.regions.get(node.id);
  if (region === undefined) {
    region = p.activation(`d${node.name}`, floats);
    g.regions.set(node.id, region);
  }
  const accumulate = g.written.has(region) ? 1 : 0;
  g.written.add(region);
  return { region, accumulate };
}

export function outputGrad(p: ProgramBuilder, g: GradState, node: GraphNode, floats: number): number {
  return gradTarget(p, g, node, floats).region;
}

// The gradient buffer of the node's first input, sized for that input.
export function inputGrad(a: BackwardArgs): { region: number; accumulate: number } {
  return gradTarget(a.p, a.g, a.input, sizeOf(a.x.shape) * a.ctx.batch);
}

// Passes dy on to an input unchanged (reshape, add, identity dropout): the input's gradient
// becomes the same buffer when it has none yet, else dy is added to it.
export function passGradient(ctx: CompileContext, p: ProgramBuilder, g: GradState, layer: string, input: GraphNode, dy: number, count: number): void {
  if (!g.regions.has(input.id)) {
    g.regions.set(input.id, dy);
    g.written.add(dy);
    return;
  }
  const dx = gradTarget(p, g, input, count * ctx.batch);
  p.emit('copy', layer, { y: dx.region, x: dy }, { count, accumulate: dx.accumulate });
}

export function paramGrad(ctx: CompileContext, region: number): { region: number; accumulate: number } {
  const accumulate = ctx.gradWritten.has(region) ? 1 : 0;
  ctx.gradWritten.add(region);
  return { region, accumulate };
}
