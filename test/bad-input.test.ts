// Bad input gets a clear, typed error that says what was wrong and where.
import { describe, expect, it } from 'vitest';
import { layers, sequential, tensor, ShapeError, InvalidArgumentError, type Model } from '../dist/node.js';

function model(): Model {
  const m = sequential([layers.dense(6, { activation: 'relu', inputShape: [4] }), layers.dense(3, { activation: 'softmax', name: 'head' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 4 });
  return m;
}
const x = tensor(new Float32Array(8 * 4).fill(0.5), [8, 4]);
const y = tensor(new Int32Array([0, 1, 2, 0, 1, 2, 0, 1]), [8]);

describe('bad input', () => {
  it('a shape mismatch names the layer and the expected shape', async () => {
    const m = model();
    const wrong = tensor(new Float32Array(8 * 5), [8, 5]);
    const e = await m.fit(wrong, y).catch((err) => err);
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/\[8,5\] does not match layer dense(_\d+)?, which expects \[batch, 4\]/);
    expect(() => m.predict(wrong)).toThrow(ShapeError);
    expect(() => m.predict(tensor(new Float32Array(4), [4]))).toThrow(/expects \[batch, 4\]/);
  });

  it('labels out of range name the label and the output layer', async () => {
    const m = model();
    const e = await m.fit(x, tensor(new Int32Array([0, 1, 2, 3, 1, 2, 0, 1]), [8])).catch((err) => err);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/label 3 is 3, outside the 3 classes \[0, 2\] of layer head/);
    await expect(m.fit(x, tensor(new Int32Array([0, 1, 2, -1, 1, 2, 0, 1]), [8]))).rejects.toThrow(/label 3 is -1/);
    await expect(m.fit(x, tensor(new Int32Array(5), [5]))).rejects.toThrow(/8 input samples but 5 labels/);
  });

  it('NaN in the inputs names the sample and element', async () => {
    const m = model();
    const data = new Float32Array(8 * 4).fill(0.5);
    data[2 * 4 + 3] = NaN;
    await expect(m.fit(tensor(data, [8, 4]), y)).rejects.toThrow(/sample 2 has a non-finite value \(NaN\) at element 3/);
    expect(() => m.predict(tensor(data, [8, 4]))).toThrow(InvalidArgumentError);
    // Infinities too, in every lane of the four-wide check and in its scalar tail (7 x 3 values).
    const odd = () => sequential([layers.dense(2, { inputShape: [3] })]);
    for (const bad of [Infinity, -Infinity]) {
      for (const at of [0, 5, 10, 15, 20]) {
        const d = new Float32Array(7 * 3).fill(-0.25);
        d[at] = bad;
        expect(() => odd().predict(tensor(d, [7, 3])), `${bad} at ${at}`).toThrow(new RegExp(`sample ${Math.floor(at / 3)} has a non-finite value \\(${String(bad).replace('-', '\\-')}\\) at element ${at % 3}`));
      }
    }
  });

  it('batch size 0, no samples and unknown names are refused', async () => {
    const m = model();
    await expect(m.fit(x, y, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => m.predict(x, { batchSize: 0 })).toThrow(InvalidArgumentError);
    await expect(m.fit(tensor(new Float32Array(0), [0, 4]), tensor(new Int32Array(0), [0]))).rejects.toThrow(/no samples/);
    expect(() => m.compile({ optimizer: 'rmsprop2' as 'adam', loss: 'sparseCategoricalCrossentropy' })).toThrow(/unknown optimizer 'rmsprop2'/);
    expect(() => m.compile({ optimizer: 'adam', loss: 'hinge' })).toThrow(/unknown loss 'hinge'/);
    expect(() => layers.dense(0)).toThrow(/units must be a positive integer/);
    expect(() => tensor(new Float32Array(3), [2, 2])).toThrow(/needs 4 values, got 3/);
  });

  it('fit before compile says so', async () => {
    const m = sequential([layers.dense(2, { inputShape: [3] })]);
    await expect(m.fit(tensor(new Float32Array(3), [1, 3]), tensor(new Int32Array(1), [1]))).rejects.toThrow(/must be compiled/);
  });
});
