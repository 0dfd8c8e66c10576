// The worker owns the models, so training never blocks drawing: the bundled base (for its 0-4
// predictions) and the transfer model (frozen base + new 5-9 head). It fetches the base model from
// its own origin, restores a fine-tuned model from IndexedDB when one is saved, fine-tunes on the
// labelled drawings and samples, reports loss and predictions after every epoch and saves the
// result to IndexedDB.
import * as edgetune from '../../host/index';
import { runScenario } from '../common/determinism.mjs';
import { runThreadsScenario } from '../common/threads-scenario.mjs';
import type { FromWorker, PlanSummary, Prediction, ThreadsCheck, ToWorker } from './protocol';
import { fitOptions, headDigest, type Model, toClassIndices, transferModel } from './recipe';
import { forgetSaved, loadSaved, type SavedModel, storeSaved } from './store';

const scope = self as unknown as { postMessage(m: FromWorker): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker) => scope.postMessage(m);

let baseBytes: Uint8Array;
let base: Model;
let model: Model;
let runs = 0;
let heldOut: { x: Float32Array; n: number } = { x: new Float32Array(0), n: 0 };

function summarize(title: string, plan: edgetune.Plan): PlanSummary {
  const program = plan.programs.train ?? plan.programs.forward!;
  return {
    title, arenaBytes: plan.pages * 65536, breakdown: { ...plan.breakdown }, regions: plan.regions.length, ops: program.ops.length, batchSize: plan.batchSize,
  };
}

function predictOne(x: Float32Array): Prediction {
  const t = edgetune.tensor(x, [1, 784]);
  return { base: Array.from(base.predict(t).data), head: Array.from(model.predict(t).data) };
}

function predictHeldOut(): Float32Array {
  return heldOut.n ? model.predict(edgetune.tensor(heldOut.x, [heldOut.n, 784]), { batchSize: 50 }).data : new Float32Array(0);
}

function accuracyOf(probs: Float32Array, digits: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < digits.length; i++) {
    let best = 0;
    for (let j = 1; j < 5; j++) if (probs[i * 5 + j] > probs[i * 5 + best]) best = j;
    if (best + 5 === digits[i]) correct++;
  }
  return digits.length ? correct / digits.length : 0;
}

let heldOutDigits: Uint8Array = new Uint8Array(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function init(msg: Extract<ToWorker, { type: 'init' }>) {
  heldOut = { x: msg.heldOut.x, n: msg.heldOut.digits.length };
  heldOutDigits = msg.heldOut.digits;
  await edgetune.ready();
  const res = await fetch('mnist-base-0to4.safetensors');
  if (!res.ok) throw new Error(`mnist-base-0to4.safetensors: HTTP ${res.status}`);
  baseBytes = new Uint8Array(await res.arrayBuffer());
  base = await edgetune.loadModel(baseBytes);
  let saved: SavedModel | undefined;
  let restoreError: string | undefined;
  try {
    saved = await loadSaved();
    model = await transferModel(edgetune, baseBytes, saved?.bytes ?? null);
    runs = saved?.runs ?? 0;
  } catch (e) {
    // A record the page cannot read (an older format, a damaged store): say so and start fresh.
    restoreError = `the saved model could not be restored (${(e as Error).message}); starting from a new head`;
    saved = undefined;
    model = await transferModel(edgetune, baseBytes, null);
    runs = 0;
  }
  const plans = [summarize('Fine-tuning (frozen base, head trains)', model.plan), summarize('Inference, one image (bundled base)', base.planInference(1))];
  const persisted = saved ? { digest: saved.digest, savedAt: saved.savedAt, examples: saved.examples, runs: saved.runs, curve: saved.curve ?? [], byteLength: saved.bytes.byteLength } : null;
  post({ type: 'ready', plans, persisted, digest: headDigest(model), heldOut: predictHeldOut(), restoreError });
}

async function train(msg: Extract<ToWorker, { type: 'train' }>) {
  const n = msg.digits.length;
  const t0 = performance.now();
  const options = fitOptions(runs);
  const curve: SavedModel['curve'] = [];
  await model.fit(edgetune.tensor(msg.x, [n, 784]), edgetune.tensor(toClassIndices(msg.digits), [n]), {
    ...options,
    onEpochEnd: async (epoch, logs) => {
      const probs = predictHeldOut();
      const heldOutAccuracy = accuracyOf(probs, heldOutDigits);
      curve.push({ loss: logs.loss, acc: heldOutAccuracy });
      post({
        type: 'progress', epoch, epochs: options.epochs, loss: logs.loss, accuracy: logs.accuracy ?? 0, heldOutAccuracy,
        current: msg.current ? predictOne(msg.current) : null, heldOut: probs,
      });
      // Only so the curve can be watched growing: an epoch of 50 images takes a few milliseconds.
      if (msg.paceMs > 0) await sleep(msg.paceMs);
    },
  });
  runs++;
  const seconds = (performance.now() - t0) / 1000;
  const record: SavedModel = { bytes: model.toBytes(), digest: headDigest(model), savedAt: new Date().toISOString(), examples: n, runs, curve };
  await storeSaved(record);
  const { bytes, ...rest } = record;
  post({ type: 'trained', persisted: { ...rest, byteLength: bytes.byteLength }, digest: record.digest, seconds, heldOut: predictHeldOut() });
}

async function threadsCheck(): Promise<ThreadsCheck> {
  const probe = edgetune.sequential([edgetune.layers.dense(256, { inputShape: [256] })]);
  probe.compile({ optimizer: 'sgd', loss: 'mse', batchSize: 64, threads: 2 });
  const summary = probe.summary(null).split('\n').find((l) => l.startsWith('Threads:')) ?? '';
  const byThreads: Record<number, unknown> = {};
  for (const threads of [1, 2, 3]) byThreads[threads] = await runThreadsScenario(edgetune, threads);
  return { isolated: (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true, summary, byThreads };
}

let queue = Promise.resolve();
scope.onmessage = (e) => {
  const msg = e.data;
  // One message at a time, in order: a prediction asked for during training waits for it.
  queue = queue.then(async () => {
    switch (msg.type) {
      case 'init': return init(msg);
      case 'predict': return post({ type: 'prediction', id: msg.id, prediction: predictOne(msg.x) });
      case 'train': return train(msg);
      case 'reset':
        await forgetSaved();
        model = await transferModel(edgetune, baseBytes, null);
        runs = 0;
        return post({ type: 'reset', digest: headDigest(model), heldOut: predictHeldOut() });
      case 'determinism':
        return post({ type: 'determinism', result: await runScenario(edgetune, baseBytes) });
      case 'threads':
        return post({ type: 'threads', result: await threadsCheck() });
    }
  }).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
};
