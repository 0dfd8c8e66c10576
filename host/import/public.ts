// The importers' entry (edgetune/import): ONNX, TF.js layers and graph models, PyTorch
// safetensors. Kept out of the core entry so that an app which only builds, trains and runs
// models neither downloads nor parses them; the Node entry re-exports them.
export { importOnnx, type OnnxImportOptions } from './onnx';
export { importTfjsLayersModel } from './tfjs-layers';
export { importTfjsGraphModel, type TfjsGraphImportOptions } from './tfjs-graph';
export { shardPathProblem, type ShardReader } from './tfjs-weights';
export { importPytorchSafetensors } from './pytorch';
export { UnsupportedOpError } from './errors';
