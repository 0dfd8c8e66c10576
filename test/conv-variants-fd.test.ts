// Finite-difference gradient checks of issue 11's convolution and pooling variants, through the
// public API (test/support/layer-fd.ts): grouped conv2d, explicit asymmetric pads on conv2d and
// depthwiseConv2d, conv2dTranspose in its Keras and explicit-pad forms, and pooling with explicit
// pads, ceilMode and countIncludePad. Each also runs with a layer before it, so that the input
// gradient of the variant itself is checked through that layer's weights.
import { beforeEach, describe, expect, it } from 'vitest';
import { layers, type SymbolicTensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { fdCheck, problem } from './support/layer-fd';

const tanhConv = (filters: number) => (t: SymbolicTensor) => layers.conv2d({ filters, kernelSize: 1, activation: 'tanh' }).apply(t);

// Inputs spaced 2/n apart in shuffled order: no pooling window has two values within a step.
function distinct(n: number, seed: number): Float32Array {
  const r = randomArray(n, seed, 0, 1);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a] - r[b]);
  const x = new Float32Array(n);
  order.forEach((i, rank) => { x[i] = -1 + rank * (2 / n); });
  return x;
}

// fdCheck asserts each compared gradient (test/support/layer-fd.ts); a case that compared nothing fails.
beforeEach(() => { expect.hasAssertions(); });

describe('finite differences: grouped and explicitly padded convolutions', () => {
  it('conv2d groups 2, 3x3 stride 2, pads [[1, 0], [0, 2]], tanh', () => {
    fdCheck(problem([5, 6, 4], 2, (t) => layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, groups: 2, padding: [[1, 0], [0, 2]], activation: 'tanh' }).apply(t)));
  });
  it('conv2d groups 3, 1x1 (pointwise path), after a conv', () => {
    fdCheck(problem([4, 5, 2], 2, (t) => layers.conv2d({ filters: 6, kernelSize: 1, groups: 3, activation: 'tanh' }).apply(tanhConv(6)(t))));
  });
  it('conv2d 3x3 pads [[0, 2], [2, 1]] (bottom/right larger than top/left), no bias', () => {
    fdCheck(problem([4, 5, 2], 3, (t) => layers.conv2d({ filters: 2, kernelSize: 3, padding: [[0, 2], [2, 1]], useBias: false, activation: 'tanh' }).apply(t)));
  });
  it('depthwiseConv2d multiplier 2, 3x2 stride 2, pads [[2, 0], [1, 1]], after a conv', () => {
    fdCheck(problem([5, 6, 2], 2, (t) => layers.depthwiseConv2d({ kernelSize: [3, 2], strides: 2, depthMultiplier: 2, padding: [[2, 0], [1, 1]], activation: 'tanh' }).apply(tanhConv(2)(t))));
  });
});

describe('finite differences: conv2dTranspose', () => {
  it("Keras 'same' 3x3 stride 2, tanh", () => {
    fdCheck(problem([3, 4, 2], 2, (t) => layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }).apply(t)));
  });
  it("Keras 'valid' 2x3 strides [2, 1], outputPadding [1, 0], after a conv", () => {
    fdCheck(problem([3, 3, 2], 2, (t) => layers.conv2dTranspose({ filters: 3, kernelSize: [2, 3], strides: [2, 1], outputPadding: [1, 0], activation: 'tanh' }).apply(tanhConv(2)(t))));
  });
  it('groups 2 (4 -> 6 channels), explicit pads [[1, 1], [0, 1]], stride 2, outputPadding 1, after a conv', () => {
    fdCheck(problem([3, 3, 4], 2, (t) => layers.conv2dTranspose({ filters: 6, kernelSize: 3, strides: 2, padding: [[1, 1], [0, 1]], outputPadding: 1, groups: 2, activation: 'tanh' }).apply(tanhConv(4)(t))));
  });
  it('explicit pads [[1, 0], [0, 1]], stride 2, dilation 2, no bias', () => {
    fdCheck(problem([3, 3, 3], 3, (t) => layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, dilationRate: 2, padding: [[1, 0], [0, 1]], useBias: false, activation: 'tanh' }).apply(t)));
  });
});

describe('finite differences: pooling with explicit pads, ceilMode, countIncludePad', () => {
  it('maxPooling2d 3x3 stride 2, pads [[1, 1], [0, 1]], ceilMode (on distinct inputs)', () => {
    fdCheck(problem([6, 7, 2], 2, (t) => layers.maxPooling2d({ poolSize: 3, strides: 2, padding: [[1, 1], [0, 1]], ceilMode: true }).apply(t), { x: distinct(168, 5) }), { h: 2e-3, rtol: 3e-2 });
  });
  it('averagePooling2d 3x3 stride 2, pads 1, ceilMode, countIncludePad, after a conv', () => {
    fdCheck(problem([6, 7, 2], 2, (t) => layers.averagePooling2d({ poolSize: 3, strides: 2, padding: [[1, 1], [1, 1]], ceilMode: true, countIncludePad: true }).apply(tanhConv(2)(t))));
  });
  it('averagePooling2d 2x2 stride 3, pads 1, ceilMode, pads excluded', () => {
    fdCheck(problem([5, 5, 3], 3, (t) => layers.averagePooling2d({ poolSize: 2, strides: 3, padding: [[1, 1], [1, 1]], ceilMode: true }).apply(t)));
  });
});
