// Test harness: the built kernels over a fresh memory, with a bump allocator for test buffers.
// Tests call the raw byte-offset exports exactly as the plan executor does.
import { readFileSync } from 'node:fs';

const wasmBytes = readFileSync(new URL('../build/edgetune.wasm', import.meta.url));
const wasmModule = new WebAssembly.Module(wasmBytes);

export interface Harness {
  // Every export of the kernel module, called with byte offsets.
  k: Record<string, (...args: number[]) => number>;
  memory: WebAssembly.Memory;
  // Reserve `floats` f32 slots (16-byte aligned) filled with `fill` (NaN by default: an output a
  // kernel forgets to write stays NaN and fails the comparison).
  alloc(floats: number, fill?: number): number;
  put(data: ArrayLike<number>): number;
  putI32(data: ArrayLike<number>): number;
  f32(ptr: number, floats: number): Float32Array;
  i32(ptr: number, count: number): Int32Array;
}

export function harness(pages = 256): Harness {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(wasmModule, { env: { memory } });
  // Test buffers start above the module's static data (the math tables behind exp, log, pow).
  let top = Math.ceil((instance.exports.heap_base as () => number)() / 16) * 16 + 16;
  const alloc = (floats: number, fill = NaN) => {
    const ptr = top;
    top += Math.ceil((floats * 4) / 16) * 16 + 16;
    if (top > memory.buffer.byteLength) throw new Error('harness memory exhausted');
    new Float32Array(memory.buffer, ptr, floats).fill(fill);
    return ptr;
  };
  return {
    k: instance.exports as unknown as Harness['k'],
    memory,
    alloc,
    put(data) {
      const ptr = alloc(data.length);
      new Float32Array(memory.buffer, ptr, data.length).set(data);
      return ptr;
    },
    putI32(data) {
      const ptr = alloc(data.length);
      new Int32Array(memory.buffer, ptr, data.length).set(data);
      return ptr;
    },
    f32: (ptr, floats) => new Float32Array(memory.buffer, ptr, floats).slice(),
    i32: (ptr, count) => new Int32Array(memory.buffer, ptr, count).slice(),
  };
}

// Deterministic test data: a small LCG, uniform in [lo, hi).
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

// max |a-b| / (atol + rtol*|b|) <= 1 elementwise; returns the worst ratio for a readable failure.
export function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
