// Keras ZeroPadding2D: padding n, [rows, cols] or [[top, bottom], [left, right]] (NHWC).
import { optionNames } from '../core/options';
import { sizeOf } from '../compile/graph';
import { gradTarget } from '../compile/program';
import { foldsIntoReaders, type Pads2d } from '../compile/pad-fold';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { channelsLast, kerasBase } from './keras-json';
import { Layer } from './layer';

type Padding2d = number | [number, number] | [[number, number], [number, number]];
export interface ZeroPadding2dOptions extends LayerOptions { padding?: Padding2d }

// zeroPadding2d(), zeroPadding2d(2) or zeroPadding2d({ padding: [[1, 0], [1, 0]] })
export function zeroPadding2d(padding?: Padding2d | ZeroPadding2dOptions, options?: ZeroPadding2dOptions): Layer {
  const o = positionalOrOptions<ZeroPadding2dOptions>('zeroPadding2d', 'padding', padding, options);
  const where = pending('zero_padding2d', o);
  const p = o.padding ?? 1;
  const pp: [[number, number], [number, number]] = typeof p === 'number' ? [[p, p], [p, p]]
    : typeof p[0] === 'number' ? [[p[0], p[0]], [p[1] as number, p[1] as number]] : [[...p[0]] as [number, number], [...(p[1] as [number, number])] as [number, number]];
  if (!pp.flat().every((x) => Number.isInteger(x) && x >= 0)) throw new InvalidArgumentError(`${where}: padding must be non-negative integers, got ${JSON.stringify(p)}`);
  return new Layer(ZERO_PADDING2D, { padding: pp }, o);
}

function padGeometry(layer: Layer, inShape: readonly number[]): Record<string, number> {
  const [[pt, pb], [pl, pr]] = layer.config.padding as number[][];
  return { h: inShape[0], w_: inShape[1], c: inShape[2], pt, pb, pl, pr };
}

export const ZERO_PADDING2D: LayerDef = {
  kind: 'zeroPadding2d',
  snake: 'zero_padding2d',
  get options() { return optionNames<ZeroPadding2dOptions>()([...LAYER_OPTION_NAMES, 'padding']); },
  outputShape(layer, [s], fail) {
    if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
    const [[t, b], [l, r]] = layer.config.padding as [[number, number], [number, number]];
    return [s[0] + t + b, s[1] + l + r, s[2]];
  },
  forward({ ctx, p, node, layer, x, shape, count }) {
    // A zero pad that the convolutions reading it do in their kernels (pad-fold.ts): no op.
    // A deferred 1x1 convolution (host/compile/expand-depthwise.ts) passes on to that convolution.
    if (foldsIntoReaders(ctx, p, node, x)) return { region: x.region, shape: x.shape, pad: layer.config.padding as Pads2d, ...(x.expand ? { expand: x.expand } : {}) };
    if (x.expand) throw new Error(`internal: ${node.name} does not fold into its reader, which runs a deferred 1x1 convolution`);
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('zero_pad2d_forward', layer.name, { y, x: x.region }, { ...padGeometry(layer, x.shape) });
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('zero_pad2d_backward', layer.name, { dx: dx.region, dy }, { ...padGeometry(layer, x.shape), accumulate: dx.accumulate });
  },
  kerasClasses: ['ZeroPadding2D'],
  toKeras: (l) => ({ class_name: 'ZeroPadding2D', config: { ...kerasBase(l), padding: l.config.padding, data_format: 'channels_last' } }),
  fromKeras(c, r) {
    channelsLast(r, c);
    return zeroPadding2d({ ...r.base, padding: c.padding });
  },
};
