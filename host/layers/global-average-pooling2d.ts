// Keras GlobalAveragePooling2D: the mean over height and width, per channel.
import { LAYER_OPTION_NAMES } from './config';
import { optionNames } from '../core/options';
import { sizeOf } from '../compile/graph';
import { gradTarget } from '../compile/program';
import type { LayerOptions } from './config';
import type { LayerDef } from './def';
import { channelsLast, kerasBase, unsupported } from './keras-json';
import { Layer } from './layer';

export function globalAveragePooling2d(options: LayerOptions = {}): Layer {
  return new Layer(GLOBAL_AVERAGE_POOLING2D, {}, options);
}

export const GLOBAL_AVERAGE_POOLING2D: LayerDef = {
  kind: 'globalAveragePooling2d',
  snake: 'global_average_pooling2d',
  get options() { return optionNames<LayerOptions>()([...LAYER_OPTION_NAMES]); },
  outputShape(_layer, [s], fail) {
    if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
    return [s[2]];
  },
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('gap_forward', layer.name, { y, x: x.region }, { hw: x.shape[0] * x.shape[1], c: x.shape[2] });
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('gap_backward', layer.name, { dx: dx.region, dy }, { hw: x.shape[0] * x.shape[1], c: x.shape[2], accumulate: dx.accumulate });
  },
  kerasClasses: ['GlobalAveragePooling2D'],
  toKeras: (l) => ({ class_name: 'GlobalAveragePooling2D', config: kerasBase(l) }),
  fromKeras(c, r) {
    channelsLast(r, c);
    if (c.keepdims) throw unsupported(r, 'keepdims');
    return globalAveragePooling2d(r.base);
  },
};
