// Engine-dependent choices of the runtime, as plain functions of the globals (testable anywhere).

// What the engine-dependent choices look at: the runtime's globals and the environment.
export interface EngineGlobals {
  Deno?: unknown;
  Bun?: unknown;
  process?: { env?: Record<string, string | undefined> };
}

// Whether every wasm memory access carries an explicit bounds check: Deno's V8 runs wasm without
// the trap handler (guard pages) (docs/runtimes-and-edge.md). Node and Bun use guard pages.
export function boundsCheckedMemory(g: EngineGlobals = globalThis as EngineGlobals): boolean {
  return g.Deno !== undefined;
}

// The GEMM microkernel's k-loop shape (same bits either way): one load + lane broadcasts, the
// fewer-loads shape, where memory is bounds-checked (Deno) and under Bun, whose JavaScriptCore
// also runs it faster (microkernel 22.7 vs 18.2 GFLOP/s in npm run bench -- --runtimes); splat
// loads on Node, unless EDGETUNE_GEMM_A=shuffle (Deno is not asked: reading the environment needs
// a permission).
export function gemmLoadShape(g: EngineGlobals = globalThis as EngineGlobals): 'broadcast' | 'splat' {
  if (boundsCheckedMemory(g) || g.Bun !== undefined) return 'broadcast';
  return g.process?.env?.EDGETUNE_GEMM_A === 'shuffle' ? 'broadcast' : 'splat';
}
