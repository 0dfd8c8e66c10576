// The broadcasting layers through the public API: finite differences for every kind (merges with
// broadcasting, divide, maximum / minimum, average, reduce, constantOp, softmax on an inner axis),
// the squeeze-and-excitation block training, a batch smaller than the planned one, save/load round
// trips, and the typed errors for shapes that do not broadcast and bad options.
import { describe, expect, it } from 'vitest';
import { input, layers, loadModel, model, optimizers, setSeed, tensor, InvalidArgumentError, ShapeError, type SymbolicTensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { fdCheck, problem } from './support/layer-fd';

const tanhDense = (units: number) => (t: SymbolicTensor) => layers.dense(units, { activation: 'tanh' }).apply(t);
const tanhConv = (filters: number) => (t: SymbolicTensor) => layers.conv2d({ filters, kernelSize: 1, activation: 'tanh' }).apply(t);
// A computed [1, 1, c] gate and a [c] vector from x [h, w, c].
const gate = (t: SymbolicTensor, c: number) => layers.reshape([1, 1, c]).apply(layers.dense(c, { activation: 'sigmoid' }).apply(layers.globalAveragePooling2d().apply(t)));
const vector = (t: SymbolicTensor, c: number) => layers.dense(c, { activation: 'tanh' }).apply(layers.globalAveragePooling2d().apply(t));

describe('finite differences: broadcasting merges', () => {
  it('multiply([x, sigmoid(dense(gap(x)))]) [4, 5, 3] * [1, 1, 3]: the SE block, gradients to both', () => {
    fdCheck(problem([4, 5, 3], 2, (t) => { const x = tanhConv(3)(t); return layers.multiply().apply([x, gate(x, 3)]); }));
  });
  it('multiply with [c] right-aligned, the vector first', () => {
    fdCheck(problem([3, 4, 3], 2, (t) => { const x = tanhConv(3)(t); return layers.multiply().apply([vector(x, 3), x]); }));
  });
  it('add [3, 1, 2] + [1, 4, 2] (both broadcast) and subtract [5] - [3, 5]', () => {
    fdCheck(problem([3, 4, 2], 2, (t) => {
      const a = layers.reshape([3, 1, 2]).apply(tanhDense(6)(layers.flatten().apply(t)));
      const b = layers.reshape([1, 4, 2]).apply(tanhDense(8)(layers.flatten().apply(t)));
      return layers.add().apply([a, b]);
    }));
    fdCheck(problem([3, 5], 3, (t) => layers.subtract().apply([tanhDense(5)(layers.flatten().apply(t)), tanhDense(5)(t)])));
  });
  it('add of three inputs [2, 3], [3], [2, 1]; average of [2, 3] and [3]', () => {
    fdCheck(problem([2, 3], 2, (t) => {
      const v = tanhDense(3)(layers.flatten().apply(t));
      const col = layers.reshape([2, 1]).apply(tanhDense(2)(layers.flatten().apply(t)));
      return layers.add().apply([tanhDense(3)(t), v, col]);
    }));
    fdCheck(problem([2, 3], 2, (t) => layers.average().apply([tanhDense(3)(t), tanhDense(3)(layers.flatten().apply(t))])));
  });
  it('divide [4, 3] / [3] (denominator kept in [1.5, 2.5]) and [3] / [4, 3]', () => {
    const denominator = (t: SymbolicTensor) => layers.constantOp({ op: 'add', value: 2, shape: [] }).apply(layers.dense(3, { activation: 'tanh', kernelInitializer: 'zeros' }).apply(layers.flatten().apply(t)));
    fdCheck(problem([4, 3], 2, (t) => layers.divide().apply([tanhDense(3)(t), denominator(t)])));
    fdCheck(problem([4, 3], 2, (t) => layers.divide().apply([denominator(t), layers.constantOp({ op: 'add', value: 2 }).apply(tanhDense(3)(t))])));
  });
  it('maximum and minimum [4, 3] vs [3] (inputs far from ties)', () => {
    const x = Float32Array.from(randomArray(2 * 12, 9, 0.2, 1), (v, i) => (i % 2 ? v : -v));
    fdCheck(problem([4, 3], 2, (t) => layers.maximum().apply([t, layers.constantOp({ op: 'mul', value: [0.1, -0.1, 0.05], shape: [3] }).apply(layers.reduce({ op: 'mean', axis: 1 }).apply(t))]), { x }), { h: 1e-3 });
    fdCheck(problem([4, 3], 2, (t) => layers.minimum().apply([layers.constantOp({ op: 'mul', value: 0.1 }).apply(layers.reduce({ op: 'sum', axis: 1 }).apply(t)), t]), { x }), { h: 1e-3 });
  });
});

describe('finite differences: matMul and atan2 of two computed tensors', () => {
  const flatDense = (units: number, shape: number[]) => (t: SymbolicTensor) => layers.reshape(shape).apply(tanhDense(units)(layers.flatten().apply(t)));
  it('matMul [4, 3] . [3, 2], and each transposed', () => {
    fdCheck(problem([4, 3], 2, (t) => layers.matMul().apply([tanhDense(3)(t), flatDense(6, [3, 2])(t)])));
    fdCheck(problem([4, 3], 2, (t) => layers.matMul({ transposeA: true, transposeB: true }).apply([tanhDense(3)(t), flatDense(8, [2, 4])(t)])));
  });
  it('matMul of a tensor with itself transposed (x . x^T: both gradients into one buffer)', () => {
    fdCheck(problem([4, 3], 2, (t) => layers.matMul({ transposeB: true }).apply([tanhDense(3)(t), tanhDense(3)(t)])));
    fdCheck(problem([4, 3], 2, (t) => { const h = tanhDense(3)(t); return layers.matMul({ transposeB: true }).apply([h, h]); }));
  });
  it('matMul with broadcast leading axes: [2, 1, 3, 2] . [3, 2, 2] -> [2, 3, 3, 2], and [3, 2] . [2, 2, 3]', () => {
    fdCheck(problem([4, 3], 2, (t) => layers.matMul().apply([flatDense(12, [2, 1, 3, 2])(t), flatDense(12, [3, 2, 2])(t)])));
    fdCheck(problem([4, 3], 2, (t) => layers.matMul().apply([flatDense(6, [3, 2])(t), flatDense(12, [2, 2, 3])(t)])));
  });
  it('atan2 [4, 3] with [3] and [4, 1] with [4, 3] (all four quadrants)', () => {
    fdCheck(problem([4, 3], 2, (t) => layers.atan2().apply([tanhDense(3)(t), flatDense(3, [3])(t)])));
    fdCheck(problem([4, 3], 2, (t) => layers.atan2().apply([flatDense(4, [4, 1])(t), tanhDense(3)(t)])));
  });
});

describe('finite differences: reduce, constantOp, softmax on an inner axis', () => {
  for (const op of ['mean', 'sum'] as const) {
    it(`reduce ${op} over axes [1, 2] keepdims, and over -1`, () => {
      fdCheck(problem([3, 4, 2], 2, (t) => layers.reduce({ op, axis: [1, 2], keepdims: true }).apply(tanhConv(3)(t))));
      fdCheck(problem([3, 4, 2], 2, (t) => layers.reduce({ op, axis: -1 }).apply(tanhConv(3)(t))));
    });
  }
  it('reduce max over axis 2 and min over [1, 3] on distinct values (no ties)', () => {
    const x = Float32Array.from(randomArray(2 * 24, 4).map((_, i) => ((i * 37) % 48) / 24 - 1));
    fdCheck(problem([3, 4, 2], 2, (t) => layers.reduce({ op: 'max', axis: 2 }).apply(t), { x }), { h: 1e-3 });
    fdCheck(problem([3, 4, 2], 2, (t) => layers.reduce({ op: 'min', axis: [1, 3], keepdims: true }).apply(t), { x }), { h: 1e-3 });
  });
  for (const op of ['add', 'sub', 'rsub', 'mul', 'div', 'rdiv', 'max', 'min'] as const) {
    it(`constantOp ${op} with a [1, 3] constant on [4, 3]`, () => {
      const value = op === 'max' || op === 'min' ? [-0.2, 0.1, 5] : [1.5, -2, 3];
      const lift = op === 'rdiv' ? (t: SymbolicTensor) => layers.constantOp({ op: 'add', value: 3 }).apply(t) : (t: SymbolicTensor) => t;
      fdCheck(problem([4, 3], 2, (t) => layers.constantOp({ op, value, shape: [1, 3] }).apply(lift(tanhDense(3)(t)))), { h: 1e-3 });
    });
  }
  it('constantOp whose constant is larger than the input: [3] * [2, 3]', () => {
    fdCheck(problem([3], 2, (t) => layers.constantOp({ op: 'mul', value: [1, 2, 3, -1, -2, 0.5], shape: [2, 3] }).apply(tanhDense(3)(t))));
  });
  it('softmax on axis 1 and axis -2 of [3, 4, 2]', () => {
    fdCheck(problem([3, 4, 2], 2, (t) => layers.softmax({ axis: 1 }).apply(tanhConv(2)(t))));
    fdCheck(problem([3, 4, 2], 3, (t) => layers.softmax({ axis: -2 }).apply(tanhConv(2)(t))));
  });
});

// A small SE network: conv -> SE gate (gap, dense, sigmoid, multiply) -> gap -> dense softmax.
function seModel(seed: number) {
  setSeed(seed);
  const inp = input({ shape: [6, 6, 3] });
  const x = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp);
  const s = layers.dense(4, { activation: 'sigmoid' }).apply(layers.dense(2, { activation: 'relu' }).apply(layers.globalAveragePooling2d().apply(x)));
  const y = layers.multiply().apply([x, layers.reshape([1, 1, 4]).apply(s)]);
  const out = layers.dense(3, { activation: 'softmax' }).apply(layers.globalAveragePooling2d().apply(y));
  return model({ inputs: inp, outputs: out });
}

describe('the SE block trains; save/load; a smaller batch', () => {
  it('fit lowers the loss of an SE network, and a batch of 3 under the planned 8 predicts like batch 8', async () => {
    const m = seModel(5);
    m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy', batchSize: 8 });
    const n = 24;
    const data = randomArray(n * 108, 3);
    // The label is the channel with the largest sum: learnable through the gate.
    const labels = new Int32Array(n).map((_, i) => {
      const sums = [0, 1, 2].map((ch) => data.slice(i * 108, (i + 1) * 108).reduce((acc, v, j) => acc + (j % 3 === ch ? v : 0), 0));
      return sums.indexOf(Math.max(...sums));
    });
    const x = tensor(data, [n, 6, 6, 3]);
    const y = tensor(labels, [n]);
    const before = m.evaluate(x, y).loss;
    await m.fit(x, y, { epochs: 40, batchSize: 8 });
    expect(m.evaluate(x, y).loss).toBeLessThan(before * 0.7);
    const all = m.predict(tensor(x.data.slice(0, 8 * 108), [8, 6, 6, 3])).data;
    const three = m.predict(tensor(x.data.slice(0, 3 * 108), [3, 6, 6, 3])).data;
    expect(Array.from(three)).toEqual(Array.from(all.slice(0, 9)));
  });

  it('save/load round-trips every new kind (config and weights); predictions are bit-identical', async () => {
    setSeed(2);
    const inp = input({ shape: [3, 4, 2] });
    const a = layers.conv2d({ filters: 2, kernelSize: 1 }).apply(inp);
    const v = layers.reduce({ op: 'max', axis: [1, 2], keepdims: true, name: 'rmax' }).apply(a);
    const c = layers.constantOp({ op: 'rdiv', value: [2, 3], shape: [2], name: 'cop' }).apply(layers.constantOp({ op: 'add', value: 4 }).apply(v));
    const m1 = layers.maximum().apply([a, c]);
    const m2 = layers.minimum().apply([a, layers.divide().apply([c, layers.constantOp({ op: 'add', value: 3 }).apply(v)])]);
    const m3 = layers.average().apply([m1, m2, layers.subtract().apply([a, c])]);
    const s = layers.softmax({ axis: 2, name: 'sm2' }).apply(layers.add().apply([m3, layers.multiply().apply([a, c])]));
    const out = layers.reduce({ op: 'mean', axis: -1 }).apply(s);
    const m = model({ inputs: inp, outputs: out });
    const loaded = await loadModel(m.toBytes());
    const kinds = loaded.layers.map((l) => l.kind);
    for (const k of ['reduce', 'constantOp', 'maximum', 'minimum', 'divide', 'average', 'subtract', 'multiply', 'add', 'activation']) expect(kinds).toContain(k);
    expect(loaded.getLayer('rmax').config).toEqual({ op: 'max', axis: [1, 2], keepdims: true });
    expect(loaded.getLayer('sm2').config.axis).toBe(2);
    expect(Array.from(loaded.getLayer('cop').getWeights()[0])).toEqual([2, 3]);
    const x = tensor(randomArray(2 * 24, 6), [2, 3, 4, 2]);
    expect(loaded.predict(x).data).toEqual(m.predict(x).data);
  });
});

describe('matMul, atan2 and grouped conv2dTranspose: save/load and typed errors', () => {
  it('save/load round-trips them (config and weights); predictions are bit-identical', async () => {
    setSeed(4);
    const inp = input({ shape: [3, 4, 2] });
    const up = layers.conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, groups: 2, name: 'upg' }).apply(inp); // [6, 8, 4]
    const q = layers.reshape([6, 32]).apply(up);
    const gram = layers.matMul({ transposeB: true, name: 'gram' }).apply([q, q]); // [6, 6]
    const angle = layers.atan2({ name: 'ang' }).apply([gram, layers.constantOp({ op: 'add', value: 0.5 }).apply(gram)]);
    const m = model({ inputs: inp, outputs: angle });
    const loaded = await loadModel(m.toBytes());
    expect(loaded.getLayer('gram').config).toEqual({ transposeA: false, transposeB: true });
    expect(loaded.getLayer('upg').config.groups).toBe(2);
    expect(loaded.getLayer('upg').weightSpecs[0].shape).toEqual([2, 2, 2, 2]);
    expect(loaded.getLayer('ang').kind).toBe('atan2');
    const x = tensor(randomArray(2 * 24, 8), [2, 3, 4, 2]);
    expect(loaded.predict(x).data).toEqual(m.predict(x).data);
  });
  it('inner sizes that differ, leading axes that do not broadcast, groups that do not divide: typed errors naming the layer', () => {
    const a = input({ shape: [4, 3] });
    expect(() => layers.matMul({ name: 'mm1' }).apply([a, input({ shape: [4, 2] })])).toThrow(/mm1.*inner sizes differ: \[4,3\] \. \[4,2\] \(3 vs 4\)/);
    expect(() => layers.matMul({ name: 'mm2' }).apply([input({ shape: [2, 4, 3] }), input({ shape: [3, 3, 2] })])).toThrow(ShapeError);
    expect(() => layers.matMul({ name: 'mm3' }).apply([input({ shape: [3] }), a])).toThrow(/mm3.*at least two axes/);
    expect(() => layers.matMul({ transposeA: 'yes' as never })).toThrow(InvalidArgumentError);
    expect(() => layers.conv2dTranspose({ filters: 3, kernelSize: 2, groups: 2, name: 'ctg' }).apply(input({ shape: [4, 4, 2] }))).toThrow(/ctg.*groups 2 must divide/);
  });
});

describe('bad input: typed errors', () => {
  it('shapes that do not broadcast name the layer and both shapes', () => {
    const a = input({ shape: [4, 3] });
    const b = input({ shape: [2, 3] });
    for (const make of [layers.add, layers.subtract, layers.multiply, layers.maximum, layers.minimum, layers.average, layers.divide]) {
      const l = make({ name: `bad_${make.name}` });
      const e = (() => { try { l.apply([a, b]); } catch (err) { return err; } })() as Error;
      expect(e).toBeInstanceOf(ShapeError);
      expect(e.message).toMatch(new RegExp(`bad_${make.name}.*\\[4, 3\\] and \\[2, 3\\] do not broadcast`));
    }
    expect(() => layers.constantOp({ op: 'mul', value: [1, 2], shape: [2], name: 'cbad' }).apply(a)).toThrow(/cbad.*\[4, 3\] and \[2\] do not broadcast/);
  });
  it('options: batch axis, unknown op, value size, axis out of range, axis on a non-softmax activation', () => {
    expect(() => layers.reduce({ op: 'mean', axis: 0 })).toThrow(InvalidArgumentError);
    expect(() => layers.reduce({ op: 'prod' as never, axis: 1 })).toThrow(/op must be one of mean, sum, max, min/);
    expect(() => layers.softmax({ axis: 0 })).toThrow(/batch axis/);
    expect(() => layers.constantOp({ op: 'pow' as never, value: 1 })).toThrow(InvalidArgumentError);
    expect(() => layers.constantOp({ op: 'add', value: [1, 2, 3], shape: [2] })).toThrow(/3 numbers for shape \[2\]/);
    expect(() => layers.reduce({ op: 'sum', axis: 1, keepdims: 'yes' as never })).toThrow(/keepdims must be true or false/);
    expect(() => layers.reduce({ op: 'sum', axis: 3, name: 'r3' }).apply(input({ shape: [4, 3] }))).toThrow(/r3.*axis 3 is out of range/);
    expect(() => layers.reduce({ op: 'sum', axis: [1, -2] }).apply(input({ shape: [4, 3] }))).toThrow(/names an axis twice/);
    expect(() => layers.activation({ activation: 'relu', axis: 1 } as never)).toThrow(/axis applies to softmax only/);
    expect(() => layers.reduce({ op: 'sum', axis: 1, bogus: 1 } as never)).toThrow(/bogus/);
  });
  it('more than five per-sample axes that do not merge is refused by name', () => {
    const a = input({ shape: [2, 1, 2, 1, 2, 1] });
    const b = input({ shape: [1, 2, 1, 2, 1, 2] });
    expect(() => layers.multiply({ name: 'deep' }).apply([a, b])).toThrow(/deep.*more than 5 axes/);
  });
});
