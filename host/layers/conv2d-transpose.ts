// Keras Conv2DTranspose (NHWC, kernel [kh, kw, filters, in]): the adjoint of a convolution whose
// input is this layer's output. So its forward pass is that convolution's backward-input kernel,
// its input gradient that convolution's forward kernel, and its kernel gradient the convolution's
// filter gradient with the roles of input and output gradient swapped (assembly/kernels/conv.ts).
// Padding 'valid' | 'same' (Keras, TF's Conv2DBackpropInput) or explicit [[top, bottom], [left,
// right]] (PyTorch padding, ONNX ConvTranspose pads); outputPadding adds rows/columns at the
// bottom/right, as in Keras, PyTorch and ONNX. `groups` (PyTorch / ONNX ConvTranspose group; Keras
// 3's Conv2DTranspose has none) splits input and output channels into independent groups: the
// kernel is [kh, kw, filters / groups, in], the adjoint of the grouped convolution's, and the
// grouped kernels of conv2d serve its three passes.
import { optionNames } from '../core/options';
import { activationForward, gradThroughActivation } from '../compile/activation-lowering';
import { convChunk, type ConvGeometry } from '../compile/conv-lowering';
import { windowAxis } from '../compile/conv-scratch';
import { sizeOf } from '../compile/graph';
import { gradTarget, last, paramGrad, type Ref, SCRATCH } from '../compile/program';
import { InvalidArgumentError } from '../core/errors';
import { type ActivationSpec, resolveActivation } from './activations';
import {
  flag, type LayerOptions, pair, padding, type ConvPadding, pending, positionalOrOptions, positiveInt, weightConfig, type WeightOptions,
  LAYER_OPTION_NAMES, WEIGHT_OPTION_NAMES,
} from './config';
import type { LayerDef } from './def';
import {
  activationOf, channelsLast, kerasActivation, kerasBase, pairOf, paddingFromKeras, paddingToKeras, refuseTfjsExtensions,
  weightOptionsFromKeras, weightOptionsToKeras,
} from './keras-json';
import { Layer, weightSpec } from './layer';

export interface Conv2dTransposeOptions extends LayerOptions, WeightOptions {
  filters?: number;
  kernelSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same' | [[number, number], [number, number]];
  // Extra rows and columns at the bottom and right, each below its stride (or dilation); null or
  // absent: Keras's default output size.
  outputPadding?: number | [number, number] | null;
  dilationRate?: number | [number, number];
  activation?: ActivationSpec | null;
  useBias?: boolean;
  groups?: number;
}

// conv2dTranspose(16, { kernelSize: 3, strides: 2 }) or conv2dTranspose({ filters: 16, ... })
export function conv2dTranspose(filters: number | Conv2dTransposeOptions, options?: Conv2dTransposeOptions): Layer {
  const o = positionalOrOptions<Conv2dTransposeOptions>('conv2dTranspose', 'filters', filters, options);
  const where = pending('conv2d_transpose', o);
  const strides = pair(where, 'strides', o.strides, [1, 1]);
  const dilationRate = pair(where, 'dilationRate', o.dilationRate, [1, 1]);
  let outputPadding: [number, number] | null = null;
  if (o.outputPadding !== undefined && o.outputPadding !== null) {
    const v = o.outputPadding;
    outputPadding = typeof v === 'number' ? [v, v] : [v[0], v[1]];
    if (!outputPadding.every((p, i) => Number.isInteger(p) && p >= 0 && p < Math.max(strides[i], dilationRate[i]))) {
      throw new InvalidArgumentError(`${where}: outputPadding must be non-negative integers below the strides [${strides}] (or dilationRate), got ${JSON.stringify(v)}`);
    }
  }
  return new Layer(CONV2D_TRANSPOSE, {
    filters: positiveInt(where, 'filters', o.filters as number),
    kernelSize: pair(where, 'kernelSize', o.kernelSize, [1, 1]),
    strides,
    padding: padding(where, o.padding),
    outputPadding,
    dilationRate,
    activation: resolveActivation(o.activation, where),
    useBias: flag(where, 'useBias', o.useBias, true),
    groups: positiveInt(where, 'groups', o.groups ?? 1),
    ...weightConfig(where, o, 'glorotUniform'),
  }, o);
}

// One axis: the output length (Keras deconv_output_length, or PyTorch's with explicit pads) and
// the top/left padding of the convolution this layer is the adjoint of.
function transposedAxis(inSize: number, k: number, s: number, d: number, pad: 'same' | 'valid' | readonly [number, number], op: number | null):
  { out: number; padBefore: number } {
  const span = (k - 1) * d + 1;
  if (typeof pad !== 'string') return { out: (inSize - 1) * s + span - pad[0] - pad[1] + (op ?? 0), padBefore: pad[0] };
  const out = op === null
    ? (pad === 'valid' ? inSize * s + Math.max(span - s, 0) : inSize * s)
    : (inSize - 1) * s + span - 2 * (pad === 'same' ? Math.floor(span / 2) : 0) + op;
  // The convolution of `out` with TF's padding rule must give back inSize (TF's Conv2DBackpropInput).
  const conv = windowAxis(out, k, s, d, pad);
  return { out: conv.out === inSize ? out : -1, padBefore: conv.padBefore };
}

// The geometry of the adjoint convolution: its input (h, w_, c) is this layer's output (with
// c = filters) and its output (oh, ow, f) this layer's input.
function transposedGeometry(layer: Layer, inShape: readonly number[]): ConvGeometry {
  const c = layer.config;
  const [kh, kw] = c.kernelSize as number[];
  const [sh, sw] = c.strides as number[];
  const [dh, dw] = c.dilationRate as number[];
  const pad = c.padding as ConvPadding;
  const op = c.outputPadding as [number, number] | null;
  const y = transposedAxis(inShape[0], kh, sh, dh, typeof pad === 'string' ? pad : pad[0], op ? op[0] : null);
  const x = transposedAxis(inShape[1], kw, sw, dw, typeof pad === 'string' ? pad : pad[1], op ? op[1] : null);
  if (y.out <= 0 || x.out <= 0) {
    throw new InvalidArgumentError(`layer ${layer.name} (conv2dTranspose): kernelSize [${kh}, ${kw}], strides [${sh}, ${sw}], padding ${JSON.stringify(pad)} and outputPadding ${JSON.stringify(op)} give no valid output size for input [${inShape[0]}, ${inShape[1]}]`);
  }
  return { h: y.out, w_: x.out, c: c.filters as number, kh, kw, sh, sw, dh, dw_: dw, pt: y.padBefore, pl: x.padBefore, oh: inShape[0], ow: inShape[1] };
}

export const CONV2D_TRANSPOSE: LayerDef = {
  kind: 'conv2dTranspose',
  snake: 'conv2d_transpose',
  get options() {
    return optionNames<Conv2dTransposeOptions>()([
      ...LAYER_OPTION_NAMES, ...WEIGHT_OPTION_NAMES, 'filters', 'kernelSize', 'strides', 'padding', 'outputPadding', 'dilationRate', 'activation', 'useBias', 'groups',
    ]);
  },
  outputShape(layer, [s], fail) {
    if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
    const groups = layer.config.groups as number;
    if (s[2] % groups !== 0 || (layer.config.filters as number) % groups !== 0) {
      throw new InvalidArgumentError(`layer ${layer.name} (conv2dTranspose): groups ${groups} must divide the input channels (${s[2]}) and filters (${layer.config.filters})`);
    }
    const g = transposedGeometry(layer, s);
    return [g.h, g.w_, g.c];
  },
  weights({ config: c }, s) {
    const [kh, kw] = c.kernelSize as number[];
    return [
      weightSpec('kernel', [kh, kw, (c.filters as number) / (c.groups as number), s[2]], c.kernelInitializer, c.kernelRegularizer, c.kernelConstraint),
      ...(c.useBias ? [weightSpec('bias', [c.filters as number], c.biasInitializer, c.biasRegularizer, c.biasConstraint)] : []),
    ];
  },
  forward({ ctx, p, node, layer, x, shape, count, params, outputLogits }) {
    const [w, b] = params;
    const g = transposedGeometry(layer, x.shape);
    const f = last(x.shape);
    const groups = layer.config.groups as number;
    const { chunkRows, colsBytes } = convChunk(ctx, g, f, groups);
    const z = p.activation(node.name, count * ctx.batch);
    if (b !== undefined) p.emit('bias_fill', layer.name, { y: z, b }, { rows: g.h * g.w_, n: g.c });
    p.emit(groups === 1 ? 'conv2d_backward_input' : 'conv2d_grouped_backward_input', layer.name, { dx: z, dy: x.region, w, cols: [SCRATCH, 0], pack: [SCRATCH, colsBytes] },
      { ...g, f, ...(groups === 1 ? {} : { groups }), chunkRows, accumulate: b !== undefined ? 1 : 0 });
    const y = activationForward(p, layer, node, z, shape, outputLogits, ctx.batch, true);
    return { region: y, shape, pre: y === z ? undefined : z };
  },
  backward(a) {
    const { ctx, p, g, layer, x, grads, params, input } = a;
    const dz = gradThroughActivation(a);
    const geo = transposedGeometry(layer, x.shape);
    const f = last(x.shape);
    const groups = layer.config.groups as number;
    const { chunkRows, colsBytes } = convChunk(ctx, geo, f, groups);
    const scratch = { cols: [SCRATCH, 0] as Ref, pack: [SCRATCH, colsBytes] as Ref };
    if (grads) {
      const dw = paramGrad(ctx, grads[0]!);
      p.emit(groups === 1 ? 'conv2d_backward_filter' : 'conv2d_grouped_backward_filter', layer.name, { dw: dw.region, x: dz, dy: x.region, ...scratch },
        { db: 0, ...geo, f, ...(groups === 1 ? {} : { groups }), chunkRows, accumulate: dw.accumulate });
      if (grads[1] !== undefined && grads[1] !== null) {
        const db = paramGrad(ctx, grads[1]);
        p.emit('bias_backward', layer.name, { db: db.region, dy: dz }, { rows: geo.h * geo.w_, n: geo.c, accumulate: db.accumulate });
      }
    }
    if (a.needsInputGrad) {
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
      p.emit('conv2d_grouped_forward', layer.name, { y: dx.region, x: dz, w: params[0], ...scratch },
        { b: 0, ...geo, f, groups, chunkRows, accumulate: dx.accumulate });
    }
  },
  kerasClasses: ['Conv2DTranspose'],
  toKeras(l) {
    const c = l.config;
    return {
      class_name: 'Conv2DTranspose',
      config: {
        ...kerasBase(l), filters: c.filters, kernel_size: c.kernelSize, strides: c.strides, ...paddingToKeras(c.padding as ConvPadding),
        output_padding: c.outputPadding, dilation_rate: c.dilationRate, ...(c.groups !== 1 ? { groups: c.groups } : {}), activation: kerasActivation(c.activation), use_bias: c.useBias,
        ...weightOptionsToKeras(c, 'kernel'),
      },
    };
  },
  fromKeras(c, r) {
    channelsLast(r, c);
    return conv2dTranspose({
      ...r.base, filters: c.filters, kernelSize: pairOf(c.kernel_size)!, strides: pairOf(c.strides), padding: paddingFromKeras(c),
      outputPadding: pairOf(c.output_padding) ?? null, dilationRate: pairOf(c.dilation_rate), activation: activationOf(c.activation),
      useBias: c.use_bias ?? undefined, groups: c.groups ?? undefined, ...weightOptionsFromKeras(r, c, 'kernel'),
    });
  },
  kerasWeights: (c) => (c.useBias ? ['kernel', 'bias'] : ['kernel']),
  toTfjs: refuseTfjsExtensions,
};
