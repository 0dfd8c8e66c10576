// Data goes in and comes out as a plain record: a typed array and its shape (batch first).
import { InvalidArgumentError, ShapeError } from './errors';

export interface Tensor<T extends Float32Array | Int32Array = Float32Array | Int32Array> {
  data: T;
  shape: number[];
}

// Numbers nested as a tensor's rows (TF.js tf.tensor([[1, 2], [3, 4]])).
export type NestedNumbers = readonly (number | NestedNumbers)[];

// A tensor from a typed array, or from numbers flat or nested (copied to a Float32Array). Without
// a shape, flat data is one dimension [n] and nested data has the shape of its nesting.
export function tensor<T extends Float32Array | Int32Array>(data: T | NestedNumbers, shape?: number[]): Tensor<T> {
  let arr: T;
  let inferred: number[];
  if (data instanceof Float32Array || data instanceof Int32Array) {
    [arr, inferred] = [data, [data.length]];
  } else if (Array.isArray(data)) {
    inferred = nestedShape(data);
    arr = Float32Array.from(data.flat(Infinity) as number[]) as T;
  } else {
    throw new InvalidArgumentError(`tensor: data must be a Float32Array, an Int32Array or an array of numbers (flat or nested), got ${describe(data)}`);
  }
  if (shape === undefined) shape = inferred;
  if (!Array.isArray(shape)) throw new InvalidArgumentError(`tensor: shape must be an array of non-negative integers, got ${describe(shape)}`);
  checkShape(arr.length, shape, '');
  return { data: arr, shape: [...shape] };
}

// The shape of nested arrays of numbers; ragged nesting or a non-number is refused with its index.
function nestedShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) shape.push(level.length);
  const walk = (v: unknown, depth: number, at: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') throw new InvalidArgumentError(`tensor: data${at} is ${describe(v)}, not a number`);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      const got = Array.isArray(v) ? `has ${v.length} entries` : `is ${describe(v)}`;
      throw new ShapeError(`tensor: nested data is ragged: data${at} ${got}, expected an array of ${shape[depth]} (inferred shape [${shape}])`, undefined, shape);
    }
    v.forEach((x, i) => walk(x, depth + 1, `${at}[${i}]`));
  };
  walk(data, 0, '');
  return shape;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null || typeof v !== 'object') return typeof v === 'string' ? JSON.stringify(v) : String(v);
  return v.constructor?.name ?? 'an object';
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
