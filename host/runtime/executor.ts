// The executor: one wasm memory sized exactly to a plan (initial = maximum, never grown), the
// kernel instance over it, the plan's programs copied in, and one call per program run.
import { EdgetuneError, KernelStatusError } from '../core/errors';
import { encodeOps, HEADER } from '../compile/ops';
import { KERNEL_STATIC_BYTES, type Plan, type ProgramName, WASM_PAGE } from '../compile/plan';
import { gemmLoadShape } from './engine';
import { drawInto } from './init-fill';
import { checkKernelSetRuns, compileKernelModule, fetchThreadsKernels, kernelModuleSync, kernelVariant, threadsKernelBytes, threadsKernelUrl } from './kernel-source';
export { setKernelVariant, kernelVariant, type KernelVariant } from './kernel-source';
import { GEMM_KC, GEMM_MR, GEMM_NC } from '../compile/gemm-scratch';
import { defaultThreads, engineLacksThreads, type PoolTarget, type ThreadPool, threadPool, threadsUnavailable } from './threads';

// Checked on each executor's own instance (a fresh memory: the static data it just wrote lies
// below every plan region when this passes), so a cold start instantiates the kernels once.
function checkStaticData(kernels: KernelExports): void {
  const heapBase = kernels.heap_base();
  if (heapBase > KERNEL_STATIC_BYTES) {
    throw new EdgetuneError('KernelBuild', `kernel static data ends at ${heapBase}, past the ${KERNEL_STATIC_BYTES} bytes plans reserve for it`);
  }
}

// Compiles the kernel module once per process, asynchronously (browsers' main threads refuse
// to compile large modules synchronously, and cannot read a file synchronously). `source` is
// where the chosen build's .wasm file is served when a bundler did not keep it beside the code
// (default: new URL('./edgetune.wasm', import.meta.url), or edgetune-nosimd.wasm). Without it
// awaited, the first model compiles the kernels synchronously, which Node, Deno and Bun allow.
// Where the threads build cannot be read synchronously (a cross-origin isolated page), ready()
// also fetches it, from beside `source` (docs/threads.md); without it models run on one thread.
export function ready(source?: URL | string): Promise<WebAssembly.Module> {
  const kernels = compileKernelModule(source);
  const url = threadsKernelUrl(source);
  if (threadsCompiled || url.protocol === 'file:' || kernelVariant() !== 'simd' || engineLacksThreads()) return kernels;
  threadsFetching ??= fetchThreadsKernels(url).then((m) => { threadsCompiled ??= m; });
  return Promise.all([kernels, threadsFetching]).then(([m]) => m);
}

export function kernelModule(): WebAssembly.Module {
  return kernelModuleSync();
}

// The threads build (SIMD only: every engine with wasm threads has SIMD), read and compiled on
// first use where the file can be read synchronously (Node, Deno, Bun); fetched by ready()
// elsewhere (a cross-origin isolated page).
let threadsBytes: Uint8Array | null = null;
let threadsCompiled: WebAssembly.Module | null = null;
let threadsFetching: Promise<void> | null = null;
function threadsBuildProblem(): string | null {
  if (kernelVariant() !== 'simd') return 'the scalar kernel build has no threads build';
  if (threadsCompiled) return null;
  threadsBytes ??= threadsKernelBytes();
  if (!threadsBytes) return `the threads build (${threadsKernelUrl().href}) is not loaded: ready() fetches it in a cross-origin isolated page`;
  return WebAssembly.validate(threadsBytes as BufferSource) ? null : 'this engine rejects wasm threads';
}
function threadsModule(): WebAssembly.Module {
  threadsCompiled ??= new WebAssembly.Module(threadsBytes as BufferSource);
  return threadsCompiled;
}

// Whether a plan has an op the threads build splits worth a second thread: a GEMM of at least
// GEMM_SPLIT_MIN (64^3, assembly/kernels/threads.ts) multiply-adds at the plan's batch size, or an
// im2col convolution (forward or backward), a sepconv (f32, int8 or absmax) or an expand_depthwise; an absmax int8 product
// (gemm_q8, conv2d_q8) of at least GEMM_SPLIT_MIN. A plan without one runs on the plain build: no threads
// build read, no shared memory, no workers (the same bits either way).
const SPLIT_MIN = 64 ** 3;
function hasSplittableWork(plan: Plan): boolean {
  return Object.values(plan.programs).some((p) => p!.ops.some((o) => {
    if (o.op === 'conv2d_forward' || o.op === 'conv2d_forward_packed' || o.op === 'conv2d_direct' || o.op === 'conv2d_winograd' || o.op === 'conv2d_winograd_i8' || o.op === 'sepconv' || o.op === 'sepconv_i8' || o.op === 'sepconv_q8' || o.op === 'expand_depthwise' || o.op === 'conv2d_backward_filter' || o.op === 'conv2d_backward_filter_parts' || o.op === 'conv2d_backward_input') return true;
    if (o.op === 'gemm_packed' || o.op === 'gemm_q8') return o.args.m * plan.batchSize * o.args.n * o.args.k >= SPLIT_MIN;
    if (o.op === 'conv2d_q8') return plan.batchSize * o.args.oh * o.args.ow * o.args.f * o.args.kh * o.args.kw * o.args.c >= SPLIT_MIN;
    if (o.op !== 'gemm') return false;
    const f = o.args.batchFlags, b = plan.batchSize;
    return o.args.m * (f & 1 ? b : 1) * o.args.n * (f & 2 ? b : 1) * o.args.k * (f & 4 ? b : 1) >= SPLIT_MIN;
  }));
}

// Why a model asking for `threads` runs on one (null: it gets them): no threads in this engine,
// or a worker failed to start.
export function threadsFallback(threads: number): string | null {
  return threads > 1 ? threadsUnavailable(threadsBuildProblem) ?? threadPool().failure() : null;
}

// The bytes past the plan a threaded executor adds: the control block and each worker's GEMM
// packing scratch (threads_region_bytes in assembly/kernels/threads.ts).
export function threadsRegionBytes(threads: number): number {
  return 352 + (threads - 1) * 4 * (GEMM_KC * GEMM_NC + GEMM_KC * GEMM_MR);
}

// What that region adds to the executor's memory, in whole wasm pages: memory outside the plan's
// arena and its memoryBudget (summary() and inspect state it).
export function threadsExtraBytes(threads: number): number {
  return threads > 1 ? Math.ceil(threadsRegionBytes(threads) / WASM_PAGE) * WASM_PAGE : 0;
}

// The optimizer's scalars kept in the step header (the rest of the header is per step): Keras's
// optimizer.iterations, the learning-rate variable, the momentum (or beta_1) in effect, Nadam's
// running product of momenta, and the LR finder's rate override (0: none).
export interface OptimizerScalars {
  iterations: number;
  baseLearningRate: number;
  momentum: number;
  nadamUProduct: number;
  learningRateOverride: number;
}

// How a program run ended: ran to the end (nonFinite null), or stopped at op `op` by a
// non-finite loss or gradient.
export type RunResult = { nonFinite: null } | { nonFinite: 'loss' | 'gradients'; op: number };

export function runResult(program: string, status: number, ops: readonly { op: string }[]): RunResult {
  if (status === 0) return { nonFinite: null };
  const op = Math.abs(status) - 1;
  const name = ops[op]?.op;
  if (status < 0) throw new KernelStatusError(program, status, op, name, 'an opcode this kernel build does not know');
  if (name === 'check_loss') return { nonFinite: 'loss', op };
  if (name === 'check_grads') return { nonFinite: 'gradients', op };
  throw new KernelStatusError(program, status, op, name, name === undefined ? `the program has ${ops.length} ops` : 'only check_loss and check_grads can stop a run');
}

let nextExecutorId = 1;

export type KernelExports = Record<string, (...args: number[]) => number>;

export class Executor {
  readonly id = nextExecutorId++;
  readonly memory: WebAssembly.Memory;
  readonly kernels: KernelExports;
  // Views over the one memory, made once: it never grows, so they never detach.
  readonly f32: Float32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly programWords: Partial<Record<ProgramName, { offset: number; count: number }>> = {};

  // Threads this executor runs on (1: the single-threaded build, no shared memory), and why it
  // got fewer than asked (null: it got them).
  threads: number;
  threadsNote: string | null;
  private pool: PoolTarget | null = null;
  // run()'s side work until the driver (or run() itself) runs it.
  private sideWork: (() => void) | null = null;
  // The layers' weight versions the prepare program last ran for (host/training/arena.ts); null: never.
  preparedFor: string | null = null;

  constructor(readonly plan: Plan, threads = defaultThreads()) {
    // edgetune/lite: a plan with an op its kernels lack is refused before any memory is made,
    // whatever the threads (the threads build has every op, but a lite app should not need it).
    checkKernelSetRuns(plan.programs);
    this.threadsNote = threads > 1 && !hasSplittableWork(plan)
      ? 'no op of this plan is large enough to split (a GEMM of at least 64^3 multiply-adds or a convolution)'
      : threadsFallback(threads);
    this.threads = this.threadsNote ? 1 : threads;
    const aShuffle = gemmLoadShape() === 'broadcast' ? 1 : 0;
    if (this.threads > 1) {
      // The plan's arena, then the pool's control block and scratch; shared, never grown.
      const pages = plan.pages + threadsExtraBytes(this.threads) / WASM_PAGE;
      this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      const module = threadsModule();
      const instance = new WebAssembly.Instance(module, { env: { memory: this.memory, side_work: () => this.runSideWork() } });
      this.kernels = instance.exports as unknown as KernelExports;
      const ctl = plan.pages * WASM_PAGE;
      this.kernels.threads_attach(ctl, this.threads);
      this.pool = { module, memory: this.memory, ctl, threads: this.threads, aShuffle };
    } else {
      this.memory = new WebAssembly.Memory({ initial: plan.pages, maximum: plan.pages });
      const instance = new WebAssembly.Instance(kernelModule(), { env: { memory: this.memory } });
      this.kernels = instance.exports as unknown as KernelExports;
    }
    checkStaticData(this.kernels);
    drawInto(this.memory, this.kernels); // initial weights drawn straight into this arena
    this.kernels.gemm_set_a_broadcast?.(aShuffle);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
    this.f64 = new Float64Array(this.memory.buffer);
    for (const [name, program] of Object.entries(plan.programs) as [ProgramName, NonNullable<Plan['programs'][ProgramName]>][]) {
      const words = encodeOps(program.ops);
      const region = plan.regions[program.region];
      if (words.byteLength > region.bytes) throw new EdgetuneError('PlanInvalid', `program ${name} needs ${words.byteLength} bytes, its region has ${region.bytes}`);
      this.i32.set(words, region.offset / 4);
      this.programWords[name] = { offset: region.offset, count: program.ops.length };
    }
    // A fresh optimizer: iteration 0, its learning rate and momentum, every slot at its start value.
    if (plan.programs.init) this.run('init');
  }

  get headerOffset(): number {
    return this.plan.regions[this.plan.header].offset;
  }

  // Writes the rows in this batch and clears the loss, accuracy and gradient-norm accumulators
  // (unless asked to keep loss and accuracy). That is all a driver does per step: the learning
  // rate, the iteration count and the bias corrections are kept by the programs themselves.
  setStep(batch: number, keepAccumulators = false): void {
    const h = this.headerOffset;
    this.i32[(h + HEADER.batch) / 4] = batch;
    if (!keepAccumulators) {
      this.f64[(h + HEADER.lossSum) / 8] = 0;
      this.f64[(h + HEADER.correct) / 8] = 0;
    }
    this.f64[(h + HEADER.gradNormSq) / 8] = 0;
    this.f64[(h + HEADER.penalty) / 8] = 0; // recomputed by every run
    this.f32[(h + HEADER.lossScale) / 4] = 0; // 1 / rows, unless a micro-batch step sets it
  }

  // The loss gradient's scale for this run in place of 1 / rows (a micro-batch: 1 / the batch's rows).
  set lossScale(v: number) { this.f32[(this.headerOffset + HEADER.lossScale) / 4] = v; }

  // Zeroes the gradient slab (micro-batches add into it).
  zeroGradients(): void {
    const slab = this.plan.trainableSlab;
    const first = this.plan.params.find((p) => p.grad !== null);
    if (!slab || !first) return;
    const at = this.plan.regions[first.grad!].offset / 4;
    this.f32.fill(0, at, at + slab.bytes / 4);
  }

  // The optimizer's header scalars: iterations done (Keras optimizer.iterations), the learning-rate
  // variable, the rate the last step used, momentum (or beta_1) in effect, Nadam's product, and
  // the LR finder's override.
  get iterations(): number { return this.i32[(this.headerOffset + HEADER.iter) / 4]; }
  set iterations(v: number) { this.i32[(this.headerOffset + HEADER.iter) / 4] = v; }
  get baseLearningRate(): number { return this.f32[(this.headerOffset + HEADER.baseLr) / 4]; }
  set baseLearningRate(v: number) { this.f32[(this.headerOffset + HEADER.baseLr) / 4] = v; }
  get lastLearningRate(): number { return this.f32[(this.headerOffset + HEADER.lr) / 4]; }
  get momentum(): number { return this.f32[(this.headerOffset + HEADER.momentum) / 4]; }
  set learningRateOverride(v: number) { this.f32[(this.headerOffset + HEADER.lrOverride) / 4] = v; }

  // The optimizer's scalars in the header, for checkpoints and for carrying the optimizer across
  // re-plans.
  optimizerScalars(): OptimizerScalars {
    const h = this.headerOffset;
    return {
      iterations: this.i32[(h + HEADER.iter) / 4],
      baseLearningRate: this.f32[(h + HEADER.baseLr) / 4],
      momentum: this.f32[(h + HEADER.momentum) / 4],
      nadamUProduct: this.f64[(h + HEADER.nadamU) / 8],
      learningRateOverride: this.f32[(h + HEADER.lrOverride) / 4],
    };
  }
  setOptimizerScalars(s: OptimizerScalars): void {
    const h = this.headerOffset;
    this.i32[(h + HEADER.iter) / 4] = s.iterations;
    this.f32[(h + HEADER.baseLr) / 4] = s.baseLearningRate;
    this.f32[(h + HEADER.momentum) / 4] = s.momentum;
    this.f64[(h + HEADER.nadamU) / 8] = s.nadamUProduct;
    this.f32[(h + HEADER.lrOverride) / 4] = s.learningRateOverride;
  }

  readHeader(): { lossSum: number; penalty: number; correct: number; gradNormSq: number; failedOp: number } {
    const h = this.headerOffset;
    return {
      lossSum: this.f64[(h + HEADER.lossSum) / 8],
      penalty: this.f64[(h + HEADER.penalty) / 8],
      correct: this.f64[(h + HEADER.correct) / 8],
      gradNormSq: this.f64[(h + HEADER.gradNormSq) / 8],
      failedOp: this.i32[(h + HEADER.failedOp) / 4],
    };
  }

  // Runs a whole program in one call into wasm. The kernels' status word: 0, it ran to the end;
  // 1 + i, op i (a check_loss or check_grads) found a non-finite loss or gradient before any
  // update ran, returned as `nonFinite`; -(1 + i), op i has an opcode this kernel build does not
  // know, thrown as a KernelStatusError (as is a stop at any other op).
  // `sideWork` runs once during the run, on this thread: with workers, while they take the tiles
  // of the first op split across them (assembly/kernels/threads-side.ts), so it costs the run
  // about half its time rather than all of it; else (one thread, or no op split) before it returns.
  // It must not throw: thrown inside a job, it would leave the job's tiles to the workers.
  run(program: ProgramName, sideWork?: () => void): RunResult {
    const p = this.programWords[program];
    if (!p) throw new EdgetuneError('PlanInvalid', `this plan has no '${program}' program (it was compiled for ${this.plan.mode})`);
    if (this.pool) {
      threadPool().attach(this.pool);
      const failed = threadPool().failure();
      if (failed) this.dropThreads(failed);
    }
    if (sideWork && !this.pool) sideWork();
    else if (sideWork) {
      this.sideWork = sideWork;
      this.kernels.threads_side_work(1);
    }
    let status: number;
    try {
      status = this.kernels.run(p.offset, p.count, this.headerOffset);
    } finally {
      if (this.sideWork) {
        this.kernels.threads_side_work(0);
        this.runSideWork();
      }
    }
    return runResult(program, status, this.plan.programs[program]!.ops);
  }

  private runSideWork(): void {
    const work = this.sideWork;
    this.sideWork = null;
    work?.();
  }

  // A worker failed to start: this executor goes on alone (its driver runs every tile).
  private dropThreads(cause: string): void {
    threadPool().detach(this.pool!);
    this.pool = null;
    this.kernels.threads_attach(0, 1);
    this.threads = 1;
    this.threadsNote = cause;
  }

  // Workers running tiles for this executor right now (they join after their first attach).
  get workersAttached(): number {
    return this.pool ? threadPool().attachedWorkers(this.pool) : 0;
  }

  // Tiles the workers ran for this executor (0 on one thread).
  get workerTiles(): number {
    return this.pool ? threadPool().workerTiles(this.pool) : 0;
  }

  // Ops this executor split across its threads since it was made, by kind (null on one thread).
  get splitJobs(): ReturnType<ThreadPool['splitJobs']> | null {
    return this.pool ? threadPool().splitJobs(this.pool) : null;
  }

  view(region: number, floats?: number): Float32Array {
    const r = this.plan.regions[region];
    return this.f32.subarray(r.offset / 4, r.offset / 4 + (floats ?? r.bytes / 4));
  }

  viewI32(region: number, count?: number): Int32Array {
    const r = this.plan.regions[region];
    return this.i32.subarray(r.offset / 4, r.offset / 4 + (count ?? r.bytes / 4));
  }

  get memoryBytes(): number {
    return this.plan.pages * WASM_PAGE;
  }
}
