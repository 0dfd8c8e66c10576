// TF.js layers models (model.json: a Keras topology + a weights manifest over binary shards) ->
// an edgetune model. Weights are found by name: '<layer>/<weight>' (TF.js and Keras 2, possibly
// under a scope such as 'model/dense/kernel'), or Keras 3 index names '<layer>/<i>'. Quantized
// (uint8, uint16, float16) weights are dequantized to float32.
import { ModelFormatError } from '../core/errors';
import type { Model } from '../training/model';
import { assignWeights, type FoundWeight, modelFromKeras } from './keras-topology';
import { type DecodedWeight, readWeightsManifest, type ShardReader } from './tfjs-weights';

export async function importTfjsLayersModel(modelJson: unknown, readFile: ShardReader, fileName: string): Promise<Model> {
  let j = modelJson as any;
  if (j instanceof Uint8Array) j = new TextDecoder().decode(j);
  if (typeof j === 'string') {
    try { j = JSON.parse(j); } catch (e) { throw new ModelFormatError(`${fileName}: not valid JSON: ${(e as Error).message}`, fileName); }
  }
  if (!j || typeof j !== 'object' || !j.modelTopology) throw new ModelFormatError(`${fileName}: not a TF.js layers model (no modelTopology)`, fileName);
  if (j.format === 'graph-model' || Array.isArray(j.modelTopology.node)) {
    throw new ModelFormatError(`${fileName}: this is a TF.js graph model; use importTfjsGraphModel`, fileName);
  }
  const weights = await readWeightsManifest(j.weightsManifest, readFile, fileName);
  const imported = modelFromKeras(j.modelTopology, fileName);
  const find = (suffix: string): DecodedWeight | undefined => {
    const exact = weights.get(suffix);
    if (exact) return exact;
    const hits = [...weights.values()].filter((w) => w.name.endsWith(`/${suffix}`) || w.name.endsWith(`/${suffix}:0`) || w.name === `${suffix}:0`);
    return hits.length === 1 ? hits[0] : undefined;
  };
  const used = new Set<string>();
  assignWeights(imported, (layer, weight, index) => {
    const w = find(`${layer.kerasName}/${weight}`) ?? find(`${layer.kerasName}/${index}`) ??
      (weight === 'depthwise_kernel' ? find(`${layer.kerasName}/kernel`) : undefined);
    if (!w) return undefined;
    used.add(w.name);
    return { name: w.name, shape: w.shape, values: w.values instanceof Float32Array ? w.values : Float32Array.from(w.values) } satisfies FoundWeight;
  }, fileName);
  const unused = [...weights.keys()].filter((n) => !used.has(n));
  if (unused.length) throw new ModelFormatError(`${fileName}: weights ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', ...' : ''} match no layer of the topology`, fileName, unused[0]);
  return imported.model;
}
