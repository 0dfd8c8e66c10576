// Keras Resizing(height, width, interpolation): nearest or bilinear, no antialiasing, with ONNX
// Resize's coordinate transforms and nearest modes (the kernel: assembly/kernels/resize.ts);
// trainable through (nearest scatters the gradient back, bilinear applies the transposed weights).
// Keras's own Resizing is TF's resize with half-pixel centers: bilinear 'half_pixel', nearest
// 'half_pixel' rounding halves up. Keras UpSampling2D is in up-sampling2d.ts.
//
// How the importers map onto these options (interpolation, coordinateTransform, nearestMode):
// - ONNX Resize, mode 'nearest' | 'linear' (4-D, spatial axes only): 'nearest' | 'bilinear',
//   coordinate_transformation_mode as is ('half_pixel', 'align_corners', 'asymmetric',
//   'pytorch_half_pixel'), nearest_mode as is. The scale is output/input size, which is ONNX's
//   when `sizes` is given or the scales give whole output sizes (others are refused).
// - TF ResizeBilinear: align_corners -> 'align_corners'; half_pixel_centers -> 'half_pixel';
//   neither -> 'asymmetric'.
// - TF ResizeNearestNeighbor: align_corners -> 'align_corners' + 'round_prefer_ceil' (TF rounds
//   half away from zero); half_pixel_centers -> 'half_pixel' + 'round_prefer_ceil' (TF's
//   floor((i + 0.5) * scale) is that coordinate + 0.5, floored); neither -> 'asymmetric' + 'floor'.
// - PyTorch F.interpolate: 'nearest' -> 'asymmetric' + 'floor'; 'nearest-exact' -> 'half_pixel' +
//   'round_prefer_ceil'; 'bilinear' align_corners=False -> 'pytorch_half_pixel', True ->
//   'align_corners' (what torch.onnx.export writes).
import { optionNames } from '../core/options';
import { ownEntry } from '../core/lookup';
import { sizeOf } from '../compile/graph';
import { gradTarget } from '../compile/program';
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { type LayerOptions, pending, positiveInt, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { channelsLast, kerasBase, type KerasReader, type LayerJson, unsupported } from './keras-json';
import { Layer } from './layer';

export type Interpolation = 'nearest' | 'bilinear';
export type CoordinateTransform = 'half_pixel' | 'align_corners' | 'asymmetric' | 'pytorch_half_pixel';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';

// Kernel constants (assembly/kernels/resize.ts RESIZE_*).
const MODE: Record<Interpolation, number> = { nearest: 0, bilinear: 1 };
const TRANSFORM: Record<CoordinateTransform, number> = { half_pixel: 0, align_corners: 1, asymmetric: 2, pytorch_half_pixel: 3 };
const NEAREST_MODE: Record<NearestMode, number> = { round_prefer_floor: 0, round_prefer_ceil: 1, floor: 2, ceil: 3 };

export interface ResizeModeOptions {
  interpolation?: Interpolation;
  coordinateTransform?: CoordinateTransform;
  // interpolation 'nearest' only
  nearestMode?: NearestMode;
}

export interface ResizingOptions extends LayerOptions, ResizeModeOptions {
  height?: number;
  width?: number;
}

function choice<T extends string>(where: string, what: string, table: Record<T, number>, v: unknown): T {
  if (typeof v !== 'string' || ownEntry(table, v) === undefined) throw new InvalidArgumentError(`${where}: ${what} must be one of ${Object.keys(table).map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

// The checked interpolation config; `defaults` are the layer's Keras behaviour for each interpolation.
export function resizeMode(where: string, o: ResizeModeOptions, defaults: Record<Interpolation, [CoordinateTransform, NearestMode]>): Required<ResizeModeOptions> {
  const interpolation = choice(where, 'interpolation', MODE, o.interpolation ?? 'bilinear');
  const [transform, nearestMode] = defaults[interpolation];
  if (interpolation !== 'nearest' && o.nearestMode !== undefined) throw new InvalidArgumentError(`${where}: nearestMode applies to interpolation 'nearest' only`);
  return {
    interpolation,
    coordinateTransform: choice(where, 'coordinateTransform', TRANSFORM, o.coordinateTransform ?? transform),
    nearestMode: choice(where, 'nearestMode', NEAREST_MODE, o.nearestMode ?? nearestMode),
  };
}

export const RESIZING_DEFAULTS: Record<Interpolation, [CoordinateTransform, NearestMode]> = {
  bilinear: ['half_pixel', 'round_prefer_ceil'], nearest: ['half_pixel', 'round_prefer_ceil'],
};

// Whether a config is what the Keras class computes (else it is written as 'edgetune>...').
export function isKerasMode(c: Record<string, unknown>, defaults: Record<Interpolation, [CoordinateTransform, NearestMode]>): boolean {
  const [t, n] = defaults[c.interpolation as Interpolation];
  return c.coordinateTransform === t && (c.interpolation !== 'nearest' || c.nearestMode === n);
}

// The extra keys of the 'edgetune>' form, and their reading.
export const modeToKeras = (c: Record<string, unknown>) => ({ coordinate_transform: c.coordinateTransform, ...(c.interpolation === 'nearest' ? { nearest_mode: c.nearestMode } : {}) });
export function modeFromKeras(c: Record<string, any>, r: KerasReader): ResizeModeOptions {
  if (c.antialias) throw unsupported(r, 'antialias');
  channelsLast(r, c);
  const interpolation = c.interpolation ?? undefined;
  if (interpolation !== undefined && interpolation !== 'nearest' && interpolation !== 'bilinear') throw unsupported(r, `interpolation '${interpolation}' (only nearest and bilinear)`);
  return { interpolation, coordinateTransform: c.coordinate_transform ?? undefined, nearestMode: c.nearest_mode ?? undefined };
}

// TF.js layers compute their own resize: UpSampling2D calls resizeBilinear / resizeNearestNeighbor
// with both flags false (asymmetric, floor). An export writes the Keras class when TF.js computes
// the layer's mode and refuses it otherwise (it would load and compute something else).
export function tfjsResize(l: Layer, j: LayerJson, where: string, source: string | undefined, tfjs: [CoordinateTransform, NearestMode]): void {
  const c = l.config;
  const [t, n] = tfjs;
  if (c.coordinateTransform !== t || (c.interpolation === 'nearest' && c.nearestMode !== n)) {
    const mode = c.interpolation === 'nearest' ? `${c.coordinateTransform} + ${c.nearestMode}` : c.coordinateTransform;
    throw new ModelFormatError(`${where}: layer '${l.name}' resizes with ${c.interpolation} ${mode}; TF.js's ${j.class_name.replace('edgetune>', '')} computes ${t}${c.interpolation === 'nearest' ? ` + ${n}` : ''} instead`, source, l.name);
  }
  j.class_name = j.class_name.replace('edgetune>', '');
  delete j.config.coordinate_transform;
  delete j.config.nearest_mode;
}

// resizing(64, 64) or resizing({ height: 64, width: 64 })
export function resizing(height: number | ResizingOptions, width?: number, options?: ResizingOptions): Layer {
  const o: ResizingOptions = typeof height === 'object' && height !== null
    ? (width === undefined && options === undefined ? height : invalid())
    : { ...(options ?? {}), height, width };
  const where = pending('resizing', o);
  return new Layer(RESIZING, {
    height: positiveInt(where, 'height', o.height as number), width: positiveInt(where, 'width', o.width as number), ...resizeMode(where, o, RESIZING_DEFAULTS),
  }, o);
}

function invalid(): never {
  throw new InvalidArgumentError('layers.resizing: give either resizing(height, width, options) or resizing(options)');
}

// The forward and backward lowering of both resize kinds: x (h, w, c) -> (shape[0], shape[1], c).
export const RESIZE_LOWERING: Pick<LayerDef, 'forward' | 'backward'> = {
  forward({ ctx, p, node, layer, x, shape, count }) {
    const y = p.activation(node.name, count * ctx.batch);
    p.emit('resize_forward', layer.name, { y, x: x.region }, resizeArgs(layer, x.shape, shape));
    return { region: y, shape };
  },
  backward({ ctx, p, g, layer, v, x, input, dy, needsInputGrad }) {
    if (!needsInputGrad) return;
    const dx = gradTarget(p, g, input, sizeOf(x.shape) * ctx.batch);
    p.emit('resize_backward', layer.name, { dx: dx.region, dy }, { ...resizeArgs(layer, x.shape, v.shape), accumulate: dx.accumulate });
  },
};

function resizeArgs(layer: Layer, s: readonly number[], out: readonly number[]): Record<string, number> {
  const c = layer.config;
  return {
    h: s[0], w_: s[1], c: s[2], oh: out[0], ow: out[1], mode: MODE[c.interpolation as Interpolation],
    transform: TRANSFORM[c.coordinateTransform as CoordinateTransform], nearestMode: NEAREST_MODE[c.nearestMode as NearestMode],
  };
}

export const RESIZING: LayerDef = {
  kind: 'resizing',
  snake: 'resizing',
  get options() { return optionNames<ResizingOptions>()([...LAYER_OPTION_NAMES, 'height', 'width', 'interpolation', 'coordinateTransform', 'nearestMode']); },
  outputShape(layer, [s], fail) {
    if (s.length !== 3) throw fail(`needs a (height, width, channels) input per sample, got [${s}]`);
    return [layer.config.height as number, layer.config.width as number, s[2]];
  },
  forward: (a) => RESIZE_LOWERING.forward(a),
  backward: (a) => RESIZE_LOWERING.backward(a),
  kerasClasses: ['Resizing', 'edgetune>Resizing'],
  toKeras(l) {
    const c = l.config;
    const base = { ...kerasBase(l), height: c.height, width: c.width, interpolation: c.interpolation, crop_to_aspect_ratio: false };
    return isKerasMode(c, RESIZING_DEFAULTS) ? { class_name: 'Resizing', config: base } : { class_name: 'edgetune>Resizing', config: { ...base, ...modeToKeras(c) } };
  },
  fromKeras(c, r) {
    if (c.crop_to_aspect_ratio) throw unsupported(r, 'crop_to_aspect_ratio');
    if (c.pad_to_aspect_ratio) throw unsupported(r, 'pad_to_aspect_ratio');
    return resizing(c.height, c.width, { ...r.base, ...modeFromKeras(c, r) });
  },
  // tfjs-layers 4.22's Resizing fails inside a model (it hands its input list to resizeBilinear)
  // and would align corners (it passes !cropToAspectRatio as alignCorners): refused.
  toTfjs(l, _j, where, source) {
    throw new ModelFormatError(`${where}: layer '${l.name}' (Resizing) cannot be exported to TF.js layers: TF.js's Resizing fails inside a model and aligns corners`, source, l.name);
  },
};
