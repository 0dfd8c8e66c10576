// npm run bench -- --threads N [--quick]: edgetune on 1 and N threads (setThreads / compile
// `threads`, docs/threads.md) beside onnxruntime-web with env.wasm.numThreads = N and = 1, in one
// table: GEMM-1024 (a 1024-unit dense layer, batch 1024, no bias: one 1024^3 GEMM), the MLP and
// CNN training steps of scripts/bench.mjs, and the real models of scripts/bench-models.mjs at
// batch 1 beside their peers (onnxruntime-web, or tfjs-wasm for the TF.js graph models). ORT
// initializes its thread pool once per process, so its 1-thread figure comes from a child process
// (`--ort-gemm 1`), and the model rows from one child per peer thread count (`--models-at T`: the
// peers on T threads, timed first; then edgetune on 1 and T threads, one model each, timed in
// alternation with each other, so edgetune's speed-up is never a ratio across processes, and the
// peer's spinning pool does not take edgetune's second core, scripts/bench-models.mjs timedRows). tfjs-wasm stays on one thread in
// Node (scripts/bench-peers.mjs, setPeerThreads). The machine is shared: every figure is a median
// of alternated rounds (the rounds column), and the ratios are within one process.
// `--profile`: each model's forward ops run alone on 1 and N threads in turn, per op kind
// (scripts/bench-models.mjs threadsProfile), to stderr; for the MLP and CNN training steps, their
// train program's ops the same way.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuPerRun, log, ORT_WASM_FILE, quietly, randomF32, timeInterleavedRounds, timeItStats } from './bench-peers.mjs';
import { forwardOps, threadsProfile } from './bench-models.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const profile = argv.includes('--profile');
// `--models a,b`: only these real models (names as in scripts/bench-models.mjs, e.g. resnet18).
const only = argv.includes('--models') ? argv[argv.indexOf('--models') + 1].split(',') : null;
const wanted = (workload) => workload.endsWith('-b1') && (!only || only.some((n) => workload === `model-${n}-b1`));
const N = 1024;

// ORT's GEMM-1024 (a MatMul model) at `threads` threads, GFLOP/s.
async function ortGemm(threads) {
  const ort = await quietly(() => import('onnxruntime-web'));
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = { wasm: pathToFileURL(ORT_WASM_FILE).href };
  ort.env.logLevel = 'error';
  const { matmulModel } = await import('./onnx-writer.mjs');
  const sess = await quietly(() => ort.InferenceSession.create(matmulModel(N, N, N), { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 }));
  const feeds = { A: new ort.Tensor('float32', randomF32(N * N, 1, -1, 1), [N, N]), B: new ort.Tensor('float32', randomF32(N * N, 2, -1, 1), [N, N]) };
  const st = await timeItStats(() => sess.run(feeds), { warmup: 2, reps: quick ? 4 : 8, minMs: quick ? 400 : 1500 });
  return (2 * N ** 3) / (st.median / 1000) / 1e9;
}

const ortAt = argv.indexOf('--ort-gemm');
if (ortAt >= 0) {
  process.stdout.write(JSON.stringify(await ortGemm(Number(argv[ortAt + 1]))) + '\n');
  process.exit(0);
}

// Child: the real-model rows with the peers on T threads and edgetune on 1 and T, as JSON.
const modelsAt = argv.indexOf('--models-at');
if (modelsAt >= 0) {
  const t = Number(argv[modelsAt + 1]);
  const et = await import('../dist/node.js');
  // Models without a thread count of their own (the one checked against the peer) stay on one.
  et.setThreads(1);
  const { setPeerThreads } = await import('./bench-peers.mjs');
  setPeerThreads(t);
  const { modelRows } = await import('./bench-models.mjs');
  const records = await modelRows(et, { quick, profile: profile && t > 1, selected: wanted, threads: t > 1 ? [1, t] : [1] });
  process.stdout.write(JSON.stringify(records) + '\n');
  process.exit(0);
}

const threadsAt = argv.indexOf('--threads');
const threads = Number(argv[threadsAt + 1]);
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads needs a whole number >= 1, got ${argv[threadsAt + 1]}`);
const et = await import('../dist/node.js');
// At least 15 rounds even with --quick: the CNN step's speed-up read 1.55x and 1.90x in two quick
// runs of 6 rounds (a round takes 75 ms), where a burst of other work in one or two rounds moves
// a median of 6.
const opts = { warmup: 3, reps: 15, minMs: quick ? 1000 : 2500 };

// One model per thread count; the first runs start the pool, threadsReady waits for its workers.
// Both models are warmed before either is timed, then timed in alternation: timed one after the
// other, the 1-thread model ran first while V8 was still tiering its kernels up (GEMM-1024 read
// 27 GFLOP/s on one thread here against 48 in the main bench), which inflated the speed-up.
async function timed(make, step) {
  const ts = [1, threads];
  const models = ts.map((t) => make(t));
  for (const m of models) step(m);
  await et.threadsReady();
  const { medians, rounds } = await timeInterleavedRounds(models.map((m) => () => step(m)), opts);
  const out = { rounds, models };
  ts.forEach((t, i) => {
    out[t] = medians[i];
    const cpu = cpuPerRun(() => step(models[i]), opts.reps);
    log(`  ${t} thread(s): median ${out[t].toFixed(2)} ms of ${rounds} rounds, CPU ${cpu.toFixed(2)} ms a run (${models[i].threads.threads} thread(s), worker tiles ${models[i].threads.workerTiles})`);
  });
  return out;
}

// Each core's speed alone (Linux with taskset): a child pinned to it runs a streaming loop over
// 1 MB for 300 ms; rates relative to the fastest. On this VM the two vCPUs often differ (one at
// 60% of the other, which one changing within minutes: other tenants of the host), and a speed-up
// over one thread depends on which core that thread ran on; the table's footer prints both probes.
function coreSpeeds() {
  const probe = 'const a=new Float32Array(262144).fill(1),b=new Float32Array(262144);let n=0;const t=Date.now();' +
    'while(Date.now()-t<300){for(let i=0;i<a.length;i+=4){b[i]=a[i]*2+b[i+1];b[i+1]=a[i+1];b[i+2]=a[i+2]+1;b[i+3]=a[i+3];}n++;}console.log(n)';
  const cores = Math.min(8, availableParallelism());
  const rates = [];
  for (let c = 0; c < cores; c++) {
    const r = spawnSync('taskset', ['-c', String(c), process.execPath, '-e', probe], { encoding: 'utf8' });
    if (r.status !== 0) return null;
    rates.push(Number(r.stdout.trim()));
  }
  const top = Math.max(...rates);
  return rates.map((v) => (v / top).toFixed(2)).join(' / ');
}
const speedsBefore = process.platform === 'linux' ? coreSpeeds() : null;

const rows = [];
log(`GEMM-${N} ...`);
const x = et.tensor(randomF32(N * N, 3, -1, 1), [N, N]);
const gemm = await timed((t) => {
  et.setSeed(1);
  const m = et.sequential([et.layers.dense(N, { inputShape: [N], useBias: false })]);
  m.planInference(N, undefined, t);
  return m;
}, (m) => m.predict(x, { batchSize: N }));
const gflops = (ms) => (2 * N ** 3) / (ms / 1000) / 1e9;
// predict's own work: the input's finite check and copy in, the copy out, and the first writes to
// its fresh 4 MB output array (page faults where the allocator maps it anew: 0 to 17 ms here). On
// N threads the first writes run on the driver while the workers take the forward's first tiles
// (host/runtime/executor.ts run's side work); the rest stays serial: the bound on the speed-up.
{
  const one = gemm.models[0];
  const runCpu = cpuPerRun(() => one.arena.executor.run('forward'), opts.reps);
  const own = cpuPerRun(() => one.predict(x, { batchSize: N }), opts.reps) - runCpu;
  const faults = cpuPerRun(() => { const out = new Float32Array(N * N); for (let i = 0; i < out.length; i += 1024) out[i] = 0; }, opts.reps);
  const bound = (runCpu + own) / ((runCpu + faults) / threads + Math.max(0, own - faults));
  log(`  1 thread, CPU ms a call: the forward program ${runCpu.toFixed(2)}, predict's own work ${own.toFixed(2)} more, of which a fresh output's first writes ${faults.toFixed(2)} (beside the workers on ${threads} threads): predict is at most ${bound.toFixed(2)}x faster on ${threads}`);
}
log('ort-web GEMM ...');
const ortN = await ortGemm(threads);
const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--ort-gemm', '1', ...(quick ? ['--quick'] : [])], { encoding: 'utf8' });
const ort1 = child.status === 0 ? JSON.parse(child.stdout.trim().split('\n').at(-1)) : NaN;
rows.push(['gemm-1024', 'GFLOP/s', gflops(gemm[1]), gflops(gemm[threads]), ort1, ortN, 'ort-web', gemm.rounds]);

log('MLP training step (784-256-256-10, Adam, batch 64) ...');
const mx = et.tensor(randomF32(64 * 784, 10, 0, 1), [64, 784]);
const my = et.tensor(Int32Array.from({ length: 64 }, (_, j) => (j * 7) % 10), [64]);
const mlp = await timed((t) => {
  et.setSeed(1234);
  const m = et.sequential([
    et.layers.dense(256, { activation: 'relu', inputShape: [784] }), et.layers.dense(256, { activation: 'relu' }), et.layers.dense(10, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 64, threads: t });
  return m;
}, (m) => m.trainOnBatch(mx, my));
rows.push(['mlp-train-b64', 'ms/step', mlp[1], mlp[threads], undefined, undefined, 'ort-web', mlp.rounds]);
if (profile) threadsProfile('mlp-train-b64', mlp.models, [1, threads], 15, 'train');

log('CNN training step (batch 64) ...');
const { layers } = et;
const cx = et.tensor(randomF32(64 * 784, 4321, 0, 1), [64, 28, 28, 1]);
const cy = et.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 3) % 10), [64]);
const cnn = await timed((t) => {
  et.setSeed(5);
  const m = et.sequential([
    layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', useBias: false, inputShape: [28, 28, 1] }),
    layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }),
    layers.batchNormalization(), layers.relu(), layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(), layers.dense(10, { activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', batchSize: 64, threads: t });
  return m;
}, (m) => m.trainOnBatch(cx, cy));
rows.push(['cnn-train-b64', 'ms/step', cnn[1], cnn[threads], undefined, undefined, 'ort-web', cnn.rounds]);
if (profile) {
  threadsProfile('cnn-train-b64', cnn.models, [1, threads], 15, 'train');
  sequenceProfile('cnn-train-b64', cnn.models, [1, threads], 40);
}

// A training step's ops in program order, each op timed, `steps` steps back to back on each thread
// count in turn (so no worker parks between them), mean ms an op by op kind. Unlike ops run alone
// again and again, each op here reads what the op before it wrote, on whichever core wrote it: on
// this machine the CNN's first batch norm, split by blocks of channels, ran 0.63 ms alone on 2
// threads and 1.5 in program order, as slow as on one (docs/threads.md, stop 27).
function sequenceProfile(workload, models, counts, steps) {
  const totals = [];
  const byKind = new Map();
  models.forEach((m, j) => {
    const { program, runOp } = forwardOps(m, 'train');
    for (let s = 0; s < 5; s++) for (let i = 0; i < program.ops.length; i++) runOp(i);
    const ms = new Float64Array(program.ops.length);
    const t0 = performance.now();
    for (let s = 0; s < steps; s++) {
      for (let i = 0; i < program.ops.length; i++) {
        const t = performance.now();
        runOp(i);
        ms[i] += performance.now() - t;
      }
    }
    totals.push((performance.now() - t0) / steps);
    program.ops.forEach((o, i) => {
      const k = byKind.get(o.op) ?? { ms: counts.map(() => 0), count: 0 };
      k.ms[j] += ms[i] / steps;
      if (j === 0) k.count++;
      byKind.set(o.op, k);
    });
  });
  const last = counts.length - 1;
  log(`${workload}: ops in program order, ${steps} steps back to back a thread count (means), ms a step on ${counts.join(' / ')} thread(s): ${totals.map((t) => t.toFixed(2)).join(' / ')} (${(totals[0] / totals[last]).toFixed(2)}x)`);
  for (const [kind, k] of [...byKind].sort((a, b) => b[1].ms[0] - a[1].ms[0])) {
    if (k.ms[0] < 0.05) continue;
    log(`  ${`${kind} x${k.count}`.padEnd(34)} ${k.ms.map((v) => v.toFixed(3).padStart(8)).join(' ')}  ${(k.ms[0] / k.ms[last]).toFixed(2).padStart(5)}x`);
  }
}

log('real models at batch 1 (scripts/bench-models.mjs), one child process per peer thread count ...');
const modelsOn = (t) => {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--models-at', String(t), ...(quick ? ['--quick'] : []), ...(profile ? ['--profile'] : []), ...(only ? ['--models', only.join(',')] : [])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  if (r.status !== 0) log(`  the ${t}-thread model run failed (exit ${r.status ?? r.signal})`);
  return r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').at(-1)) : [];
};
const models1 = modelsOn(1);
const modelsN = threads > 1 ? modelsOn(threads) : models1;
// edgetune on t threads (from the N-thread child, where both counts ran in the same rounds), or the peer.
const record = (records, workload, t) => records.find((r) => r.workload === workload && (t ? r.impl === 'edgetune' && r.threads === t : r.impl !== 'edgetune'));
for (const r of modelsN.filter((m) => m.impl === 'edgetune' && m.threads === 1)) {
  const mine = record(modelsN, r.workload, threads), peer = record(modelsN, r.workload, 0);
  log(`  ${r.workload}: edgetune CPU ms a run ${r.cpu.toFixed(2)} on 1 thread, ${mine?.cpu.toFixed(2)} on ${threads}`);
  rows.push([r.workload, r.unit, r.value, mine?.value, record(models1, r.workload, 0)?.value, peer?.value, peer?.impl ?? 'peer', r.rounds]);
}

const f = (v) => (v === undefined ? '-' : Number.isNaN(v) ? 'failed' : v >= 100 ? v.toFixed(0) : v.toFixed(2));
const lines = [
  `edgetune threads bench (--threads ${threads}; medians; ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${et.MAX_THREADS} max)`, '',
  `| workload | unit | edgetune 1 | edgetune ${threads} | speed-up | rounds | peer | peer 1 | peer ${threads} | edgetune ${threads} vs peer ${threads} |`,
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const [w, unit, e1, eN, o1, oN, peer, rounds] of rows) {
  const higher = unit === 'GFLOP/s';
  const speedup = higher ? eN / e1 : e1 / eN;
  const vsPeer = oN === undefined ? '(no peer row)' : `${(higher ? eN / oN : oN / eN).toFixed(2)}x`;
  lines.push(`| ${w} | ${unit} | ${f(e1)} | ${f(eN)} | ${speedup.toFixed(2)}x | ${rounds} | ${peer} | ${f(o1)} | ${f(oN)} | ${vsPeer} |`);
}
lines.push('', `edgetune 1 and ${threads}: one model each, timed in alternation in one process over the rounds given (medians); a model row's peer ${threads} ran just before them in the same process (its rounds may differ), its peer 1 in a child process of its own.`);
lines.push(`tfjs-wasm runs on one thread in both columns: in Node its threaded binary cannot start its workers (scripts/bench-peers.mjs, setPeerThreads).`);
const speedsAfter = speedsBefore ? coreSpeeds() : null;
if (speedsBefore) lines.push(`Each core's speed alone (a streaming loop pinned to it, relative to the fastest), before the run: ${speedsBefore}; after: ${speedsAfter ?? '-'}.`);
process.stdout.write(lines.join('\n') + '\n');
process.exit(0);
