// The Node entry (also Deno and Bun): everything in the core, plus file access, the bundled
// MNIST digits and the demo.
import './core/node-fs';

export * from './index';
export { shardReader, writeFileAtomic } from './core/node-fs';
export { loadMnist, selectDigits, type Digits } from './cli/mnist';
export { runDemo, trainBase, baseModel, cnnBaseModel, BASE_MODEL_PATH, CNN_BASE_MODEL_PATH, type DemoResult, type TransferResult } from './cli/demo';
export { mnistCnn, trainMnistCnn } from './cli/cnn-example';
// Fine-tuning with no JavaScript host (docs/wasi.md): plan and training-data files for edgetune-wasi.wasm.
export { compileTrainPlan, compileModelFile, packDataFile, mnistData, dataFromJson } from './cli/wasi-files';
export { planToFileBytes, readPlanFileInfo, PLAN_FILE_VERSION } from './formats/plan-file';
export { dataToFileBytes, dataFromFileBytes, DATA_FILE_VERSION, type TrainingData } from './formats/data-file';
