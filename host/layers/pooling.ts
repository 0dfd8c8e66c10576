// Keras MaxPooling2D and AveragePooling2D (NHWC). Max pooling keeps the flat index of each
// output's maximum for its backward pass. Beyond Keras (PyTorch / ONNX pooling): explicit padding
// [[top, bottom], [left, right]] (padded taps never win a max and, by default, are not counted in
// an average), ceilMode (PyTorch's output size rule) and, for average pooling, countIncludePad.
import { optionNames } from '../core/options';
import { poolGeometry, windowAxes } from '../compile/conv-lowering';
import { sizeOf } from '../compile/graph';
import { gradTarget } from '../compile/program';
import { deferredPool } from '../compile/pool-add';
import { InvalidArgumentError } from '../core/errors';
import { flag, type LayerOptions, pair, padding, type ConvPadding, pending, positionalOrOptions, LAYER_OPTION_NAMES } from './config';
import { ROW_BANDING } from '../compile/band';
import type { LayerDef } from './def';
import { channelsLast, kerasBase, pairOf, paddingFromKeras, paddingToKeras, refuseTfjsExtensions, type KerasReader } from './keras-json';
import { Layer } from './layer';

export interface Pooling2dOptions extends LayerOptions {
  poolSize?: number | [number, number];
  strides?: number | [number, number] | null;
  padding?: 'valid' | 'same' | [[number, number], [number, number]];
  // PyTorch's ceil_mode: the output size rounds up, but the last window starts inside the input
  // or its top/left padding. Not with 'same'.
  ceilMode?: boolean;
}

export interface AveragePooling2dOptions extends Pooling2dOptions {
  // PyTorch's and ONNX's count_include_pad: padded positions count in the divisor.
  countIncludePad?: boolean;
}

// (oh, ow, channels) of a windowed layer (convolution, depthwise convolution, pooling) on a
// (height, width, channels) input.
export function spatialOutputShape(layer: Layer, s: readonly number[], fail: (what: string) => Error, channels: number): number[] {
  if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
  const c = layer.config;
  const [kh, kw] = c.kernelSize as number[];
  const [dh, dw] = (c.dilationRate as number[] | undefined) ?? [1, 1];
  const { y, x } = windowAxes(c, s[0], s[1]);
  if (y.out <= 0 || x.out <= 0) {
    throw new InvalidArgumentError(`layer ${layer.name} (${layer.kind}): kernelSize [${kh}, ${kw}] (dilation [${dh}, ${dw}]) is larger than its ${typeof c.padding === 'string' ? c.padding : JSON.stringify(c.padding)}-padded input [${s[0]}, ${s[1]}]`);
  }
  return [y.out, x.out, channels];
}

function pooling(kind: 'maxPooling2d' | 'averagePooling2d', poolSize: number | [number, number] | AveragePooling2dOptions | undefined,
  options: AveragePooling2dOptions | undefined): Layer {
  const o = positionalOrOptions<AveragePooling2dOptions>(kind, 'poolSize', poolSize, options);
  const where = pending(kind === 'maxPooling2d' ? 'max_pooling2d' : 'average_pooling2d', o);
  const size = pair(where, 'poolSize', o.poolSize, [2, 2]);
  const pad = padding(where, o.padding);
  const ceilMode = flag(where, 'ceilMode', o.ceilMode, false);
  if (ceilMode && pad === 'same') throw new InvalidArgumentError(`${where}: ceilMode needs 'valid' or explicit padding, not 'same'`);
  // A pad as wide as the window would give windows of padding alone (no value to pool).
  if (typeof pad !== 'string' && pad.some((p, axis) => p[0] >= size[axis] || p[1] >= size[axis])) {
    throw new InvalidArgumentError(`${where}: explicit padding ${JSON.stringify(pad)} must be smaller than poolSize [${size}] on each side`);
  }
  return new Layer(kind === 'maxPooling2d' ? MAX_POOLING2D : AVERAGE_POOLING2D, {
    kernelSize: size,
    strides: o.strides === null || o.strides === undefined ? size : pair(where, 'strides', o.strides, size),
    padding: pad,
    ceilMode,
    ...(kind === 'averagePooling2d' ? { countIncludePad: flag(where, 'countIncludePad', o.countIncludePad, false) } : {}),
  }, o);
}

// maxPooling2d(2), maxPooling2d(2, { strides: 1 }) or maxPooling2d({ poolSize: 2 })
export function maxPooling2d(poolSize?: number | [number, number] | Pooling2dOptions, options?: Pooling2dOptions): Layer {
  return pooling('maxPooling2d', poolSize, options);
}

export function averagePooling2d(poolSize?: number | [number, number] | AveragePooling2dOptions, options?: AveragePooling2dOptions): Layer {
  return pooling('averagePooling2d', poolSize, options);
}

// ceil_mode and count_include_pad are written only when set: our own keys, which Keras ignores.
function toKeras(l: Layer) {
  const c = l.config;
  return {
    class_name: l.kind === 'maxPooling2d' ? 'MaxPooling2D' : 'AveragePooling2D',
    config: {
      ...kerasBase(l), pool_size: c.kernelSize, strides: c.strides, ...paddingToKeras(c.padding as ConvPadding),
      ...(c.ceilMode ? { ceil_mode: true } : {}), ...(c.countIncludePad ? { count_include_pad: true } : {}),
    },
  };
}

function optionsFromKeras(c: Record<string, any>, r: KerasReader): AveragePooling2dOptions {
  return {
    ...r.base, poolSize: pairOf(c.pool_size), strides: pairOf(c.strides) ?? null, padding: paddingFromKeras(c), ceilMode: c.ceil_mode ?? undefined,
    ...(c.count_include_pad !== undefined && c.count_include_pad !== null ? { countIncludePad: c.count_include_pad } : {}),
  };
}

export const MAX_POOLING2D: LayerDef = {
  kind: 'maxPooling2d',
  snake: 'max_pooling2d',
  banding: ROW_BANDING,
  get options() { return optionNames<Pooling2dOptions>()([...LAYER_OPTION_NAMES, 'poolSize', 'strides', 'padding', 'ceilMode']); },
  outputShape: (layer, [s], fail) => spatialOutputShape(layer, s, fail, s[2]),
  forward(a) {
    // Run by the add that alone reads it (host/compile/pool-add.ts), or here.
    const deferred = deferredPool(a);
    if (deferred) return deferred;
    const { ctx, p, node, layer, x, shape, count } = a;
    const y = p.activation(node.name, count * ctx.batch);
    // The winners' indices only where a gradient flows back through this node (not in inference).
    if (!p.gradNodes.has(node.id)) {
      p.emit('maxpool_forward', layer.name, { y, x: x.region }, { argmax: 0, ...poolGeometry(layer, x.shape) });
      return { region: y, shape };
    }
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
    const { countIncludePad, ...o } = optionsFromKeras(c, r);
    if (countIncludePad !== undefined) throw new InvalidArgumentError(`layer ${r.name} (MaxPooling2D): count_include_pad is for average pooling`);
    return maxPooling2d(o);
  },
  toTfjs: refuseTfjsExtensions,
};

export const AVERAGE_POOLING2D: LayerDef = {
  kind: 'averagePooling2d',
  snake: 'average_pooling2d',
  banding: ROW_BANDING,
  get options() { return optionNames<AveragePooling2dOptions>()([...LAYER_OPTION_NAMES, 'poolSize', 'strides', 'padding', 'ceilMode', 'countIncludePad']); },
  outputShape: (layer, [s], fail) => spatialOutputShape(layer, s, fail, s[2]),
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    const pool = poolGeometry(layer, x.shape);
    if (layer.config.countIncludePad) p.emit('avgpool_include_pad_forward', layer.name, { y, x: x.region }, { ...pool, ...declaredPads(layer, x.shape) });
    else p.emit('avgpool_forward', layer.name, { y, x: x.region }, pool);
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const pool = poolGeometry(layer, x.shape);
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    if (layer.config.countIncludePad) {
      p.emit('avgpool_include_pad_backward', layer.name, { dx: dx.region, dy }, { ...pool, ...declaredPads(layer, x.shape), accumulate: dx.accumulate });
    } else {
      p.emit('avgpool_backward', layer.name, { dx: dx.region, dy }, { ...pool, accumulate: dx.accumulate });
    }
  },
  kerasClasses: ['AveragePooling2D'],
  toKeras,
  fromKeras(c, r) {
    channelsLast(r, c);
    return averagePooling2d(optionsFromKeras(c, r));
  },
  toTfjs: refuseTfjsExtensions,
};

// The bottom and right padding as declared (a ceil-mode window may overhang it; the divisor stops there).
function declaredPads(layer: Layer, inShape: readonly number[]): { pb: number; pr: number } {
  const { y, x } = windowAxes(layer.config, inShape[0], inShape[1]);
  return { pb: y.padAfter, pr: x.padAfter };
}
