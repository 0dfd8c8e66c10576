// The other writers under SIGKILL (model.save has test/crash-safe-save.test.ts): `edgetune convert`,
// modelCheckpoint during fit, and the WASI module's weights write-back, each killed at random
// moments: convert 40 times and the checkpointer 30 by three lanes at once, the WASI module 60 by
// one lane (one trainer per weights file: docs/wasi.md) (130 kills; with model.save's 100, 230
// across the writers; a kill costs a process start, 1-3 s here
// under load for the two that load the library, and the WASI runner is the cheapest). After every kill the
// destination must be a complete file: for convert exactly one of the two conversions, for a
// checkpoint a file that loads with all its bytes, for the WASI module the untouched original or a
// complete write-back (same length, same header, loads). After the next successful write no
// temporary is left in the directory.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModelFile, loadModel, packDataFile, readSafetensors } from '../dist/node.js';
import { mnistData } from '../dist/examples.js';
import { weightSet } from './fixtures/save-loop.mjs';
import { ROOT, scratchDir } from './runtime-spawn';

const CLI = join(ROOT, 'dist/cli.js');
const KILLS = { convert: 40, checkpoint: 30, wasi: 60 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

// Runs `lanes` lanes (default three) that each start a child (argv from `command(i)`), wait until it says
// something on stdout (when `waitForOutput`: the child writes in a loop after that), sleep a random
// part of `windowMs`, SIGKILL it, and call `check` with the kill's number; until `kills` kills.
async function killLoop(o: { command: (i: number) => string[]; windowMs: number | (() => number); waitForOutput: boolean; kills: number; check: (kill: number) => void; lanes?: number }) {
  let kills = 0;
  let started = 0;
  const exits: string[] = [];
  const lane = async () => {
    while (kills < o.kills) {
      const child = spawn(process.execPath, o.command(started++), { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const closed = new Promise<void>((resolve) => child.on('close', (code, signal) => {
        if (signal !== 'SIGKILL' && code !== 0) exits.push(`exit ${code}: ${err.slice(0, 300)}`);
        resolve();
      }));
      if (o.waitForOutput) await new Promise((resolve) => { child.stdout.once('data', resolve); child.once('close', resolve); });
      await sleep(Math.random() * (typeof o.windowMs === 'number' ? o.windowMs : o.windowMs()));
      child.kill('SIGKILL');
      await closed;
      o.check(++kills);
    }
  };
  await Promise.all(Array.from({ length: o.lanes ?? 3 }, lane));
  return exits;
}

describe('crash-safe writers under SIGKILL', () => {
  const scratch = scratchDir('edgetune-crash-writers-');
  afterAll(() => scratch.remove());

  it(`edgetune convert: ${KILLS.convert} kills, the destination is always one whole conversion`, async () => {
    const dir = join(scratch.dir, 'convert');
    mkdirSync(dir);
    const inputs = [0, 1].map((k) => join(dir, `in${k}.safetensors`));
    await weightSet(0).save(inputs[0]);
    await weightSet(1).save(inputs[1]);
    const dest = join(dir, 'out', 'model.safetensors');
    const convert = (k: number) => [CLI, 'convert', inputs[k % 2], dest];
    const clean = async (k: number) => new Promise<void>((resolve, reject) => {
      spawn(process.execPath, convert(k), { stdio: 'ignore' }).on('close', (code) => (code === 0 ? resolve() : reject(new Error(`convert exit ${code}`))));
    });
    const t0 = performance.now();
    await clean(1);
    const ms = performance.now() - t0;
    const one = readFileSync(dest);
    await clean(0);
    const zero = readFileSync(dest);
    expect(zero.equals(one)).toBe(false);
    const seen = [0, 0];
    const exits = await killLoop({
      // a clean run's time x 3: three lanes at once run slower, and some kills must come after the rename;
      // while none has (a loaded machine starts processes slower than the clean run did), the window grows
      command: convert, windowMs: () => ms * 3 * (Math.min(...seen) > 0 ? 1 : Math.min(6, 1.2 ** (seen[0] + seen[1]))), waitForOutput: false, kills: KILLS.convert,
      check: (kill) => {
        const now = readFileSync(dest);
        const which = [zero, one].findIndex((b) => b.equals(now));
        expect(which, `after kill ${kill} the destination (${now.length} bytes) is neither conversion`).toBeGreaterThanOrEqual(0);
        seen[which]++;
      },
    });
    expect(exits).toEqual([]);
    expect(Math.min(...seen), `destinations seen: ${seen}`).toBeGreaterThan(0); // some kills came after a rename
    await clean(1);
    expect(temporaries(join(dir, 'out'))).toEqual([]);
    expect(readFileSync(dest).equals(one)).toBe(true);
  }, 240_000);

  it(`modelCheckpoint during fit: ${KILLS.checkpoint} kills, the checkpoint always loads whole`, async () => {
    const dir = join(scratch.dir, 'checkpoint');
    const dest = join(dir, 'model.safetensors');
    const digests = new Set<string>();
    const exits = await killLoop({
      command: () => [join(ROOT, 'test/fixtures/checkpoint-loop.mjs'), dest], windowMs: 100, waitForOutput: true, kills: KILLS.checkpoint,
      check: (kill) => {
        const now = readFileSync(dest);
        const file = readSafetensors(now); // a torn file fails its size checks here
        expect(file.tensors.size, `after kill ${kill}`).toBeGreaterThan(4); // weights and optimizer slots
        digests.add(now.toString('base64', 0, 64) + now.subarray(-64).toString('base64'));
      },
    });
    expect(exits).toEqual([]);
    expect((await loadModel(dest)).countParams().total).toBe(128 * 64 + 64 + 64 * 4 + 4);
    expect(digests.size).toBeGreaterThan(1); // checkpoints of several runs and epochs were on disk at kill times
    // the next successful checkpoint removes the killed ones' temporaries (this last child may
    // already be writing its own next one when the kill lands: its pid is in the name)
    const pid = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'test/fixtures/checkpoint-loop.mjs'), dest], { stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout.once('data', () => { child.kill('SIGKILL'); resolve(child.pid!); });
    });
    expect(temporaries(dir).filter((t) => !t.startsWith(`.model.safetensors.${pid}-`))).toEqual([]);
  }, 240_000);

  it(`the WASI module's weights write-back: ${KILLS.wasi} kills, the weights file is the old one or a whole new one`, async () => {
    const dir = join(scratch.dir, 'wasi');
    for (const d of ['p', 'w', 'd']) mkdirSync(join(dir, d), { recursive: true });
    const weights = join(dir, 'w/model.safetensors');
    copyFileSync(join(ROOT, 'test/fixtures/wasi-hostile/w/model.safetensors'), weights);
    await compileModelFile(weights, join(dir, 'p/model.plan'), { batch: 16, freeze: 'base_dense_1', budget: '4MB' });
    await packDataFile(join(dir, 'd/train.etd'), mnistData([5, 6, 7, 8, 9], 8)); // 40 rows: 2 steps of 16
    const original = readFileSync(weights);
    const headerEnd = 8 + Number(original.readBigUInt64LE(0));
    const preopens = JSON.stringify({ '/p': join(dir, 'p'), '/w': join(dir, 'w'), '/d': join(dir, 'd') });
    const train = () => [join(ROOT, 'test/wasi/run-wasi.mjs'), join(ROOT, 'build/edgetune-wasi.wasm'), preopens,
      'train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd', '--epochs', '1'];
    const runToEnd = () => new Promise<number | null>((resolve) => spawn(process.execPath, train(), { stdio: 'ignore' }).on('close', resolve));
    const t0 = performance.now();
    expect(await runToEnd()).toBe(0);
    const ms = performance.now() - t0;
    const first = readFileSync(weights);
    expect(first.equals(original)).toBe(false); // a run does change the weights
    let changed = 0;
    let last = first;
    const exits = await killLoop({
      command: train, windowMs: ms * 1.5, waitForOutput: false, kills: KILLS.wasi, lanes: 1,
      check: (kill) => {
        const now = readFileSync(weights);
        expect(now.length, `after kill ${kill}`).toBe(original.length);
        expect(now.subarray(0, headerEnd).equals(original.subarray(0, headerEnd)), `after kill ${kill}: header`).toBe(true);
        expect(readSafetensors(now).tensors.size).toBe(readSafetensors(original).tensors.size);
        if (!now.equals(last)) changed++;
        last = now;
      },
    });
    expect(exits).toEqual([]);
    expect(changed, 'some runs finished their write-back between kills').toBeGreaterThan(0);
    expect(await runToEnd()).toBe(0);
    expect(readdirSync(join(dir, 'w'))).toEqual(['model.safetensors']); // the fixed-name temporary was renamed over it
  }, 240_000);
});
