// The layer factories as named exports: the 'edgetune/layers' entry. A bundler keeps only the
// factories an app imports (`import { dense } from 'edgetune/layers'`) and the records behind them;
// the `layers` object of the core entry (host/layers/index.ts) holds every factory, so an app that
// uses it carries every layer kind.
export { activation, elu, leakyRelu, relu, softmax } from './activation';
export { add } from './add';
export { batchNormalization } from './batch-normalization';
export { atan2, average, divide, maximum, minimum } from './broadcast-merge';
export { constantOp } from './constant-op';
export { concatenate } from './concatenate';
export { conv2d } from './conv2d';
export { conv2dTranspose } from './conv2d-transpose';
export { dense } from './dense';
export { depthToSpace, spaceToDepth } from './depth-to-space';
export { depthwiseConv2d } from './depthwise-conv2d';
export { dropout } from './dropout';
export { flatten } from './flatten';
export { gather } from './gather';
export { globalAveragePooling2d } from './global-average-pooling2d';
export { matMul } from './mat-mul';
export { multiply } from './multiply';
export { pad } from './pad';
export { permute } from './permute';
export { averagePooling2d, maxPooling2d } from './pooling';
export { prelu } from './prelu';
export { reduce } from './reduce';
export { rescaling } from './rescaling';
export { reshape } from './reshape';
export { resizing } from './resizing';
export { slice } from './slice';
export { subtract } from './subtract';
export { tile } from './tile';
export { clip, unary } from './unary';
export { upSampling2d } from './up-sampling2d';
export { zeroPadding2d } from './zero-padding2d';
