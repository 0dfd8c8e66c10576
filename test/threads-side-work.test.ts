// Executor.run's side work (docs/threads.md, "Where the time goes"): JavaScript only the calling
// thread can run (predict's first writes to its fresh output arrays) runs once per run, on a
// threaded executor while the first split job's tiles are open to the workers, so it no longer
// adds to a predict's time on 2 threads what it adds on one.
import { describe, expect, it } from 'vitest';
import { layers, sequential, setSeed, tensor, threadsReady } from '../dist/node.js';
import { randomArray } from './support/harness';

interface Exec {
  run(program: string, sideWork?: () => void): { nonFinite: null | string };
  setStep(rows: number): void;
  splitJobs: Record<string, number> | null;
  pool: { memory: WebAssembly.Memory; ctl: number } | null;
}
const executor = (m: ReturnType<typeof sequential>): Exec => (m as unknown as { arena: { executor: Exec } }).arena.executor;

// A dense layer whose one GEMM (64 x 256 x 256) a 2-thread plan splits.
function denseModel(threads: number, units = 256): ReturnType<typeof sequential> {
  setSeed(3);
  const m = sequential([layers.dense(units, { inputShape: [256], useBias: false })]);
  m.planInference(64, undefined, threads);
  return m;
}

const bits = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);

describe('threads: Executor.run side work', () => {
  it('on 2 threads runs once, inside the first split job, while its tiles are still open', async () => {
    const m = denseModel(2);
    const x = tensor(randomArray(64 * 256, 4), [64, 256]);
    m.predict(x, { batchSize: 64 });
    await threadsReady();
    const exec = executor(m);
    expect(exec.pool).not.toBeNull();
    const before = exec.splitJobs!['gemm packed'];
    const seen: { jobs: number; done: number; tiles: number }[] = [];
    const result = exec.run('forward', () => {
      // The control block (assembly/kernels/threads.ts): word 3 tiles done, word 4 tiles.
      const words = new Int32Array(exec.pool!.memory.buffer, exec.pool!.ctl, 8);
      seen.push({ jobs: exec.splitJobs!['gemm packed'] - before, done: Atomics.load(words, 3), tiles: Atomics.load(words, 4) });
    });
    expect(result.nonFinite).toBeNull();
    expect(seen.length).toBe(1);
    // Published (counted) and not yet finished: the driver has claimed none of its tiles yet.
    expect(seen[0].jobs).toBe(1);
    expect(seen[0].tiles).toBeGreaterThan(1);
    expect(seen[0].done).toBeLessThan(seen[0].tiles);
    expect(exec.splitJobs!['gemm packed'] - before).toBe(1);
  });

  it('runs once on one thread, and on 2 threads in a run that splits no op, and is not kept for the next run', () => {
    const one = denseModel(1);
    const x = tensor(randomArray(64 * 256, 5), [64, 256]);
    one.predict(x, { batchSize: 64 });
    let calls = 0;
    executor(one).run('forward', () => { calls++; });
    expect(calls).toBe(1);
    // 2 threads, one row of the batch of 64: 1 x 256 x 256 multiply-adds are below the split size.
    const two = denseModel(2);
    two.predict(x, { batchSize: 64 });
    const exec = executor(two);
    expect(exec.pool).not.toBeNull();
    exec.setStep(1);
    const jobs = JSON.stringify(exec.splitJobs);
    exec.run('forward', () => { calls++; });
    expect(JSON.stringify(exec.splitJobs)).toBe(jobs);
    expect(calls).toBe(2);
    exec.run('forward');
    expect(calls).toBe(2);
  });

  it('predict hands the first batch its output arrays\' first writes, and returns the 1-thread bits', async () => {
    const x = tensor(randomArray(200 * 256, 7), [200, 256]);
    const one = (denseModel(1).predict(x, { batchSize: 64 }) as { data: Float32Array }).data;
    const m = denseModel(2);
    m.predict(x, { batchSize: 64 });
    await threadsReady();
    const exec = executor(m);
    const run = exec.run.bind(exec);
    const sideWork: boolean[] = [];
    exec.run = (program, work) => { sideWork.push(work !== undefined); return run(program, work); };
    const two = (m.predict(x, { batchSize: 64 }) as { data: Float32Array }).data;
    // 200 rows in batches of 64: only the first run carries the side work.
    expect(sideWork).toEqual([true, false, false, false]);
    expect(bits(two)).toEqual(bits(one));
  });
});
