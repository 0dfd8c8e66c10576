// Keras sample_weight and class_weight: checked and turned into one f32 weight per sample and
// output, which loadBatch copies into the plan's weights regions (the loss ops scale each
// sample's loss and gradient by it: assembly/kernels/loss.ts loss_sample_weighted). Both given,
// they multiply. Metrics (accuracy) stay unweighted, as Keras's `metrics` are.
import { InvalidArgumentError, ShapeError } from '../core/errors';
import type { Tensor } from '../core/tensor';
import { type LossConfig, isCategorical } from './losses';

// One weight per sample: a tensor of shape [n] or [n, 1], a Float32Array or numbers.
export type SampleWeightArray = Tensor | Float32Array | number[];
// One array for every output, or (several outputs) one per output: in output order or by name.
export type SampleWeightArg = SampleWeightArray | SampleWeightArray[] | Record<string, SampleWeightArray>;
// Keras class_weight: {class index: weight}; a class without an entry weighs 1 (as Keras 3).
export type ClassWeightArg = Record<number, number>;

// What this needs to know of each output.
export interface WeightedOutput {
  name: string;
  shape: readonly number[]; // per sample
  loss: LossConfig;
}

// Per output the weights of the n samples, or null when neither option is given.
export function sampleWeightsFor(sampleWeight: SampleWeightArg | undefined, classWeight: ClassWeightArg | undefined,
  labels: readonly (Float32Array | Int32Array)[], outputs: readonly WeightedOutput[], n: number, what: string): Float32Array[] | null {
  if (sampleWeight === undefined && classWeight === undefined) return null;
  const weights = sampleWeight === undefined
    ? outputs.map(() => new Float32Array(n).fill(1))
    : perOutput(sampleWeight, outputs, what).map((w, i) => weightArray(w, n, `${what}: sampleWeight${outputs.length > 1 ? ` for output ${outputs[i].name}` : ''}`));
  if (classWeight !== undefined) {
    if (outputs.length !== 1) throw new InvalidArgumentError(`${what}: classWeight is only supported for a model with one output (as in Keras); this one has ${outputs.length} (${outputs.map((o) => o.name).join(', ')}): use sampleWeight per output`);
    const byClass = checkClassWeight(classWeight, outputs[0], what);
    const classes = sampleClasses(labels[0], outputs[0], n, what);
    for (let i = 0; i < n; i++) weights[0][i] *= byClass.get(classes[i]) ?? 1;
  }
  return weights;
}

const isWeightArray = (v: unknown): v is SampleWeightArray =>
  v instanceof Float32Array || (Array.isArray(v) && v.every((x) => typeof x === 'number')) ||
  (typeof v === 'object' && v !== null && !Array.isArray(v) && 'data' in v && 'shape' in v);

function perOutput(w: SampleWeightArg, outputs: readonly WeightedOutput[], what: string): SampleWeightArray[] {
  if (isWeightArray(w)) return outputs.map(() => w);
  const names = outputs.map((o) => o.name);
  const expected = `one weight array, or one per output (${names.join(', ')})`;
  if (Array.isArray(w)) {
    if (w.length !== outputs.length) throw new InvalidArgumentError(`${what}: sampleWeight has ${w.length} arrays for ${outputs.length} output${outputs.length === 1 ? '' : 's'}; expected ${expected}`);
    return w;
  }
  if (typeof w !== 'object' || w === null) throw new InvalidArgumentError(`${what}: sampleWeight must be ${expected}, got ${String(w)}`);
  for (const k of Object.keys(w)) if (!names.includes(k)) throw new InvalidArgumentError(`${what}: sampleWeight names no output '${k}'; expected ${expected}`);
  return names.map((name) => {
    if (!(name in w)) throw new InvalidArgumentError(`${what}: sampleWeight has no weights for output '${name}'; expected ${expected}`);
    return w[name];
  });
}

// The weights as a Float32Array of n finite non-negative numbers.
function weightArray(w: SampleWeightArray, n: number, where: string): Float32Array {
  if (!isWeightArray(w)) throw new InvalidArgumentError(`${where} must be a tensor of shape [${n}], a Float32Array or an array of ${n} numbers`);
  let data: ArrayLike<number>;
  if (w instanceof Float32Array || Array.isArray(w)) data = w;
  else {
    const t = w as Tensor;
    const ok = t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1);
    if (!ok) throw new ShapeError(`${where} has shape [${t.shape}]; expected [${n}] (one weight per sample)`, undefined, [n], t.shape);
    data = t.data;
  }
  if (data.length !== n) throw new ShapeError(`${where} has ${data.length} weights for ${n} samples`, undefined, [n], [data.length]);
  const out = Float32Array.from(data);
  out.forEach((v, i) => {
    if (!(Number.isFinite(v) && v >= 0)) throw new InvalidArgumentError(`${where}: weight ${i} is ${data[i]}; weights must be finite and non-negative`);
  });
  return out;
}

// The classes an output's labels can name: its last axis for class outputs; 0 and 1 for one
// binary unit; null (any non-negative integer) for one regression value.
function classCount(o: WeightedOutput): number | null {
  const last = o.shape[o.shape.length - 1];
  if (isCategorical(o.loss) || last > 1) return last;
  return o.loss.className === 'binaryCrossentropy' ? 2 : null;
}

function checkClassWeight(cw: ClassWeightArg, o: WeightedOutput, what: string): Map<number, number> {
  if (typeof cw !== 'object' || cw === null || Array.isArray(cw)) throw new InvalidArgumentError(`${what}: classWeight must be an object {class index: weight}, got ${Array.isArray(cw) ? 'an array' : String(cw)}`);
  const count = classCount(o);
  const known = count === null ? 'a non-negative integer' : `one of 0..${count - 1}`;
  const out = new Map<number, number>();
  for (const [k, v] of Object.entries(cw)) {
    const c = Number(k);
    if (!(Number.isInteger(c) && c >= 0 && (count === null || c < count))) {
      throw new InvalidArgumentError(`${what}: classWeight names an unknown class '${k}' for output ${o.name} (${o.loss.className}, shape [${o.shape}]): expected ${known}`);
    }
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new InvalidArgumentError(`${what}: classWeight for class ${k} is ${String(v)}; weights must be finite and non-negative`);
    out.set(c, v);
  }
  return out;
}

// Each sample's class, as Keras 3 finds it (class_weight_to_sample_weights): the label, the
// argmax of a target row, or a single target value rounded.
function sampleClasses(labels: Float32Array | Int32Array, o: WeightedOutput, n: number, what: string): Int32Array {
  const per = labels.length / n;
  const rows = o.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows !== 1) throw new InvalidArgumentError(`${what}: classWeight needs one class per sample; output ${o.name} has ${rows} rows per sample (shape [${o.shape}]): use sampleWeight`);
  const classes = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (labels instanceof Int32Array || per === 1) { classes[i] = Math.round(labels[i]); continue; }
    let best = 0;
    for (let j = 1; j < per; j++) if (labels[i * per + j] > labels[i * per + best]) best = j;
    classes[i] = best;
  }
  return classes;
}
