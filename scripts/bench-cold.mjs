// The bench MLP's cold start by phase, in CPU time and page faults, to compare builds on a loaded
// machine (docs/runtimes-and-edge.md, "Cold start"): wall-clock figures swing with the load, CPU
// time (process.cpuUsage, every thread of the process) and minor page faults much less.
//   node scripts/bench-cold.mjs [--runs 21] [--lite | --emotion] [ROOT ...]
// Each ROOT is a checkout with a built dist/ (default: this one); every run is a fresh process, and
// the roots alternate run by run so the load spreads evenly. Prints the medians per root: import
// (dist/index.js, or dist/lite.js with --lite), ready(), building the 784-256-256-10 MLP, its
// first predict at batch 1 (planning, the arena, the weights drawn and packed, the first run) and
// a second one. --emotion: the emotion model instead (test/fixtures/models, its files read before
// the clock, as the bench's cold-start-emotion row does): import (with edgetune/import/tfjs),
// ready(), importing the graph model, its first and second predict at batch 1. A build from another commit: git archive COMMIT | tar -x -C DIR, link
// node_modules, npm run build there.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
const PHASES = { mlp: ['import', 'ready', 'build', 'predict', 'predict2'], emotion: ['import', 'ready', 'load', 'predict', 'predict2'] };

// One fresh process: { phase: [cpuMs, faults] } and the wall time import -> first prediction.
async function child(root, entry) {
  if (entry === 'emotion') return emotionChild(root);
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const faults = () => process.resourceUsage().minorPageFault;
  const sample = Float32Array.from({ length: 784 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const out = {};
  let c = cpu(), f = faults();
  const mark = (phase) => { const c2 = cpu(), f2 = faults(); out[phase] = [c2 - c, f2 - f]; c = c2; f = f2; };
  const t0 = performance.now();
  const et = await import(pathToFileURL(resolve(root, 'dist', entry)).href);
  mark('import');
  et.setThreads(1);
  await et.ready();
  mark('ready');
  const model = et.sequential([
    et.layers.dense(256, { activation: 'relu', inputShape: [784] }),
    et.layers.dense(256, { activation: 'relu' }),
    et.layers.dense(10, { activation: 'softmax' }),
  ]);
  mark('build');
  const y = model.predict(et.tensor(sample, [1, 784]), { batchSize: 1 }).data;
  mark('predict');
  out.wall = performance.now() - t0;
  model.predict(et.tensor(sample, [1, 784]), { batchSize: 1 });
  mark('predict2');
  if (!(y.length === 10 && Number.isFinite(y[0]))) throw new Error('bad prediction');
  process.stdout.write(JSON.stringify(out) + '\n');
}

async function emotionChild(root) {
  const { readFileSync } = await import('node:fs');
  const dir = resolve(HERE, '..', '..', 'test', 'fixtures', 'models');
  const json = JSON.parse(readFileSync(resolve(dir, 'emotion.json'), 'utf8'));
  const shards = new Map(json.weightsManifest.flatMap((g) => g.paths).map((p) => [p, new Uint8Array(readFileSync(resolve(dir, p)))]));
  const x = Float32Array.from({ length: 64 * 64 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const faults = () => process.resourceUsage().minorPageFault;
  const out = {};
  let c = cpu(), f = faults();
  const mark = (phase) => { const c2 = cpu(), f2 = faults(); out[phase] = [c2 - c, f2 - f]; c = c2; f = f2; };
  const t0 = performance.now();
  const [et, importers] = await Promise.all([import(pathToFileURL(resolve(root, 'dist', 'index.js')).href), import(pathToFileURL(resolve(root, 'dist', 'import', 'tfjs.js')).href)]);
  mark('import');
  et.setThreads(1);
  await et.ready();
  mark('ready');
  const model = await importers.importTfjsGraphModel(json, async (p) => shards.get(p), 'emotion.json');
  mark('load');
  const y = model.predict(et.tensor(x, [1, 64, 64, 1]), { batchSize: 1 }).data;
  mark('predict');
  out.wall = performance.now() - t0;
  model.predict(et.tensor(x, [1, 64, 64, 1]), { batchSize: 1 });
  mark('predict2');
  if (!(y.length === 7 && Number.isFinite(y[0]))) throw new Error('bad prediction');
  process.stdout.write(JSON.stringify(out) + '\n');
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main(args) {
  let runs = 21, entry = 'index.js';
  const roots = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--runs') runs = Number(args[++i]);
    else if (args[i] === '--lite') entry = 'lite.js';
    else if (args[i] === '--emotion') entry = 'emotion';
    else roots.push(resolve(args[i]));
  }
  if (!(runs >= 1)) throw new Error('--runs takes a positive count');
  if (!roots.length) roots.push(resolve(HERE, '..', '..'));
  const results = roots.map(() => []);
  for (let r = 0; r < runs; r++) {
    roots.forEach((root, i) => {
      const text = execFileSync(process.execPath, [HERE, '--child', root, entry], { encoding: 'utf8' });
      results[i].push(JSON.parse(text.trim().split('\n').pop()));
    });
  }
  const phases = PHASES[entry === 'emotion' ? 'emotion' : 'mlp'];
  console.log(`cold start of ${entry === 'emotion' ? 'the emotion model' : `the bench MLP (${entry})`}, medians of ${runs} fresh processes each, CPU ms / minor page faults:`);
  roots.forEach((root, i) => {
    const rs = results[i];
    const cpuTotal = median(rs.map((x) => phases.slice(0, 4).reduce((s, p) => s + x[p][0], 0)));
    // With the second prediction: the young-generation collection a cold start brings on (3-6 ms
    // here) lands in one phase or the next as allocation moves, so compare builds on this sum too.
    const cpuAll = median(rs.map((x) => phases.reduce((s, p) => s + x[p][0], 0)));
    const figures = phases.map((p) => `${p} ${median(rs.map((x) => x[p][0])).toFixed(1)} / ${median(rs.map((x) => x[p][1]))}`).join(', ');
    console.log(`${root}: import -> first prediction ${cpuTotal.toFixed(1)} CPU ms (wall ${median(rs.map((x) => x.wall)).toFixed(1)}), -> second ${cpuAll.toFixed(1)}; ${figures}`);
  });
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args[1], args[2]);
else await main(args);
