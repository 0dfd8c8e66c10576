// Several inputs and outputs at the API (Keras functional models): x and y given as one tensor,
// an array in the model's input (output) order or a {name: tensor} map; losses and loss weights
// per output; and the per-output metrics a multi-output plan leaves in its metrics region.
import { InvalidArgumentError, ShapeError } from '../core/errors';
import type { Tensor } from '../core/tensor';
import type { Executor } from '../runtime/executor';
import type { ProgramName } from '../compile/plan';
import { type LossConfig, type LossSpec, resolveLoss } from './losses';

// One tensor (a single-input model), or one per input: in order, or by input name.
export type TensorArgs = Tensor | Tensor[] | Record<string, Tensor>;
export type LossArg = LossSpec | Partial<LossConfig>;
// One loss for every output, one per output in order, or one per output name.
export type LossesArg = LossArg | LossArg[] | Record<string, LossArg>;

const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && 'data' in v && 'shape' in v && !Array.isArray(v);

// x or y as a list in the model's order. `role` names the things ('input', 'target').
export function tensorList(x: TensorArgs, names: readonly string[], role: string, what: string): Tensor[] {
  const n = names.length;
  const expected = `${n} ${role}${n === 1 ? '' : 's'} (${names.join(', ')})`;
  if (isTensor(x)) {
    if (n !== 1) throw new InvalidArgumentError(`${what}: the model has ${expected}: pass an array of ${n} tensors or {name: tensor}, not one tensor`);
    return [x];
  }
  if (Array.isArray(x)) {
    if (x.length !== n) throw new InvalidArgumentError(`${what}: expected ${expected}, got an array of ${x.length}`);
    x.forEach((t, i) => { if (!isTensor(t)) throw new InvalidArgumentError(`${what}: ${role} ${i} (${names[i]}) is not a tensor {data, shape}`); });
    return x;
  }
  if (typeof x !== 'object' || x === null) throw new InvalidArgumentError(`${what}: expected ${expected} as a tensor, an array or {name: tensor}, got ${String(x)}`);
  const map = x as Record<string, Tensor>;
  for (const k of Object.keys(map)) if (!names.includes(k)) throw new InvalidArgumentError(`${what}: no ${role} named '${k}'; expected ${expected}`);
  return names.map((name) => {
    const t = map[name];
    if (!isTensor(t)) throw new InvalidArgumentError(`${what}: no tensor for ${role} '${name}'; expected ${expected}`);
    return t;
  });
}

// Rows [from, to) of every tensor of x, in the same form (Keras validation_split).
export function sliceRows(x: TensorArgs, from: number, to: number): TensorArgs {
  const cut = (t: Tensor): Tensor => {
    const per = t.data.length / t.shape[0];
    return { data: t.data.subarray(from * per, to * per), shape: [to - from, ...t.shape.slice(1)] } as Tensor;
  };
  if (isTensor(x)) return cut(x);
  if (Array.isArray(x)) return x.map(cut);
  return Object.fromEntries(Object.entries(x).map(([k, t]) => [k, cut(t)]));
}

// The number of samples, the same in every tensor of the list.
export function commonRows(list: readonly Tensor[], names: readonly string[], role: string, what: string): number {
  const n = list[0].shape[0];
  list.forEach((t, i) => {
    if (t.shape[0] !== n) throw new ShapeError(`${what}: ${role} '${names[i]}' has ${t.shape[0]} samples but ${role} '${names[0]}' has ${n}`, undefined, [n], t.shape);
  });
  return n;
}

// compile's loss and lossWeights per output, in output order. One loss (not an array or a map)
// stays one: the plan applies it to every output.
export function resolveLosses(loss: LossesArg, lossWeights: number[] | Record<string, number> | undefined, names: readonly string[]):
  { loss: LossConfig | LossConfig[]; lossWeights: number[] | undefined } {
  const n = names.length;
  const expected = `${n} output${n === 1 ? '' : 's'} (${names.join(', ')})`;
  let resolved: LossConfig | LossConfig[];
  if (Array.isArray(loss)) {
    if (loss.length !== n) throw new InvalidArgumentError(`compile: ${loss.length} losses for a model with ${expected}`);
    resolved = loss.map((l) => resolveLoss(l));
  } else if (typeof loss === 'object' && loss !== null && !('className' in loss)) {
    resolved = byName(loss as Record<string, LossArg>, names, 'loss', expected).map((l) => resolveLoss(l));
  } else {
    resolved = resolveLoss(loss as LossArg);
  }
  let weights: number[] | undefined;
  if (Array.isArray(lossWeights)) weights = [...lossWeights];
  else if (lossWeights !== undefined) weights = byName(lossWeights, names, 'lossWeights', expected);
  if (weights && weights.length !== n) throw new InvalidArgumentError(`compile: lossWeights has ${weights.length} entries for a model with ${expected}`);
  for (const w of weights ?? []) if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new InvalidArgumentError(`compile: lossWeights must be finite non-negative numbers, got ${w}`);
  return { loss: resolved, lossWeights: weights };
}

function byName<T>(map: Record<string, T>, names: readonly string[], what: string, expected: string): T[] {
  for (const k of Object.keys(map)) if (!names.includes(k)) throw new InvalidArgumentError(`compile: ${what} names '${k}', which is not an output; expected ${expected}`);
  return names.map((name) => {
    if (!(name in map)) throw new InvalidArgumentError(`compile: ${what} has no entry for output '${name}'; expected ${expected}`);
    return map[name];
  });
}

// The loss of output i.
export function lossOf(loss: LossConfig | LossConfig[], i: number): LossConfig {
  return Array.isArray(loss) ? loss[i] : loss;
}

// Per output, the unweighted summed loss and the correct rows of the last run of `program`
// (null when the plan has no metrics region: one output with an unweighted loss).
export function readOutputMetrics(exec: Executor, program: ProgramName): { loss: number[]; correct: number[] } | null {
  const p = exec.plan.programs[program];
  if (!p || p.metrics === null) return null;
  const at = exec.plan.regions[p.metrics].offset / 8;
  const n = exec.plan.outputs.length;
  const loss: number[] = [];
  const correct: number[] = [];
  for (let i = 0; i < n; i++) {
    loss.push(exec.f64[at + 1 + 2 * i]);
    correct.push(exec.f64[at + 2 + 2 * i]);
  }
  return { loss, correct };
}
