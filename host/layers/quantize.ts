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
// values become q / scale (what it computes with from now on).
export function quantizeLayer(layer: Layer, where: string): void {
  if (!canQuantize(layer)) {
    throw new InvalidArgumentError(`${where}: layer ${layer.name} (${layer.kind}) has no int8 kernel; only dense, conv2d and depthwiseConv2d layers can be quantized`);
  }
  if (layer.trainable) {
    throw new InvalidArgumentError(`${where}: layer ${layer.name} is trainable; freeze it first (layer.trainable = false): an int8 layer cannot train`);
  }
  if (!layer.built) throw new InvalidArgumentError(`${where}: layer ${layer.name} is not built yet (it has no weights to quantize)`);
  if (layer.int8) return;
  const k = quantizeKernel(layer.values[0], outputChannels(layer));
  layer.values[0] = dequantizeKernel(k);
  layer.int8 = k;
  layer.home = null;
}
