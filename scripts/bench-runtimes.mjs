// npm run bench -- --runtimes [--json] [--quick] [--rounds N] [--only node,deno] [--v8-flags="..."] [--clock=cpu]
// The same workloads under Node, Deno and Bun (scripts/bench-runtime-worker.mjs in a fresh process
// of each): the register-only f32x4 loop and the 4x8 GEMM microkernel (scripts/wasm-probes.mjs),
// gemm_f32 at 256 and 512, and the MLP training step (784-256-256-10, Adam, batch 64). Rounds
// alternate the runtimes so that a busy stretch of a shared machine hits each alike; every figure
// is the median over rounds of per-process medians, ratios are against Node within this run.
// --v8-flags passes V8 flags to Node and Deno (e.g. "--no-liftoff"; Bun runs JavaScriptCore).
// --clock=cpu times by process CPU time rather than the wall clock (for a busy shared machine).
// Deno runs offline with read access to this repository only and its cache in a temporary dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = join(ROOT, 'scripts/bench-runtime-worker.mjs');
const argv = process.argv.slice(2);
const option = (name) => {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[i + 1] : undefined;
};
const json = argv.includes('--json');
const quick = argv.includes('--quick');
const rounds = Number(option('rounds') ?? (quick ? 1 : 3));
const v8Flags = option('v8-flags');
const runtimes = (option('only') ?? 'node,deno,bun').split(',');
const clock = option('clock') ?? 'wall';
const log = (...a) => process.stderr.write(`[bench-runtimes] ${a.join(' ')}\n`);

function command(runtime, scratch) {
  const args = [...(quick ? ['--quick'] : []), `--clock=${clock}`];
  const flags = v8Flags ? v8Flags.split(/\s+/).filter(Boolean) : [];
  if (runtime === 'node') return [process.execPath, [...flags, WORKER, ...args]];
  if (runtime === 'bun') return [join(ROOT, 'node_modules/.bin/bun'), [WORKER, ...args]];
  if (runtime === 'deno') {
    return [join(ROOT, 'node_modules/.bin/deno'), ['run', '--quiet', '--no-prompt', '--cached-only', '--no-lock', `--allow-read=${ROOT}`,
      ...(flags.length ? [`--v8-flags=${flags.join(',')}`] : []), WORKER, ...args]];
  }
  throw new Error(`unknown runtime '${runtime}' (known: node, deno, bun)`);
}

function runWorker(runtime, scratch, timeoutMs = 300_000) {
  const [cmd, args] = command(runtime, scratch);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: scratch, env: { ...process.env, DENO_DIR: join(scratch, 'deno-dir'), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${runtime} worker exited with ${code ?? signal}: ${err.slice(-2000)}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

async function version(runtime) {
  const [cmd] = command(runtime, tmpdir());
  if (runtime === 'node') return process.version.slice(1);
  return new Promise((resolve) => {
    const child = spawn(cmd, ['--version']);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => resolve(/(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? '?'));
    child.on('error', () => resolve('?'));
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'edgetune-bench-runtimes-'));
const samples = new Map(); // `${runtime} ${workload}` -> values
const units = new Map();
try {
  for (let r = 0; r < rounds; r++) {
    for (const runtime of runtimes) {
      log(`round ${r + 1}/${rounds}: ${runtime} ...`);
      for (const rec of await runWorker(runtime, scratch)) {
        const key = `${runtime} ${rec.workload}`;
        if (!samples.has(key)) samples.set(key, []);
        samples.get(key).push(rec.value);
        units.set(rec.workload, rec.unit);
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const versions = Object.fromEntries(await Promise.all(runtimes.map(async (rt) => [rt, await version(rt)])));
const records = [];
for (const [key, values] of samples) {
  const [runtime, workload] = key.split(' ');
  records.push({ workload, impl: runtime, version: versions[runtime], value: median(values), unit: units.get(workload), rounds: values.length, clock, ...(v8Flags ? { v8Flags } : {}) });
}

if (json) {
  process.stdout.write(JSON.stringify(records, null, 1) + '\n');
} else {
  const get = (w, rt) => records.find((x) => x.workload === w && x.impl === rt)?.value;
  const fmt = (v) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2));
  const others = runtimes.filter((rt) => rt !== 'node');
  const lines = [];
  lines.push(`edgetune across runtimes (medians of ${rounds} round${rounds > 1 ? 's' : ''}, ${clock} clock; ${runtimes.map((rt) => `${rt} ${versions[rt]}`).join(', ')}${v8Flags ? `; V8 flags ${v8Flags}` : ''})`);
  lines.push('');
  lines.push(`| workload | unit | ${runtimes.join(' | ')} |${runtimes.includes('node') ? others.map((rt) => ` ${rt} vs node |`).join('') : ''}`);
  lines.push(`|---|---|${runtimes.map(() => '---|').join('')}${runtimes.includes('node') ? others.map(() => '---|').join('') : ''}`);
  for (const w of [...new Set(records.map((x) => x.workload))]) {
    const unit = units.get(w);
    const higher = unit === 'GFLOP/s';
    const cells = runtimes.map((rt) => fmt(get(w, rt)));
    // Speed relative to Node: > 1 means faster than Node.
    const ratios = runtimes.includes('node') ? others.map((rt) => {
      const a = get(w, rt);
      const n = get(w, 'node');
      return a === undefined || n === undefined ? '-' : `${(higher ? a / n : n / a).toFixed(2)}x`;
    }) : [];
    lines.push(`| ${w} | ${unit} | ${cells.join(' | ')} |${ratios.map((x) => ` ${x} |`).join('')}`);
  }
  lines.push('');
  lines.push('"vs node" is speed relative to Node (above 1: faster). reg-loop touches no memory; the two');
  lines.push('kernel-4x8 rows differ only in memory accesses per k step (6 for splat, 3 for shuffle).');
  process.stdout.write(lines.join('\n') + '\n');
}
