// Data goes in and comes out as a plain record: a typed array and its shape (batch first).
import { InvalidArgumentError, ShapeError } from './errors';

export interface Tensor<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  data: T;
  shape: number[];
}

export function tensor<T extends Float32Array | Int32Array>(data: T | number[], shape: number[]): Tensor<T> {
  const arr = (Array.isArray(data) ? Float32Array.from(data) : data) as T;
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new InvalidArgumentError(`tensor shape must be non-negative integers, got [${shape}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== arr.length) throw new ShapeError(`tensor of shape [${shape}] needs ${size} values, got ${arr.length}`, undefined, shape, [arr.length]);
  return { data: arr, shape: [...shape] };
}
