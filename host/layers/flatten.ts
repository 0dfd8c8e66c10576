// Keras Flatten: the same bytes as one vector per sample.
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { passGradient } from '../compile/program';
import type { LayerOptions } from './config';
import type { LayerDef } from './def';
import { kerasBase } from './keras-json';
import { Layer } from './layer';

export function flatten(options: LayerOptions = {}): Layer {
  return new Layer(FLATTEN, {}, options);
}

export const FLATTEN: LayerDef = {
  kind: 'flatten',
  snake: 'flatten',
  get options() { return optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]); },
  outputShape: (_layer, [s]) => [s.reduce((a, b) => a * b, 1)],
  forward: ({ x, shape }) => ({ region: x.region, shape }), // same bytes, another shape
  backward({ ctx, p, g, layer, input, dy, count, needsInputGrad }) {
    if (needsInputGrad) passGradient(ctx, p, g, layer.name, input, dy, count);
  },
  kerasClasses: ['Flatten'],
  toKeras: (l) => ({ class_name: 'Flatten', config: kerasBase(l) }),
  fromKeras: (_c, r) => flatten(r.base),
};
