// Models with several inputs and outputs (Keras functional API), against TensorFlow.js (cpu
// backend) built with the same layers and weights: predict per output (one output an
// intermediate node that the others read too), one SGD step of an auxiliary-task model (a main
// and an auxiliary head, different losses, loss weights) and of a two-input model, the per-output
// losses in the history, the memory plan, save/load, summary and the errors for wrong x and y.
// Tolerance: 1e-5 relative, with a floor at 1e-5 of the tensor's largest magnitude.
import { describe, expect, it } from 'vitest';
import {
  compileTrainPlan, input, InvalidArgumentError, layers, loadModel, model, optimizers, planToFileBytes, setSeed, tensor, verifyPlan, type Model, type Prediction,
  type Tensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose as expectWithin, maxAbsDiff } from './support/close';
import { tf, tfl } from './tfjs';

function expectClose(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5): void {
  expectWithin(actual, expected, rtol, rtol * maxAbsDiff(expected, new Float32Array(expected.length)) + 1e-30, what);
}

const N = 6;

// input [5] -> trunk dense(8, relu) -> main dense(3, softmax) and aux dense(2); the trunk is an
// output too.
function auxTaskModel(): Model<Prediction> {
  setSeed(11);
  const x = input({ shape: [5], name: 'features' });
  const trunk = layers.dense(8, { activation: 'relu', name: 'trunk' }).apply(x);
  const main = layers.dense(3, { activation: 'softmax', name: 'main' }).apply(trunk);
  const aux = layers.dense(2, { name: 'aux' }).apply(trunk);
  const m = model({ inputs: x, outputs: [main, aux, trunk], name: 'aux_task' });
  for (const l of m.layers) l.setWeights(l.getWeights().map((w, i) => randomArray(w.length, 100 + i + 10 * l.name.length, -0.6, 0.6)));
  return m;
}

// The same model in tfjs-layers, with the same weights.
function tfjsAuxTask(m: Model<Prediction>): tfl.LayersModel {
  const x = tfl.input({ shape: [5] });
  const trunk = tfl.layers.dense({ units: 8, activation: 'relu', name: 'trunk' }).apply(x) as tfl.SymbolicTensor;
  const main = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'main' }).apply(trunk) as tfl.SymbolicTensor;
  const aux = tfl.layers.dense({ units: 2, name: 'aux' }).apply(trunk) as tfl.SymbolicTensor;
  const t = tfl.model({ inputs: x, outputs: [main, aux, trunk] });
  copyWeights(m, t);
  return t;
}

function copyWeights(m: Model<Prediction>, t: tfl.LayersModel): void {
  for (const l of m.layers) if (l.weightSpecs.length) t.getLayer(l.name).setWeights(l.getWeights().map((w, j) => tf.tensor(w, l.weightSpecs[j].shape)));
}

const data = (shape: number[], seed: number) => tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed, -1, 1), shape);

describe('multi-output models', () => {
  it('predict returns one tensor per output, in order, equal to TF.js (an intermediate output included)', () => {
    const m = auxTaskModel();
    const x = data([N, 5], 1);
    const ours = m.predict(x) as Tensor<Float32Array>[];
    const theirs = tfjsAuxTask(m).predict(tf.tensor(x.data, x.shape)) as tf.Tensor[];
    expect(ours.map((t) => t.shape)).toEqual([[N, 3], [N, 2], [N, 8]]);
    ours.forEach((t, i) => expectClose(`output ${i}`, t.data, theirs[i].dataSync()));
    expect(m.outputNames).toEqual(['main', 'aux', 'trunk']);
    // Every output stays alive to the end of the forward program, and the plan is memory-safe.
    const plan = m.plan;
    expect(verifyPlan(plan)).toEqual([]);
    const forward = plan.programs.forward!;
    for (const r of forward.outputs) expect(plan.regions[r].live![1]).toBe(forward.ops.length - 1);
    // Batches smaller than the plan's: the rows land in order.
    const twice = m.predict(x, { batchSize: 4 }) as Tensor<Float32Array>[];
    twice.forEach((t, i) => expect(t.data).toEqual(ours[i].data));
  });

  it('fit trains a main and an auxiliary head together (losses per output, lossWeights): one SGD step equals TF.js', async () => {
    const m = auxTaskModel();
    const aux = model({ inputs: m.inputs, outputs: [m.getLayer('main').output, m.getLayer('aux').output] });
    const x = data([N, 5], 2);
    const classes = Int32Array.from({ length: N }, (_, i) => (i * 2) % 3);
    const targets = data([N, 2], 3);
    const full = tfjsAuxTask(m);
    const t = tfl.model({ inputs: full.inputs, outputs: full.outputs.slice(0, 2) });
    aux.compile({ optimizer: optimizers.sgd(0.1), loss: { main: 'sparseCategoricalCrossentropy', aux: 'meanSquaredError' }, lossWeights: [1, 0.3], metrics: ['accuracy'] });
    const history = await aux.fit(x, [tensor(classes, [N]), targets], { batchSize: N, epochs: 1, shuffle: false, verbose: 0 });
    // tfjs-layers ignores lossWeights (its training.js: "TODO(cais): Add lossWeights"), so the
    // oracle weights the auxiliary loss itself; its aux_loss is then the weighted one.
    const auxLoss = (yt: tf.Tensor, yp: tf.Tensor) => tf.mul(0.3, tfl.metrics.meanSquaredError(yt, yp));
    t.compile({ optimizer: tf.train.sgd(0.1), loss: ['categoricalCrossentropy', auxLoss] });
    const onehot = tf.cast(tf.oneHot(tf.tensor1d(classes, 'int32'), 3), 'float32');
    const h = await t.fit(tf.tensor(x.data, x.shape), [onehot, tf.tensor(targets.data, targets.shape)], { batchSize: N, epochs: 1, shuffle: false, verbose: 0 });
    for (const name of ['trunk', 'main', 'aux']) {
      const theirs = t.getLayer(name).getWeights();
      aux.getLayer(name).getWeights().forEach((w, j) => expectClose(`${name} weight ${j}`, w, theirs[j].dataSync()));
    }
    expectClose('loss', history.history.loss, h.history.loss as number[]);
    expectClose('main_loss', history.history.main_loss, h.history.main_loss as number[]);
    expectClose('aux_loss', history.history.aux_loss.map((v) => 0.3 * v), h.history.aux_loss as number[]);
    expect(history.history.loss[0]).toBeCloseTo(history.history.main_loss[0] + 0.3 * history.history.aux_loss[0], 5);
    expect(Object.keys(history.history)).toEqual(['loss', 'main_loss', 'main_accuracy', 'aux_loss', 'learning_rate']);
    // The training plan: a labels region per output, the metrics region alive to the end, memory-safe.
    const plan = aux.plan;
    expect(verifyPlan(plan)).toEqual([]);
    expect(plan.outputs.map((o) => plan.regions[o.labelsRegion!].name)).toEqual(['labels main', 'labels aux']);
    const train = plan.programs.train!;
    expect(plan.regions[train.metrics!].live![1]).toBe(train.ops.length - 1);
    // evaluate reports the same figures by name, over several batches too.
    const e1 = aux.evaluate(x, { main: tensor(classes, [N]), aux: targets }, { batchSize: N });
    const e2 = aux.evaluate(x, [tensor(classes, [N]), targets], { batchSize: 4 });
    for (const k of ['loss', 'main_loss', 'aux_loss', 'main_accuracy']) expect(e2[k]).toBeCloseTo(e1[k]!, 6);
    expect(e1.loss).toBeCloseTo(e1.main_loss! + 0.3 * e1.aux_loss!, 6);
  });

  it('an intermediate output keeps its own value: nothing is fused into a convolution or softmax that is an output', () => {
    // conv -> BN -> ReLU -> 2x2 max pooling fuses into one kernel when nothing reads the middle;
    // here the convolution is an output, and the softmax output is also read by a dense layer.
    setSeed(3);
    const x = input({ shape: [6, 6, 2] });
    const conv = layers.conv2d(3, { kernelSize: 3, padding: 'same', name: 'conv' }).apply(x);
    const bn = layers.batchNormalization({ name: 'bn' }).apply(conv);
    const pool = layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(layers.relu({ name: 'act' }).apply(bn));
    const probs = layers.dense(4, { activation: 'softmax', name: 'probs' }).apply(layers.flatten({ name: 'flat' }).apply(pool));
    const after = layers.dense(2, { name: 'after' }).apply(probs);
    const m = model({ inputs: x, outputs: [conv, pool, probs, after] });
    for (const l of m.layers) l.setWeights(l.getWeights().map((w, i) => randomArray(w.length, 40 + i + l.name.length, l.name === 'bn' && i === 3 ? 0.5 : -0.8, 1.2)));
    const tx = tfl.input({ shape: [6, 6, 2] });
    const tconv = tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }).apply(tx) as tfl.SymbolicTensor;
    const tbn = tfl.layers.batchNormalization({ name: 'bn' }).apply(tconv) as tfl.SymbolicTensor;
    const tpool = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(tfl.layers.reLU().apply(tbn)) as tfl.SymbolicTensor;
    const tprobs = tfl.layers.dense({ units: 4, activation: 'softmax', name: 'probs' }).apply(tfl.layers.flatten().apply(tpool)) as tfl.SymbolicTensor;
    const tafter = tfl.layers.dense({ units: 2, name: 'after' }).apply(tprobs) as tfl.SymbolicTensor;
    const t = tfl.model({ inputs: tx, outputs: [tconv, tpool, tprobs, tafter] });
    copyWeights(m, t);
    const xs = data([2, 6, 6, 2], 21);
    const theirs = t.predict(tf.tensor(xs.data, xs.shape)) as tf.Tensor[];
    (m.predict(xs) as Tensor<Float32Array>[]).forEach((o, i) => expectClose(`output ${i}`, o.data, theirs[i].dataSync()));
    // Training with a loss on the softmax output that another layer reads: gradients equal TF.js's.
    m.compile({ optimizer: 'sgd', loss: ['mse', 'mse', 'categoricalCrossentropy', 'mse'], lossWeights: [0, 0, 1, 0.5] });
    const ys = [data([2, 6, 6, 3], 22), data([2, 3, 3, 3], 23), tensor(Float32Array.from([0, 1, 0, 0, 0, 0, 0, 1]), [2, 4]), data([2, 2], 24)];
    const ours = m.computeGradients(xs, ys);
    const vars = t.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => {
      const [, , p, a] = t.apply(tf.tensor(xs.data, xs.shape), { training: true }) as tf.Tensor[];
      const xent = tf.mean(tfl.metrics.categoricalCrossentropy(tf.tensor(ys[2].data, ys[2].shape), p));
      return tf.add(xent, tf.mul(0.5, tf.mean(tfl.metrics.meanSquaredError(tf.tensor(ys[3].data, ys[3].shape), a)))) as tf.Scalar;
    }, vars);
    for (const name of ['probs/kernel', 'after/kernel', 'conv/kernel']) {
      const v = t.trainableWeights.find((w) => w.originalName.startsWith(`${name.split('/')[0]}/${name.split('/')[1]}`))!;
      expectClose(`d ${name}`, ours.weights.get(name)!, grads[v.name].dataSync(), 1e-4);
    }
  });

  it('save/load keeps the outputs, their order and the per-output training configuration', async () => {
    const m = auxTaskModel();
    m.compile({ optimizer: 'sgd', loss: ['sparseCategoricalCrossentropy', 'meanSquaredError', 'meanSquaredError'], lossWeights: [1, 0.5, 0] });
    const loaded = await loadModel(m.toBytes()) as unknown as Model<Prediction>;
    expect(loaded.outputNames).toEqual(m.outputNames);
    expect(loaded.compileConfig!.lossWeights).toEqual([1, 0.5, 0]);
    const x = data([3, 5], 4);
    const a = m.predict(x) as Tensor<Float32Array>[];
    const b = loaded.predict(x) as Tensor<Float32Array>[];
    expect(b.length).toBe(3);
    a.forEach((t, i) => expect(b[i].data).toEqual(t.data));
    const y = [tensor(Int32Array.from([0, 1, 2]), [3]), data([3, 2], 5), data([3, 8], 6)];
    expect(loaded.evaluate(x, y)).toEqual(m.evaluate(x, y));
  });

  it('summary lists the input and what each layer is connected to', () => {
    const text = auxTaskModel().summary(null);
    expect(text).toMatch(/features \(InputLayer\)\s+\(None, 5\)/);
    expect(text).toMatch(/Connected to/);
    expect(text).toMatch(/main \(dense\)\s+\(None, 3\)\s+27\s+yes\s+trunk\[0\]\[0\]/);
    expect(text).toMatch(/trunk \(dense\)\s+\(None, 8\)\s+48\s+yes\s+features\[0\]\[0\]/);
  });
});

// Two inputs: a dense branch on each, concatenated, then a dense output.
function twoInputModel(): Model {
  setSeed(5);
  const a = input({ shape: [4], name: 'left' });
  const b = input({ shape: [3], name: 'right' });
  const ha = layers.dense(5, { activation: 'tanh', name: 'branch_a' }).apply(a);
  const hb = layers.dense(6, { activation: 'relu', name: 'branch_b' }).apply(b);
  const out = layers.dense(2, { name: 'head' }).apply(layers.concatenate({ name: 'joined' }).apply([ha, hb]));
  const m = model({ inputs: [a, b], outputs: out });
  for (const l of m.layers) l.setWeights(l.getWeights().map((w, i) => randomArray(w.length, 300 + i + 7 * l.name.length, -0.7, 0.7)));
  return m;
}

function tfjsTwoInput(m: Model): tfl.LayersModel {
  const a = tfl.input({ shape: [4] });
  const b = tfl.input({ shape: [3] });
  const ha = tfl.layers.dense({ units: 5, activation: 'tanh', name: 'branch_a' }).apply(a) as tfl.SymbolicTensor;
  const hb = tfl.layers.dense({ units: 6, activation: 'relu', name: 'branch_b' }).apply(b) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate().apply([ha, hb]) as tfl.SymbolicTensor;
  const t = tfl.model({ inputs: [a, b], outputs: tfl.layers.dense({ units: 2, name: 'head' }).apply(joined) as tfl.SymbolicTensor });
  copyWeights(m as Model<Prediction>, t);
  return t;
}

describe('multi-input models', () => {
  it('predict (array or name map) and one SGD step of fit equal TF.js', async () => {
    const m = twoInputModel();
    const xa = data([N, 4], 7);
    const xb = data([N, 3], 8);
    const y = data([N, 2], 9);
    const t = tfjsTwoInput(m);
    const theirs = t.predict([tf.tensor(xa.data, xa.shape), tf.tensor(xb.data, xb.shape)]) as tf.Tensor;
    const ours = m.predict([xa, xb]);
    expect(ours.shape).toEqual([N, 2]);
    expectClose('predict', ours.data, theirs.dataSync());
    expect(m.predict({ right: xb, left: xa }).data).toEqual(ours.data);
    m.compile({ optimizer: optimizers.sgd(0.05), loss: 'mse' });
    const history = await m.fit([xa, xb], y, { batchSize: N, epochs: 1, shuffle: false, verbose: 0 });
    t.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const h = await t.fit([tf.tensor(xa.data, xa.shape), tf.tensor(xb.data, xb.shape)], tf.tensor(y.data, y.shape), { batchSize: N, epochs: 1, shuffle: false, verbose: 0 });
    expectClose('loss', history.history.loss, h.history.loss as number[]);
    for (const name of ['branch_a', 'branch_b', 'head']) {
      const w = t.getLayer(name).getWeights();
      m.getLayer(name).getWeights().forEach((v, j) => expectClose(`${name} weight ${j}`, v, w[j].dataSync()));
    }
    // Both inputs get their gradient.
    const g = m.computeGradients([xa, xb], y);
    expect(g.inputs.map((v) => v.length)).toEqual([N * 4, N * 3]);
    expect(g.inputs.every((v) => v.some((e) => e !== 0))).toBe(true);
  });

  it('save/load round-trips the inputs in order', async () => {
    const m = twoInputModel();
    const loaded = await loadModel(m.toBytes());
    expect(loaded.inputNames).toEqual(['left', 'right']);
    const x = [data([2, 4], 10), data([2, 3], 11)];
    expect(loaded.predict(x).data).toEqual(m.predict(x).data);
  });

  it('wrong numbers of x and y arrays, unknown names, disconnected inputs and the WASI plan file are refused, naming what was expected', () => {
    const m = twoInputModel();
    const xa = data([2, 4], 12);
    expect(() => m.predict(xa)).toThrow(InvalidArgumentError);
    expect(() => m.predict(xa)).toThrow(/2 inputs \(left, right\)/);
    expect(() => m.predict([xa])).toThrow(/expected 2 inputs \(left, right\), got an array of 1/);
    expect(() => m.predict({ left: xa, middle: xa })).toThrow(/no input named 'middle'/);
    expect(() => m.predict([xa, data([3, 3], 13)])).toThrow(/input 'right' has 3 samples but input 'left' has 2/);
    const aux = auxTaskModel();
    expect(() => aux.compile({ optimizer: 'sgd', loss: ['mse', 'mse'] })).toThrow(/2 losses for a model with 3 outputs \(main, aux, trunk\)/);
    expect(() => aux.compile({ optimizer: 'sgd', loss: { main: 'mse', head: 'mse' } })).toThrow(/'head', which is not an output/);
    expect(() => aux.compile({ optimizer: 'sgd', loss: 'mse', lossWeights: { main: 1 } })).toThrow(/no entry for output 'aux'/);
    aux.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = data([2, 5], 14);
    expect(() => aux.evaluate(x, [data([2, 3], 15), data([2, 2], 16)])).toThrow(/expected 3 targets \(main, aux, trunk\), got an array of 2/);
    expect(() => aux.evaluate(x, data([2, 3], 15))).toThrow(/3 targets \(main, aux, trunk\): pass an array/);
    expect(() => planToFileBytes(aux.plan)).toThrow(/one input and one output.*3 outputs \(main, aux, trunk\)/);
    expect(() => compileTrainPlan(aux, { batch: 2 })).toThrow(/1 inputs and 3 outputs; the WASI runner trains models with one input and one output/);
    const a = input({ shape: [2], name: 'used' });
    const b = input({ shape: [2], name: 'unused' });
    expect(() => model({ inputs: [a, b], outputs: layers.dense(1).apply(a) })).toThrow(/input 'unused' is not connected to any of the model's outputs/);
  });
});
