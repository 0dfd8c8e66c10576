// Host side of fine-tuning with no JavaScript host: `edgetune compile` (a model file -> a plan
// file for the WASI module) and `edgetune pack-data` (records -> a training-data file).
// Node, Deno and Bun (reads and writes files); the formats themselves are in plan-file.ts and
// data-file.ts and docs/wasi.md.
import { readFile } from 'node:fs/promises';
import { dataToFileBytes, type TrainingData } from '../formats/data-file';
import { InvalidArgumentError, parseBytes } from '../core/errors';
import { resolveLoss } from '../training/losses';
import { checkMicroBatch } from '../training/micro-batch';
import { loadMnist, selectDigits } from './mnist';
import type { Model } from '../training/model';
import { resolveOptimizer, type OptimizerConfig } from '../training/optimizers';
import { compilePlan, type Plan } from '../compile/plan';
import { describeBanding } from '../compile/band';
import { planToFileBytes } from '../formats/plan-file';
import { modelFromBytes } from '../formats/serialize';
import { writeFileAtomic } from '../core/node-fs';
import { commandUsage, parseCommandArgs } from './commands';

export interface CompileFileOptions {
  batch: number;
  // Gradient accumulation (fit's microBatch): the plan runs `microBatch` rows at a time and the
  // optimizer steps once per `batch` rows.
  microBatch?: number;
  freeze?: string; // freeze every layer up to and including this one
  budget?: number | string;
  optimizer?: string;
  lr?: number;
  loss?: string;
  bandRows?: number; // the frozen prefix in row bands (host/compile/band.ts); a budget may choose them itself
}

// The training plan the JS host would build for this model after model.compile({...batchSize})
// and the same freezing: the WASI module runs exactly its train program.
export function compileTrainPlan(model: Model, options: CompileFileOptions): Plan {
  const saved = model.compileConfig;
  // The WASI runner feeds one input and one labels batch per step (docs/wasi.md).
  if (model.graph.inputs.length !== 1 || model.graph.outputs.length !== 1) {
    throw new InvalidArgumentError(`model ${model.name} has ${model.graph.inputs.length} inputs and ${model.graph.outputs.length} outputs; the WASI runner trains models with one input and one output`);
  }
  if (options.freeze !== undefined) {
    const at = model.layers.findIndex((l) => l.name === options.freeze);
    if (at < 0) throw new InvalidArgumentError(`--freeze: model ${model.name} has no layer '${options.freeze}' (layers: ${model.layers.map((l) => l.name).join(', ')})`);
    for (let i = 0; i <= at; i++) model.layers[i].trainable = false;
  }
  let optimizer: OptimizerConfig;
  if (options.optimizer !== undefined) {
    const base = resolveOptimizer(options.optimizer);
    optimizer = resolveOptimizer({ ...base, ...(options.lr !== undefined ? { learningRate: options.lr } : {}) } as OptimizerConfig);
  } else if (saved) {
    optimizer = options.lr !== undefined ? resolveOptimizer({ ...saved.optimizer, learningRate: options.lr }) : saved.optimizer;
  } else {
    throw new InvalidArgumentError(`model ${model.name} has no saved training configuration: pass --optimizer (and --loss)`);
  }
  const loss = options.loss !== undefined ? resolveLoss(options.loss) : saved?.loss;
  if (!loss) throw new InvalidArgumentError(`model ${model.name} has no saved training configuration: pass --loss`);
  if (!model.layers.some((l) => l.trainable && l.weightSpecs.some((s) => s.trainable))) {
    throw new InvalidArgumentError(`nothing to fine-tune: every layer of ${model.name} is frozen`);
  }
  const microBatch = checkMicroBatch(options.microBatch, options.batch, '--micro-batch');
  return compilePlan(model.graph, {
    batchSize: microBatch ?? options.batch, mode: 'training', loss, optimizer, microBatching: microBatch !== undefined,
    memoryBudget: options.budget === undefined ? undefined : parseBytes(options.budget), bandRows: options.bandRows,
  });
}

export async function compileModelFile(modelPath: string, outPath: string, options: CompileFileOptions): Promise<Plan> {
  const model = modelFromBytes(new Uint8Array(await readFile(modelPath)), modelPath);
  const plan = compileTrainPlan(model, options);
  await writeFileAtomic(outPath, planToFileBytes(plan, plan.microBatching ? { stepBatch: options.batch } : {}));
  return plan;
}

// Training data from a JSON file {x: number[][] | number[], y: number[] | number[][]}: integer
// labels become class indices, label rows become f32 targets. `oneHot` turns class indices into
// one-hot targets (for categoricalCrossentropy plans).
export function dataFromJson(json: unknown, source: string, oneHot?: number): TrainingData {
  const o = json as { x?: unknown; y?: unknown };
  if (!o || !Array.isArray(o.x) || !Array.isArray(o.y)) throw new InvalidArgumentError(`${source}: expected {"x": [...], "y": [...]}`);
  const n = o.x.length;
  if (n === 0 || o.y.length !== n) throw new InvalidArgumentError(`${source}: ${n} inputs but ${o.y.length} labels`);
  const rows = (o.x as unknown[]).map((r) => (Array.isArray(r) ? (r as unknown[]).flat(Infinity) : [r]) as number[]);
  const xFloats = rows[0].length;
  rows.forEach((r, i) => { if (r.length !== xFloats) throw new InvalidArgumentError(`${source}: input ${i} has ${r.length} values, input 0 has ${xFloats}`); });
  const x = Float32Array.from(rows.flat());
  const ys = (o.y as unknown[]).map((r) => (Array.isArray(r) ? (r as unknown[]).flat(Infinity) : [r]) as number[]);
  const labelWords = ys[0].length;
  ys.forEach((r, i) => { if (r.length !== labelWords) throw new InvalidArgumentError(`${source}: label ${i} has ${r.length} values, label 0 has ${labelWords}`); });
  const sparse = !Array.isArray((o.y as unknown[])[0]);
  if (sparse) {
    ys.forEach((r, i) => { if (!Number.isInteger(r[0]) || r[0] < 0) throw new InvalidArgumentError(`${source}: label ${i} is ${r[0]}, not a class index`); });
    const labels = Int32Array.from(ys.map((r) => r[0]));
    return oneHot ? toOneHot(x, xFloats, labels, oneHot, source) : { x, xFloats, labels, labelWords: 1 };
  }
  return { x, xFloats, labels: Float32Array.from(ys.flat()), labelWords };
}

function toOneHot(x: Float32Array, xFloats: number, labels: Int32Array, classes: number, source: string): TrainingData {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((l, i) => {
    if (l >= classes) throw new InvalidArgumentError(`${source}: label ${i} is ${l}, outside ${classes} classes`);
    out[i * classes + l] = 1;
  });
  return { x, xFloats, labels: out, labelWords: classes };
}

// Digits from the bundled MNIST set: the first `count` training rows (in the file order of
// selectDigits), labels renumbered 0.. in the order of `digits` (digits 5-9 -> classes 0-4).
export function mnistData(digits: number[], count?: number, oneHot?: number): TrainingData {
  const d = selectDigits(loadMnist(), digits, 'train', { relabel: true });
  const n = Math.min(count ?? d.n, d.n);
  const x = d.x.slice(0, n * 784);
  const labels = d.y.slice(0, n);
  return oneHot ? toOneHot(x, 784, labels, oneHot, 'mnist') : { x, xFloats: 784, labels, labelWords: 1 };
}

export function parseDigits(spec: string): number[] {
  const m = /^(\d)-(\d)$/.exec(spec);
  const digits = m ? Array.from({ length: +m[2] - +m[1] + 1 }, (_, i) => +m[1] + i) : spec.split(',').map(Number);
  if (!digits.length || digits.some((d) => !Number.isInteger(d) || d < 0 || d > 9)) throw new InvalidArgumentError(`--digits '${spec}': use a range like 5-9 or a list like 0,3,7`);
  return digits;
}

export async function packDataFile(outPath: string, data: TrainingData): Promise<number> {
  const bytes = dataToFileBytes(data);
  await writeFileAtomic(outPath, bytes);
  return data.x.length / data.xFloats;
}

// `edgetune compile ...` and `edgetune pack-data ...`: parsed here so cli.ts only dispatches.
export async function compileCommand(args: string[], log: (s: string) => void): Promise<number> {
  const { positional, flags } = parseCommandArgs('compile', args);
  if (positional.length !== 1 || !flags.o) throw new InvalidArgumentError(commandUsage('compile'));
  if (!('train' in flags)) throw new InvalidArgumentError('compile: only training plans are written to files: pass --train');
  const batch = flags.batch === undefined ? 32 : Number(flags.batch);
  const microBatch = flags['micro-batch'] === undefined ? undefined : Number(flags['micro-batch']);
  const plan = await compileModelFile(positional[0], flags.o, {
    batch, microBatch, freeze: flags.freeze, budget: flags.budget, optimizer: flags.optimizer, lr: flags.lr === undefined ? undefined : Number(flags.lr), loss: flags.loss,
  });
  const trainable = plan.params.filter((p) => p.trainable).map((p) => `${p.layer}/${p.weight}`);
  const micro = plan.microBatching ? ` in micro-batches of ${plan.batchSize}, ${plan.programs.gradients!.ops.length} gradients ops` : '';
  log(`wrote ${flags.o}: batch ${batch}${micro}, arena ${plan.pages} pages (${plan.pages * 64} KB), ${plan.programs.train!.ops.length} train ops, trainable: ${trainable.join(', ')}` +
    (plan.banding ? `; ${describeBanding(plan.banding)}` : ''));
  return 0;
}

export async function packDataCommand(args: string[], log: (s: string) => void): Promise<number> {
  const { positional, flags } = parseCommandArgs('pack-data', args);
  if (!flags.o) throw new InvalidArgumentError(commandUsage('pack-data'));
  const oneHot = flags['one-hot'] === undefined ? undefined : Number(flags['one-hot']);
  let data: TrainingData;
  if ('mnist' in flags) {
    data = mnistData(parseDigits(flags.digits ?? '0-9'), flags.count === undefined ? undefined : Number(flags.count), oneHot);
  } else {
    if (positional.length !== 1) throw new InvalidArgumentError('pack-data: give one JSON input file, or --mnist');
    data = dataFromJson(JSON.parse(await readFile(positional[0], 'utf8')), positional[0], oneHot);
  }
  const n = await packDataFile(flags.o, data);
  log(`wrote ${flags.o}: ${n} records of ${data.xFloats} inputs and ${data.labelWords} ${data.labels instanceof Int32Array ? 'class index' : 'f32 target'} word(s)`);
  return 0;
}
