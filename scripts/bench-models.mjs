// Real models in the bench (issue 12): `model-<name>-b1` and `-b8`, edgetune's import of a file
// beside the peer that runs the same file, single-threaded, inference only.
//   - emotion, gender (TF.js graph models, test/fixtures/models): tf.loadGraphModel on tfjs-wasm.
//   - torchvision exports at 224x224 (test/torch/export.py with /usr/bin/python3, cached in
//     $EDGETUNE_BENCH_CACHE or <tmpdir>/edgetune-bench-models): onnxruntime-web. Without PyTorch
//     they are skipped, and the reason printed.
//   - `model-<name>-int8-b1` / `-b8`: the same model with every layer frozen and quantize('int8')
//     (the default config: the dense inputs, and the conv2d inputs where that pays, quantized
//     per row by absmax, int32 products; docs/int8.md "absmax"), timed alternately with the float32 model
//     (int8Row); its top-1 agreement with float32 on the bench input and the int8 / float32 ratio
//     of medians are printed.
//   - `model-<name>-int8w-b1` / `-b8`: the same with quantize('int8', { activationQuantizer: null }),
//     weight-only (the inputs stay f32), timed and reported as the int8 rows.
// With `profile`, edgetune's time per op kind is printed for each model (opProfile below).
// With `threads` (a list of thread counts, scripts/bench-threads.mjs), edgetune runs one model per
// count, timed in alternation after the peer (timedRows); each record then carries its `threads`
// and every record the `rounds` timed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuPerRun, log, ortSession, randomF32, timeInterleavedRounds, useTfBackend } from './bench-peers.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const GRAPH_DIR = join(ROOT, 'test/fixtures/models');
export const GRAPH_MODELS = ['emotion', 'gender'];
export const TORCHVISION_MODELS = ['mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0', 'resnet18', 'squeezenet1_1', 'shufflenet_v2_x0_5'];
const BATCHES = [1, 8];

// The ONNX files, exported once into the cache folder; null and a reason when PyTorch is missing.
function torchvisionFiles(names) {
  const dir = process.env.EDGETUNE_BENCH_CACHE ?? join(tmpdir(), 'edgetune-bench-models');
  mkdirSync(dir, { recursive: true });
  const missing = names.filter((n) => !existsSync(join(dir, `${n}.onnx`)));
  if (missing.length) {
    const python = process.env.EDGETUNE_PYTHON ?? '/usr/bin/python3';
    try {
      execFileSync(python, ['-c', 'import torch, torchvision, onnx'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      return { files: null, reason: `${python} cannot import torch, torchvision and onnx (${String(e.stderr ?? e.message).trim().split('\n').at(-1)})` };
    }
    log(`exporting ${missing.join(', ')} at 224x224 into ${dir} ...`);
    execFileSync(python, [join(ROOT, 'test/torch/export.py'), dir, ...missing.map((n) => `${n}:224`)], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 1_800_000 });
  }
  return { files: new Map(names.map((n) => [n, readFileSync(join(dir, `${n}.onnx`))])), reason: '' };
}

// Time per op kind of one forward run: each op of the program run alone through the interpreter's
// `run(offset, 1, header)`, the program's words walked as [opcode, nargs, args...].
export function opProfile(model, reps = 5) {
  const { program, runOp } = forwardOps(model);
  const byKind = new Map();
  for (let i = 0; i < program.ops.length; i++) {
    const samples = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      runOp(i);
      samples.push(performance.now() - t0);
    }
    samples.sort((a, b) => a - b);
    const kind = program.ops[i].op;
    const k = byKind.get(kind) ?? { ms: 0, count: 0 };
    k.ms += samples[reps >> 1];
    k.count++;
    byKind.set(kind, k);
  }
  return [...byKind].sort((a, b) => b[1].ms - a[1].ms);
}

// A program of a model's current plan (its forward one unless named) and a function running its
// op i alone.
export function forwardOps(model, name = 'forward') {
  const exec = model.arena.executor;
  const program = exec.plan.programs[name];
  const header = exec.headerOffset;
  const offsets = [];
  let at = exec.plan.regions[program.region].offset;
  for (let i = 0; i < program.ops.length; i++) {
    offsets.push(at);
    at += 4 * (2 + exec.i32[at / 4 + 1]);
  }
  return { program, runOp: (i) => exec.kernels.run(offsets[i], 1, header) };
}

function printProfiles(workload, model, models, threads, reps) {
  if (threads) threadsProfile(workload, models, threads, 3 * reps);
  else printProfile(workload, opProfile(model, reps));
}

function printProfile(workload, profile) {
  const total = profile.reduce((s, [, k]) => s + k.ms, 0);
  log(`${workload}: edgetune op profile, ${total.toFixed(2)} ms summed over ops`);
  for (const [kind, k] of profile) log(`  ${kind.padEnd(28)} ${k.ms.toFixed(3).padStart(8)} ms ${(100 * k.ms / total).toFixed(1).padStart(5)}%  x${k.count}`);
}

const timing = (quick) => ({ warmup: 2, reps: quick ? 5 : 15, minMs: quick ? 200 : 1000 });

// Every layer frozen, every dense / conv2d / depthwise kernel int8; with `absmax` (the int8 rows), the
// default config: Keras's activation quantizer on the dense layers and on the conv2d layers where
// int32 pays (docs/int8.md "Which layers").
function quantized(m, absmax = false) {
  for (const l of m.layers) l.trainable = false;
  return m.quantize('int8', { activationQuantizer: absmax ? 'default' : null });
}

// The int8 row of one workload: the int8 and float32 models timed alternately, run for run (a
// machine shared with other work drifts less between the two than between two timed blocks); the
// row is the int8 median, and the ratio of the two medians is printed.
function int8Row(workload, model, floatModel, x, batch, floatOut, { warmup, reps, minMs }, tag = 'int8') {
  const wl = workload.replace(/-b(\d+)$/, `-${tag}-b$1`);
  const out = model.predict(x, { batchSize: batch }).data;
  const classes = out.length / batch;
  const top = (d, i) => { let b = 0; for (let j = 1; j < classes; j++) if (d[i * classes + j] > d[i * classes + b]) b = j; return b; };
  let same = 0;
  for (let i = 0; i < batch; i++) if (top(out, i) === top(floatOut, i)) same++;
  const time = (m) => { const t0 = performance.now(); m.predict(x, { batchSize: batch }); return performance.now() - t0; };
  for (let i = 0; i < warmup; i++) { time(floatModel); time(model); }
  const tq = [], tf = [];
  let total = 0;
  while (tq.length < reps || total < minMs) {
    tf.push(time(floatModel));
    tq.push(time(model));
    total += tq.at(-1) + tf.at(-1);
  }
  const median = (a) => a.sort((p, q) => p - q)[a.length >> 1];
  const ms = median(tq), floatMs = median(tf);
  const best = Math.min(...tq) / Math.min(...tf);
  log(`${wl}: ${ms.toFixed(2)} ms, float32 ${floatMs.toFixed(2)} ms run alternately (n=${tq.length}): ${tag} / float32 = ${(ms / floatMs).toFixed(2)} (medians), ${best.toFixed(2)} (fastest runs); top-1 agreement with float32 ${same}/${batch}`);
  return { workload: wl, impl: 'edgetune', value: ms, unit: 'ms' };
}

// edgetune's models of one workload (one per thread count with `threads`, else `model` alone),
// timed in the same rounds as the peer: its records, the peer's last.
// With `threads`, the peer is timed first, alone, then edgetune's models in alternation among
// themselves after a pause: onnxruntime-web's pool spins for a while after each of its runs, and
// alternated with them it took the second core from edgetune's worker (shufflenet_v2_x0_5 b1 read
// 0.67x on 2 threads beside the peer, 1.17x without it). Each edgetune record also has `cpu`: the
// process's CPU ms a run (driver and workers, spinning included) over back-to-back runs.
async function timedRows(workload, models, threads, mineFn, peer, peerFn, opts) {
  if (!threads) {
    const { medians, rounds } = await timeInterleavedRounds([...models.map(mineFn), peerFn], opts);
    return [{ workload, impl: 'edgetune', value: medians[0], unit: 'ms', rounds }, { workload, impl: peer, value: medians[1], unit: 'ms', rounds }];
  }
  const theirs = await timeInterleavedRounds([peerFn], opts);
  parkPeerPool();
  const { medians, rounds } = await timeInterleavedRounds(models.map(mineFn), opts);
  const out = models.map((m, i) => ({ workload, impl: 'edgetune', value: medians[i], unit: 'ms', rounds,
    threads: threads[i], cpu: cpuPerRun(mineFn(m), 5 * opts.reps) }));
  out.push({ workload, impl: peer, value: theirs.medians[0], unit: 'ms', rounds: theirs.rounds });
  return out;
}

// The peer's pool spins a while after its last run and would take the second core: let it park.
function parkPeerPool() {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
}

// Per op kind, the forward ops of one model per thread count, each op run alone by every model in
// turn `reps` times (medians): where a split pays and where it loses (its ms on N threads against
// the 1-thread ms / N).
// `program`: which program's ops (a training plan's 'train': its step op by op, each op run
// alone, so the optimizer and the batch-norm statistics move on every run; times only).
export function threadsProfile(workload, models, threads, reps = 9, program = 'forward') {
  parkPeerPool();
  const runs = models.map((m) => forwardOps(m, program));
  const ops = runs[0].program.ops;
  const byKind = new Map();
  for (let i = 0; i < ops.length; i++) {
    const samples = models.map(() => []);
    for (let r = 0; r < reps; r++) {
      runs.forEach(({ runOp }, k) => {
        const t0 = performance.now();
        runOp(i);
        samples[k].push(performance.now() - t0);
      });
    }
    const k = byKind.get(ops[i].op) ?? { ms: threads.map(() => 0), count: 0 };
    samples.forEach((s, j) => { k.ms[j] += s.sort((a, b) => a - b)[reps >> 1]; });
    k.count++;
    byKind.set(ops[i].op, k);
  }
  const last = threads.length - 1;
  const lost = (k) => k.ms[last] - k.ms[0] / threads[last];
  const rows = [...byKind].sort((a, b) => lost(b[1]) - lost(a[1]));
  const total = (j) => rows.reduce((s, [, k]) => s + k.ms[j], 0);
  log(`${workload}: ops run alone, ${reps} rounds (medians), ms on ${threads.join(' / ')} thread(s): ${threads.map((_, j) => total(j).toFixed(2)).join(' / ')}`);
  log(`  ${'op'.padEnd(28)} ${threads.map((t) => `${t}T ms`.padStart(8)).join(' ')}  speed-up  lost ms (vs 1T / ${threads[last]})`);
  for (const [kind, k] of rows) {
    log(`  ${`${kind} x${k.count}`.padEnd(28)} ${k.ms.map((v) => v.toFixed(3).padStart(8)).join(' ')}  ${(k.ms[0] / k.ms[last]).toFixed(2).padStart(7)}x  ${lost(k).toFixed(3).padStart(7)}`);
  }
}

// One model per thread count (planned now, so the first timed runs need no plan; the pool's
// workers started), or `model`.
async function perThreads(et, model, load, threads) {
  if (!threads) return [model];
  const models = [];
  for (const t of threads) {
    const m = await load();
    m.planInference(1, undefined, t);
    models.push(m);
  }
  await et.threadsReady();
  return models;
}

async function graphModelRows(et, name, { quick, profile, selected, threads }) {
  const out = [];
  const json = JSON.parse(readFileSync(join(GRAPH_DIR, `${name}.json`), 'utf8'));
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const shards = paths.map((p) => readFileSync(join(GRAPH_DIR, p)));
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  shards.reduce((o, s) => (weightData.set(s, o), o + s.length), 0);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  const load = () => et.importTfjsGraphModel(json, async (p) => new Uint8Array(readFileSync(join(GRAPH_DIR, p))), `${name}.json`);
  const model = await load();
  const int8 = quantized(await load(), true);
  const int8w = quantized(await load());
  const { tf } = await useTfBackend('wasm');
  const tfconv = await import('@tensorflow/tfjs-converter');
  const oracle = await tfconv.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData: weightData.buffer, format: 'graph-model' }));
  for (const batch of BATCHES) {
    const workload = `model-${name}-b${batch}`;
    const wantInt8 = selected(workload.replace(/-b\d+$/, '-int8-b'));
    const wantInt8w = selected(workload.replace(/-b\d+$/, '-int8w-b'));
    if (!selected(workload) && !wantInt8 && !wantInt8w) continue;
    const xd = randomF32(batch * 64 * 64, 500 + batch, 0, 1);
    const x = et.tensor(xd, [batch, 64, 64, 1]);
    const mine = model.predict(x, { batchSize: batch }).data;
    if (selected(workload)) {
      const tx = tf.tensor(xd, [batch, 64, 64, 1]);
      const theirs = oracle.predict(tx).dataSync();
      checkClose(workload, mine, theirs);
      const models = await perThreads(et, model, load, threads);
      out.push(...(await timedRows(workload, models, threads, (m) => () => m.predict(x, { batchSize: batch }),
        'tfjs-wasm', async () => { const y = oracle.predict(tx); await y.data(); y.dispose(); }, timing(quick))));
      if (profile) printProfiles(workload, model, models, threads, 5);
      tx.dispose();
    }
    if (wantInt8) out.push(int8Row(workload, int8, model, x, batch, mine, timing(quick)));
    if (wantInt8w) out.push(int8Row(workload, int8w, model, x, batch, mine, timing(quick), 'int8w'));
  }
  oracle.dispose();
  return out;
}

async function torchvisionRows(et, name, onnx, { quick, profile, selected, threads }) {
  const out = [];
  const model = et.importOnnx(onnx, `${name}.onnx`);
  const int8 = quantized(et.importOnnx(onnx, `${name}.onnx`), true);
  const int8w = quantized(et.importOnnx(onnx, `${name}.onnx`));
  const session = await ortSession(onnx);
  const ort = await import('onnxruntime-web');
  for (const batch of BATCHES) {
    const workload = `model-${name}-b${batch}`;
    const wantInt8 = selected(workload.replace(/-b\d+$/, '-int8-b'));
    const wantInt8w = selected(workload.replace(/-b\d+$/, '-int8w-b'));
    if (!selected(workload) && !wantInt8 && !wantInt8w) continue;
    const xd = randomF32(batch * 3 * 224 * 224, 700 + batch, -1, 1);
    const nhwc = new Float32Array(xd.length);
    for (let b = 0; b < batch; b++) for (let c = 0; c < 3; c++) for (let p = 0; p < 224 * 224; p++) nhwc[(b * 224 * 224 + p) * 3 + c] = xd[(b * 3 + c) * 224 * 224 + p];
    const x = et.tensor(nhwc, [batch, 224, 224, 3]);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', xd, [batch, 3, 224, 224]) };
    const mine = model.predict(x, { batchSize: batch }).data;
    const opts = { ...timing(quick), warmup: 1, reps: quick ? 3 : 7 };
    if (selected(workload)) {
      const theirs = (await session.run(feeds))[session.outputNames[0]].data;
      checkClose(workload, mine, theirs);
      const models = await perThreads(et, model, () => et.importOnnx(onnx, `${name}.onnx`), threads);
      out.push(...(await timedRows(workload, models, threads, (m) => () => m.predict(x, { batchSize: batch }), 'ort-web', () => session.run(feeds), opts)));
      if (profile) printProfiles(workload, model, models, threads, 3);
    }
    if (wantInt8) out.push(int8Row(workload, int8, model, x, batch, mine, opts));
    if (wantInt8w) out.push(int8Row(workload, int8w, model, x, batch, mine, opts, 'int8w'));
  }
  await session.release();
  return out;
}

// The two runtimes must agree before either is timed (1e-4 of the largest output magnitude).
function checkClose(workload, mine, theirs) {
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < theirs.length; i++) {
    worst = Math.max(worst, Math.abs(mine[i] - theirs[i]));
    scale = Math.max(scale, Math.abs(theirs[i]));
  }
  if (mine.length !== theirs.length || !(worst <= 1e-4 * scale)) throw new Error(`${workload}: edgetune and its peer differ by ${worst} (scale ${scale}, ${mine.length} vs ${theirs.length} outputs)`);
}

export async function modelRows(et, { quick = false, profile = false, selected = () => true, threads = null } = {}) {
  const out = [];
  const opts = { quick, profile, selected, threads };
  for (const name of GRAPH_MODELS) {
    if (BATCHES.some((b) => selected(`model-${name}-b${b}`) || selected(`model-${name}-int8-b${b}`) || selected(`model-${name}-int8w-b${b}`))) out.push(...(await graphModelRows(et, name, opts)));
  }
  const wanted = TORCHVISION_MODELS.filter((n) => BATCHES.some((b) => selected(`model-${n}-b${b}`) || selected(`model-${n}-int8-b${b}`) || selected(`model-${n}-int8w-b${b}`)));
  if (!wanted.length) return out;
  const { files, reason } = torchvisionFiles(wanted);
  if (!files) {
    log(`skipping the torchvision rows: ${reason}`);
    return out;
  }
  for (const name of wanted) out.push(...(await torchvisionRows(et, name, files.get(name), opts)));
  return out;
}
