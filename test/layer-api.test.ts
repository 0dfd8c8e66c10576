// Layer factories take Keras's positional first argument where Keras has one, or one options
// object, and both give the same layer; and the hardSwish activation's names (option, layer,
// Keras JSON 'hard_swish').
import { describe, expect, it } from 'vitest';
import { layers, sequential, loadModel, tensor, InvalidArgumentError } from '../dist/node.js';

type AnyLayer = { config: Record<string, unknown>; kind: string };
const same = (a: AnyLayer, b: AnyLayer) => {
  expect(a.kind).toBe(b.kind);
  expect(a.config).toEqual(b.config);
};

describe('layer factories: positional and options forms give the same config', () => {
  it.each([
    ['dense', () => layers.dense(10, { activation: 'relu' }), () => layers.dense({ units: 10, activation: 'relu' })],
    ['conv2d', () => layers.conv2d(32, { kernelSize: 3, padding: 'same' }), () => layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same' })],
    ['depthwiseConv2d', () => layers.depthwiseConv2d(3, { depthMultiplier: 2 }), () => layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2 })],
    ['maxPooling2d', () => layers.maxPooling2d(3, { strides: 1 }), () => layers.maxPooling2d({ poolSize: 3, strides: 1 })],
    ['averagePooling2d', () => layers.averagePooling2d([2, 3]), () => layers.averagePooling2d({ poolSize: [2, 3] })],
    ['dropout', () => layers.dropout(0.5, { seed: 7 }), () => layers.dropout({ rate: 0.5, seed: 7 })],
    ['reshape', () => layers.reshape([4, -1]), () => layers.reshape({ targetShape: [4, -1] })],
    ['activation', () => layers.activation('elu'), () => layers.activation({ activation: 'elu' })],
    ['resizing', () => layers.resizing(8, 6), () => layers.resizing({ height: 8, width: 6 })],
    ['rescaling', () => layers.rescaling(1 / 255, { offset: -1 }), () => layers.rescaling({ scale: 1 / 255, offset: -1 })],
    ['zeroPadding2d', () => layers.zeroPadding2d(2), () => layers.zeroPadding2d({ padding: 2 })],
    ['concatenate', () => layers.concatenate(-1), () => layers.concatenate({ axis: -1 })],
    ['leakyRelu', () => layers.leakyRelu(0.1), () => layers.leakyRelu({ negativeSlope: 0.1 })],
    ['elu', () => layers.elu(0.5), () => layers.elu({ alpha: 0.5 })],
  ] as [string, () => AnyLayer, () => AnyLayer][])('%s', (_name, positional, options) => same(positional(), options()));

  it('conv2d(16, {...}) builds a working layer (it used to be refused: "filters must be a positive integer, got undefined")', () => {
    const m = sequential([layers.conv2d(16, { kernelSize: 3, inputShape: [6, 6, 2] })]);
    expect(m.layers[0].config.filters).toBe(16);
    expect(m.layers[0].getWeights()[0].length).toBe(3 * 3 * 2 * 16);
  });

  it('a value given both positionally and in the options is refused', () => {
    expect(() => layers.dense(10, { units: 4 } as never)).toThrow(InvalidArgumentError);
    expect(() => layers.conv2d(8, { filters: 4, kernelSize: 3 } as never)).toThrow(/filters is given twice/);
    expect(() => layers.resizing({ height: 2, width: 2 }, 3 as never)).toThrow(InvalidArgumentError);
  });

  it('the options form is validated as the positional one', () => {
    expect(() => layers.dense({ units: 0 })).toThrow(/units must be a positive integer, got 0/);
    expect(() => layers.dropout({ rate: 1 })).toThrow(/rate must be in \[0, 1\)/);
    expect(() => layers.reshape({} as never)).toThrow(/targetShape must be/);
  });
});

describe('hardSwish', () => {
  it("is an activation option, a layer, and 'hard_swish' in Keras JSON", async () => {
    const x = [-4, -3, -1.5, 0, 1, 3, 4];
    const m = sequential([layers.activation('hardSwish', { inputShape: [7] }), layers.dense(2, { activation: 'hardSwish' })]);
    const y = m.layers[0];
    expect(y.config.activation).toBe('hardSwish');
    expect(layers.activation('hard_swish').config.activation).toBe('hardSwish');
    const bytes = m.toBytes();
    const topology = new TextDecoder().decode(bytes).match(/"topology":"(.*?)","/)![1];
    expect(topology.match(/hard_swish/g)!.length).toBe(2);
    const back = await loadModel(bytes);
    expect(back.layers.map((l) => l.config.activation)).toEqual(['hardSwish', 'hardSwish']);
    // x * relu6(x + 3) / 6, by formula
    const pred = sequential([layers.activation('hardSwish', { inputShape: [7] })]).predict(tensor(x, [1, 7]), { batchSize: 1 });
    const want = x.map((v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6);
    Array.from(pred.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
  });
});
