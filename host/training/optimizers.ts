// Optimizers as plain configuration records with Keras 3 names, defaults and formulas
// (keras/src/optimizers/*.py; docs/numerics.md). The update itself runs in wasm
// (assembly/kernels/optim.ts): one fused pass per tensor or over the whole trainable slab does clipping,
// weight decay and the update. The slots listed here are laid out in the arena with the same
// layout as the parameters.
import { InvalidArgumentError } from '../core/errors';
import { asF32, finiteInF32, positiveInF32 } from '../core/tensor';
import { type LearningRateSchedule, resolveSchedule } from './schedules';

// Options every optimizer takes (keras.optimizers.Optimizer): a learning rate or a schedule,
// decoupled weight decay, and at most one of the three clipping modes.
export interface CommonOptions {
  learningRate?: number | LearningRateSchedule;
  weightDecay?: number | null;
  clipvalue?: number | null;
  clipnorm?: number | null;
  globalClipnorm?: number | null;
}
interface Common {
  learningRate: number | LearningRateSchedule;
  weightDecay: number;
  clipvalue: number | null;
  clipnorm: number | null;
  globalClipnorm: number | null;
}

export interface SgdConfig extends Common { className: 'sgd'; momentum: number; nesterov: boolean }
export interface AdagradConfig extends Common { className: 'adagrad'; initialAccumulatorValue: number; epsilon: number }
export interface RmspropConfig extends Common { className: 'rmsprop'; rho: number; momentum: number; epsilon: number; centered: boolean }
export interface AdamConfig extends Common { className: 'adam'; beta1: number; beta2: number; epsilon: number; amsgrad: boolean }
export interface AdamWConfig extends Common { className: 'adamw'; beta1: number; beta2: number; epsilon: number; amsgrad: boolean }
export interface NadamConfig extends Common { className: 'nadam'; beta1: number; beta2: number; epsilon: number }
export interface AdamaxConfig extends Common { className: 'adamax'; beta1: number; beta2: number; epsilon: number }
export type OptimizerConfig = SgdConfig | AdagradConfig | RmspropConfig | AdamConfig | AdamWConfig | NadamConfig | AdamaxConfig;
export type OptimizerName = OptimizerConfig['className'];

function check(opt: string, name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) throw new InvalidArgumentError(`${opt} ${name} must be ${what}, got ${v}${asF32(v)}`);
  return v;
}
// The kernels read these as f32, so the checks are on the f32 value (0.999999999 is 1 there).
const positive = (opt: string, name: string, v: unknown) => check(opt, name, v, positiveInF32, 'a positive number');
const nonNegative = (opt: string, name: string, v: unknown) => check(opt, name, v, (x) => finiteInF32(x) && x >= 0, 'a non-negative number');
const unit = (opt: string, name: string, v: unknown) => check(opt, name, v, (x) => x >= 0 && Math.fround(x) < 1, 'in [0, 1)');
function optionalPositive(opt: string, name: string, v: unknown): number | null {
  return v === undefined || v === null ? null : positive(opt, name, v);
}

function common(opt: string, o: CommonOptions, defaultLr: number, defaultDecay: number): Common {
  const lr = o.learningRate ?? defaultLr;
  const learningRate = typeof lr === 'number' ? positive(opt, 'learningRate', lr) : resolveSchedule(lr);
  const c: Common = {
    learningRate,
    weightDecay: o.weightDecay === undefined || o.weightDecay === null ? defaultDecay : nonNegative(opt, 'weightDecay', o.weightDecay),
    clipvalue: optionalPositive(opt, 'clipvalue', o.clipvalue),
    clipnorm: optionalPositive(opt, 'clipnorm', o.clipnorm),
    globalClipnorm: optionalPositive(opt, 'globalClipnorm', o.globalClipnorm),
  };
  const set = (['clipvalue', 'clipnorm', 'globalClipnorm'] as const).filter((k) => c[k] !== null);
  if (set.length > 1) throw new InvalidArgumentError(`${opt}: only one of clipvalue, clipnorm and globalClipnorm can be set (got ${set.join(' and ')})`);
  return c;
}

type Opts<T> = CommonOptions & Partial<Omit<T, 'className' | keyof Common>>;

export const optimizers = {
  // keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
  sgd(o: Opts<SgdConfig> = {}): SgdConfig {
    return { className: 'sgd', ...common('sgd', o, 0.01, 0), momentum: unit('sgd', 'momentum', o.momentum ?? 0), nesterov: !!o.nesterov };
  },
  // keras.optimizers.Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)
  adagrad(o: Opts<AdagradConfig> = {}): AdagradConfig {
    return {
      className: 'adagrad', ...common('adagrad', o, 0.001, 0),
      initialAccumulatorValue: nonNegative('adagrad', 'initialAccumulatorValue', o.initialAccumulatorValue ?? 0.1),
      epsilon: positive('adagrad', 'epsilon', o.epsilon ?? 1e-7),
    };
  },
  // keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)
  rmsprop(o: Opts<RmspropConfig> = {}): RmspropConfig {
    return {
      className: 'rmsprop', ...common('rmsprop', o, 0.001, 0),
      rho: unit('rmsprop', 'rho', o.rho ?? 0.9), momentum: unit('rmsprop', 'momentum', o.momentum ?? 0),
      epsilon: positive('rmsprop', 'epsilon', o.epsilon ?? 1e-7), centered: !!o.centered,
    };
  },
  // keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)
  adam(o: Opts<AdamConfig> = {}): AdamConfig {
    return { className: 'adam', ...common('adam', o, 0.001, 0), ...adamFamily('adam', o), amsgrad: !!o.amsgrad };
  },
  // keras.optimizers.AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)
  adamw(o: Opts<AdamWConfig> = {}): AdamWConfig {
    return { className: 'adamw', ...common('adamw', o, 0.001, 0.004), ...adamFamily('adamw', o), amsgrad: !!o.amsgrad };
  },
  // keras.optimizers.Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
  nadam(o: Opts<NadamConfig> = {}): NadamConfig {
    return { className: 'nadam', ...common('nadam', o, 0.001, 0), ...adamFamily('nadam', o) };
  },
  // keras.optimizers.Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
  adamax(o: Opts<AdamaxConfig> = {}): AdamaxConfig {
    return { className: 'adamax', ...common('adamax', o, 0.001, 0), ...adamFamily('adamax', o) };
  },
};

function adamFamily(opt: string, o: { beta1?: number; beta2?: number; epsilon?: number }) {
  return { beta1: unit(opt, 'beta1', o.beta1 ?? 0.9), beta2: unit(opt, 'beta2', o.beta2 ?? 0.999), epsilon: positive(opt, 'epsilon', o.epsilon ?? 1e-7) };
}

const NAMES = Object.keys(optimizers) as OptimizerName[];

// A string ('adam', 'RMSprop') gives Keras's defaults; a record is re-validated (records from user
// code or a saved training config go through the same checks as the factories).
export function resolveOptimizer(spec: OptimizerConfig | string): OptimizerConfig {
  const name = typeof spec === 'string' ? spec.toLowerCase() : (spec as { className?: unknown })?.className;
  if (typeof name !== 'string' || !NAMES.includes(name as OptimizerName)) {
    throw new InvalidArgumentError(`unknown optimizer '${typeof spec === 'string' ? spec : String(name)}' (known: ${NAMES.join(', ')})`);
  }
  return optimizers[name as OptimizerName](typeof spec === 'string' ? {} : (spec as never));
}

// Names of the per-parameter slots, each a slab with the trainable parameters' layout.
export function optimizerSlots(cfg: OptimizerConfig): string[] {
  switch (cfg.className) {
    case 'sgd': return cfg.momentum > 0 ? ['momentum'] : [];
    case 'adagrad': return ['accumulator'];
    case 'rmsprop': return ['velocity', ...(cfg.momentum > 0 ? ['momentum'] : []), ...(cfg.centered ? ['average_gradient'] : [])];
    case 'adam':
    case 'adamw': return cfg.amsgrad ? ['m', 'v', 'vhat'] : ['m', 'v'];
    case 'nadam': return ['m', 'v'];
    case 'adamax': return ['m', 'u'];
  }
}

// The value a slot starts at (Keras: zeros, except Adagrad's accumulator).
export function slotInitialValue(cfg: OptimizerConfig, slot: string): number {
  return cfg.className === 'adagrad' && slot === 'accumulator' ? cfg.initialAccumulatorValue : 0;
}

// The momentum the update reads from the step header: SGD's and RMSprop's momentum, or beta_1.
export function optimizerMomentum(cfg: OptimizerConfig): number {
  switch (cfg.className) {
    case 'sgd':
    case 'rmsprop': return cfg.momentum;
    case 'adagrad': return 0;
    default: return cfg.beta1;
  }
}

// Whether 1cycle has a momentum to cycle: SGD and RMSprop with momentum, the Adam family's beta_1.
export function hasMomentum(cfg: OptimizerConfig): boolean {
  return cfg.className === 'adagrad' ? false : optimizerMomentum(cfg) > 0;
}

// The learning rate the optimizer's variable starts at (a schedule's first rate).
export function baseLearningRate(cfg: OptimizerConfig): number {
  return typeof cfg.learningRate === 'number' ? cfg.learningRate : 0;
}
