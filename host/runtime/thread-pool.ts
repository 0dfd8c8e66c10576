// The thread pool (docs/threads.md): the workers, each running the threads build of the kernels
// (build/edgetune-threads.wasm) on the shared memory of the executor that is running, parked in
// wasm's atomic wait between ops (assembly/kernels/threads.ts). One pool serves every model: it
// is attached to an executor when that executor runs, and leaves the previous one. It reaches the
// executor through host/runtime/threads.ts, installed by usePool (the `edgetune` entry's ready() and
// Model) or setThreads, so that an app that uses neither does not carry it.
import { checkThreads, installPool, type PoolTarget, requestThreads } from './threads';
import { ready } from './executor';

// The thread count of every model planned from now on that does not name its own (compile or
// planInference `threads`). Default: the cores the engine reports, at most MAX_THREADS. 1 is the
// single-threaded runtime: no workers, no shared memory. It brings the pool with it.
export function setThreads(n: number): void {
  requestThreads(checkThreads(n, 'setThreads'));
  usePool();
}

interface Globals {
  Deno?: unknown;
  Bun?: unknown;
  process?: { versions?: { node?: string }; getBuiltinModule?: (name: string) => unknown };
  Worker?: new (url: string | URL, options?: { type?: string }) => WebWorker & { unref?: () => void };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
}
const g = globalThis as unknown as Globals;

// Whether this engine makes workers, decided once per process.
let workersReason: string | null | undefined;
function lacksWorkers(): string | null {
  workersReason ??= workerFactory() ? null : 'this engine has no workers';
  return workersReason;
}

interface WebWorker {
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: (event: { data?: unknown; message?: string; error?: unknown }) => void): void;
}
interface NodeWorker {
  postMessage(message: unknown): void;
  on(event: string, listener: (value: unknown) => void): void;
  unref(): void;
}
interface PoolWorker { post(message: unknown): void }

// Loads of the wake word a worker spins through before it parks: a step's next GEMM usually comes
// sooner than a wake-up from Atomics.wait would.
const SPINS = 100000;
// Idle 1 ms waits before a worker parks in its event loop.
const IDLE_WAITS = 20;

// The worker's whole program: wait for an attach message, instantiate the threads build on that
// memory, then until the pool moves on (the epoch word changes): spin briefly for the next job,
// wait for it (Atomics.wait, 1 ms at a time), and run the tiles it can claim (threads_run). After
// ${IDLE_WAITS} idle waits it parks with Atomics.waitAsync, back in its event loop: a worker held
// in a synchronous loop keeps Node from exiting. Control words: WAKE 8, EPOCH 20, ATTACHED 24
// (assembly/kernels/threads.ts).
// (Functions, not constants: a bundler keeps a template with substitutions even where unused.)
const workerBody = (): string => `
const attach = (m) => {
  const x = new WebAssembly.Instance(m.module, { env: { memory: m.memory, side_work: () => {} } }).exports;
  x.gemm_set_a_broadcast(m.aShuffle);
  const i32 = new Int32Array(m.memory.buffer);
  const wake = (m.ctl + 8) >> 2, epoch = (m.ctl + 20) >> 2, attached = (m.ctl + 24) >> 2;
  let seen = Atomics.load(i32, wake);
  Atomics.add(i32, attached, 1);
  x.threads_run(m.ctl, m.worker);
  const loop = () => {
    let idle = 0;
    while (Atomics.load(i32, epoch) === m.epoch) {
      for (let spin = 0; spin < ${SPINS} && Atomics.load(i32, wake) === seen; spin++);
      if (Atomics.load(i32, wake) === seen) {
        if (++idle > ${IDLE_WAITS} && typeof Atomics.waitAsync === 'function') {
          const parked = Atomics.waitAsync(i32, wake, seen);
          if (parked.async) { parked.value.then(loop); return; }
        } else {
          Atomics.wait(i32, wake, seen, 1);
        }
        continue;
      }
      idle = 0;
      seen = Atomics.load(i32, wake);
      x.threads_run(m.ctl, m.worker);
    }
    Atomics.sub(i32, attached, 1);
  };
  loop();
};`;
// An eval worker is CommonJS unless the process runs with --input-type=module, which the worker
// inherits; then it has no require.
const nodeWorker = (): string => `const { parentPort } = typeof require === 'function' ? require('node:worker_threads') : process.getBuiltinModule('node:worker_threads');${workerBody()}
parentPort.on('message', attach);
parentPort.postMessage('ready');`;
const webWorker = (): string => `${workerBody()}
self.onmessage = (e) => attach(e.data);
self.postMessage('ready');`;

type Factory = (onReady: () => void, onError: (cause: string) => void) => PoolWorker;

let factoryOverride: Factory | null = null;
let exitHooked = false;
// Replaces how workers are made (tests: a worker that fails to start).
export function setWorkerFactory(f: Factory | null): void {
  factoryOverride = f;
}

// How this runtime makes workers. Node and Deno: node:worker_threads, unref'd so an idle pool
// does not keep the process alive (Deno's Web Workers have no unref: a script would never exit).
// Bun and browsers: module Web Workers (Bun's unref like Node's).
function workerFactory(): Factory | null {
  if (factoryOverride) return factoryOverride;
  if (g.Bun === undefined) {
    const node = nodeWorkers();
    if (node || g.Deno !== undefined) return node;
  }
  return webWorkers();
}

function nodeWorkers(): Factory | null {
  const threads = g.process?.versions?.node ? g.process.getBuiltinModule?.('node:worker_threads') as
    { Worker: new (code: string, options: { eval: boolean }) => NodeWorker } | undefined : undefined;
  if (!threads) return null;
  // At exit, send the workers back to JavaScript so the engine can stop them at once.
  if (!exitHooked) (g.process as { once?: (e: string, f: () => void) => void }).once?.('exit', () => { if (attached) detach(attached); });
  exitHooked = true;
  return (onReady, onError) => {
    const w = new threads.Worker(nodeWorker(), { eval: true });
    // Referenced until it is ready (threadsReady() awaited at a module's top level must not see
    // an empty event loop), then unreferenced: an idle pool must not keep the process alive.
    w.on('message', (m) => { if (m === 'ready') { w.unref(); onReady(); } });
    w.on('error', (e) => onError(e instanceof Error ? e.message : String(e)));
    w.on('exit', (code) => onError(`the worker exited with code ${code}`));
    return { post: (m) => w.postMessage(m) };
  };
}

function webWorkers(): Factory | null {
  if (!g.Worker || !g.Blob || !g.URL) return null;
  const WorkerClass = g.Worker;
  const url = g.URL.createObjectURL(new g.Blob([webWorker()], { type: 'text/javascript' }));
  return (onReady, onError) => {
    const w = new WorkerClass(url, { type: 'module' });
    // Bun: unreferenced once ready, as on Node.
    w.addEventListener('message', (e) => { if (e.data === 'ready') { w.unref?.(); onReady(); } });
    w.addEventListener('error', (e) => onError(e.message ?? String(e.error)));
    return { post: (m) => w.postMessage(m) };
  };
}

// Control-block words the host touches (assembly/kernels/threads.ts).
const WAKE = 8;
const EPOCH = 20;
const ATTACHED = 24;
const WORKER_TILES = 96;

const workers: PoolWorker[] = [];
let started = 0;
let readyCount = 0;
let failure: string | null = null;
let attached: PoolTarget | null = null;
const readyWaiters: (() => void)[] = [];

// Why the pool could not start a worker (null: every worker started). Set once; then every
// model runs on one thread (the warning names the cause).
function poolFailure(): string | null {
  return failure;
}

function startWorkers(count: number): void {
  const make = workerFactory();
  while (started < count && !failure && make) {
    const index = started++;
    try {
      workers[index] = make(() => { readyCount++; if (readyCount === started) readyWaiters.splice(0).forEach((f) => f()); }, (cause) => fail(index, cause));
    } catch (e) {
      fail(index, e instanceof Error ? e.message : String(e));
    }
  }
}

function fail(index: number, cause: string): void {
  if (failure) return;
  failure = `thread worker ${index + 1} failed to start: ${cause}`;
  console.warn(`edgetune: ${failure}; running on one thread`);
  readyWaiters.splice(0).forEach((f) => f());
}

// Attaches the pool to `target` (its driver is about to run): the previous executor's workers
// leave it, and `threads - 1` workers join this one. Workers join whenever they are ready; a
// tile is claimed by whoever comes first, so the bits do not depend on when they arrive.
function attachPool(target: PoolTarget): void {
  if (attached === target) return;
  if (attached) detach(attached);
  attached = target;
  startWorkers(target.threads - 1);
  const i32 = new Int32Array(target.memory.buffer);
  const epoch = Atomics.load(i32, (target.ctl + EPOCH) >> 2);
  for (let w = 0; w < target.threads - 1 && w < workers.length; w++) {
    workers[w]?.post({ module: target.module, memory: target.memory, ctl: target.ctl, worker: w, epoch, aShuffle: target.aShuffle });
  }
}

// Sends the workers of `target` back to JavaScript: a new epoch, and a wake-up to notice it.
function detach(target: PoolTarget): void {
  const i32 = new Int32Array(target.memory.buffer);
  Atomics.add(i32, (target.ctl + EPOCH) >> 2, 1);
  Atomics.add(i32, (target.ctl + WAKE) >> 2, 1);
  Atomics.notify(i32, (target.ctl + WAKE) >> 2);
  if (attached === target) attached = null;
}

// Workers attached to `target` right now (for tests and inspect).
function attachedWorkers(target: PoolTarget): number {
  return Atomics.load(new Int32Array(target.memory.buffer), (target.ctl + ATTACHED) >> 2);
}

// Tiles the workers ran for `target` since it was made.
function workerTiles(target: PoolTarget): number {
  return Atomics.load(new Int32Array(target.memory.buffer), (target.ctl + WORKER_TILES) >> 2);
}

// The ops the threads build splits, in the order of its job kinds (JOB_* in
// assembly/kernels/threads.ts), and how many of each `target` split since it was made.
export const SPLIT_JOBS = ['gemm', 'conv2d chunk', 'batchnorm forward', 'batchnorm backward', 'depthwise forward', 'optimizer update', 'elementwise', 'gemm packed', 'conv2d packed', 'conv2d igemm', 'im2col', 'col2im', 'conv2d winograd', 'conv2d winograd i8', 'sepconv', 'sepconv i8'] as const;
// The training passes' kinds (assembly/kernels/threads-train.ts), their counters from word 100.
export const TRAIN_SPLIT_JOBS = ['conv2d backward filter', 'conv2d backward input', 'maxpool forward', 'maxpool backward', 'depthwise backward input', 'depthwise backward filter', 'conv2d backward filter parts'] as const;
// The kinds past the first 16 (from 17), their counters from word 128.
export const MORE_SPLIT_JOBS = ['broadcast', 'conv2d direct', 'gemm q8', 'conv2d q8'] as const;
// The kinds from 40 (the training passes', then 44: the absmax sepconv, 45: expand_depthwise), their
// counters from word 192.
export const TRAIN_MORE_SPLIT_JOBS = ['batchnorm forward sums', 'batchnorm forward rows', 'batchnorm backward sums', 'batchnorm backward rows', 'sepconv q8', 'expand depthwise'] as const;
const JOBS = 32;
const TRAIN_JOBS = 100;
const MORE_JOBS = 128;
const TRAIN_MORE_JOBS = 192;
export type SplitJob = (typeof SPLIT_JOBS)[number] | (typeof TRAIN_SPLIT_JOBS)[number] | (typeof MORE_SPLIT_JOBS)[number] | (typeof TRAIN_MORE_SPLIT_JOBS)[number];
function splitJobs(target: PoolTarget): Record<SplitJob, number> {
  const i32 = new Int32Array(target.memory.buffer);
  const count = (word: number): number => Atomics.load(i32, word);
  return Object.fromEntries([
    ...SPLIT_JOBS.map((name, i) => [name, count((target.ctl + JOBS) / 4 + i)]),
    ...TRAIN_SPLIT_JOBS.map((name, i) => [name, count((target.ctl + TRAIN_JOBS) / 4 + i)]),
    ...MORE_SPLIT_JOBS.map((name, i) => [name, count((target.ctl + MORE_JOBS) / 4 + i)]),
    ...TRAIN_MORE_SPLIT_JOBS.map((name, i) => [name, count((target.ctl + TRAIN_MORE_JOBS) / 4 + i)]),
  ]) as Record<SplitJob, number>;
}

// Resolves once every worker started so far is ready (or one failed).
export function poolReady(): Promise<void> {
  if (readyCount >= started || failure) return Promise.resolve();
  return new Promise((resolve) => readyWaiters.push(resolve));
}

// The `edgetune` entry's ready(): the executor's, with the pool installed first, so that a page's
// ready() also fetches the threads build before any model is made (edgetune/lite's ready() is the
// executor's own: its page fetches that build only after setThreads).
export function readyWithPool(source?: URL | string): Promise<WebAssembly.Module> {
  usePool();
  return ready(source);
}

// Installs the pool (once is enough): the threaded path of every model planned from now on.
const POOL = { lacksWorkers, failure: poolFailure, attach: attachPool, detach, attachedWorkers, workerTiles, splitJobs };
export function usePool(): void {
  installPool(POOL);
}
