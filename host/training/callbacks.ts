// Training callbacks with Keras 3 names, defaults and semantics (keras/src/callbacks/*.py):
// learningRateScheduler, reduceLROnPlateau (performance scheduling), earlyStopping, modelCheckpoint
// and a progress printer. Pass them to fit({ callbacks: [...] }). Arguments are checked when the
// callback is made, before any training.
import { InvalidArgumentError } from '../core/errors';
import { requireFileSystem } from '../core/io';
import { checkOptions, optionNames } from '../core/options';
import type { Callback, EpochLogs, LiteModel, Model, Prediction } from './model';

type Mode = 'auto' | 'min' | 'max';

function checkMode(where: string, mode: unknown): Mode {
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max') throw new InvalidArgumentError(`${where}: mode must be 'auto', 'min' or 'max', got ${JSON.stringify(mode)}`);
  return mode;
}
// Keras: 'auto' means max for accuracy-like monitors, min otherwise.
function isMax(mode: Mode, monitor: string): boolean {
  return mode === 'max' || (mode === 'auto' && monitor.includes('acc'));
}
function nonNegative(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${where}: ${name} must be a non-negative number, got ${v}`);
  return v;
}
function count(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`${where}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}
function monitored(where: string, logs: EpochLogs, monitor: string): number | undefined {
  const v = logs[monitor];
  if (v === undefined && !warned.has(`${where}:${monitor}`)) {
    warned.add(`${where}:${monitor}`);
    console.warn(`${where}: '${monitor}' is not in the epoch logs (available: ${Object.keys(logs).join(', ')}); skipping`);
  }
  return v;
}
const warned = new Set<string>();

abstract class BaseCallback implements Callback {
  protected model!: LiteModel<Prediction>;
  setModel(model: LiteModel<Prediction>): void {
    this.model = model;
  }
}

// Sets the learning rate at the start of every epoch to schedule(epoch, current rate).
export class LearningRateScheduler extends BaseCallback {
  constructor(readonly schedule: (epoch: number, lr: number) => number) {
    super();
    if (typeof schedule !== 'function') throw new InvalidArgumentError('learningRateScheduler: schedule must be a function (epoch, lr) => lr');
  }
  onEpochBegin(epoch: number): void {
    const lr = this.schedule(epoch, this.model.learningRate);
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) {
      throw new InvalidArgumentError(`learningRateScheduler: the schedule returned ${lr} for epoch ${epoch}; it must return a positive number`);
    }
    this.model.learningRate = lr;
  }
}

// The values a callback can watch (the keys of EpochLogs).
export type MonitorName = 'loss' | 'accuracy' | 'val_loss' | 'val_accuracy';

export interface ReduceLROnPlateauOptions {
  monitor?: MonitorName;
  factor?: number;
  patience?: number;
  mode?: Mode;
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
  verbose?: boolean;
}

// Performance scheduling: multiply the learning rate by `factor` when `monitor` has not improved
// by more than minDelta for `patience` epochs, then wait `cooldown` epochs; never below minLr.
export class ReduceLROnPlateau extends BaseCallback {
  readonly monitor: string;
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  readonly maximize: boolean;
  private readonly verbose: boolean;
  best = 0;
  wait = 0;
  cooldownCounter = 0;

  constructor(o: ReduceLROnPlateauOptions = {}) {
    super();
    const w = 'reduceLROnPlateau';
    checkOptions(`callbacks.${w}`, o, optionNames<ReduceLROnPlateauOptions>()(['monitor', 'factor', 'patience', 'mode', 'minDelta', 'cooldown', 'minLr', 'verbose']));
    this.monitor = o.monitor ?? 'val_loss';
    const factor = o.factor ?? 0.1;
    if (typeof factor !== 'number' || !(factor > 0) || factor >= 1) throw new InvalidArgumentError(`${w}: factor must be in (0, 1): the learning rate is multiplied by it; got ${factor}`);
    this.factor = factor;
    this.patience = count(w, 'patience', o.patience ?? 10);
    this.minDelta = nonNegative(w, 'minDelta', o.minDelta ?? 1e-4);
    this.cooldown = count(w, 'cooldown', o.cooldown ?? 0);
    this.minLr = nonNegative(w, 'minLr', o.minLr ?? 0);
    this.maximize = isMax(checkMode(w, o.mode ?? 'auto'), this.monitor);
    this.verbose = o.verbose ?? false;
    this.reset();
  }

  private reset(): void {
    this.best = this.maximize ? -Infinity : Infinity;
    this.wait = 0;
    this.cooldownCounter = 0;
  }
  private improved(current: number): boolean {
    return this.maximize ? current > this.best + this.minDelta : current < this.best - this.minDelta;
  }
  private inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  onTrainBegin(): void {
    this.reset();
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    logs.learning_rate = this.model.learningRate;
    const current = monitored('reduceLROnPlateau', logs, this.monitor);
    if (current === undefined) return;
    if (this.inCooldown()) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.improved(current)) {
      this.best = current;
      this.wait = 0;
    } else if (!this.inCooldown()) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = this.model.learningRate;
        if (old > Math.fround(this.minLr)) {
          const lr = Math.max(old * this.factor, this.minLr);
          this.model.learningRate = lr;
          if (this.verbose) console.log(`Epoch ${epoch + 1}: reduceLROnPlateau reducing the learning rate to ${lr}.`);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}

export interface EarlyStoppingOptions {
  monitor?: MonitorName;
  minDelta?: number;
  patience?: number;
  mode?: Mode;
  baseline?: number | null;
  restoreBestWeights?: boolean;
  startFromEpoch?: number;
  verbose?: boolean;
}

// Stops training when `monitor` has stopped improving for `patience` epochs; with
// restoreBestWeights, puts back the weights of the best epoch.
export class EarlyStopping extends BaseCallback {
  readonly monitor: string;
  readonly minDelta: number;
  readonly patience: number;
  readonly baseline: number | null;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  readonly maximize: boolean;
  private readonly verbose: boolean;
  wait = 0;
  stoppedEpoch = 0;
  bestEpoch = 0;
  best = 0;
  private bestWeights: Float32Array[][] | null = null;

  constructor(o: EarlyStoppingOptions = {}) {
    super();
    const w = 'earlyStopping';
    checkOptions(`callbacks.${w}`, o, optionNames<EarlyStoppingOptions>()(['monitor', 'minDelta', 'patience', 'mode', 'baseline', 'restoreBestWeights', 'startFromEpoch', 'verbose']));
    this.monitor = o.monitor ?? 'val_loss';
    this.minDelta = Math.abs(nonNegative(w, 'minDelta', o.minDelta ?? 0));
    this.patience = count(w, 'patience', o.patience ?? 0);
    this.baseline = o.baseline ?? null;
    if (this.baseline !== null && !Number.isFinite(this.baseline)) throw new InvalidArgumentError(`${w}: baseline must be a finite number, got ${this.baseline}`);
    this.restoreBestWeights = o.restoreBestWeights ?? false;
    this.startFromEpoch = count(w, 'startFromEpoch', o.startFromEpoch ?? 0);
    this.maximize = isMax(checkMode(w, o.mode ?? 'auto'), this.monitor);
    this.verbose = o.verbose ?? false;
  }

  // Keras: monitor_op(current - min_delta, reference), min_delta negated in min mode.
  private improvement(current: number, reference: number): boolean {
    return this.maximize ? current - this.minDelta > reference : current + this.minDelta < reference;
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.maximize ? -Infinity : Infinity;
    this.bestWeights = null;
    this.bestEpoch = 0;
  }

  onEpochEnd(epoch: number, logs: EpochLogs): void {
    const current = monitored('earlyStopping', logs, this.monitor);
    if (current === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = this.snapshot();
    this.wait++;
    if (this.improvement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.snapshot();
      if (this.baseline === null || this.improvement(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
      if (this.restoreBestWeights && this.bestWeights) {
        if (this.verbose) console.log(`Restoring the weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
        this.model.layers.forEach((l, i) => { if (l.weightSpecs.length) l.setWeights(this.bestWeights![i]); });
      }
    }
  }

  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose) console.log(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
  }

  private snapshot(): Float32Array[][] {
    return this.model.layers.map((l) => l.getWeights().map((w) => w.slice()));
  }
}

export interface ModelCheckpointOptions {
  // Where to save; '{epoch}' (or '{epoch:02d}') is replaced by the 1-based epoch number.
  filepath: string;
  monitor?: MonitorName;
  saveBestOnly?: boolean;
  mode?: Mode;
  // Keep the optimizer's slots and step, so that training can resume bit for bit (default true).
  includeOptimizer?: boolean;
  verbose?: boolean;
}

// Saves the model at the end of every epoch (or only when `monitor` improved), atomically: the
// file is written under a temporary name and renamed, so an interrupted save never leaves a torn
// checkpoint.
export class ModelCheckpoint extends BaseCallback {
  readonly filepath: string;
  readonly monitor: string;
  readonly saveBestOnly: boolean;
  readonly includeOptimizer: boolean;
  readonly maximize: boolean;
  private readonly verbose: boolean;
  best = 0;
  readonly saved: string[] = [];

  constructor(o: ModelCheckpointOptions) {
    super();
    const w = 'modelCheckpoint';
    if (!o || typeof o.filepath !== 'string' || o.filepath.length === 0) throw new InvalidArgumentError(`${w}: filepath is required`);
    checkOptions(`callbacks.${w}`, o, optionNames<ModelCheckpointOptions>()(['filepath', 'monitor', 'saveBestOnly', 'mode', 'includeOptimizer', 'verbose']));
    this.filepath = o.filepath;
    this.monitor = o.monitor ?? 'val_loss';
    this.saveBestOnly = o.saveBestOnly ?? false;
    this.includeOptimizer = o.includeOptimizer ?? true;
    this.maximize = isMax(checkMode(w, o.mode ?? 'auto'), this.monitor);
    this.verbose = o.verbose ?? false;
    this.best = this.maximize ? -Infinity : Infinity;
  }

  onTrainBegin(): void {
    // an edgetune/lite model (LiteModel) has no save
    if (!('save' in this.model)) throw new InvalidArgumentError("modelCheckpoint: this model has no save(): edgetune/lite models are not saved; import from 'edgetune'");
    requireFileSystem('modelCheckpoint');
  }

  async onEpochEnd(epoch: number, logs: EpochLogs): Promise<void> {
    const path = this.filepath.replace(/\{epoch(?::0?(\d+)d)?\}/g, (_, w) => String(epoch + 1).padStart(w ? Number(w) : 0, '0'));
    if (this.saveBestOnly) {
      const current = monitored('modelCheckpoint', logs, this.monitor);
      if (current === undefined) return;
      const better = this.maximize ? current > this.best : current < this.best;
      if (!better) return;
      if (this.verbose) console.log(`Epoch ${epoch + 1}: ${this.monitor} improved from ${this.best} to ${current}, saving the model to ${path}`);
      this.best = current;
    }
    await (this.model as Model<Prediction>).save(path, { includeOptimizer: this.includeOptimizer });
    this.saved.push(path);
  }
}

// Prints one line per epoch (and optionally every N steps): loss, metrics, learning rate, time.
export class Progress extends BaseCallback {
  private start = 0;
  private epochStart = 0;
  private epochs = 0;
  constructor(private readonly print: (line: string) => void = console.log, private readonly everySteps = 0) {
    super();
    if (!Number.isInteger(everySteps) || everySteps < 0) throw new InvalidArgumentError(`progress: everySteps must be a non-negative integer, got ${everySteps}`);
  }
  onTrainBegin(): void {
    this.start = Date.now();
  }
  onEpochBegin(epoch: number): void {
    this.epochStart = Date.now();
    this.epochs = epoch + 1;
  }
  onBatchEnd(batch: number, logs: { loss: number; lr: number }): void {
    if (this.everySteps > 0 && (batch + 1) % this.everySteps === 0) this.print(`  step ${batch + 1}: loss ${logs.loss.toFixed(4)}, lr ${logs.lr.toExponential(3)}`);
  }
  onEpochEnd(epoch: number, logs: EpochLogs): void {
    const parts = Object.entries(logs).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${k === 'learning_rate' ? v!.toExponential(3) : v!.toFixed(4)}`);
    this.print(`epoch ${epoch + 1}: ${parts.join(', ')} (${((Date.now() - this.epochStart) / 1000).toFixed(2)} s)`);
  }
  onTrainEnd(): void {
    this.print(`trained ${this.epochs} epochs in ${((Date.now() - this.start) / 1000).toFixed(2)} s`);
  }
}

export interface ProgressOptions {
  print?: (line: string) => void;
  everySteps?: number;
}

export const callbacks = {
  learningRateScheduler: (schedule: (epoch: number, lr: number) => number) => new LearningRateScheduler(schedule),
  reduceLROnPlateau: (options: ReduceLROnPlateauOptions = {}) => new ReduceLROnPlateau(options),
  earlyStopping: (options: EarlyStoppingOptions = {}) => new EarlyStopping(options),
  modelCheckpoint: (options: ModelCheckpointOptions) => new ModelCheckpoint(options),
  progress: (options: ProgressOptions = {}) => {
    checkOptions('callbacks.progress', options, optionNames<ProgressOptions>()(['print', 'everySteps']));
    return new Progress(options.print, options.everySteps ?? 0);
  },
};
