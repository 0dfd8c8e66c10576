// The long fuzz run: `npm run fuzz -- --n 10000 [--only safetensors-model,onnx] [--from 0] [--minutes M]`. Runs
// test/fuzz/fuzz.test.ts with FUZZ_N cases per format and prints, per format: tried, typed error
// (or clean refusal; `stopped`: of those, a reader stopped at its timeout), accepted, untyped,
// slow (> 5 s), memory (a sandboxed case over 1 GB) and RSS growth of the test process over the
// format's run.
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
console.log(`format                   tried   typed stopped accepted untyped slow memory rss+MB`);
for (const [name, s] of Object.entries(rows)) {
  console.log(`${name.padEnd(22)} ${String(s.tried).padStart(7)} ${String(s.typed).padStart(7)} ${String(s.stopped ?? 0).padStart(7)} ${String(s.accepted).padStart(8)} ${String(s.untyped).padStart(7)} ${String(s.slow).padStart(4)} ${String(s.memory ?? 0).padStart(6)} ${String(s.rssGrowthMB).padStart(6)}`);
  for (const e of s.examples) console.log(`    ${e}`);
}
console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s, vitest exit ${r.status}`);
process.exitCode = r.status ?? 1;
