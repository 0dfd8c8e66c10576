// int8 against float32, layer by layer (issue 14's speed target): one model imported twice, one
// copy with every layer frozen and int8, both planned for inference at one batch; then each layer's
// forward ops (those the plan labels with its name) run alone, the float32 ones and the int8 ones
// alternated round after round, and timed by CPU time (process.cpuUsage, repeated until a sample
// holds ~2 ms). Prints per layer: float32 ms, int8 ms, ratio, op kinds on each side, and the sums.
//   node scripts/profile-int8.mjs [--batch 8] [--rounds 9] [--top 20] emotion gender mobilenet_v2 ...
// --with <dist dir>: a third column, the int8 model of another build (its dist/) loaded in the same
// process and alternated with the two (a probe build, or main's).
// --absmax: instead, the third column is this build's model quantized with Keras's activation
// quantizer on every dense and conv2d layer (quantize('int8', { activationQuantizer: 'absmax' }),
// docs/int8.md "absmax"); --default: the default config (quantize('int8'): absmax where it pays).
// Torchvision models are read from $EDGETUNE_BENCH_CACHE (default <tmpdir>/edgetune-bench-models),
// exported by scripts/bench-models.mjs (or test/torch/export.py) beforehand.
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardOps, GRAPH_MODELS } from './bench-models.mjs';
import { cpuPerRun, randomF32 } from './bench-peers.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const argv = process.argv.slice(2);
const flag = (name, dflt) => { const i = argv.indexOf(name); if (i < 0) return dflt; const v = Number(argv[i + 1]); argv.splice(i, 2); return v; };
const batch = flag('--batch', 1);
const rounds = flag('--rounds', 9);
const top = flag('--top', 24);
// --min: the fastest sample of each layer instead of the median (steadier on a loaded machine).
const useMin = argv.includes('--min') ? (argv.splice(argv.indexOf('--min'), 1), true) : false;
const withAt = argv.indexOf('--with');
const other = withAt < 0 ? null : argv.splice(withAt, 2)[1];
const third = ['--absmax', '--default'].find((f) => argv.includes(f));
if (third) argv.splice(argv.indexOf(third), 1);
const absmax = third !== undefined;
const thirdMode = third === '--default' ? 'default' : 'absmax';
const names = argv.length ? argv : ['emotion', 'gender'];

const et = await import('../dist/node.js');
et.setThreads(1);
const et2 = other ? await import(join(other, 'node.js')) : null;
et2?.setThreads(1);

async function load(name, et) {
  if (GRAPH_MODELS.includes(name)) {
    const dir = join(ROOT, 'test/fixtures/models');
    const json = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    const make = () => et.importTfjsGraphModel(json, async (p) => new Uint8Array(readFileSync(join(dir, p))), `${name}.json`);
    return { f: await make(), q: await make(), x: et.tensor(randomF32(batch * 64 * 64, 500 + batch, 0, 1), [batch, 64, 64, 1]) };
  }
  const file = join(process.env.EDGETUNE_BENCH_CACHE ?? join(tmpdir(), 'edgetune-bench-models'), `${name}.onnx`);
  if (!existsSync(file)) throw new Error(`${file} is missing: export it first (test/torch/export.py <dir> ${name}:224)`);
  const onnx = readFileSync(file);
  return { f: et.importOnnx(onnx, `${name}.onnx`), q: et.importOnnx(onnx, `${name}.onnx`), x: et.tensor(randomF32(batch * 224 * 224 * 3, 700 + batch, -1, 1), [batch, 224, 224, 3]) };
}

// Each label's op indices in program order.
function byLayer(program) {
  const m = new Map();
  program.ops.forEach((op, i) => { if (!m.has(op.layer)) m.set(op.layer, []); m.get(op.layer).push(i); });
  return m;
}

for (const name of names) {
  const { f, q, x } = await load(name, et);
  const models = [f, q];
  if (et2) { const o = await load(name, et2); models.push(o.q); o.x2 = o.x; models.x2 = o.x; }
  if (absmax) { const o = await load(name, et); models.push(o.q); models.x2 = x; }
  models.slice(1).forEach((m, k) => { for (const l of m.layers) l.trainable = false; m.quantize('int8', { activationQuantizer: absmax && k === 1 ? thirdMode : null }); });
  models.forEach((m, k) => { const xin = k === 2 ? models.x2 : x; m.planInference(batch); m.predict(xin, { batchSize: batch }); m.predict(xin, { batchSize: batch }); });
  const runs = models.map((m) => forwardOps(m));
  const sides = runs.length;
  const layers = runs.map((r) => byLayer(r.program));
  const labels = [...new Set(layers.flatMap((l) => [...l.keys()]))];
  const groups = labels.map((label) => runs.map((r, k) => {
    const idx = layers[k].get(label) ?? [];
    return { idx, kinds: idx.map((i) => r.program.ops[i].op), run: () => { for (const i of idx) r.runOp(i); } };
  }));
  // How many calls make a ~2 ms sample (CPU time of that many calls after one more), from two
  // timed calls of each side.
  const inner = groups.map((g) => g.map((s) => {
    if (!s.idx.length) return 0;
    const t0 = performance.now(); s.run(); s.run(); const t = (performance.now() - t0) / 2;
    return Math.max(1, Math.min(200, Math.round(2 / Math.max(t, 1e-3))));
  }));
  const samples = groups.map(() => runs.map(() => []));
  const order = runs.map((_, k) => k);
  for (let r = 0; r < rounds; r++) {
    groups.forEach((g, j) => {
      for (const k of (r & 1) ? [...order].reverse() : order) if (g[k].idx.length) samples[j][k].push(cpuPerRun(g[k].run, inner[j][k]));
    });
  }
  const med = (a) => (a.length ? (useMin ? Math.min(...a) : [...a].sort((p, q) => p - q)[a.length >> 1]) : 0);
  const rows = groups.map((g, j) => ({ label: labels[j], ms: samples[j].map(med), kinds: g.map((s) => s.kinds) }));
  const tot = runs.map((_, k) => rows.reduce((s, r) => s + r.ms[k], 0));
  const cols = ['f32', 'int8', absmax ? 'absmax' : 'other'].slice(0, sides);
  const ratio = (a, b) => (b ? a / b : 0).toFixed(3);
  console.log(`\n${name} b${batch}: sums of per-layer ${useMin ? 'minimums' : 'medians'} (${rounds} alternated rounds, CPU time) ${cols.map((c, k) => `${c} ${tot[k].toFixed(3)} ms`).join(', ')}; int8 / f32 ${ratio(tot[1], tot[0])}${sides > 2 ? `, other / f32 ${ratio(tot[2], tot[0])}, other / int8 ${ratio(tot[2], tot[1])}` : ''}`);
  console.log(`  ${'layer'.padEnd(34)} ${cols.map((c) => `${c} ms`.padStart(9)).join('')} ${'i8/f32'.padStart(7)}${sides > 2 ? ' oth/f32' : ''} ${'extra'.padStart(7)}  ops f32 | int8`);
  const shown = [...rows].sort((a, b) => Math.abs(b.ms[1] - b.ms[0]) - Math.abs(a.ms[1] - a.ms[0])).slice(0, top);
  for (const r of shown) {
    console.log(`  ${r.label.slice(0, 34).padEnd(34)} ${r.ms.map((v) => v.toFixed(3).padStart(9)).join('')} ${ratio(r.ms[1], r.ms[0]).padStart(7)}${sides > 2 ? ratio(r.ms[2], r.ms[0]).padStart(8) : ''} ${(r.ms[1] - r.ms[0]).toFixed(3).padStart(7)}  ${r.kinds[0].join(',')} | ${r.kinds[1].join(',')}${absmax ? ` | ${r.kinds[2].join(',')}` : ''}`);
  }
  // Per op kinds (the float side's and the int8 side's kinds of a layer).
  const kinds = new Map();
  for (const r of rows) {
    const key = `${r.kinds[0].join('+') || '-'} | ${r.kinds[1].join('+') || '-'}${absmax ? ` | ${r.kinds[2].join('+') || '-'}` : ''}`;
    const k = kinds.get(key) ?? { ms: runs.map(() => 0), n: 0 };
    r.ms.forEach((v, i) => { k.ms[i] += v; });
    k.n++;
    kinds.set(key, k);
  }
  console.log(`  by op kinds (f32 | int8${absmax ? ' | absmax' : ''}):`);
  for (const [key, k] of [...kinds].sort((a, b) => (b[1].ms[1] - b[1].ms[0]) - (a[1].ms[1] - a[1].ms[0]))) {
    console.log(`    ${key.slice(0, absmax ? 96 : 64).padEnd(absmax ? 96 : 64)} x${String(k.n).padEnd(3)} ${k.ms.map((v) => v.toFixed(3).padStart(9)).join('')} ${ratio(k.ms[1], k.ms[0]).padStart(7)}${sides > 2 ? ratio(k.ms[2], k.ms[0]).padStart(8) : ''}`);
  }
}
process.exit(0);
