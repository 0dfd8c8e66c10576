// The long fuzz run: `npm run fuzz -- --n 10000 [--only safetensors-model,onnx] [--from 0] [--minutes M]`. Runs
// test/fuzz/fuzz.test.ts with FUZZ_N cases per format and prints, per format: tried, typed error
// (or clean refusal; `stopped`: of those, a reader stopped at its timeout), accepted, untyped,
// slow (over 5 s of the case's own CPU time, or no answer from the sandbox child in 60 s), memory
// (a sandboxed case over 1 GB), wall>5s (cases over 5 s of their own wall time but not of CPU: a
// loaded machine), the largest case's own wall and CPU time, restarts (sandbox children started
// during the format's run: after a case that killed, hung or over-grew one) and the RSS growth of
// the test process over the format's run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (name, fallback) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : fallback; };
const n = Number(arg('n', 2000));
const only = arg('only');
const from = arg('from'); // the first case: a long run split across processes
const until = arg('minutes'); // stop after this long; each format reports the cases it tried
const report = join(mkdtempSync(join(tmpdir(), 'edgetune-fuzz-')), 'report.json');
const root = new URL('../..', import.meta.url).pathname;
const t0 = Date.now();
const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'test/fuzz/fuzz.test.ts'], {
  cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 30,
  env: { ...process.env, FUZZ_N: String(n), FUZZ_REPORT: report, ...(only ? { FUZZ_ONLY: only } : {}), ...(from ? { FUZZ_FROM: from } : {}), ...(until ? { FUZZ_UNTIL: String(Date.now() + 60_000 * Number(until)) } : {}) },
});
let rows = {};
try { rows = JSON.parse(readFileSync(report, 'utf8')); } catch { /* no format finished */ }
console.log(`format                   tried   typed stopped accepted untyped slow memory wall>5s maxWall/CPU ms restarts rss+MB`);
for (const [name, s] of Object.entries(rows)) {
  const cols = [[s.tried, 7], [s.typed, 7], [s.stopped ?? 0, 7], [s.accepted, 8], [s.untyped, 7], [s.slow, 4], [s.memory ?? 0, 6], [s.wallOver, 7], [`${s.maxWallMs}/${s.maxCpuMs}`, 14], [s.restarts ?? '-', 8], [s.rssGrowthMB, 6]];
  console.log(`${name.padEnd(22)} ${cols.map(([v, w]) => String(v).padStart(w)).join(' ')}`);
  for (const e of s.examples) console.log(`    ${e}`);
}
console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s, vitest exit ${r.status}`);
process.exitCode = r.status ?? 1;
