// The fuzz sandbox (test/fuzz/sandbox.ts): one child serves many cases and times each itself, so
// a child's start never counts against a case; it is replaced only after a case hung, crashed or
// over-grew it; node:wasi's descriptors do not pile up over thousands of runs.
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, SandboxFailure } from './sandbox';

describe('fuzz sandbox', () => {
  const sandboxes: Sandbox[] = [];
  afterAll(() => sandboxes.forEach((s) => s.close()));

  it('times a case in the child (CPU and wall), not the child\'s start', async () => {
    const s = new Sandbox();
    sandboxes.push(s);
    const t0 = performance.now();
    const o = await s.run({ kind: 'spin', ms: 300 });
    const parentMs = performance.now() - t0; // includes the child's start: library, kernels, h5wasm
    expect(o.ok && o.value.spun).toBe(300);
    if (!o.ok) return;
    expect(o.time.cpuMs).toBeGreaterThanOrEqual(300);
    expect(o.time.wallMs).toBeGreaterThanOrEqual(o.time.cpuMs * 0.9); // one thread busy
    expect(parentMs - o.time.wallMs).toBeGreaterThan(200); // the start, not counted
    expect(s.starts).toBe(1);
  });

  it('kills a case that does not answer within hangMs and serves the next from a new child', async () => {
    const s = new Sandbox(1500);
    sandboxes.push(s);
    await expect(s.value({ kind: 'spin', ms: 60_000 })).rejects.toThrow(SandboxFailure);
    const o = await s.run({ kind: 'spin', ms: 10 });
    expect(o.ok).toBe(true);
    expect(s.starts).toBe(2);
    if (o.ok) expect(o.time.wallMs).toBeLessThan(1000);
  });

  it('runs 400 WASI cases in one child without piling up descriptors', async () => {
    const s = new Sandbox();
    sandboxes.push(s);
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-sandbox-'));
    for (const d of ['p', 'w', 'd']) mkdirSync(join(dir, d));
    const args = ['train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd'];
    const preopens = { '/p': join(dir, 'p'), '/w': join(dir, 'w'), '/d': join(dir, 'd') };
    let pid = 0;
    for (let i = 0; i < 400; i++) {
      expect((await s.value({ kind: 'wasi', args, preopens })).code).toBe(1); // no files: a clean exit 1
      if (i === 0) pid = (await (s as unknown as { child: Promise<{ pid: number }> }).child).pid;
    }
    // Node 20's node:wasi kept 3 per run (the preopened directories): 1,200 here.
    expect(readdirSync(`/proc/${pid}/fd`).length).toBeLessThan(100);
    expect(s.starts).toBe(1);
  });
});
