// Helpers of the threads tests (docs/threads.md): split-job counters, the last job's control words,
// and batch-1 predictions compared bit for bit on 1, 2 and 3 threads.
import { expect } from 'vitest';
import { type sequential, type tensor, threadsReady } from '../../dist/node.js';

type Jobs = Record<string, number> | null;
type Planned = Pick<ReturnType<typeof sequential>, 'planInference' | 'predict' | 'threads'>;

// Ops the executor split across threads so far, by kind (null on one thread).
export const splitJobs = (m: Planned): Jobs => (m as unknown as { arena: { executor: { splitJobs: Jobs } | null } }).arena.executor?.splitJobs ?? null;

// The last job the executor split: its tiles (the control block's word 4) and arguments (from
// word 56, byte 224; assembly/kernels/threads.ts).
export function lastJob(m: Planned): { tiles: number; args: Int32Array } {
  const { pool } = (m as unknown as { arena: { executor: { pool: { memory: WebAssembly.Memory; ctl: number } } } }).arena.executor;
  const words = new Int32Array(pool.memory.buffer, pool.ctl, 88);
  return { tiles: words[4], args: words.slice(56) };
}

export const bits = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);

// Batch-1 predictions of m on 1 thread, then on 2 and 3: the same bits each time; `check` sees the
// split job counts of each multi-thread plan.
export function sameBitsOnThreads(m: Planned, x: ReturnType<typeof tensor>, check: (jobs: Record<string, number>, threads: number) => void): void {
  m.planInference(1, undefined, 1);
  const one = (m.predict(x) as { data: Float32Array }).data.slice();
  for (const threads of [2, 3]) {
    m.planInference(1, undefined, threads);
    const many = (m.predict(x) as { data: Float32Array }).data.slice();
    expect(m.threads.threads).toBe(threads);
    expect(bits(many)).toEqual(bits(one));
    check(splitJobs(m)!, threads);
  }
}

// m's predictions of x (plans of `batch` rows) on 1 thread, then on 2 and 3, with the workers
// running tiles: the pool starts on the first run, so wait for its workers, then run until they
// have taken tiles (a loaded machine may not schedule them in time for one run), every run the
// same bits. Then `job` ran split, and `nested` (the GEMM inside its tiles) never did.
export async function sameBitsWithWorkers(m: Planned, x: ReturnType<typeof tensor>, batch: number, job: string, nested: string): Promise<void> {
  m.planInference(batch, undefined, 1);
  const one = (m.predict(x) as { data: Float32Array }).data.slice();
  for (const threads of [2, 3]) {
    m.planInference(batch, undefined, threads);
    let runs = 0;
    for (; runs < 40 && (runs < 2 || m.threads.workerTiles === 0); runs++) {
      if (runs === 1) await threadsReady();
      expect(bits((m.predict(x) as { data: Float32Array }).data), `${threads} threads, run ${runs}`).toEqual(bits(one));
    }
    expect(m.threads.threads).toBe(threads);
    expect(m.threads.workerTiles, 'tiles the workers ran').toBeGreaterThan(0);
    expect(splitJobs(m)![job], `${job} jobs`).toBeGreaterThanOrEqual(runs);
    expect(splitJobs(m)![nested], 'no nested split').toBe(0);
  }
}
