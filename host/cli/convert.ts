// `edgetune convert` and `edgetune inspect`: any importer to our safetensors model or to a TF.js
// layers model directory; a model's layers, parameters and planned arenas. Conversions happen in
// memory first, then every file is written to a temporary name and renamed, model.json last: a
// failure writes nothing (or removes what it wrote).
import { readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InvalidArgumentError, describeBreakdown, formatBytes, type MemoryBreakdown, parseBytes } from '../core/errors';
import { toTfjsLayersModel } from '../formats/export-tfjs';
import { importModelFile } from '../import/index';
import type { OnnxImportOptions } from '../import/onnx';
import { resolveLoss } from '../training/losses';
import type { Model, Prediction } from '../training/model';
import { shardReader, writeFileAtomic } from '../core/node-fs';
import { resolveOptimizer } from '../training/optimizers';
import { frozenKind, threadsLine } from '../training/summary';
import { compilePlan, describeLowerBound, type LiveSetBound, type Plan } from '../compile/plan';
import { describeBanding, type PlanBanding } from '../compile/band';
import { modelToBytes } from '../formats/save';
import { commandUsage, parseCommandArgs } from './commands';

// A progress bar on stderr, drawn only for a terminal (or with --progress).
function progressBar(enabled: boolean) {
  let last = '';
  const draw = (phase: string, done: number, total: number) => {
    if (!enabled) return;
    const width = 30;
    const line = total > 0
      ? `${phase.padEnd(18)} [${'#'.repeat(Math.round((done / total) * width)).padEnd(width, '.')}] ${Math.round((done / total) * 100)}%`
      : `${phase.padEnd(18)} ${done}`;
    if (line === last) return;
    // Padded to the line it replaces: a shorter line leaves nothing of the longer one behind.
    process.stderr.write(`\r${line.padEnd(last.length)}`);
    last = line;
  };
  return { draw, end: () => { if (enabled && last) process.stderr.write('\n'); last = ''; } };
}

// The importer options given as flags (--outputs a,b --inputs x --input-shape 3,224,224 --output-layout nhwc).
function importOptions(flags: Record<string, string>): OnnxImportOptions {
  const names = (v: string) => v.split(',').map((n) => n.trim()).filter((n) => n);
  const o: OnnxImportOptions = {};
  if (flags.outputs !== undefined) o.outputs = names(flags.outputs);
  if (flags.inputs !== undefined) o.inputs = names(flags.inputs);
  if (flags['input-shape'] !== undefined) {
    const dims = flags['input-shape'].split(',').map(Number);
    if (!dims.every((d) => Number.isInteger(d) && d > 0)) throw new InvalidArgumentError(`--input-shape must be positive integers separated by commas (ONNX order, no batch), got '${flags['input-shape']}'`);
    o.inputShape = dims;
  }
  if (flags['output-layout'] !== undefined) o.outputLayout = flags['output-layout'] as OnnxImportOptions['outputLayout']; // importOnnx checks it
  return o;
}

// Local files; a TF.js model's shards are kept inside its folder (see shardReader).
const localFiles = { readFile: async (path: string) => new Uint8Array(await readFile(path)), shardReader };

export async function runConvert(argv: string[]): Promise<number> {
  const { positional, flags } = parseCommandArgs('convert', argv);
  if (positional.length !== 2) throw new InvalidArgumentError(commandUsage('convert'));
  const [input, output] = positional;
  const quantize = flags.quantize;
  if (quantize !== undefined && quantize !== 'float16' && quantize !== 'int8') throw new InvalidArgumentError(`convert: --quantize takes float16 or int8, got '${quantize}'`);
  if (quantize === 'int8' && !output.toLowerCase().endsWith('.safetensors')) throw new InvalidArgumentError(`convert: --quantize int8 writes .safetensors only, got ${output}`);
  const activation = flags['activation-quantizer'];
  if (activation !== undefined && ((activation !== 'default' && activation !== 'absmax' && activation !== 'none') || quantize !== 'int8')) {
    throw new InvalidArgumentError(`convert: --activation-quantizer takes default, absmax or none, with --quantize int8; got '${activation}'${quantize === 'int8' ? '' : ' without --quantize int8'}`);
  }
  const weightOnly = activation === 'none';
  const bar = progressBar('progress' in flags || !!process.stderr.isTTY);
  const { model, format } = await importModelFile(input, localFiles, bar.draw, importOptions(flags));
  bar.end();
  if (typeof flags.freeze === 'string') model.freeze(flags.freeze);
  // every frozen dense/conv kernel, or a typed error; by default (Keras's) the dense inputs too,
  // and the conv2d inputs where int32 pays; absmax: every dense/conv2d's (docs/int8.md)
  if (quantize === 'int8') model.quantize('int8', { activationQuantizer: weightOnly ? null : activation === 'absmax' ? 'absmax' : 'default' });
  const half = quantize === 'float16';
  const lower = output.toLowerCase();
  if (lower.endsWith('.safetensors')) {
    const bytes = modelToBytes(model, { dtype: half ? 'F16' : 'F32' });
    bar.draw('writing', 0, 1);
    await writeFileAtomic(output, bytes);
    bar.draw('writing', 1, 1);
    bar.end();
    const int8 = model.layers.filter((l) => l.int8).map((l) => l.name);
    const absmaxLayers = model.layers.filter((l) => l.int8?.activationQuantizer === 'absmax').length;
    const absmax = absmaxLayers ? ` (absmax inputs in ${absmaxLayers} of them)` : ' (weight-only)';
    const dtype = half ? 'float16' : int8.length ? `int8 kernels in ${int8.join(', ')}${absmax}, float32 otherwise` : 'float32';
    process.stdout.write(`converted ${input} (${format}) -> ${output} (edgetune safetensors, ${dtype}, ${formatBytes(bytes.length)})\n`);
    return 0;
  }
  if (/\.(onnx|h5|keras|bin|hdf5)$/.test(lower)) throw new InvalidArgumentError(`convert: cannot write ${output}: outputs are .safetensors (edgetune) or a TF.js layers model (a directory or its model.json)`);
  // A TF.js layers model: `output` is its model.json or the directory to hold it.
  const dir = lower.endsWith('.json') ? dirname(output) : output;
  const jsonName = lower.endsWith('.json') ? basename(output) : 'model.json';
  const art = toTfjsLayersModel(model, { quantize: half ? 'float16' : null, source: input });
  const json = new TextEncoder().encode(JSON.stringify(art.modelJson));
  const written: string[] = [];
  try {
    for (let i = 0; i < art.shards.length; i++) {
      bar.draw('writing shards', i, art.shards.length);
      const p = join(dir, art.shards[i].path);
      await writeFileAtomic(p, art.shards[i].bytes);
      written.push(p);
    }
    bar.draw('writing shards', art.shards.length, art.shards.length);
    await writeFileAtomic(join(dir, jsonName), json);
  } catch (e) {
    for (const p of written) await rm(p, { force: true });
    throw e;
  } finally {
    bar.end();
  }
  const bytes = art.shards.reduce((n, s) => n + s.bytes.length, 0);
  process.stdout.write(`converted ${input} (${format}) -> ${join(dir, jsonName)} (TF.js layers model, ${art.shards.length} shard${art.shards.length > 1 ? 's' : ''}, ` +
    `${half ? 'float16' : 'float32'} weights ${formatBytes(bytes)})\n`);
  return 0;
}

interface PlanReport {
  mode: 'inference' | 'training';
  batch: number;
  bytes: number;
  breakdown: MemoryBreakdown;
  lowerBound: LiveSetBound;
  banding: PlanBanding | null;
  loss?: string;
  optimizer?: string;
}

const report = (p: Plan): PlanReport => ({
  mode: p.mode, batch: p.batchSize, bytes: p.pages * 65536, breakdown: p.breakdown, lowerBound: p.lowerBound, banding: p.banding,
  ...(p.loss ? { loss: p.loss.className + (p.loss.fromLogits ? ' (from logits)' : '') } : {}),
  ...(p.optimizer ? { optimizer: p.optimizer.className } : {}),
});

export async function runInspect(argv: string[]): Promise<number> {
  const { positional, flags } = parseCommandArgs('inspect', argv);
  if (positional.length !== 1) throw new InvalidArgumentError(commandUsage('inspect'));
  const batch = 'batch' in flags ? Number(flags.batch) : 32;
  if (!Number.isInteger(batch) || batch <= 0) throw new InvalidArgumentError(`inspect: --batch must be a positive integer, got '${flags.batch}'`);
  const { model, format } = await importModelFile(positional[0], localFiles, undefined, importOptions(flags));
  const freeze = flags.freeze;
  if (typeof freeze === 'string') model.freeze(freeze);
  const training = 'train' in flags || typeof freeze === 'string';
  const budget = flags.budget === undefined ? undefined : parseBytes(flags.budget);
  const inference = model.planInference(batch, budget);
  const train = training ? trainingPlan(model, batch, budget) : null;
  const layerRows = model.layers.map((l) => {
    const node = model.graph.nodes.find((n) => n.layer === l)!;
    return { name: l.name, kind: l.kind === 'activation' ? String(l.config.activation) : l.kind, outputShape: node.shape, params: l.countParams(), trainable: l.trainable, int8: l.int8 !== null, ...(l.int8?.activationQuantizer ? { activationQuantizer: l.int8.activationQuantizer } : {}) };
  });
  const params = model.countParams();
  if ('json' in flags) {
    process.stdout.write(`${JSON.stringify({
      file: positional[0], format, name: model.name, inputShape: model.inputShape, outputShape: model.outputShape,
      inputs: model.inputNames.map((name, i) => ({ name, shape: model.inputShapes[i] })),
      outputs: model.outputNames.map((name, i) => ({ name, shape: model.outputShapes[i] })),
      layers: layerRows, params, inference: report(inference), ...(train ? { training: report(train) } : {}),
    }, null, 2)}\n`);
    return 0;
  }
  const out: string[] = [];
  const multi = model.inputNames.length > 1 || model.outputNames.length > 1;
  out.push(`${positional[0]} (${format}): model "${model.name}", input [batch, ${model.inputShape.join(', ')}]` + (multi ? '' : `, output [batch, ${model.outputShape.join(', ')}]`));
  if (multi) {
    const list = (names: string[], shapes: number[][]) => names.map((n, i) => `${n} [batch, ${shapes[i].join(', ')}]`).join(', ');
    out.push(`inputs: ${list(model.inputNames, model.inputShapes)}; outputs: ${list(model.outputNames, model.outputShapes)}`);
  }
  const row = (a: string, b: string, c: string, d: string) => `${a.padEnd(40)}${b.padEnd(22)}${c.padStart(10)}  ${d}`;
  out.push(row('Layer (type)', 'Output Shape', 'Param #', 'Trainable'), '='.repeat(84));
  for (const l of layerRows) out.push(row(`${l.name} (${l.kind})`, `(None, ${l.outputShape.join(', ')})`, String(l.params), l.params ? (l.trainable ? 'yes' : frozenKind(model.getLayer(l.name))) : '-'));
  out.push('='.repeat(84));
  out.push(`Total params: ${params.total}  (trainable ${params.trainable}, frozen ${params.nonTrainable})`);
  out.push(`Planned arena, inference (batch ${batch}): ${formatBytes(inference.pages * 65536)} = ${describeBreakdown(inference.breakdown)}`);
  out.push(`  ${describeLowerBound(inference.lowerBound)}`);
  if (inference.banding) out.push(`  ${describeBanding(inference.banding)}`);
  if (train) {
    out.push(`Planned arena, training (batch ${batch}, ${train.optimizer!.className}, ${train.outputs.map((o) => o.loss!.className).join(' + ')}${freeze ? `, frozen up to ${freeze}` : ''}): ` +
      `${formatBytes(train.pages * 65536)} = ${describeBreakdown(train.breakdown)}`);
    out.push(`  ${describeLowerBound(train.lowerBound)}`);
    if (train.banding) out.push(`  ${describeBanding(train.banding)}`);
  }
  out.push(threadsLine(model.threads));
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

// The training plan with the model's saved training configuration, or Adam and a loss that fits
// the output (cross-entropy after a softmax, else mean squared error).
function trainingPlan(model: Model<Prediction>, batch: number, memoryBudget?: number): Plan {
  const cfg = model.compileConfig;
  const defaults = model.graph.outputs.map((id) => {
    const last = model.graph.nodes[id].layer;
    return resolveLoss(last?.config.activation === 'softmax' ? 'sparseCategoricalCrossentropy' : 'meanSquaredError');
  });
  const loss = cfg?.loss ?? (defaults.length === 1 ? defaults[0] : defaults);
  const optimizer = cfg?.optimizer ?? resolveOptimizer('adam');
  return compilePlan(model.graph, { batchSize: batch, mode: 'training', loss, optimizer, memoryBudget, ...(cfg?.lossWeights ? { lossWeights: cfg.lossWeights } : {}) });
}
