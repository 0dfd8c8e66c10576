// The layer factories the ONNX importer maps onto, by name. Layer kinds are added by several hands
// at once (issue 11); a factory this build lacks is reported as the op that needed it, never as a
// crash, so that an importer can map an op before its layer lands.
import { InvalidArgumentError } from '../core/errors';
import type { Layer } from '../layers/layer';
import { layers } from '../layers/index';

type Factory<O> = (options: O) => Layer;

function factory<O>(kind: string, positional = false): (options: O & { name: string }) => Layer {
  return (options) => {
    const f = (layers as unknown as Record<string, unknown>)[kind];
    if (typeof f !== 'function') throw new MissingLayerError(`no '${kind}' layer`);
    try {
      return positional ? (f as (a: unknown, o: unknown) => Layer)((options as { dims?: unknown }).dims, { name: options.name }) : (f as Factory<O>)(options);
    } catch (e) {
      // an option of issue 11 that this build's layer does not take yet
      const unknown = e instanceof InvalidArgumentError && /^unknown option '([^']+)'/.exec(e.message);
      if (unknown) throw new MissingLayerError(`no '${unknown[1]}' option on the '${kind}' layer`);
      // a factory that predates an option's new form (explicit pads as arrays) fails reading it
      if (e instanceof TypeError) throw new MissingLayerError(`no '${kind}' layer taking ${JSON.stringify({ ...options, name: undefined })}`);
      throw e;
    }
  };
}

export class MissingLayerError extends Error {
  constructor(what: string) {
    super(`edgetune has ${what} in this build`);
  }
}

type Pads = [number, number][];
export type ResizeMode = 'half_pixel' | 'align_corners' | 'asymmetric' | 'pytorch_half_pixel';

// The factories, typed with the options the importer gives them.
export const L = {
  permute: factory<{ dims: number[] }>('permute', true),
  slice: factory<{ begin: number[]; end: number[]; strides?: number[] }>('slice'),
  pad: factory<{ paddings: Pads; constantValue?: number; mode?: 'constant' | 'reflect' | 'symmetric' | 'edge' }>('pad'),
  gather: factory<{ indices: number[]; axis: number }>('gather'),
  tile: factory<{ multiples: number[] }>('tile'),
  depthToSpace: factory<{ blockSize: number; mode?: 'DCR' | 'CRD' }>('depthToSpace'),
  spaceToDepth: factory<{ blockSize: number }>('spaceToDepth'),
  reduce: factory<{ op: 'mean' | 'sum' | 'max' | 'min'; axis: number[]; keepdims: boolean }>('reduce'),
  softmax: factory<{ axis: number }>('softmax'),
  divide: factory<object>('divide'),
  maximum: factory<object>('maximum'),
  minimum: factory<object>('minimum'),
  constantOp: factory<{ op: 'add' | 'sub' | 'rsub' | 'mul' | 'div' | 'rdiv' | 'max' | 'min'; value: Float32Array; shape: number[] }>('constantOp'),
  unary: factory<{ op: string; alpha?: number; beta?: number }>('unary'),
  clip: factory<{ min: number; max: number }>('clip'),
  prelu: factory<{ sharedAxes?: number[] }>('prelu'),
  conv2dTranspose: factory<{ filters: number; kernelSize: [number, number]; strides: [number, number]; padding: Pads | 'valid'; outputPadding?: [number, number];
    dilationRate?: [number, number]; useBias: boolean; groups?: number }>('conv2dTranspose'),
  upSampling2d: factory<{ size: [number, number]; interpolation: 'nearest' | 'bilinear' }>('upSampling2d'),
  resizing: factory<{ height: number; width: number; interpolation: 'nearest' | 'bilinear'; coordinateTransform?: ResizeMode; nearestMode?: string }>('resizing'),
  // existing kinds with options from issue 11 (groups, explicit pads, ceil mode)
  conv2d: factory<{ filters: number; kernelSize: [number, number]; strides: [number, number]; dilationRate: [number, number]; padding: Pads | 'valid' | 'same';
    useBias: boolean; groups?: number }>('conv2d'),
  depthwiseConv2d: factory<{ depthMultiplier: number; kernelSize: [number, number]; strides: [number, number]; dilationRate: [number, number];
    padding: Pads | 'valid' | 'same'; useBias: boolean }>('depthwiseConv2d'),
  maxPooling2d: factory<{ poolSize: [number, number]; strides: [number, number]; padding: Pads | 'valid' | 'same'; ceilMode?: boolean }>('maxPooling2d'),
  averagePooling2d: factory<{ poolSize: [number, number]; strides: [number, number]; padding: Pads | 'valid' | 'same'; ceilMode?: boolean;
    countIncludePad?: boolean }>('averagePooling2d'),
};
