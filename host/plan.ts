// The plan compiler: (graph, batch size, mode, trainable layers, loss, optimizer) -> a static plan.
// A plan is plain data: programs (op lists with resolved byte offsets) and the regions of one
// fixed arena. Parameters, gradients, optimizer slots and non-trainable state are slabs; the
// activations of each program are packed by live range so buffers never alive together share
// bytes. Everything is 16-byte aligned. Nothing here touches wasm: the executor only copies it in.
import { MemoryBudgetError, type MemoryBreakdown, InvalidArgumentError } from './errors';
import { gemmScratchBytes } from './gemm-scratch';
import type { Graph, GraphNode } from './graph';
import { sizeOf } from './graph';
import type { Layer } from './layers';
import { type LossConfig, labelsAreSparse } from './losses';
import { HEADER, type PlanOp, opWords, type OpName } from './ops';
import { type OptimizerConfig, optimizerSlots } from './optimizers';

export const PLAN_FORMAT = 'edgetune-plan';
export const PLAN_VERSION = 1;
// Bytes at the bottom of memory that the kernel module's static data (math tables) occupies.
// The loader checks the module's heap base against it.
export const KERNEL_STATIC_BYTES = 8192;
export const WASM_PAGE = 65536;

export type ProgramName = 'train' | 'evaluate' | 'forward';
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
  // Parameter, gradient and slot regions belong to a slab ('trainable', 'frozen', 'grads',
  // 'slot:m', ...): consecutive regions of one slab may be swept by one op.
  slab?: string;
}

export interface PlanOpWithRegions extends PlanOp {
  // Pointer argument -> index of the region it points into.
  uses: Record<string, number>;
}

export interface Program {
  ops: PlanOpWithRegions[];
  region: number; // where its encoded words live
  output: number; // region holding the model output after a run
}

export interface ParamBinding {
  layer: string;
  weight: string;
  shape: number[];
  trainable: boolean;
  region: number;
  grad: number | null;
  slots: number[]; // one region per optimizer slot, in optimizerSlots() order
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_VERSION;
  mode: 'inference' | 'training';
  batchSize: number;
  inputShape: number[];
  outputShape: number[];
  labels: { sparse: boolean; floatsPerSample: number } | null;
  loss: LossConfig | null;
  optimizer: OptimizerConfig | null;
  regions: Region[];
  programs: Partial<Record<ProgramName, Program>>;
  params: ParamBinding[];
  header: number; // region index of the step header
  input: number;
  labelsRegion: number | null;
  trainableSlab: { offset: number; bytes: number } | null;
  totalBytes: number; // bytes the arena needs
  pages: number; // wasm pages allocated: ceil(totalBytes / 64 KiB)
  breakdown: MemoryBreakdown;
}

export interface PlanOptions {
  batchSize: number;
  mode: 'inference' | 'training';
  loss?: LossConfig;
  optimizer?: OptimizerConfig;
  memoryBudget?: number;
}

const align16 = (n: number) => Math.ceil(n / 16) * 16;

// ---------------------------------------------------------------------------------------------
// Program building: ops refer to regions symbolically until the layout is known.

interface SymbolicOp {
  op: OpName;
  layer: string;
  args: Record<string, number>;
  refs: Record<string, number>; // pointer arg -> region index (offset resolved after layout)
}

class ProgramBuilder {
  readonly ops: SymbolicOp[] = [];
  constructor(readonly name: ProgramName, readonly regions: Region[]) {}

  activation(name: string, floats: number): number {
    this.regions.push({ name: `${this.name}:${name}`, kind: 'activation', offset: -1, bytes: align16(floats * 4), program: this.name });
    return this.regions.length - 1;
  }

  emit(op: OpName, layer: string, refs: Record<string, number>, args: Record<string, number>): void {
    this.ops.push({ op, layer, refs, args });
  }
}

// What a node's forward leaves behind in one program.
interface NodeValue {
  region: number; // output (post-activation; logits for a fused softmax output)
  rows: number; // rows per sample (product of all but the last axis)
  features: number; // last axis
}

interface CompileContext {
  graph: Graph;
  batch: number;
  regions: Region[];
  paramRegions: Map<Layer, number[]>; // layer -> region per weight
  gradRegions: Map<Layer, (number | null)[]>;
  gradWritten: Set<number>; // param-grad regions already written this step (the next write accumulates)
  scratchBytes: number;
  fuseSoftmax: boolean; // output softmax + cross-entropy computed from logits
}

function rowsOf(shape: readonly number[]): number {
  return sizeOf(shape.slice(0, -1));
}

function isSoftmaxOutput(node: GraphNode): boolean {
  const l = node.layer;
  return !!l && ((l.kind === 'dense' && l.config.activation === 'softmax') || l.kind === 'softmax');
}

function gemm(ctx: CompileContext, p: ProgramBuilder, layer: string, c: number, a: number, b: number,
  dims: { m: number; n: number; k: number; rsa: number; csa: number; rsb: number; csb: number; ldc: number; accumulate: number; batchFlags: number }): void {
  const bm = dims.m * (dims.batchFlags & 1 ? ctx.batch : 1);
  const bn = dims.n * (dims.batchFlags & 2 ? ctx.batch : 1);
  const bk = dims.k * (dims.batchFlags & 4 ? ctx.batch : 1);
  ctx.scratchBytes = Math.max(ctx.scratchBytes, gemmScratchBytes(bm, bn, bk));
  p.emit('gemm', layer, { c, a, b, pack: SCRATCH }, dims);
}

// Placeholder region index for the shared scratch region, resolved at layout.
const SCRATCH = -2;

function forwardNode(ctx: CompileContext, p: ProgramBuilder, node: GraphNode, inputs: NodeValue[], outputLogits: boolean): NodeValue {
  const layer = node.layer!;
  const x = inputs[0];
  const rows = rowsOf(node.shape);
  const features = node.shape[node.shape.length - 1];
  switch (layer.kind) {
    case 'dense': {
      const [w, b] = ctx.paramRegions.get(layer)!;
      const y = p.activation(node.name, rows * features * ctx.batch);
      if (b !== undefined) p.emit('bias_fill', layer.name, { y, b }, { rows, n: features });
      gemm(ctx, p, layer.name, y, x.region, w, {
        m: rows, n: features, k: x.features, rsa: x.features, csa: 1, rsb: features, csb: 1, ldc: features,
        accumulate: b !== undefined ? 1 : 0, batchFlags: 1,
      });
      const act = layer.config.activation;
      if (act === 'relu') p.emit('relu_forward', layer.name, { y, x: y }, { count: rows * features });
      if (act === 'softmax' && !outputLogits) p.emit('softmax_forward', layer.name, { y, x: y }, { rows, n: features });
      return { region: y, rows, features };
    }
    case 'relu': {
      const y = p.activation(node.name, rows * features * ctx.batch);
      p.emit('relu_forward', layer.name, { y, x: x.region }, { count: rows * features });
      return { region: y, rows, features };
    }
    case 'softmax': {
      if (outputLogits) return x; // the fused loss reads the logits
      const y = p.activation(node.name, rows * features * ctx.batch);
      p.emit('softmax_forward', layer.name, { y, x: x.region }, { rows, n: features });
      return { region: y, rows, features };
    }
  }
}

// Emits the forward pass; returns each node's value. `outputLogits` leaves a softmax output as logits.
function forwardPass(ctx: CompileContext, p: ProgramBuilder, inputRegion: number, outputLogits: boolean): NodeValue[] {
  const values: NodeValue[] = [];
  for (const node of ctx.graph.nodes) {
    if (!node.layer) {
      values[node.id] = { region: inputRegion, rows: rowsOf(node.shape), features: node.shape[node.shape.length - 1] };
      continue;
    }
    const fuse = outputLogits && node.id === ctx.graph.output;
    values[node.id] = forwardNode(ctx, p, node, node.inputs.map((i) => values[i]), fuse);
  }
  return values;
}

interface GradState {
  regions: Map<number, number>; // node id -> gradient region of its output
  written: Set<number>; // gradient regions already written (later contributions accumulate)
}

function gradTarget(ctx: CompileContext, p: ProgramBuilder, g: GradState, node: GraphNode, floats: number): { region: number; accumulate: number } {
  let region = g.regions.get(node.id);
  if (region === undefined) {
    region = p.activation(`d${node.name}`, floats);
    g.regions.set(node.id, region);
  }
  const accumulate = g.written.has(region) ? 1 : 0;
  g.written.add(region);
  return { region, accumulate };
}

function paramGrad(ctx: CompileContext, region: number): { region: number; accumulate: number } {
  const accumulate = ctx.gradWritten.has(region) ? 1 : 0;
  ctx.gradWritten.add(region);
  return { region, accumulate };
}

function backwardNode(ctx: CompileContext, p: ProgramBuilder, g: GradState, node: GraphNode, values: NodeValue[],
  needsInputGrad: boolean, dyRegion: number, fusedOutput: boolean): void {
  const layer = node.layer!;
  const y = values[node.id];
  const input = ctx.graph.nodes[node.inputs[0]];
  const x = values[input.id];
  const count = y.rows * y.features;
  switch (layer.kind) {
    case 'dense': {
      let dz = dyRegion;
      const act = layer.config.activation;
      if (act === 'relu') {
        dz = p.activation(`dz_${node.name}`, count * ctx.batch);
        p.emit('relu_backward', layer.name, { dx: dz, dy: dyRegion, y: y.region }, { count, accumulate: 0 });
      } else if (act === 'softmax' && !fusedOutput) {
        dz = p.activation(`dz_${node.name}`, count * ctx.batch);
        p.emit('softmax_backward', layer.name, { dx: dz, dy: dyRegion, y: y.region }, { rows: y.rows, n: y.features, accumulate: 0 });
      }
      const grads = ctx.gradRegions.get(layer);
      if (grads) {
        const dw = paramGrad(ctx, grads[0]!);
        // dW (K,N) += X^T (K, B*rows) . dZ (B*rows, N)
        gemm(ctx, p, layer.name, dw.region, x.region, dz, {
          m: x.features, n: y.features, k: y.rows, rsa: 1, csa: x.features, rsb: y.features, csb: 1, ldc: y.features,
          accumulate: dw.accumulate, batchFlags: 4,
        });
        if (grads[1] !== undefined && grads[1] !== null) {
          const db = paramGrad(ctx, grads[1]);
          p.emit('bias_backward', layer.name, { db: db.region, dy: dz }, { rows: y.rows, n: y.features, accumulate: db.accumulate });
        }
      }
      if (needsInputGrad) {
        const [w] = ctx.paramRegions.get(layer)!;
        const dx = gradTarget(ctx, p, g, input, x.rows * x.features * ctx.batch);
        // dX (B*rows, K) += dZ (B*rows, N) . W^T (N, K)
        gemm(ctx, p, layer.name, dx.region, dz, w, {
          m: y.rows, n: x.features, k: y.features, rsa: y.features, csa: 1, rsb: 1, csb: y.features, ldc: x.features,
          accumulate: dx.accumulate, batchFlags: 1,
        });
      }
      return;
    }
    case 'relu': {
      if (!needsInputGrad) return;
      const dx = gradTarget(ctx, p, g, input, count * ctx.batch);
      p.emit('relu_backward', layer.name, { dx: dx.region, dy: dyRegion, y: y.region }, { count, accumulate: dx.accumulate });
      return;
    }
    case 'softmax': {
      if (!needsInputGrad) return;
      const dx = gradTarget(ctx, p, g, input, count * ctx.batch);
      if (fusedOutput) p.emit('copy', layer.name, { y: dx.region, x: dyRegion }, { count, accumulate: dx.accumulate });
      else p.emit('softmax_backward', layer.name, { dx: dx.region, dy: dyRegion, y: y.region }, { rows: y.rows, n: y.features, accumulate: dx.accumulate });
      return;
    }
  }
}

function lossOps(ctx: CompileContext, p: ProgramBuilder, loss: LossConfig, out: NodeValue, labels: number, dlogits: number): void {
  const sparse = labelsAreSparse(loss) ? 1 : 0;
  const refs: Record<string, number> = dlogits >= 0 ? { dx: dlogits } : {};
  const zero: Record<string, number> = dlogits >= 0 ? {} : { dx: 0 };
  if (ctx.fuseSoftmax || loss.fromLogits) {
    if (sparse) p.emit('xent_logits_sparse', 'loss', { ...refs, x: out.region, labels }, { ...zero, rows: out.rows, n: out.features });
    else p.emit('xent_logits_dense', 'loss', { ...refs, x: out.region, y: labels }, { ...zero, rows: out.rows, n: out.features });
  } else {
    p.emit('xent_probs', 'loss', { ...refs, p: out.region, y: labels }, { ...zero, sparse, rows: out.rows, n: out.features });
  }
}

// ---------------------------------------------------------------------------------------------

export function compilePlan(graph: Graph, options: PlanOptions): Plan {
  const { batchSize: batch, mode } = options;
  if (!Number.isInteger(batch) || batch <= 0) throw new InvalidArgumentError(`batch size must be a positive integer, got ${batch}`);
  if (mode === 'training' && (!options.loss || !options.optimizer)) throw new InvalidArgumentError('a training plan needs a loss and an optimizer');
  const outNode = graph.nodes[graph.output];
  const inNode = graph.nodes[graph.input];
  const loss = options.loss ?? null;
  const fuseSoftmax = !!loss && !loss.fromLogits && isSoftmaxOutput(outNode);

  const regions: Region[] = [];
  const add = (r: Region) => (regions.push(r), regions.length - 1);
  add({ name: 'kernel statics', kind: 'static', offset: 0, bytes: KERNEL_STATIC_BYTES });
  const header = add({ name: 'step header', kind: 'header', offset: -1, bytes: HEADER.bytes });
  const input = add({ name: 'input', kind: 'input', offset: -1, bytes: align16(batch * sizeOf(inNode.shape) * 4) });
  let labelsRegion: number | null = null;
  let labelsInfo: Plan['labels'] = null;
  if (loss) {
    const sparse = labelsAreSparse(loss);
    const floatsPerSample = sparse ? rowsOf(outNode.shape) : sizeOf(outNode.shape);
    labelsInfo = { sparse, floatsPerSample };
    labelsRegion = add({ name: 'labels', kind: 'labels', offset: -1, bytes: align16(batch * floatsPerSample * 4) });
  }

  // Parameters: trainable first (one contiguous slab the optimizer sweeps), then frozen.
  const layersInOrder: Layer[] = [];
  for (const n of graph.nodes) if (n.layer && !layersInOrder.includes(n.layer)) layersInOrder.push(n.layer);
  const training = mode === 'training';
  const isTrainable = (l: Layer) => training && l.trainable && l.weightSpecs.length > 0;
  const params: ParamBinding[] = [];
  const paramRegions = new Map<Layer, number[]>();
  const gradRegions = new Map<Layer, (number | null)[]>();
  for (const pass of [true, false]) {
    for (const l of layersInOrder) {
      if (isTrainable(l) !== pass || l.weightSpecs.length === 0) continue;
      paramRegions.set(l, l.weightSpecs.map((s) => {
        const region = add({ name: `${l.name}/${s.name}`, kind: 'param', offset: -1, bytes: align16(sizeOf(s.shape) * 4), slab: pass ? 'trainable' : 'frozen' });
        params.push({ layer: l.name, weight: s.name, shape: [...s.shape], trainable: pass, region, grad: null, slots: [] });
        return region;
      }));
    }
  }
  const trainableParams = params.filter((p) => p.trainable);
  for (const p of trainableParams) {
    p.grad = add({ name: `grad ${p.layer}/${p.weight}`, kind: 'grad', offset: -1, bytes: regions[p.region].bytes, slab: 'grads' });
  }
  for (const l of layersInOrder) {
    if (!isTrainable(l)) continue;
    gradRegions.set(l, params.filter((p) => p.layer === l.name).map((p) => p.grad));
  }
  const slotNames = training ? optimizerSlots(options.optimizer!) : [];
  for (const slot of slotNames) {
    for (const p of trainableParams) p.slots.push(add({ name: `${slot} ${p.layer}/${p.weight}`, kind: 'slot', offset: -1, bytes: regions[p.region].bytes, slab: `slot:${slot}` }));
  }

  const ctx: CompileContext = { graph, batch, regions, paramRegions, gradRegions, gradWritten: new Set(), scratchBytes: 0, fuseSoftmax };
  const builders: ProgramBuilder[] = [];
  const outputs: Partial<Record<ProgramName, number>> = {};

  // forward: inference-mode outputs (predict).
  {
    const p = new ProgramBuilder('forward', regions);
    const values = forwardPass(ctx, p, input, false);
    outputs.forward = values[graph.output].region;
    builders.push(p);
  }
  if (loss && labelsRegion !== null) {
    // evaluate: forward, data loss and accuracy over a batch.
    const p = new ProgramBuilder('evaluate', regions);
    const values = forwardPass(ctx, p, input, fuseSoftmax);
    const out = values[graph.output];
    lossOps(ctx, p, loss, out, labelsRegion, -1);
    p.emit('accuracy', 'metrics', { x: out.region, y: labelsRegion }, { sparse: labelsInfo!.sparse ? 1 : 0, rows: out.rows, n: out.features });
    outputs.evaluate = out.region;
    builders.push(p);
  }
  if (training) {
    const p = new ProgramBuilder('train', regions);
    const values = forwardPass(ctx, p, input, fuseSoftmax);
    const out = values[graph.output];
    // Which nodes need a gradient of their output: those with trainable weights or with a
    // trainable node upstream. A frozen prefix gets no backward ops at all.
    const upstream = new Map<number, boolean>();
    const hasTrainable = (n: GraphNode) => !!n.layer && gradRegions.has(n.layer);
    for (const n of graph.nodes) upstream.set(n.id, n.inputs.some((i) => hasTrainable(graph.nodes[i]) || upstream.get(i)!));
    const g: GradState = { regions: new Map(), written: new Set() };
    const needsOutGrad = (n: GraphNode) => hasTrainable(n) || upstream.get(n.id)!;
    let dlogits = -1;
    if (needsOutGrad(outNode)) {
      dlogits = gradTarget(ctx, p, g, outNode, out.rows * out.features * batch).region;
    }
    lossOps(ctx, p, loss!, out, labelsRegion!, dlogits);
    p.emit('accuracy', 'metrics', { x: out.region, y: labelsRegion! }, { sparse: labelsInfo!.sparse ? 1 : 0, rows: out.rows, n: out.features });
    p.emit('check_loss', 'loss', {}, {});
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      const n = graph.nodes[i];
      if (!n.layer || !needsOutGrad(n)) continue;
      const dy = g.regions.get(n.id);
      if (dy === undefined) continue; // output not used by anything that needs a gradient
      backwardNode(ctx, p, g, n, values, upstream.get(n.id)!, dy, fuseSoftmax && n.id === graph.output);
    }
    if (trainableParams.length > 0) {
      // Parameters, gradients and slots share one layout, so one op sweeps each slab.
      const first = trainableParams[0];
      p.emit('grad_norm', 'optimizer', { g: first.grad! }, { count: -1 });
      p.emit('check_grads', 'optimizer', {}, {});
      const opt = options.optimizer!;
      if (opt.className === 'sgd') {
        const refs: Record<string, number> = { w: first.region, g: first.grad! };
        if (opt.momentum > 0) refs.v = first.slots[0];
        p.emit('sgd', 'optimizer', refs, { ...(opt.momentum > 0 ? {} : { v: 0 }), count: -1, momentum: opt.momentum, nesterov: opt.nesterov ? 1 : 0 });
      } else {
        const refs: Record<string, number> = { w: first.region, g: first.grad!, m: first.slots[0], v: first.slots[1] };
        if (opt.amsgrad) refs.vhat = first.slots[2];
        p.emit('adam', 'optimizer', refs, { ...(opt.amsgrad ? {} : { vhat: 0 }), count: -1, beta1: opt.beta1, beta2: opt.beta2, epsilon: opt.epsilon });
      }
    }
    outputs.train = out.region;
    builders.push(p);
  }

  // Program words, then the layout.
  const programRegion: Partial<Record<ProgramName, number>> = {};
  for (const p of builders) {
    const words = p.ops.reduce((n, o) => n + opWords({ op: o.op, args: {}, layer: '' }), 0);
    programRegion[p.name] = add({ name: `program ${p.name}`, kind: 'program', offset: -1, bytes: align16(words * 4) });
  }
  const scratch = add({ name: 'scratch', kind: 'scratch', offset: -1, bytes: align16(ctx.scratchBytes) });

  // Fixed slabs in a fixed order: header, programs, I/O, parameters (trainable then frozen),
  // gradients, optimizer slots, scratch; then the packed activations.
  let cursor = KERNEL_STATIC_BYTES;
  const place = (i: number) => { regions[i].offset = cursor; cursor += regions[i].bytes; };
  for (const kind of ['header', 'program', 'input', 'labels'] as const) regions.forEach((r, i) => { if (r.kind === kind) place(i); });
  for (const p of params) place(p.region);
  for (const p of trainableParams) place(p.grad!);
  slotNames.forEach((_, s) => { for (const p of trainableParams) place(p.slots[s]); });
  regions.forEach((r, i) => { if (r.kind === 'state') place(i); });
  place(scratch);
  const activationBase = cursor;
  let activationBytes = 0;
  for (const p of builders) activationBytes = Math.max(activationBytes, packActivations(regions, p, activationBase));
  const totalBytes = activationBase + activationBytes;

  const trainableSlab = trainableParams.length
    ? { offset: regions[trainableParams[0].region].offset, bytes: regionEnd(regions, trainableParams[trainableParams.length - 1].region) - regions[trainableParams[0].region].offset }
    : null;

  // Resolve symbolic references into byte offsets.
  const programs: Partial<Record<ProgramName, Program>> = {};
  for (const p of builders) {
    const ops: PlanOpWithRegions[] = p.ops.map((o) => {
      const args = { ...o.args };
      const uses: Record<string, number> = {};
      for (const [name, ref] of Object.entries(o.refs)) {
        const region = ref === SCRATCH ? scratch : ref;
        uses[name] = region;
        args[name] = regions[region].offset;
      }
      if (args.count === -1) args.count = trainableSlab!.bytes / 4; // slab-wide optimizer ops
      return { op: o.op, layer: o.layer, args, uses };
    });
    programs[p.name] = { ops, region: programRegion[p.name]!, output: outputs[p.name]! };
  }

  const sum = (kind: RegionKind) => regions.filter((r) => r.kind === kind).reduce((n, r) => n + r.bytes, 0);
  const breakdown: MemoryBreakdown = {
    weights: sum('param'),
    gradients: sum('grad'),
    optimizerState: sum('slot'),
    state: sum('state'),
    activations: activationBytes,
    scratch: sum('scratch'),
    other: 0,
  };
  breakdown.other = totalBytes - breakdown.weights - breakdown.gradients - breakdown.optimizerState - breakdown.state - breakdown.activations - breakdown.scratch;
  const pages = Math.ceil(totalBytes / WASM_PAGE);
  const plan: Plan = {
    format: PLAN_FORMAT, version: PLAN_VERSION, mode, batchSize: batch,
    inputShape: [...inNode.shape], outputShape: [...outNode.shape], labels: labelsInfo,
    loss, optimizer: options.optimizer ?? null,
    regions, programs, params, header, input, labelsRegion, trainableSlab,
    totalBytes, pages, breakdown,
  };
  if (options.memoryBudget !== undefined && pages * WASM_PAGE > options.memoryBudget) {
    throw new MemoryBudgetError(options.memoryBudget, pages * WASM_PAGE, breakdown);
  }
  return plan;
}

function regionEnd(regions: Region[], i: number): number {
  return regions[i].offset + regions[i].bytes;
}

// Greedy packing by live range (largest first, lowest offset that overlaps nothing alive at the
// same time). Returns the bytes the program's activations need.
function packActivations(regions: Region[], p: ProgramBuilder, base: number): number {
  const mine: number[] = [];
  regions.forEach((r, i) => { if (r.kind === 'activation' && r.program === p.name) mine.push(i); });
  for (const i of mine) regions[i].live = [Infinity, -Infinity] as unknown as [number, number];
  p.ops.forEach((o, at) => {
    for (const ref of Object.values(o.refs)) {
      const r = regions[ref];
      if (!r || r.kind !== 'activation') continue;
      r.live = [Math.min(r.live![0], at), Math.max(r.live![1], at)];
    }
  });
  for (const i of mine) if (!Number.isFinite(regions[i].live![0])) regions[i].live = [0, 0];
  const order = [...mine].sort((a, b) => regions[b].bytes - regions[a].bytes || regions[a].live![0] - regions[b].live![0]);
  const placed: number[] = [];
  let extent = 0;
  for (const i of order) {
    const r = regions[i];
    const conflicts = placed.map((j) => regions[j]).filter((q) => q.live![0] <= r.live![1] && r.live![0] <= q.live![1])
      .sort((a, b) => a.offset - b.offset);
    let offset = base;
    for (const q of conflicts) {
      if (offset + r.bytes <= q.offset) break;
      offset = Math.max(offset, q.offset + q.bytes);
    }
    r.offset = offset;
    placed.push(i);
    extent = Math.max(extent, offset + r.bytes - base);
  }
  return extent;
}
