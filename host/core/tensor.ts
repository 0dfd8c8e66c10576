// Data goes in and comes out as a plain record: a typed array and its shape (batch first).
import { InvalidArgumentError, ShapeError } from './errors';

export interface Tensor<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  data: T;
  shape: number[];
}

export function tensor<T extends Float32Array | Int32Array>(data: T | number[], shape: number[]): Tensor<T> {
  const arr = (Array.isArray(data) ? Float32Array.from(data) : data) as T;
  checkShape(arr.length, shape, '');
  return { data: arr, shape: [...shape] };
}

// A tensor record made by hand ({ data, shape }) gets the checks tensor() makes: a typed array
// whose length is the product of the shape.
export function checkTensor(t: Tensor, what: string): void {
  if (!t || typeof t !== 'object' || !(t.data instanceof Float32Array || t.data instanceof Int32Array) || !Array.isArray(t.shape)) {
    throw new InvalidArgumentError(`${what} must be a tensor { data: Float32Array | Int32Array, shape: number[] }`);
  }
  checkShape(t.data.length, t.shape, `${what}: `);
}

function checkShape(length: number, shape: number[], where: string): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new InvalidArgumentError(`${where}tensor shape must be non-negative integers, got [${shape}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== length) throw new ShapeError(`${where}tensor of shape [${shape}] needs ${size} values, got ${length}`, undefined, shape, [length]);
}

// Hyperparameters reach the kernels as f32: a value must stay what it says there. 1e39 would
// become Infinity and 1e-46 would become 0.
export function positiveInF32(x: number): boolean {
  return Number.isFinite(Math.fround(x)) && Math.fround(x) > 0;
}
export function finiteInF32(x: number): boolean {
  return Number.isFinite(Math.fround(x));
}
// For messages: what a number becomes in f32, when that is not the number itself.
export function asF32(x: unknown): string {
  return typeof x === 'number' && Number.isFinite(x) && Math.fround(x) !== x ? ` (${Math.fround(x)} as f32, the kernels' precision)` : '';
}
