// int8 weights for frozen layers (Keras 3 model.quantize('int8')): per-output-channel symmetric
// kernels, scale = 127 / (max|w| of the channel + 1e-7), q = round-half-even(w * scale) clipped to
// [-127, 127], w ~ q / scale (docs/formats.md: the I8 kernel and its F32 kernel_scale). A quantized
// layer is frozen for good: its arena holds q (one byte a weight) and the scales; its forward
// kernels read q directly (docs/int8.md), and the plan unpacks the kernel into f32
// (dequantize_i8) only for the kernels with no int8 form.
import { InvalidArgumentError } from '../core/errors';
import type { Layer, LayerKind } from './layer';

export interface Int8Kernel {
  q: Int8Array; // the kernel's shape, Keras order
  scale: Float32Array; // one per output channel
  // Keras 3's activation quantizer of the layer's inputs (Int8QuantizationConfig
  // activation_quantizer): 'absmax' = AbsMaxQuantizer(axis=-1), the product then int8 x int8 ->
  // int32 (docs/int8.md "absmax"); absent = weight-only (the inputs stay f32).
  activationQuantizer?: 'absmax';
}

// model.quantize's activationQuantizer option. 'default' (or not given), as Keras 3's
// Int8QuantizationConfig default: AbsMaxQuantizer(axis=-1) on the inputs of every dense layer and of
// the one-group conv2d layers where int32 products pay (absmaxPays); 'absmax': on every dense and
// one-group conv2d layer; null: none (weight-only).
export type ActivationQuantizer = 'default' | 'absmax' | null;

// The layers whose inputs the absmax quantizer applies to: dense, and conv2d with one group (its
// im2col rows, or a 1x1's pixels, are the rows Keras quantizes for Dense). depthwiseConv2d (which
// Keras does not quantize) and grouped conv2d stay weight-only in either mode.
export function takesActivationQuantizer(layer: Layer): boolean {
  return layer.kind === 'dense' || (layer.kind === 'conv2d' && (layer.config.groups ?? 1) === 1);
}

// What a conv2d needs for the default config to quantize its inputs. Keras 3 quantizes Dense only;
// for convolutions the choice is ours, made where int32 products pay: each output position
// quantizes its own patch (kh * kw * cin values) and uses it for patch * filters products, so a
// convolution needs at least two 8-column panels of filters and ABSMAX_MIN_PRODUCTS products a
// quantized patch (docs/int8.md "Which layers"). Measured per layer (scripts/profile-int8.mjs,
// CPU time, b1), absmax / float32: gender's 1 -> 8 and 8 -> 8 3x3 layers 2.37x and 1.44x, its 2-
// and emotion's 7-filter heads 3.5x and 7.7x, emotion's 1-channel 3x3 stem (9 x 32 products a
// patch) 1.18x, gender's 1x1s with 128-512 products a pixel 1.03-1.53x (with their depthwise
// halves), those with 1024-16384 0.56-0.95x.
export const ABSMAX_MIN_FILTERS = 16;
export const ABSMAX_MIN_PRODUCTS = 1024;

// Whether the default config quantizes this layer's inputs: every dense layer (as Keras), and
// the one-group conv2d layers with enough filters and products a patch (above).
export function absmaxPays(layer: Layer): boolean {
  if (!takesActivationQuantizer(layer)) return false;
  if (layer.kind === 'dense') return true;
  const [kh, kw, cin, filters] = layer.weightSpecs[0].shape;
  return filters >= ABSMAX_MIN_FILTERS && kh * kw * cin * filters >= ABSMAX_MIN_PRODUCTS;
}

// undefined (not given) stays undefined: quantizeLayer then leaves an int8 layer's mode as it is.
export function checkActivationQuantizer(value: unknown, where: string): ActivationQuantizer | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === 'default' || value === 'absmax') return value;
  throw new InvalidArgumentError(`${where}: activationQuantizer must be 'default' (Keras's AbsMaxQuantizer where it pays), 'absmax' (on every dense and conv2d layer) or null (weight-only), got ${JSON.stringify(value)}`);
}

// The layers with an int8 kernel, and how many output channels their kernel (weight 0) has: the
// last axis (dense [in, out], conv2d [kh, kw, cin/groups, filters]) or, for a depthwise kernel
// [kh, kw, cin, multiplier], the last two.
const OUTPUT_CHANNELS: Partial<Record<LayerKind, (shape: readonly number[]) => number>> = {
  dense: (s) => s[s.length - 1],
  conv2d: (s) => s[s.length - 1],
  depthwiseConv2d: (s) => s[s.length - 2] * s[s.length - 1],
};

export function canQuantize(layer: Layer): boolean {
  return OUTPUT_CHANNELS[layer.kind] !== undefined;
}

export function outputChannels(layer: Layer): number {
  return OUTPUT_CHANNELS[layer.kind]!(layer.weightSpecs[0].shape);
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Quantizes a (Keras-order) kernel whose trailing axes hold `ch` output channels.
export function quantizeKernel(w: Float32Array, ch: number): Int8Kernel {
  const amax = new Float32Array(ch);
  for (let i = 0; i < w.length; i++) amax[i % ch] = Math.max(amax[i % ch], Math.abs(w[i]));
  const scale = amax.map((m) => Math.fround(127 / Math.fround(m + 1e-7)));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(w[i] * scale[i % ch]))));
  return { q, scale };
}

// w = q / scale in f32, as the dequantize_i8 kernel computes it.
export function dequantizeKernel(k: Int8Kernel): Float32Array {
  const ch = k.scale.length;
  return Float32Array.from(k.q, (v, i) => Math.fround(v / k.scale[i % ch]));
}

// Quantizes one frozen layer's kernel in place: the layer keeps q and the scales, and its kernel
// values become q / scale (what it computes with from now on). `activation`: the quantizer of its
// inputs: 'default' (also when not given) where absmaxPays, 'absmax' where it applies at all
// (takesActivationQuantizer), null nowhere (weight-only). An int8 layer quantized again keeps its q
// and takes the mode given, or keeps its own when none is given (undefined).
export function quantizeLayer(layer: Layer, where: string, activation?: ActivationQuantizer): void {
  if (!canQuantize(layer)) {
    throw new InvalidArgumentError(`${where}: layer ${layer.name} (${layer.kind}) has no int8 kernel; only dense, conv2d and depthwiseConv2d layers can be quantized`);
  }
  if (layer.trainable) {
    throw new InvalidArgumentError(`${where}: layer ${layer.name} is trainable; freeze it first (layer.trainable = false): an int8 layer cannot train`);
  }
  if (!layer.built) throw new InvalidArgumentError(`${where}: layer ${layer.name} is not built yet (it has no weights to quantize)`);
  if (layer.int8) {
    if (activation === undefined) return;
    if (quantizesInputs(layer, activation)) layer.int8.activationQuantizer = 'absmax';
    else delete layer.int8.activationQuantizer;
    return;
  }
  const absmax = quantizesInputs(layer, activation === undefined ? 'default' : activation);
  const k = quantizeKernel(layer.values[0], outputChannels(layer));
  if (absmax) k.activationQuantizer = 'absmax';
  layer.values[0] = dequantizeKernel(k);
  layer.int8 = k;
  layer.home = null;
}

function quantizesInputs(layer: Layer, activation: ActivationQuantizer): boolean {
  return activation === 'absmax' ? takesActivationQuantizer(layer) : activation === 'default' && absmaxPays(layer);
}

// model.quantize('int8') (host/training/model.ts): the layers named (`named`, which must all be
// frozen and of the int8 kinds) or else every frozen dense, conv2d and depthwiseConv2d layer of
// the model; every one is checked before any is quantized, so a refused name changes nothing.
export function quantizeModel(model: string, named: Layer[] | null, layers: readonly Layer[], activationQuantizer: unknown): void {
  const where = `model ${model} quantize`;
  const mode = checkActivationQuantizer(activationQuantizer, where);
  const chosen = named ?? layers.filter((l) => canQuantize(l) && !l.trainable);
  if (chosen.length === 0) {
    throw new InvalidArgumentError(`${where}: no frozen dense, conv2d or depthwiseConv2d layer to quantize; freeze the base first (model.freeze(name))`);
  }
  for (const l of chosen) if (!canQuantize(l) || l.trainable) quantizeLayer(l, where); // throws
  for (const l of chosen) l.quantize('int8', { activationQuantizer: mode });
}
