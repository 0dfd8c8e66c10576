// Shared pieces of the layer factories: argument normalisation and validation, and Keras's two
// call forms (a positional first argument, or one options object).
import { InvalidArgumentError } from '../core/errors';
import { type InitializerSpec, normalizeInitializer } from './initializers';
import { type ConstraintConfig, type ConstraintName, type RegularizerConfig, type RegularizerName, resolveConstraint, resolveRegularizer } from './regularizers';

export interface LayerOptions {
  inputShape?: number[];
  name?: string;
  trainable?: boolean;
}

// The option names every layer factory takes, and those of layers with a kernel and a bias.
export const LAYER_OPTION_NAMES = ['inputShape', 'name', 'trainable'] as const;
export const WEIGHT_OPTION_NAMES = ['kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer', 'kernelConstraint', 'biasConstraint'] as const;

export interface WeightOptions {
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  kernelRegularizer?: RegularizerName | RegularizerConfig | null;
  biasRegularizer?: RegularizerName | RegularizerConfig | null;
  kernelConstraint?: ConstraintName | ConstraintConfig | null;
  biasConstraint?: ConstraintName | ConstraintConfig | null;
}

const isOptionsObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// `first` is either Keras's positional argument (dense(10), conv2d(32, {...})) or the whole
// options object (dense({ units: 10 })). Returns the options with the positional value under `key`.
export function positionalOrOptions<O>(factory: string, key: string, first: unknown, rest: object | undefined): O {
  if (isOptionsObject(first)) {
    if (rest !== undefined) throw new InvalidArgumentError(`layers.${factory}: give either ${factory}(${key}, options) or ${factory}(options), not two option objects`);
    return first as O;
  }
  if (rest !== undefined && key in rest && (rest as Record<string, unknown>)[key] !== undefined) {
    throw new InvalidArgumentError(`layers.${factory}: ${key} is given twice (positionally and in the options)`);
  }
  return { ...(rest ?? {}), ...(first === undefined ? {} : { [key]: first }) } as O;
}

export function pair(layer: string, arg: string, v: number | [number, number] | undefined, fallback: [number, number]): [number, number] {
  const p: [number, number] = v === undefined ? fallback : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  // At most 2^15: kernels multiply these in 32 bits (1e308, an integer to JS, became 0 there).
  if (!p.every((x) => Number.isInteger(x) && x > 0 && x <= 32768)) throw new InvalidArgumentError(`${layer}: ${arg} must be positive integers up to 32768, got ${JSON.stringify(v)}`);
  return p;
}

// 'valid', 'same', or explicit [[top, bottom], [left, right]] zeros (TF's EXPLICIT padding, ONNX
// pads, PyTorch's padding argument), each a non-negative integer.
export type ConvPadding = 'same' | 'valid' | [[number, number], [number, number]];

export function padding(layer: string, p: string | readonly (readonly number[])[] | undefined): ConvPadding {
  if (Array.isArray(p)) {
    const ok = p.length === 2 && p.every((a) => Array.isArray(a) && a.length === 2 && a.every((v) => Number.isInteger(v) && v >= 0));
    if (!ok) throw new InvalidArgumentError(`${layer}: explicit padding must be [[top, bottom], [left, right]] of non-negative integers, got ${JSON.stringify(p)}`);
    return [[p[0][0], p[0][1]], [p[1][0], p[1][1]]];
  }
  const v = (typeof p === 'string' ? p : p === undefined ? 'valid' : String(p)).toLowerCase();
  if (v !== 'same' && v !== 'valid') throw new InvalidArgumentError(`${layer}: padding must be 'valid', 'same' or [[top, bottom], [left, right]], got ${JSON.stringify(p)}`);
  return v;
}

export function positiveInt(layer: string, arg: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new InvalidArgumentError(`${layer}: ${arg} must be a positive integer, got ${v}`);
  return v;
}

// A boolean option: true or false, or absent (the default). Anything else ("abc", [1], 0) is
// refused rather than read as truthy; readers of Keras JSON pass null on as absent.
export function flag(layer: string, arg: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`${layer}: ${arg} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

// The name the layer will get, for messages raised before it exists.
export function pending(snake: string, options: LayerOptions): string {
  return options.name ?? `${snake} layer`;
}

export function weightConfig(where: string, o: WeightOptions, kernelDefault: InitializerSpec): Record<string, unknown> {
  return {
    kernelInitializer: normalizeInitializer(o.kernelInitializer ?? kernelDefault),
    biasInitializer: normalizeInitializer(o.biasInitializer ?? 'zeros'),
    kernelRegularizer: resolveRegularizer(o.kernelRegularizer, `${where} kernelRegularizer`),
    biasRegularizer: resolveRegularizer(o.biasRegularizer, `${where} biasRegularizer`),
    kernelConstraint: resolveConstraint(o.kernelConstraint, `${where} kernelConstraint`),
    biasConstraint: resolveConstraint(o.biasConstraint, `${where} biasConstraint`),
  };
}

// A list of integers, each at least `min` (begin/end of a slice, multiples, block sizes...).
export function intList(where: string, arg: string, v: unknown, min = -Infinity): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && d >= min)) {
    const what = min === -Infinity ? 'integers' : min === 0 ? 'non-negative integers' : min === 1 ? 'positive integers' : `integers >= ${min}`;
    throw new InvalidArgumentError(`${where}: ${arg} must be a list of ${what}, got ${JSON.stringify(v)}`);
  }
  return [...v];
}

// A Keras axis argument (0 the batch, negative from the end) as a per-sample axis of a tensor of
// `rank` per-sample axes, or null when it names the batch or no axis.
export function sampleAxis(axis: number, rank: number): number | null {
  const a = axis < 0 ? rank + 1 + axis : axis;
  return Number.isInteger(a) && a >= 1 && a <= rank ? a - 1 : null;
}
