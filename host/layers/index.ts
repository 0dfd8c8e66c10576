// Every layer kind's record (host/layers/<kind>.ts), and the `layers` factories. Adding a layer
// kind: one file with its factory and record, one line in each table below and one in
// factories.ts, its kernels and its tests.
import { ACTIVATION, activation, elu, leakyRelu, relu, softmax } from './activation';
import { ADD, add } from './add';
import { BATCH_NORMALIZATION, batchNormalization } from './batch-normalization';
import { ATAN2, atan2, AVERAGE, average, DIVIDE, divide, MAXIMUM, maximum, MINIMUM, minimum } from './broadcast-merge';
import { CONSTANT_OP, constantOp } from './constant-op';
import { CONCATENATE, concatenate } from './concatenate';
import { CONV2D, conv2d } from './conv2d';
import { CONV2D_TRANSPOSE, conv2dTranspose } from './conv2d-transpose';
import { flag } from './config';
import type { LayerDef } from './def';
import type * as factories from './factories';
import { DENSE, dense } from './dense';
import { DEPTH_TO_SPACE, depthToSpace, SPACE_TO_DEPTH, spaceToDepth } from './depth-to-space';
import { DEPTHWISE_CONV2D, depthwiseConv2d } from './depthwise-conv2d';
import { DROPOUT, dropout } from './dropout';
import { FLATTEN, flatten } from './flatten';
import { GATHER, gather } from './gather';
import { GLOBAL_AVERAGE_POOLING2D, globalAveragePooling2d } from './global-average-pooling2d';
import type { Layer, LayerKind } from './layer';
import type { LayerJson } from './keras-json';
import { MAT_MUL, matMul } from './mat-mul';
import { MULTIPLY, multiply } from './multiply';
import { PAD, pad } from './pad';
import { PERMUTE, permute } from './permute';
import { AVERAGE_POOLING2D, averagePooling2d, MAX_POOLING2D, maxPooling2d } from './pooling';
import { REDUCE, reduce } from './reduce';
import { RESCALING, rescaling } from './rescaling';
import { RESHAPE, reshape } from './reshape';
import { RESIZING, resizing } from './resizing';
import { SLICE, slice } from './slice';
import { SUBTRACT, subtract } from './subtract';
import { TILE, tile } from './tile';
import { CLIP, clip, UNARY, unary } from './unary';
import { UP_SAMPLING2D, upSampling2d } from './up-sampling2d';
import { PRELU, prelu } from './prelu';
import { ZERO_PADDING2D, zeroPadding2d } from './zero-padding2d';

export type { LayerDef } from './def';

export const LAYER_DEFS: Record<LayerKind, LayerDef> = {
  dense: DENSE, conv2d: CONV2D, depthwiseConv2d: DEPTHWISE_CONV2D, maxPooling2d: MAX_POOLING2D, averagePooling2d: AVERAGE_POOLING2D,
  globalAveragePooling2d: GLOBAL_AVERAGE_POOLING2D, flatten: FLATTEN, reshape: RESHAPE, batchNormalization: BATCH_NORMALIZATION,
  dropout: DROPOUT, activation: ACTIVATION, add: ADD, concatenate: CONCATENATE, zeroPadding2d: ZERO_PADDING2D, subtract: SUBTRACT,
  multiply: MULTIPLY, resizing: RESIZING, rescaling: RESCALING, permute: PERMUTE, slice: SLICE, pad: PAD, depthToSpace: DEPTH_TO_SPACE,
  spaceToDepth: SPACE_TO_DEPTH, tile: TILE, gather: GATHER,
  maximum: MAXIMUM, minimum: MINIMUM, average: AVERAGE, divide: DIVIDE, reduce: REDUCE, constantOp: CONSTANT_OP,
  unary: UNARY, clip: CLIP, prelu: PRELU, upSampling2d: UP_SAMPLING2D, conv2dTranspose: CONV2D_TRANSPOSE,
  matMul: MAT_MUL, atan2: ATAN2,
};

// The record that reads a Keras class name, or undefined.
export function layerDefForKerasClass(className: string): LayerDef | undefined {
  return Object.values(LAYER_DEFS).find((d) => d.kerasClasses.includes(className));
}

// Keras-style factories: Keras's positional first argument where Keras has one, or one options
// object (layers.dense(10) and layers.dense({ units: 10 })). The same factories are the named
// exports of factories.ts (the 'edgetune/layers' entry, which bundlers tree-shake); `satisfies`
// holds the two lists equal. A plain object literal: a bundle that never reads `layers` drops it.
export const layers = {
  dense, conv2d, depthwiseConv2d, maxPooling2d, averagePooling2d, globalAveragePooling2d, flatten, reshape, batchNormalization,
  dropout, activation, relu, softmax, leakyRelu, elu, add, concatenate, zeroPadding2d, subtract, multiply, rescaling, resizing,
  permute, slice, pad, depthToSpace, spaceToDepth, tile, gather,
  maximum, minimum, average, divide, reduce, constantOp,
  unary, clip, prelu, upSampling2d, conv2dTranspose, matMul, atan2,
} satisfies typeof factories;

// One layer's Keras JSON reader: `own` for edgetune's files (see KerasReader). Undefined when no
// record reads the class.
export function layerFromKerasJson(j: LayerJson, source: string, own: boolean): Layer | undefined {
  const def = layerDefForKerasClass(j.class_name);
  if (!def) return undefined;
  const c = j.config ?? {};
  const name = (c.name ?? j.name) as string;
  return def.fromKeras(c, { className: j.class_name, name, base: { name, trainable: flag(name, 'trainable', c.trainable ?? undefined, true) }, own, source });
}
