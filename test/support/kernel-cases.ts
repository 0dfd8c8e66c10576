// Shared inputs of the kernel tests: the size sweeps (the 4-wide SIMD body and every scalar tail
// length), labels and soft targets for the loss kernels, and a byte diff of the memory.
import { randomArray } from './harness';

export const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100];
export const ROWS = [1, 2, 3, 5, 8];

// The trailing clip and weight-decay arguments of the optimizer update kernels (clip multiplier,
// divisor, value bounds, weight decay) that leave the gradient as it is.
export const NO_CLIP = [1, 1, -Infinity, Infinity, 0] as const;

// Distinct row labels in [0, n).
export const labelsFor = (m: number, n: number, seed = 0) => Int32Array.from({ length: m }, (_, i) => (i * 7 + 3 + seed) % n);

// Soft target rows: positive, summing to 1 (up to f32 rounding).
export function softTargets(m: number, n: number, seed: number): Float32Array {
  const t = randomArray(m * n, seed, 0.05, 1);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += t[i * n + j];
    for (let j = 0; j < n; j++) t[i * n + j] /= s;
  }
  return t;
}

// Byte offsets where `before` and `after` differ, ignoring [skipStart, skipEnd).
export function changedBytes(before: Uint8Array, after: Uint8Array, skipStart: number, skipEnd: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i] && (i < skipStart || i >= skipEnd)) out.push(i);
  return out;
}
