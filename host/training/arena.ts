// A model's plan and executor: planned on demand and re-planned when there is none, when training
// needs a training plan, when the batch outgrew the plan, when layers were frozen or unfrozen
// since planning, or when gradients are asked for; the layers' weights bound into the arena, and
// the optimizer's state carried across re-plans (or restored from a checkpoint).
import { sizeOf, type Graph } from '../compile/graph';
import { compilePlan } from '../compile/plan';
import type { Layer } from '../layers/layer';
import { Executor } from '../runtime/executor';
import { drawPacked, packedOnlyWeights } from '../runtime/init-fill';
import type { PlanOpWithRegions } from '../compile/plan';
import { defaultThreads } from '../runtime/threads';
import type { LossConfig } from './losses';
import type { OptimizerConfig } from './optimizers';
import { applyOptimizerSnapshot, copyOptimizerState, type OptimizerSnapshot } from './optimizer-state';

// What planning needs of a model's compile configuration.
export interface TrainingSetup {
  optimizer: OptimizerConfig;
  loss: LossConfig | LossConfig[]; // one for every output, or one per output
  lossWeights?: number[];
  memoryBudget?: number;
}

// A layer's int8 mode: 'a' absmax inputs, 'q' weight-only, '-' float.
function int8Mode(l: Layer): string {
  return l.int8 ? (l.int8.activationQuantizer === 'absmax' ? 'a' : 'q') : '-';
}

export class ModelArena {
  executor: Executor | null = null;
  // Also plan the gradients program (model.computeGradients).
  planGradients = false;
  // Also plan per-sample weights regions (sampleWeight / classWeight was given once).
  planSampleWeights = false;
  // Optimizer state waiting for the next training plan (a checkpoint being restored).
  pendingOptimizer: OptimizerSnapshot | null = null;
  private trainableAtPlan = '';
  private int8AtPlan: string[] = [];
  // This model's thread count (compile or planInference `threads`); null: setThreads's.
  threads: number | null = null;

  constructor(private readonly graph: Graph, private readonly layers: readonly Layer[], private readonly layerNamed: (name: string) => Layer) {}

  private trainableSignature(): string {
    return this.layers.map((l) => (l.trainable ? '1' : '0')).join('');
  }

  // Which layers hold int8 kernels (their regions differ in size: any plan is stale after quantize),
  // and which of those quantize their inputs (absmax: other ops), layer by layer. Compared with
  // the plan's layer by layer on every run (joined into a string, 0.03 ms a predict on
  // mobilenet_v2's 150 layers).
  private int8Modes(): string[] {
    return this.layers.map(int8Mode);
  }

  private int8Changed(): boolean {
    return this.layers.some((l, i) => int8Mode(l) !== this.int8AtPlan[i]);
  }

  replan(batchSize: number, mode: 'training' | 'inference', resetOptimizer: boolean, c: TrainingSetup | null, microBatching = false): void {
    const plan = mode === 'training'
      ? compilePlan(this.graph, {
        batchSize, mode, loss: c!.loss, optimizer: c!.optimizer, memoryBudget: c!.memoryBudget, gradients: this.planGradients, microBatching,
        sampleWeights: this.planSampleWeights,
        ...(c!.lossWeights ? { lossWeights: c!.lossWeights } : {}),
      })
      : compilePlan(this.graph, { batchSize, mode, memoryBudget: c?.memoryBudget });
    const previous = this.executor;
    const next = new Executor(plan, this.threads ?? defaultThreads());
    this.bindWeights(next);
    if (previous && !resetOptimizer) copyOptimizerState(previous, next);
    if (mode === 'training' && this.pendingOptimizer) {
      applyOptimizerSnapshot(next, this.pendingOptimizer);
      this.pendingOptimizer = null;
    }
    this.executor = next;
    this.trainableAtPlan = this.trainableSignature();
    this.int8AtPlan = this.int8Modes();
  }

  // Makes this model's arena hold the current weights of every layer (a layer shared with another
  // model may have been trained there), and points the layers' weight arrays at it.
  private bindWeights(exec: Executor): void {
    // Every weighted layer already lives here (each predict after the first): nothing to bind, and
    // no need to look up each param's layer (0.085 ms a predict on mobilenet_v2).
    if (this.layers.every((l) => !l.weightSpecs.length || l.home === exec)) return;
    const packed = this.packedDraws(exec);
    for (const b of exec.plan.params) {
      const layer = this.layerNamed(b.layer);
      if (layer.home === exec) continue;
      if (b.int8Scale !== undefined) { // frozen: the layer keeps its host arrays
        exec.preparedFor = null;
        new Int8Array(exec.memory.buffer, exec.plan.regions[b.region].offset, layer.int8!.q.length).set(layer.int8!.q);
        exec.view(b.int8Scale, layer.int8!.scale.length).set(layer.int8!.scale);
        continue;
      }
      const i = layer.weightSpecs.findIndex((s) => s.name === b.weight);
      const pack = packed?.get(b.region);
      if (pack) {
        drawPacked(exec.kernels, pack, layer.pendingUniform(i)!);
        layer.bindUndrawn(i, exec.view(b.region, sizeOf(b.shape)));
      } else layer.moveValue(i, exec.view(b.region, sizeOf(b.shape)));
      exec.preparedFor = null;
    }
    for (const l of this.layers) if (l.weightSpecs.length) l.home = exec;
    if (packed) exec.preparedFor = this.weightVersions(); // the packed copies are drawn: nothing to prepare
  }

  // A fresh inference executor whose prepare program only packs weights that are initial uniform
  // draws still pending: each is drawn straight into its packed copy (no weight written, no pack
  // run; the weight is drawn in the arena when read), by region. Null: bind as usual.
  private packedDraws(exec: Executor): Map<number, PlanOpWithRegions> | null {
    if (exec.preparedFor !== null || !exec.kernels.init_uniform_packed) return null;
    const packs = packedOnlyWeights(exec.plan);
    if (!packs) return null;
    for (const b of exec.plan.params) {
      if (!packs.has(b.region)) continue;
      const layer = this.layerNamed(b.layer);
      if (layer.home === exec || !layer.pendingUniform(layer.weightSpecs.findIndex((s) => s.name === b.weight))) return null;
    }
    return packs.size === exec.plan.params.filter((b) => packs.has(b.region)).length ? packs : null;
  }

  // The layers' weight versions as one string (Executor.preparedFor), joined again only when one
  // of them moved since the last call.
  private versionsSeen: number[] = [];
  private versionsJoined = '';
  private weightVersions(): string {
    if (this.layers.length !== this.versionsSeen.length || this.layers.some((l, i) => l.weightsVersion !== this.versionsSeen[i])) {
      this.versionsSeen = this.layers.map((l) => l.weightsVersion);
      this.versionsJoined = this.versionsSeen.join(',');
    }
    return this.versionsJoined;
  }

  // The executor for a run (training needs `c`), re-planned if stale, weights bound. microBatching:
  // true for fit's micro-batches (planned at exactly batchSize rows), false for runs of the whole
  // 'train' or 'gradients' program, undefined for runs that either plan serves (evaluate, predict).
  executorFor(batchSize: number, training: boolean, c: TrainingSetup | null, microBatching?: boolean): Executor {
    const e = this.executor;
    const mode = training || e?.plan.mode === 'training' ? 'training' : 'inference';
    const micro = mode === 'training' && (microBatching ?? e?.plan.microBatching ?? false);
    const switched = mode === 'training' && !!e && e.plan.mode === mode && e.plan.microBatching !== micro;
    const stale = !e || e.plan.mode !== mode || e.plan.batchSize < batchSize || switched || this.int8Changed() ||
      (mode === 'training' && this.trainableAtPlan !== this.trainableSignature()) ||
      (mode === 'training' && this.planGradients && !micro && !e.plan.programs.gradients) ||
      (mode === 'training' && this.planSampleWeights && !e.plan.outputs.some((o) => o.weightsRegion !== null));
    const keep = e && e.plan.mode === mode && !switched ? e.plan.batchSize : 0;
    if (stale) this.replan(Math.max(batchSize, keep), mode, false, c, micro);
    else this.bindWeights(e);
    this.prepare(this.executor!);
    return this.executor!;
  }

  // Runs the plan's prepare program (weights packed into GEMM panels, batch norms folded) when the
  // weights changed since it last ran: set through setWeights or a load (each bumps the layer's
  // weightsVersion), or copied in from another model's arena by bindWeights.
  private prepare(exec: Executor): void {
    if (!exec.plan.programs.prepare) return;
    const versions = this.weightVersions();
    if (exec.preparedFor === versions) return;
    for (const l of this.layers) l.drawPending(); // packs read every weight: none may be left undrawn
    exec.run('prepare');
    exec.preparedFor = versions;
  }
}
