// What fit, evaluate, trainOnBatch, computeGradients and predict check and copy in: inputs against
// the model's input shape, labels in the plan's form, and batches into the arena. Every message
// names what was expected.
import { InvalidArgumentError, ShapeError } from '../core/errors';
import { sizeOf } from '../compile/graph';
import { checkTensor, type Tensor } from '../core/tensor';
import type { Executor } from '../runtime/executor';
import { type LossConfig, isCategorical } from './losses';

// The batch size of `x`, after checking it against the model's input: shape, type, and finite
// values unless `finiteLater` (predict checks them beside its workers, checkFinite).
export function checkInputs(x: Tensor, expected: readonly number[], firstLayer: string, what: string, finiteLater = false): number {
  checkTensor(x, `${what} inputs`);
  const shape = x.shape;
  const ok = shape.length === expected.length + 1 && expected.every((d, i) => shape[i + 1] === d);
  if (!ok) {
    throw new ShapeError(`${what}: input of shape [${shape}] does not match layer ${firstLayer}, which expects [batch, ${expected.join(', ')}]`,
      firstLayer, [null, ...expected], shape);
  }
  if (!(x.data instanceof Float32Array)) throw new InvalidArgumentError(`${what}: inputs must be a Float32Array tensor`);
  const n = shape[0];
  if (n === 0) throw new InvalidArgumentError(`${what}: no samples (input batch dimension is 0)`);
  if (!finiteLater) checkFinite(x.data, expected, what);
  return n;
}

// Throws naming the first non-finite value of `data` (samples of `expected` floats) by sample and element.
export function checkFinite(data: Float32Array, expected: readonly number[], what: string): void {
  if (!allFinite(data)) for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      const per = sizeOf(expected);
      throw new InvalidArgumentError(`${what}: input sample ${Math.floor(i / per)} has a non-finite value (${data[i]}) at element ${i % per}`);
    }
  }
}

// Whether every value is finite: x * 0 is 0 for a finite x and NaN for an infinity or a NaN, so
// one sum answers (four sums, four chains in flight); a step checks its whole batch this way on
// the driver before it copies it in, 2.3x faster than Number.isFinite on each value (64 x 784
// floats: 21 against 47 us of CPU).
function allFinite(d: Float32Array): boolean {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  for (; i + 4 <= d.length; i += 4) {
    s0 += d[i] * 0; s1 += d[i + 1] * 0; s2 += d[i + 2] * 0; s3 += d[i + 3] * 0;
  }
  for (; i < d.length; i++) s0 += d[i] * 0;
  return s0 + s1 + s2 + s3 === 0;
}

// Labels in the plan's form: Int32 class indices (sparse losses) or float targets (dense);
// class indices given to a dense loss are one-hot encoded.
export function prepareLabels(y: Tensor, n: number, loss: LossConfig, out: number[], outputLayer: string, what: string): Float32Array | Int32Array {
  const classes = out[out.length - 1];
  const rows = sizeOf(out.slice(0, -1));
  const sparse = loss.className === 'sparseCategoricalCrossentropy';
  checkTensor(y, `${what} labels`);
  if (y.shape[0] !== n) throw new ShapeError(`${what}: ${n} input samples but ${y.shape[0]} labels`, undefined, [n], y.shape);
  if (!isCategorical(loss)) return regressionTargets(y, n, out, loss.className, what, outputLayer);
  const perSample = y.data.length / n;
  const indices = perSample === rows && (y.data instanceof Int32Array || sparse);
  if (indices) {
    const labels = new Int32Array(y.data.length);
    for (let i = 0; i < y.data.length; i++) {
      const v = y.data[i];
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw new InvalidArgumentError(`${what}: label ${i} is ${v}, outside the ${classes} classes [0, ${classes - 1}] of layer ${outputLayer}`);
      }
      labels[i] = v;
    }
    if (sparse) return labels;
    const onehot = new Float32Array(labels.length * classes);
    labels.forEach((l, i) => { onehot[i * classes + l] = 1; });
    return onehot;
  }
  if (perSample !== rows * classes) {
    throw new ShapeError(`${what}: labels of shape [${y.shape}] match neither class indices [${n}${rows > 1 ? `, ${rows}` : ''}] nor targets [${n}, ${out.join(', ')}] for output layer ${outputLayer}`,
      outputLayer, [n, ...out], y.shape);
  }
  for (let i = 0; i < y.data.length; i++) {
    if (!Number.isFinite(y.data[i])) throw new InvalidArgumentError(`${what}: target ${Math.floor(i / classes)} has a non-finite value`);
  }
  if (!sparse) return Float32Array.from(y.data);
  const labels = new Int32Array(n * rows);
  for (let r = 0; r < n * rows; r++) {
    let best = 0;
    let ones = 0;
    for (let j = 0; j < classes; j++) {
      const v = y.data[r * classes + j];
      if (v !== 0 && v !== 1) throw new InvalidArgumentError(`${what}: sparseCategoricalCrossentropy needs class indices; got targets that are not one-hot (row ${r})`);
      if (v === 1) { best = j; ones++; }
    }
    if (ones !== 1) throw new InvalidArgumentError(`${what}: target row ${r} is not one-hot`);
    labels[r] = best;
  }
  return labels;
}

// Rows start..start+count of the inputs (and labels, and per-sample weights), in `order` if
// shuffled, into the arena: one array per model input and per output, in the plan's order. A plan
// with weights regions and no weights given weighs every sample 1.
export function loadBatch(exec: Executor, xs: readonly Float32Array[], labels: readonly (Float32Array | Int32Array)[] | null, order: Int32Array | null,
  start: number, count: number, weights: readonly Float32Array[] | null = null): void {
  const plan = exec.plan;
  const rows = (src: Float32Array | Int32Array, dst: Float32Array | Int32Array, per: number) => {
    if (!order) dst.set(src.subarray(start * per, (start + count) * per));
    else for (let j = 0; j < count; j++) { const r = order[start + j]; dst.set(src.subarray(r * per, (r + 1) * per), j * per); }
  };
  plan.inputs.forEach((input, i) => rows(xs[i], exec.view(input.region), sizeOf(input.shape)));
  if (!labels) return;
  plan.outputs.forEach((o, i) => {
    if (o.labelsRegion === null) return;
    rows(labels[i], labels[i] instanceof Int32Array ? exec.viewI32(o.labelsRegion) : exec.view(o.labelsRegion), o.labels!.floatsPerSample);
    if (o.weightsRegion === null) return;
    if (weights) rows(weights[i], exec.view(o.weightsRegion), 1);
    else exec.view(o.weightsRegion).fill(1);
  });
}

// predict's work beside the workers' tiles of its first batch (Executor.run's side work): the
// inputs' finite check (on one thread it runs now, before any batch) and the outputs' first
// writes. A non-finite value is thrown by rethrow once that batch has run: predict changes
// nothing but the arena's activations. GEMM-1024's 4 MB input took 0.8 ms to check on the driver
// alone, 2.5% of its 2-thread predict.
export function predictSideWork(xs: readonly Float32Array[], shapes: readonly number[][], outs: readonly Float32Array[], threads: number): { work: () => void; rethrow: () => void } {
  const check = () => xs.forEach((d, i) => checkFinite(d, shapes[i], 'predict'));
  let thrown: unknown = null;
  if (threads === 1) check();
  return {
    work: () => {
      if (threads > 1) try { check(); } catch (e) { thrown = e; }
      outs.forEach(touchPages);
    },
    rethrow: () => { if (thrown) throw thrown; },
  };
}

// Writes a zero into every 4 KiB page of a fresh (zeroed) array, so that its first writes, a page
// fault each where the allocator maps it anew (about 12 us in a VM: 12 ms for 4 MB), happen now:
// predict runs this beside its workers (Executor.run's side work) before it copies out.
export function touchPages(a: Float32Array): void {
  for (let i = 0; i < a.length; i += 1024) a[i] = 0;
}

// Targets for meanSquaredError / binaryCrossentropy: one float per output value.
function regressionTargets(y: Tensor, n: number, out: number[], loss: string, what: string, layer: string): Float32Array {
  if (y.data.length !== n * sizeOf(out)) {
    throw new ShapeError(`${what}: targets of shape [${y.shape}] do not match the output [${n}, ${out.join(', ')}] of layer ${layer} (${loss})`, layer, [n, ...out], y.shape);
  }
  for (let i = 0; i < y.data.length; i++) {
    if (!Number.isFinite(y.data[i])) throw new InvalidArgumentError(`${what}: target value ${i} is not finite (${y.data[i]})`);
  }
  return Float32Array.from(y.data);
}
