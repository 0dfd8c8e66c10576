// Pointwise layers edgetune adds to Keras's set, for imported graphs: `unary` (abs, neg, square,
// sqrt, ..., ONNX's HardSigmoid with alpha and beta) and `clip` (ONNX Clip, TF ClipByValue). Both
// run the activation kernels' unary kinds (assembly/kernels/activations.ts unary_forward) and are
// written to Keras JSON as the custom classes 'edgetune>Unary' and 'edgetune>Clip'.
import { optionNames } from '../core/options';
import { ownEntry } from '../core/lookup';
import { type BackwardArgs, type ForwardArgs, gradTarget, type NodeValue } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, unsupported } from './keras-json';
import { Layer } from './layer';

export type UnaryOp =
  | 'abs' | 'neg' | 'square' | 'sqrt' | 'rsqrt' | 'exp' | 'log' | 'reciprocal' | 'floor' | 'ceil' | 'round' | 'sign'
  | 'sin' | 'cos' | 'softplus' | 'softsign' | 'erf' | 'hardSigmoid';

// Kernel kinds (assembly/kernels/activations.ts ACT_ABS...; they continue ACTIVATION_KIND).
export const UNARY_KIND: Record<UnaryOp | 'clip', number> = {
  abs: 13, neg: 14, square: 15, sqrt: 16, rsqrt: 17, exp: 18, log: 19, reciprocal: 20, floor: 21, ceil: 22, round: 23, sign: 24,
  sin: 25, cos: 26, softplus: 27, softsign: 28, erf: 29, hardSigmoid: 30, clip: 31,
};

const SNAKE: Partial<Record<UnaryOp, string>> = { hardSigmoid: 'hard_sigmoid' };
const FROM_SNAKE: Record<string, UnaryOp> = { hard_sigmoid: 'hardSigmoid' };

export interface UnaryOptions extends LayerOptions {
  op?: UnaryOp;
  // hardSigmoid only: clip(alpha*x + beta, 0, 1), ONNX's defaults 0.2 and 0.5.
  alpha?: number;
  beta?: number;
}

function finite(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${where}: ${name} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

// unary('abs') or unary({ op: 'abs' }); unary({ op: 'hardSigmoid', alpha: 0.2, beta: 0.5 }).
export function unary(op: UnaryOp | UnaryOptions, options?: LayerOptions): Layer {
  const o = positionalOrOptions<UnaryOptions>('unary', 'op', op, options);
  const where = pending('unary', o);
  const name = o.op as string;
  if (typeof name !== 'string' || ownEntry(UNARY_KIND, name) === undefined || name === 'clip') {
    throw new InvalidArgumentError(`${where}: unknown op ${JSON.stringify(o.op)} (known: ${Object.keys(UNARY_KIND).filter((k) => k !== 'clip').join(', ')}; clip is layers.clip)`);
  }
  if (name !== 'hardSigmoid' && (o.alpha !== undefined || o.beta !== undefined)) throw new InvalidArgumentError(`${where}: alpha and beta belong to op 'hardSigmoid' only, not '${name}'`);
  const config = name === 'hardSigmoid'
    ? { op: name, alpha: finite(where, 'alpha', o.alpha ?? 0.2), beta: finite(where, 'beta', o.beta ?? 0.5) }
    : { op: name };
  return new Layer(UNARY, config, o);
}

export interface ClipOptions extends LayerOptions {
  min?: number;
  max?: number;
}

// clip({ min: 0, max: 6 }): min(max(x, min), max); a missing bound is no bound.
export function clip(options: ClipOptions): Layer {
  const o = options ?? {};
  const where = pending('clip', o);
  const min = o.min === undefined || o.min === null ? -Infinity : o.min;
  const max = o.max === undefined || o.max === null ? Infinity : o.max;
  if (typeof min !== 'number' || Number.isNaN(min) || min === Infinity) throw new InvalidArgumentError(`${where}: min must be a number below +Infinity, got ${JSON.stringify(o.min)}`);
  if (typeof max !== 'number' || Number.isNaN(max) || max === -Infinity) throw new InvalidArgumentError(`${where}: max must be a number above -Infinity, got ${JSON.stringify(o.max)}`);
  if (min > max) throw new InvalidArgumentError(`${where}: min ${min} is above max ${max}`);
  return new Layer(CLIP, { min, max }, o);
}

// Both kinds: y = f(x) into a new region (the backward pass reads x), dx from x. `params`: the
// kind's kernel parameters from the layer config. (The records call these from arrow functions,
// so that their literals stay free of calls and a bundle without these layers drops them.)
type PointwiseParams = (c: Record<string, unknown>) => { kind: number; alpha: number; beta: number };
function pointwiseForward({ ctx, p, node, layer, x, shape, count }: ForwardArgs, params: PointwiseParams): NodeValue {
  const y = p.activation(node.name, count * ctx.batch);
  p.emit('unary_forward', layer.name, { y, x: x.region }, { ...params(layer.config), count });
  return { region: y, shape };
}
function pointwiseBackward({ ctx, p, g, layer, input, x, dy, count, needsInputGrad }: BackwardArgs, params: PointwiseParams): void {
  if (!needsInputGrad) return;
  const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
  p.emit('unary_backward', layer.name, { dx: dx.region, dy, x: x.region }, { ...params(layer.config), count, accumulate: dx.accumulate });
}
const unaryParams: PointwiseParams = (c) => ({ kind: UNARY_KIND[c.op as UnaryOp], alpha: (c.alpha as number | undefined) ?? 0, beta: (c.beta as number | undefined) ?? 0 });
const clipParams: PointwiseParams = (c) => ({ kind: UNARY_KIND.clip, alpha: c.min as number, beta: c.max as number });

export const UNARY: LayerDef = {
  kind: 'unary',
  snake: 'unary',
  nameBase: (c) => SNAKE[c.op as UnaryOp] ?? (c.op as string),
  get options() { return optionNames<UnaryOptions>()([...LAYER_OPTION_NAMES, 'op', 'alpha', 'beta']); },
  outputShape: (_layer, [s]) => [...s],
  forward: (a) => pointwiseForward(a, unaryParams),
  backward: (a) => pointwiseBackward(a, unaryParams),
  kerasClasses: ['edgetune>Unary'],
  toKeras(l) {
    const c = l.config;
    const params = c.op === 'hardSigmoid' ? { alpha: c.alpha, beta: c.beta } : {};
    return { class_name: 'edgetune>Unary', config: { ...kerasBase(l), op: SNAKE[c.op as UnaryOp] ?? c.op, ...params } };
  },
  fromKeras(c, r) {
    const op = ownEntry(FROM_SNAKE, c.op) ?? c.op;
    if (typeof op !== 'string' || ownEntry(UNARY_KIND, op) === undefined || op === 'clip') throw unsupported(r, `op ${JSON.stringify(c.op)}`);
    return unary({ ...r.base, op: op as UnaryOp, alpha: c.alpha ?? undefined, beta: c.beta ?? undefined });
  },
  toTfjs: noTfjs,
};

function noTfjs(l: Layer, j: { class_name: string }, where: string, source: string | undefined): never {
  throw new ModelFormatError(`${where}: layer '${l.name}' (${j.class_name}) has no TF.js layers class; TF.js could not load the model`, source, l.name);
}

// Keras JSON has no infinities: an absent bound is written as null.
const bound = (v: unknown) => (Number.isFinite(v) ? v : null);

export const CLIP: LayerDef = {
  kind: 'clip',
  snake: 'clip',
  get options() { return optionNames<ClipOptions>()([...LAYER_OPTION_NAMES, 'min', 'max']); },
  outputShape: (_layer, [s]) => [...s],
  forward: (a) => pointwiseForward(a, clipParams),
  backward: (a) => pointwiseBackward(a, clipParams),
  kerasClasses: ['edgetune>Clip'],
  toKeras: (l) => ({ class_name: 'edgetune>Clip', config: { ...kerasBase(l), min: bound(l.config.min), max: bound(l.config.max) } }),
  fromKeras: (c, r) => clip({ ...r.base, min: c.min ?? undefined, max: c.max ?? undefined }),
  toTfjs: noTfjs,
};
