// Micro-batching (fit's microBatch): gradient accumulation inside the arena. A batch's rows run
// through the 'gradients' program microBatch rows at a time; each run adds its loss gradients,
// scaled by 1 / the batch's rows, into the gradient slab (zeroed first), so after the last run the
// slab holds the whole batch's mean-loss gradient up to float summation order. Then 'train'
// applies it once: regularization gradients, clipping, the update and the constraints, as a
// full-batch step would. The arena holds the activations of microBatch rows only.
//
// What differs from the full batch (as with gradient accumulation in Keras):
// - BatchNormalization in training mode (a trainable BN) normalizes each micro-batch by that
//   micro-batch's mean and variance, and its moving statistics take one momentum step per
//   micro-batch. Frozen BN (inference mode, moving statistics) is exact.
// - Dropout masks are keyed by the step and the row within a run, so every micro-batch of a step
//   draws the same masks.
import { InvalidArgumentError } from '../core/errors';
import type { Executor, RunResult } from '../runtime/executor';
import { loadBatch } from './inputs';
import { readOutputMetrics } from './model-io';

// microBatch as given to fit (undefined: none), checked against batchSize. `where` names the
// caller in the message (edgetune compile and plan files check the same).
export function checkMicroBatch(microBatch: unknown, batchSize: number, where = 'fit'): number | undefined {
  if (microBatch === undefined) return undefined;
  if (typeof microBatch !== 'number' || !Number.isInteger(microBatch) || microBatch <= 0) {
    throw new InvalidArgumentError(`${where}: microBatch must be a positive integer, got ${String(microBatch)}`);
  }
  if (microBatch > batchSize) throw new InvalidArgumentError(`${where}: microBatch ${microBatch} exceeds batchSize ${batchSize}; it must divide it`);
  if (batchSize % microBatch !== 0) {
    throw new InvalidArgumentError(`${where}: microBatch ${microBatch} does not divide batchSize ${batchSize} (a batch would end in a smaller micro-batch); use a divisor of ${batchSize}`);
  }
  return microBatch;
}

export interface StepFigures {
  result: RunResult;
  lossSum: number;
  penalty: number;
  correct: number;
  gradNormSq: number;
  perOutput: { loss: number[]; correct: number[] } | null;
}

// One optimizer step over rows [start, start + count) of `order`, micro-batched by the plan's
// batch size. Stops at the first run that finds a non-finite loss or gradient.
export function microBatchStep(exec: Executor, xs: readonly Float32Array[], labels: readonly (Float32Array | Int32Array)[],
  order: Int32Array | null, start: number, count: number, weights: readonly Float32Array[] | null = null): StepFigures {
  const micro = exec.plan.batchSize;
  let perOutput: StepFigures['perOutput'] = null;
  let lossSum = 0;
  let correct = 0;
  exec.zeroGradients();
  for (let at = 0; at < count; at += micro) {
    const rows = Math.min(micro, count - at);
    loadBatch(exec, xs, labels, order, start + at, rows, weights);
    exec.setStep(rows); // each run's sums start at 0 (several outputs' metrics need that); added here
    exec.lossScale = 1 / count;
    const result = exec.run('gradients');
    if (result.nonFinite) return { result, lossSum: NaN, penalty: NaN, correct: NaN, gradNormSq: NaN, perOutput };
    const h = exec.readHeader();
    lossSum += h.lossSum;
    correct += h.correct;
    const m = readOutputMetrics(exec, 'gradients');
    if (m) {
      perOutput ??= { loss: m.loss.map(() => 0), correct: m.loss.map(() => 0) };
      m.loss.forEach((v, i) => { perOutput!.loss[i] += v; perOutput!.correct[i] += m.correct[i]; });
    }
  }
  const { penalty } = exec.readHeader(); // of the weights before the update
  exec.setStep(count, true);
  const result = exec.run('train');
  return { result, lossSum, penalty, correct, gradNormSq: exec.readHeader().gradNormSq, perOutput };
}
