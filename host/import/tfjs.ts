// The TF.js importers' entry (edgetune/import/tfjs): layers and graph models (model.json and its
// weight shards) without the ONNX and PyTorch importers, so an app (or a cold start) that reads
// TF.js models parses only these. edgetune/import has them all. Loading it lets loadModel read
// TF.js files too.
import { registerImporters } from '../formats/load-model';
import { importTfjsGraphModel } from './tfjs-graph';
import { importTfjsLayersModel } from './tfjs-layers';

registerImporters({ importTfjsGraphModel, importTfjsLayersModel });

export { importTfjsGraphModel, importTfjsLayersModel };
export type { TfjsGraphImportOptions } from './tfjs-graph';
export { shardPathProblem, type ShardReader } from './tfjs-weights';
export { UnsupportedOpError } from './errors';
