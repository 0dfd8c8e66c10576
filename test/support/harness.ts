// The built kernels (build/edgetune.wasm) over a fresh memory, with the test arena above the module's
// static data (the math tables behind exp, log, pow). Tests call the raw byte-offset exports exactly
// as the plan executor does.
import { readFileSync } from 'node:fs';
import { Arena, type Fn } from './arena';

const wasmBytes = readFileSync(new URL('../../build/edgetune.wasm', import.meta.url));
const wasmModule = new WebAssembly.Module(wasmBytes);

export type Harness = Arena;

export function harness(pages = 256): Harness {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(wasmModule, { env: { memory } });
  const base = Math.ceil((instance.exports.heap_base as () => number)() / 16) * 16 + 16;
  return new Arena(instance.exports as unknown as Record<string, Fn>, memory, base, memory.buffer.byteLength - base);
}

// An arena of at least `bytes` in the SIMD build.
export const simdArena = (bytes: number): Arena => harness(Math.ceil(bytes / 65536) + 16);

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
