// Threads (docs/threads.md): the process-wide thread count, whether this engine can have threads,
// and the hook the thread pool (host/runtime/thread-pool.ts) installs itself through. Every model
// reaches this file; only the threaded path reaches the pool: the `edgetune` entry's ready() and
// Model install it, and so does setThreads, so an edgetune/lite app that never calls setThreads carries no worker
// code (scripts/size.mjs) and its models run on one thread.
import { InvalidArgumentError } from '../core/errors';
import type { SplitJob } from './thread-pool';

// More threads than this buy little for the op sizes edgetune plans, and each costs a worker.
export const MAX_THREADS = 8;

// Checks a thread count given by a caller (setThreads, compile, planInference).
export function checkThreads(n: unknown, where: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`${where}: threads must be a whole number >= 1 (1: no workers), got ${typeof n === 'number' ? n : typeof n}`);
  }
  return Math.min(n, MAX_THREADS);
}

interface Globals {
  SharedArrayBuffer?: unknown;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  process?: { getBuiltinModule?: (name: string) => unknown };
}
const g = globalThis as unknown as Globals;

// The cores the engine reports (navigator.hardwareConcurrency; os.availableParallelism on Node 20).
export function reportedCores(): number {
  const fromNavigator = g.navigator?.hardwareConcurrency;
  if (fromNavigator && fromNavigator > 0) return fromNavigator;
  const os = g.process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  return os?.availableParallelism?.() ?? 1;
}

let requested: number | null = null;

// The thread count setThreads asked for (already checked): the count of every model planned from
// now on that does not name its own (compile or planInference `threads`).
export function requestThreads(n: number): void {
  requested = n;
}

// Default: the cores the engine reports, at most MAX_THREADS. 1 is the single-threaded runtime:
// no workers, no shared memory.
export function defaultThreads(): number {
  return requested ?? Math.min(reportedCores(), MAX_THREADS);
}

// What a worker needs to join an executor.
export interface PoolTarget {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctl: number; // byte offset of the control block
  threads: number;
  aShuffle: number;
}

// What the executor asks of the pool (host/runtime/thread-pool.ts).
export interface ThreadPool {
  // Why this engine cannot make workers (null: it can).
  lacksWorkers(): string | null;
  // Why the pool could not start a worker (null: every worker started).
  failure(): string | null;
  attach(target: PoolTarget): void;
  detach(target: PoolTarget): void;
  attachedWorkers(target: PoolTarget): number;
  workerTiles(target: PoolTarget): number;
  splitJobs(target: PoolTarget): Record<SplitJob, number>;
}

let pool: ThreadPool | null = null;
export function installPool(p: ThreadPool): void {
  pool = p;
}
// The installed pool; an executor on threads exists only once it is (engineLacksThreads).
export function threadPool(): ThreadPool {
  return pool!;
}

// Why this engine cannot have threads (null: it can): a page that is not cross-origin isolated, no
// shared memory (decided once per process), no thread pool loaded, no workers.
let engineReason: string | null | undefined;
export function engineLacksThreads(): string | null {
  if (engineReason === undefined) {
    // Isolation first: a page without it has no SharedArrayBuffer either, and this says what to do.
    if (g.crossOriginIsolated === false) engineReason = 'the page is not cross-origin isolated (serve it with COOP/COEP headers)';
    else if (typeof g.SharedArrayBuffer !== 'function') engineReason = 'this engine has no SharedArrayBuffer';
    else engineReason = null;
  }
  if (engineReason) return engineReason;
  return pool ? pool.lacksWorkers() : 'the thread pool is not loaded (edgetune/lite loads it with setThreads, before ready() in a page)';
}

// Why a model cannot have threads here (null: it can): the engine's reason, else the threads
// build's (`buildProblem`: not loaded, or rejected by the engine), asked each time: a page's
// ready() may load the build after a first look.
export function threadsUnavailable(buildProblem: () => string | null): string | null {
  return engineLacksThreads() ?? buildProblem();
}
