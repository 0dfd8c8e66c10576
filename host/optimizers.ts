// Optimizers as plain configuration records with Keras 3 names and defaults. The update itself
// runs in wasm (assembly/optim.ts) over the flat trainable slab; the slots listed here are laid
// out in the arena with the same layout as the parameters.
import { InvalidArgumentError } from './errors';

export interface SgdConfig {
  className: 'sgd';
  learningRate: number;
  momentum: number;
  nesterov: boolean;
}
export interface AdamConfig {
  className: 'adam';
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  amsgrad: boolean;
}
export type OptimizerConfig = SgdConfig | AdamConfig;

function positive(name: string, v: number): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new InvalidArgumentError(`${name} must be a positive number, got ${v}`);
  return v;
}
function unit(name: string, v: number): number {
  if (!(typeof v === 'number' && v >= 0 && v < 1)) throw new InvalidArgumentError(`${name} must be in [0, 1), got ${v}`);
  return v;
}

export const optimizers = {
  // keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)
  sgd(options: { learningRate?: number; momentum?: number; nesterov?: boolean } = {}): SgdConfig {
    return {
      className: 'sgd',
      learningRate: positive('sgd learningRate', options.learningRate ?? 0.01),
      momentum: unit('sgd momentum', options.momentum ?? 0),
      nesterov: options.nesterov ?? false,
    };
  },
  // keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)
  adam(options: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number; amsgrad?: boolean } = {}): AdamConfig {
    return {
      className: 'adam',
      learningRate: positive('adam learningRate', options.learningRate ?? 0.001),
      beta1: unit('adam beta1', options.beta1 ?? 0.9),
      beta2: unit('adam beta2', options.beta2 ?? 0.999),
      epsilon: positive('adam epsilon', options.epsilon ?? 1e-7),
      amsgrad: options.amsgrad ?? false,
    };
  },
};

export function resolveOptimizer(spec: OptimizerConfig | string): OptimizerConfig {
  if (typeof spec !== 'string') {
    if (spec.className === 'sgd') return optimizers.sgd(spec);
    if (spec.className === 'adam') return optimizers.adam(spec);
    throw new InvalidArgumentError(`unknown optimizer '${(spec as { className: string }).className}' (known: sgd, adam)`);
  }
  switch (spec.toLowerCase()) {
    case 'sgd': return optimizers.sgd();
    case 'adam': return optimizers.adam();
  }
  throw new InvalidArgumentError(`unknown optimizer '${spec}' (known: sgd, adam)`);
}

// Names of the per-parameter slots, each a slab with the trainable parameters' layout.
export function optimizerSlots(cfg: OptimizerConfig): string[] {
  switch (cfg.className) {
    case 'sgd': return cfg.momentum > 0 ? ['momentum'] : [];
    case 'adam': return cfg.amsgrad ? ['m', 'v', 'vhat'] : ['m', 'v'];
  }
}
