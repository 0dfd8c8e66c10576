// Keras Resizing(height, width, interpolation='bilinear'): TensorFlow's bilinear resize with
// half-pixel centers and no antialiasing; trainable through (it has a backward pass).
import { optionNames } from '../core/options';
import { sizeOf } from '../compile/graph';
import { gradTarget } from '../compile/program';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pending, positiveInt, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, unsupported } from './keras-json';
import { Layer } from './layer';

export interface ResizingOptions extends LayerOptions {
  height?: number;
  width?: number;
  interpolation?: 'bilinear';
}

// resizing(64, 64) or resizing({ height: 64, width: 64 })
export function resizing(height: number | ResizingOptions, width?: number, options?: ResizingOptions): Layer {
  const o: ResizingOptions = typeof height === 'object' && height !== null
    ? (width === undefined && options === undefined ? height : invalid())
    : { ...(options ?? {}), height, width };
  const where = pending('resizing', o);
  const interpolation = o.interpolation ?? 'bilinear';
  if (interpolation !== 'bilinear') throw new InvalidArgumentError(`${where}: only interpolation 'bilinear' is supported, got '${interpolation}'`);
  return new Layer(RESIZING, { height: positiveInt(where, 'height', o.height as number), width: positiveInt(where, 'width', o.width as number), interpolation }, o);
}

function invalid(): never {
  throw new InvalidArgumentError('layers.resizing: give either resizing(height, width, options) or resizing(options)');
}

export const RESIZING: LayerDef = {
  kind: 'resizing',
  snake: 'resizing',
  options: optionNames<ResizingOptions>()([...LAYER_OPTION_NAMES, 'height', 'width', 'interpolation']),
  outputShape(layer, [s], fail) {
    if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
    return [layer.config.height as number, layer.config.width as number, s[2]];
  },
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('resize_bilinear_forward', layer.name, { y, x: x.region }, { h: x.shape[0], w_: x.shape[1], c: x.shape[2], oh: shape[0], ow: shape[1] });
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, v, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('resize_bilinear_backward', layer.name, { dx: dx.region, dy }, { h: x.shape[0], w_: x.shape[1], c: x.shape[2], oh: v.shape[0], ow: v.shape[1], accumulate: dx.accumulate });
  },
  kerasClasses: ['Resizing'],
  toKeras: (l) => ({ class_name: 'Resizing', config: { ...kerasBase(l), height: l.config.height, width: l.config.width, interpolation: l.config.interpolation, crop_to_aspect_ratio: false } }),
  fromKeras(c, r) {
    if (c.interpolation && c.interpolation !== 'bilinear') throw unsupported(r, `interpolation '${c.interpolation}' (only bilinear)`);
    if (c.crop_to_aspect_ratio) throw unsupported(r, 'crop_to_aspect_ratio');
    return resizing(c.height, c.width, r.base);
  },
};
