// Keras MaxPooling2D and AveragePooling2D (NHWC). Max pooling keeps the flat index of each
// output's maximum for its backward pass.
import { optionNames } from '../core/options';
import { poolGeometry } from '../compile/conv-lowering';
import { conv2dOutputSize } from '../compile/conv-scratch';
import { sizeOf } from '../compile/graph';
import { gradTarget } from '../compile/program';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pair, padding, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { channelsLast, kerasBase, pairOf } from './keras-json';
import { Layer } from './layer';

export interface Pooling2dOptions extends LayerOptions {
  poolSize?: number | [number, number];
  strides?: number | [number, number] | null;
  padding?: 'valid' | 'same';
}

// (oh, ow, channels) of a windowed layer (convolution, depthwise convolution, pooling) on a
// (height, width, channels) input.
export function spatialOutputShape(layer: Layer, s: readonly number[], fail: (what: string) => Error, channels: number): number[] {
  if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
  const c = layer.config;
  const [kh, kw] = c.kernelSize as number[];
  const [sh, sw] = c.strides as number[];
  const [dh, dw] = (c.dilationRate as number[] | undefined) ?? [1, 1];
  const oh = conv2dOutputSize(s[0], kh, sh, dh, c.padding as 'same' | 'valid').out;
  const ow = conv2dOutputSize(s[1], kw, sw, dw, c.padding as 'same' | 'valid').out;
  if (oh <= 0 || ow <= 0) {
    throw new InvalidArgumentError(`layer ${layer.name} (${layer.kind}): kernelSize [${kh}, ${kw}] (dilation [${dh}, ${dw}]) is larger than its ${c.padding}-padded input [${s[0]}, ${s[1]}]`);
  }
  return [oh, ow, channels];
}

function pooling(kind: 'maxPooling2d' | 'averagePooling2d', poolSize: number | [number, number] | Pooling2dOptions | undefined, options: Pooling2dOptions | undefined): Layer {
  const o = positionalOrOptions<Pooling2dOptions>(kind, 'poolSize', poolSize, options);
  const where = pending(kind === 'maxPooling2d' ? 'max_pooling2d' : 'average_pooling2d', o);
  const size = pair(where, 'poolSize', o.poolSize, [2, 2]);
  return new Layer(kind === 'maxPooling2d' ? MAX_POOLING2D : AVERAGE_POOLING2D, {
    kernelSize: size,
    strides: o.strides === null || o.strides === undefined ? size : pair(where, 'strides', o.strides, size),
    padding: padding(where, o.padding),
  }, o);
}

// maxPooling2d(2), maxPooling2d(2, { strides: 1 }) or maxPooling2d({ poolSize: 2 })
export function maxPooling2d(poolSize?: number | [number, number] | Pooling2dOptions, options?: Pooling2dOptions): Layer {
  return pooling('maxPooling2d', poolSize, options);
}

export function averagePooling2d(poolSize?: number | [number, number] | Pooling2dOptions, options?: Pooling2dOptions): Layer {
  return pooling('averagePooling2d', poolSize, options);
}

function toKeras(l: Layer) {
  const c = l.config;
  return { class_name: l.kind === 'maxPooling2d' ? 'MaxPooling2D' : 'AveragePooling2D', config: { ...kerasBase(l), pool_size: c.kernelSize, strides: c.strides, padding: c.padding } };
}

function optionsFromKeras(c: Record<string, any>, base: LayerOptions): Pooling2dOptions {
  return { ...base, poolSize: pairOf(c.pool_size), strides: pairOf(c.strides) ?? null, padding: c.padding };
}

export const MAX_POOLING2D: LayerDef = {
  kind: 'maxPooling2d',
  snake: 'max_pooling2d',
  options: optionNames<Pooling2dOptions>()([...LAYER_OPTION_NAMES, 'poolSize', 'strides', 'padding']),
  outputShape: (layer, [s], fail) => spatialOutputShape(layer, s, fail, s[2]),
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    const argmax = p.activation(`${node.name}:argmax`, count * ctx.batch);
    p.emit('maxpool_forward', layer.name, { y, argmax, x: x.region }, poolGeometry(layer, x.shape));
    return { region: y, shape, argmax };
  },
  backward({ ctx, p, g, layer, v, x, input, count, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('maxpool_backward', layer.name, { dx: dx.region, dy, argmax: v.argmax! }, { count, inputCount: sizeOf(x.shape), accumulate: dx.accumulate });
  },
  kerasClasses: ['MaxPooling2D'],
  toKeras,
  fromKeras(c, r) {
    channelsLast(r, c);
    return maxPooling2d(optionsFromKeras(c, r.base));
  },
};

export const AVERAGE_POOLING2D: LayerDef = {
  kind: 'averagePooling2d',
  snake: 'average_pooling2d',
  options: optionNames<Pooling2dOptions>()([...LAYER_OPTION_NAMES, 'poolSize', 'strides', 'padding']),
  outputShape: (layer, [s], fail) => spatialOutputShape(layer, s, fail, s[2]),
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('avgpool_forward', layer.name, { y, x: x.region }, poolGeometry(layer, x.shape));
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const pool = poolGeometry(layer, x.shape);
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('avgpool_backward', layer.name, { dx: dx.region, dy }, { ...pool, accumulate: dx.accumulate });
  },
  kerasClasses: ['AveragePooling2D'],
  toKeras,
  fromKeras(c, r) {
    channelsLast(r, c);
    return averagePooling2d(optionsFromKeras(c, r.base));
  },
};
