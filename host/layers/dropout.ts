// Keras Dropout: inverted dropout, active only in training (the identity otherwise).
import { optionNames } from '../core/options';
import { sizeOf } from '../compile/graph';
import { gradTarget, passGradient } from '../compile/program';
import { InvalidArgumentError } from '../core/errors';
import { nextSeed } from '../core/random';
import { type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export interface DropoutOptions extends LayerOptions {
  rate?: number;
  seed?: number;
}

// dropout(0.5) or dropout({ rate: 0.5 })
export function dropout(rate: number | DropoutOptions, options?: DropoutOptions): Layer {
  const o = positionalOrOptions<DropoutOptions>('dropout', 'rate', rate, options);
  const where = pending('dropout', o);
  const r = o.rate;
  if (!(typeof r === 'number' && r >= 0 && r < 1)) throw new InvalidArgumentError(`${where}: rate must be in [0, 1), got ${r}`);
  return new Layer(DROPOUT, { rate: r, seed: o.seed ?? nextSeed() }, o);
}

export const DROPOUT: LayerDef = {
  kind: 'dropout',
  snake: 'dropout',
  get options() { return optionNames<DropoutOptions>()([...LAYER_OPTION_NAMES, 'rate', 'seed']); },
  outputShape: (_layer, [s]) => [...s],
  forward({ ctx, p, node, layer, x, shape, count, training }) {
    const rate = layer.config.rate as number;
    if (!training || rate === 0) return { region: x.region, shape };
    const y = p.activation(node.name, count * ctx.batch);
    const mask = p.activation(`${node.name}:mask`, Math.ceil((count * ctx.batch) / 4)); // one byte per element
    p.emit('dropout_forward', layer.name, { y, mask, x: x.region }, { count, rate, seed: (layer.config.seed as number) | 0 });
    return { region: y, shape, mask };
  },
  backward({ ctx, p, g, layer, v, x, input, dy, count, needsInputGrad }) {
    if (!needsInputGrad) return;
    if (v.mask === undefined) { passGradient(ctx, p, g, layer.name, input, dy, count); return; }
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('dropout_backward', layer.name, { dx: dx.region, dy, mask: v.mask }, { count, rate: layer.config.rate as number, accumulate: dx.accumulate });
  },
  kerasClasses: ['Dropout'],
  toKeras: (l) => ({ class_name: 'Dropout', config: { ...kerasBase(l), rate: l.config.rate, seed: l.config.seed } }),
  fromKeras: (c, r) => dropout(c.rate, { ...r.base, ...(typeof c.seed === 'number' ? { seed: c.seed } : {}) }),
  toTfjs(_l, j) {
    if (j.config.seed === undefined) j.config.seed = null;
  },
};
