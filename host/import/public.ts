// The importers' entry (edgetune/import): ONNX, TF.js layers and graph models, PyTorch
// safetensors. Kept out of the core entry so that an app which only builds, trains and runs
// models neither downloads nor parses them; the Node entry re-exports them. Loading it lets
// loadModel read ONNX and TF.js files too.
import { registerImporters } from '../formats/load-model';
import { importOnnx } from './onnx';
import { importTfjsGraphModel } from './tfjs-graph';
import { importTfjsLayersModel } from './tfjs-layers';

registerImporters({ importOnnx, importTfjsGraphModel, importTfjsLayersModel });

export { importOnnx, importTfjsGraphModel, importTfjsLayersModel };
export type { OnnxImportOptions } from './onnx';
export type { TfjsGraphImportOptions } from './tfjs-graph';
export { shardPathProblem, type ShardReader } from './tfjs-weights';
export { importPytorchSafetensors } from './pytorch';
export { UnsupportedOpError } from './errors';
