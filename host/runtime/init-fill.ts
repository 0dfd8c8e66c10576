// Initial weights drawn by the kernels (assembly/kernels/init.ts) rather than a JavaScript loop:
// the same generator and draws, bit for bit, at wasm speed on the cold-start path. The tensor is
// filled in chunks through one small scratch memory, each chunk continuing the stream where the
// last one stopped.
import type { KernelExports } from './executor';
import { kernelModuleIfLoadable } from './kernel-source';

const SCRATCH_PAGES = 2;
let scratch: { kernels: KernelExports; f32: Float32Array; base: number; floats: number } | null = null;

function scratchKernels(): typeof scratch {
  if (scratch) return scratch;
  const module = kernelModuleIfLoadable();
  if (!module) return null;
  const memory = new WebAssembly.Memory({ initial: SCRATCH_PAGES, maximum: SCRATCH_PAGES });
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  if (!kernels.init_uniform || !kernels.init_truncated_normal) return null;
  const base = Math.ceil(kernels.heap_base() / 16) * 16;
  scratch = { kernels, f32: new Float32Array(memory.buffer), base, floats: (SCRATCH_PAGES * 65536 - base) >> 2 };
  return scratch;
}

// Fills out[i] = (2u - 1) * scale ('uniform') or z * scale with z a standard normal redrawn beyond
// 2 ('truncatedNormal'), the stream of the generator in `state` (Random's mulberry32); returns the
// state after the draws, or null where the kernels cannot be loaded synchronously (a browser
// before ready()), and the caller draws in JavaScript.
export function fillWithKernels(kind: 'uniform' | 'truncatedNormal', out: Float32Array, state: number, scale: number): number | null {
  const s = scratchKernels();
  if (!s) return null;
  const fill = kind === 'uniform' ? s.kernels.init_uniform : s.kernels.init_truncated_normal;
  for (let at = 0; at < out.length; at += s.floats) {
    const n = Math.min(s.floats, out.length - at);
    state = fill(s.base, n, state, scale) >>> 0;
    out.set(s.f32.subarray(s.base >> 2, (s.base >> 2) + n), at);
  }
  return state;
}
