// Keras Conv2D (NHWC, kernel [kh, kw, in / groups, filters]): im2col in chunks that fit the scratch
// limit, then a GEMM (one per group); 1x1 stride-1 convolutions read the input directly. Padding is
// 'valid', 'same' or explicit [[top, bottom], [left, right]] (PyTorch, ONNX, TF EXPLICIT). Folding a
// following batch norm and ReLU / max pooling into the kernel is cross-layer fusion, in
// host/compile/conv-fusion.ts (ungrouped convolutions only).
import { optionNames } from '../core/options';
import { activationClamp, activationForward, type Clamp, gradThroughActivation } from '../compile/activation-lowering';
import { convChunk, convFilterParts, type ConvGeometry, geometry, isPointwise, usesDirectConv, usesWinograd, usesWinogradI8, winogradI8Blocks, winogradI8ScratchBytes, winogradScratchBytes, winogradTiles } from '../compile/conv-lowering';
import { convColsBytes } from '../compile/conv-scratch';
import { convForwardWithFusion, withFoldedPad } from '../compile/conv-fusion';
import { InvalidArgumentError } from '../core/errors';
import { sizeOf } from '../compile/graph';
import { align16, type ForwardArgs, gradTarget, last, needScratch, type NodeValue, packedInt8Weight, packedQ8Weight, packedScratchBytes, packedWeight, paramGrad, type Ref, SCRATCH, widenedInt8Weight, winogradWeight } from '../compile/program';
import { gemmScratchBytes, q8ScratchBytes } from '../compile/gemm-scratch';
import { sepconvForward } from '../compile/sepconv';
import { deferredExpansion } from '../compile/expand-depthwise';
import { convGapForward } from '../compile/conv-gap';
import { type ActivationSpec, resolveActivation } from './activations';
import { flag, type LayerOptions, pair, padding, type ConvPadding, pending, positionalOrOptions, positiveInt, weightConfig, type WeightOptions, LAYER_OPTION_NAMES, WEIGHT_OPTION_NAMES } from './config';
import { ROW_BANDING } from '../compile/band';
import type { LayerDef } from './def';
import { activationOf, channelsLast, kerasActivation, kerasBase, pairOf, paddingFromKeras, paddingToKeras, refuseTfjsExtensions, weightOptionsFromKeras, weightOptionsToKeras } from './keras-json';
import { Layer, weightSpec } from './layer';
import { spatialOutputShape } from './pooling';

export interface Conv2dOptions extends LayerOptions, WeightOptions {
  filters?: number;
  kernelSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same' | [[number, number], [number, number]];
  dilationRate?: number | [number, number];
  // Keras 3 Conv2D groups: input and output channels in this many independent groups.
  groups?: number;
  activation?: ActivationSpec | null;
  useBias?: boolean;
}

// conv2d(32, { kernelSize: 3 }) or conv2d({ filters: 32, kernelSize: 3 })
export function conv2d(filters: number | Conv2dOptions, options?: Conv2dOptions): Layer {
  const o = positionalOrOptions<Conv2dOptions>('conv2d', 'filters', filters, options);
  const where = pending('conv2d', o);
  return new Layer(CONV2D, {
    filters: positiveInt(where, 'filters', o.filters as number),
    kernelSize: pair(where, 'kernelSize', o.kernelSize, [1, 1]),
    strides: pair(where, 'strides', o.strides, [1, 1]),
    padding: padding(where, o.padding),
    dilationRate: pair(where, 'dilationRate', o.dilationRate, [1, 1]),
    groups: positiveInt(where, 'groups', o.groups ?? 1),
    activation: resolveActivation(o.activation, where),
    useBias: flag(where, 'useBias', o.useBias, true),
    ...weightConfig(where, o, 'glorotUniform'),
  }, o);
}

// The convolution's forward with kernel w and bias b (possibly folded with a batch norm).
// `fused`: the clamp of a ReLU or ReLU6 the caller absorbed, run in the epilogue; without one,
// the layer's own ReLU (or ReLU6, on the direct kernel) runs there instead of in a pass of its
// own. Few channels and filters (usesDirectConv: first layers) run as conv2d_direct.
export function conv2dForward(a: ForwardArgs, w: number, b: number | undefined, g: ConvGeometry, chunkRows: number, colsBytes: number, fused: Clamp | null): NodeValue {
  // A 1x1 convolution read only by a depthwise one runs inside it (host/compile/expand-depthwise.ts).
  const expansion = deferredExpansion(a, w, b, g, fused);
  if (expansion) return expansion;
  const { ctx, p, node, layer, x, shape, count } = a;
  const z = p.activation(node.name, count * ctx.batch);
  // A frozen int8 kernel is read by the im2col / 1x1 GEMM itself (conv2d_forward_i8; in an
  // inference plan, packed once at a byte a weight: conv2d_forward_i8_packed).
  const int8 = ctx.int8Kernels.get(w);
  if (int8?.absmax) return conv2dQ8(a, z, w, int8.scale, b, g, chunkRows, colsBytes, fused);
  // An int8 kernel runs direct on its q widened once by `prepare` (conv2d_direct_i8); without a
  // prepare program (training plans), im2col + the int8 GEMM.
  const widened = int8 && usesDirectConv(g, last(shape)) ? widenedInt8Weight(ctx, layer.name, w) : null;
  const direct = int8 ? widened !== null : usesDirectConv(g, last(shape));
  const own = fused ? null : activationClamp(layer.config.activation);
  const bias: Record<string, number> = b !== undefined ? { b } : {};
  const k = g.kh * g.kw * g.c;
  // A 3x3 stride-1 kernel an inference plan transforms once runs as Winograd F(2x2, 3x3) (usesWinograd).
  const wino = !direct && !int8 && usesWinograd(g, last(shape)) ? winogradWeight(ctx, layer.name, w, g.c, last(shape)) : null;
  // An int8 one in an inference plan too, on q itself (usesWinogradI8).
  const winoI8 = !direct && int8 !== undefined && ctx.prepare !== null && ctx.regions[w].kind === 'param' && usesWinogradI8(g, last(shape));
  const packed = direct || winoI8 ? null : wino ?? (int8 ? packedInt8Weight(ctx, layer.name, w, last(shape), k) : packedWeight(ctx, layer.name, w, last(shape), k));
  // A depthwise convolution deferred into this 1x1 one (host/compile/sepconv.ts) needs a packed path.
  if (x.depthwise && (packed === null || wino !== null)) throw new Error(`internal: ${layer.name} cannot run the depthwise convolution deferred into it`);
  if (packed !== null || winoI8) {
    // Weights packed by the plan's prepare program; the clamp (fused or the layer's own) in the epilogue.
    const [lo, hi] = fused ?? own ?? [-Infinity, Infinity];
    const dims = { ...(b !== undefined ? {} : { b: 0 }), ...g, f: last(shape), chunkRows, lo, hi };
    if (winoI8) {
      const { tiles, fb, cb } = winogradI8Blocks(ctx.batch, g, last(shape));
      needScratch(ctx, winogradI8ScratchBytes(g.c, last(shape), tiles, fb, cb));
      const { h, w_, c, pt, pl, oh, ow } = g;
      p.emit('conv2d_winograd_i8', layer.name, { y: z, x: x.region, q: w, scale: int8!.scale, ...bias, scratch: [SCRATCH, 0] },
        { ...(b !== undefined ? {} : { b: 0 }), h, w_, c, f: last(shape), pt, pl, oh, ow, tiles, fb, cb, lo, hi });
    } else if (wino !== null) {
      const tiles = winogradTiles(ctx.batch, g, last(shape));
      needScratch(ctx, winogradScratchBytes(g.c, last(shape), tiles));
      const { h, w_, c, pt, pl, oh, ow } = g;
      p.emit('conv2d_winograd', layer.name, { y: z, x: x.region, u: wino, ...bias, scratch: [SCRATCH, 0] },
        { ...(b !== undefined ? {} : { b: 0 }), h, w_, c, f: last(shape), pt, pl, oh, ow, tiles, lo, hi });
    } else if (int8 && x.depthwise) {
      sepconvForward(a, z, packed!, b, last(shape), lo, hi, int8.scale);
    } else if (int8) {
      // The int8 GEMM widens each block of panels once per call, so a call of few rows (an im2col
      // chunk of a deep kernel: 12 rows of resnet18's 3x3x512) pays it for few products: at least
      // INT8_CHUNK_ROWS rows a chunk (more scratch; a plan over its budget drops the packed kernels).
      // Not for few filters, where the im2col copy outweighs the GEMM and larger columns fall out
      // of cache (emotion's 3x3x256 -> 7: 1.12x slower at 128 rows than at 28).
      const rows = ctx.batch * g.oh * g.ow;
      const wide = !isPointwise(g) && last(shape) >= INT8_CHUNK_MIN_FILTERS;
      const chunk = wide ? Math.max(chunkRows, Math.min(rows, INT8_CHUNK_ROWS)) : chunkRows;
      const cols = wide ? align16(convColsBytes(chunk, g.kh, g.kw, g.c)) : colsBytes;
      needScratch(ctx, cols + gemmScratchBytes(chunk, last(shape), k));
      p.emit('conv2d_forward_i8_packed', layer.name, { y: z, x: x.region, bp: packed!, scale: int8.scale, ...bias, cols: [SCRATCH, 0], pack: [SCRATCH, cols] }, { ...dims, chunkRows: chunk });
    } else if (x.depthwise) {
      sepconvForward(a, z, packed!, b, last(shape), lo, hi);
    } else {
      needScratch(ctx, colsBytes + packedScratchBytes(k));
      p.emit('conv2d_forward_packed', layer.name, { y: z, x: x.region, wp: packed!, ...bias, cols: [SCRATCH, 0], pack: [SCRATCH, colsBytes] }, dims);
    }
    if (fused ?? own) return { region: z, shape };
    const y = activationForward(p, layer, node, z, shape, a.outputLogits, ctx.batch, true);
    return { region: y, shape, pre: y === z ? undefined : z };
  }
  const clamp = fused ?? (own && (direct || own[1] === Infinity) ? own : null);
  if (direct) {
    const [lo, hi] = clamp ?? [-Infinity, Infinity];
    const weights: Record<string, number> = int8 ? { qf: widened!, scale: int8.scale } : { w };
    p.emit(int8 ? 'conv2d_direct_i8' : 'conv2d_direct', layer.name, { y: z, x: x.region, ...weights, ...bias, zero: [SCRATCH, 0] }, { ...(b !== undefined ? {} : { b: 0 }), ...g, f: last(shape), lo, hi });
  } else {
    const relu = clamp && clamp[0] === 0 && clamp[1] === Infinity ? 1 : 0;
    const weights: Record<string, number> = int8 ? { q: w, scale: int8.scale } : { w };
    p.emit(int8 ? 'conv2d_forward_i8' : 'conv2d_forward', layer.name, { y: z, x: x.region, ...weights, ...bias, cols: [SCRATCH, 0], pack: [SCRATCH, colsBytes] },
      { ...(b !== undefined ? {} : { b: 0 }), ...g, f: last(shape), chunkRows, relu, pool: 0, chunkOut: 0 });
  }
  if (clamp) return { region: z, shape };
  const y = activationForward(p, layer, node, z, shape, a.outputLogits, ctx.batch, true);
  return { region: y, shape, pre: y === z ? undefined : z };
}

// A convolution with Keras's absmax activation quantizer, in every plan (conv2d_q8, docs/int8.md):
// each output position's im2col row quantized on its own, int8 x int8 -> int32; q packed once by
// prepare, or per call; the clamp (fused or the layer's own) in the epilogue.
function conv2dQ8(a: ForwardArgs, z: number, q: number, scale: number, b: number | undefined, g: ConvGeometry,
  chunkRows: number, colsBytes: number, fused: Clamp | null): NodeValue {
  const { ctx, p, layer, x, shape } = a;
  const f = last(shape), k = g.kh * g.kw * g.c;
  const bp = packedQ8Weight(ctx, p, layer.name, q, f, k);
  const clamp = fused ?? activationClamp(layer.config.activation);
  const [lo, hi] = clamp ?? [-Infinity, Infinity];
  if (x.depthwise) {
    // The 1x1 reading a deferred int8 depthwise convolution (host/compile/sepconv.ts): sepconv_q8.
    sepconvForward(a, z, bp, b, f, lo, hi, scale, true);
  } else {
    needScratch(ctx, colsBytes + q8ScratchBytes(k));
    p.emit('conv2d_q8', layer.name, { y: z, x: x.region, bp, scale, ...(b !== undefined ? { b } : {}), cols: [SCRATCH, 0], scratch: [SCRATCH, colsBytes] },
      { ...(b !== undefined ? {} : { b: 0 }), ...g, f, chunkRows, lo, hi });
  }
  if (clamp) return { region: z, shape };
  const y = activationForward(p, layer, a.node, z, shape, a.outputLogits, ctx.batch, true);
  return { region: y, shape, pre: y === z ? undefined : z };
}

// Fewest output positions an int8 im2col chunk of at least INT8_CHUNK_MIN_FILTERS filters takes
// in an inference plan (conv2dForward).
const INT8_CHUNK_ROWS = 128;
const INT8_CHUNK_MIN_FILTERS = 64;

export const CONV2D: LayerDef = {
  kind: 'conv2d',
  snake: 'conv2d',
  banding: ROW_BANDING,
  get options() { return optionNames<Conv2dOptions>()([...LAYER_OPTION_NAMES, ...WEIGHT_OPTION_NAMES, 'filters', 'kernelSize', 'strides', 'padding', 'dilationRate', 'groups', 'activation', 'useBias']); },
  outputShape(layer, [s], fail) {
    const out = spatialOutputShape(layer, s, fail, layer.config.filters as number);
    const groups = layer.config.groups as number;
    if (s[2] % groups !== 0 || out[2] % groups !== 0) {
      throw new InvalidArgumentError(`layer ${layer.name} (conv2d): groups ${groups} must divide the input channels (${s[2]}) and filters (${out[2]})`);
    }
    return out;
  },
  weights({ config: c }, s) {
    const [kh, kw] = c.kernelSize as number[];
    return [
      weightSpec('kernel', [kh, kw, s[2] / (c.groups as number), c.filters as number], c.kernelInitializer, c.kernelRegularizer, c.kernelConstraint),
      ...(c.useBias ? [weightSpec('bias', [c.filters as number], c.biasInitializer, c.biasRegularizer, c.biasConstraint)] : []),
    ];
  },
  forward(a) {
    // A linear one read only by a global average pooling as conv_gap (host/compile/conv-gap.ts).
    if (a.layer.config.groups === 1) return convGapForward(withFoldedPad(a)) ?? convForwardWithFusion(a, conv2dForward);
    const [w, b] = a.params;
    const g = geometry(a.layer, a.x.shape);
    const groups = a.layer.config.groups as number;
    const { chunkRows, colsBytes } = convChunk(a.ctx, g, last(a.shape), groups);
    const { ctx, p, node, layer, x, shape, count } = a;
    const z = p.activation(node.name, count * ctx.batch);
    p.emit('conv2d_grouped_forward', layer.name, { y: z, x: x.region, w, ...(b !== undefined ? { b } : {}), cols: [SCRATCH, 0], pack: [SCRATCH, colsBytes] },
      { ...(b !== undefined ? {} : { b: 0 }), ...g, f: last(shape), groups, chunkRows, accumulate: 0 });
    const y = activationForward(p, layer, node, z, shape, a.outputLogits, ctx.batch, true);
    return { region: y, shape, pre: y === z ? undefined : z };
  },
  backward(a) {
    const { ctx, p, g, layer, v, x, grads, params, input } = a;
    const dz = gradThroughActivation(a);
    const geo = geometry(layer, x.shape);
    const f = last(v.shape);
    const groups = layer.config.groups as number;
    const { chunkRows, colsBytes } = convChunk(ctx, geo, f, groups);
    const scratch = { cols: [SCRATCH, 0] as Ref, pack: [SCRATCH, colsBytes] as Ref };
    const sizes = groups === 1 ? { ...geo, f, chunkRows } : { ...geo, f, groups, chunkRows };
    if (grads) {
      const dw = paramGrad(ctx, grads[0]!);
      const db = grads[1] !== undefined && grads[1] !== null ? paramGrad(ctx, grads[1]) : null;
      if (db && db.accumulate !== dw.accumulate) throw new Error(`internal: ${layer.name} kernel and bias gradients disagree on accumulation`);
      const parts = groups === 1 ? convFilterParts(ctx, geo, f) : null;
      if (parts) {
        needScratch(ctx, parts.scratch);
        p.emit('conv2d_backward_filter_parts', layer.name, { dw: dw.region, ...(db ? { db: db.region } : {}), x: x.region, dy: dz, parts: [SCRATCH, 0], pack: [SCRATCH, parts.bytes] },
          { ...(db ? {} : { db: 0 }), ...geo, f, sub: parts.sub, accumulate: dw.accumulate });
      } else p.emit(groups === 1 ? 'conv2d_backward_filter' : 'conv2d_grouped_backward_filter', layer.name,
        { dw: dw.region, ...(db ? { db: db.region } : {}), x: x.region, dy: dz, ...scratch }, { ...(db ? {} : { db: 0 }), ...sizes, accumulate: dw.accumulate });
    }
    if (a.needsInputGrad) {
      const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
      p.emit(groups === 1 ? 'conv2d_backward_input' : 'conv2d_grouped_backward_input', layer.name,
        { dx: dx.region, dy: dz, w: params[0], ...scratch }, { ...sizes, accumulate: dx.accumulate });
    }
  },
  kerasClasses: ['Conv2D'],
  toKeras(l) {
    const c = l.config;
    return {
      class_name: 'Conv2D',
      config: {
        ...kerasBase(l), filters: c.filters, kernel_size: c.kernelSize, strides: c.strides, ...paddingToKeras(c.padding as ConvPadding),
        dilation_rate: c.dilationRate, ...(c.groups !== 1 ? { groups: c.groups } : {}), activation: kerasActivation(c.activation), use_bias: c.useBias, ...weightOptionsToKeras(c, 'kernel'),
      },
    };
  },
  fromKeras(c, r) {
    channelsLast(r, c);
    return conv2d({
      ...r.base, filters: c.filters, kernelSize: pairOf(c.kernel_size)!, strides: pairOf(c.strides), padding: paddingFromKeras(c),
      dilationRate: pairOf(c.dilation_rate), groups: c.groups ?? undefined, activation: activationOf(c.activation), useBias: c.use_bias ?? undefined,
      ...weightOptionsFromKeras(r, c, 'kernel'),
    });
  },
  kerasWeights: (c) => (c.useBias ? ['kernel', 'bias'] : ['kernel']),
  toTfjs: refuseTfjsExtensions,
};
