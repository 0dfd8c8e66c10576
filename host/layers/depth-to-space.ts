// depthToSpace and spaceToDepth on NHWC maps (TF DepthToSpace / SpaceToDepth, ONNX likewise): blocks
// of blockSize x blockSize pixels to channels and back. depthToSpace mode 'DCR' (TF's order and
// ONNX's default: channel (i * b + j) * C' + c goes to pixel offset (i, j), channel c) or 'CRD'
// (ONNX: channel (c * b + i) * b + j). Both are permutations of the elements, so the backward is
// the inverse permutation.
import { optionNames } from '../core/options';
import { relayoutBackward, relayoutForward, type Relayout, rowMajor } from '../compile/nd-copy';
import { InvalidArgumentError } from '../core/errors';
import { type LayerOptions, pending, positionalOrOptions, positiveInt, LAYER_OPTION_NAMES } from './config';
import type { LayerDef } from './def';
import { kerasBase, noTfjsCounterpart } from './keras-json';
import { Layer } from './layer';

export interface DepthToSpaceOptions extends LayerOptions { blockSize?: number; mode?: 'DCR' | 'CRD' }
export interface SpaceToDepthOptions extends LayerOptions { blockSize?: number }

// depthToSpace(2) or depthToSpace({ blockSize: 2, mode: 'CRD' })
export function depthToSpace(blockSize: number | DepthToSpaceOptions, options?: DepthToSpaceOptions): Layer {
  const o = positionalOrOptions<DepthToSpaceOptions>('depthToSpace', 'blockSize', blockSize, options);
  const where = pending('depth_to_space', o);
  const mode = o.mode ?? 'DCR';
  if (mode !== 'DCR' && mode !== 'CRD') throw new InvalidArgumentError(`${where}: mode must be 'DCR' or 'CRD', got ${JSON.stringify(o.mode)}`);
  return new Layer(DEPTH_TO_SPACE, { blockSize: block(where, o.blockSize), mode }, o);
}

// spaceToDepth(2) or spaceToDepth({ blockSize: 2 })
export function spaceToDepth(blockSize: number | SpaceToDepthOptions, options?: SpaceToDepthOptions): Layer {
  const o = positionalOrOptions<SpaceToDepthOptions>('spaceToDepth', 'blockSize', blockSize, options);
  return new Layer(SPACE_TO_DEPTH, { blockSize: block(pending('space_to_depth', o), o.blockSize) }, o);
}

const block = (where: string, v: unknown): number => positiveInt(where, 'blockSize', v as number);

// The output as (H, b, W, b, C') in order, and where each element is in the input (H, W, C).
function toSpace(layer: Layer, [h, w, c]: readonly number[]): Relayout {
  const b = layer.config.blockSize as number;
  const co = c / (b * b);
  const box = [h, b, w, b, co];
  const xs = layer.config.mode === 'CRD' ? [w * c, b, c, 1, b * b] : [w * c, b * co, c, co, 1];
  return { steps: [{ from: 'input', dims: box, y: { offset: 0, strides: rowMajor(box) }, x: { offset: 0, strides: xs } }], readsInputOnce: true };
}

// The output as (H', W', b, b, C) in order, read from the input (H' b, W' b, C).
function toDepth(layer: Layer, [h, w, c]: readonly number[]): Relayout {
  const b = layer.config.blockSize as number;
  const box = [h / b, w / b, b, b, c];
  return { steps: [{ from: 'input', dims: box, y: { offset: 0, strides: rowMajor(box) }, x: { offset: 0, strides: [b * w * c, b * c, w * c, c, 1] } }], readsInputOnce: true };
}

export const DEPTH_TO_SPACE: LayerDef = {
  kind: 'depthToSpace',
  snake: 'depth_to_space',
  get options() { return optionNames<DepthToSpaceOptions>()([...LAYER_OPTION_NAMES, 'blockSize', 'mode']); },
  outputShape(layer, [s], fail) {
    const b = layer.config.blockSize as number;
    if (s.length !== 3 || s[2] % (b * b) !== 0) throw fail(`needs a (height, width, channels) input with channels a multiple of ${b * b}, got [${s}]`);
    return [s[0] * b, s[1] * b, s[2] / (b * b)];
  },
  forward: (a) => relayoutForward(a, toSpace(a.layer, a.x.shape)),
  backward: (a) => relayoutBackward(a, toSpace(a.layer, a.x.shape)),
  kerasClasses: ['edgetune>DepthToSpace'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>DepthToSpace'),
  toKeras: (l) => ({ class_name: 'edgetune>DepthToSpace', config: { ...kerasBase(l), block_size: l.config.blockSize, mode: l.config.mode } }),
  fromKeras: (c, r) => depthToSpace({ ...r.base, blockSize: c.block_size, mode: c.mode }),
};

export const SPACE_TO_DEPTH: LayerDef = {
  kind: 'spaceToDepth',
  snake: 'space_to_depth',
  get options() { return optionNames<SpaceToDepthOptions>()([...LAYER_OPTION_NAMES, 'blockSize']); },
  outputShape(layer, [s], fail) {
    const b = layer.config.blockSize as number;
    if (s.length !== 3 || s[0] % b !== 0 || s[1] % b !== 0) throw fail(`needs a (height, width, channels) input with height and width multiples of ${b}, got [${s}]`);
    return [s[0] / b, s[1] / b, s[2] * b * b];
  },
  forward: (a) => relayoutForward(a, toDepth(a.layer, a.x.shape)),
  backward: (a) => relayoutBackward(a, toDepth(a.layer, a.x.shape)),
  kerasClasses: ['edgetune>SpaceToDepth'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>SpaceToDepth'),
  toKeras: (l) => ({ class_name: 'edgetune>SpaceToDepth', config: { ...kerasBase(l), block_size: l.config.blockSize } }),
  fromKeras: (c, r) => spaceToDepth({ ...r.base, blockSize: c.block_size }),
};
