// Reusing layers across models: a functional sub-model from getLayer(name).output, layers taken
// with model.layers.slice() into another functional model, freeze(untilLayerName). Outputs are
// checked against the dense formula computed here from the layers' weights.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, input, layers, model, optimizers, sequential, setSeed, tensor } from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose } from './support/close';

// relu?(x . W + b) for x (n, k), W (k, m) row-major.
function denseRef(x: Float32Array, n: number, w: Float32Array, b: Float32Array, relu: boolean): Float32Array {
  const k = w.length / b.length;
  const m = b.length;
  const y = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = b[j];
    for (let p = 0; p < k; p++) s += x[i * k + p] * w[p * m + j];
    y[i * m + j] = relu ? Math.max(s, 0) : s;
  }
  return y;
}

function base() {
  setSeed(7);
  const x = input({ shape: [6] });
  const h1 = layers.dense(8, { activation: 'relu', name: 'h1' }).apply(x);
  const h2 = layers.dense(5, { activation: 'relu', name: 'h2' }).apply(h1);
  const out = layers.dense(3, { activation: 'softmax', name: 'out' }).apply(h2);
  return model({ inputs: x, outputs: out });
}

const close = (a: Float32Array, b: Float32Array) => expectClose(a, b, 0, 1e-5, 'predictions vs the dense twin');

describe('reuse API', () => {
  it('getLayer(name).output builds a sub-model that shares layers and weights', () => {
    const m = base();
    const sub = model({ inputs: m.inputs, outputs: m.getLayer('h2').output });
    expect(sub.layers.map((l) => l.name)).toEqual(['h1', 'h2']);
    const n = 4;
    const xs = randomArray(n * 6, 3);
    const [w1, b1] = m.getLayer('h1').getWeights();
    const [w2, b2] = m.getLayer('h2').getWeights();
    close(sub.predict(tensor(xs, [n, 6])).data, denseRef(denseRef(xs, n, w1, b1, true), n, w2, b2, true));
    // the same layer objects: new weights set through the big model show in the sub-model
    const w2b = randomArray(w2.length, 9);
    m.getLayer('h2').setWeights([w2b, b2]);
    m.predict(tensor(xs, [n, 6]));
    close(sub.predict(tensor(xs, [n, 6])).data, denseRef(denseRef(xs, n, w1, b1, true), n, w2b, b2, true));
  });

  it('a sequential model\'s layers have outputs too', () => {
    setSeed(3);
    const s = sequential([layers.dense(4, { activation: 'relu', inputShape: [3], name: 's1' }), layers.dense(2, { name: 's2' })]);
    const sub = model({ inputs: s.inputs, outputs: s.getLayer('s1').output });
    const xs = randomArray(2 * 3, 4);
    const [w, b] = s.getLayer('s1').getWeights();
    close(sub.predict(tensor(xs, [2, 3])).data, denseRef(xs, 2, w, b, true));
  });

  it('layers.slice() of a functional model under a new head: trained frozen, base weights untouched', async () => {
    const m = base();
    const before = m.layers.slice(0, 2).map((l) => l.getWeights());
    const x = input({ shape: [6] });
    let t = x;
    for (const l of m.layers.slice(0, 2)) t = l.apply(t);
    const head = layers.dense(2, { activation: 'softmax', name: 'new_head' });
    const transfer = model({ inputs: x, outputs: head.apply(t) });
    transfer.freeze('h2');
    expect(transfer.layers.map((l) => l.trainable)).toEqual([false, false, true]);
    transfer.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const xs = tensor(randomArray(32 * 6, 5), [32, 6]);
    const ys = tensor(Int32Array.from({ length: 32 }, (_, i) => i % 2), [32]);
    const l0 = transfer.evaluate(xs, ys).loss;
    await transfer.fit(xs, ys, { epochs: 10, batchSize: 8 });
    expect(transfer.evaluate(xs, ys).loss).toBeLessThan(l0);
    m.layers.slice(0, 2).forEach((l, i) => l.getWeights().forEach((w, j) => expect(Array.from(w)).toEqual(Array.from(before[i][j]))));
    // the original model still runs, on the same (shared, unchanged) base
    const [w1, b1] = m.getLayer('h1').getWeights();
    close(model({ inputs: m.inputs, outputs: m.getLayer('h1').output }).predict(tensor(xs.data.slice(0, 12), [2, 6])).data, denseRef(xs.data.slice(0, 12), 2, w1, b1, true));
  });

  it('freeze(until) and getLayer() refuse unknown names with a typed error', () => {
    const m = base();
    expect(() => m.freeze('nope')).toThrow(InvalidArgumentError);
    expect(() => m.getLayer('nope')).toThrow(/has no layer 'nope'/);
    m.freeze('h1');
    expect(m.layers.map((l) => l.trainable)).toEqual([false, true, true]);
    expect(m.countParams().nonTrainable).toBe(6 * 8 + 8);
    expect(() => layers.dense(2).output).toThrow(InvalidArgumentError);
  });
});
