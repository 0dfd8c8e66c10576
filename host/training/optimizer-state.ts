// The optimizer's state outside the weights: the header's optimizer scalars and every slot. Taken
// for checkpoints and the LR finder, carried across re-plans, restored from a saved model.
import { sizeOf } from '../compile/graph';
import type { Executor, OptimizerScalars } from '../runtime/executor';
import { optimizerSlots } from './optimizers';

// The scalars and every slot, keyed '<slot>/<layer>/<weight>'.
export interface OptimizerSnapshot extends OptimizerScalars {
  slots: Map<string, Float32Array>;
}

export function takeOptimizerSnapshot(exec: Executor): OptimizerSnapshot {
  const slots = new Map<string, Float32Array>();
  const names = optimizerSlots(exec.plan.optimizer!);
  for (const b of exec.plan.params) b.slots.forEach((r, i) => slots.set(`${names[i]}/${b.layer}/${b.weight}`, exec.view(r, sizeOf(b.shape)).slice()));
  return { ...exec.optimizerScalars(), slots };
}

export function applyOptimizerSnapshot(exec: Executor, snap: OptimizerSnapshot): void {
  exec.setOptimizerScalars(snap);
  const names = optimizerSlots(exec.plan.optimizer!);
  for (const b of exec.plan.params) {
    b.slots.forEach((r, i) => {
      const v = snap.slots.get(`${names[i]}/${b.layer}/${b.weight}`);
      if (v) exec.view(r, sizeOf(b.shape)).set(v);
    });
  }
}

// Across a re-plan (new batch size, trainable set or mode) with the same optimizer: the scalars,
// and the slots of every weight trainable in both plans.
export function copyOptimizerState(from: Executor, to: Executor): void {
  if (from.plan.mode !== 'training' || to.plan.mode !== 'training') return;
  const key = (b: { layer: string; weight: string }) => `${b.layer}/${b.weight}`;
  const old = new Map(from.plan.params.map((b) => [key(b), b]));
  const sameOptimizer = JSON.stringify(from.plan.optimizer) === JSON.stringify(to.plan.optimizer);
  if (!sameOptimizer) return;
  to.setOptimizerScalars(from.optimizerScalars());
  for (const b of to.plan.params) {
    const prev = old.get(key(b));
    if (!prev || !prev.trainable || !b.trainable) continue;
    b.slots.forEach((s, i) => to.view(s).set(from.view(prev.slots[i])));
  }
}
