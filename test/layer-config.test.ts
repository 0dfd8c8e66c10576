// Layer configuration: Keras defaults, initializer statistics from the Keras formulas, and bad
// configurations refused at build time with the layer and argument named.
import { describe, expect, it } from 'vitest';
import { layers, sequential, input, model, regularizers, constraints, InvalidArgumentError } from '../dist/node.js';

describe('initializers follow the Keras formulas', () => {
  const stats = (w: Float32Array) => {
    let s = 0;
    let s2 = 0;
    let max = 0;
    for (const v of w) { s += v; s2 += v * v; max = Math.max(max, Math.abs(v)); }
    const mean = s / w.length;
    return { mean, std: Math.sqrt(s2 / w.length - mean * mean), max };
  };
  // conv kernel [3, 3, 16, 32]: fan_in = 144, fan_out = 288
  const fanIn = 3 * 3 * 16;
  const fanOut = 3 * 3 * 32;
  const kernelOf = (init: string) => {
    const m = sequential([layers.conv2d({ filters: 32, kernelSize: 3, kernelInitializer: init as 'heNormal', inputShape: [8, 8, 16] })]);
    return m.layers[0].getWeights()[0];
  };
  it.each([
    ['glorotUniform', Math.sqrt(6 / (fanIn + fanOut)), 'uniform'],
    ['heUniform', Math.sqrt(6 / fanIn), 'uniform'],
    ['lecunUniform', Math.sqrt(3 / fanIn), 'uniform'],
    ['glorotNormal', Math.sqrt(2 / (fanIn + fanOut)), 'normal'],
    ['heNormal', Math.sqrt(2 / fanIn), 'normal'],
    ['lecunNormal', Math.sqrt(1 / fanIn), 'normal'],
  ] as const)('%s', (name, scale, kind) => {
    const w = kernelOf(name);
    const { mean, std, max } = stats(w);
    expect(Math.abs(mean)).toBeLessThan(0.05 * scale);
    if (kind === 'uniform') {
      expect(max).toBeLessThanOrEqual(scale); // limit
      expect(max).toBeGreaterThan(0.99 * scale);
      expect(std).toBeCloseTo(scale / Math.sqrt(3), 2);
    } else {
      // Truncated at 2 sigma of stddev = scale / 0.8796...: the draws' std is the target scale.
      const sigma = scale / 0.87962566103423978;
      expect(max).toBeLessThanOrEqual(2 * sigma);
      expect(max).toBeGreaterThan(1.95 * sigma);
      expect(std / scale).toBeGreaterThan(0.97);
      expect(std / scale).toBeLessThan(1.03);
    }
  });
  it('zeros, ones and constant; the same seed twice gives the same weights', () => {
    const make = () => sequential([layers.dense(3, { inputShape: [2], kernelInitializer: { className: 'glorotUniform', seed: 5 }, biasInitializer: { className: 'constant', value: 0.25 } })]);
    const a = make().layers[0].getWeights();
    const b = make().layers[0].getWeights();
    expect(a[0]).toEqual(b[0]);
    expect(Array.from(a[1])).toEqual([0.25, 0.25, 0.25]);
    const bn = sequential([layers.batchNormalization({ inputShape: [4] })]).layers[0].getWeights();
    expect(bn.map((w) => Array.from(w))).toEqual([[1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]);
  });
});

describe('Keras defaults', () => {
  it('batch normalization, leaky ReLU, pooling strides and conv padding', () => {
    const bn = layers.batchNormalization();
    expect([bn.config.momentum, bn.config.epsilon, bn.config.center, bn.config.scale]).toEqual([0.99, 1e-3, true, true]);
    expect(layers.leakyRelu().config.alpha).toBe(0.3);
    expect(layers.maxPooling2d().config.strides).toEqual([2, 2]);
    expect(layers.maxPooling2d({ poolSize: 3 }).config.strides).toEqual([3, 3]);
    expect(layers.conv2d({ filters: 1, kernelSize: 3 }).config.padding).toBe('valid');
    const m = sequential([layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [9, 7, 2] }), layers.maxPooling2d(), layers.flatten()]);
    expect(m.outputShape).toEqual([3 * 2 * 4]);
    expect(regularizers.l2()).toEqual({ className: 'l1l2', l1: 0, l2: 0.01 });
    expect(constraints.maxNorm()).toEqual({ className: 'maxNorm', maxValue: 2, axis: 0 });
  });
});

describe('bad layer configurations fail at build time, naming the layer and the argument', () => {
  it.each([
    [() => layers.conv2d({ filters: 0, kernelSize: 3, name: 'c1' }), /c1: filters must be a positive integer, got 0/],
    [() => layers.conv2d({ filters: 2, kernelSize: [3, 0], name: 'c2' }), /c2: kernelSize must be positive integers/],
    // 1e308 is an integer to JS and 0 as a kernel's i32: a mutated TF.js graph got a divide-by-zero trap
    [() => layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: [1, 1e308], name: 'c4' }), /c4: dilationRate must be positive integers up to 32768, got \[1,1e\+308\]/],
    [() => layers.conv2d({ filters: 2, kernelSize: 3, padding: 'full' as 'same', name: 'c3' }), /c3: padding must be 'valid', 'same' or \[\[top, bottom\], \[left, right\]\]/],
    [() => layers.dropout(1, { name: 'd1' }), /d1: rate must be in \[0, 1\), got 1/],
    [() => layers.dropout(-0.1), /rate must be in \[0, 1\)/],
    [() => layers.dense(4, { activation: 'sigmoidal', name: 'h' }), /h: unknown activation 'sigmoidal'/],
    [() => layers.dense(4, { kernelInitializer: 'xavier' as 'glorotUniform' }), /unknown initializer 'xavier'/],
    [() => layers.dense(4, { kernelRegularizer: 'l3', name: 'h2' }), /h2 kernelRegularizer: unknown regularizer 'l3'/],
    [() => layers.batchNormalization({ momentum: 1.5, name: 'bn' }), /bn: momentum must be in \[0, 1\]/],
    [() => layers.reshape([2, -1, -1]), /at most one -1/],
  ])('%#', (make, message) => {
    expect(make).toThrow(InvalidArgumentError);
    expect(make).toThrow(message);
  });

  it('a kernel larger than its padded input, and shapes that do not fit', () => {
    expect(() => sequential([layers.conv2d({ filters: 2, kernelSize: 5, name: 'big', inputShape: [4, 4, 1] })]))
      .toThrow(/big \(conv2d\): kernelSize \[5, 5\] \(dilation \[1, 1\]\) is larger than its valid-padded input \[4, 4\]/);
    expect(() => sequential([layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 3, name: 'dil', inputShape: [6, 6, 1] })]))
      .toThrow(/dil \(conv2d\): kernelSize \[3, 3\] \(dilation \[3, 3\]\) is larger/);
    expect(() => sequential([layers.conv2d({ filters: 2, kernelSize: 3, name: 'flat', inputShape: [16] })])).toThrow(/flat \(conv2d\): needs a \(height, width, channels\) input/);
    expect(() => sequential([layers.reshape([5, 5], { name: 'rs', inputShape: [24] })])).toThrow(/rs \(reshape\): cannot reshape \[24\]/);
    const a = input({ shape: [4] });
    const b = layers.dense(3).apply(a);
    expect(() => layers.add({ name: 'sum' }).apply([a, b])).toThrow(/sum \(add\): inputs of shapes \[4\] and \[3\] do not broadcast/);
    expect(() => model({ inputs: a, outputs: layers.add().apply([b, b]) })).not.toThrow();
  });
});
