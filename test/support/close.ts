// The one closeness check of the tests: |actual - expected| <= atol + rtol*|expected| elementwise,
// atol a number or one tolerance per element. It reports the worst element (its index and both
// values) so that a failure says where, not only that.
import { expect } from 'vitest';

export interface Closeness {
  ratio: number; // max |a-e| / (atol + rtol*|e|): <= 1 passes; NaN anywhere gives Infinity
  index: number; // where the ratio is largest (-1 for empty arrays)
  actual: number;
  expected: number;
}

export function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number | ArrayLike<number>): Closeness {
  if (actual.length !== expected.length) return { ratio: Infinity, index: -1, actual: actual.length, expected: expected.length };
  let ratio = 0;
  let index = actual.length ? 0 : -1;
  for (let i = 0; i < actual.length && ratio !== Infinity; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const tol = (typeof atol === 'number' ? atol : atol[i]) + rtol * Math.abs(expected[i]);
    const e = d === 0 ? 0 : d / tol;
    if (!(e <= ratio)) [ratio, index] = [Number.isNaN(e) ? Infinity : e, i];
  }
  return { ratio, index, actual: actual[index], expected: expected[index] };
}

export function describeCloseness(what: string, c: Closeness): string {
  if (c.index < 0 && c.ratio === Infinity) return `${what}: length ${c.actual}, expected ${c.expected}`;
  return `${what}: ${c.ratio.toPrecision(3)}x the tolerance at element ${c.index}: ${c.actual}, expected ${c.expected}`;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number | ArrayLike<number>, what: string): void {
  const c = closeness(actual, expected, rtol, atol);
  if (!(c.ratio <= 1)) expect.fail(describeCloseness(what, c));
}

// max |a - b| (Infinity if either holds a NaN); arrays of different lengths are an error.
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: length ${a.length} != ${b.length}`);
  return closeness(a, b, 0, 1).ratio;
}

// Elementwise actual === fround(expected) (so +0 equals -0; NaN never matches): for results that
// must be exact, reported at the first difference.
export function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== Math.fround(expected[i])) expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${Math.fround(expected[i])}`);
  }
}

// The same bits elementwise (Object.is: -0 differs from +0, NaN matches NaN), for results that
// must not depend on the path that computed them (a fused op and its ops apart, SIMD and scalar).
export function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

export function expectNear(actual: number, expected: number, rtol: number, atol: number, what: string): void {
  expectClose([actual], [expected], rtol, atol, what);
}
