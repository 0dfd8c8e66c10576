// Every layer and activation against TensorFlow.js (cpu backend) with the same weights: the model
// output (predict, inference mode), the output of the layer under test, the training-mode loss,
// and the gradients of the loss with respect to the input and every trainable weight
// (model.computeGradients against tf.variableGrads). Each case is
//   input -> layer(s) under test -> flatten (if needed) -> dense(k, softmax), sparse cross-entropy,
// over odd spatial sizes (5x7), both paddings, strides 1 and 2, dilation 2, and batches 1, 3 and 5.
// Tolerance: relative 1e-5 (with a floor at 1e-5 of the tensor's largest element, for elements
// that are sums of cancelling terms); 1e-4 where reductions are long (convolution weight
// gradients over many positions, batch-norm statistics) and summation order legitimately differs.
// Where Keras 3 and TF.js differ (hardSigmoid's formula, a frozen BatchNormalization) we follow
// Keras (docs/numerics.md) and the oracle is built from tfjs ops instead.
import { describe, expect, it } from 'vitest';
import {
  input, layers, model, optimizers, setSeed, tensor, type Model, type SymbolicTensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';
import { tf } from './tfjs';
import { expectClose as expectWithin, maxAbsDiff } from './support/close';
import {
  mirror, randomizeWeights, sparseXent, tfjsGradients, tfjsPredict,
} from './tfjs-layers';
import { resizeBilinearByMatmul } from './tfjs-layers';

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

// Relative error with a floor at rtol times the tensor's largest magnitude: a gradient element that
// is the sum of cancelling terms is only as exact as its largest terms.
function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number): void {
  expectWithin(actual, expected, rtol, rtol * maxAbsDiff(expected, new Float32Array(expected.length)) + 1e-30, what);
}

interface Case {
  shape: number[]; // per sample
  batch: number;
  // The layer(s) under test, applied to the input; the harness adds flatten + dense softmax.
  under: (inp: SymbolicTensor) => SymbolicTensor;
  readout?: boolean; // false: `under` already ends in a softmax output
  classes?: number;
  rtol?: number; // forward
  gradRtol?: number;
  seed?: number;
  lo?: number; // input range
  hi?: number;
}

interface Built {
  model: Model;
  probe: Model; // input -> the layer under test
  x: Float32Array;
  labels: Int32Array;
  xShape: number[];
}

function build(c: Case): Built {
  const seed = c.seed ?? 7;
  setSeed(seed);
  const inp = input({ shape: c.shape });
  const h = c.under(inp);
  const classes = c.classes ?? 3;
  let out = h;
  if (c.readout !== false) {
    const flat = h.shape.length > 1 ? layers.flatten().apply(h) : h;
    out = layers.dense(classes, { activation: 'softmax' }).apply(flat);
  }
  const m = model({ inputs: inp, outputs: out });
  randomizeWeights(m, seed);
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: c.batch });
  const probe = model({ inputs: inp, outputs: h });
  const x = randomArray(c.batch * sizeOf(c.shape), seed * 31 + 5, c.lo ?? -1, c.hi ?? 1);
  const k = m.outputShape[m.outputShape.length - 1];
  const labels = new Int32Array(c.batch).map((_, i) => (i * 2 + seed) % k);
  return { model: m, probe, x, labels, xShape: [c.batch, ...c.shape] };
}

// Forward (model and layer under test) in inference mode, then loss and gradients in training mode.
function compareWithTfjs(c: Case): void {
  const rtol = c.rtol ?? 1e-5;
  const gradRtol = c.gradRtol ?? 1e-5;
  const b = build(c);
  const ref = mirror(b.model, { exactGradients: true });
  const probeRef = mirror(b.probe);
  const xt = tensor(b.x, b.xShape);

  expectClose('predict', b.model.predict(xt).data, tfjsPredict(ref, b.x, b.xShape), rtol);
  const layerOut = b.probe.predict(xt);
  expect(layerOut.shape).toEqual([c.batch, ...b.probe.outputShape]);
  expectClose('output of the layer under test', layerOut.data, tfjsPredict(probeRef, b.x, b.xShape), rtol);

  const ours = b.model.computeGradients(xt, tensor(b.labels, [c.batch]));
  const theirs = tfjsGradients(ref, b.x, b.xShape, b.labels, true);
  expect(ours.loss, 'training-mode loss').toBeCloseTo(theirs.loss, 5);
  expect([...ours.weights.keys()].sort()).toEqual([...theirs.weights.keys()].sort());
  expectGradientsClose(ours, theirs, gradRtol);
}

// A gradient that is zero in exact arithmetic (a bias followed by a training-mode batch norm) is
// rounding noise in both libraries: both must be negligible next to the largest gradient.
function expectGradientsClose(ours: { input: Float32Array; weights: Map<string, Float32Array> }, theirs: { input: Float32Array; weights: Map<string, Float32Array> }, rtol: number): void {
  const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const global = Math.max(maxAbs(theirs.input), ...[...theirs.weights.values()].map(maxAbs));
  const compare = (what: string, a: Float32Array, e: Float32Array) => {
    if (maxAbs(e) < 1e-5 * global) expect(maxAbs(a), `${what} should vanish (largest gradient ${global})`).toBeLessThan(1e-5 * global);
    else expectClose(what, a, e, rtol);
  };
  compare('input gradient', ours.input, theirs.input);
  for (const [key, g] of theirs.weights) compare(`gradient ${key}`, ours.weights.get(key)!, g);
}

const conv = (o: Parameters<typeof layers.conv2d>[0]) => (t: SymbolicTensor) => layers.conv2d(o).apply(t);

describe('conv2d matches tfjs (forward, input and weight gradients)', () => {
  const cases: [string, Partial<Case> & Pick<Case, 'under'>][] = [
    ['1x1, stride 1, valid, relu, batch 3', { under: conv({ filters: 4, kernelSize: 1, activation: 'relu' }) }],
    ['3x3, stride 1, same, tanh, batch 1', { batch: 1, under: conv({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }) }],
    ['5x3, stride 2, valid, gelu, batch 3', { under: conv({ filters: 3, kernelSize: [5, 3], strides: 2, activation: 'gelu' }) }],
    ['3x3, stride 2, same, no bias, batch 5', { batch: 5, under: conv({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', useBias: false }) }],
    ['5x3, stride 2, same (uneven padding), relu', { under: conv({ filters: 2, kernelSize: [5, 3], strides: 2, padding: 'same', activation: 'relu' }) }],
    ['2x2 (even kernel), stride 1, same', { under: conv({ filters: 3, kernelSize: 2, padding: 'same' }) }],
    ['3x3, strides [2, 1], valid', { under: conv({ filters: 3, kernelSize: 3, strides: [2, 1] }) }],
    ['3x3, dilation 2, same, relu', { under: conv({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu' }) }],
    ['3x2, dilation [2, 3], valid, batch 1', { batch: 1, shape: [7, 9, 2], under: conv({ filters: 2, kernelSize: [3, 2], dilationRate: [2, 3] }) }],
    ['two stacked convolutions (dX of the second reaches the first)', {
      under: (t) => layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(t)),
    }],
  ];
  for (const [name, c] of cases) it(name, () => compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, ...c }));

  it('a frozen conv between two trainable ones: no weight gradient for it, the input gradient still flows through it', () => {
    compareWithTfjs({
      shape: [5, 7, 3], batch: 3, gradRtol: 1e-4,
      under: (t) => {
        const frozen = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh', trainable: false });
        return layers.conv2d({ filters: 3, kernelSize: 3, strides: 2 }).apply(frozen.apply(layers.conv2d({ filters: 3, kernelSize: 1, activation: 'tanh' }).apply(t)));
      },
    });
  });

  it('im2col in several chunks (16x16x16, 3x3, 768 output positions), batch 3', () => {
    compareWithTfjs({ shape: [16, 16, 16], batch: 3, gradRtol: 1e-4, rtol: 1e-4, under: conv({ filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh' }) });
  });
});

describe('depthwiseConv2d matches tfjs', () => {
  const dw = (o: Parameters<typeof layers.depthwiseConv2d>[0]) => (t: SymbolicTensor) => layers.depthwiseConv2d(o).apply(t);
  const cases: [string, Partial<Case> & Pick<Case, 'under'>][] = [
    ['3x3, multiplier 1, same, batch 3', { under: dw({ kernelSize: 3, padding: 'same' }) }],
    ['3x3, multiplier 2, stride 2, same, relu6, batch 1', { batch: 1, under: dw({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu6' }) }],
    ['3x2, multiplier 2, valid, no bias, batch 5', { batch: 5, under: dw({ kernelSize: [3, 2], depthMultiplier: 2, useBias: false }) }],
    ['5x5, stride 2, valid, tanh', { under: dw({ kernelSize: 5, strides: 2, activation: 'tanh' }) }],
    ['3x3, dilation 2, same', { under: dw({ kernelSize: 3, dilationRate: 2, padding: 'same', depthMultiplier: 2 }) }],
    ['five channels (vector tail), multiplier 3, stride 2, same', { shape: [5, 7, 5], under: dw({ kernelSize: 3, depthMultiplier: 3, strides: 2, padding: 'same' }) }],
  ];
  for (const [name, c] of cases) it(name, () => compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, ...c }));
});

describe('pooling, flatten and reshape match tfjs', () => {
  const pre = (t: SymbolicTensor) => layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(t);
  const cases: [string, Partial<Case> & Pick<Case, 'under'>][] = [
    ['maxPooling2d 2x2 stride 2 valid on 5x7', { under: (t) => layers.maxPooling2d({ poolSize: 2 }).apply(t) }],
    ['maxPooling2d 3x3 stride 2 same on 5x7, after a conv', { under: (t) => layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(pre(t)) }],
    ['maxPooling2d 3x2 stride 1 valid, batch 1', { batch: 1, under: (t) => layers.maxPooling2d({ poolSize: [3, 2], strides: 1 }).apply(t) }],
    ['averagePooling2d 2x2 stride 2 valid on 5x7', { under: (t) => layers.averagePooling2d({ poolSize: 2 }).apply(t) }],
    ['averagePooling2d 3x3 stride 2 same on 5x7 (edge windows average fewer taps), after a conv', { under: (t) => layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(pre(t)) }],
    ['averagePooling2d 2x2 stride 2 same on 5x7, batch 5', { batch: 5, under: (t) => layers.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(t) }],
    ['globalAveragePooling2d after a conv', { under: (t) => layers.globalAveragePooling2d().apply(pre(t)) }],
    ['globalAveragePooling2d, batch 1', { batch: 1, under: (t) => layers.globalAveragePooling2d().apply(t) }],
    ['flatten after a conv', { under: (t) => layers.flatten().apply(pre(t)) }],
    ['reshape [5,7,3] -> [35, 3] then a dense on the last axis', { under: (t) => layers.dense(4, { activation: 'tanh' }).apply(layers.reshape([-1, 3]).apply(t)) }],
    ['reshape [5,7,3] -> [7, 5, 3] then a conv', { under: (t) => layers.conv2d({ filters: 2, kernelSize: 3, strides: 2 }).apply(layers.reshape([7, 5, 3]).apply(t)) }],
  ];
  for (const [name, c] of cases) it(name, () => compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, ...c }));
});

const ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh', 'leakyRelu', 'elu', 'selu', 'gelu', 'geluTanh', 'swish', 'relu6', 'hardSigmoid', 'softmax'] as const;

describe('activations match tfjs (gelu vs gelu, geluTanh vs gelu_new; hardSigmoid is Keras 3 relu6(x+3)/6)', () => {
  for (const name of ACTIVATIONS) {
    it(`layers.activation('${name}') on inputs in [-7, 7], batch 5`, () => {
      compareWithTfjs({ shape: [9], batch: 5, lo: -7, hi: 7, under: (t) => layers.activation(name).apply(t) });
    });
    it(`dense activation '${name}', batch 3`, () => {
      compareWithTfjs({ shape: [5], batch: 3, lo: -3, hi: 3, under: (t) => layers.dense(6, { activation: name }).apply(t) });
    });
  }
  it('layers.leakyRelu() (slope 0.3) vs tfl.layers.leakyReLU({alpha: 0.3})', () => {
    compareWithTfjs({ shape: [9], batch: 3, lo: -3, hi: 3, under: (t) => layers.leakyRelu().apply(layers.dense(6).apply(t)) });
  });
  it('layers.leakyRelu({negativeSlope: 0.05}), layers.relu(), layers.elu() and layers.elu({alpha: 0.5}) in a chain', () => {
    compareWithTfjs({
      shape: [9], batch: 3, lo: -3, hi: 3,
      under: (t) => layers.elu({ alpha: 0.5 }).apply(layers.dense(5).apply(layers.elu().apply(layers.dense(6).apply(
        layers.relu().apply(layers.dense(7).apply(layers.leakyRelu({ negativeSlope: 0.05 }).apply(t))))))),
    });
  });
  it('conv2d activations swish, selu and hardSigmoid in a chain (4-D activation tensors)', () => {
    compareWithTfjs({
      shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, lo: -2, hi: 2,
      under: (t) => layers.conv2d({ filters: 3, kernelSize: 3, activation: 'hardSigmoid' }).apply(
        layers.conv2d({ filters: 3, kernelSize: 1, activation: 'selu' }).apply(layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'swish' }).apply(t))),
    });
  });
  it('softmax output as an activation layer (fused with the loss), batch 1', () => {
    compareWithTfjs({ shape: [6], batch: 1, readout: false, under: (t) => layers.softmax().apply(layers.dense(4).apply(t)) });
  });
  it('softmax over the channels of a 4-D conv output (one row per pixel)', () => {
    compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, under: (t) => layers.activation('softmax').apply(layers.conv2d({ filters: 4, kernelSize: 3 }).apply(t)) });
  });
  it('softmax in the middle of a model, then a dense readout', () => {
    compareWithTfjs({ shape: [6], batch: 3, lo: -3, hi: 3, under: (t) => layers.softmax().apply(layers.dense(5).apply(t)) });
  });
});

describe('add and concatenate match tfjs (fan-out: gradients accumulate)', () => {
  const cases: [string, Partial<Case> & Pick<Case, 'under'>][] = [
    ['add of two conv branches from the input, batch 3', {
      under: (t) => layers.add().apply([
        layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(t),
        layers.conv2d({ filters: 4, kernelSize: 1 }).apply(t),
      ]),
    }],
    ['residual block: h + conv(conv(h)), fan-out from an inner tensor, batch 1', {
      batch: 1,
      under: (t) => {
        const h = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(t);
        const r = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu' }).apply(h));
        return layers.add().apply([h, r]);
      },
    }],
    ['add of three branches, one of them the input itself', {
      under: (t) => layers.add().apply([t, layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(t), layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(t)]),
    }],
    ['residual add([conv(h), h]), the branch first (Keras ResNet order)', {
      under: (t) => { const h = layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(t); return layers.add().apply([layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(h), h]); },
    }],
    ['residual add([conv(h), h]) on 16x16x16: several im2col chunks per backward pass', {
      shape: [16, 16, 16], batch: 2,
      under: (t) => {
        const h = layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same' }).apply(t);
        return layers.globalAveragePooling2d().apply(layers.add().apply([layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same' }).apply(h), h]));
      },
    }],
    ['add(h, h): the same tensor twice', {
      under: (t) => { const h = layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh' }).apply(t); return layers.add().apply([h, h]); },
    }],
    ['concatenate of two conv branches with different channel counts, batch 5', {
      batch: 5,
      under: (t) => layers.concatenate().apply([
        layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(t),
        layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu' }).apply(t),
      ]),
    }],
    ['concatenate(input, conv(input), input) then a conv', {
      under: (t) => layers.conv2d({ filters: 2, kernelSize: 3, strides: 2 }).apply(layers.concatenate().apply([t, layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(t), t])),
    }],
    ['concatenate of dense features (rank 2)', {
      shape: [6],
      under: (t) => {
        const h = layers.dense(5, { activation: 'tanh' }).apply(t);
        return layers.concatenate().apply([layers.dense(3, { activation: 'relu' }).apply(h), h]);
      },
    }],
  ];
  for (const [name, c] of cases) it(name, () => compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, ...c }));
});

describe('batchNormalization vs tfjs', () => {
  const bnAfterConv = (o: Parameters<typeof layers.batchNormalization>[0] = {}) => (t: SymbolicTensor) =>
    layers.batchNormalization(o).apply(layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(t));
  const cases: [string, Partial<Case> & Pick<Case, 'under'>][] = [
    ['after a conv (statistics over batch, height, width), batch 3', { under: bnAfterConv() }],
    ['after a conv, batch 1 (statistics over one image)', { batch: 1, under: bnAfterConv({ momentum: 0.9 }) }],
    ['center false', { under: bnAfterConv({ center: false }) }],
    ['scale false, epsilon 1e-2', { under: bnAfterConv({ scale: false, epsilon: 1e-2 }) }],
    ['center and scale false', { under: bnAfterConv({ center: false, scale: false }) }],
    ['on dense features (rank 2), batch 5', { shape: [6], batch: 5, under: (t) => layers.batchNormalization().apply(layers.dense(5).apply(t)) }],
    ['directly on the input, then relu', { batch: 5, under: (t) => layers.relu().apply(layers.batchNormalization().apply(t)) }],
  ];
  for (const [name, c] of cases) {
    it(`training-mode gradients and inference forward: ${name}`, () => compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, rtol: 1e-5, ...c }));
  }

  it('moving statistics after one training-mode pass equal tfjs after a training-mode call (momentum 0.9, biased variance)', () => {
    const b = build({ shape: [5, 7, 3], batch: 3, under: bnAfterConv({ momentum: 0.9 }) });
    const ref = mirror(b.model);
    const bn = b.model.layers.find((l) => l.kind === 'batchNormalization')!;
    const before = bn.getWeights();
    b.model.computeGradients(tensor(b.x, b.xShape), tensor(b.labels, [3]));
    tf.tidy(() => { ref.forward(tf.tensor(b.x, b.xShape), true); });
    const after = bn.getWeights();
    const tfw = ref.layers.get(bn.name)![0].getWeights().map((w) => w.dataSync() as Float32Array);
    expect(after[0]).toEqual(before[0]); // computeGradients applies no update to gamma, beta
    expect(after[1]).toEqual(before[1]);
    expect(after[2]).not.toEqual(before[2]);
    expectClose('moving_mean', after[2], tfw[2], 1e-5);
    expectClose('moving_variance', after[3], tfw[3], 1e-5);
  });

  it('frozen (trainable = false): moving statistics bit-identical after fit; forward and gradients are tfjs inference mode', async () => {
    const b = build({ shape: [5, 7, 3], batch: 5, under: bnAfterConv() });
    const bn = b.model.layers.find((l) => l.kind === 'batchNormalization')!;
    bn.trainable = false;
    const before = bn.getWeights();
    const convBefore = b.model.layers.find((l) => l.kind === 'conv2d')!.getWeights();
    await b.model.fit(tensor(b.x, b.xShape), tensor(b.labels, [5]), { epochs: 3, batchSize: 2, shuffle: false });
    bn.getWeights().forEach((w, i) => expect(w, `${bn.weightSpecs[i].name} moved`).toEqual(before[i]));
    expect(b.model.layers.find((l) => l.kind === 'conv2d')!.getWeights()[0]).not.toEqual(convBefore[0]);
    // The mirror copies the trained weights; tfjs inference mode is Keras's frozen behaviour.
    const ref = mirror(b.model);
    const xt = tensor(b.x, b.xShape);
    expectClose('predict', b.model.predict(xt).data, tfjsPredict(ref, b.x, b.xShape, false), 1e-5);
    const ours = b.model.computeGradients(xt, tensor(b.labels, [5]));
    bn.getWeights().forEach((w, i) => expect(w, `${bn.weightSpecs[i].name} moved in computeGradients`).toEqual(before[i]));
    const theirs = tfjsGradients(ref, b.x, b.xShape, b.labels, false);
    expect([...ours.weights.keys()].sort()).toEqual([...theirs.weights.keys()].sort());
    expect(ours.weights.has(`${bn.name}/gamma`)).toBe(false);
    expect(ours.loss).toBeCloseTo(theirs.loss, 5);
    expectGradientsClose(ours, theirs, 1e-4);
  });

  it('evaluate (inference mode) matches the tfjs inference-mode loss', () => {
    const b = build({ shape: [5, 7, 3], batch: 5, under: bnAfterConv() });
    const ref = mirror(b.model);
    const ev = b.model.evaluate(tensor(b.x, b.xShape), tensor(b.labels, [5]));
    const loss = tf.tidy(() => sparseXent(ref.forward(tf.tensor(b.x, b.xShape), false).out, b.labels).dataSync()[0]);
    expect(ev.loss).toBeCloseTo(loss, 5);
  });
});

describe('dropout', () => {
  it('inference: the layer output is its input, bit for bit; the model matches tfjs', () => {
    const b = build({ shape: [5, 7, 3], batch: 3, under: (t) => layers.dropout(0.4, { seed: 3 }).apply(t) });
    const xt = tensor(b.x, b.xShape);
    expect(b.probe.predict(xt).data).toEqual(b.x);
    expectClose('predict', b.model.predict(xt).data, tfjsPredict(mirror(b.model), b.x, b.xShape), 1e-5);
  });

  it('training: the fraction dropped is the rate (masks differ from tfjs: statistics only)', () => {
    const rate = 0.3;
    const b = build({ shape: [40, 50], batch: 2, under: (t) => layers.dropout(rate, { seed: 11 }).apply(t), classes: 2 });
    const g = b.model.computeGradients(tensor(b.x, b.xShape), tensor(b.labels, [2]));
    // A dropped unit gets exactly zero input gradient (layers-fd.test.ts checks the kept ones).
    let zeros = 0;
    for (const v of g.input) if (v === 0) zeros++;
    const fraction = zeros / g.input.length;
    expect(Math.abs(fraction - rate)).toBeLessThan(4 * Math.sqrt((rate * (1 - rate)) / g.input.length));
  });
});

describe('zeroPadding2D, subtract, multiply and resizing (bilinear, half-pixel) match tfjs', () => {
  const cases: [string, Partial<Case> & Pick<Case, 'under'>][] = [
    ['zeroPadding2d [[1, 2], [0, 3]] then a 3x3 valid conv', {
      under: (t) => layers.conv2d({ filters: 2, kernelSize: 3, activation: 'tanh' }).apply(layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }).apply(t)),
    }],
    ['zeroPadding2d 1 after a conv, batch 1', { batch: 1, under: (t) => layers.zeroPadding2d().apply(conv({ filters: 2, kernelSize: 3, padding: 'same' })(t)) }],
    ['subtract(conv(x), conv(x)) of two branches', {
      under: (t) => layers.subtract().apply([conv({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' })(t), conv({ filters: 3, kernelSize: 1 })(t)]),
    }],
    ['subtract(h, x): the input itself as the second operand', { under: (t) => layers.subtract().apply([conv({ filters: 3, kernelSize: 3, padding: 'same' })(t), t]) }],
    ['multiply of two branches (a gate), batch 5', {
      batch: 5,
      under: (t) => layers.multiply().apply([conv({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh' })(t), conv({ filters: 3, kernelSize: 1, activation: 'sigmoid' })(t)]),
    }],
    ['multiply(h, h): the same tensor twice', { under: (t) => { const h = conv({ filters: 2, kernelSize: 3, activation: 'tanh' })(t); return layers.multiply().apply([h, h]); } }],
    ['rescaling per channel (input normalization) then a conv; scalar rescaling after it', {
      under: (t) => layers.rescaling(0.5, { offset: -1 }).apply(conv({ filters: 2, kernelSize: 3 })(layers.rescaling([2, -0.5, 1.5], { offset: [0.1, 0.2, -0.3] }).apply(t))),
    }],
    ['resizing 5x7 -> 11x4 (up and down) after a conv', { under: (t) => layers.resizing(11, 4).apply(conv({ filters: 2, kernelSize: 1, activation: 'tanh' })(t)) }],
    ['resizing directly on the input 5x7 -> 3x13, then a conv', { under: (t) => conv({ filters: 2, kernelSize: 3 })(layers.resizing(3, 13).apply(t)) }],
  ];
  for (const [name, c] of cases) it(name, () => compareWithTfjs({ shape: [5, 7, 3], batch: 3, gradRtol: 1e-4, ...c }));
  it('resizing forward equals tf.image.resizeBilinear(halfPixelCenters) and its matmul mirror, up and down, 4 sizes', () => {
    for (const [h, w, oh, ow] of [[5, 7, 11, 4], [28, 28, 64, 64], [64, 64, 28, 28], [3, 1, 2, 5]]) {
      const inp = input({ shape: [h, w, 2] });
      const m = model({ inputs: inp, outputs: layers.resizing(oh, ow).apply(inp) });
      const x = randomArray(3 * h * w * 2, h * w);
      const ours = m.predict(tensor(x, [3, h, w, 2])).data;
      const tfImage = tf.image.resizeBilinear(tf.tensor4d(x, [3, h, w, 2]), [oh, ow], false, true).dataSync();
      const byMatmul = resizeBilinearByMatmul(tf.tensor4d(x, [3, h, w, 2]), oh, ow).dataSync();
      expectClose(`resize ${h}x${w} -> ${oh}x${ow} vs tf.image`, ours, tfImage, 1e-5);
      expectClose(`matmul mirror ${h}x${w} -> ${oh}x${ow} vs tf.image`, byMatmul, tfImage, 1e-5);
    }
  });
  it('resizing 28x28 -> 64x64 (the MNIST-to-emotion adapter) on one channel', () => compareWithTfjs({
    shape: [28, 28, 1], batch: 2, gradRtol: 1e-4, under: (t) => conv({ filters: 2, kernelSize: 3, strides: 4 })(layers.resizing(64, 64).apply(t)),
  }));
});
