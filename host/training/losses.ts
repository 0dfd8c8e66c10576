// Loss configuration with Keras names. The arithmetic is in assembly/kernels/loss.ts; a softmax output
// followed by cross-entropy is fused into one stable log-softmax kernel (as Keras's TensorFlow
// backend does through the softmax's logits).
import { InvalidArgumentError } from '../core/errors';
import { ownEntry } from '../core/lookup';

export type LossName = 'sparseCategoricalCrossentropy' | 'categoricalCrossentropy' | 'meanSquaredError' | 'binaryCrossentropy';
export interface LossConfig {
  className: LossName;
  fromLogits: boolean;
}

const ALIASES: Record<string, LossName> = {
  sparsecategoricalcrossentropy: 'sparseCategoricalCrossentropy',
  sparse_categorical_crossentropy: 'sparseCategoricalCrossentropy',
  categoricalcrossentropy: 'categoricalCrossentropy',
  categorical_crossentropy: 'categoricalCrossentropy',
  meansquarederror: 'meanSquaredError',
  mean_squared_error: 'meanSquaredError',
  mse: 'meanSquaredError',
  binarycrossentropy: 'binaryCrossentropy',
  binary_crossentropy: 'binaryCrossentropy',
};

export function resolveLoss(spec: LossName | string | Partial<LossConfig>): LossConfig {
  const cfg: { className?: string; fromLogits?: boolean } = typeof spec === 'string' ? { className: spec } : spec;
  const name = ownEntry(ALIASES, String(cfg.className).toLowerCase());
  if (!name) throw new InvalidArgumentError(`unknown loss '${cfg.className}' (known: sparseCategoricalCrossentropy, categoricalCrossentropy, meanSquaredError, binaryCrossentropy)`);
  return { className: name, fromLogits: cfg.fromLogits ?? false };
}

// Integer class labels (sparse) or one target distribution per sample (dense).
export function labelsAreSparse(loss: LossConfig): boolean {
  return loss.className === 'sparseCategoricalCrossentropy';
}

// Cross-entropy over classes (a softmax output can be fused with it; accuracy is an argmax).
export function isCategorical(loss: LossConfig): boolean {
  return loss.className === 'sparseCategoricalCrossentropy' || loss.className === 'categoricalCrossentropy';
}
