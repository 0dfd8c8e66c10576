// The mutation fuzzer over every loader (test/fuzz/targets.ts): FUZZ_N cases per format (200 in
// `npm test`; `npm run fuzz -- --n 10000` for the long run). Every refusal must be a typed error
// (an EdgetuneError subclass), no input may be slow or grow a sandboxed case's process past 1 GB
// (test/fuzz/sandbox.ts: WASI and Keras cases), and an accepted input must give a model that
// runs (for safetensors: weights equal to the file's bytes). Slow: over 5 s of the case's own CPU
// time (process time, all threads; measured in the sandbox child for sandboxed cases, so a
// child's start never counts), or no answer within the sandbox's 60 s (the child is killed). Wall
// time over 5 s without that CPU is a loaded machine, counted apart (`wallOver`). FUZZ_REPORT names a JSON file
// for the per-format counts that test/fuzz/run.mjs prints.
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgetuneError } from '../../dist/node.js';
import { rng } from './mutate';
import { SandboxFailure } from './sandbox';
import { closeSandbox, sandboxStarts, sandboxTime, targets } from './targets';

const LONG = process.env.FUZZ_N ? Number(process.env.FUZZ_N) : undefined;
// FUZZ_FROM: the first case of a long run (a run split across processes: 0, 2500, ...).
const FROM = Number(process.env.FUZZ_FROM ?? 0);
// FUZZ_UNTIL: a time (ms since the epoch) after which a long run stops and reports the cases it tried.
const UNTIL = process.env.FUZZ_UNTIL ? Number(process.env.FUZZ_UNTIL) : Infinity;
const SLOW_MS = 5000;
const only = process.env.FUZZ_ONLY?.split(',');
const every = await targets();
const all = every.filter((t) => (only ? only.includes(t.name) : LONG !== undefined || t.smoke !== 0));
const report: Record<string, unknown> = {};

describe('mutation fuzzer', () => {
  afterAll(closeSandbox);

  // Cases the long runs found, each refused with a typed error (or a clean exit 1) now. wasi-plan:
  // 7 of 2000 trapped ("memory access out of bounds") reading past the plan's end through a count
  // or length (test/wasi-hostile.test.ts has one of each kind). tfjs-graph: a list attribute that
  // is not a list (TypeError), a dilation of 1e308 (a divide-by-zero trap in the conv kernel), an
  // input of 2^37 floats per sample, an op folded without an input.
  // onnx: a folded op without its input (TypeError).
  const PINNED: Record<string, number[]> = {
    'wasi-plan': [214, 686, 844, 971, 1000, 1987, 1994],
    'tfjs-graph': [112, 263, 1347, 1384, 1680, 2702, 2889, 5958, 7452],
    onnx: [8592],
  };
  for (const [name, cases] of Object.entries(PINNED)) {
    it(`${name}: the cases the long run found are refused with typed errors`, async () => {
      const t = every.find((x) => x.name === name)!;
      for (const i of cases) {
        const outcome = await t.run(t.mutate(rng(i))).then((r) => r ?? 'accepted', (e) => (e instanceof EdgetuneError ? 'typed' : String(e?.stack ?? e)));
        expect(['refused', 'typed'], `case ${i}: ${outcome}`).toContain(outcome);
      }
    });
  }
  for (const t of all) {
    const N = LONG ?? t.smoke ?? 200;
    it(`${t.name}: ${N} mutations give typed errors or models that run`, async () => {
      const untyped: string[] = [];
      const slow: string[] = [];
      const memory: string[] = [];
      let typed = 0;
      let stopped = 0; // typed refusals by a reader stopped at its timeout (Keras HDF5)
      let accepted = 0;
      let wallOver = 0; // cases over 5 s of their own wall time (a loaded machine) but not of CPU
      let maxWall = 0;
      let maxCpu = 0;
      const rss0 = process.memoryUsage().rss;
      const starts0 = sandboxStarts();
      let tried = 0;
      for (let i = 0; i < N && Date.now() < UNTIL; i++, tried++) {
        const c = FROM + i + 1;
        const input = t.mutate(rng(c));
        if (process.env.FUZZ_TRACE) writeFileSync(process.env.FUZZ_TRACE, `${t.name} case ${c}\n`);
        const w0 = performance.now();
        const c0 = process.cpuUsage();
        try {
          if ((await t.run(input)) === 'refused') typed++;
          else accepted++;
        } catch (e) {
          if (e instanceof SandboxFailure && e.why !== 'crash') (e.why === 'memory' ? memory : slow).push(`case ${c}: ${e.message}`);
          else if (e instanceof EdgetuneError) { typed++; if (/the HDF5 reader did not finish in \d+ ms/.test(e.message)) stopped++; }
          else untyped.push(`case ${c}: ${(e as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? e}`);
        }
        // The case's own time: measured by the sandbox child for sandboxed targets, here otherwise.
        const cpu = process.cpuUsage(c0);
        const own = t.sandboxed ? sandboxTime() : { wallMs: performance.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 };
        if (!own) continue; // killed or crashed: counted above
        maxWall = Math.max(maxWall, own.wallMs);
        maxCpu = Math.max(maxCpu, own.cpuMs);
        if (own.cpuMs > SLOW_MS) slow.push(`case ${c}: ${own.cpuMs.toFixed(0)} ms of CPU (${own.wallMs.toFixed(0)} ms wall)`);
        else if (own.wallMs > SLOW_MS) wallOver++;
      }
      const rssGrowthMB = (process.memoryUsage().rss - rss0) / 2 ** 20;
      report[t.name] = {
        tried, typed, stopped, accepted, untyped: untyped.length, slow: slow.length, memory: memory.length, rssGrowthMB: Math.round(rssGrowthMB),
        wallOver, maxWallMs: Math.round(maxWall), maxCpuMs: Math.round(maxCpu), ...(t.sandboxed ? { restarts: sandboxStarts() - starts0 } : {}),
        examples: [...untyped, ...slow, ...memory].slice(0, 5),
      };
      if (process.env.FUZZ_REPORT) writeFileSync(process.env.FUZZ_REPORT, JSON.stringify(report, null, 1));
      expect(untyped.slice(0, 5)).toEqual([]);
      expect(slow).toEqual([]);
      expect(memory).toEqual([]);
      expect(typed + accepted).toBe(tried);
    }, LONG ? 6 * 3_600_000 : 600_000); // a long run of 10,000 .keras files takes over 10 minutes
  }
});
