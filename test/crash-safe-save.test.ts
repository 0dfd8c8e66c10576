// model.save under SIGKILL: child processes (test/fixtures/save-loop.mjs) save two weight sets
// to one destination in a loop, four at a time, and are killed at random moments, 100 times.
// After every kill the destination must hold exactly the bytes of one set (never a torn file),
// the killed saves' temporaries must be removed by later saves (they used to pile up: 32 of them,
// 1.8 GB, after 100 kills of a 48 MB save), and concurrent savers must never lose their own
// temporary to another's clean-up (a save that fails ends its child with code 1).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../dist/node.js';
import { removeStaleTemporaries, STALE_TEMP_MS } from '../host/core/node-fs';
import { weightSet } from './fixtures/save-loop.mjs';
import { ROOT, scratchDir } from './runtime-spawn';

const CHILD = join(ROOT, 'test/fixtures/save-loop.mjs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const temporaries = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));

describe('crash-safe save', () => {
  const scratch = scratchDir('edgetune-crash-save-');
  afterAll(() => scratch.remove());

  it('100 SIGKILLs mid-save: the destination is always one whole weight set; the next save removes the temporaries', async () => {
    const dir = join(scratch.dir, 'kill');
    const dest = join(dir, 'model.safetensors');
    const sets = [weightSet(0).toBytes(), weightSet(1).toBytes()].map((b) => Buffer.from(b));
    expect(sets[0].length).toBeGreaterThan(256 * 1024);
    expect(sets[0].equals(sets[1])).toBe(false);
    await weightSet(0).save(dest);

    const seen = [0, 0];
    let kills = 0;
    let killedMidWrite = 0;
    const exits: string[] = [];
    const lane = async () => {
      while (kills < 100) {
        const child = spawn(process.execPath, [CHILD, dest], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        const closed = new Promise<void>((resolve) => child.on('close', (code, signal) => { if (signal !== 'SIGKILL') exits.push(`exit ${code}: ${err}`); resolve(); }));
        await new Promise((resolve) => { child.stdout.once('data', resolve); child.once('close', resolve); });
        await sleep(Math.random() * 20); // the child saves in a loop: most moments are mid-save
        child.kill('SIGKILL');
        await closed;
        kills++;
        if (temporaries(dir).some((f) => f.includes(`.${child.pid}-`))) killedMidWrite++;
        const now = readFileSync(dest);
        const which = sets.findIndex((s) => s.equals(now));
        expect(which, `after kill ${kills} the destination (${now.length} bytes) is neither weight set`).toBeGreaterThanOrEqual(0);
        seen[which]++;
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);

    expect(exits).toEqual([]); // no save failed: concurrent savers kept their temporaries
    expect((await loadModel(dest)).countParams().total).toBe(128 * 512 + 512);
    await weightSet(1).save(dest); // the final successful save
    expect(temporaries(dir)).toEqual([]);
    expect(readFileSync(dest).equals(sets[1])).toBe(true);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    // the kills did land mid-write, and both sets were on disk at times. This undercounts: the
    // other lanes' savers often remove a killed saver's temporary before it is looked for (13 of
    // 103 seen under heavy load here; the code before the clean-up left 24 behind at the end).
    expect(killedMidWrite, `${killedMidWrite} of ${kills} kills left their temporary`).toBeGreaterThanOrEqual(5);
    expect(Math.min(...seen)).toBeGreaterThan(0);
  }, 240_000); // about 36 s of CPU: 18 s on 2 idle cores, 30-110 s on this shared machine

  it('keeps the temporaries of live processes and of this one unless older than STALE_TEMP_MS; removes the dead ones', async () => {
    const dir = join(scratch.dir, 'rule');
    await weightSet(0).save(join(dir, 'm.bin'));
    const dead = 2 ** 22 + 12345; // above Linux's pid_max: no such process
    const names = {
      dead: `.m.bin.${dead}-aa.tmp`,
      live: `.m.bin.${process.ppid}-bb.tmp`,
      mine: `.m.bin.${process.pid}-cc.tmp`,
      oldLive: `.m.bin.${process.ppid}-dd.tmp`,
      otherFile: `.n.bin.${dead}-ee.tmp`,
      notOurs: '.m.bin.tmp',
    };
    for (const n of Object.values(names)) writeFileSync(join(dir, n), 'x');
    const old = (Date.now() - STALE_TEMP_MS - 60_000) / 1000;
    utimesSync(join(dir, names.oldLive), old, old);
    expect(await removeStaleTemporaries(dir, 'm.bin')).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([names.notOurs, names.live, names.mine, names.otherFile, 'm.bin'].sort());
  });
});
