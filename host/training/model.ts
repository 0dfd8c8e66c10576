// The Keras-style model: compile / fit / evaluate / predict / summary, over a compiled plan.
// All numeric work runs inside wasm; this file moves batches in and numbers out.
import { Executor } from '../runtime/executor';
import {
  EdgetuneError, InvalidArgumentError, MemoryBudgetError, NonFiniteError, ShapeError, describeBreakdown, formatBytes, parseBytes,
} from '../core/errors';
import { functionalGraph, type Graph, sequentialGraph, sizeOf } from '../compile/graph';
import { type Layer, SymbolicTensor } from '../layers/layer';
import { type LossConfig, type LossName, isCategorical, resolveLoss } from './losses';
import { type OptimizerConfig, type OptimizerName, resolveOptimizer } from './optimizers';
import { applyOptimizerSnapshot, copyOptimizerState, type OptimizerSnapshot, takeOptimizerSnapshot } from './optimizer-state';
import { compilePlan, type Plan } from '../compile/plan';
import { Random, nextSeed } from '../core/random';
import { requireFileSystem } from '../core/io';
import { modelToBytes } from '../formats/save';
import { type Tensor } from '../core/tensor';

export interface CompileOptions {
  optimizer: OptimizerConfig | OptimizerName | string;
  loss: LossName | string | Partial<LossConfig>;
  metrics?: string[];
  // Refuse plans whose arena (wasm memory) would be larger: bytes or '512KB', '4MB'.
  memoryBudget?: number | string;
  // Largest batch the plan is sized for (fit with a larger batchSize re-plans). Keras's default.
  batchSize?: number;
}

export interface EpochLogs {
  loss: number;
  accuracy?: number;
  val_loss?: number;
  val_accuracy?: number;
  [name: string]: number | undefined;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  validationData?: [Tensor, Tensor];
  shuffle?: boolean;
  seed?: number;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  // Keras-style callbacks (host/training/callbacks.ts): learningRateScheduler, reduceLROnPlateau,
  // earlyStopping, modelCheckpoint, progress, or any object with these hooks.
  callbacks?: Callback[];
  // Record the global gradient norm (before clipping) of every step in history.steps.gradNorm.
  recordGradNorm?: boolean;
}

export interface Callback {
  setModel?(model: Model): void;
  onTrainBegin?(): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  onBatchEnd?(batch: number, logs: { loss: number; lr: number }): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: EpochLogs): void | Promise<void>;
  onTrainEnd?(logs: EpochLogs | null): void | Promise<void>;
}

export interface History {
  epoch: number[];
  // Per epoch: loss, metrics, validation, and the learning rate at the epoch's end ('learning_rate').
  history: Record<string, number[]>;
  // Per optimizer step: the learning rate used, the batch loss and (recordGradNorm) the global
  // gradient norm before clipping.
  steps: { lr: number[]; loss: number[]; gradNorm?: number[] };
}

export interface EvaluateResult {
  loss: number;
  accuracy?: number;
}

interface CompiledConfig {
  optimizer: OptimizerConfig;
  loss: LossConfig;
  metrics: string[];
  memoryBudget?: number;
  batchSize: number;
}

const METRICS = new Set(['accuracy', 'acc']);

export class Model {
  readonly name: string;
  readonly layers: Layer[];
  readonly graph: Graph;
  private compiled: CompiledConfig | null = null;
  private executor: Executor | null = null;
  private trainableAtPlan = '';
  private planGradients = false;
  // Set by a callback to end fit() after the current epoch (Keras model.stop_training).
  stopTraining = false;
  // Optimizer state waiting for the next training plan (a checkpoint being restored).
  private pendingOptimizer: OptimizerSnapshot | null = null;

  readonly isSequential: boolean;

  // A sequential model from a layer list, or a functional one from its input and output tensors.
  constructor(structure: Layer[] | { inputs: SymbolicTensor; outputs: SymbolicTensor }, options: { name?: string; inputShape?: number[] } = {}) {
    if (Array.isArray(structure)) {
      this.isSequential = true;
      this.name = options.name ?? 'sequential';
      this.layers = [...structure];
      this.graph = sequentialGraph(this.layers, options.inputShape ?? null);
      this.symbolic = sequentialSymbolic(this.graph);
    } else {
      this.symbolic = { inputs: structure.inputs, outputs: structure.outputs };
      this.isSequential = false;
      this.name = options.name ?? 'functional';
      this.graph = functionalGraph(structure.inputs, structure.outputs);
      this.layers = [];
      for (const n of this.graph.nodes) if (n.layer && !this.layers.includes(n.layer)) this.layers.push(n.layer);
    }
  }

  get inputShape(): number[] {
    return this.graph.nodes[this.graph.input].shape;
  }

  get outputShape(): number[] {
    return this.graph.nodes[this.graph.output].shape;
  }

  get compileConfig(): Readonly<CompiledConfig> | null {
    return this.compiled;
  }

  private readonly symbolic: { inputs: SymbolicTensor; outputs: SymbolicTensor };

  // The model's symbolic input and output (Keras model.inputs / model.outputs), for building
  // models on parts of this one; they share its layers and weights.
  get inputs(): SymbolicTensor {
    return this.symbolic.inputs;
  }

  get outputs(): SymbolicTensor {
    return this.symbolic.outputs;
  }

  // Freezes every layer up to and including `untilLayerName` (in the model's layer order) and
  // makes every later layer trainable: the usual cut between a pretrained base and a new head.
  freeze(untilLayerName: string): this {
    const at = this.layers.findIndex((l) => l.name === untilLayerName);
    if (at < 0) this.getLayer(untilLayerName); // throws, listing the layers
    this.layers.forEach((l, i) => { l.trainable = i > at; });
    return this;
  }

  getLayer(name: string): Layer {
    const l = this.layers.find((x) => x.name === name);
    if (!l) throw new InvalidArgumentError(`model ${this.name} has no layer '${name}' (layers: ${this.layers.map((x) => x.name).join(', ')})`);
    return l;
  }

  // Plans the training arena now, so its size is known (and checked against memoryBudget)
  // before any memory is allocated or any data is seen.
  compile(options: CompileOptions, planNow = true): void {
    const metrics = options.metrics ?? [];
    for (const m of metrics) if (!METRICS.has(m)) throw new InvalidArgumentError(`unknown metric '${m}' (known: accuracy)`);
    const batchSize = options.batchSize ?? 32;
    if (metrics.length && !isCategorical(resolveLoss(options.loss))) throw new InvalidArgumentError(`the accuracy metric needs a categorical cross-entropy loss, not ${resolveLoss(options.loss).className}`);
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`compile: batchSize must be a positive integer, got ${batchSize}`);
    this.compiled = {
      optimizer: resolveOptimizer(options.optimizer),
      loss: resolveLoss(options.loss),
      metrics,
      memoryBudget: options.memoryBudget === undefined ? undefined : parseBytes(options.memoryBudget),
      batchSize,
    };
    this.pendingOptimizer = null;
    if (this.executor?.plan.mode === 'training') this.executor = null;
    if (planNow) this.replan(batchSize, 'training', true);
  }

  // Optimizer iterations done (Keras optimizer.iterations): the next update uses t = iterations + 1.
  // Kept in the arena's step header, where the training program counts them.
  get iterations(): number {
    if (this.executor?.plan.mode === 'training') return this.executor.iterations;
    return this.pendingOptimizer?.iterations ?? 0;
  }

  // The optimizer's learning-rate variable (Keras optimizer.learning_rate): what a constant-rate
  // optimizer uses for the next step, and what learningRateScheduler and reduceLROnPlateau change.
  get learningRate(): number {
    const c = this.requireCompiled('learningRate');
    if (typeof c.optimizer.learningRate !== 'number') {
      throw new InvalidArgumentError(`model ${this.name}: the optimizer's learning rate is a ${c.optimizer.learningRate.className} schedule, not a variable`);
    }
    return this.trainingExecutor().baseLearningRate;
  }
  set learningRate(v: number) {
    const c = this.requireCompiled('learningRate');
    if (typeof c.optimizer.learningRate !== 'number') {
      throw new InvalidArgumentError(`model ${this.name}: cannot set the learning rate of an optimizer created with a ${c.optimizer.learningRate.className} schedule`);
    }
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new InvalidArgumentError(`learning rate must be a positive number, got ${v}`);
    this.trainingExecutor().baseLearningRate = v;
  }

  /** @internal the training executor, planned now if needed (for at least `batchSize` rows). */
  trainingExecutor(batchSize?: number): Executor {
    const c = this.requireCompiled('fit');
    return this.executorFor(batchSize ?? (this.executor?.plan.mode === 'training' ? this.executor.plan.batchSize : c.batchSize), true);
  }

  /** @internal optimizer slots and header scalars, for checkpoints and the LR finder. */
  optimizerSnapshot(): OptimizerSnapshot {
    return takeOptimizerSnapshot(this.trainingExecutor());
  }

  /** @internal restores optimizerSnapshot() output (now, or at the next training plan). */
  restoreOptimizer(snapshot: OptimizerSnapshot): void {
    if (this.executor?.plan.mode === 'training') applyOptimizerSnapshot(this.executor, snapshot);
    else this.pendingOptimizer = snapshot;
  }

  // The current plan as data: regions with offsets, sizes and live ranges; programs; breakdown.
  get plan(): Plan {
    if (!this.executor) throw new EdgetuneError('NotCompiled', `model ${this.name} has no plan yet: call compile() (or predict(), which plans for inference)`);
    return this.executor.plan;
  }

  // Plans for inference only (no gradients, optimizer state or loss): what predict uses on a
  // model that was never compiled, and what `inspect` reports.
  planInference(batchSize = 32, memoryBudget?: number | string): Plan {
    return compilePlan(this.graph, { batchSize, mode: 'inference', memoryBudget: memoryBudget === undefined ? undefined : parseBytes(memoryBudget) });
  }

  private trainableSignature(): string {
    return this.layers.map((l) => (l.trainable ? '1' : '0')).join('');
  }

  private replan(batchSize: number, mode: 'training' | 'inference', resetOptimizer: boolean): void {
    const c = this.compiled;
    const plan = mode === 'training'
      ? compilePlan(this.graph, { batchSize, mode, loss: c!.loss, optimizer: c!.optimizer, memoryBudget: c!.memoryBudget, gradients: this.planGradients })
      : compilePlan(this.graph, { batchSize, mode, memoryBudget: c?.memoryBudget });
    const previous = this.executor;
    const next = new Executor(plan);
    this.bindWeights(next);
    if (previous && !resetOptimizer) copyOptimizerState(previous, next);
    if (mode === 'training' && this.pendingOptimizer) {
      applyOptimizerSnapshot(next, this.pendingOptimizer);
      this.pendingOptimizer = null;
    }
    this.executor = next;
    this.trainableAtPlan = this.trainableSignature();
  }

  // Makes this model's arena hold the current weights of every layer (a layer shared with another
  // model may have been trained there), and points the layers' weight arrays at it.
  private bindWeights(exec: Executor): void {
    for (const b of exec.plan.params) {
      const layer = this.getLayer(b.layer);
      if (layer.home === exec) continue;
      const i = layer.weightSpecs.findIndex((s) => s.name === b.weight);
      const view = exec.view(b.region, sizeOf(b.shape));
      view.set(layer.values[i]);
      layer.values[i] = view;
    }
    for (const l of this.layers) if (l.weightSpecs.length) l.home = exec;
  }

  // The executor for a run: re-plans when there is none, when training needs a training plan,
  // when the batch outgrew the plan, or when layers were frozen or unfrozen since planning.
  private requireCompiled(what: string): CompiledConfig {
    if (!this.compiled) throw new EdgetuneError('NotCompiled', `model ${this.name} must be compiled (optimizer, loss) before ${what}()`);
    return this.compiled;
  }

  private executorFor(batchSize: number, training: boolean): Executor {
    if (training) this.requireCompiled('fit');
    const e = this.executor;
    const mode = training || e?.plan.mode === 'training' ? 'training' : 'inference';
    const stale = !e || e.plan.mode !== mode || e.plan.batchSize < batchSize ||
      (mode === 'training' && this.trainableAtPlan !== this.trainableSignature()) ||
      (mode === 'training' && this.planGradients && !e.plan.programs.gradients);
    if (stale) this.replan(Math.max(batchSize, e && e.plan.mode === mode ? e.plan.batchSize : 0), mode, false);
    else this.bindWeights(e);
    return this.executor!;
  }

  /** @internal restores a saved training configuration without planning (loadModel). */
  restoreCompileConfig(options: CompileOptions): void {
    this.compile(options, false);
  }

  // ---------------------------------------------------------------------------------------------
  // Input checking: every message names what was expected.

  private checkInputs(x: Tensor, what: string): number {
    const expected = this.inputShape;
    const shape = x.shape;
    const ok = shape.length === expected.length + 1 && expected.every((d, i) => shape[i + 1] === d);
    if (!ok) {
      throw new ShapeError(`${what}: input of shape [${shape}] does not match layer ${this.layers[0].name}, which expects [batch, ${expected.join(', ')}]`,
        this.layers[0].name, [null, ...expected], shape);
    }
    if (!(x.data instanceof Float32Array)) throw new InvalidArgumentError(`${what}: inputs must be a Float32Array tensor`);
    const n = shape[0];
    if (n === 0) throw new InvalidArgumentError(`${what}: no samples (input batch dimension is 0)`);
    const data = x.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        const per = sizeOf(expected);
        throw new InvalidArgumentError(`${what}: input sample ${Math.floor(i / per)} has a non-finite value (${data[i]}) at element ${i % per}`);
      }
    }
    return n;
  }

  // Labels in the plan's form: Int32 class indices (sparse losses) or float targets (dense);
  // class indices given to a dense loss are one-hot encoded.
  private prepareLabels(y: Tensor, n: number, what: string): Float32Array | Int32Array {
    const c = this.compiled!;
    const out = this.outputShape;
    const classes = out[out.length - 1];
    const rows = sizeOf(out.slice(0, -1));
    const sparse = c.loss.className === 'sparseCategoricalCrossentropy';
    if (y.shape[0] !== n) throw new ShapeError(`${what}: ${n} input samples but ${y.shape[0]} labels`, undefined, [n], y.shape);
    if (!isCategorical(c.loss)) return regressionTargets(y, n, out, c.loss.className, what, this.layers[this.layers.length - 1].name);
    const perSample = y.data.length / n;
    const indices = perSample === rows && (y.data instanceof Int32Array || sparse);
    if (indices) {
      const labels = new Int32Array(y.data.length);
      for (let i = 0; i < y.data.length; i++) {
        const v = y.data[i];
        if (!Number.isInteger(v) || v < 0 || v >= classes) {
          throw new InvalidArgumentError(`${what}: label ${i} is ${v}, outside the ${classes} classes [0, ${classes - 1}] of layer ${this.layers[this.layers.length - 1].name}`);
        }
        labels[i] = v;
      }
      if (sparse) return labels;
      const onehot = new Float32Array(labels.length * classes);
      labels.forEach((l, i) => { onehot[i * classes + l] = 1; });
      return onehot;
    }
    if (perSample !== rows * classes) {
      throw new ShapeError(`${what}: labels of shape [${y.shape}] match neither class indices [${n}${rows > 1 ? `, ${rows}` : ''}] nor targets [${n}, ${out.join(', ')}] for output layer ${this.layers[this.layers.length - 1].name}`,
        this.layers[this.layers.length - 1].name, [n, ...out], y.shape);
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

  private loadBatch(exec: Executor, x: Float32Array, labels: Float32Array | Int32Array | null, order: Int32Array | null, start: number, count: number): void {
    const plan = exec.plan;
    const per = sizeOf(plan.inputShape);
    const input = exec.view(plan.input);
    if (!order) input.set(x.subarray(start * per, (start + count) * per));
    else for (let j = 0; j < count; j++) { const r = order[start + j]; input.set(x.subarray(r * per, (r + 1) * per), j * per); }
    if (!labels || plan.labelsRegion === null) return;
    const lp = plan.labels!.floatsPerSample;
    const dst = labels instanceof Int32Array ? exec.viewI32(plan.labelsRegion) : exec.view(plan.labelsRegion);
    if (!order) dst.set(labels.subarray(start * lp, (start + count) * lp));
    else for (let j = 0; j < count; j++) { const r = order[start + j]; dst.set(labels.subarray(r * lp, (r + 1) * lp), j * lp); }
  }

  // ---------------------------------------------------------------------------------------------

  async fit(x: Tensor, y: Tensor, options: FitOptions = {}): Promise<History> {
    const epochs = options.epochs ?? 1;
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`fit: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(epochs) || epochs < 0) throw new InvalidArgumentError(`fit: epochs must be a non-negative integer, got ${epochs}`);
    this.requireCompiled('fit');
    const n = this.checkInputs(x, 'fit');
    const labels = this.prepareLabels(y, n, 'fit');
    const xdata = x.data as Float32Array;
    const c = this.compiled!;
    const withAccuracy = c.metrics.length > 0;
    const rows = sizeOf(this.outputShape.slice(0, -1));
    const rng = new Random(options.seed ?? nextSeed());
    const steps: History['steps'] = { lr: [], loss: [], ...(options.recordGradNorm ? { gradNorm: [] } : {}) };
    const history: History = { epoch: [], history: {}, steps };
    const push = (k: string, v: number) => (history.history[k] ??= []).push(v);
    const callbacks = options.callbacks ?? [];
    this.stopTraining = false;
    for (const cb of callbacks) cb.setModel?.(this);
    for (const cb of callbacks) if (cb.onTrainBegin) await cb.onTrainBegin();
    let last: EpochLogs | null = null;
    for (let epoch = 0; epoch < epochs && !this.stopTraining; epoch++) {
      const exec = this.executorFor(batchSize, true);
      for (const cb of callbacks) if (cb.onEpochBegin) await cb.onEpochBegin(epoch);
      const order = options.shuffle === false ? null : rng.permutation(n);
      let lossSum = 0;
      let correct = 0;
      for (let start = 0, b = 0; start < n; start += batchSize, b++) {
        const count = Math.min(batchSize, n - start);
        this.loadBatch(exec, xdata, labels, order, start, count);
        exec.setStep(count);
        const { nonFinite } = exec.run('train');
        if (nonFinite) throw new NonFiniteError(nonFinite, epoch, b, exec.iterations + 1);
        const h = exec.readHeader();
        lossSum += h.lossSum + h.penalty * count;
        correct += h.correct;
        const stepLoss = h.lossSum / count + h.penalty;
        steps.lr.push(exec.lastLearningRate);
        steps.loss.push(stepLoss);
        if (steps.gradNorm) steps.gradNorm.push(Math.sqrt(h.gradNormSq));
        for (const cb of callbacks) if (cb.onBatchEnd) await cb.onBatchEnd(b, { loss: stepLoss, lr: exec.lastLearningRate });
      }
      const logs: EpochLogs = { loss: lossSum / n };
      if (withAccuracy) logs.accuracy = correct / (n * rows);
      if (options.validationData) {
        const v = this.evaluate(options.validationData[0], options.validationData[1], { batchSize });
        logs.val_loss = v.loss;
        if (withAccuracy) logs.val_accuracy = v.accuracy;
      }
      logs.learning_rate = exec.lastLearningRate;
      history.epoch.push(epoch);
      for (const [k, v] of Object.entries(logs)) if (v !== undefined) push(k, v);
      if (options.onEpochEnd) await options.onEpochEnd(epoch, logs);
      for (const cb of callbacks) if (cb.onEpochEnd) await cb.onEpochEnd(epoch, logs);
      last = logs;
    }
    for (const cb of callbacks) if (cb.onTrainEnd) await cb.onTrainEnd(last);
    return history;
  }

  // One optimizer step on exactly this batch (Keras train_on_batch); returns the batch's loss.
  trainOnBatch(x: Tensor, y: Tensor): EvaluateResult {
    const c = this.requireCompiled('trainOnBatch');
    const n = this.checkInputs(x, 'trainOnBatch');
    const labels = this.prepareLabels(y, n, 'trainOnBatch');
    const exec = this.executorFor(n, true);
    this.loadBatch(exec, x.data as Float32Array, labels, null, 0, n);
    exec.setStep(n);
    const { nonFinite } = exec.run('train');
    if (nonFinite) throw new NonFiniteError(nonFinite, 0, 0, exec.iterations + 1);
    const h = exec.readHeader();
    const rows = sizeOf(this.outputShape.slice(0, -1));
    const loss = h.lossSum / n + h.penalty;
    return c.metrics.length ? { loss, accuracy: h.correct / (n * rows) } : { loss };
  }

  // Gradients of the compiled loss (data loss + penalties) for this batch, in training mode,
  // without updating anything: per trainable weight ('<layer>/<weight>') and for the input. For
  // checking layers against other libraries and for watching gradients vanish or explode.
  computeGradients(x: Tensor, y: Tensor): { loss: number; input: Float32Array; weights: Map<string, Float32Array> } {
    this.requireCompiled('computeGradients');
    const n = this.checkInputs(x, 'computeGradients');
    const labels = this.prepareLabels(y, n, 'computeGradients');
    this.planGradients = true;
    const exec = this.executorFor(n, true);
    this.loadBatch(exec, x.data as Float32Array, labels, null, 0, n);
    exec.setStep(n);
    const { nonFinite } = exec.run('gradients');
    if (nonFinite) throw new NonFiniteError(nonFinite, 0, 0, this.iterations + 1);
    const h = exec.readHeader();
    const plan = exec.plan;
    const weights = new Map<string, Float32Array>();
    for (const b of plan.params) if (b.grad !== null) weights.set(`${b.layer}/${b.weight}`, exec.view(b.grad, sizeOf(b.shape)).slice());
    const input = plan.inputGradient === null ? new Float32Array(n * sizeOf(this.inputShape)) : exec.view(plan.inputGradient, n * sizeOf(this.inputShape)).slice();
    return { loss: h.lossSum / n + h.penalty, input, weights };
  }

  evaluate(x: Tensor, y: Tensor, options: { batchSize?: number } = {}): EvaluateResult {
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`evaluate: batchSize must be a positive integer, got ${batchSize}`);
    this.requireCompiled('evaluate');
    const n = this.checkInputs(x, 'evaluate');
    const exec = this.executorFor(Math.min(batchSize, this.executor?.plan.batchSize ?? batchSize), true);
    const labels = this.prepareLabels(y, n, 'evaluate');
    const step = exec.plan.batchSize;
    for (let start = 0; start < n; start += step) {
      const count = Math.min(step, n - start);
      this.loadBatch(exec, x.data as Float32Array, labels, null, start, count);
      exec.setStep(count, start > 0);
      exec.run('evaluate');
    }
    const h = exec.readHeader();
    const rows = sizeOf(this.outputShape.slice(0, -1));
    // The data loss is a mean over samples; the regularization penalty is added once (Keras).
    const result: EvaluateResult = { loss: h.lossSum / n + h.penalty };
    if (this.compiled!.metrics.length) result.accuracy = h.correct / (n * rows);
    return result;
  }

  predict(x: Tensor, options: { batchSize?: number } = {}): Tensor<Float32Array> {
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`predict: batchSize must be a positive integer, got ${batchSize}`);
    const n = this.checkInputs(x, 'predict');
    const exec = this.executorFor(this.executor ? Math.min(batchSize, this.executor.plan.batchSize) : batchSize, false);
    const step = exec.plan.batchSize;
    const per = sizeOf(this.outputShape);
    const out = new Float32Array(n * per);
    const program = exec.plan.programs.forward!;
    for (let start = 0; start < n; start += step) {
      const count = Math.min(step, n - start);
      this.loadBatch(exec, x.data as Float32Array, null, null, start, count);
      exec.setStep(count);
      exec.run('forward');
      out.set(exec.view(program.output, count * per), start * per);
    }
    return { data: out, shape: [n, ...this.outputShape] };
  }

  // The model as safetensors bytes: weights, Keras-style topology and training config; with
  // includeOptimizer, also the optimizer's slots and step (a checkpoint to resume from).
  toBytes(options: { includeOptimizer?: boolean } = {}): Uint8Array {
    return modelToBytes(this, options);
  }

  // Writes toBytes() to `path` atomically (temporary file, then rename). Needs a file system.
  async save(path: string, options: { includeOptimizer?: boolean } = {}): Promise<void> {
    await requireFileSystem('model.save(path)').writeFileAtomic(path, modelToBytes(this, options));
  }

  countParams(): { total: number; trainable: number; nonTrainable: number } {
    let total = 0;
    let trainable = 0;
    for (const l of this.layers) {
      total += l.countParams();
      if (l.trainable) trainable += l.countTrainableParams();
    }
    return { total, trainable, nonTrainable: total - trainable };
  }

  // Layers, output shapes, trainable and frozen parameter counts, and the planned arena.
  summary(print: ((line: string) => void) | null = console.log): string {
    const lines: string[] = [];
    const row = (a: string, b: string, c: string, d: string) => `${a.padEnd(36)}${b.padEnd(22)}${c.padStart(10)}  ${d}`;
    lines.push(`Model: "${this.name}"`);
    lines.push(row('Layer (type)', 'Output Shape', 'Param #', 'Trainable'));
    lines.push('='.repeat(80));
    for (const l of this.layers) {
      const node = this.graph.nodes.find((nd) => nd.layer === l)!;
      const kind = l.kind === 'activation' ? String(l.config.activation) : l.kind;
      lines.push(row(`${l.name} (${kind})`, `(None, ${node.shape.join(', ')})`, String(l.countParams()), l.countParams() ? (l.trainable ? 'yes' : 'frozen') : '-'));
    }
    lines.push('='.repeat(80));
    const p = this.countParams();
    lines.push(`Total params: ${p.total}`, `Trainable params: ${p.trainable}`, `Non-trainable (frozen) params: ${p.nonTrainable}`);
    const inference = this.planInference(this.executor?.plan.batchSize ?? 32);
    lines.push(`Planned arena, inference (batch ${inference.batchSize}): ${formatBytes(inference.pages * 65536)} = ${describeBreakdown(inference.breakdown)}`);
    if (this.executor?.plan.mode === 'training') {
      const t = this.executor.plan;
      lines.push(`Planned arena, training (batch ${t.batchSize}): ${formatBytes(t.pages * 65536)} = ${describeBreakdown(t.breakdown)}`);
    }
    const text = lines.join('\n');
    if (print) print(text);
    return text;
  }
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

// Symbolic tensors for a sequential model, so that its layers' `output` can be used like a
// functional model's (a layer applied earlier elsewhere keeps its first output).
function sequentialSymbolic(graph: Graph): { inputs: SymbolicTensor; outputs: SymbolicTensor } {
  const tensors: SymbolicTensor[] = [];
  for (const n of graph.nodes) {
    if (!n.layer) { tensors[n.id] = new SymbolicTensor([...n.shape], null, [], 'input'); continue; }
    const t = new SymbolicTensor([...n.shape], n.layer, n.inputs.map((i) => tensors[i]), n.layer.name);
    n.layer.firstOutput ??= t;
    tensors[n.id] = t;
  }
  return { inputs: tensors[graph.input], outputs: tensors[graph.output] };
}

export function sequential(layerList: Layer[], options: { name?: string; inputShape?: number[] } = {}): Model {
  return new Model(layerList, options);
}

// Functional model (Keras keras.Model(inputs, outputs)): one input, one output, any DAG between.
export function model(options: { inputs: SymbolicTensor; outputs: SymbolicTensor; name?: string }): Model {
  return new Model({ inputs: options.inputs, outputs: options.outputs }, { name: options.name });
}

export { MemoryBudgetError };
