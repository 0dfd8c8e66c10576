// Finite-difference gradient checks for every layer kind, through the public API only: the loss is
// computeGradients().loss (training mode, the very function whose gradient computeGradients
// returns), perturbed one input or weight element at a time by a central difference. The loss is
// f32 arithmetic summed in f64, so the step is large (1e-2 on values of order 1) and the tolerance
// loose (2e-2 relative, with a floor for f32 noise); inputs are placed away from kinks (ReLU at 0,
// ReLU6 at 0 and 6, hard sigmoid at +-3, max-pooling ties) so that no step crosses one.
// Also: dropout with its fixed mask (same seed and step), regularizer penalties and gradients,
// and weight constraints after one SGD step, each against the Keras formula computed here.
import { describe, expect, it } from 'vitest';
import {
  constraints, input, layers, model, optimizers, regularizers, setSeed, tensor,
  type Layer, type Model, type SymbolicTensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';
import { randomizeWeights } from './tfjs-layers';
import { fdCheck, problem, sizeOf } from './support/layer-fd';

const tanhConv = (o: Partial<Parameters<typeof layers.conv2d>[0]> = {}) => (t: SymbolicTensor) =>
  layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh', ...o }).apply(t);

describe('finite differences: convolution, pooling, reshape', () => {
  it('conv2d 3x3 same, tanh, batch 3 on 5x7x2', () => fdCheck(problem([5, 7, 2], 3, tanhConv({ padding: 'same' }))));
  it('conv2d 5x3 stride 2 valid, no bias, batch 1', () => fdCheck(problem([5, 7, 2], 1, tanhConv({ kernelSize: [5, 3], strides: 2, useBias: false }))));
  it('conv2d 3x3 dilation 2 same, gelu', () => fdCheck(problem([5, 7, 2], 2, tanhConv({ dilationRate: 2, padding: 'same', activation: 'gelu' }))));
  it('conv2d 1x1 then 3x3 stride 2 same (two convs)', () => fdCheck(problem([5, 7, 2], 2, (t) => tanhConv({ strides: 2, padding: 'same' })(tanhConv({ kernelSize: 1 })(t)))));
  it('depthwiseConv2d 3x3 multiplier 2 stride 2 same, tanh', () => {
    fdCheck(problem([5, 7, 3], 2, (t) => layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'tanh' }).apply(t)));
  });
  it('depthwiseConv2d 3x2 dilation 2 valid, multiplier 1', () => {
    fdCheck(problem([7, 7, 2], 3, (t) => layers.depthwiseConv2d({ kernelSize: [3, 2], dilationRate: 2, activation: 'swish' }).apply(t)));
  });
  // Inputs spaced 0.05 apart in shuffled order: no window has two values closer than a step apart.
  const distinct = (n: number, seed: number) => {
    const r = randomArray(n, seed, 0, 1);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a] - r[b]);
    const x = new Float32Array(n);
    order.forEach((i, rank) => { x[i] = -1 + rank * (2 / n) * 1.0; });
    return x;
  };
  it('maxPooling2d 3x3 stride 2 same (on distinct inputs, directly after the input)', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(t), { x: distinct(140, 5) }), { h: 2e-3, rtol: 3e-2 });
  });
  it('maxPooling2d 2x2 valid after a conv (weights through the argmax)', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => layers.maxPooling2d({ poolSize: 2 }).apply(tanhConv({ padding: 'same', filters: 2 })(t))), { h: 2e-3, rtol: 5e-2 });
  });
  it('averagePooling2d 3x3 stride 2 same (edge windows average fewer taps)', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(tanhConv({ padding: 'same' })(t))));
  });
  it('averagePooling2d 2x2 stride 2 same, directly on the input', () => {
    fdCheck(problem([5, 7, 2], 3, (t) => layers.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(t)));
  });
  it('globalAveragePooling2d', () => fdCheck(problem([5, 7, 2], 3, (t) => layers.globalAveragePooling2d().apply(tanhConv()(t)), { lo: -2, hi: 2 })));
  it('reshape then dense on the last axis; flatten', () => {
    fdCheck(problem([5, 6, 2], 2, (t) => layers.flatten().apply(layers.dense(3, { activation: 'tanh' }).apply(layers.reshape([10, -1]).apply(t)))));
  });
});

describe('finite differences: merges and fan-out', () => {
  it('add of two branches from the input and a residual', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => {
      const a = tanhConv({ padding: 'same' })(t);
      return layers.add().apply([a, tanhConv({ padding: 'same', kernelSize: 1 })(a), layers.conv2d({ filters: 3, kernelSize: 1 }).apply(t)]);
    }));
  });
  it('residual add([a, depthwise(a)]), no activation on the branch: its input gradient goes to the shortcut\'s buffer', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => {
      const a = tanhConv({ padding: 'same' })(t);
      return layers.add().apply([a, layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(a)]);
    }));
  });
  it('concatenate of the input and two branches', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => layers.concatenate().apply([t, tanhConv({ padding: 'same' })(t), tanhConv({ padding: 'same', filters: 1 })(t)])));
  });
});

describe('finite differences: dense and activations', () => {
  const kinks: Record<string, number[]> = { relu: [0], leakyRelu: [0], elu: [0], selu: [0], relu6: [0, 6], hardSigmoid: [-3, 3], hardSwish: [-3, 3] };
  const names = ['linear', 'relu', 'sigmoid', 'tanh', 'leakyRelu', 'elu', 'selu', 'gelu', 'geluTanh', 'swish', 'relu6', 'hardSigmoid', 'hardSwish', 'softmax'] as const;
  for (const name of names) {
    it(`layers.activation('${name}') on inputs in [-7, 7] kept 0.1 away from kinks`, () => {
      const x = randomArray(3 * 8, 41, -7, 7).map((v) => {
        for (const k of kinks[name] ?? []) if (Math.abs(v - k) < 0.1) return k + (v < k ? -0.1 : 0.1);
        return v;
      });
      fdCheck(problem([8], 3, (t) => layers.activation(name).apply(t), { x }), { maxPerTensor: 24 });
    });
  }
  for (const name of ['sigmoid', 'tanh', 'elu', 'selu', 'gelu', 'geluTanh', 'swish', 'hardSwish', 'softmax'] as const) {
    it(`dense activation '${name}', batch 3`, () => fdCheck(problem([5], 3, (t) => layers.dense(4, { activation: name }).apply(t), { lo: -2, hi: 2 })));
  }
  it('layers.leakyRelu() and layers.elu({alpha: 0.5}) after the input (kinks avoided)', () => {
    const x = randomArray(3 * 8, 43, -3, 3).map((v) => (Math.abs(v) < 0.1 ? Math.sign(v || 1) * 0.1 : v));
    fdCheck(problem([8], 3, (t) => layers.elu({ alpha: 0.5 }).apply(layers.leakyRelu().apply(t)), { x }));
  });
  it('softmax output as an activation layer, batch 1', () => fdCheck(problem([6], 1, (t) => layers.softmax().apply(layers.dense(4).apply(t)), { readout: false })));
});

describe('finite differences: batchNormalization', () => {
  const bn = (o: Parameters<typeof layers.batchNormalization>[0] = {}) => (t: SymbolicTensor) => layers.batchNormalization(o).apply(tanhConv({ padding: 'same' })(t));
  it('training mode (batch statistics), after a conv, batch 3', () => fdCheck(problem([5, 7, 2], 3, bn())));
  it('training mode, center and scale false, batch 2', () => fdCheck(problem([5, 7, 2], 2, bn({ center: false, scale: false }))));
  it('training mode on dense features, batch 5', () => fdCheck(problem([4], 5, (t) => layers.batchNormalization().apply(layers.dense(5, { activation: 'tanh' }).apply(t)))));
  it('frozen: moving statistics, gamma and beta fixed; gradients through the inference formula', () => {
    const p = problem([5, 7, 2], 3, bn());
    const layer = p.model.layers.find((l) => l.kind === 'batchNormalization')!;
    layer.trainable = false;
    const before = layer.getWeights();
    const g = fdCheck(p);
    expect([...g.weights.keys()].some((k) => k.startsWith(`${layer.name}/`))).toBe(false);
    layer.getWeights().forEach((w, i) => expect(w).toEqual(before[i]));
  });
});

describe('dropout', () => {
  const rate = 0.4;
  it('computeGradients is deterministic for one step (fixed mask); the mask changes after an optimizer step', async () => {
    const p = problem([30], 4, (t) => layers.dropout(rate, { seed: 9 }).apply(t), { classes: 2 });
    const y = tensor(p.labels, [4]);
    const xt = tensor(p.x, p.xShape);
    const a = p.model.computeGradients(xt, y);
    const b = p.model.computeGradients(xt, y);
    expect(b.input).toEqual(a.input);
    expect(b.loss).toBe(a.loss);
    await p.model.fit(xt, y, { epochs: 1, batchSize: 4, shuffle: false });
    const c = p.model.computeGradients(xt, y);
    const zeros = (g: Float32Array) => g.map((v) => (v === 0 ? 1 : 0));
    expect(zeros(c.input)).not.toEqual(zeros(a.input));
  });

  it('input gradient is dy * mask / (1 - rate), weight gradients use the same mask (recomputed in f64)', () => {
    const n = 5;
    const f = 40;
    const k = 3;
    const p = problem([f], n, (t) => layers.dropout(rate, { seed: 21 }).apply(t), { classes: k });
    const g = p.model.computeGradients(tensor(p.x, p.xShape), tensor(p.labels, [n]));
    // The mask, read off the input gradient: a dropped unit has exactly zero gradient.
    const mask = g.input.map((v) => (v === 0 ? 0 : 1));
    const dropped = mask.reduce((s, m) => s + (1 - m), 0) / mask.length;
    expect(Math.abs(dropped - rate)).toBeLessThan(0.12);
    const dense = p.model.layers.find((l) => l.kind === 'dense')!;
    const [w, b] = dense.getWeights();
    const scale = 1 / (1 - rate);
    const dx = new Float64Array(n * f);
    const dw = new Float64Array(f * k);
    const db = new Float64Array(k);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const hIn = Array.from({ length: f }, (_, j) => p.x[i * f + j] * mask[i * f + j] * scale);
      const z = Array.from({ length: k }, (_, c) => hIn.reduce((s, v, j) => s + v * w[j * k + c], b[c]));
      const mx = Math.max(...z);
      const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
      loss += (lse - z[p.labels[i]]) / n;
      const dz = z.map((v, c) => (Math.exp(v - lse) - (c === p.labels[i] ? 1 : 0)) / n);
      for (let j = 0; j < f; j++) {
        let s = 0;
        for (let c = 0; c < k; c++) { s += dz[c] * w[j * k + c]; dw[j * k + c] += hIn[j] * dz[c]; }
        dx[i * f + j] = s * mask[i * f + j] * scale;
      }
      dz.forEach((v, c) => { db[c] += v; });
    }
    expect(g.loss).toBeCloseTo(loss, 5);
    const close = (a: ArrayLike<number>, e: ArrayLike<number>, what: string) =>
      expectClose(a, e, 1e-5, 1e-5 * Math.max(...Array.from(e, Math.abs)), what);
    close(g.input, dx, 'input gradient');
    close(g.weights.get(`${dense.name}/kernel`)!, dw, 'kernel gradient');
    close(g.weights.get(`${dense.name}/bias`)!, db, 'bias gradient');
  });

  it('finite differences with the mask fixed (dense -> dropout -> dense)', () => {
    fdCheck(problem([6], 3, (t) => layers.dropout(0.3, { seed: 5 }).apply(layers.dense(8, { activation: 'tanh' }).apply(t))));
  });

  it('finite differences through dropout on a 4-D tensor after a conv', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => layers.dropout(0.5, { seed: 6 }).apply(tanhConv({ padding: 'same' })(t))));
  });
});

// Weights of magnitude in [0.1, 0.6] with random signs: no element within a step of the L1 kink.
function awayFromZero(model: Model, seed: number): void {
  let s = seed;
  for (const l of model.layers) {
    if (!l.weightSpecs.length) continue;
    l.setWeights(l.weightSpecs.map((spec) => {
      s += 7;
      const mag = randomArray(sizeOf(spec.shape), s, 0.1, 0.6);
      const sign = randomArray(sizeOf(spec.shape), s + 1, -1, 1);
      return mag.map((v, i) => (sign[i] < 0 ? -v : v));
    }));
  }
}

function penaltyOf(w: ArrayLike<number>, l1: number, l2: number): number {
  let a = 0;
  let q = 0;
  for (let i = 0; i < w.length; i++) { a += Math.abs(w[i]); q += w[i] * w[i]; }
  return l1 * a + l2 * q;
}

describe('regularizers', () => {
  // The same network with and without regularizers, identical weights.
  const build = (reg: boolean) => {
    setSeed(77);
    const inp = input({ shape: [5, 5, 2] });
    const c = layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh', kernelRegularizer: reg ? regularizers.l2(0.1) : null, biasRegularizer: reg ? regularizers.l1(0.05) : null, name: reg ? 'reg_conv' : 'plain_conv' }).apply(inp);
    const d = layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, activation: 'tanh', depthwiseRegularizer: reg ? regularizers.l1l2({ l1: 0.01, l2: 0.02 }) : null, name: reg ? 'reg_dw' : 'plain_dw' }).apply(c);
    const out = layers.dense(3, { activation: 'softmax', kernelRegularizer: reg ? 'l2' : null, name: reg ? 'reg_dense' : 'plain_dense' }).apply(layers.flatten().apply(d));
    const m = model({ inputs: inp, outputs: out });
    awayFromZero(m, 5);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    return m;
  };
  const x = randomArray(4 * 50, 8, -1, 1);
  const labels = new Int32Array([0, 1, 2, 1]);
  const xt = tensor(x, [4, 5, 5, 2]);
  const y = tensor(labels, [4]);
  const expectedPenalty = (m: Model) => {
    const [conv, dw, dense] = m.layers.filter((l) => l.weightSpecs.length);
    return penaltyOf(conv.getWeights()[0], 0, 0.1) + penaltyOf(conv.getWeights()[1], 0.05, 0)
      + penaltyOf(dw.getWeights()[0], 0.01, 0.02) + penaltyOf(dense.getWeights()[0], 0, 0.01);
  };

  it('evaluate() and computeGradients() losses include l1*sum|w| + l2*sum w^2 (no 1/2, not batch-averaged)', () => {
    const a = build(true);
    const b = build(false);
    const pen = expectedPenalty(a);
    expect(a.evaluate(xt, y).loss - b.evaluate(xt, y).loss).toBeCloseTo(pen, 6);
    expect((a.evaluate(xt, y).loss - b.evaluate(xt, y).loss) / pen).toBeCloseTo(1, 6);
    expect(a.computeGradients(xt, y).loss - b.computeGradients(xt, y).loss).toBeCloseTo(pen, 6);
  });

  it('weight gradients include 2*l2*w + l1*sign(w)', () => {
    const a = build(true);
    const b = build(false);
    const ga = a.computeGradients(xt, y).weights;
    const gb = b.computeGradients(xt, y).weights;
    const coeff: Record<string, [number, number]> = { 'conv/kernel': [0, 0.1], 'conv/bias': [0.05, 0], 'dw/depthwise_kernel': [0.01, 0.02], 'dw/bias': [0, 0], 'dense/kernel': [0, 0.01], 'dense/bias': [0, 0] };
    for (const [key, [l1, l2]] of Object.entries(coeff)) {
      const [lname, wname] = key.split('/');
      const layer = a.getLayer(`reg_${lname}`);
      const w = layer.getWeights()[layer.weightSpecs.findIndex((s) => s.name === wname)];
      const da = ga.get(`reg_${key}`)!;
      const db = gb.get(`plain_${key}`)!;
      for (let i = 0; i < w.length; i++) {
        const expected = 2 * l2 * w[i] + l1 * Math.sign(w[i]);
        expect(Math.abs(da[i] - db[i] - expected), `${key}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(expected));
      }
    }
  });

  it('finite differences of the regularized loss', () => {
    const a = build(true);
    fdCheck({ model: a, x, xShape: [4, 5, 5, 2], labels }, { maxPerTensor: 16 });
  });

  it('a frozen layer\'s regularizer adds no penalty (Keras 3 sums regularizers over trainable weights only)', () => {
    const a = build(true);
    const b = build(false);
    const conv = a.getLayer('reg_conv');
    conv.trainable = false;
    b.getLayer('plain_conv').trainable = false;
    const [, dw, dense] = a.layers.filter((l) => l.weightSpecs.length);
    const pen = penaltyOf(dw.getWeights()[0], 0.01, 0.02) + penaltyOf(dense.getWeights()[0], 0, 0.01);
    expect(a.computeGradients(xt, y).loss - b.computeGradients(xt, y).loss).toBeCloseTo(pen, 6);
    expect(a.evaluate(xt, y).loss - b.evaluate(xt, y).loss).toBeCloseTo(pen, 6);
  });
});

describe('constraints: after one SGD step the weight is the Keras projection of w - lr*g', () => {
  const lr = 0.5;
  // Projects a (rows, cols) view: the norm runs over rows (axis 0) or over cols (axis 1).
  const project = (w: Float64Array, rows: number, cols: number, normAxis: 0 | 1, f: (n: number) => number) => {
    const out = Float64Array.from(w);
    const outer = normAxis === 0 ? cols : rows;
    const inner = normAxis === 0 ? rows : cols;
    const at = (o: number, i: number) => (normAxis === 0 ? i * cols + o : o * cols + i);
    for (let o = 0; o < outer; o++) {
      let ss = 0;
      for (let i = 0; i < inner; i++) ss += w[at(o, i)] ** 2;
      const factor = Math.fround(f(Math.sqrt(ss)));
      for (let i = 0; i < inner; i++) out[at(o, i)] = Math.fround(Math.fround(w[at(o, i)]) * factor);
    }
    return out;
  };
  const norms = (w: ArrayLike<number>, rows: number, cols: number, normAxis: 0 | 1) => {
    const out: number[] = [];
    const outer = normAxis === 0 ? cols : rows;
    for (let o = 0; o < outer; o++) {
      let ss = 0;
      for (let i = 0; i < (normAxis === 0 ? rows : cols); i++) ss += (normAxis === 0 ? w[i * cols + o] : w[o * cols + i]) ** 2;
      out.push(Math.sqrt(ss));
    }
    return out;
  };
  // One fit step on the whole batch; returns the layer's weights before, after, and the gradients.
  // The constrained layer's weights are scaled by scaleWeights, its last axis (output units or
  // filters) by a factor from 0.25 to 1.5 more, so that the constraint is active for some only.
  const step = async (under: (t: SymbolicTensor) => SymbolicTensor, shape: number[], scaleWeights: number) => {
    const p = problem(shape, 4, under, { seed: 12 });
    const target = p.model.layers.find((l) => l.weightSpecs.some((s) => s.constraint))!;
    target.setWeights(target.getWeights().map((w, j) => {
      const units = target.weightSpecs[j].shape[target.weightSpecs[j].shape.length - 1];
      return w.map((v, i) => v * scaleWeights * (0.25 + (1.25 * (i % units)) / Math.max(units - 1, 1)));
    }));
    const y = tensor(p.labels, [4]);
    const xt = tensor(p.x, p.xShape);
    p.model.compile({ optimizer: optimizers.sgd({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    const before = target.getWeights();
    const g = p.model.computeGradients(xt, y);
    await p.model.fit(xt, y, { epochs: 1, batchSize: 4, shuffle: false });
    const sgd = (w: Float32Array, gw: Float32Array) => Float64Array.from(w, (v, i) => Math.fround(v - Math.fround(Math.fround(lr) * gw[i])));
    return { target, before, after: target.getWeights(), grads: (name: string) => g.weights.get(`${target.name}/${name}`)!, sgd };
  };
  const expectEqualish = (a: ArrayLike<number>, e: ArrayLike<number>, what: string) => expectClose(a, e, 2e-6, 1e-7, what);

  it('maxNorm({maxValue: 0.5}) on a dense kernel (axis 0: each unit\'s incoming weights); some columns active, some not', async () => {
    const s = await step((t) => layers.dense(5, { activation: 'tanh', kernelConstraint: constraints.maxNorm({ maxValue: 0.5 }) }).apply(t), [6], 1);
    const [w0] = s.before;
    // Make the test meaningful: the unconstrained update leaves some columns above 0.5, some below.
    const raw = s.sgd(w0, s.grads('kernel'));
    const rawNorms = norms(raw, 6, 5, 0);
    expect(rawNorms.some((n) => n > 0.55)).toBe(true);
    expect(rawNorms.some((n) => n < 0.45)).toBe(true);
    const expected = project(raw, 6, 5, 0, (n) => Math.min(n, 0.5) / (1e-7 + n));
    expectEqualish(s.after[0], expected, 'kernel');
    norms(s.after[0], 6, 5, 0).forEach((n) => expect(n).toBeLessThanOrEqual(0.5 * (1 + 1e-6)));
    expectEqualish(s.after[1], s.sgd(s.before[1], s.grads('bias')), 'bias (unconstrained)');
  });

  it('maxNorm({maxValue: 0.3, axis: [0, 1, 2]}) on a conv kernel (per filter) and nonNeg on its bias', async () => {
    const s = await step((t) => layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh', kernelConstraint: constraints.maxNorm({ maxValue: 0.3, axis: [0, 1, 2] }), biasConstraint: 'nonNeg' }).apply(t), [5, 5, 2], 1);
    const raw = s.sgd(s.before[0], s.grads('kernel'));
    expect(norms(raw, 18, 3, 0).some((n) => n > 0.33)).toBe(true);
    expectEqualish(s.after[0], project(raw, 18, 3, 0, (n) => Math.min(n, 0.3) / (1e-7 + n)), 'kernel');
    const rawBias = s.sgd(s.before[1], s.grads('bias'));
    expect(rawBias.some((v) => v < 0)).toBe(true);
    expectEqualish(s.after[1], rawBias.map((v) => Math.max(v, 0)), 'bias');
    s.after[1].forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
  });

  it('maxNorm() default axis 0 on a conv kernel [3,3,2,3] is the norm over the kernel rows only (Keras)', async () => {
    const s = await step((t) => layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh', kernelConstraint: constraints.maxNorm({ maxValue: 0.2 }) }).apply(t), [5, 5, 2], 1);
    const raw = s.sgd(s.before[0], s.grads('kernel'));
    expectEqualish(s.after[0], project(raw, 3, 18, 0, (n) => Math.min(n, 0.2) / (1e-7 + n)), 'kernel');
  });

  it('nonNeg on a dense kernel', async () => {
    const s = await step((t) => layers.dense(5, { activation: 'tanh', kernelConstraint: constraints.nonNeg() }).apply(t), [6], 1);
    const raw = s.sgd(s.before[0], s.grads('kernel'));
    expect(raw.some((v) => v < 0)).toBe(true);
    expectEqualish(s.after[0], raw.map((v) => Math.max(v, 0)), 'kernel');
    s.after[0].forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
  });

  it('unitNorm on a dense kernel (axis 0) and unitNorm axis 1 (rows)', async () => {
    for (const axis of [0, 1] as const) {
      const s = await step((t) => layers.dense(5, { activation: 'tanh', kernelConstraint: constraints.unitNorm({ axis }) }).apply(t), [6], 1);
      const raw = s.sgd(s.before[0], s.grads('kernel'));
      expectEqualish(s.after[0], project(raw, 6, 5, axis, (n) => 1 / (1e-7 + n)), `kernel axis ${axis}`);
      norms(s.after[0], 6, 5, axis).forEach((n) => expect(Math.abs(n - 1)).toBeLessThan(1e-6));
    }
  });

  it('maxNorm on a depthwise kernel (depthwiseConstraint, axis [0, 1])', async () => {
    const s = await step((t) => layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: 'tanh', depthwiseConstraint: constraints.maxNorm({ maxValue: 0.4, axis: [0, 1] }) }).apply(t), [5, 5, 2], 2);
    const raw = s.sgd(s.before[0], s.grads('depthwise_kernel'));
    expect(norms(raw, 9, 4, 0).some((n) => n > 0.44)).toBe(true);
    expectEqualish(s.after[0], project(raw, 9, 4, 0, (n) => Math.min(n, 0.4) / (1e-7 + n)), 'depthwise kernel');
  });

  it('a frozen layer is not projected (its weights stay bit-identical even when they violate the constraint)', async () => {
    setSeed(4);
    const inp = input({ shape: [6] });
    const frozen: Layer = layers.dense(5, { activation: 'tanh', kernelConstraint: constraints.maxNorm({ maxValue: 0.1 }) });
    const m = model({ inputs: inp, outputs: layers.dense(3, { activation: 'softmax' }).apply(frozen.apply(inp)) });
    randomizeWeights(m, 4);
    frozen.trainable = false;
    const before = frozen.getWeights();
    m.compile({ optimizer: optimizers.sgd({ learningRate: lr }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
    await m.fit(tensor(randomArray(24, 3), [4, 6]), tensor(new Int32Array([0, 1, 2, 0]), [4]), { epochs: 2, batchSize: 4, shuffle: false });
    expect(norms(before[0], 6, 5, 0).some((n) => n > 0.1)).toBe(true);
    frozen.getWeights().forEach((w, i) => expect(w).toEqual(before[i]));
  });
});

describe('conv + inference-mode batch norm + ReLU fusion', () => {
  it('folds the batch norm into the convolution, pools in its epilogue, and matches the unfused layers', async () => {
    const { layers: L, sequential: seq, tensor: T, setSeed: seed } = await import('../dist/node.js');
    const build = (fuse: boolean) => {
      seed(3);
      return seq([
        L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', inputShape: [8, 6, 2] }), ...(fuse ? [] : [L.dropout(0)]),
        L.batchNormalization(), L.relu(), L.maxPooling2d(), L.flatten(), L.dense(3, { activation: 'softmax' }),
      ]);
    };
    const fused = build(true);
    const plain = build(false);
    // Non-trivial moving statistics and affine parameters.
    const bn = (m: typeof fused) => m.layers.find((l) => l.kind === 'batchNormalization')!;
    const c = 6;
    bn(fused).setWeights([
      Float32Array.from({ length: c }, (_, i) => 0.5 + 0.2 * i), Float32Array.from({ length: c }, (_, i) => 0.1 * i - 0.2),
      Float32Array.from({ length: c }, (_, i) => 0.05 * i - 0.1), Float32Array.from({ length: c }, (_, i) => 0.3 + 0.1 * i),
    ]);
    const weighted = (m: typeof fused) => m.layers.filter((l) => l.weightSpecs.length > 0);
    weighted(plain).forEach((l, i) => l.setWeights(weighted(fused)[i].getWeights()));
    const x = T(Float32Array.from({ length: 4 * 96 }, (_, i) => Math.sin(i * 0.37)), [4, 8, 6, 2]);
    const ops = (m: typeof fused) => m.planInference(4).programs.forward!.ops.map((o) => o.op);
    // An inference plan folds once, in its prepare program (host/compile/plan.ts), not every run.
    expect(fused.planInference(4).programs.prepare!.ops.map((o) => o.op)).toContain('bn_fold');
    expect(ops(fused)).not.toContain('bn_fold');
    expect(ops(fused)).not.toContain('bn_forward_infer');
    expect(ops(fused)).not.toContain('maxpool_forward'); // pooled in the convolution's epilogue
    expect(ops(plain)).toContain('bn_forward_infer');
    expect(ops(plain)).toContain('maxpool_forward');
    const a = fused.predict(x).data;
    const b = plain.predict(x).data;
    expectClose(a, b, 1e-5, 1e-6, 'fused vs plain predictions');
  });
});

describe('finite differences: zeroPadding2D, subtract, multiply, resizing', () => {
  it('zeroPadding2d [[2, 0], [1, 1]] between two convs', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => tanhConv()(layers.zeroPadding2d({ padding: [[2, 0], [1, 1]] }).apply(tanhConv({ padding: 'same' })(t)))));
  });
  it('subtract of two branches, and of a branch and the input', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => {
      const a = tanhConv({ padding: 'same', filters: 2 })(t);
      return layers.subtract().apply([layers.subtract().apply([a, tanhConv({ padding: 'same', kernelSize: 1, filters: 2 })(a)]), t]);
    }));
  });
  it('multiply of two branches and multiply(h, h)', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => {
      const a = tanhConv({ padding: 'same' })(t);
      const b = layers.multiply().apply([a, tanhConv({ padding: 'same', kernelSize: 1 })(t)]);
      return layers.multiply().apply([b, b]);
    }), { rtol: 3e-2 });
  });
  it('rescaling per channel between two convs', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => tanhConv()(layers.rescaling([2, -0.5, 1.5], { offset: [0.1, 0.2, -0.3] }).apply(tanhConv({ padding: 'same' })(t)))));
  });
  it('resizing 5x7 -> 9x4 between two convs (weights and input through the interpolation)', () => {
    fdCheck(problem([5, 7, 2], 2, (t) => tanhConv()(layers.resizing(9, 4).apply(tanhConv({ padding: 'same' })(t)))));
  });
});
