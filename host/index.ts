// edgetune: inference and on-device fine-tuning with Keras semantics, in one fixed wasm arena.
// This entry has no platform imports: it runs in Node, Deno, Bun, browsers and edge functions.

export { layers } from './layers/index';
export {
  Layer, input, SymbolicTensor, type DenseOptions, type Conv2dOptions, type Conv2dTransposeOptions, type DepthwiseConv2dOptions, type Pooling2dOptions,
  type AveragePooling2dOptions, type BatchNormalizationOptions, type SoftmaxOptions, type ReduceOptions, type ReduceOp, type ConstantOpOptions,
  type ConstantOpName, type MatMulOptions, type LayerOptions, type ActivationName, type LayerKind, type WeightSpec,
} from './layers/layer';
export { Model, sequential, model, type Prediction, type CompileOptions, type FitOptions, type History, type EpochLogs, type EvaluateResult, type Callback, type EvaluateOptions, type TrainOnBatchOptions } from './training/model';
export type { SampleWeightArg, SampleWeightArray, ClassWeightArg } from './training/sample-weights';
export { regularizers, constraints, type RegularizerConfig, type ConstraintConfig, type RegularizerName, type ConstraintName } from './layers/regularizers';
export { type ActivationSpec } from './layers/activations';
export { type InitializerName, type InitializerConfig } from './layers/initializers';
export {
  optimizers, type OptimizerConfig, type OptimizerName, type CommonOptions, type SgdConfig, type AdagradConfig, type RmspropConfig, type AdamConfig,
  type AdamWConfig, type NadamConfig, type AdamaxConfig,
} from './training/optimizers';
export { schedules, type LearningRateSchedule } from './training/schedules';
export {
  callbacks, LearningRateScheduler, ReduceLROnPlateau, EarlyStopping, ModelCheckpoint, Progress, type ReduceLROnPlateauOptions,
  type EarlyStoppingOptions, type ModelCheckpointOptions, type MonitorName,
} from './training/callbacks';
export { findLearningRate, lrFinderSvg, type LrFinderOptions, type LrFinderResult } from './training/lr-finder';
export { plotHistory } from './training/plot-history';
export { type LossConfig, type LossName, type LossSpec } from './training/losses';
export { type TensorArgs, type LossesArg } from './training/model-io';
export { tensor, type Tensor, type NestedNumbers } from './core/tensor';
export { compilePlan, type Plan, type Region, type ParamBinding, type Program, type ProgramName, PLAN_FORMAT, PLAN_VERSION } from './compile/plan';
export { opFootprint, OP_SPECS, type PlanOp } from './compile/ops';
export { setSeed } from './core/random';
export { setKernelVariant, kernelVariant, type KernelVariant } from './runtime/executor';
export { setThreads, poolReady as threadsReady, readyWithPool as ready } from './runtime/thread-pool';
export { MAX_THREADS } from './runtime/threads';
export {
  EdgetuneError, ShapeError, InvalidArgumentError, MemoryBudgetError, NonFiniteError, KernelStatusError, ModelFormatError, FileAccessError, parseBytes, formatBytes,
  type MemoryBreakdown, type ByteSize,
} from './core/errors';
export { SafetensorsError, readSafetensors, writeSafetensors } from './formats/safetensors';
export { setFileSystem, type FileSystem } from './core/io';

// Loads a model saved by model.save() / toBytes(), or an ONNX or TF.js model (host/formats/
// load-model.ts): from bytes anywhere, from a path where there is a file system. Every tensor is
// checked against the topology; errors name the tensor.
export { loadModel, type LoadModelOptions } from './formats/load-model';

export const version = '0.1.0';
export { verifyPlan } from './compile/plan-check';
// Importers (ONNX, TF.js layers and graph models, PyTorch safetensors) are in 'edgetune/import'
// (and the Node entry): an app that only builds, trains and runs models never loads them.
// Keras .keras/.h5 is imported from 'edgetune/import/keras' (it brings h5wasm, 5.7 MB).
export { UnsupportedOpError } from './import/errors';
