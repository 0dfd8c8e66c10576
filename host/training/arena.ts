// A model's plan and executor: planned on demand and re-planned when there is none, when training
// needs a training plan, when the batch outgrew the plan, when layers were frozen or unfrozen
// since planning, or when gradients are asked for; the layers' weights bound into the arena, and
// the optimizer's state carried across re-plans (or restored from a checkpoint).
import { sizeOf, type Graph } from '../compile/graph';
import { compilePlan } from '../compile/plan';
import type { Layer } from '../layers/layer';
import { Executor } from '../runtime/executor';
import { defaultThreads } from '../runtime/thread-pool';
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

export class ModelArena {
  executor: Executor | null = null;
  // Also plan the gradients program (model.computeGradients).
  planGradients = false;
  // Optimizer state waiting for the next training plan (a checkpoint being restored).
  pendingOptimizer: OptimizerSnapshot | null = null;
  private trainableAtPlan = '';
  // This model's thread count (compile or planInference `threads`); null: setThreads's.
  threads: number | null = null;

  constructor(private readonly graph: Graph, private readonly layers: readonly Layer[], private readonly layerNamed: (name: string) => Layer) {}

  private trainableSignature(): string {
    return this.layers.map((l) => (l.trainable ? '1' : '0')).join('');
  }

  replan(batchSize: number, mode: 'training' | 'inference', resetOptimizer: boolean, c: TrainingSetup | null): void {
    const plan = mode === 'training'
      ? compilePlan(this.graph, {
        batchSize, mode, loss: c!.loss, optimizer: c!.optimizer, memoryBudget: c!.memoryBudget, gradients: this.planGradients,
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
  }

  // Makes this model's arena hold the current weights of every layer (a layer shared with another
  // model may have been trained there), and points the layers' weight arrays at it.
  private bindWeights(exec: Executor): void {
    for (const b of exec.plan.params) {
      const layer = this.layerNamed(b.layer);
      if (layer.home === exec) continue;
      const i = layer.weightSpecs.findIndex((s) => s.name === b.weight);
      const view = exec.view(b.region, sizeOf(b.shape));
      view.set(layer.values[i]);
      layer.values[i] = view;
    }
    for (const l of this.layers) if (l.weightSpecs.length) l.home = exec;
  }

  // The executor for a run (training needs `c`), re-planned if stale, weights bound.
  executorFor(batchSize: number, training: boolean, c: TrainingSetup | null): Executor {
    const e = this.executor;
    const mode = training || e?.plan.mode === 'training' ? 'training' : 'inference';
    const stale = !e || e.plan.mode !== mode || e.plan.batchSize < batchSize ||
      (mode === 'training' && this.trainableAtPlan !== this.trainableSignature()) ||
      (mode === 'training' && this.planGradients && !e.plan.programs.gradients);
    if (stale) this.replan(Math.max(batchSize, e && e.plan.mode === mode ? e.plan.batchSize : 0), mode, false, c);
    else this.bindWeights(e);
    return this.executor!;
  }
}
