// tensor(data) as TF.js users write it: no shape for flat data, nested arrays with the shape
// inferred, and typed errors (not a raw TypeError) for ragged or wrong data.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShapeError, tensor } from '../dist/node.js';

describe('tensor()', () => {
  it('without a shape, a flat array or typed array is one dimension', () => {
    const t = tensor([1, 2, 3]);
    expect(t.shape).toEqual([3]);
    expect(Array.from(t.data)).toEqual([1, 2, 3]);
    const i = tensor(new Int32Array([4, 5]));
    expect(i.shape).toEqual([2]);
    expect(i.data).toBeInstanceOf(Int32Array);
  });

  it('nested arrays give their shape and row-major data', () => {
    const t = tensor([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]);
    expect(t.shape).toEqual([2, 3, 2]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(tensor([[1, 2], [3, 4]], [4]).shape).toEqual([4]); // an explicit shape of the same size
  });

  it('ragged or non-numeric data and a bad shape are typed errors that say where', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([[1, 2], [3]])).toThrow(/data\[1\] has 1 entries, expected an array of 2/);
    expect(() => tensor([[1, 2], 3] as never)).toThrow(/data\[1\] is 3/);
    expect(() => tensor([[1, 'a']] as never)).toThrow(InvalidArgumentError);
    expect(() => tensor('abc' as never)).toThrow(InvalidArgumentError);
    expect(() => tensor(new Float64Array(2) as never)).toThrow(/Float64Array/);
    expect(() => tensor([1, 2, 3], [2])).toThrow(ShapeError);
  });
});
