// Keras UpSampling2D(size, interpolation): the map resized by whole factors. Keras 3 repeats rows
// and columns for 'nearest' (coordinate i * in/out, floored) and resizes with TF's half-pixel
// centers for 'bilinear'; other coordinate transforms are edgetune's ('edgetune>UpSampling2D').
// Forward and backward are the resize kernels' (resizing.ts).
import { optionNames } from '../core/options';
import { type LayerOptions, pair, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, pairOf } from './keras-json';
import { Layer } from './layer';
import {
  type CoordinateTransform, type Interpolation, isKerasMode, modeFromKeras, modeToKeras, type NearestMode, RESIZE_LOWERING, type ResizeModeOptions,
  resizeMode, tfjsResize,
} from './resizing';

export interface UpSampling2dOptions extends LayerOptions, ResizeModeOptions {
  size?: number | [number, number];
}

const DEFAULTS: Record<Interpolation, [CoordinateTransform, NearestMode]> = {
  nearest: ['asymmetric', 'floor'], bilinear: ['half_pixel', 'floor'],
};

// upSampling2d(2) or upSampling2d({ size: [2, 2], interpolation: 'bilinear' })
export function upSampling2d(size?: number | [number, number] | UpSampling2dOptions, options?: UpSampling2dOptions): Layer {
  const o = positionalOrOptions<UpSampling2dOptions>('upSampling2d', 'size', size, options);
  const where = pending('up_sampling2d', o);
  return new Layer(UP_SAMPLING2D, { size: pair(where, 'size', o.size, [2, 2]), ...resizeMode(where, { ...o, interpolation: o.interpolation ?? 'nearest' }, DEFAULTS) }, o);
}

export const UP_SAMPLING2D: LayerDef = {
  kind: 'upSampling2d',
  snake: 'up_sampling2d',
  get options() { return optionNames<UpSampling2dOptions>()([...LAYER_OPTION_NAMES, 'size', 'interpolation', 'coordinateTransform', 'nearestMode']); },
  outputShape(layer, [s], fail) {
    if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
    const [sh, sw] = layer.config.size as number[];
    return [s[0] * sh, s[1] * sw, s[2]];
  },
  forward: (a) => RESIZE_LOWERING.forward(a),
  backward: (a) => RESIZE_LOWERING.backward(a),
  kerasClasses: ['UpSampling2D', 'edgetune>UpSampling2D'],
  toKeras(l) {
    const c = l.config;
    const base = { ...kerasBase(l), size: c.size, data_format: 'channels_last', interpolation: c.interpolation };
    return isKerasMode(c, DEFAULTS) ? { class_name: 'UpSampling2D', config: base } : { class_name: 'edgetune>UpSampling2D', config: { ...base, ...modeToKeras(c) } };
  },
  fromKeras: (c, r) => upSampling2d({ ...r.base, size: pairOf(c.size), ...modeFromKeras(c, r) }),
  toTfjs: (l, j, where, source) => tfjsResize(l, j, where, source, ['asymmetric', 'floor']),
};
