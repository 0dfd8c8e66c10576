// Weight regularizers and constraints, Keras names and defaults (docs/numerics.md). The penalty joins
// the reported loss and its gradient the weight gradients; constraints run after every update.
import { InvalidArgumentError } from '../core/errors';

// The names a regularizer or constraint option accepts (resolveRegularizer and resolveConstraint
// refuse an unknown string from JavaScript callers).
export type RegularizerName = 'l1' | 'l2' | 'l1l2' | 'l1_l2';
export type ConstraintName = 'maxNorm' | 'nonNeg' | 'unitNorm' | 'max_norm' | 'non_neg' | 'unit_norm';

export interface RegularizerConfig {
  className: 'l1l2';
  l1: number;
  l2: number;
}

function nonNegative(name: string, v: number): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new InvalidArgumentError(`${name} must be a non-negative number, got ${v}`);
  return v;
}

export const regularizers = {
  l1(l1 = 0.01): RegularizerConfig {
    return { className: 'l1l2', l1: nonNegative('l1', l1), l2: 0 };
  },
  l2(l2 = 0.01): RegularizerConfig {
    return { className: 'l1l2', l1: 0, l2: nonNegative('l2', l2) };
  },
  l1l2(options: { l1?: number; l2?: number } = {}): RegularizerConfig {
    return { className: 'l1l2', l1: nonNegative('l1', options.l1 ?? 0.01), l2: nonNegative('l2', options.l2 ?? 0.01) };
  },
};

export function resolveRegularizer(spec: RegularizerConfig | string | null | undefined, where: string): RegularizerConfig | null {
  if (spec === null || spec === undefined) return null;
  if (typeof spec === 'string') {
    switch (spec.toLowerCase()) {
      case 'l1': return regularizers.l1();
      case 'l2': return regularizers.l2();
      case 'l1l2': case 'l1_l2': return regularizers.l1l2();
    }
    throw new InvalidArgumentError(`${where}: unknown regularizer '${spec}' (known: l1, l2, l1l2)`);
  }
  if (spec.className !== 'l1l2') throw new InvalidArgumentError(`${where}: unknown regularizer '${(spec as { className: string }).className}'`);
  return { className: 'l1l2', l1: nonNegative(`${where} l1`, spec.l1 ?? 0), l2: nonNegative(`${where} l2`, spec.l2 ?? 0) };
}

export type ConstraintConfig =
  | { className: 'maxNorm'; maxValue: number; axis: number | number[] }
  | { className: 'nonNeg' }
  | { className: 'unitNorm'; axis: number | number[] };

export const constraints = {
  // keras.constraints.MaxNorm(max_value=2, axis=0)
  maxNorm(options: { maxValue?: number; axis?: number | number[] } = {}): ConstraintConfig {
    const maxValue = options.maxValue ?? 2;
    if (!(maxValue > 0)) throw new InvalidArgumentError(`maxNorm maxValue must be positive, got ${maxValue}`);
    return { className: 'maxNorm', maxValue, axis: options.axis ?? 0 };
  },
  nonNeg(): ConstraintConfig {
    return { className: 'nonNeg' };
  },
  // keras.constraints.UnitNorm(axis=0)
  unitNorm(options: { axis?: number | number[] } = {}): ConstraintConfig {
    return { className: 'unitNorm', axis: options.axis ?? 0 };
  },
};

export function resolveConstraint(spec: ConstraintConfig | string | null | undefined, where: string): ConstraintConfig | null {
  if (spec === null || spec === undefined) return null;
  const name = typeof spec === 'string' ? spec : spec.className;
  switch (String(name).toLowerCase().replace(/_/g, '')) {
    case 'maxnorm': return constraints.maxNorm(typeof spec === 'string' ? {} : (spec as { maxValue?: number; axis?: number | number[] }));
    case 'nonneg': return constraints.nonNeg();
    case 'unitnorm': return constraints.unitNorm(typeof spec === 'string' ? {} : (spec as { axis?: number | number[] }));
  }
  throw new InvalidArgumentError(`${where}: unknown constraint '${name}' (known: maxNorm, nonNeg, unitNorm)`);
}

// A weight of shape `shape` seen as (rows, cols) with the norm taken over rows (normAxis 0) or
// cols (normAxis 1). Keras axes must be a leading run (0..r-1) or the trailing axes.
export function constraintView(shape: readonly number[], axis: number | number[], where: string): { rows: number; cols: number; normAxis: 0 | 1 } {
  const rank = shape.length;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (axes.some((a) => a < 0 || a >= rank)) throw new InvalidArgumentError(`${where}: constraint axis ${JSON.stringify(axis)} is out of range for a weight of rank ${rank}`);
  const prod = (xs: readonly number[]) => xs.reduce((p, d) => p * d, 1);
  const leading = axes.every((a, i) => a === i);
  if (leading) return { rows: prod(shape.slice(0, axes.length)), cols: prod(shape.slice(axes.length)), normAxis: 0 };
  const trailing = axes.every((a, i) => a === rank - axes.length + i);
  if (trailing) return { rows: prod(shape.slice(0, rank - axes.length)), cols: prod(shape.slice(rank - axes.length)), normAxis: 1 };
  throw new InvalidArgumentError(`${where}: constraint axis ${JSON.stringify(axis)} must be leading or trailing axes of [${shape}]`);
}
