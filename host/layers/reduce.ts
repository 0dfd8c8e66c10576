// Reduce: the mean, sum, max or min over some non-batch axes (tf.mean / tf.sum / tf.max / tf.min,
// ONNX ReduceMean ..., keepdims as they have it). Keras has no such layer: saved as edgetune>Reduce.
// Backward: the sum's and mean's gradient is dy broadcast back (over n for the mean); max and min
// split dy evenly among the elements equal to the result (TF's and PyTorch amax's rule).
import { optionNames } from '../core/options';
import { gradTarget } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { emitBroadcast, type Operand } from '../compile/broadcast-lowering';
import { InvalidArgumentError } from '../core/errors';
import { noTfjs } from './broadcast-merge';
import { type LayerOptions, LAYER_OPTION_NAMES, flag, pending } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export type ReduceOp = 'mean' | 'sum' | 'max' | 'min';
const OPS: readonly ReduceOp[] = ['mean', 'sum', 'max', 'min'];

export interface ReduceOptions extends LayerOptions {
  op: ReduceOp;
  axis: number | number[];
  keepdims?: boolean;
}

// Keras axes (0 is the batch, negative counts from the end) as a factory checks them, before the
// rank is known: integers, no batch axis.
export function checkAxes(where: string, axis: unknown): number[] {
  const list = Array.isArray(axis) ? axis : [axis];
  if (list.length === 0 || !list.every((a) => Number.isInteger(a))) throw new InvalidArgumentError(`${where}: axis must be an integer or a non-empty list of integers, got ${JSON.stringify(axis)}`);
  if (list.includes(0)) throw new InvalidArgumentError(`${where}: axis 0 is the batch axis, which cannot be reduced or normalised over (per-sample axes are 1.. or negative)`);
  return list as number[];
}

// Keras axes -> per-sample axis indices for an input of per-sample rank `rank`.
export function perSampleAxes(axes: readonly number[], rank: number, fail: (what: string) => Error): number[] {
  const out = axes.map((a) => (a < 0 ? rank + a : a - 1));
  out.forEach((a, i) => { if (a < 0 || a >= rank) throw fail(`axis ${axes[i]} is out of range for an input of ${rank} non-batch axes`); });
  if (new Set(out).size !== out.length) throw fail(`axis [${axes}] names an axis twice`);
  return out;
}

// reduce({ op: 'mean', axis: [1, 2], keepdims: true })
export function reduce(options: ReduceOptions): Layer {
  const where = pending('reduce', options ?? {});
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`layers.reduce: give an options object { op, axis, keepdims? }, got ${JSON.stringify(options)}`);
  if (!OPS.includes(options.op)) throw new InvalidArgumentError(`${where}: op must be one of ${OPS.join(', ')}, got ${JSON.stringify(options.op)}`);
  const axis = checkAxes(where, options.axis);
  const keepdims = flag(where, 'keepdims', options.keepdims, false);
  return new Layer(REDUCE, { op: options.op, axis, keepdims }, options);
}

// The input's shape with the reduced axes set to 1 (the kernel's view of the output).
function keptShape(layer: Layer, s: readonly number[], fail: (what: string) => Error): number[] {
  const axes = perSampleAxes(layer.config.axis as number[], s.length, fail);
  return s.map((d, i) => (axes.includes(i) ? 1 : d));
}

const failHere = (layer: Layer) => (what: string) => new InvalidArgumentError(`layer ${layer.name} (reduce): ${what}`);

export const REDUCE: LayerDef = {
  kind: 'reduce',
  snake: 'reduce',
  get options() { return optionNames<ReduceOptions>()([...LAYER_OPTION_NAMES, 'op', 'axis', 'keepdims']); },
  outputShape(layer, [s], fail) {
    const axes = perSampleAxes(layer.config.axis as number[], s.length, fail);
    return layer.config.keepdims ? s.map((d, i) => (axes.includes(i) ? 1 : d)) : s.filter((_, i) => !axes.includes(i));
  },
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    const kept = keptShape(layer, x.shape, failHere(layer));
    const op = layer.config.op as ReduceOp;
    const n = sizeOf(x.shape) / sizeOf(kept);
    const kind = op === 'max' ? 'reduceMax' : op === 'min' ? 'reduceMin' : 'sum';
    emitBroadcast(p, layer.name, kind, x.shape, { ref: y, shape: kept, batched: true }, x.region, null, null, op === 'mean' ? 1 / n : 1, 0);
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, v, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const kept = keptShape(layer, x.shape, failHere(layer));
    const op = layer.config.op as ReduceOp;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    const target: Operand = { ref: dx.region, shape: x.shape, batched: true };
    const reduced = (ref: number): Operand => ({ ref, shape: kept, batched: true });
    if (op === 'sum' || op === 'mean') {
      emitBroadcast(p, layer.name, 'copy', x.shape, target, null, reduced(dy), null, op === 'mean' ? sizeOf(kept) / sizeOf(x.shape) : 1, dx.accumulate);
      return;
    }
    // ties = count of x == y per output; q = dy / ties; dx += (x == y) ? q : 0.
    const ties = p.activation(`${layer.name}:ties`, sizeOf(kept) * ctx.batch);
    emitBroadcast(p, layer.name, 'eqCount', x.shape, reduced(ties), x.region, reduced(v.region), null, 1, 0);
    emitBroadcast(p, layer.name, 'div', kept, reduced(ties), null, reduced(dy), reduced(ties), 1, 0);
    emitBroadcast(p, layer.name, 'eqSelect', x.shape, target, x.region, reduced(v.region), reduced(ties), 1, dx.accumulate);
  },
  kerasClasses: ['edgetune>Reduce'],
  toKeras: (l) => ({ class_name: 'edgetune>Reduce', config: { ...kerasBase(l), op: l.config.op, axis: l.config.axis, keepdims: l.config.keepdims } }),
  fromKeras: (c, r) => reduce({ ...r.base, op: c.op, axis: c.axis, keepdims: c.keepdims ?? undefined }),
  toTfjs: /* @__PURE__ */ noTfjs('edgetune>Reduce'),
};
