// The Node entry (also Deno and Bun): everything in the core, plus the importers, file access and
// the WASI plan/data files. The MNIST demos are not library API: they are in host/cli/examples.ts.
import './core/node-fs';

export * from './index';
// The importers, which the core entry leaves to 'edgetune/import'.
export * from './import/public';
export { shardReader, writeFileAtomic } from './core/node-fs';
// Fine-tuning with no JavaScript host (docs/wasi.md): plan and training-data files for edgetune-wasi.wasm.
export { compileTrainPlan, compileModelFile, packDataFile, dataFromJson } from './cli/wasi-files';
export { planToFileBytes, readPlanFileInfo, PLAN_FILE_VERSION } from './formats/plan-file';
export { dataToFileBytes, dataFromFileBytes, DATA_FILE_VERSION, type TrainingData } from './formats/data-file';
