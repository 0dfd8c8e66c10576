// int8 kernels' test inputs: random q in [-127, 127], and q put into an arena (a byte a value).
import { randomArray } from './harness';
import type { Arena } from './arena';

export const randomQ = (n: number, seed: number) => Int8Array.from(randomArray(n, seed, -127.99, 127.99), (v) => Math.trunc(v));

export function putQ(t: Arena, q: Int8Array): number {
  const p = t.alloc(Math.ceil(q.length / 4));
  new Int8Array(t.memory.buffer).set(q, p);
  return p;
}
