// Lowering: what each layer kind emits into a program, forward and backward. Ops refer to regions
// symbolically (region index, byte offset inside it); the plan compiler lays the regions out and
// resolves them. Backward ops write a gradient the first time a buffer receives one and
// accumulate afterwards, so fan-out in a DAG needs no extra pass.
import { ACTIVATION_KIND, activationAlpha, activationNeedsInput, type ActivationName } from '../layers/activations';
import { conv2dOutputSize, conv2dPackBytes, convColsBytes } from './conv-scratch';
import { gemmScratchBytes } from './gemm-scratch';
import type { Graph, GraphNode } from './graph';
import { sizeOf } from './graph';
import type { Layer } from '../layers/layer';
import { type LossConfig, isCategorical, labelsAreSparse } from '../training/losses';
import type { OpName } from './ops';

// forward: predict; evaluate: loss and metrics; train: one optimizer step; gradients: the loss's
// gradients with respect to every trainable weight and the input, without an update.
export type ProgramName = 'train' | 'evaluate' | 'forward' | 'gradients' | 'init';
export type RegionKind = 'static' | 'header' | 'program' | 'input' | 'labels' | 'param' | 'grad' | 'slot' | 'state' | 'scratch' | 'activation';

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
  constructor(readonly name: ProgramName, readonly regions: Region[]) {}

  activation(name: string, floats: number): number {
    this.regions.push({ name: `${this.name}:${name}`, kind: 'activation', offset: -1, bytes: align16(floats * 4), program: this.name });
    return this.regions.length - 1;
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
}

export interface CompileContext {
  graph: Graph;
  batch: number;
  regions: Region[];
  paramRegions: Map<Layer, number[]>; // layer -> region per weight (Keras order)
  gradRegions: Map<Layer, (number | null)[]>; // trainable layers: gradient region per weight
  gradWritten: Set<number>; // parameter-gradient regions already written this step
  scratchBytes: number;
  convScratchLimit: number; // bytes of im2col columns a convolution may use
  fuseSoftmax: boolean; // output softmax + cross-entropy computed from logits
  consumers: Map<number, number[]>; // node id -> ids of the nodes that read its output
}

const rowsOf = (shape: readonly number[]) => sizeOf(shape.slice(0, -1));
const last = (shape: readonly number[]) => shape[shape.length - 1];

export function isSoftmaxOutput(node: GraphNode): boolean {
  const l = node.layer;
  return !!l && l.config.activation === 'softmax' && (l.kind === 'dense' || l.kind === 'conv2d' || l.kind === 'depthwiseConv2d' || l.kind === 'activation');
}

function needScratch(ctx: CompileContext, bytes: number): void {
  ctx.scratchBytes = Math.max(ctx.scratchBytes, align16(bytes));
}

function gemm(ctx: CompileContext, p: ProgramBuilder, layer: string, c: number, a: number, b: number,
  dims: { m: number; n: number; k: number; rsa: number; csa: number; rsb: number; csb: number; ldc: number; accumulate: number; batchFlags: number }): void {
  const bm = dims.m * (dims.batchFlags & 1 ? ctx.batch : 1);
  const bn = dims.n * (dims.batchFlags & 2 ? ctx.batch : 1);
  const bk = dims.k * (dims.batchFlags & 4 ? ctx.batch : 1);
  needScratch(ctx, gemmScratchBytes(bm, bn, bk));
  p.emit('gemm', layer, { c, a, b, pack: SCRATCH }, dims);
}

// ---------------------------------------------------------------------------------------------
// Activations (the `activation` option of dense and convolution layers, and activation layers)

function activationOf(layer: Layer): { name: ActivationName; alpha: number } {
  const name = layer.config.activation as ActivationName;
  const alpha = layer.kind === 'activation' ? (layer.config.alpha as number) : activationAlpha(name);
  return { name, alpha };
}

// Applies the activation to `z` (count floats per sample). Returns the output region: `z` itself
// when it can be overwritten, else a new one (the input is then kept for the backward pass).
function activationForward(p: ProgramBuilder, layer: Layer, node: GraphNode, z: number, shape: number[], outputLogits: boolean, batch: number, inPlace: boolean): number {
  const { name, alpha } = activationOf(layer);
  const count = sizeOf(shape);
  if (name === 'linear' || (name === 'softmax' && outputLogits)) return z;
  const y = inPlace && !activationNeedsInput(name) ? z : p.activation(`${node.name}:act`, count * batch);
  if (name === 'relu') p.emit('relu_forward', layer.name, { y, x: z }, { count });
  else if (name === 'softmax') p.emit('softmax_forward', layer.name, { y, x: z }, { rows: rowsOf(shape), n: last(shape) });
  else p.emit('act_forward', layer.name, { y, x: z }, { kind: ACTIVATION_KIND[name], count, alpha });
  return y;
}

// Writes (or accumulates into) dz the gradient through the activation, given dy.
function activationBackward(p: ProgramBuilder, layer: Layer, dz: number, dy: number, v: NodeValue, accumulate: number): void {
  const { name, alpha } = activationOf(layer);
  const count = sizeOf(v.shape);
  const x = v.pre ?? v.region;
  if (name === 'relu') p.emit('relu_backward', layer.name, { dx: dz, dy, y: v.region }, { count, accumulate });
  else if (name === 'softmax') p.emit('softmax_backward', layer.name, { dx: dz, dy, y: v.region }, { rows: rowsOf(v.shape), n: last(v.shape), accumulate });
  else p.emit('act_backward', layer.name, { dx: dz, dy, x, y: v.region }, { kind: ACTIVATION_KIND[name], count, alpha, accumulate });
}

// ---------------------------------------------------------------------------------------------
// Convolution geometry and scratch

interface ConvGeometry {
  h: number; w_: number; c: number; kh: number; kw: number; sh: number; sw: number; dh: number; dw_: number;
  pt: number; pl: number; oh: number; ow: number;
}

function geometry(layer: Layer, inShape: number[]): ConvGeometry {
  const [h, w, c] = inShape;
  const [kh, kw] = layer.config.kernelSize as number[];
  const [sh, sw] = layer.config.strides as number[];
  const [dh, dw] = (layer.config.dilationRate as number[] | undefined) ?? [1, 1];
  const pad = layer.config.padding as 'same' | 'valid';
  const y = conv2dOutputSize(h, kh, sh, dh, pad);
  const x = conv2dOutputSize(w, kw, sw, dw, pad);
  return { h, w_: w, c, kh, kw, sh, sw, dh, dw_: dw, pt: y.padBefore, pl: x.padBefore, oh: y.out, ow: x.out };
}

// Output positions per im2col chunk: as many as fit the scratch limit (a multiple of 4, the GEMM
// tile height), at least 4. The scratch holds the columns, then the GEMM packing buffer.
function convChunk(ctx: CompileContext, g: ConvGeometry, f: number): { chunkRows: number; colsBytes: number } {
  const k = g.kh * g.kw * g.c;
  const rows = ctx.batch * g.oh * g.ow;
  const direct = g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.pt === 0 && g.pl === 0;
  let chunkRows = direct ? rows : Math.min(rows, Math.max(4, Math.floor(ctx.convScratchLimit / (4 * k) / 4) * 4));
  if (chunkRows < 1) chunkRows = 1;
  const colsBytes = direct ? 0 : align16(convColsBytes(chunkRows, g.kh, g.kw, g.c));
  needScratch(ctx, colsBytes + conv2dPackBytes(chunkRows, g.kh, g.kw, g.c, f));
  return { chunkRows, colsBytes };
}

// ---------------------------------------------------------------------------------------------
// Forward

// Emits one node's forward pass. `training` selects Keras training-mode behaviour (batch
// statistics for trainable BatchNormalization, active dropout); `outputLogits` leaves a softmax
// output as logits for the fused loss.
export function forwardNode(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, inputs: NodeValue[], training: boolean, outputLogits: boolean): NodeValue {
  const layer = node.layer!;
  const x = inputs[0];
  const shape = node.shape;
  const count = sizeOf(shape);
  const B = ctx.batch;
  const params = ctx.paramRegions.get(layer) ?? [];
  switch (layer.kind) {
    case 'dense': {
      const [w, b] = params;
      const rows = rowsOf(shape);
      const features = last(shape);
      const z = p.activation(node.name, count * B);
      if (b !== undefined) p.emit('bias_fill', layer.name, { y: z, b }, { rows, n: features });
      gemm(ctx, p, layer.name, z, x.region, w, {
        m: rows, n: features, k: last(x.shape), rsa: last(x.shape), csa: 1, rsb: features, csb: 1, ldc: features,
        accumulate: b !== undefined ? 1 : 0, batchFlags: 1,
      });
      const y = activationForward(p, layer, node, z, shape, outputLogits, B, true);
      return { region: y, shape, pre: y === z ? undefined : z };
    }
    case 'conv2d': {
      let [w, b] = params;
      const g = geometry(layer, x.shape);
      const f = last(shape);
      const { chunkRows, colsBytes } = convChunk(ctx, g, f);
      // An inference-mode batch norm that alone reads this linear convolution is folded into its
      // weights, and a ReLU that alone reads that runs in the convolution's epilogue: two passes
      // over the output saved. Backward still sees every node (the folded copy is forward-only).
      const bnNode = fusibleBatchNorm(ctx, node, training);
      let relu = 0;
      let pool: GraphNode | null = null;
      let chunk = chunkRows;
      if (bnNode) {
        const bn = weightRegions(bnNode.layer!, ctx.paramRegions.get(bnNode.layer!)!);
        const k = g.kh * g.kw * g.c;
        const wf = p.activation(`${node.name}:folded_kernel`, k * f);
        const bf = p.activation(`${node.name}:folded_bias`, f);
        p.emit('bn_fold', bnNode.layer!.name, {
          wf, bf, w, ...(b !== undefined ? { b } : {}), movingMean: bn.moving_mean, movingVar: bn.moving_variance,
          ...(bn.gamma !== undefined ? { gamma: bn.gamma } : {}), ...(bn.beta !== undefined ? { beta: bn.beta } : {}),
        }, { ...(b !== undefined ? {} : { b: 0 }), ...(bn.gamma !== undefined ? {} : { gamma: 0 }), ...(bn.beta !== undefined ? {} : { beta: 0 }), k, f, epsilon: bnNode.layer!.config.epsilon as number });
        p.absorbed.add(bnNode.id);
        [w, b] = [wf, bf];
        const next = ctx.consumers.get(bnNode.id) ?? [];
        const r = next.length === 1 ? ctx.graph.nodes[next[0]] : null;
        if (r && r.layer?.kind === 'activation' && r.layer.config.activation === 'relu' && r.id !== ctx.graph.output) {
          p.absorbed.add(r.id);
          relu = 1;
          pool = fusiblePool(ctx, p, node, r, g);
        }
      }
      if (pool) {
        // conv -> BN -> ReLU -> 2x2 max pooling with no gradient through any of them: each chunk
        // is pooled in cache and only the pooled output is written. Chunks hold whole pairs of
        // output rows.
        p.absorbed.add(pool.id);
        const pairRows = 2 * g.ow;
        chunk = Math.max(pairRows, Math.floor(chunkRows / pairRows) * pairRows);
        const cols = align16(convColsBytes(chunk, g.kh, g.kw, g.c));
        const pack = align16(conv2dPackBytes(chunk, g.kh, g.kw, g.c, f));
        needScratch(ctx, cols + pack + chunk * f * 4);
        const pooled = p.activation(`${pool.name}`, (count / 4) * B);
        p.emit('conv2d_forward', layer.name, {
          y: pooled, x: x.region, w, ...(b !== undefined ? { b } : {}), cols: [SCRATCH, 0], pack: [SCRATCH, cols], chunkOut: [SCRATCH, cols + pack],
        }, { ...(b !== undefined ? {} : { b: 0 }), ...g, f, chunkRows: chunk, relu: 1, pool: 1 });
        return { region: pooled, shape };
      }
      const z = p.activation(node.name, count * B);
      p.emit('conv2d_forward', layer.name, { y: z, x: x.region, w, ...(b !== undefined ? { b } : {}), cols: [SCRATCH, 0], pack: [SCRATCH, colsBytes] },
        { ...(b !== undefined ? {} : { b: 0 }), ...g, f, chunkRows: chunk, relu, pool: 0, chunkOut: 0 });
      const y = activationForward(p, layer, node, z, shape, outputLogits, B, true);
      return { region: y, shape, pre: y === z ? undefined : z };
    }
    case 'depthwiseConv2d': {
      const [w, b] = params;
      const g = geometry(layer, x.shape);
      const z = p.activation(node.name, count * B);
      p.emit('depthwise_forward', layer.name, { y: z, x: x.region, w, ...(b !== undefined ? { b } : {}) },
        { ...(b !== undefined ? {} : { b: 0 }), ...g, m: layer.config.depthMultiplier as number });
      const y = activationForward(p, layer, node, z, shape, outputLogits, B, true);
      return { region: y, shape, pre: y === z ? undefined : z };
    }
    case 'maxPooling2d': {
      if (p.absorbed.has(node.id)) return { region: x.region, shape };
      const g = geometry(layer, x.shape);
      const { dh, dw_, ...pool } = g;
      void dh; void dw_;
      const y = p.activation(node.name, count * B);
      const argmax = p.activation(`${node.name}:argmax`, count * B);
      p.emit('maxpool_forward', layer.name, { y, argmax, x: x.region }, pool);
      return { region: y, shape, argmax };
    }
    case 'averagePooling2d': {
      const { dh, dw_, ...pool } = geometry(layer, x.shape);
      void dh; void dw_;
      const y = p.activation(node.name, count * B);
      p.emit('avgpool_forward', layer.name, { y, x: x.region }, pool);
      return { region: y, shape };
    }
    case 'globalAveragePooling2d': {
      const y = p.activation(node.name, count * B);
      p.emit('gap_forward', layer.name, { y, x: x.region }, { hw: x.shape[0] * x.shape[1], c: x.shape[2] });
      return { region: y, shape };
    }
    case 'flatten':
    case 'reshape':
      return { region: x.region, shape }; // same bytes, another shape
    case 'batchNormalization': {
      if (p.absorbed.has(node.id)) return { region: x.region, shape, bnTraining: false };
      const c = last(shape);
      const rows = rowsOf(shape);
      const named = weightRegions(layer, params);
      const y = p.activation(node.name, count * B);
      const bnTraining = training && layer.trainable;
      if (bnTraining) {
        const mean = p.activation(`${node.name}:mean`, c);
        const invstd = p.activation(`${node.name}:invstd`, c);
        p.emit('bn_forward_train', layer.name, {
          y, mean, invstd, movingMean: named.moving_mean, movingVar: named.moving_variance, x: x.region,
          ...(named.gamma !== undefined ? { gamma: named.gamma } : {}), ...(named.beta !== undefined ? { beta: named.beta } : {}),
        }, { ...(named.gamma !== undefined ? {} : { gamma: 0 }), ...(named.beta !== undefined ? {} : { beta: 0 }), rows, c, momentum: layer.config.momentum as number, epsilon: layer.config.epsilon as number });
        return { region: y, shape, mean, invstd, bnTraining };
      }
      p.emit('bn_forward_infer', layer.name, {
        y, x: x.region, movingMean: named.moving_mean, movingVar: named.moving_variance,
        ...(named.gamma !== undefined ? { gamma: named.gamma } : {}), ...(named.beta !== undefined ? { beta: named.beta } : {}),
      }, { ...(named.gamma !== undefined ? {} : { gamma: 0 }), ...(named.beta !== undefined ? {} : { beta: 0 }), rows, c, epsilon: layer.config.epsilon as number });
      return { region: y, shape, bnTraining: false };
    }
    case 'dropout': {
      const rate = layer.config.rate as number;
      if (!training || rate === 0) return { region: x.region, shape };
      const y = p.activation(node.name, count * B);
      const mask = p.activation(`${node.name}:mask`, Math.ceil((count * B) / 4)); // one byte per element
      p.emit('dropout_forward', layer.name, { y, mask, x: x.region }, { count, rate, seed: (layer.config.seed as number) | 0 });
      return { region: y, shape, mask };
    }
    case 'activation': {
      if (p.absorbed.has(node.id)) return { region: x.region, shape };
      const y = activationForward(p, layer, node, x.region, shape, outputLogits, B, false);
      return { region: y, shape, pre: x.region };
    }
    case 'add': {
      const y = p.activation(node.name, count * B);
      inputs.forEach((v, i) => p.emit('copy', layer.name, { y, x: v.region }, { count, accumulate: i === 0 ? 0 : 1 }));
      return { region: y, shape };
    }
    case 'concatenate': {
      const y = p.activation(node.name, count * B);
      const total = last(shape);
      let col = 0;
      for (const v of inputs) {
        const cols = last(v.shape);
        p.emit('copy_strided', layer.name, { y: [y, col * 4], x: v.region }, { ldy: total, ldx: cols, rows: rowsOf(shape), cols, accumulate: 0 });
        col += cols;
      }
      return { region: y, shape };
    }
    case 'zeroPadding2d': {
      const y = p.activation(node.name, count * B);
      p.emit('zero_pad2d_forward', layer.name, { y, x: x.region }, { ...padGeometry(layer, x.shape) });
      return { region: y, shape };
    }
    case 'resizing': {
      const y = p.activation(node.name, count * B);
      p.emit('resize_bilinear_forward', layer.name, { y, x: x.region }, { h: x.shape[0], w_: x.shape[1], c: x.shape[2], oh: shape[0], ow: shape[1] });
      return { region: y, shape };
    }
    case 'rescaling': {
      const [scale, offset] = params;
      const y = p.activation(node.name, count * B);
      p.emit('channel_affine', layer.name, { y, x: x.region, scale, offset }, { rows: rowsOf(shape), c: last(shape) });
      return { region: y, shape };
    }
    case 'subtract': {
      const y = p.activation(node.name, count * B);
      p.emit('copy', layer.name, { y, x: inputs[0].region }, { count, accumulate: 0 });
      p.emit('axpy', layer.name, { y, x: inputs[1].region }, { count, alpha: -1, accumulate: 1 });
      return { region: y, shape };
    }
    case 'multiply': {
      const y = p.activation(node.name, count * B);
      p.emit('mul', layer.name, { y, a: inputs[0].region, b: inputs[1].region }, { count, accumulate: 0 });
      return { region: y, shape };
    }
  }
}

function padGeometry(layer: Layer, inShape: number[]): Record<string, number> {
  const [[pt, pb], [pl, pr]] = layer.config.padding as number[][];
  return { h: inShape[0], w_: inShape[1], c: inShape[2], pt, pb, pl, pr };
}

// The batch normalization node that alone reads `node` (a convolution with no activation), when
// that BN runs in inference mode in this program (not training, or frozen) and is not the output.
function fusibleBatchNorm(ctx: CompileContext, node: GraphNode, training: boolean): GraphNode | null {
  if (node.layer!.config.activation !== 'linear') return null;
  const next = ctx.consumers.get(node.id) ?? [];
  if (next.length !== 1) return null;
  const bn = ctx.graph.nodes[next[0]];
  if (bn.layer?.kind !== 'batchNormalization' || bn.id === ctx.graph.output) return null;
  if (training && bn.layer.trainable) return null;
  return bn;
}

// The 2x2 stride-2 'valid' max pooling that alone reads `relu` (itself fused into `conv`), when no
// gradient flows through the convolution in this program and the geometry pairs up evenly.
function fusiblePool(ctx: CompileContext, p: ProgramBuilder, conv: GraphNode, relu: GraphNode, g: ConvGeometry): GraphNode | null {
  if (p.gradNodes.has(conv.id) || g.oh % 2 !== 0 || g.ow % 2 !== 0) return null;
  if (g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.pt === 0 && g.pl === 0) return null; // pointwise path
  const next = ctx.consumers.get(relu.id) ?? [];
  if (next.length !== 1) return null;
  const pool = ctx.graph.nodes[next[0]];
  const c = pool.layer?.config;
  if (pool.layer?.kind !== 'maxPooling2d' || pool.id === ctx.graph.output || !c) return null;
  const [kh, kw] = c.kernelSize as number[];
  const [sh, sw] = c.strides as number[];
  return kh === 2 && kw === 2 && sh === 2 && sw === 2 && c.padding === 'valid' ? pool : null;
}

function weightRegions(layer: Layer, regions: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  layer.weightSpecs.forEach((s, i) => { out[s.name] = regions[i]; });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Backward

export interface GradState {
  regions: Map<number, number>; // node id -> gradient region of its output
  written: Set<number>; // gradient regions already written (later contributions accumulate)
}

function gradTarget(p: ProgramBuilder, g: GradState, node: GraphNode, floats: number): { region: number; accumulate: number } {
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

// Passes dy on to an input unchanged (reshape, add, identity dropout): the input's gradient
// becomes the same buffer when it has none yet, else dy is added to it.
function passGradient(ctx: CompileContext, p: ProgramBuilder, g: GradState, layer: string, input: GraphNode, dy: number, count: number): void {
  if (!g.regions.has(input.id)) {
    g.regions.set(input.id, dy);
    g.written.add(dy);
    return;
  }
  const dx = gradTarget(p, g, input, count * ctx.batch);
  p.emit('copy', layer, { y: dx.region, x: dy }, { count, accumulate: dx.accumulate });
}

function paramGrad(ctx: CompileContext, region: number): { region: number; accumulate: number } {
  const accumulate = ctx.gradWritten.has(region) ? 1 : 0;
  ctx.gradWritten.add(region);
  return { region, accumulate };
}

// Emits one node's backward pass, given the gradient dy of its output. needsInputGrad: some node
// upstream has trainable weights. fusedOutput: dy is already the gradient of the logits.
export function backwardNode(ctx: CompileContext, p: ProgramBuilder, g: GradState, node: GraphNode, values: NodeValue[],
  needsInputGrad: boolean, dy: number, fusedOutput: boolean): void {
  const layer = node.layer!;
  const v = values[node.id];
  const inputNodes = node.inputs.map((i) => ctx.graph.nodes[i]);
  const input = inputNodes[0];
  const x = values[input.id];
  const count = sizeOf(v.shape);
  const B = ctx.batch;
  const grads = ctx.gradRegions.get(layer);
  const params = ctx.paramRegions.get(layer) ?? [];
  // Gradient through a fused activation: dz, the gradient of the pre-activation.
  const throughActivation = (): number => {
    const name = layer.config.activation as ActivationName;
    if (name === 'linear' || (name === 'softmax' && fusedOutput)) return dy;
    const dz = p.activation(`dz_${node.name}`, count * B);
    activationBackward(p, layer, dz, dy, v, 0);
    return dz;
  };
  switch (layer.kind) {
    case 'dense': {
      const dz = throughActivation();
      const rows = rowsOf(v.shape);
      const n = last(v.shape);
      const k = last(x.shape);
      if (grads) {
        const dw = paramGrad(ctx, grads[0]!);
        // dW (K,N) += X^T (K, B*rows) . dZ (B*rows, N)
        gemm(ctx, p, layer.name, dw.region, x.region, dz, { m: k, n, k: rows, rsa: 1, csa: k, rsb: n, csb: 1, ldc: n, accumulate: dw.accumulate, batchFlags: 4 });
        if (grads[1] !== undefined && grads[1] !== null) {
          const db = paramGrad(ctx, grads[1]);
          p.emit('bias_backward', layer.name, { db: db.region, dy: dz }, { rows, n, accumulate: db.accumulate });
        }
      }
      if (needsInputGrad) {
        const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
        // dX (B*rows, K) += dZ (B*rows, N) . W^T (N, K)
        gemm(ctx, p, layer.name, dx.region, dz, params[0], { m: rows, n: k, k: n, rsa: n, csa: 1, rsb: 1, csb: n, ldc: k, accumulate: dx.accumulate, batchFlags: 1 });
      }
      return;
    }
    case 'conv2d': {
      const dz = throughActivation();
      const geo = geometry(layer, x.shape);
      const f = last(v.shape);
      const { chunkRows, colsBytes } = convChunk(ctx, geo, f);
      const scratch = { cols: [SCRATCH, 0] as Ref, pack: [SCRATCH, colsBytes] as Ref };
      if (grads) {
        const dw = paramGrad(ctx, grads[0]!);
        const db = grads[1] !== undefined && grads[1] !== null ? paramGrad(ctx, grads[1]) : null;
        if (db && db.accumulate !== dw.accumulate) throw new Error(`internal: ${layer.name} kernel and bias gradients disagree on accumulation`);
        p.emit('conv2d_backward_filter', layer.name, { dw: dw.region, ...(db ? { db: db.region } : {}), x: x.region, dy: dz, ...scratch },
          { ...(db ? {} : { db: 0 }), ...geo, f, chunkRows, accumulate: dw.accumulate });
      }
      if (needsInputGrad) {
        const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
        p.emit('conv2d_backward_input', layer.name, { dx: dx.region, dy: dz, w: params[0], ...scratch }, { ...geo, f, chunkRows, accumulate: dx.accumulate });
      }
      return;
    }
    case 'depthwiseConv2d': {
      const dz = throughActivation();
      const geo = { ...geometry(layer, x.shape), m: layer.config.depthMultiplier as number };
      if (grads) {
        const dw = paramGrad(ctx, grads[0]!);
        const db = grads[1] !== undefined && grads[1] !== null ? paramGrad(ctx, grads[1]) : null;
        p.emit('depthwise_backward_filter', layer.name, { dw: dw.region, ...(db ? { db: db.region } : {}), x: x.region, dy: dz },
          { ...(db ? {} : { db: 0 }), ...geo, accumulate: dw.accumulate });
      }
      if (needsInputGrad) {
        const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
        p.emit('depthwise_backward_input', layer.name, { dx: dx.region, dy: dz, w: params[0] }, { ...geo, accumulate: dx.accumulate });
      }
      return;
    }
    case 'maxPooling2d': {
      if (!needsInputGrad) return;
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('maxpool_backward', layer.name, { dx: dx.region, dy, argmax: v.argmax! }, { count, inputCount: sizeOf(x.shape), accumulate: dx.accumulate });
      return;
    }
    case 'averagePooling2d': {
      if (!needsInputGrad) return;
      const { dh, dw_, ...pool } = geometry(layer, x.shape);
      void dh; void dw_;
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('avgpool_backward', layer.name, { dx: dx.region, dy }, { ...pool, accumulate: dx.accumulate });
      return;
    }
    case 'globalAveragePooling2d': {
      if (!needsInputGrad) return;
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('gap_backward', layer.name, { dx: dx.region, dy }, { hw: x.shape[0] * x.shape[1], c: x.shape[2], accumulate: dx.accumulate });
      return;
    }
    case 'flatten':
    case 'reshape':
      if (needsInputGrad) passGradient(ctx, p, g, layer.name, input, dy, count);
      return;
    case 'batchNormalization': {
      const named = weightRegions(layer, params);
      const c = last(v.shape);
      const rows = rowsOf(v.shape);
      if (v.bnTraining) {
        const gradNamed: Record<string, number | null> = {};
        if (grads) layer.weightSpecs.forEach((s, i) => { gradNamed[s.name] = grads[i]; });
        const dgamma = gradNamed.gamma ?? null;
        const dbeta = gradNamed.beta ?? null;
        const acc = [dgamma, dbeta].filter((r): r is number => r !== null).map((r) => paramGrad(ctx, r).accumulate);
        const dx = needsInputGrad ? gradTarget(p, g, input, sizeOf(x.shape) * B) : null;
        if (!dx && acc.length === 0) return;
        p.emit('bn_backward_train', layer.name, {
          dy, x: x.region, mean: v.mean!, invstd: v.invstd!,
          ...(dx ? { dx: dx.region } : {}), ...(dgamma !== null ? { dgamma } : {}), ...(dbeta !== null ? { dbeta } : {}),
          ...(named.gamma !== undefined ? { gamma: named.gamma } : {}),
        }, {
          ...(dx ? {} : { dx: 0 }), ...(dgamma !== null ? {} : { dgamma: 0 }), ...(dbeta !== null ? {} : { dbeta: 0 }),
          ...(named.gamma !== undefined ? {} : { gamma: 0 }), rows, c, accumulate: dx?.accumulate ?? 0, accumulateParams: acc[0] ?? 0,
        });
        return;
      }
      if (!needsInputGrad) return;
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('bn_backward_infer', layer.name, { dx: dx.region, dy, movingVar: named.moving_variance, ...(named.gamma !== undefined ? { gamma: named.gamma } : {}) },
        { ...(named.gamma !== undefined ? {} : { gamma: 0 }), rows, c, epsilon: layer.config.epsilon as number, accumulate: dx.accumulate });
      return;
    }
    case 'dropout': {
      if (!needsInputGrad) return;
      if (v.mask === undefined) { passGradient(ctx, p, g, layer.name, input, dy, count); return; }
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('dropout_backward', layer.name, { dx: dx.region, dy, mask: v.mask }, { count, rate: layer.config.rate as number, accumulate: dx.accumulate });
      return;
    }
    case 'activation': {
      if (!needsInputGrad) return;
      if (layer.config.activation === 'linear' || (layer.config.activation === 'softmax' && fusedOutput)) {
        passGradient(ctx, p, g, layer.name, input, dy, count);
        return;
      }
      const dx = gradTarget(p, g, input, count * B);
      activationBackward(p, layer, dx.region, dy, v, dx.accumulate);
      return;
    }
    case 'add': {
      if (!needsInputGrad) return;
      // dy may become the gradient buffer of one input only: two inputs sharing it would let one
      // branch's backward write into the buffer it reads (add([conv(h), h])).
      inputNodes.forEach((inp, i) => {
        if (i === 0) { passGradient(ctx, p, g, layer.name, inp, dy, count); return; }
        const dx = gradTarget(p, g, inp, count * B);
        p.emit('copy', layer.name, { y: dx.region, x: dy }, { count, accumulate: dx.accumulate });
      });
      return;
    }
    case 'concatenate': {
      if (!needsInputGrad) return;
      const total = last(v.shape);
      let col = 0;
      for (const inp of inputNodes) {
        const cols = last(inp.shape);
        const dx = gradTarget(p, g, inp, sizeOf(inp.shape) * B);
        p.emit('copy_strided', layer.name, { y: dx.region, x: [dy, col * 4] }, { ldy: cols, ldx: total, rows: rowsOf(v.shape), cols, accumulate: dx.accumulate });
        col += cols;
      }
      return;
    }
    case 'zeroPadding2d': {
      if (!needsInputGrad) return;
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('zero_pad2d_backward', layer.name, { dx: dx.region, dy }, { ...padGeometry(layer, x.shape), accumulate: dx.accumulate });
      return;
    }
    case 'resizing': {
      if (!needsInputGrad) return;
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * B);
      p.emit('resize_bilinear_backward', layer.name, { dx: dx.region, dy }, { h: x.shape[0], w_: x.shape[1], c: x.shape[2], oh: v.shape[0], ow: v.shape[1], accumulate: dx.accumulate });
      return;
    }
    case 'rescaling': {
      if (!needsInputGrad) return;
      const dx = gradTarget(p, g, input, count * B);
      p.emit('channel_scale_backward', layer.name, { dx: dx.region, dy, scale: params[0] }, { rows: rowsOf(v.shape), c: last(v.shape), accumulate: dx.accumulate });
      return;
    }
    case 'subtract': {
      if (!needsInputGrad) return;
      // d(a - b): da += dy (dy may become a's buffer, as in add), db += -dy.
      passGradient(ctx, p, g, layer.name, inputNodes[0], dy, count);
      const db = gradTarget(p, g, inputNodes[1], count * B);
      p.emit('axpy', layer.name, { y: db.region, x: dy }, { count, alpha: -1, accumulate: db.accumulate });
      return;
    }
    case 'multiply': {
      if (!needsInputGrad) return;
      // d(a * b): da += dy * b, db += dy * a (fresh buffers: dy and the inputs are read throughout).
      const [a, b] = inputNodes;
      const da = gradTarget(p, g, a, count * B);
      p.emit('mul', layer.name, { y: da.region, a: dy, b: values[b.id].region }, { count, accumulate: da.accumulate });
      const db = gradTarget(p, g, b, count * B);
      p.emit('mul', layer.name, { y: db.region, a: dy, b: values[a.id].region }, { count, accumulate: db.accumulate });
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Loss and metrics

export function lossOps(ctx: CompileContext, p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number, dlogits: number | null): void {
  const sparse = labelsAreSparse(loss) ? 1 : 0;
  const refs: Record<string, Ref> = dlogits !== null ? { dx: dlogits } : {};
  const zero: Record<string, number> = dlogits !== null ? {} : { dx: 0 };
  const rows = rowsOf(out.shape);
  const n = last(out.shape);
  if (!isCategorical(loss)) {
    const op = loss.className === 'meanSquaredError' ? 'mse' : loss.fromLogits ? 'bce_logits' : 'bce_probs';
    p.emit(op, 'loss', { ...refs, [op === 'bce_logits' ? 'x' : 'p']: out.region, y: labels }, { ...zero, rows, n });
    return;
  }
  if (ctx.fuseSoftmax || loss.fromLogits) {
    if (sparse) p.emit('xent_logits_sparse', 'loss', { ...refs, x: out.region, labels }, { ...zero, rows, n });
    else p.emit('xent_logits_dense', 'loss', { ...refs, x: out.region, y: labels }, { ...zero, rows, n });
  } else {
    p.emit('xent_probs', 'loss', { ...refs, p: out.region, y: labels }, { ...zero, sparse, rows, n });
  }
}

export function accuracyOp(p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number): void {
  if (!isCategorical(loss)) return; // compile() accepts the accuracy metric only for class outputs
  p.emit('accuracy', 'metrics', { x: out.region, y: labels }, { sparse: labelsAreSparse(loss) ? 1 : 0, rows: rowsOf(out.shape), n: last(out.shape) });
}
