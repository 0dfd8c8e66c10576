// int8 kernels' test inputs: random q in [-127, 127], and q put into an arena (a byte a value).
import { randomArray } from './harness';
import type { Arena } from './arena';

export const randomQ = (n: number, seed: number) => Int8Array.from(randomArray(n, seed, -127.99, 127.99), (v) => Math.trunc(v));

export function putQ(t: Arena, q: Int8Array): number {
  const p = t.alloc(Math.ceil(q.length / 4));
  new Int8Array(t.memory.buffer).set(q, p);
  return p;
}

// Whether a kernel call left its inputs as they were: f32 buffers bit for bit, int8 ones byte for byte.
export function inputsIntact(t: Arena, floats: [number, Float32Array][], int8s: [number, Int8Array][]): boolean {
  return floats.every(([p, v]) => t.read(p, v.length).every((x, i) => Object.is(x, v[i])))
    && int8s.every(([p, v]) => new Int8Array(t.memory.buffer, p, v.length).every((q, i) => q === v[i]));
}
