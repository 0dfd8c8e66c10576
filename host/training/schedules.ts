// Learning-rate schedules with Keras 3 names, arguments and formulas (keras/src/optimizers/
// schedules/learning_rate_schedule.py), plus 1cycle. A schedule is a plain record; the plan turns
// it into one `schedule` op that computes each step's rate inside wasm from the optimizer's
// iteration count (assembly/kernels/schedule.ts), so no engine's Math.pow or Math.cos is involved and a
// checkpoint's iteration count is the schedule's position.
import { InvalidArgumentError } from '../core/errors';
import { asF32, finiteInF32, positiveInF32 } from '../core/tensor';

export interface ExponentialDecay {
  className: 'exponentialDecay';
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  staircase: boolean;
}
export interface PiecewiseConstantDecay {
  className: 'piecewiseConstantDecay';
  boundaries: number[];
  values: number[];
}
// Keras InverseTimeDecay: lr0 / (1 + rate * step / decaySteps). `power` generalises it to power
// scheduling, lr0 / (1 + step / s)^c (rate 1, decaySteps s, power c); Keras's is power 1.
export interface InverseTimeDecay {
  className: 'inverseTimeDecay';
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  staircase: boolean;
  power: number;
}
export interface PolynomialDecay {
  className: 'polynomialDecay';
  initialLearningRate: number;
  decaySteps: number;
  endLearningRate: number;
  power: number;
  cycle: boolean;
}
export interface CosineDecay {
  className: 'cosineDecay';
  initialLearningRate: number;
  decaySteps: number;
  alpha: number;
  warmupTarget: number | null;
  warmupSteps: number;
}
// 1cycle (Smith; the form in Géron's book): over `iterations` steps the rate rises linearly from
// startLearningRate (maxLearningRate / 10) to maxLearningRate, comes back down, and over the last
// tenth falls to lastLearningRate (start / 1000). Momentum (or Adam's beta_1) cycles the other way,
// maxMomentum -> minMomentum -> maxMomentum, where the optimizer has one.
export interface OneCycle {
  className: 'oneCycle';
  iterations: number;
  maxLearningRate: number;
  startLearningRate: number;
  lastLearningRate: number;
  maxMomentum: number;
  minMomentum: number;
}
export type LearningRateSchedule = ExponentialDecay | PiecewiseConstantDecay | InverseTimeDecay | PolynomialDecay | CosineDecay | OneCycle;

const where = (s: string) => `learning-rate schedule ${s}`;
// Schedule parameters run as f32 in wasm (assembly/kernels/schedule.ts): they must stay finite there.
function positive(s: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !positiveInF32(v)) throw new InvalidArgumentError(`${where(s)}: ${name} must be a positive number, got ${v}${asF32(v)}`);
  return v;
}
function nonNegative(s: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !finiteInF32(v) || v < 0) throw new InvalidArgumentError(`${where(s)}: ${name} must be a non-negative number, got ${v}${asF32(v)}`);
  return v;
}
function steps(s: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${where(s)}: ${name} must be a positive integer, got ${v}`);
  return v;
}
function required<T>(s: string, name: string, v: T | undefined): T {
  if (v === undefined) throw new InvalidArgumentError(`${where(s)}: ${name} is required`);
  return v;
}

export const schedules = {
  // keras.optimizers.schedules.ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)
  exponentialDecay(o: { initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean }): ExponentialDecay {
    const s = 'exponentialDecay';
    return {
      className: s,
      initialLearningRate: positive(s, 'initialLearningRate', required(s, 'initialLearningRate', o.initialLearningRate)),
      decaySteps: positive(s, 'decaySteps', required(s, 'decaySteps', o.decaySteps)),
      decayRate: positive(s, 'decayRate', required(s, 'decayRate', o.decayRate)),
      staircase: o.staircase ?? false,
    };
  },
  // keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
  piecewiseConstantDecay(o: { boundaries: number[]; values: number[] }): PiecewiseConstantDecay {
    const s = 'piecewiseConstantDecay';
    const b = required(s, 'boundaries', o.boundaries);
    const v = required(s, 'values', o.values);
    if (!Array.isArray(b) || !Array.isArray(v)) throw new InvalidArgumentError(`${where(s)}: boundaries and values must be arrays`);
    if (v.length !== b.length + 1) {
      throw new InvalidArgumentError(`${where(s)}: values must have one more element than boundaries (got ${b.length} boundaries and ${v.length} values)`);
    }
    b.forEach((x, i) => {
      nonNegative(s, `boundaries[${i}]`, x);
      if (i > 0 && !(x > b[i - 1])) throw new InvalidArgumentError(`${where(s)}: boundaries must increase (boundaries[${i}] = ${x} after ${b[i - 1]})`);
    });
    v.forEach((x, i) => positive(s, `values[${i}]`, x));
    return { className: s, boundaries: [...b], values: [...v] };
  },
  // keras.optimizers.schedules.InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)
  inverseTimeDecay(o: { initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean; power?: number }): InverseTimeDecay {
    const s = 'inverseTimeDecay';
    return {
      className: s,
      initialLearningRate: positive(s, 'initialLearningRate', required(s, 'initialLearningRate', o.initialLearningRate)),
      decaySteps: positive(s, 'decaySteps', required(s, 'decaySteps', o.decaySteps)),
      decayRate: nonNegative(s, 'decayRate', required(s, 'decayRate', o.decayRate)),
      staircase: o.staircase ?? false,
      power: positive(s, 'power', o.power ?? 1),
    };
  },
  // keras.optimizers.schedules.PolynomialDecay(initial_learning_rate, decay_steps, end_learning_rate=1e-4, power=1.0, cycle=False)
  polynomialDecay(o: { initialLearningRate: number; decaySteps: number; endLearningRate?: number; power?: number; cycle?: boolean }): PolynomialDecay {
    const s = 'polynomialDecay';
    return {
      className: s,
      initialLearningRate: positive(s, 'initialLearningRate', required(s, 'initialLearningRate', o.initialLearningRate)),
      decaySteps: positive(s, 'decaySteps', required(s, 'decaySteps', o.decaySteps)),
      endLearningRate: nonNegative(s, 'endLearningRate', o.endLearningRate ?? 1e-4),
      power: positive(s, 'power', o.power ?? 1),
      cycle: o.cycle ?? false,
    };
  },
  // keras.optimizers.schedules.CosineDecay(initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0)
  cosineDecay(o: { initialLearningRate: number; decaySteps: number; alpha?: number; warmupTarget?: number | null; warmupSteps?: number }): CosineDecay {
    const s = 'cosineDecay';
    const warmupTarget = o.warmupTarget ?? null;
    const warmupSteps = o.warmupSteps ?? 0;
    if (warmupTarget !== null) positive(s, 'warmupTarget', warmupTarget);
    nonNegative(s, 'warmupSteps', warmupSteps);
    if (warmupTarget !== null && warmupSteps === 0) throw new InvalidArgumentError(`${where(s)}: warmupTarget needs warmupSteps > 0`);
    const alpha = nonNegative(s, 'alpha', o.alpha ?? 0);
    if (alpha > 1) throw new InvalidArgumentError(`${where(s)}: alpha must be in [0, 1], got ${alpha}`);
    return {
      className: s,
      initialLearningRate: nonNegative(s, 'initialLearningRate', required(s, 'initialLearningRate', o.initialLearningRate)),
      decaySteps: positive(s, 'decaySteps', required(s, 'decaySteps', o.decaySteps)),
      alpha, warmupTarget, warmupSteps,
    };
  },
  // 1cycle over `iterations` optimizer steps (usually epochs * steps per epoch).
  oneCycle(o: { iterations: number; maxLearningRate: number; startLearningRate?: number; lastLearningRate?: number; maxMomentum?: number; minMomentum?: number }): OneCycle {
    const s = 'oneCycle';
    const iterations = steps(s, 'iterations', required(s, 'iterations', o.iterations));
    const maxLearningRate = positive(s, 'maxLearningRate', required(s, 'maxLearningRate', o.maxLearningRate));
    const startLearningRate = positive(s, 'startLearningRate', o.startLearningRate ?? maxLearningRate / 10);
    const lastLearningRate = positive(s, 'lastLearningRate', o.lastLearningRate ?? startLearningRate / 1000);
    const maxMomentum = nonNegative(s, 'maxMomentum', o.maxMomentum ?? 0.95);
    const minMomentum = nonNegative(s, 'minMomentum', o.minMomentum ?? 0.85);
    if (maxMomentum >= 1 || minMomentum > maxMomentum) throw new InvalidArgumentError(`${where(s)}: need 0 <= minMomentum <= maxMomentum < 1, got ${minMomentum}, ${maxMomentum}`);
    if (iterations < 3) throw new InvalidArgumentError(`${where(s)}: iterations must be at least 3, got ${iterations}`);
    return { className: s, iterations, maxLearningRate, startLearningRate, lastLearningRate, maxMomentum, minMomentum };
  },
};

const FACTORIES: Record<LearningRateSchedule['className'], (o: never) => LearningRateSchedule> = schedules;

// Re-validates a schedule record (from user code or a saved training config).
export function resolveSchedule(spec: unknown): LearningRateSchedule {
  const name = (spec as { className?: unknown })?.className;
  if (typeof name !== 'string' || !(name in FACTORIES)) {
    throw new InvalidArgumentError(`unknown learning-rate schedule '${String(name)}' (known: ${Object.keys(FACTORIES).join(', ')})`);
  }
  return FACTORIES[name as LearningRateSchedule['className']](spec as never);
}

// The schedule op's kind and parameters (assembly/kernels/schedule.ts SCHEDULE_*). `cycleMomentum`: the
// optimizer has a momentum (or beta_1) for 1cycle to cycle.
export function scheduleOp(s: LearningRateSchedule | null, cycleMomentum: boolean): { kind: number; tail: number[] } {
  if (s === null) return { kind: 0, tail: [] };
  switch (s.className) {
    case 'exponentialDecay': return { kind: 1, tail: [s.initialLearningRate, s.decaySteps, s.decayRate, s.staircase ? 1 : 0] };
    case 'piecewiseConstantDecay': return { kind: 2, tail: [s.boundaries.length, ...s.boundaries, ...s.values] };
    case 'inverseTimeDecay': return { kind: 3, tail: [s.initialLearningRate, s.decaySteps, s.decayRate, s.staircase ? 1 : 0, s.power] };
    case 'polynomialDecay': return { kind: 4, tail: [s.initialLearningRate, s.decaySteps, s.endLearningRate, s.power, s.cycle ? 1 : 0] };
    case 'cosineDecay': return { kind: 5, tail: [s.initialLearningRate, s.decaySteps, s.alpha, s.warmupTarget ?? 0, s.warmupSteps, s.warmupTarget === null ? 0 : 1] };
    case 'oneCycle':
      return { kind: 6, tail: [s.iterations, s.maxLearningRate, s.startLearningRate, s.lastLearningRate, s.maxMomentum, s.minMomentum, cycleMomentum ? 1 : 0] };
  }
}

// The rate a schedule starts at (step 0), for display and for the optimizer's variable.
export function initialRate(s: LearningRateSchedule): number {
  switch (s.className) {
    case 'piecewiseConstantDecay': return s.values[0];
    case 'oneCycle': return s.startLearningRate;
    default: return s.initialLearningRate;
  }
}
