// A worker that cannot start (Node's permission model without --allow-worker refuses
// `new Worker`) leaves the model usable on one thread, with a warning naming the cause, and
// summary() saying why. Run in a child process: the failure is process-wide and final. And a
// process whose model ran on two threads exits on its own (its workers must not hold it).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './runtime-spawn';

const SCRIPT = `
import { layers, sequential, setSeed, tensor } from ${JSON.stringify(`${ROOT}dist/node.js`)};
setSeed(1);
const m = sequential([layers.dense(128, { inputShape: [128], activation: 'relu' }), layers.dense(3, { activation: 'softmax' })]);
m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', batchSize: 64, threads: 2 });
const x = tensor(new Float32Array(64 * 128).map((_, i) => Math.sin(i)), [64, 128]);
const y = tensor(new Float32Array(64).map((_, i) => i % 3), [64]);
const h = await m.fit(x, y, { epochs: 3, batchSize: 64 });
console.log(JSON.stringify({ loss: h.history.loss, threads: m.threads, summary: m.summary(null).split('\\n').at(-1) }));
`;

describe('threads: a worker that fails to start', () => {
  it('warns with the cause and the model trains on one thread', () => {
    const r = spawnSync(process.execPath, ['--experimental-permission', `--allow-fs-read=*`, '--no-warnings', '--input-type=module', '-e', SCRIPT], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/edgetune: thread worker 1 failed to start: .*restricted.*; running on one thread/);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.threads.threads).toBe(1);
    expect(out.threads.asked).toBe(2);
    expect(out.threads.fallback).toMatch(/thread worker 1 failed to start/);
    expect(out.summary).toMatch(/^Threads: 1 \(asked for 2; one thread because thread worker 1 failed to start/);
    expect(out.loss).toHaveLength(3);
    for (const l of out.loss) expect(Number.isFinite(l)).toBe(true);
  });
});

describe('threads: the pool does not keep a process alive', () => {
  it('a script that trained on 2 threads exits by itself', () => {
    const script = SCRIPT.replace("'--no-warnings'", '');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, 'killed by the 30 s timeout: the process did not exit').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.threads).toEqual({ threads: 2, asked: 2, fallback: null, workerTiles: out.threads.workerTiles });
    expect(out.summary).toMatch(/^Threads: 2 \(\+192\.0 KB outside the planned arena/);
  });
});

describe('threads: threadsReady() keeps the process alive until the workers are up', () => {
  it('awaiting threadsReady() right after the first step resolves (Node does not exit with an unsettled await)', () => {
    // The first run starts the workers; they take tens of milliseconds to come up, far longer than
    // this step. Before the fix the unref'd workers' pending 'ready' held nothing: exit code 13.
    const script = `
import { layers, sequential, tensor, threadsReady } from ${JSON.stringify(`${ROOT}dist/node.js`)};
const m = sequential([layers.dense(128, { inputShape: [128] })]);
m.planInference(64, undefined, 2);
const x = tensor(new Float32Array(64 * 128).fill(0.5), [64, 128]);
m.predict(x, { batchSize: 64 });
await threadsReady();
m.predict(x, { batchSize: 64 });
console.log(JSON.stringify(m.threads));
`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal, 'killed by the 30 s timeout: the process did not exit').toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim()).threads, r.stdout).toBe(2);
  });

  it('a script that awaits threadsReady() at top level gets its workers (they are referenced until ready)', () => {
    const script = `
import { layers, sequential, tensor, threadsReady } from ${JSON.stringify(`${ROOT}dist/node.js`)};
const m = sequential([layers.dense(128, { inputShape: [128] })]);
m.compile({ optimizer: 'sgd', loss: 'mse', batchSize: 64, threads: 2 });
const x = tensor(new Float32Array(64 * 128).map((_, i) => Math.sin(i)), [64, 128]);
await m.fit(x, x, { epochs: 1, verbose: 0 });
await threadsReady();
await m.fit(x, x, { epochs: 1, verbose: 0 });
console.log(JSON.stringify(m.threads));
`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    // Before: the workers were unreferenced from the start, so the event loop emptied while
    // threadsReady() was pending and Node exited with 13 (unsettled top-level await).
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').at(-1)!), r.stdout).toMatchObject({ threads: 2, fallback: null });
  });
});
