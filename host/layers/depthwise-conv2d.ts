// Keras DepthwiseConv2D (NHWC, kernel [kh, kw, in, depthMultiplier]): each input channel
// convolved with its own depthMultiplier filters. Padding 'valid', 'same' or explicit
// [[top, bottom], [left, right]].
import { optionNames } from '../core/options';
import { activationForward, gradThroughActivation } from '../compile/activation-lowering';
import { geometry } from '../compile/conv-lowering';
import { sizeOf } from '../compile/graph';
import { type ForwardArgs, gradTarget, type NodeValue, paramGrad } from '../compile/program';
import { depthwiseForwardWithClamp, withFoldedPad } from '../compile/conv-fusion';
import { deferredDepthwise } from '../compile/sepconv';
import { type ActivationSpec, resolveActivation } from './activations';
import { flag, type LayerOptions, pair, padding, type ConvPadding, pending, positionalOrOptions, positiveInt, LAYER_OPTION_NAMES } from './config';
import { ROW_BANDING } from '../compile/band';
import type { LayerDef } from './def';
import { type InitializerSpec, normalizeInitializer } from './initializers';
import { activationOf, channelsLast, kerasActivation, kerasBase, pairOf, paddingFromKeras, paddingToKeras, refuseTfjsExtensions, weightOptionsFromKeras, weightOptionsToKeras } from './keras-json';
import { Layer, weightSpec } from './layer';
import { spatialOutputShape } from './pooling';
import { type ConstraintConfig, type ConstraintName, type RegularizerConfig, type RegularizerName, resolveConstraint, resolveRegularizer } from './regularizers';

export interface DepthwiseConv2dOptions extends LayerOptions {
  kernelSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same' | [[number, number], [number, number]];
  depthMultiplier?: number;
  dilationRate?: number | [number, number];
  activation?: ActivationSpec | null;
  useBias?: boolean;
  depthwiseInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  depthwiseRegularizer?: RegularizerConfig | RegularizerName | null;
  biasRegularizer?: RegularizerConfig | RegularizerName | null;
  depthwiseConstraint?: ConstraintConfig | ConstraintName | null;
  biasConstraint?: ConstraintConfig | ConstraintName | null;
}

// depthwiseConv2d(3, { ... }) or depthwiseConv2d({ kernelSize: 3, ... })
export function depthwiseConv2d(kernelSize: number | [number, number] | DepthwiseConv2dOptions, options?: DepthwiseConv2dOptions): Layer {
  const o = positionalOrOptions<DepthwiseConv2dOptions>('depthwiseConv2d', 'kernelSize', kernelSize, options);
  const where = pending('depthwise_conv2d', o);
  return new Layer(DEPTHWISE_CONV2D, {
    kernelSize: pair(where, 'kernelSize', o.kernelSize, [1, 1]),
    strides: pair(where, 'strides', o.strides, [1, 1]),
    padding: padding(where, o.padding),
    depthMultiplier: positiveInt(where, 'depthMultiplier', o.depthMultiplier ?? 1),
    dilationRate: pair(where, 'dilationRate', o.dilationRate, [1, 1]),
    activation: resolveActivation(o.activation, where),
    useBias: flag(where, 'useBias', o.useBias, true),
    depthwiseInitializer: normalizeInitializer(o.depthwiseInitializer ?? 'glorotUniform'),
    biasInitializer: normalizeInitializer(o.biasInitializer ?? 'zeros'),
    depthwiseRegularizer: resolveRegularizer(o.depthwiseRegularizer, `${where} depthwiseRegularizer`),
    biasRegularizer: resolveRegularizer(o.biasRegularizer, `${where} biasRegularizer`),
    depthwiseConstraint: resolveConstraint(o.depthwiseConstraint, `${where} depthwiseConstraint`),
    biasConstraint: resolveConstraint(o.biasConstraint, `${where} biasConstraint`),
  }, o);
}

// Keras reads depthwise_* keys; SeparableConv2D's depthwise half reuses this.
export function depthwiseOptionsFromKeras(c: Record<string, any>): DepthwiseConv2dOptions {
  return {
    kernelSize: pairOf(c.kernel_size)!, strides: pairOf(c.strides), padding: paddingFromKeras(c), depthMultiplier: c.depth_multiplier ?? 1,
    dilationRate: pairOf(c.dilation_rate),
  };
}

// The depthwise convolution with its activation, if any, in a pass of its own.
export function depthwiseForward({ ctx, p, node, layer, x, shape, count, params, outputLogits }: ForwardArgs): NodeValue {
  const [w, b] = params;
  const g = geometry(layer, x.shape);
  const z = p.activation(node.name, count * ctx.batch);
  p.emit('depthwise_forward', layer.name, { y: z, x: x.region, w, ...(b !== undefined ? { b } : {}) },
    { ...(b !== undefined ? {} : { b: 0 }), ...g, m: layer.config.depthMultiplier as number });
  const y = activationForward(p, layer, node, z, shape, outputLogits, ctx.batch, true);
  return { region: y, shape, pre: y === z ? undefined : z };
}

export const DEPTHWISE_CONV2D: LayerDef = {
  kind: 'depthwiseConv2d',
  snake: 'depthwise_conv2d',
  banding: ROW_BANDING,
  get options() { return optionNames<DepthwiseConv2dOptions>()([...LAYER_OPTION_NAMES, 'kernelSize', 'strides', 'padding', 'depthMultiplier', 'dilationRate', 'activation', 'useBias', 'depthwiseInitializer', 'biasInitializer', 'depthwiseRegularizer', 'biasRegularizer', 'depthwiseConstraint', 'biasConstraint']); },
  outputShape: (layer, [s], fail) => spatialOutputShape(layer, s, fail, s[2] * (layer.config.depthMultiplier as number)),
  weights({ config: c }, s) {
    const [kh, kw] = c.kernelSize as number[];
    return [
      weightSpec('depthwise_kernel', [kh, kw, s[2], c.depthMultiplier as number], c.depthwiseInitializer, c.depthwiseRegularizer, c.depthwiseConstraint),
      ...(c.useBias ? [weightSpec('bias', [s[2] * (c.depthMultiplier as number)], c.biasInitializer, c.biasRegularizer, c.biasConstraint)] : []),
    ];
  },
  // Run inside the 1x1 convolution that alone reads it (host/compile/sepconv.ts), or with its bias and a
  // clamp in the epilogue where it can (host/compile/conv-fusion.ts), else depthwiseForward.
  forward: (a) => deferredDepthwise(withFoldedPad(a)) ?? depthwiseForwardWithClamp(a, depthwiseForward),
  backward(a) {
    const { ctx, p, g, layer, x, grads, params, input } = a;
    const dz = gradThroughActivation(a);
    const geo = { ...geometry(layer, x.shape), m: layer.config.depthMultiplier as number };
    if (grads) {
      const dw = paramGrad(ctx, grads[0]!);
      const db = grads[1] !== undefined && grads[1] !== null ? paramGrad(ctx, grads[1]) : null;
      p.emit('depthwise_backward_filter', layer.name, { dw: dw.region, ...(db ? { db: db.region } : {}), x: x.region, dy: dz },
        { ...(db ? {} : { db: 0 }), ...geo, accumulate: dw.accumulate });
    }
    if (a.needsInputGrad) {
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
      p.emit('depthwise_backward_input', layer.name, { dx: dx.region, dy: dz, w: params[0] }, { ...geo, accumulate: dx.accumulate });
    }
  },
  kerasClasses: ['DepthwiseConv2D'],
  toKeras(l) {
    const c = l.config;
    return {
      class_name: 'DepthwiseConv2D',
      config: { ...kerasBase(l), kernel_size: c.kernelSize, strides: c.strides, ...paddingToKeras(c.padding as ConvPadding), depth_multiplier: c.depthMultiplier, dilation_rate: c.dilationRate, activation: kerasActivation(c.activation), use_bias: c.useBias, ...weightOptionsToKeras(c, 'depthwise') },
    };
  },
  fromKeras(c, r) {
    channelsLast(r, c);
    return depthwiseConv2d({ ...r.base, ...depthwiseOptionsFromKeras(c), activation: activationOf(c.activation), useBias: c.use_bias ?? undefined, ...weightOptionsFromKeras(r, c, 'depthwise') });
  },
  // Keras 3 names the depthwise weight 'kernel', Keras 2 and TF.js 'depthwise_kernel' (the
  // importers' lookups know both).
  kerasWeights: (c) => (c.useBias ? ['depthwise_kernel', 'bias'] : ['depthwise_kernel']),
  toTfjs: refuseTfjsExtensions,
};
