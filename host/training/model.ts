// The Keras-style model: compile / fit / evaluate / predict / summary, over a compiled plan.
// All numeric work runs inside wasm; this file is the API, its plan and its weights. The jobs
// behind it: inputs.ts (input and label checks, batches into the arena), fit.ts (the fit loop),
// arena.ts (planning, re-planning, weight binding), optimizer-state.ts (snapshots, carrying the
// optimizer across re-plans), summary.ts.
import type { Executor } from '../runtime/executor';
import { type ByteSize, EdgetuneError, InvalidArgumentError, MemoryBudgetError, NonFiniteError, parseBytes, ShapeError } from '../core/errors';
import { functionalGraph, type Graph, outputNames, sequentialGraph, sizeOf } from '../compile/graph';
import { type Layer, SymbolicTensor } from '../layers/layer';
import { type LossConfig, isCategorical } from './losses';
import { type OptimizerConfig, type OptimizerName, resolveOptimizer } from './optimizers';
import { applyOptimizerSnapshot, type OptimizerSnapshot, takeOptimizerSnapshot } from './optimizer-state';
import { ModelArena } from './arena';
import { compilePlan, type Plan } from '../compile/plan';
import { requireFileSystem } from '../core/io';
import { modelToBytes } from '../formats/save';
import { asF32, positiveInF32, type Tensor } from '../core/tensor';
import { checkInputs, loadBatch, predictSideWork, prepareLabels } from './inputs';
import { commonRows, type LossesArg, lossOf, readOutputMetrics, resolveLosses, sliceRows, type TensorArgs, tensorList } from './model-io';
import { fitLoop } from './fit';
import { checkMicroBatch } from './micro-batch';
import { type ActivationQuantizer, quantizeModel } from '../layers/quantize';
import { countParams, modelSummary } from './summary';
import { setModelWeights } from './model-weights';
import { checkOptions, optionNames } from '../core/options';
import { type ClassWeightArg, type SampleWeightArg, sampleWeightsFor } from './sample-weights';
import { checkThreads, defaultThreads } from '../runtime/threads';
import { usePool } from '../runtime/thread-pool';
import { threadsFallback } from '../runtime/executor';

export interface CompileOptions {
  optimizer: OptimizerConfig | OptimizerName;
  // One loss for every output, or (several outputs) one per output: an array in output order or
  // a {outputName: loss} map.
  loss: LossesArg;
  // Keras loss_weights (several outputs): the loss trained and reported is sum(weight * loss).
  lossWeights?: number[] | Record<string, number>;
  metrics?: ('accuracy' | 'acc')[];
  // Refuse plans whose arena (wasm memory) would be larger: bytes or '512KB', '4MB'.
  memoryBudget?: ByteSize;
  // Largest batch the plan is sized for (fit with a larger batchSize re-plans). Keras's default.
  batchSize?: number;
  // Threads this model runs on (default: setThreads, else the cores reported); docs/threads.md.
  threads?: number;
}

// With several outputs, also '<output>_loss' (unweighted) and '<output>_accuracy' per output
// (Keras's names), and their 'val_' forms.
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
  // Data to evaluate after every epoch (never trained on); with a third entry, its sample weights.
  validationData?: [TensorArgs, TensorArgs] | [TensorArgs, TensorArgs, SampleWeightArg];
  shuffle?: boolean;
  seed?: number;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  // Keras-style callbacks (host/training/callbacks.ts): learningRateScheduler, reduceLROnPlateau,
  // earlyStopping, modelCheckpoint, progress, or any object with these hooks; or (the TF.js form)
  // one object of hooks, { onEpochEnd }.
  callbacks?: Callback[] | Callback;
  // Record the global gradient norm (before clipping) of every step in history.steps.gradNorm.
  recordGradNorm?: boolean;
  // Keras: hold out the LAST fraction of x and y (before any shuffling) as validation data;
  // ignored when validationData is given.
  validationSplit?: number;
  // Keras: the epoch to start at (resuming); epochs is the index to stop at, not a count.
  initialEpoch?: number;
  // Keras: 0 silent, 1 a live progress bar, 2 one line per epoch; 'auto' (the default) is 1 on a
  // terminal, 2 on other output streams, and 0 where there is no process (browsers).
  verbose?: 'auto' | 0 | 1 | 2;
  // Gradient accumulation: run each batch's forward and backward microBatch rows at a time (the
  // arena holds the activations of microBatch rows), add up the gradients and update once per
  // batch. Must divide batchSize. Without BatchNormalization in training mode (trainable BN
  // normalizes each micro-batch by its own statistics) or dropout, the weights are those of the
  // whole batch up to float summation order; host/training/micro-batch.ts says what differs.
  microBatch?: number;
  // Keras sample_weight: each sample's loss (and gradient) times its weight; the loss stays a mean
  // over the batch size. One array of n weights, or one per output (in order or by name).
  // With validationSplit, the held-out samples keep their weights.
  sampleWeight?: SampleWeightArg;
  // Keras class_weight (one output): each sample's loss times the weight of its label's class
  // ({class index: weight}; a class without an entry weighs 1); multiplies sampleWeight.
  classWeight?: ClassWeightArg;
}

// The documented option names of each method (the compiler holds them equal to the types).
const FIT_OPTIONS = optionNames<FitOptions>()([
  'epochs', 'batchSize', 'validationData', 'shuffle', 'seed', 'onEpochEnd', 'callbacks', 'recordGradNorm', 'validationSplit', 'initialEpoch', 'verbose',
  'microBatch', 'sampleWeight', 'classWeight',
]);
const COMPILE_OPTIONS = optionNames<CompileOptions>()(['optimizer', 'loss', 'lossWeights', 'metrics', 'memoryBudget', 'batchSize', 'threads']);
const BATCH_OPTIONS = optionNames<{ batchSize?: number }>()(['batchSize']);
export interface EvaluateOptions {
  batchSize?: number;
  // Keras sample_weight, as for fit: the reported loss is the weighted mean; accuracy is not weighted.
  sampleWeight?: SampleWeightArg;
}
const EVALUATE_OPTIONS = optionNames<EvaluateOptions>()(['batchSize', 'sampleWeight']);
// Keras train_on_batch's sample_weight and class_weight, as for fit.
export interface TrainOnBatchOptions {
  sampleWeight?: SampleWeightArg;
  classWeight?: ClassWeightArg;
}
const TRAIN_ON_BATCH_OPTIONS = optionNames<TrainOnBatchOptions>()(['sampleWeight', 'classWeight']);

export interface Callback {
  setModel?(model: LiteModel<Prediction>): void;
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

// With several outputs, also '<output>_loss' and '<output>_accuracy' per output.
export interface EvaluateResult {
  loss: number;
  accuracy?: number;
  [metric: string]: number | undefined;
}

interface CompiledConfig {
  optimizer: OptimizerConfig;
  loss: LossConfig | LossConfig[]; // one for every output, or one per output
  lossWeights?: number[];
  metrics: string[];
  memoryBudget?: number;
  batchSize: number;
}

const METRICS = new Set(['accuracy', 'acc']);

// What predict returns: one tensor per output, or the tensor of a single-output model.
export type Prediction = Tensor<Float32Array> | Tensor<Float32Array>[];

// A model's inputs and outputs as given: one symbolic tensor, or a list (Keras functional API).
type Symbolic = SymbolicTensor | SymbolicTensor[];
const listOf = (t: Symbolic): SymbolicTensor[] => (Array.isArray(t) ? t : [t]);

// The model without what edgetune/lite leaves out (quantize, toBytes, save, summary, and Keras
// sample and class weights), so a bundler drops that code from a lite app; Model adds them.
// Out: what predict returns (a model built with several outputs returns one tensor per output).
export class LiteModel<Out extends Prediction = Tensor<Float32Array>> {
  readonly name: string;
  readonly layers: Layer[];
  readonly graph: Graph;
  protected compiled: CompiledConfig | null = null;
  // The plan and executor, re-planned on demand, with the layers' weights bound into its arena.
  protected readonly arena: ModelArena;
  // Set by a callback to end fit() after the current epoch (Keras model.stop_training).
  stopTraining = false;

  readonly isSequential: boolean;

  // A sequential model from a layer list, or a functional one from its input and output tensors.
  constructor(structure: Layer[] | { inputs: Symbolic; outputs: Symbolic }, options: { name?: string; inputShape?: number[] } = {}) {
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
      this.graph = functionalGraph(listOf(structure.inputs), listOf(structure.outputs));
      this.layers = [];
      for (const n of this.graph.nodes) if (n.layer && !this.layers.includes(n.layer)) this.layers.push(n.layer);
    }
    this.arena = new ModelArena(this.graph, this.layers, (name) => this.getLayer(name));
  }

  // The first input's and output's shapes (per sample); inputShapes / outputShapes list all.
  get inputShape(): number[] {
    return this.graph.nodes[this.graph.inputs[0]].shape;
  }

  get outputShape(): number[] {
    return this.graph.nodes[this.graph.outputs[0]].shape;
  }

  get inputShapes(): number[][] {
    return this.graph.inputs.map((id) => this.graph.nodes[id].shape);
  }

  get outputShapes(): number[][] {
    return this.graph.outputs.map((id) => this.graph.nodes[id].shape);
  }

  // Keras model.input_names / model.output_names: the input tensors' names, the output layers'.
  get inputNames(): string[] {
    return listOf(this.symbolic.inputs).map((t) => t.name);
  }

  get outputNames(): string[] {
    return outputNames(this.graph);
  }

  get compileConfig(): Readonly<CompiledConfig> | null {
    return this.compiled;
  }

  private readonly symbolic: { inputs: Symbolic; outputs: Symbolic };

  // The model's symbolic inputs and outputs as it was built from them (one tensor or a list; Keras
  // model.inputs / model.outputs), for building models on parts of this one; they share its
  // layers and weights.
  get inputs(): Symbolic {
    return this.symbolic.inputs;
  }

  get outputs(): Symbolic {
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
    checkOptions('compile', options, COMPILE_OPTIONS);
    const metrics = options.metrics ?? [];
    for (const m of metrics) if (!METRICS.has(m)) throw new InvalidArgumentError(`unknown metric '${m}' (known: accuracy)`);
    const batchSize = options.batchSize ?? 32;
    const { loss, lossWeights } = resolveLosses(options.loss, options.lossWeights, this.outputNames);
    // Keras computes accuracy for every output it fits (several outputs: those with a class loss).
    const categorical = this.outputNames.map((_, i) => isCategorical(lossOf(loss, i)));
    if (metrics.length && !categorical.some((c) => c)) throw new InvalidArgumentError(`the accuracy metric needs a categorical cross-entropy loss, not ${lossOf(loss, 0).className}`);
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`compile: batchSize must be a positive integer, got ${batchSize}`);
    if (options.threads !== undefined) this.arena.threads = checkThreads(options.threads, `compile (model ${this.name})`);
    const previous = [this.compiled, this.arena.executor, this.arena.pendingOptimizer] as const;
    this.compiled = {
      optimizer: resolveOptimizer(options.optimizer),
      loss,
      ...(lossWeights ? { lossWeights } : {}),
      metrics,
      memoryBudget: options.memoryBudget === undefined ? undefined : parseBytes(options.memoryBudget),
      batchSize,
    };
    this.arena.pendingOptimizer = null;
    if (this.arena.executor?.plan.mode === 'training') this.arena.executor = null;
    if (!planNow) return;
    try {
      this.arena.replan(batchSize, 'training', true, this.compiled);
    } catch (e) {
      // A refused plan (MemoryBudgetError) leaves the model as it was: its previous
      // configuration, plan and optimizer state still in use.
      [this.compiled, this.arena.executor, this.arena.pendingOptimizer] = previous;
      throw e;
    }
  }

  // Optimizer iterations done (Keras optimizer.iterations): the next update uses t = iterations + 1.
  // Kept in the arena's step header, where the training program counts them.
  get iterations(): number {
    if (this.arena.executor?.plan.mode === 'training') return this.arena.executor.iterations;
    return this.arena.pendingOptimizer?.iterations ?? 0;
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
    if (!(typeof v === 'number' && positiveInF32(v))) throw new InvalidArgumentError(`learning rate must be a positive number, got ${v}${asF32(v)}`);
    this.trainingExecutor().baseLearningRate = v;
  }

  /** @internal the training executor, planned now if needed (for at least `batchSize` rows). */
  // Given a batch size, it is for running whole 'train' steps (the LR finder): not micro-batched.
  trainingExecutor(batchSize?: number): Executor {
    const c = this.requireCompiled('fit');
    return this.executorFor(batchSize ?? (this.arena.executor?.plan.mode === 'training' ? this.arena.executor.plan.batchSize : c.batchSize), true,
      batchSize === undefined ? undefined : false);
  }

  /** @internal optimizer slots and header scalars, for checkpoints and the LR finder. */
  optimizerSnapshot(): OptimizerSnapshot {
    return takeOptimizerSnapshot(this.trainingExecutor());
  }

  /** @internal restores optimizerSnapshot() output (now, or at the next training plan). */
  restoreOptimizer(snapshot: OptimizerSnapshot): void {
    if (this.arena.executor?.plan.mode === 'training') applyOptimizerSnapshot(this.arena.executor, snapshot);
    else this.arena.pendingOptimizer = snapshot;
  }

  // The current plan as data: regions with offsets, sizes and live ranges; programs; breakdown.
  get plan(): Plan {
    if (!this.arena.executor) throw new EdgetuneError('NotCompiled', `model ${this.name} has no plan yet: call compile() (or predict(), which plans for inference)`);
    return this.arena.executor.plan;
  }

  // Plans for inference only (no gradients, optimizer state or loss): what predict uses on a
  // model that was never compiled, and what `inspect` reports.
  // `threads` sets the threads this model runs on from its next plan (as compile's option does).
  planInference(batchSize = 32, memoryBudget?: ByteSize, threads?: number): Plan {
    if (threads !== undefined) {
      this.arena.threads = checkThreads(threads, `planInference (model ${this.name})`);
      if (this.arena.executor?.plan.mode === 'inference' && this.arena.executor.threads !== this.arena.threads) this.arena.executor = null;
    }
    return compilePlan(this.graph, { batchSize, mode: 'inference', memoryBudget: memoryBudget === undefined ? undefined : parseBytes(memoryBudget) });
  }

  private requireCompiled(what: string): CompiledConfig {
    if (!this.compiled) throw new EdgetuneError('NotCompiled', `model ${this.name} must be compiled (optimizer, loss) before ${what}()`);
    return this.compiled;
  }

  private executorFor(batchSize: number, training: boolean, microBatching?: boolean): Executor {
    if (training) this.requireCompiled('fit');
    return this.arena.executorFor(batchSize, training, this.compiled, microBatching);
  }

  // Predict and evaluate use a training plan as it is (re-planning it would move the optimizer's
  // state); an inference plan too small for the call is re-planned.
  private trainingPlanBatch(): number {
    return this.arena.executor?.plan.mode === 'training' ? this.arena.executor.plan.batchSize : Infinity;
  }

  /** @internal restores a saved training configuration without planning (loadModel). */
  restoreCompileConfig(options: CompileOptions): void {
    this.compile(options, false);
  }

  // x as one checked array per input (model order) and the number of samples (finiteLater: predictSideWork checks the values).
  private inputData(x: TensorArgs, what: string, finiteLater = false): { xs: Float32Array[]; n: number } {
    const names = this.inputNames;
    const list = tensorList(x, names, 'input', what);
    const n = commonRows(list, names, 'input', what);
    const single = list.length === 1;
    list.forEach((t, i) => checkInputs(t, this.inputShapes[i], single ? this.layers[0].name : names[i], what, finiteLater));
    return { xs: list.map((t) => t.data as Float32Array), n };
  }

  // y as labels in each output's plan form (model order), for n samples.
  private labelsFor(y: TensorArgs, n: number, what: string): (Float32Array | Int32Array)[] {
    const names = this.outputNames;
    const list = tensorList(y, names, 'target', what);
    const single = list.length === 1;
    return list.map((t, i) => prepareLabels(t, n, lossOf(this.compiled!.loss, i), this.outputShapes[i], single ? this.layers[this.layers.length - 1].name : names[i], what));
  }

  // Loss and accuracy from summed figures over n samples: the data loss (weighted total) is a
  // mean over samples and the regularization penalty is added once (Keras); several outputs add
  // '<output>_loss' and '<output>_accuracy'.
  /** @internal */
  results(n: number, lossSum: number, penalty: number, correct: number, perOutput: { loss: number[]; correct: number[] } | null): EvaluateResult {
    const result: EvaluateResult = { loss: lossSum / n + penalty };
    const withAccuracy = this.compiled!.metrics.length > 0;
    if (!perOutput) {
      if (withAccuracy) result.accuracy = correct / (n * sizeOf(this.outputShape.slice(0, -1)));
      return result;
    }
    this.outputNames.forEach((name, i) => {
      result[`${name}_loss`] = perOutput.loss[i] / n;
      if (withAccuracy && isCategorical(lossOf(this.compiled!.loss, i))) result[`${name}_accuracy`] = perOutput.correct[i] / (n * sizeOf(this.outputShapes[i].slice(0, -1)));
    });
    return result;
  }

  // Keras sample_weight and class_weight are Model's (host/training/sample-weights.ts): edgetune/lite
  // has neither, and refuses them by name.
  protected sampleWeights(sampleWeight: SampleWeightArg | undefined, classWeight: ClassWeightArg | undefined,
    _labels: readonly (Float32Array | Int32Array)[], _n: number, what: string): Float32Array[] | null {
    if (sampleWeight === undefined && classWeight === undefined) return null;
    throw new InvalidArgumentError(`${what}: ${sampleWeight === undefined ? 'classWeight' : 'sampleWeight'} is not in edgetune/lite (its models have no sample or class weights): import from 'edgetune'`);
  }

  // results() of the last run of `program` over n samples.
  private runResults(exec: Executor, program: 'train' | 'evaluate', n: number): EvaluateResult {
    const h = exec.readHeader();
    return this.results(n, h.lossSum, h.penalty, h.correct, readOutputMetrics(exec, program));
  }

  async fit(x: TensorArgs, y: TensorArgs, options: FitOptions = {}): Promise<History> {
    checkOptions('fit', options, FIT_OPTIONS);
    const epochs = options.epochs ?? 1;
    const batchSize = options.batchSize ?? 32;
    const initialEpoch = options.initialEpoch ?? 0;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`fit: batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(epochs) || epochs < 0) throw new InvalidArgumentError(`fit: epochs must be a non-negative integer, got ${epochs}`);
    if (!Number.isInteger(initialEpoch) || initialEpoch < 0) throw new InvalidArgumentError(`fit: initialEpoch must be a non-negative integer, got ${initialEpoch}`);
    const microBatch = checkMicroBatch(options.microBatch, batchSize);
    this.requireCompiled('fit');
    const { xs, n: all } = this.inputData(x, 'fit');
    const labels = this.labelsFor(y, all, 'fit');
    const weights = this.sampleWeights(options.sampleWeight, options.classWeight, labels, all, 'fit');
    // Keras splits the sample weights with the data; class weights apply to training only.
    const heldOutWeights = options.classWeight === undefined ? weights : this.sampleWeights(options.sampleWeight, undefined, labels, all, 'fit');
    const { n, validationData } = splitValidation(x, y, all, options, heldOutWeights);
    const executor = (batch: number) => (microBatch ? this.executorFor(microBatch, true, true) : this.executorFor(batch, true, false));
    return fitLoop(this as LiteModel<Prediction>, executor, xs, labels, n, batchSize, epochs,
      { ...options, validationData, initialEpoch }, weights);
  }

  // One optimizer step on exactly this batch (Keras train_on_batch); returns the batch's loss.
  trainOnBatch(x: TensorArgs, y: TensorArgs, options: TrainOnBatchOptions = {}): EvaluateResult {
    checkOptions('trainOnBatch', options, TRAIN_ON_BATCH_OPTIONS);
    this.requireCompiled('trainOnBatch');
    const { xs, n } = this.inputData(x, 'trainOnBatch');
    const labels = this.labelsFor(y, n, 'trainOnBatch');
    const weights = this.sampleWeights(options.sampleWeight, options.classWeight, labels, n, 'trainOnBatch');
    const exec = this.executorFor(n, true, false);
    loadBatch(exec, xs, labels, null, 0, n, weights);
    exec.setStep(n);
    const { nonFinite } = exec.run('train');
    if (nonFinite) throw new NonFiniteError(nonFinite, 0, 0, exec.iterations + 1);
    return this.runResults(exec, 'train', n);
  }

  // Gradients of the compiled loss (data loss + penalties) for this batch, in training mode,
  // without updating any weight (trainable BatchNorms' moving statistics do move, as in any
  // training-mode pass): per trainable weight ('<layer>/<weight>') and for the input (the
  // first input; `inputs` has one per input). For checking layers against other libraries and for
  // watching gradients vanish or explode.
  computeGradients(x: TensorArgs, y: TensorArgs): { loss: number; input: Float32Array; inputs: Float32Array[]; weights: Map<string, Float32Array> } {
    this.requireCompiled('computeGradients');
    const { xs, n } = this.inputData(x, 'computeGradients');
    const labels = this.labelsFor(y, n, 'computeGradients');
    this.arena.planGradients = true;
    const exec = this.executorFor(n, true, false);
    loadBatch(exec, xs, labels, null, 0, n);
    exec.setStep(n);
    const { nonFinite } = exec.run('gradients');
    if (nonFinite) throw new NonFiniteError(nonFinite, 0, 0, this.iterations + 1);
    const h = exec.readHeader();
    const plan = exec.plan;
    const weights = new Map<string, Float32Array>();
    for (const b of plan.params) if (b.grad !== null) weights.set(`${b.layer}/${b.weight}`, exec.view(b.grad, sizeOf(b.shape)).slice());
    const inputs = plan.inputGradients.map((r, i) => (r === null ? new Float32Array(n * sizeOf(this.inputShapes[i])) : exec.view(r, n * sizeOf(this.inputShapes[i])).slice()));
    return { loss: h.lossSum / n + h.penalty, input: inputs[0], inputs, weights };
  }

  evaluate(x: TensorArgs, y: TensorArgs, options: EvaluateOptions = {}): EvaluateResult {
    checkOptions('evaluate', options, EVALUATE_OPTIONS);
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`evaluate: batchSize must be a positive integer, got ${batchSize}`);
    this.requireCompiled('evaluate');
    const { xs, n } = this.inputData(x, 'evaluate');
    const labels = this.labelsFor(y, n, 'evaluate');
    const weights = this.sampleWeights(options.sampleWeight, undefined, labels, n, 'evaluate');
    const exec = this.executorFor(Math.min(planBatch(batchSize, n), this.trainingPlanBatch()), true);
    const step = exec.plan.batchSize;
    // One output: the header sums over every batch. Several: each batch's figures are read from
    // the metrics region (its output_metrics ops start from the batch's own sums).
    const multi = exec.plan.programs.evaluate!.metrics !== null;
    const sum = { lossSum: 0, correct: 0, loss: exec.plan.outputs.map(() => 0), outCorrect: exec.plan.outputs.map(() => 0) };
    for (let start = 0; start < n; start += step) {
      const count = Math.min(step, n - start);
      loadBatch(exec, xs, labels, null, start, count, weights);
      exec.setStep(count, !multi && start > 0);
      exec.run('evaluate');
      const m = readOutputMetrics(exec, 'evaluate');
      if (m) {
        sum.lossSum += exec.readHeader().lossSum;
        m.loss.forEach((v, i) => { sum.loss[i] += v; sum.outCorrect[i] += m.correct[i]; });
      }
    }
    const h = exec.readHeader();
    if (!multi) return this.results(n, h.lossSum, h.penalty, h.correct, null);
    return this.results(n, sum.lossSum, h.penalty, 0, { loss: sum.loss, correct: sum.outCorrect });
  }

  // Keras predict: a single-output model gives one tensor, a model with several outputs one
  // tensor per output, in output order.
  predict(x: TensorArgs, options: { batchSize?: number } = {}): Out {
    checkOptions('predict', options, BATCH_OPTIONS);
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize <= 0) throw new InvalidArgumentError(`predict: batchSize must be a positive integer, got ${batchSize}`);
    const { xs, n } = this.inputData(x, 'predict', true);
    const exec = this.executorFor(Math.min(planBatch(batchSize, n), this.trainingPlanBatch()), false);
    const step = exec.plan.batchSize;
    const per = this.outputShapes.map(sizeOf);
    const outs = per.map((p) => new Float32Array(n * p));
    const program = exec.plan.programs.forward!;
    // The inputs' finite check and the outputs' first writes run beside the first batch's tiles.
    const side = predictSideWork(xs, this.inputShapes, outs, exec.threads);
    for (let start = 0; start < n; start += step) {
      const count = Math.min(step, n - start);
      loadBatch(exec, xs, null, null, start, count);
      exec.setStep(count);
      exec.run('forward', start === 0 ? side.work : undefined);
      side.rethrow();
      program.outputs.forEach((r, i) => outs[i].set(exec.view(r, count * per[i]), start * per[i]));
    }
    const tensors = outs.map((data, i) => ({ data, shape: [n, ...this.outputShapes[i]] }));
    return (tensors.length === 1 ? tensors[0] : tensors) as Out;
  }

  countParams(): { total: number; trainable: number; nonTrainable: number } {
    return countParams(this.layers);
  }

  // The threads this model runs on, and why fewer than asked (null: it got them): this engine
  // has no threads (no SharedArrayBuffer, a page without cross-origin isolation), or a worker
  // failed to start. Before the first plan, what its plan would get.
  // `workerTiles`: GEMM tiles its workers ran so far in the current plan.
  get threads(): { threads: number; asked: number; fallback: string | null; workerTiles: number } {
    const asked = this.arena.threads ?? defaultThreads();
    const e = this.arena.executor;
    if (e) return { threads: e.threads, asked, fallback: e.threadsNote, workerTiles: e.workerTiles };
    const fallback = threadsFallback(asked);
    return { threads: fallback ? 1 : asked, asked, fallback, workerTiles: 0 };
  }
}

// The model of the `edgetune` entry: LiteModel with int8 quantization, saving, the summary and
// Keras sample and class weights.
export class Model<Out extends Prediction = Tensor<Float32Array>> extends LiteModel<Out> {
  // Its models run on threads by default (docs/threads.md): it brings the thread pool, which a
  // LiteModel gets only from setThreads.
  constructor(structure: Layer[] | { inputs: Symbolic; outputs: Symbolic }, options: { name?: string; inputShape?: number[] } = {}) {
    super(structure, options);
    usePool();
  }

  // Keras get_weights() / set_weights() (TF.js getWeights / setWeights): copies of every layer's
  // weights, layer by layer, each in its Keras order; setWeights checks all before any changes.
  getWeights(): Float32Array[] { return this.layers.flatMap((l) => l.getWeights()); }
  setWeights(weights: ArrayLike<number>[]): void { setModelWeights(this.name, this.layers, weights); }

  // Keras 3 model.quantize('int8') for the frozen layers (or those named in `layers`): per-output-
  // channel int8 kernels with f32 scales (host/layers/quantize.ts quantizeModel); trainable layers
  // stay float32. activationQuantizer (Keras 3's Int8QuantizationConfig activation_quantizer):
  // 'default' (when not given) quantizes the inputs of dense layers, as Keras's AbsMaxQuantizer, and
  // of conv2d layers where int32 pays (>= 16 filters, 1024 products a patch), per row at run time, int32
  // products; 'absmax' every dense and one-group conv2d; null none (docs/int8.md). Re-plans.
  quantize(mode: 'int8', options: { layers?: string[]; activationQuantizer?: ActivationQuantizer } = {}): this {
    if (mode !== 'int8') throw new InvalidArgumentError(`model ${this.name} quantize: mode must be 'int8', got '${String(mode)}'`);
    quantizeModel(this.name, options.layers ? options.layers.map((n) => this.getLayer(n)) : null, this.layers, options.activationQuantizer);
    return this;
  }

  // Keras sample_weight / class_weight as one weight array per output (null: neither given); the
  // plans from now on have weights regions.
  protected override sampleWeights(sampleWeight: SampleWeightArg | undefined, classWeight: ClassWeightArg | undefined,
    labels: readonly (Float32Array | Int32Array)[], n: number, what: string): Float32Array[] | null {
    const outputs = this.outputNames.map((name, i) => ({ name, shape: this.outputShapes[i], loss: lossOf(this.compiled!.loss, i) }));
    const weights = sampleWeightsFor(sampleWeight, classWeight, labels, outputs, n, what);
    if (weights) this.arena.planSampleWeights = true;
    return weights;
  }

  // The model as safetensors bytes: weights, Keras-style topology and training config; with
  // includeOptimizer, also the optimizer's slots and step (a checkpoint to resume from).
  toBytes(options: { includeOptimizer?: boolean } = {}): Uint8Array {
    return modelToBytes(this, options, 'toBytes');
  }

  // Writes toBytes() to `path` atomically (temporary file, then rename). Needs a file system.
  async save(path: string, options: { includeOptimizer?: boolean } = {}): Promise<void> {
    await requireFileSystem('model.save(path)').writeFileAtomic(path, modelToBytes(this, options, 'save'));
  }

  // Layers, output shapes, trainable and frozen parameter counts, and the planned arena.
  summary(print: ((line: string) => void) | null = console.log): string {
    const training = this.arena.executor?.plan.mode === 'training' ? this.arena.executor.plan : null;
    return modelSummary(this, this.planInference(this.arena.executor?.plan.batchSize ?? 32), training, print, this.threads);
  }
}

// Keras's validation_split: training keeps the first floor(n * (1 - split)) samples and the rest
// are the validation data, cut before any shuffling (keras/src/trainers/data_adapters/
// data_adapter_utils.py, train_validation_split). validationData, when given, wins (as in Keras).
function splitValidation(x: TensorArgs, y: TensorArgs, n: number, options: FitOptions, weights: Float32Array[] | null): { n: number; validationData?: FitOptions['validationData'] } {
  const split = options.validationSplit;
  if (split === undefined || options.validationData) return { n, validationData: options.validationData };
  if (typeof split !== 'number' || !(split > 0 && split < 1)) throw new InvalidArgumentError(`fit: validationSplit must be a number in (0, 1), got ${split}`);
  const at = Math.floor(n * (1 - split));
  if (at === 0 || at === n) throw new InvalidArgumentError(`fit: validationSplit ${split} of ${n} samples leaves ${at === 0 ? 'no training' : 'no validation'} samples`);
  const [vx, vy] = [sliceRows(x, at, n), sliceRows(y, at, n)];
  return { n: at, validationData: weights ? [vx, vy, weights.map((w) => w.subarray(at))] : [vx, vy] };
}

// The batch predict and evaluate plan for when no plan is large enough: the rows they are given
// (at most batchSize), rounded up to a power of two so that similar calls share one plan. One
// sample plans for one row, not for compile's batch of 32.
function planBatch(batchSize: number, rows: number): number {
  const want = Math.max(1, Math.min(batchSize, rows));
  return Math.min(batchSize, 2 ** Math.ceil(Math.log2(want)));
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
  return { inputs: tensors[graph.inputs[0]], outputs: tensors[graph.outputs[0]] };
}

export function sequential(layerList: Layer[], options: { name?: string; inputShape?: number[] } = {}): Model {
  return new Model(layerList, options);
}

// Functional model (Keras keras.Model(inputs, outputs)): one or several inputs and outputs, any DAG
// between. Built from a list of outputs, predict returns a list (one tensor when the list has one).
export function model(options: { inputs: Symbolic; outputs: SymbolicTensor; name?: string }): Model;
export function model(options: { inputs: Symbolic; outputs: SymbolicTensor[]; name?: string }): Model<Prediction>;
export function model(options: { inputs: Symbolic; outputs: Symbolic; name?: string }): Model<Prediction>;
export function model(options: { inputs: Symbolic; outputs: Symbolic; name?: string }): Model<Prediction> {
  return new Model<Prediction>({ inputs: options.inputs, outputs: options.outputs }, { name: options.name });
}

export { MemoryBudgetError };
