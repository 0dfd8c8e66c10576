// Keras Reshape(target_shape): the same bytes in another per-sample shape; one -1 is inferred.
import { optionNames } from '../core/options';
import { passGradient } from '../compile/program';
import { sizeOf } from '../compile/graph';
import { gatherOrForward } from '../compile/channel-gather';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export interface ReshapeOptions extends LayerOptions {
  targetShape?: number[];
}

// reshape([4, 4]) or reshape({ targetShape: [4, 4] })
export function reshape(targetShape: number[] | ReshapeOptions, options?: LayerOptions): Layer {
  const o = positionalOrOptions<ReshapeOptions>('reshape', 'targetShape', targetShape, options);
  const where = pending('reshape', o);
  const t = o.targetShape;
  if (!Array.isArray(t) || !t.every((d) => d === -1 || (Number.isInteger(d) && d > 0)) || t.filter((d) => d === -1).length > 1) {
    throw new InvalidArgumentError(`${where}: targetShape must be positive integers with at most one -1, got ${Array.isArray(t) ? `[${t}]` : String(t)}`);
  }
  return new Layer(RESHAPE, { targetShape: [...t] }, o);
}

export const RESHAPE: LayerDef = {
  kind: 'reshape',
  snake: 'reshape',
  get options() { return optionNames<ReshapeOptions>()([...LAYER_OPTION_NAMES, 'targetShape']); },
  outputShape(layer, [s], fail) {
    const c = layer.config;
    const target = [...(c.targetShape as number[])];
    const size = s.reduce((a, b) => a * b, 1);
    const unknown = target.indexOf(-1);
    const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (unknown >= 0) target[unknown] = size / known;
    if (!target.every((d) => Number.isInteger(d) && d > 0) || target.reduce((a, b) => a * b, 1) !== size) {
      throw fail(`cannot reshape [${s}] (${size} values) to [${c.targetShape}]`);
    }
    return target;
  },
  // the same bytes in another shape: one copy box over all of them, or no op
  forward: (a) => gatherOrForward(a, (_, __, out) => [{ input: 0, box: { dims: [sizeOf(out)], y: { offset: 0, strides: [1] }, x: { offset: 0, strides: [1] } } }], ({ x, shape }) => ({ region: x.region, shape })),
  readsGathers: true,
  backward({ ctx, p, g, layer, input, dy, count, needsInputGrad }) {
    if (needsInputGrad) passGradient(ctx, p, g, layer.name, input, dy, count);
  },
  kerasClasses: ['Reshape'],
  toKeras: (l) => ({ class_name: 'Reshape', config: { ...kerasBase(l), target_shape: l.config.targetShape } }),
  fromKeras: (c, r) => reshape(c.target_shape, r.base),
};
