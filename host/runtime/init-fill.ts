// Initial weights drawn by the kernels (assembly/kernels/init.ts) rather than a JavaScript loop:
// the same generator and draws, bit for bit, at wasm speed on the cold-start path. A weight being
// moved into a model's arena (host/layers/layer.ts moveValue) is drawn in place by the executor's
// own instance; a host array is filled in chunks through one small scratch memory, each chunk
// continuing the stream where the last one stopped.
import type { Plan, PlanOpWithRegions } from '../compile/plan';
import type { KernelExports } from './executor';
import { kernelModuleIfLoadable } from './kernel-source';

const SCRATCH_PAGES = 2;
export interface ScratchKernels { module: WebAssembly.Module; kernels: KernelExports; f32: Float32Array; base: number; floats: number }
let scratch: ScratchKernels | null = null;

// One instance of the kernel module on a small memory of its own, made once per module, on first
// use: only weights read before any plan need it (a cold start that plans first instantiates the
// kernels once, for the executor). `module`: the kernels, where they can be had (null: a browser
// before ready(), host sources with no .wasm beside them).
export function scratchKernels(module: WebAssembly.Module | null = scratch?.module ?? kernelModuleIfLoadable()): ScratchKernels | null {
  if (!module) return null;
  if (scratch?.module === module) return scratch;
  const memory = new WebAssembly.Memory({ initial: SCRATCH_PAGES, maximum: SCRATCH_PAGES });
  const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  const base = Math.ceil(kernels.heap_base() / 16) * 16;
  scratch = { module, kernels, f32: new Float32Array(memory.buffer), base, floats: (SCRATCH_PAGES * 65536 - base) >> 2 };
  return scratch;
}

// Executors' memories (host/runtime/executor.ts), each with the instance that runs over it: a
// weight array that is a view of one is drawn in place, with no scratch copy.
const arenas = new WeakMap<ArrayBufferLike, KernelExports>();
export function drawInto(memory: WebAssembly.Memory, kernels: KernelExports): void {
  arenas.set(memory.buffer, kernels);
}

// Fills out[i] = (2u - 1) * scale ('uniform') or z * scale with z a standard normal redrawn beyond
// 2 ('truncatedNormal'), the stream of the generator in `state` (Random's mulberry32); returns the
// state after the draws, or null where the kernels cannot be loaded synchronously (a browser
// before ready()), and the caller draws in JavaScript.
export function fillWithKernels(kind: 'uniform' | 'truncatedNormal', out: Float32Array, state: number, scale: number): number | null {
  const arena = arenas.get(out.buffer);
  if (arena?.init_uniform && arena.init_truncated_normal) {
    return (kind === 'uniform' ? arena.init_uniform : arena.init_truncated_normal)(out.byteOffset, out.length, state, scale) >>> 0;
  }
  const s = scratchKernels();
  if (!s || !s.kernels.init_uniform || !s.kernels.init_truncated_normal) return null;
  const fill = kind === 'uniform' ? s.kernels.init_uniform : s.kernels.init_truncated_normal;
  for (let at = 0; at < out.length; at += s.floats) {
    const n = Math.min(s.floats, out.length - at);
    state = fill(s.base, n, state, scale) >>> 0;
    out.set(s.f32.subarray(s.base >> 2, (s.base >> 2) + n), at);
  }
  return state;
}

// The weights an inference plan could draw straight into their packed copies, by region, with the
// pack_b op of each: when its prepare program is pack_b ops alone and each packs a weight region
// (from its start) that no other op of any program reads, the forward reads only the packed
// copies, so the weights themselves need not be written before a run (null: not such a plan).
export function packedOnlyWeights(plan: Plan): Map<number, PlanOpWithRegions> | null {
  const prepare = plan.programs.prepare;
  if (!prepare?.ops.length || prepare.ops.some((o) => o.op !== 'pack_b')) return null;
  const readers = new Map<number, number>();
  for (const program of Object.values(plan.programs)) {
    for (const o of program!.ops) for (const r of Object.values(o.uses)) readers.set(r, (readers.get(r) ?? 0) + 1);
  }
  const packs = new Map<number, PlanOpWithRegions>();
  for (const o of prepare.ops) {
    const w = o.uses.b;
    if (readers.get(w) !== 1 || plan.regions[w].kind !== 'param' || o.args.b !== plan.regions[w].offset) return null;
    packs.set(w, o);
  }
  return packs;
}

// Draws weight values init_uniform would make from `draw` into the panels `pack` (a pack_b op)
// writes, in the executor's memory, without the weight itself (assembly/kernels/init.ts).
export function drawPacked(kernels: KernelExports, pack: PlanOpWithRegions, draw: { state: number; limit: number }): void {
  const { bp, n, k, rsb, csb } = pack.args;
  kernels.init_uniform_packed(bp, n, k, rsb, csb, draw.state, draw.limit);
}
