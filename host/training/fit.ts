// The fit loop (Keras model.fit): epochs of shuffled batches, one train program run per batch,
// per-step and per-epoch logs, validation, and the callbacks' hooks in Keras's order. The inputs
// and labels arrive checked; `executorFor` re-plans when a callback froze layers or the batch grew.
import { InvalidArgumentError, NonFiniteError } from '../core/errors';
import { Random, nextSeed } from '../core/random';
import type { Executor } from '../runtime/executor';
import { loadBatch } from './inputs';
import { readOutputMetrics } from './model-io';
import { microBatchStep, type StepFigures } from './micro-batch';
import { fitProgress, resolveVerbose } from './fit-progress';
import { checkOptions } from '../core/options';
import type { Callback, EpochLogs, FitOptions, History, LiteModel, Prediction } from './model';

export async function fitLoop(
  model: LiteModel<Prediction>, executorFor: (batchSize: number) => Executor, xs: Float32Array[], labels: (Float32Array | Int32Array)[],
  n: number, batchSize: number, epochs: number, options: FitOptions, weights: Float32Array[] | null,
): Promise<History> {
  const rng = new Random(options.seed ?? nextSeed());
  const steps: History['steps'] = { lr: [], loss: [], ...(options.recordGradNorm ? { gradNorm: [] } : {}) };
  const history: History = { epoch: [], history: {}, steps };
  const push = (k: string, v: number) => (history.history[k] ??= []).push(v);
  const verbose = resolveVerbose(options.verbose);
  const printer = fitProgress(verbose, epochs, Math.ceil(n / batchSize));
  const callbacks = [...(printer ? [printer] : []), ...callbackList(options.callbacks)];
  model.stopTraining = false;
  for (const cb of callbacks) cb.setModel?.(model);
  for (const cb of callbacks) if (cb.onTrainBegin) await cb.onTrainBegin();
  let last: EpochLogs | null = null;
  for (let epoch = options.initialEpoch ?? 0; epoch < epochs && !model.stopTraining; epoch++) {
    const exec = executorFor(batchSize);
    const microBatch = exec.plan.microBatching;
    for (const cb of callbacks) if (cb.onEpochBegin) await cb.onEpochBegin(epoch);
    const order = options.shuffle === false ? null : rng.permutation(n);
    // The epoch's sums: the logs are means over samples (Keras), with the penalty of each step
    // counted once per sample of it.
    let lossSum = 0;
    let correct = 0;
    let perOutput: { loss: number[]; correct: number[] } | null = null;
    for (let start = 0, b = 0; start < n; start += batchSize, b++) {
      const count = Math.min(batchSize, n - start);
      const h = microBatch
        ? microBatchStep(exec, xs, labels, order, start, count, weights)
        : trainStep(exec, xs, labels, order, start, count, weights);
      const { nonFinite } = h.result;
      if (nonFinite) throw new NonFiniteError(nonFinite, epoch, b, exec.iterations + 1);
      lossSum += h.lossSum + h.penalty * count;
      correct += h.correct;
      const m = h.perOutput;
      if (m) {
        perOutput ??= { loss: m.loss.map(() => 0), correct: m.loss.map(() => 0) };
        m.loss.forEach((v, i) => { perOutput!.loss[i] += v; perOutput!.correct[i] += m.correct[i]; });
      }
      const stepLoss = h.lossSum / count + h.penalty;
      steps.lr.push(exec.lastLearningRate);
      steps.loss.push(stepLoss);
      if (steps.gradNorm) steps.gradNorm.push(Math.sqrt(h.gradNormSq));
      for (const cb of callbacks) if (cb.onBatchEnd) await cb.onBatchEnd(b, { loss: stepLoss, lr: exec.lastLearningRate });
    }
    const logs: EpochLogs = { ...model.results(n, lossSum, 0, correct, perOutput) } as EpochLogs;
    if (options.validationData) {
      const [vx, vy, sampleWeight] = options.validationData;
      const v = model.evaluate(vx, vy, { batchSize, ...(sampleWeight !== undefined ? { sampleWeight } : {}) });
      for (const [k, value] of Object.entries(v)) if (value !== undefined) logs[`val_${k}`] = value;
    }
    logs.learning_rate = exec.lastLearningRate;
    history.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) if (v !== undefined) push(k, v);
    if (options.onEpochEnd) await options.onEpochEnd(epoch, logs);
    for (const cb of callbacks) if (cb.onEpochEnd) await cb.onEpochEnd(epoch, logs);
    last = logs;
  }
  for (const cb of callbacks) if (cb.onTrainEnd) await cb.onTrainEnd(last);
  return history;
}

// One whole-batch 'train' run.
function trainStep(exec: Executor, xs: readonly Float32Array[], labels: readonly (Float32Array | Int32Array)[],
  order: Int32Array | null, start: number, count: number, weights: readonly Float32Array[] | null): StepFigures {
  loadBatch(exec, xs, labels, order, start, count, weights);
  exec.setStep(count);
  const result = exec.run('train');
  const h = exec.readHeader();
  return { result, lossSum: h.lossSum, penalty: h.penalty, correct: h.correct, gradNormSq: h.gradNormSq, perOutput: readOutputMetrics(exec, 'train') };
}

// The hooks fit calls. A plain object (TF.js's `callbacks: { onEpochEnd }` form) may hold only
// these; a class instance may hold anything else besides.
const HOOKS = ['setModel', 'onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;

function callbackList(c: FitOptions['callbacks']): Callback[] {
  if (c === undefined || c === null) return [];
  const list = Array.isArray(c) ? c : [c];
  list.forEach((cb, i) => {
    if (typeof cb !== 'object' || cb === null) throw new InvalidArgumentError(`fit: callbacks[${i}] must be an object with hooks (${HOOKS.join(', ')}), got ${String(cb)}`);
    if (Object.getPrototypeOf(cb) === Object.prototype) checkOptions(`fit callbacks${Array.isArray(c) ? `[${i}]` : ''}`, cb, HOOKS);
  });
  return list;
}
