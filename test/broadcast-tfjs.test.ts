// The broadcasting layers against TensorFlow.js (cpu backend) and one against PyTorch autograd:
// x [B, 4, 3] -> a = dense(x) [4, 3] and b = reshape(dense(flatten(x))) of a broadcastable shape ->
// the op -> mean squared error against a fixed target. Forward output, loss and the gradients of
// the input and every weight (model.computeGradients) against tf.grads of the same function built
// from tf ops (tf.add / sub / mul / div / maximum / minimum / atan2 broadcast; tf.matMul with its
// transposes and leading axes broadcast; tf.mean / sum / max / min
// with keepDims; tf.softmax on an inner axis via a transpose). Tolerance 1e-5 relative, floored at
// 1e-5 of the tensor's largest element and at 1e-8 (softmax's bias gradient is 0 up to rounding).
import { describe, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { input, layers, model, optimizers, setSeed, tensor, type Layer, type Model, type SymbolicTensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose as expectWithin, maxAbsDiff } from './support/close';
import { tf } from './tfjs';

const B = 3;
const S = [4, 3];
const sizeOf = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5): void {
  expectWithin(actual, expected, rtol, rtol * maxAbsDiff(expected, new Float32Array(expected.length)) + 1e-8, what);
}

type TfOp = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
interface Case {
  name: string;
  bShape: number[] | null; // null: a single-operand layer on a
  layer: () => Layer;
  tfOp: TfOp | ((a: tf.Tensor) => tf.Tensor);
  bOffset?: number; // added to b (a divisor kept away from 0)
}

interface Built { m: Model; da: Layer; db: Layer | null; out: number[] }

function build(c: Case): Built {
  setSeed(11);
  const x = input({ shape: S });
  const da = layers.dense(3, { name: `${c.name}_a` });
  const a = da.apply(x);
  let db: Layer | null = null;
  let y: SymbolicTensor;
  if (c.bShape) {
    db = layers.dense(sizeOf(c.bShape), { name: `${c.name}_b` });
    let b = layers.reshape(c.bShape).apply(db.apply(layers.flatten().apply(x)));
    if (c.bOffset) b = layers.constantOp({ op: 'add', value: c.bOffset }).apply(b);
    y = c.layer().apply([a, b]);
  } else y = c.layer().apply(a);
  const m = model({ inputs: x, outputs: y });
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError', batchSize: B });
  return { m, da, db, out: y.shape };
}

// The same function in tf ops, of x and the four weights.
function tfFunction(c: Case, out: number[]) {
  return (x: tf.Tensor, ka: tf.Tensor, ba: tf.Tensor, kb: tf.Tensor, bb: tf.Tensor, target: tf.Tensor) => {
    const a = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [B * 4, 3]), ka), ba), [B, 4, 3]);
    let y: tf.Tensor;
    if (c.bShape) {
      let b = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [B, 12]), kb), bb), [B, ...c.bShape]);
      if (c.bOffset) b = tf.add(b, c.bOffset);
      // Keras aligns per-sample ranks on the right (its Merge layers expand dims after the batch).
      let a2: tf.Tensor = a;
      while (b.rank < a2.rank) b = tf.expandDims(b, 1);
      while (a2.rank < b.rank) a2 = tf.expandDims(a2, 1);
      y = (c.tfOp as TfOp)(a2, b);
    } else y = (c.tfOp as (a: tf.Tensor) => tf.Tensor)(a);
    return tf.mean(tf.squaredDifference(tf.reshape(y, [B, ...out]), target));
  };
}

function compare(c: Case): void {
  const { m, da, db, out } = build(c);
  const xData = randomArray(B * 12, 21);
  const target = randomArray(B * sizeOf(out), 22);
  const [ka, ba] = da.getWeights();
  const [kb, bb] = db ? db.getWeights() : [new Float32Array(12), new Float32Array(1)];
  const g = m.computeGradients(tensor(xData, [B, ...S]), tensor(target, [B, ...out]));
  const f = tfFunction(c, out);
  const t = {
    x: tf.tensor(xData, [B, ...S]), ka: tf.tensor(ka, [3, 3]), ba: tf.tensor(ba, [3]),
    kb: tf.tensor(kb, [12, kb.length / 12]), bb: tf.tensor(bb, [bb.length]), target: tf.tensor(target, [B, ...out]),
  };
  const grads = db
    ? tf.grads((x, ka2, ba2, kb2, bb2) => f(x, ka2, ba2, kb2, bb2, t.target))([t.x, t.ka, t.ba, t.kb, t.bb])
    : tf.grads((x, ka2, ba2) => f(x, ka2, ba2, t.kb, t.bb, t.target))([t.x, t.ka, t.ba]);
  const loss = f(t.x, t.ka, t.ba, t.kb, t.bb, t.target).dataSync()[0];
  expectClose(`${c.name} loss`, [g.loss], [loss]);
  expectClose(`${c.name} dx`, g.input, grads[0].dataSync());
  expectClose(`${c.name} dkernel a`, g.weights.get(`${c.name}_a/kernel`)!, grads[1].dataSync());
  expectClose(`${c.name} dbias a`, g.weights.get(`${c.name}_a/bias`)!, grads[2].dataSync());
  if (db) {
    expectClose(`${c.name} dkernel b`, g.weights.get(`${c.name}_b/kernel`)!, grads[3].dataSync());
    expectClose(`${c.name} dbias b`, g.weights.get(`${c.name}_b/bias`)!, grads[4].dataSync());
  }
  const pred = m.predict(tensor(xData, [B, ...S])).data;
  const aRef = tf.reshape(tf.add(tf.matMul(tf.reshape(t.x, [B * 4, 3]), t.ka), t.ba), [B, 4, 3]);
  if (!c.bShape) expectClose(`${c.name} y`, pred, (c.tfOp as (a: tf.Tensor) => tf.Tensor)(aRef).dataSync());
}

// tf.maximum / tf.minimum's gradients do not sum over broadcast axes in TF.js (the gradient of a
// broadcast operand comes back with the output's shape): broadcast both operands first.
const shapeOf = (a: tf.Tensor, b: tf.Tensor) => a.shape.map((d, i) => Math.max(d, b.shape[i]));
const explicit = (op: TfOp): TfOp => (a, b) => op(tf.broadcastTo(a, shapeOf(a, b)), tf.broadcastTo(b, shapeOf(a, b)));
const binary: [string, () => Layer, TfOp][] = [
  ['add', () => layers.add(), tf.add], ['subtract', () => layers.subtract(), tf.sub], ['multiply', () => layers.multiply(), tf.mul],
  ['maximum', () => layers.maximum(), explicit(tf.maximum)], ['minimum', () => layers.minimum(), explicit(tf.minimum)],
  ['atan2', () => layers.atan2(), tf.atan2],
];

describe('TF.js parity: broadcasting merges (forward loss and every gradient)', () => {
  for (const [name, layer, op] of binary) for (const bShape of [[3], [1, 3], [4, 1], [2, 4, 3]]) {
    it(`${name} [4, 3] with [${bShape}]`, () => compare({ name: `${name}${bShape.join('')}`, bShape, layer, tfOp: op }));
  }
  it('divide [4, 3] / [4, 1] (divisor offset by 3)', () => compare({ name: 'divide41', bShape: [4, 1], layer: () => layers.divide(), tfOp: tf.div, bOffset: 3 }));
  it('divide [4, 3] / [3]', () => compare({ name: 'divide3', bShape: [3], layer: () => layers.divide(), tfOp: tf.div, bOffset: 3 }));
  it('average [4, 3] and [1, 3]', () => compare({ name: 'average13', bShape: [1, 3], layer: () => layers.average(), tfOp: (a, b) => tf.div(tf.add(a, b), 2) }));
});

describe('TF.js parity: matMul of two computed tensors (tf.matMul, its broadcasting and transposes)', () => {
  const cases: [string, number[], boolean, boolean][] = [
    ['[4, 3] . [3, 2]', [3, 2], false, false], ['[4, 3] . [2, 3] transposeB', [2, 3], false, true],
    ['[4, 3] transposeA . [4, 2]', [4, 2], true, false], ['[4, 3] transposeA . [5, 4] transposeB', [5, 4], true, true],
    ['[4, 3] . [2, 3, 2] (a broadcast over b\'s stack)', [2, 3, 2], false, false],
  ];
  // tf.matMul's gradient does not sum over broadcast leading axes either: broadcast them first.
  const lead = (a: tf.Tensor, b: tf.Tensor) => [...shapeOf(a, b).slice(0, -2), ...a.shape.slice(-2)];
  cases.forEach(([title, bShape, transposeA, transposeB], i) => {
    it(title, () => compare({
      name: `matmul${i}`, bShape, layer: () => layers.matMul({ transposeA, transposeB }),
      tfOp: (a, b) => tf.matMul(tf.broadcastTo(a, lead(a, b)), tf.broadcastTo(b, lead(b, a)), transposeA, transposeB),
    }));
  });
});

describe('TF.js parity: reductions and softmax on an inner axis', () => {
  const reductions = { mean: tf.mean, sum: tf.sum, max: tf.max, min: tf.min } as const;
  for (const op of ['mean', 'sum', 'max', 'min'] as const) for (const [axis, keepdims] of [[1, true], [-1, false], [[1, 2], true]] as const) {
    it(`reduce ${op} axis ${JSON.stringify(axis)} keepdims ${keepdims}`, () => {
      const tfAxes = (Array.isArray(axis) ? axis : [axis]).map((v) => (v < 0 ? 3 + v : v));
      compare({ name: `r${op}${tfAxes.join('')}${keepdims ? 'k' : ''}`, bShape: null, layer: () => layers.reduce({ op, axis: axis as number | number[], keepdims }), tfOp: (a) => reductions[op](a, tfAxes, keepdims) });
    });
  }
  it('softmax on axis 1 of [4, 3]', () => {
    compare({ name: 'softmax1', bShape: null, layer: () => layers.softmax({ axis: 1 }), tfOp: (a) => tf.transpose(tf.softmax(tf.transpose(a, [0, 2, 1])), [0, 2, 1]) });
  });
});

describe('PyTorch autograd parity', () => {
  it('multiply [4, 3] * [1, 3] then amax over axis 1 with a tie: values and both gradients', () => {
    // y = amax(a * b, dim 1); rows 0 and 1 of a are equal and largest in column 1, so their
    // products tie for the max and split dy (PyTorch's amax rule).
    const a = randomArray(B * 12, 31);
    const bv = randomArray(B * 3, 32, 0.5, 1.5);
    setSeed(3);
    const x = input({ shape: [5, 3] });
    // Both operands come from one input [5, 3]: rows 0-3 are a, row 4 is b (sliced by constant masks summed over an axis).
    const aT = layers.constantOp({ op: 'mul', value: Float32Array.from({ length: 15 }, (_, i) => (i < 12 ? 1 : 0)), shape: [5, 3] }).apply(x);
    const bT = layers.reduce({ op: 'sum', axis: 1, keepdims: true }).apply(layers.constantOp({ op: 'mul', value: Float32Array.from({ length: 15 }, (_, i) => (i >= 12 ? 1 : 0)), shape: [5, 3] }).apply(x));
    const prod = layers.multiply().apply([aT, bT]);
    const y = layers.reduce({ op: 'max', axis: 1 }).apply(prod);
    const m = model({ inputs: x, outputs: y });
    m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError', batchSize: B });
    const xData = new Float32Array(B * 15);
    for (let i = 0; i < B; i++) { xData.set(a.subarray(i * 12, i * 12 + 12), i * 15); xData.set(bv.subarray(i * 3, i * 3 + 3), i * 15 + 12); }
    // Row 4 of the masked a is 0: keep the max over rows 0-3 by making a positive.
    for (let i = 0; i < B; i++) for (let j = 0; j < 12; j++) xData[i * 15 + j] = Math.abs(xData[i * 15 + j]) + 0.1;
    for (let i = 0; i < B; i++) { xData[i * 15 + 1] = 2; xData[i * 15 + 4] = 2; }
    const target = randomArray(B * 3, 33);
    const g = m.computeGradients(tensor(xData, [B, 5, 3]), tensor(target, [B, 3]));
    const script = `
import json, sys, torch
d = json.load(sys.stdin)
x = torch.tensor(d['x'], dtype=torch.float64).reshape(${B}, 5, 3).requires_grad_()
a, b = x[:, :4, :], x[:, 4:, :]
y = torch.amax(a * b, dim=1)
loss = ((y - torch.tensor(d['t'], dtype=torch.float64).reshape(${B}, 3)) ** 2).mean()
loss.backward()
print(json.dumps({'loss': loss.item(), 'dx': x.grad.flatten().tolist(), 'y': y.flatten().tolist()}))
`;
    const ref = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ x: Array.from(xData), t: Array.from(target) }) }).toString());
    expectClose('loss', [g.loss], [ref.loss]);
    expectClose('y', m.predict(tensor(xData, [B, 5, 3])).data, ref.y);
    expectClose('dx', g.input, ref.dx);
  });
});
