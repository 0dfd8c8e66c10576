// Initial weights are drawn when first needed (host/layers/layer.ts `pending`): building a model
// reserves no host memory for them; the first plan draws them straight into the arena; reading
// them first draws them into host arrays. Either way they are the same values, bit for bit.
import { describe, expect, it } from 'vitest';
import * as et from '../dist/index.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function mlp(seed: number, inputs = 2048, units = 1024) {
  et.setSeed(seed);
  return et.sequential([
    et.layers.dense(units, { activation: 'relu', inputShape: [inputs], kernelInitializer: 'heNormal' }),
    et.layers.dense(10, { activation: 'softmax', biasInitializer: 'ones' }),
  ]);
}

describe('initial weights drawn on first use', () => {
  it('building a 2048x1024 dense layer reserves no host memory for its 8 MB kernel', () => {
    const before = process.memoryUsage().arrayBuffers;
    const m = mlp(7);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown).toBeLessThan(1 << 20);
    expect(m.layers[0].built).toBe(true);
  });

  it('drawn into the arena by the first plan: the values read first, bit for bit, and from the arena', () => {
    const x = et.tensor(new Float32Array(300).fill(0.25), [1, 300]);
    const readFirst = mlp(11, 300, 100);
    const expected = readFirst.layers.flatMap((l) => l.getWeights());
    const plannedFirst = mlp(11, 300, 100);
    const y = plannedFirst.predict(x, { batchSize: 1 }).data;
    const got = plannedFirst.layers.flatMap((l) => l.getWeights());
    expect(got.map(bits)).toEqual(expected.map(bits));
    expect(expected[3].every((v) => v === 1)).toBe(true); // biasInitializer 'ones'
    // and the prediction is the one of the weights read first
    expect(Array.from(y)).toEqual(Array.from(readFirst.predict(x, { batchSize: 1 }).data));
  });

  it('weights set before they were drawn are the ones set; the other layers draw what they would have', () => {
    const m = mlp(3, 300, 100);
    const w = m.layers[1].getWeights(); // draws layer 1 only
    const kernel = new Float32Array(300 * 100).fill(0.001);
    m.layers[0].setWeights([kernel, new Float32Array(100)]);
    expect(m.layers[0].getWeights()[0].every((v) => v === Math.fround(0.001))).toBe(true);
    expect(bits(m.layers[1].getWeights()[0])).toEqual(bits(w[0]));
  });
});
