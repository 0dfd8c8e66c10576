// The shape and re-layout layers (permute, slice, pad, concatenate on any axis, depthToSpace /
// spaceToDepth, tile, gather), all lowered onto the strided N-D copy (host/compile/nd-copy.ts):
// finite differences through a trainable model, forward and input gradient against TensorFlow.js
// (its ops and tf.grad, written from TF's definitions; ONNX's CRD order and edge padding as
// reshape/transpose and gather compositions of TF ops), Keras JSON save/load, and typed errors
// for bad configs.
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError, input, layers, loadModel, model, optimizers, readSafetensors, ShapeError, tensor, verifyPlan, type Layer, type SymbolicTensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';
import { fdCheck, problem } from './support/layer-fd';
import { tf, tfl } from './tfjs';
import { toTfjsLayersModel } from '../host/formats/export-tfjs';

type Sym = SymbolicTensor;
const tanhConv = (filters = 3) => (t: Sym) => layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(t);
const through = (l: Layer, before?: (t: Sym) => Sym) => (t: Sym) => l.apply(before ? before(t) : t);

describe('finite differences through each shape layer (after a convolution, so its weights see the backward too)', () => {
  it('permute of 3 axes (channels first) and of 4 axes', () => {
    fdCheck(problem([4, 5, 2], 2, through(layers.permute([3, 1, 2]), tanhConv())));
    fdCheck(problem([2, 3, 2, 2], 3, through(layers.permute([4, 2, 1, 3]))));
  });
  it('slice with begin, end and strides (negative begin, clamped end)', () => {
    fdCheck(problem([5, 6, 3], 2, through(layers.slice({ begin: [1, -5, 0], end: [5, 99, 3], strides: [2, 2, 1] }), tanhConv())));
  });
  for (const mode of ['constant', 'reflect', 'symmetric', 'edge'] as const) {
    it(`pad '${mode}' on height, width and channels (corners mirror the mirrored)`, () => {
      const paddings: [number, number][] = [[2, 1], [1, 2], [1, 0]];
      fdCheck(problem([4, 3, 3], 2, through(layers.pad({ paddings, mode, ...(mode === 'constant' ? { constantValue: 0.25 } : {}) }), tanhConv())));
    });
  }
  it('concatenate on axes 1, 2 and 3 (two branches, the input feeding both)', () => {
    for (const axis of [1, 2, -1]) {
      fdCheck(problem([4, 3, 2], 2, (t) => layers.concatenate({ axis }).apply([tanhConv(2)(t), layers.slice({ begin: [0, 0, 0], end: [4, 3, 2] }).apply(t)])));
    }
  });
  it('depthToSpace DCR and CRD, spaceToDepth', () => {
    fdCheck(problem([2, 3, 8], 2, through(layers.depthToSpace({ blockSize: 2 }), tanhConv(8))));
    fdCheck(problem([2, 3, 8], 2, through(layers.depthToSpace({ blockSize: 2, mode: 'CRD' }), tanhConv(8))));
    fdCheck(problem([4, 6, 2], 2, through(layers.spaceToDepth(2), tanhConv(2))));
  });
  it('tile (the backward sums the tiles)', () => {
    fdCheck(problem([3, 2, 2], 2, through(layers.tile([2, 1, 3]), tanhConv(2))));
  });
  it('gather with repeated and negative indices (scatter-add), on channels and on height; a single index drops the axis', () => {
    fdCheck(problem([3, 4, 3], 2, through(layers.gather({ indices: [2, 0, 2, -1, 1], axis: -1 }), tanhConv())));
    fdCheck(problem([4, 3, 2], 2, through(layers.gather({ indices: [3, 1, 1, 0], axis: 1 }), tanhConv(2))));
    fdCheck(problem([4, 3, 2], 2, through(layers.gather({ indices: -2, axis: 2 }), tanhConv(2))));
  });
});

// TF.js's counterpart of each layer on a batch x (batch axis first). TF.js has no gradient for
// StridedSlice and DepthToSpace, none for Tile above rank 5, and its MirrorPad gradient only slices
// dy (it drops the mirrored taps), so `grad` is the same function written as gathers, reshapes and
// transposes, whose gradients TF.js has (gather's is a scatter-add); the forward compares both.
interface Case { name: string; shape: number[]; layer: () => Layer; tf: (x: tf.Tensor) => tf.Tensor; grad?: (x: tf.Tensor) => tf.Tensor }
const batchPad = (p: [number, number][]) => [[0, 0], ...p] as [number, number][];
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
// Gathers along every per-sample axis k the indices pick(k, n), n its size.
const gatherAxes = (x: tf.Tensor, pick: (k: number, n: number) => number[]) => x.shape.slice(1).reduce((t, n, k) => tf.gather(t, pick(k, n), k + 1), x);
// Padding as a gather of the source index of each output index per axis.
function padByGather(x: tf.Tensor, p: [number, number][], mode: 'reflect' | 'symmetric' | 'edge'): tf.Tensor {
  return gatherAxes(x, (k, n) => range(p[k][0] + n + p[k][1], (i) => {
    const j = i - p[k][0];
    if (mode === 'edge') return Math.min(Math.max(j, 0), n - 1);
    const e = mode === 'reflect' ? 0 : 1;
    return j < 0 ? -j - e : j >= n ? 2 * n - 2 + e - j : j;
  }));
}
const toSpaceDcr = (x: tf.Tensor, b: number) => {
  const [n, h, w, c] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [n, h, w, b, b, c / (b * b)]), [0, 1, 3, 2, 4, 5]), [n, h * b, w * b, c / (b * b)]);
};
const mirror = (name: string, mode: 'reflect' | 'symmetric', shape: number[], p: [number, number][]): Case => ({
  name, shape, layer: () => layers.pad({ paddings: p, mode }), tf: (x) => tf.mirrorPad(x, batchPad(p), mode), grad: (x) => padByGather(x, p, mode),
});
const CASES: Case[] = [
  { name: 'permute [3, 1, 2]', shape: [3, 4, 5], layer: () => layers.permute([3, 1, 2]), tf: (x) => tf.transpose(x, [0, 3, 1, 2]) },
  { name: 'permute [5, 3, 1, 4, 2] (rank 5)', shape: [2, 1, 3, 2, 2], layer: () => layers.permute([5, 3, 1, 4, 2]), tf: (x) => tf.transpose(x, [0, 5, 3, 1, 4, 2]) },
  { name: 'permute [2, 4, 3, 1] (rank 4)', shape: [2, 3, 4, 2], layer: () => layers.permute([2, 4, 3, 1]), tf: (x) => tf.transpose(x, [0, 2, 4, 3, 1]) },
  {
    name: 'slice', shape: [6, 5, 4], layer: () => layers.slice({ begin: [1, -4, 0], end: [6, 100, 3], strides: [2, 1, 2] }),
    tf: (x) => tf.stridedSlice(x, [0, 1, 1, 0], [x.shape[0], 6, 5, 3], [1, 2, 1, 2]),
    grad: (x) => gatherAxes(x, (k) => [[1, 3, 5], [1, 2, 3, 4], [0, 2]][k]),
  },
  { name: 'pad constant 0.5', shape: [3, 4, 2], layer: () => layers.pad({ paddings: [[1, 2], [0, 3], [2, 1]], constantValue: 0.5 }), tf: (x) => tf.pad(x, batchPad([[1, 2], [0, 3], [2, 1]]), 0.5) },
  mirror('pad reflect', 'reflect', [4, 5, 3], [[3, 1], [2, 4], [0, 2]]),
  mirror('pad symmetric', 'symmetric', [4, 5, 3], [[4, 1], [2, 5], [1, 3]]),
  { name: 'pad edge', shape: [3, 4, 2], layer: () => layers.pad({ paddings: [[2, 3], [1, 0], [1, 2]], mode: 'edge' }), tf: (x) => padByGather(x, [[2, 3], [1, 0], [1, 2]], 'edge') },
  { name: 'depthToSpace DCR', shape: [2, 3, 12], layer: () => layers.depthToSpace(2), tf: (x) => tf.depthToSpace(x as tf.Tensor4D, 2, 'NHWC'), grad: (x) => toSpaceDcr(x, 2) },
  {
    name: 'depthToSpace CRD (ONNX)', shape: [2, 3, 18], layer: () => layers.depthToSpace({ blockSize: 3, mode: 'CRD' }),
    tf: (x) => { const [n, h, w, c] = x.shape; return tf.reshape(tf.transpose(tf.reshape(x, [n, h, w, c / 9, 3, 3]), [0, 1, 4, 2, 5, 3]), [n, h * 3, w * 3, c / 9]); },
  },
  {
    name: 'spaceToDepth', shape: [4, 6, 3], layer: () => layers.spaceToDepth(2),
    tf: (x) => { const [n, h, w, c] = x.shape; return tf.reshape(tf.transpose(tf.reshape(x, [n, h / 2, 2, w / 2, 2, c]), [0, 1, 3, 2, 4, 5]), [n, h / 2, w / 2, 4 * c]); },
  },
  { name: 'tile', shape: [2, 3, 2], layer: () => layers.tile([3, 1, 2]), tf: (x) => tf.tile(x, [1, 3, 1, 2]) },
  {
    name: 'tile rank 5 (more axes than one op takes)', shape: [2, 1, 2, 2, 3], layer: () => layers.tile([2, 3, 2, 2, 2]), tf: (x) => tf.tile(x, [1, 2, 3, 2, 2, 2]),
    grad: (x) => gatherAxes(x, (k, n) => range(n * [2, 3, 2, 2, 2][k], (i) => i % n)),
  },
  { name: 'gather channels, repeated and negative', shape: [2, 3, 5], layer: () => layers.gather({ indices: [4, 0, -1, 2, 2, 3], axis: -1 }), tf: (x) => tf.gather(x, [4, 0, 4, 2, 2, 3], 3) },
  { name: 'gather one index on width', shape: [2, 4, 3], layer: () => layers.gather({ indices: 1, axis: 2 }), tf: (x) => tf.gather(x, 1, 2) },
];

// An edgetune model of one layer with a mean squared error loss, and its loss and input gradient.
function gradients(l: Layer, shape: number[], x: Float32Array, target: Float32Array, batch: number) {
  const inp = input({ shape });
  const m = model({ inputs: inp, outputs: l.apply(inp) });
  m.compile({ optimizer: optimizers.sgd(), loss: 'meanSquaredError', batchSize: 4 });
  const xt = tensor(x, [batch, ...shape]);
  const y = m.predict(xt);
  const g = m.computeGradients(xt, tensor(target, y.shape));
  return { m, y, g };
}

describe('forward and input gradient against TensorFlow.js (batch 3 of a plan for 4)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const batch = 3;
      const x = randomArray(batch * c.shape.reduce((a, b) => a * b, 1), 5);
      const xt = tf.tensor(x, [batch, ...c.shape]);
      const ref = c.tf(xt);
      const target = randomArray(ref.size, 6);
      const { y, g } = gradients(c.layer(), c.shape, x, target, batch);
      expect(y.shape).toEqual(ref.shape);
      expect(Array.from(y.data)).toEqual(Array.from(ref.dataSync())); // a copy: bit-exact
      const f = c.grad ?? c.tf;
      if (c.grad) expect(Array.from(c.grad(xt).dataSync())).toEqual(Array.from(ref.dataSync()));
      const t = tf.tensor(target, ref.shape);
      const loss = (v: tf.Tensor) => tf.mean(tf.square(tf.sub(f(v), t)));
      expect(g.loss).toBeCloseTo(loss(xt).dataSync()[0], 5);
      expectClose(g.input, tf.grad(loss)(xt).dataSync(), 1e-5, 1e-7, `${c.name} dx`);
    });
  }
  it('concatenate on axis 1 and 2 of the input and its slice (both gradients into one input)', () => {
    for (const axis of [1, 2]) {
      const shape = [3, 4, 2], batch = 2;
      const inp = input({ shape });
      const part = layers.slice({ begin: [1, 0, 0], end: [3, 4, 2] }).apply(inp);
      const out = layers.concatenate({ axis }).apply([axis === 1 ? inp : layers.slice({ begin: [0, 0, 0], end: [2, 4, 2] }).apply(inp), axis === 1 ? part : part]);
      const m = model({ inputs: inp, outputs: out });
      m.compile({ optimizer: optimizers.sgd(), loss: 'meanSquaredError', batchSize: 2 });
      const x = randomArray(batch * 24, 9);
      const f = (v: tf.Tensor) => tf.concat([axis === 1 ? v : tf.slice(v, [0, 0, 0, 0], [-1, 2, 4, 2]), tf.slice(v, [0, 1, 0, 0], [-1, 2, 4, 2])], axis);
      const xt = tf.tensor(x, [batch, ...shape]);
      const ref = f(xt);
      expect(Array.from(m.predict(tensor(x, [batch, ...shape])).data)).toEqual(Array.from(ref.dataSync()));
      const target = randomArray(ref.size, 10);
      const g = m.computeGradients(tensor(x, [batch, ...shape]), tensor(target, ref.shape));
      const t = tf.tensor(target, ref.shape);
      expectClose(g.input, tf.grad((v: tf.Tensor) => tf.mean(tf.square(tf.sub(f(v), t))))(xt).dataSync(), 1e-5, 1e-7, `axis ${axis}`);
    }
  });
});

// A model through every shape layer: conv -> depthToSpace (CRD) -> spaceToDepth -> pad reflect ->
// slice -> permute -> tile -> gather -> concatenate on height -> pad constant -> dense readout.
function everyShapeLayer(): { m: ReturnType<typeof model>; x: Float32Array } {
  const inp = input({ shape: [4, 4, 3] });
  let t = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(inp);
  t = layers.depthToSpace({ blockSize: 2, mode: 'CRD' }).apply(t);
  t = layers.spaceToDepth(2).apply(t);
  t = layers.pad({ paddings: [[1, 2], [2, 1], [0, 0]], mode: 'reflect' }).apply(t);
  t = layers.slice({ begin: [0, 1, 0], end: [7, 7, 8], strides: [2, 1, 3] }).apply(t);
  t = layers.permute([2, 1, 3]).apply(t);
  t = layers.tile([1, 2, 1]).apply(t);
  t = layers.gather({ indices: [2, 0, 2], axis: -1 }).apply(t);
  t = layers.concatenate({ axis: 1 }).apply([t, layers.gather({ indices: [-1], axis: 1 }).apply(t)]);
  t = layers.pad({ paddings: [[0, 1], [1, 0], [0, 0]], constantValue: -0.5 }).apply(t);
  const out = layers.dense(3, { activation: 'softmax' }).apply(layers.flatten().apply(t));
  const m = model({ inputs: inp, outputs: out });
  m.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
  return { m, x: randomArray(5 * 48, 21) };
}

describe('save, load, train', () => {
  it('a model through every shape layer round-trips its Keras JSON and predicts the same; its plan verifies', async () => {
    const { m, x } = everyShapeLayer();
    expect(verifyPlan(m.plan)).toEqual([]);
    const bytes = m.toBytes();
    const topology = readSafetensors(bytes).metadata.topology;
    for (const c of ['"Permute"', '"edgetune>Slice"', '"edgetune>Pad"', '"edgetune>DepthToSpace"', '"edgetune>SpaceToDepth"', '"edgetune>Tile"', '"edgetune>Gather"', '"Concatenate"']) {
      expect(topology).toContain(c);
    }
    const loaded = await loadModel(bytes);
    expect(loaded.layers.map((l) => [l.kind, l.config])).toEqual(m.layers.map((l) => [l.kind, l.config]));
    const xt = tensor(x, [5, 4, 4, 3]);
    expect(loaded.predict(xt).data).toEqual(m.predict(xt).data);
  });

  it('the plan checker holds nd_copy to its footprint: a stride walking out of its region, or a negative box size, is refused', () => {
    const { m } = everyShapeLayer();
    const ops = m.plan.programs.train!.ops;
    // The reflected borders: an x stride that walks backwards.
    const at = ops.findIndex((o) => o.op === 'nd_copy' && [1, 2, 3, 4, 5].some((k) => o.args[`xs${k}`] < 0));
    expect(at).toBeGreaterThanOrEqual(0);
    const keep = { ...ops[at].args };
    const k = [1, 2, 3, 4, 5].find((j) => keep[`xs${j}`] < 0)!;
    ops[at].args[`xs${k}`] = -1_000_000;
    expect(verifyPlan(m.plan).join('\n')).toMatch(new RegExp(`train op ${at} \\(nd_copy, .*\\) argument 'x' touches`));
    ops[at].args = { ...keep, d1: -1 };
    expect(verifyPlan(m.plan).join('\n')).toMatch(new RegExp(`train op ${at} \\(nd_copy, .*\\) argument 'd1' is -1, not a size`));
    ops[at].args = keep;
    expect(verifyPlan(m.plan)).toEqual([]);
  });

  it('trains through them: fit lowers the loss on a small problem (batch 5 in plans for 4)', async () => {
    const { m, x } = everyShapeLayer();
    const y = tensor(new Int32Array([0, 1, 2, 0, 1]), [5]);
    const h = await m.fit(tensor(x, [5, 4, 4, 3]), y, { epochs: 15, batchSize: 4, shuffle: false });
    const loss = h.history.loss;
    expect(loss[loss.length - 1]).toBeLessThan(0.7 * loss[0]);
  });
});

describe('TF.js layers export', () => {
  it('Permute and Concatenate on axis 1 load in tfjs-layers and predict the same; edgetune-only kinds are refused by name', async () => {
    const inp = input({ shape: [2, 3, 4] });
    const p = layers.permute([3, 1, 2]).apply(inp);
    const out = layers.concatenate({ axis: 1 }).apply([p, layers.permute([2, 1, 3]).apply(layers.permute([1, 3, 2]).apply(inp))]);
    const m = model({ inputs: inp, outputs: out, name: 'perm' });
    const art = toTfjsLayersModel(m as never);
    const manifest = (art.modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[]).flatMap((g) => g.weights);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(art.modelJson.modelTopology as object, manifest, new ArrayBuffer(0)));
    const x = randomArray(2 * 24, 3);
    expect(Array.from(m.predict(tensor(x, [2, 2, 3, 4])).data)).toEqual(Array.from((loaded.predict(tf.tensor(x, [2, 2, 3, 4])) as tf.Tensor).dataSync()));
    for (const l of [layers.slice({ begin: [0, 0, 0], end: [1, 3, 4] }), layers.pad({ paddings: [[1, 1], [0, 0], [0, 0]] }), layers.tile([1, 1, 2]), layers.gather({ indices: [0] }), layers.spaceToDepth(1), layers.depthToSpace(1)]) {
      const i2 = input({ shape: [2, 3, 4] });
      const m2 = model({ inputs: i2, outputs: l.apply(i2) });
      expect(() => toTfjsLayersModel(m2 as never)).toThrow(new RegExp(`layer '${l.name}' \\(edgetune>\\w+\\) has no TF.js layers counterpart`));
    }
  });
});

describe('bad configs: typed errors naming the layer', () => {
  const on = (shape: number[], l: Layer) => () => l.apply(input({ shape }));
  it('refused when made (InvalidArgumentError)', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => layers.permute([1, 1, 2], { name: 'p1' }), /p1: dims must be a permutation of 1\.\.n/],
      [() => layers.permute({ dims: [1, 2], nmae: 'x' } as never), /unknown option 'nmae' for layers\.permute; did you mean 'name'/],
      [() => layers.slice({ name: 's1', begin: [0, 0], end: [1] }), /s1: begin, end and strides need one entry per per-sample axis/],
      [() => layers.slice({ name: 's2', begin: [0], end: [1], strides: [0] }), /s2: strides must be a list of positive integers, got \[0\]/],
      [() => layers.pad({ name: 'pd', paddings: [[1, -1]] }), /pd: paddings must be a list of non-negative integers/],
      [() => layers.pad({ name: 'pm', paddings: [[1, 1]], mode: 'wrap' as never }), /pm: mode must be one of constant, reflect, symmetric, edge/],
      [() => layers.pad({ name: 'pv', paddings: [[1, 1]], mode: 'reflect', constantValue: 1 }), /pv: constantValue is for mode 'constant'/],
      [() => layers.depthToSpace({ name: 'd1', blockSize: 2, mode: 'RDC' as never }), /d1: mode must be 'DCR' or 'CRD'/],
      [() => layers.spaceToDepth(0, { name: 's0' }), /s0: blockSize must be a positive integer/],
      [() => layers.tile([2, 0], { name: 't0' }), /t0: multiples must be a list of positive integers/],
      [() => layers.gather({ name: 'g0', indices: [0], axis: 0 }), /g0: axis must be a non-batch axis \(not 0\)/],
      [() => layers.gather({ name: 'g1', indices: [0.5] }), /g1: indices must be a list of integers/],
      [() => layers.concatenate({ name: 'c0', axis: 0 }), /c0: axis must be a non-batch axis \(not 0\)/],
    ];
    for (const [f, message] of bad) expect(f).toThrow(InvalidArgumentError), expect(f).toThrow(message);
  });
  it('refused when applied to a shape that does not fit (ShapeError)', () => {
    const bad: [() => unknown, RegExp][] = [
      [on([2, 3], layers.permute([2, 1, 3], { name: 'p2' })), /p2 \(permute\): dims \[2,1,3\] permute 3 axes but the input has 2/],
      [on([4, 4], layers.slice({ name: 's3', begin: [5, 0], end: [9, 4] })), /s3 \(slice\): the slice of \[4,4\] is empty/],
      [on([3, 4], layers.pad({ name: 'pr', paddings: [[3, 0], [0, 0]], mode: 'reflect' })), /pr \(pad\): mode 'reflect' pads axis 1 of size 3 by at most 2 per side/],
      [on([2, 2, 6], layers.depthToSpace(2, { name: 'd2' })), /d2 \(depthToSpace\): needs a \(height, width, channels\) input with channels a multiple of 4/],
      [on([3, 4, 1], layers.spaceToDepth(2, { name: 's4' })), /s4 \(spaceToDepth\): needs a \(height, width, channels\) input with height and width multiples of 2/],
      [on([2, 3], layers.tile([2], { name: 't1' })), /t1 \(tile\): multiples \[2\] has 1 entries/],
      [on([2, 3], layers.gather({ name: 'g2', indices: [3], axis: -1 })), /g2 \(gather\): index 3 is out of range for axis -1 of size 3/],
      [on([2, 3], layers.gather({ name: 'g3', indices: [0], axis: 3 })), /g3 \(gather\): axis 3 is not a per-sample axis/],
    ];
    for (const [f, message] of bad) expect(f).toThrow(ShapeError), expect(f).toThrow(message);
    const t = input({ shape: [2, 3] });
    expect(() => layers.concatenate({ name: 'c1', axis: 1 }).apply([t, input({ shape: [2, 4] })])).toThrow(/c1 \(concatenate\): inputs \[\[2,3\], \[2,4\]\] differ on an axis other than 1/);
    expect(() => layers.concatenate({ name: 'c2', axis: 3 }).apply([t, t])).toThrow(ShapeError);
  });
});
