// The plan compiler: (graph, batch size, mode, trainable layers, loss, optimizer) -> a static plan.
// A plan is plain data: programs (op lists with resolved byte offsets) and the regions of one
// fixed arena. Parameters, gradients, optimizer slots and non-trainable state are slabs; the
// activations of each program are packed by live range so buffers never alive together share
// bytes. Everything is 16-byte aligned, the scratch and the activations on 64-byte cache lines
// (the threads' tiles). Nothing here touches wasm: the executor only copies it in.
import { MemoryBudgetError, type MemoryBreakdown, InvalidArgumentError, formatBytes } from '../core/errors';
import type { Graph, GraphNode } from './graph';
import { sizeOf } from './graph';
import type { Layer } from '../layers/layer';
import type { LossConfig } from '../training/losses';
import {
  align16, backwardNode, type CompileContext, forwardNode, type GradState, type NodeValue,
  outputGrad, ProgramBuilder, type ProgramName, type Ref, type Region, type RegionKind, SCRATCH,
} from './lower';
import { alignLine, liveSetBound, packActivations } from './arena-pack';
import { ioRegions, lossesPerOutput, outputLossOps, type PlanInput, type PlanOutput } from './plan-io';
import { HEADER, type PlanOp, opWords } from './ops';
import {
  type OptimizerConfig, baseLearningRate, hasMomentum, optimizerMomentum, optimizerSlots, slotInitialValue,
} from '../training/optimizers';
import { CLIP_MODE, OPT_KIND } from './ops';
import { scheduleOp } from '../training/schedules';
import { constraintView } from '../layers/regularizers';
import type { PlanBanding, RowBanding } from './band';

export const PLAN_FORMAT = 'edgetune-plan';
export const PLAN_VERSION = 1;
// Bytes at the bottom of memory that the kernel module's static data (math tables) occupies.
// The loader checks the module's heap base against it.
export const KERNEL_STATIC_BYTES = 8192;
export const WASM_PAGE = 65536;
// The most pages one wasm32 memory can have (4 GiB).
export const WASM_MAX_PAGES = 65536;

export type { ProgramName, RegionKind, Region } from './lower';
export type { PlanInput, PlanOutput } from './plan-io';

export interface PlanOpWithRegions extends PlanOp {
  // Pointer argument -> index of the region it points into.
  uses: Record<string, number>;
}

export interface Program {
  ops: PlanOpWithRegions[];
  region: number; // where its encoded words live
  output: number; // region holding the (first) model output after a run
  outputs: number[]; // region of each model output after a run, in output order
  // Several outputs (or a weighted loss): f64 [weighted total loss, loss 0, correct rows 0, loss 1,
  // ...] after a run (plan-io.ts); else null.
  metrics: number | null;
}

export interface ParamBinding {
  layer: string;
  weight: string;
  shape: number[];
  trainable: boolean;
  region: number;
  grad: number | null;
  slots: number[]; // one region per optimizer slot, in optimizerSlots() order
  int8Scale?: number; // an int8 kernel (region of shape's bytes): the region of its f32 scales
  int8Channels?: number; // and how many scales it holds (one per output channel)
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_VERSION;
  mode: 'inference' | 'training';
  batchSize: number;
  // The first input's and first output's shapes, labels and loss (a single-input single-output
  // model has only those); `inputs` and `outputs` list every one, in the model's order.
  inputShape: number[];
  outputShape: number[];
  labels: { sparse: boolean; floatsPerSample: number } | null;
  loss: LossConfig | null;
  inputs: PlanInput[];
  outputs: PlanOutput[];
  optimizer: OptimizerConfig | null;
  regions: Region[];
  programs: Partial<Record<ProgramName, Program>>;
  inputGradient: number | null; // region of d(loss)/d(first input) after the gradients program
  inputGradients: (number | null)[]; // per input
  params: ParamBinding[];
  header: number; // region index of the step header
  input: number;
  labelsRegion: number | null;
  trainableSlab: { offset: number; bytes: number } | null;
  totalBytes: number; // bytes the arena needs
  pages: number; // wasm pages allocated: ceil(totalBytes / 64 KiB)
  breakdown: MemoryBreakdown;
  lowerBound: LiveSetBound;
  microBatching: boolean; // PlanOptions.microBatching
  banding: PlanBanding | null; // the frozen prefix computed in row bands (band.ts), or null
}

// The bytes any layout of this plan's regions needs: every region that lives for the whole run
// (weights, gradients, optimizer slots, state, I/O, scratch, programs, statics) plus the largest
// set of activations alive at one op of one program. `ratio` = totalBytes / bytes (1 is optimal).
export interface LiveSetBound {
  bytes: number;
  liveActivations: number;
  at: string; // where that largest live set is: 'program op#index op-name layer'
  ratio: number;
}

export interface PlanOptions {
  batchSize: number;
  mode: 'inference' | 'training';
  // One loss for every output, or one per output (in output order).
  loss?: LossConfig | LossConfig[];
  // Keras loss_weights, one per output: the loss trained and reported is sum(weight * loss).
  lossWeights?: number[];
  optimizer?: OptimizerConfig;
  memoryBudget?: number;
  // Bytes of im2col columns a convolution may use; by default the planner tries 256 KB,
  // then 64 KB and 16 KB until the plan fits memoryBudget.
  convScratchLimit?: number;
  // Also plan a 'gradients' program (model.computeGradients): loss gradients for every trainable
  // weight and for the input, no update.
  gradients?: boolean;
  // Micro-batching (fit's microBatch): 'gradients' adds each micro-batch's loss gradients into the
  // gradient slab (the host zeroes it per batch and sets the loss scale to 1 / the batch's rows) and
  // 'train' only applies them: regularization gradients, the update and the constraints, once.
  // batchSize is then the micro-batch's. Replaces the `gradients` option's program.
  microBatching?: boolean;
  // Give each output with a loss a per-sample weights region that its loss ops scale by (Keras
  // sample_weight / class_weight).
  sampleWeights?: boolean;
  // Inference plans: pack constant GEMM weights into panels and fold batch norms once, in a
  // 'prepare' program (default true; a plan over the memory budget is retried without them).
  prepareWeights?: boolean;
  // Batch-1 plans: compute the frozen convolution prefix in bands of this many rows of its last
  // tensor (host/compile/band.ts). compilePlan picks a height itself when the whole maps do not fit.
  bandRows?: number;
}

// Convolution column buffers the planner tries, largest first, until the plan fits the budget
// (columns of about 256 KB are the fastest measured here: larger ones fall out of cache).
const CONV_SCRATCH_LIMITS = [256 << 10, 64 << 10, 16 << 10, 0];

export function compilePlan(graph: Graph, options: PlanOptions): Plan {
  // No arena may outgrow one wasm32 memory: refused here, with the figures, rather than by
  // `new WebAssembly.Memory` with a RangeError.
  const wasmLimit = WASM_MAX_PAGES * WASM_PAGE;
  const userBound = options.memoryBudget !== undefined && options.memoryBudget <= wasmLimit;
  const budget = userBound ? options.memoryBudget! : wasmLimit;
  const label = userBound ? 'memory budget' : `wasm memory limit (${WASM_MAX_PAGES} pages of 64 KiB)`;
  let last: MemoryBudgetError | null = null;
  const limits = options.convScratchLimit !== undefined ? [options.convScratchLimit] : CONV_SCRATCH_LIMITS;
  for (const limit of limits) {
    let plan = compileWithLimit(graph, options, limit);
    if (plan.pages * WASM_PAGE <= budget) return plan;
    // Packed copies of the weights are a speed-up the budget may not afford.
    if (plan.breakdown.derivedWeights > 0) {
      plan = compileWithLimit(graph, { ...options, prepareWeights: false }, limit);
      if (plan.pages * WASM_PAGE <= budget) return plan;
    }
    last = new MemoryBudgetError(budget, plan.pages * WASM_PAGE, plan.breakdown, label);
    if (plan.breakdown.scratch <= (16 << 10)) break; // smaller columns cannot help any more
  }
  // Still over: a batch-1 plan may compute its frozen convolution prefix in row bands (band.ts).
  const banding = options.batchSize === 1 && options.bandRows === undefined ? rowBanding(graph) : null;
  if (banding) for (const limit of limits) {
    const banded = banding.fitByBanding((bandRows) => compileWithLimit(graph, { ...options, prepareWeights: false, bandRows }, limit), budget);
    if (banded) return banded;
  }
  throw last!;
}

// Row bands come with the layers that can start a banded chain (band.ts ROW_BANDING, held by their
// records), so an app without them bundles no banding code; options.bandRows bands nothing else.
function rowBanding(graph: Graph): RowBanding | null {
  return graph.nodes.find((n) => n.layer?.def.banding)?.layer!.def.banding ?? null;
}
function bandPrograms(graph: Graph, builders: ProgramBuilder[], keep: Map<string, number[]>, regions: Region[], batch: number, bandRows: number): PlanBanding | null {
  if (!(Number.isInteger(bandRows) && bandRows > 0) && bandRows !== Infinity) throw new InvalidArgumentError(`bandRows must be a positive integer, got ${bandRows}`);
  if (batch !== 1) throw new InvalidArgumentError(`bandRows: row bands need a plan of batch 1 (fit's microBatch: 1 for training), got batch ${batch}`);
  return rowBanding(graph)?.bandPrograms(builders, keep, regions, batch, bandRows) ?? null;
}

// What the steps of one compilation share: the graph, the arena's regions as they are added, and
// where the I/O, weights, gradients and optimizer slots landed.
interface PlanBuild {
  graph: Graph;
  batch: number;
  training: boolean;
  losses: LossConfig[] | null;
  regions: Region[];
  header: number;
  inputs: PlanInput[];
  outputs: PlanOutput[];
  layersInOrder: Layer[];
  params: ParamBinding[];
  trainableParams: ParamBinding[];
  paramRegions: Map<Layer, number[]>;
  gradRegions: Map<Layer, (number | null)[]>;
  slotNames: string[];
  ctx: CompileContext;
}

// The programs of a plan, before layout: their builders in order and the region each leaves its
// output in.
interface BuiltPrograms {
  builders: ProgramBuilder[];
  outputs: Partial<Record<ProgramName, { output: number; outputs: number[]; metrics: number | null }>>;
  inputGradients: (number | null)[];
}

function compileWithLimit(graph: Graph, options: PlanOptions, convScratchLimit: number): Plan {
  const { batchSize: batch, mode } = options;
  if (!Number.isInteger(batch) || batch <= 0) throw new InvalidArgumentError(`batch size must be a positive integer, got ${batch}`);
  if (mode === 'training' && (!options.loss || !options.optimizer)) throw new InvalidArgumentError('a training plan needs a loss and an optimizer');
  const { losses, weights: lossWeights } = lossesPerOutput(graph, options.loss, options.lossWeights);
  const training = mode === 'training';

  const regions: Region[] = [];
  addRegion(regions, { name: 'kernel statics', kind: 'static', offset: 0, bytes: KERNEL_STATIC_BYTES });
  const header = addRegion(regions, { name: 'step header', kind: 'header', offset: -1, bytes: HEADER.bytes });
  const consumers = new Map<number, number[]>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.id]);
  const io = ioRegions(regions, graph, batch, losses, lossWeights, consumers, options.sampleWeights ?? false);
  const weights = weightRegions(regions, graph, training, options.optimizer);
  const fusedOutputs = new Set(io.outputs.filter((o) => o.fused).map((o) => o.node));
  const ctx: CompileContext = {
    graph, batch, regions, paramRegions: weights.paramRegions, gradRegions: weights.gradRegions, gradWritten: new Set(), int8Kernels: weights.int8Kernels,
    scratchBytes: 0, convScratchLimit, fusedOutputs, consumers,
    prepare: !training && options.prepareWeights !== false ? new ProgramBuilder('prepare', regions) : null,
  };
  const b: PlanBuild = { graph, batch, training, losses, regions, header, ...io, ...weights, ctx };

  const built = buildPrograms(b, options);
  if (ctx.prepare?.ops.length) {
    built.builders.push(ctx.prepare);
    built.outputs.prepare = { output: header, outputs: [header], metrics: null };
  }
  const kept = new Map(Object.entries(built.outputs).map(([name, o]) => [name, [...o!.outputs, ...(o!.metrics !== null ? [o!.metrics] : [])]]));
  const banding = options.bandRows !== undefined ? bandPrograms(graph, built.builders, kept, regions, batch, options.bandRows) : null;
  const { programRegion, scratch, activationBytes, totalBytes } = layoutArena(b, built.builders);
  const { params, trainableParams } = b;
  const trainableSlab = trainableParams.length
    ? { offset: regions[trainableParams[0].region].offset, bytes: regionEnd(regions, trainableParams[trainableParams.length - 1].region) - regions[trainableParams[0].region].offset }
    : null;
  const programs: Partial<Record<ProgramName, Program>> = {};
  for (const p of built.builders) {
    programs[p.name] = { ops: resolveOps(regions, p, scratch, trainableSlab), region: programRegion[p.name]!, ...built.outputs[p.name]! };
  }
  const [in0, out0] = [b.inputs[0], b.outputs[0]];
  return {
    format: PLAN_FORMAT, version: PLAN_VERSION, mode, batchSize: batch,
    inputShape: [...in0.shape], outputShape: [...out0.shape], labels: out0.labels,
    loss: out0.loss, inputs: b.inputs, outputs: b.outputs, optimizer: options.optimizer ?? null,
    regions, programs, inputGradient: built.inputGradients[0], inputGradients: built.inputGradients, params, header: b.header,
    input: in0.region, labelsRegion: out0.labelsRegion, trainableSlab,
    totalBytes, pages: Math.ceil(totalBytes / WASM_PAGE), breakdown: memoryBreakdown(regions, activationBytes, totalBytes),
    lowerBound: liveSetBound(regions, built.builders, totalBytes),
    microBatching: training && !!options.microBatching, banding,
  };
}

function addRegion(regions: Region[], r: Region): number {
  regions.push(r);
  return regions.length - 1;
}

// Weights: trainable parameters first (one contiguous slab the optimizer sweeps), then frozen
// parameters, then non-trainable state (BatchNormalization's moving statistics); then a gradient
// per trainable parameter and, for training, each optimizer slot, in the same layout.
function weightRegions(regions: Region[], graph: Graph, training: boolean, optimizer: OptimizerConfig | undefined) {
  const layersInOrder: Layer[] = [];
  for (const n of graph.nodes) if (n.layer && !layersInOrder.includes(n.layer)) layersInOrder.push(n.layer);
  const params: ParamBinding[] = [];
  const paramRegions = new Map<Layer, number[]>();
  const int8Kernels: CompileContext['int8Kernels'] = new Map();
  const slabOf = (l: Layer, trainableWeight: boolean) => (!trainableWeight ? 'state' : training && l.trainable ? 'trainable' : 'frozen');
  for (const slab of ['trainable', 'frozen', 'state']) {
    for (const l of layersInOrder) {
      l.weightSpecs.forEach((s, i) => {
        if (slabOf(l, s.trainable) !== slab) return;
        const int8 = l.int8 !== null && i === 0;
        if (int8 && slab === 'trainable') throw new InvalidArgumentError(`layer ${l.name} has an int8 kernel and cannot train; keep it frozen (layer.trainable = false)`);
        const bytes = align16(sizeOf(s.shape) * (int8 ? 1 : 4));
        const region = addRegion(regions, { name: `${l.name}/${s.name}`, kind: slab === 'state' ? 'state' : 'param', offset: -1, bytes, slab });
        if (!paramRegions.has(l)) paramRegions.set(l, []);
        paramRegions.get(l)![i] = region;
        const binding: ParamBinding = { layer: l.name, weight: s.name, shape: [...s.shape], trainable: slab === 'trainable', region, grad: null, slots: [] };
        if (int8) {
          binding.int8Channels = l.int8!.scale.length;
          binding.int8Scale = addRegion(regions, { name: `${l.name}/${s.name}_scale`, kind: 'param', offset: -1, bytes: align16(l.int8!.scale.length * 4), slab });
          int8Kernels.set(region, { scale: binding.int8Scale, ch: l.int8!.scale.length, rows: sizeOf(s.shape) / l.int8!.scale.length, absmax: l.int8!.activationQuantizer === 'absmax' });
        }
        params.push(binding);
      });
    }
  }
  const trainableParams = params.filter((p) => p.trainable);
  for (const p of trainableParams) {
    p.grad = addRegion(regions, { name: `grad ${p.layer}/${p.weight}`, kind: 'grad', offset: -1, bytes: regions[p.region].bytes, slab: 'grads' });
  }
  const gradRegions = new Map<Layer, (number | null)[]>();
  for (const l of layersInOrder) {
    if (!trainableParams.some((p) => p.layer === l.name)) continue;
    gradRegions.set(l, l.weightSpecs.map((s) => trainableParams.find((p) => p.layer === l.name && p.weight === s.name)?.grad ?? null));
  }
  const slotNames = training ? optimizerSlots(optimizer!) : [];
  for (const slot of slotNames) {
    for (const p of trainableParams) p.slots.push(addRegion(regions, { name: `${slot} ${p.layer}/${p.weight}`, kind: 'slot', offset: -1, bytes: regions[p.region].bytes, slab: `slot:${slot}` }));
  }
  return { layersInOrder, params, trainableParams, paramRegions, gradRegions, slotNames, int8Kernels };
}

// forward (predict), evaluate (with a loss), gradients (when asked for), train and init, in that order.
function buildPrograms(b: PlanBuild, options: PlanOptions): BuiltPrograms {
  const { graph, regions } = b;
  const builders: ProgramBuilder[] = [];
  const outputs: BuiltPrograms['outputs'] = {};
  // forward: inference-mode outputs (predict).
  {
    const p = new ProgramBuilder('forward', regions);
    outputs.forward = { ...outputRegions(b, p, forwardPass(b, p, false, false)), metrics: null };
    builders.push(p);
  }
  if (b.losses) {
    // evaluate: inference-mode forward, data loss, penalties and accuracy over a batch.
    const p = new ProgramBuilder('evaluate', regions);
    const values = forwardPass(b, p, false, true);
    const metrics = outputLossOps(p, b.outputs, values, () => null, () => penaltyOps(b, p));
    outputs.evaluate = { ...outputRegions(b, p, values), metrics };
    builders.push(p);
  }
  let inputGradients: (number | null)[] = graph.inputs.map(() => null);
  if (b.training && options.microBatching) {
    const micro = microBatchPrograms(b, options.optimizer!);
    builders.push(...micro.builders);
    Object.assign(outputs, micro.outputs);
  } else if (b.training && options.gradients) {
    b.ctx.gradWritten = new Set();
    const p = new ProgramBuilder('gradients', regions);
    const { values, g, metrics } = backwardProgram(b, p, true);
    p.commitState();
    inputGradients = graph.inputs.map((id) => g.regions.get(id) ?? null);
    for (const r of inputGradients) if (r !== null) p.pinned.push(r);
    outputs.gradients = { ...outputRegions(b, p, values), metrics };
    builders.push(p);
  }
  if (b.training) {
    const opt = options.optimizer!;
    if (!options.microBatching) {
      const train = trainProgram(b, opt);
      outputs.train = { ...outputRegions(b, train.p, train.values), metrics: train.metrics };
      builders.push(train.p);
    }
    const init = initProgram(b, opt);
    outputs.init = { output: b.header, outputs: [b.header], metrics: null };
    builders.push(init);
  }
  return { builders, outputs, inputGradients };
}

// Where a program leaves each model output. With several outputs every one stays alive to the
// end of the program (an output may be an intermediate node whose buffer would be reused).
function outputRegions(b: PlanBuild, p: ProgramBuilder, values: NodeValue[]): { output: number; outputs: number[] } {
  const regions = b.outputs.map((o) => values[o.node].region);
  if (regions.length > 1) for (const r of regions) if (b.regions[r].kind === 'activation') p.pinned.push(r);
  return { output: regions[0], outputs: regions };
}

// outputLogits: fused softmax outputs (plan-io.ts) stay logits.
function forwardPass(b: PlanBuild, p: ProgramBuilder, trainingMode: boolean, outputLogits: boolean): NodeValue[] {
  const { graph } = b;
  const values: NodeValue[] = [];
  for (const node of graph.nodes) {
    values[node.id] = node.layer
      ? forwardNode(b.ctx, p, node, node.inputs.map((i) => values[i]), trainingMode, outputLogits && b.ctx.fusedOutputs.has(node.id))
      : { region: b.inputs[graph.inputs.indexOf(node.id)].region, shape: node.shape };
  }
  return values;
}

// Regularization penalties of the trainable weights (Keras 3 sums the regularizers of
// trainable_weights only: a frozen layer adds nothing).
function penaltyOps(b: PlanBuild, p: ProgramBuilder): void {
  for (const l of b.layersInOrder) {
    l.weightSpecs.forEach((s, i) => {
      if (!s.regularizer || !s.trainable || !l.trainable) return;
      p.emit('reg_penalty', l.name, { w: b.paramRegions.get(l)![i] }, { count: sizeOf(s.shape), l1: s.regularizer.l1, l2: s.regularizer.l2 });
    });
  }
}

// The backward half shared by train and gradients: loss, penalties, metrics, then the backward
// pass in reverse topological order. Returns the forward values, the gradient state and the
// metrics region (plan-io.ts).
function backwardProgram(b: PlanBuild, p: ProgramBuilder, withInputGradient: boolean, regularize = true): { values: NodeValue[]; g: GradState; metrics: number | null } {
  const { graph } = b;
  const fused = b.ctx.fusedOutputs;
  // Which nodes need a gradient of their output: those with trainable weights or with a
  // trainable node upstream. A frozen prefix gets no backward ops at all.
  const hasTrainable = (n: GraphNode) => !!n.layer && b.gradRegions.has(n.layer);
  const upstream = new Map<number, boolean>();
  for (const n of graph.nodes) {
    upstream.set(n.id, (withInputGradient && !!n.layer && n.inputs.some((i) => graph.inputs.includes(i))) ||
      n.inputs.some((i) => hasTrainable(graph.nodes[i]) || upstream.get(i)!));
  }
  const needsOutGrad = (n: GraphNode) => hasTrainable(n) || upstream.get(n.id)!;
  for (const n of graph.nodes) if (needsOutGrad(n)) p.gradNodes.add(n.id);
  const values = forwardPass(b, p, true, true);
  const g: GradState = { regions: new Map(), written: new Set() };
  const dlogits = (i: number) => {
    const node = graph.nodes[b.outputs[i].node];
    return needsOutGrad(node) ? outputGrad(p, g, node, sizeOf(values[node.id].shape) * b.batch) : null;
  };
  const metrics = outputLossOps(p, b.outputs, values, dlogits, () => penaltyOps(b, p));
  p.emit('check_loss', 'loss', {}, {});
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.layer || !needsOutGrad(n)) continue;
    const dy = g.regions.get(n.id);
    if (dy === undefined) continue; // nothing that needs a gradient uses this node's output
    backwardNode(b.ctx, p, g, n, values, upstream.get(n.id)!, dy, fused.has(n.id));
  }
  if (regularize) regularizerGradientOps(b, p);
  return { values, g, metrics };
}

// Regularization gradients join the weight gradients before the norm and the update.
function regularizerGradientOps(b: PlanBuild, p: ProgramBuilder): void {
  for (const l of b.layersInOrder) {
    const grads = b.gradRegions.get(l);
    if (!grads) continue;
    l.weightSpecs.forEach((s, i) => {
      if (!s.regularizer || grads[i] === null) return;
      p.emit('reg_gradient', l.name, { g: grads[i]!, w: b.paramRegions.get(l)![i] }, { count: sizeOf(s.shape), l1: s.regularizer.l1, l2: s.regularizer.l2 });
    });
  }
}

// train: the step's schedule, the backward half, the optimizer update and the constraints.
function trainProgram(b: PlanBuild, opt: OptimizerConfig): { p: ProgramBuilder; values: NodeValue[]; metrics: number | null } {
  b.ctx.gradWritten = new Set();
  const p = new ProgramBuilder('train', b.regions);
  // The step's learning rate (and 1cycle's momentum), from the iteration count, in wasm.
  const sched = scheduleOp(typeof opt.learningRate === 'number' ? null : opt.learningRate, hasMomentum(opt));
  p.emit('schedule', 'optimizer', {}, { kind: sched.kind }, sched.tail);
  const { values, metrics } = backwardProgram(b, p, false);
  if (b.trainableParams.length > 0) {
    updateOps(b, p, opt);
    constraintOps(b, p);
  }
  // Only now, with the loss and gradients known to be finite, the new moving statistics.
  p.commitState();
  p.emit('step_done', 'optimizer', {}, {});
  return { p, values, metrics };
}

// Micro-batching's programs: 'gradients' accumulates every micro-batch's loss gradients (each
// backward op adds into the gradient slab) and commits the moving statistics each time; 'train'
// adds the regularization gradients once, then updates as trainProgram does.
function microBatchPrograms(b: PlanBuild, opt: OptimizerConfig): Pick<BuiltPrograms, 'builders' | 'outputs'> {
  b.ctx.gradWritten = new Set(b.trainableParams.map((t) => t.grad!));
  const accumulate = new ProgramBuilder('gradients', b.regions);
  const { values, metrics } = backwardProgram(b, accumulate, false, false);
  accumulate.commitState();
  const apply = new ProgramBuilder('train', b.regions);
  const sched = scheduleOp(typeof opt.learningRate === 'number' ? null : opt.learningRate, hasMomentum(opt));
  apply.emit('schedule', 'optimizer', {}, { kind: sched.kind }, sched.tail);
  if (b.trainableParams.length > 0) {
    regularizerGradientOps(b, apply);
    updateOps(b, apply, opt);
    constraintOps(b, apply);
  }
  apply.emit('step_done', 'optimizer', {}, {});
  return {
    builders: [accumulate, apply],
    outputs: { gradients: { ...outputRegions(b, accumulate, values), metrics }, train: { output: b.header, outputs: [b.header], metrics: null } },
  };
}

// Parameters, gradients and slots share one layout, so one op sweeps each slab; per-tensor
// clipnorm needs each tensor's own norm, so it gets one op per tensor.
function updateOps(b: PlanBuild, p: ProgramBuilder, opt: OptimizerConfig): void {
  const first = b.trainableParams[0];
  p.emit('grad_norm', 'optimizer', { g: first.grad! }, { count: -1 });
  p.emit('check_grads', 'optimizer', {}, {});
  if (opt.className === 'nadam') p.emit('nadam_prep', 'optimizer', {}, {});
  const clipMode = opt.clipvalue !== null ? CLIP_MODE.value : opt.clipnorm !== null ? CLIP_MODE.norm : opt.globalClipnorm !== null ? CLIP_MODE.globalNorm : CLIP_MODE.none;
  const clip = opt.clipvalue ?? opt.clipnorm ?? opt.globalClipnorm ?? 0;
  const h = updateHyperparameters(opt);
  const update = (binding: ParamBinding, count: number) => {
    const refs: Record<string, Ref> = { w: binding.region, g: binding.grad! };
    const args: Record<string, number> = { kind: OPT_KIND[opt.className], count, clipMode, clip, weightDecay: opt.weightDecay, h1: h.h1, h2: h.h2, flags: h.flags };
    (['s1', 's2', 's3'] as const).forEach((name, i) => { if (h.slots[i] >= 0) refs[name] = binding.slots[h.slots[i]]; else args[name] = 0; });
    p.emit('apply_gradients', clipMode === CLIP_MODE.norm ? `${binding.layer}/${binding.weight}` : 'optimizer', refs, args);
  };
  if (clipMode === CLIP_MODE.norm) for (const binding of b.trainableParams) update(binding, sizeOf(binding.shape));
  else update(first, -1);
}

// Constraints after the update (Keras order: clip, decay, update, constrain).
function constraintOps(b: PlanBuild, p: ProgramBuilder): void {
  for (const l of b.layersInOrder) {
    if (!b.gradRegions.has(l)) continue;
    l.weightSpecs.forEach((s, i) => {
      const c = s.constraint;
      if (!c || !s.trainable) return;
      const w = b.paramRegions.get(l)![i];
      if (c.className === 'nonNeg') { p.emit('non_neg', l.name, { w }, { count: sizeOf(s.shape) }); return; }
      const view = constraintView(s.shape, c.axis, `layer ${l.name} ${s.name} ${c.className}`);
      if (c.className === 'maxNorm') p.emit('max_norm', l.name, { w }, { rows: view.rows, cols: view.cols, axis: view.normAxis, maxValue: c.maxValue });
      else p.emit('unit_norm', l.name, { w }, { rows: view.rows, cols: view.cols, axis: view.normAxis });
    });
  }
}

// init: run once for a fresh optimizer: the header's optimizer scalars and every slot's start value.
function initProgram(b: PlanBuild, opt: OptimizerConfig): ProgramBuilder {
  const init = new ProgramBuilder('init', b.regions);
  init.emit('optimizer_init', 'optimizer', {}, { baseLr: baseLearningRate(opt), momentum: optimizerMomentum(opt) });
  b.slotNames.forEach((name, s) => {
    if (b.trainableParams.length === 0) return;
    init.emit('fill', 'optimizer', { y: b.trainableParams[0].slots[s] }, { value: slotInitialValue(opt, name), count: -1, perSample: 0 });
  });
  return init;
}

// Program words, then the layout. Fixed slabs in a fixed order: header, programs, I/O, parameters
// (trainable, frozen), state, gradients, optimizer slots, scratch; then the packed activations.
function layoutArena(b: PlanBuild, builders: ProgramBuilder[]) {
  const { regions } = b;
  const programRegion: Partial<Record<ProgramName, number>> = {};
  for (const p of builders) {
    const words = p.ops.reduce((n, o) => n + opWords({ op: o.op, args: {}, layer: '', tail: o.tail }), 0);
    programRegion[p.name] = addRegion(regions, { name: `program ${p.name}`, kind: 'program', offset: -1, bytes: align16(words * 4) });
  }
  const scratch = addRegion(regions, { name: 'scratch', kind: 'scratch', offset: -1, bytes: align16(b.ctx.scratchBytes) });

  let cursor = KERNEL_STATIC_BYTES;
  const place = (i: number) => { regions[i].offset = cursor; cursor += regions[i].bytes; };
  for (const kind of ['header', 'program', 'input', 'labels'] as const) regions.forEach((r, i) => { if (r.kind === kind) place(i); });
  for (const p of b.params) { place(p.region); if (p.int8Scale !== undefined) place(p.int8Scale); }
  regions.forEach((r, i) => { if (r.kind === 'derived') place(i); });
  for (const p of b.trainableParams) place(p.grad!);
  b.slotNames.forEach((_, s) => { for (const p of b.trainableParams) place(p.slots[s]); });
  // The scratch and the activations start on cache lines (below): a thread tile that ends on a
  // line boundary of its tensor then shares no line with the next tile.
  cursor = alignLine(cursor);
  place(scratch);
  const activationBase = alignLine(cursor);
  let activationBytes = 0;
  for (const p of builders) activationBytes = Math.max(activationBytes, packActivations(regions, p, activationBase));
  return { programRegion, scratch, activationBytes, totalBytes: activationBase + activationBytes };
}

// Resolve symbolic references into byte offsets.
function resolveOps(regions: Region[], p: ProgramBuilder, scratch: number, trainableSlab: Plan['trainableSlab']): PlanOpWithRegions[] {
  return p.ops.map((o) => {
    const args = { ...o.args };
    const uses: Record<string, number> = {};
    for (const [name, ref] of Object.entries(o.refs)) {
      const [r, offset] = typeof ref === 'number' ? [ref, 0] : ref;
      const region = r === SCRATCH ? scratch : r;
      uses[name] = region;
      args[name] = regions[region].offset + offset;
    }
    if (args.count === -1) args.count = trainableSlab!.bytes / 4; // slab-wide optimizer ops
    return o.tail ? { op: o.op, layer: o.layer, args, uses, tail: o.tail } : { op: o.op, layer: o.layer, args, uses };
  });
}

function memoryBreakdown(regions: Region[], activationBytes: number, totalBytes: number): MemoryBreakdown {
  const sum = (kind: RegionKind) => regions.filter((r) => r.kind === kind).reduce((n, r) => n + r.bytes, 0);
  const breakdown: MemoryBreakdown = {
    weights: sum('param'),
    gradients: sum('grad'),
    optimizerState: sum('slot'),
    state: sum('state'),
    activations: activationBytes,
    scratch: sum('scratch'),
    derivedWeights: sum('derived'),
    other: 0,
  };
  breakdown.other = totalBytes - breakdown.derivedWeights - breakdown.weights - breakdown.gradients - breakdown.optimizerState - breakdown.state - breakdown.activations - breakdown.scratch;
  return breakdown;
}

// apply_gradients' optimizer-specific arguments: which slot fills s1..s3 (-1: none), h1 (rho or
// beta_2), h2 (epsilon) and flags (bit 0: nesterov).
function updateHyperparameters(opt: OptimizerConfig): { slots: number[]; h1: number; h2: number; flags: number } {
  const names = optimizerSlots(opt);
  const at = (n: string) => names.indexOf(n);
  switch (opt.className) {
    case 'sgd': return { slots: [at('momentum'), -1, -1], h1: 0, h2: 0, flags: opt.nesterov ? 1 : 0 };
    case 'adagrad': return { slots: [at('accumulator'), -1, -1], h1: 0, h2: opt.epsilon, flags: 0 };
    case 'rmsprop': return { slots: [at('velocity'), at('momentum'), at('average_gradient')], h1: opt.rho, h2: opt.epsilon, flags: 0 };
    case 'adam':
    case 'adamw': return { slots: [at('m'), at('v'), at('vhat')], h1: opt.beta2, h2: opt.epsilon, flags: 0 };
    case 'nadam': return { slots: [at('m'), at('v'), -1], h1: opt.beta2, h2: opt.epsilon, flags: 0 };
    case 'adamax': return { slots: [at('m'), at('u'), -1], h1: opt.beta2, h2: opt.epsilon, flags: 0 };
  }
}

function regionEnd(regions: Region[], i: number): number {
  return regions[i].offset + regions[i].bytes;
}

export function describeLowerBound(b: LiveSetBound): string {
  return `lower bound ${formatBytes(b.bytes)} (largest live set of activations ${formatBytes(b.liveActivations)}, at ${b.at}); ` +
    `planned / bound = ${b.ratio.toFixed(2)}x`;
}
