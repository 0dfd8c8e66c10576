// Our model -> a TF.js layers model (model.json + weight shards), readable by tf.loadLayersModel,
// so that others can use weights fine-tuned here. The topology is the Keras one we save in
// safetensors, adjusted where TF.js reads Keras configs differently; weights are float32 or, with
// float16 quantization, IEEE half (TF.js widens them when loading).
import { ModelFormatError } from '../core/errors';
import type { Model, Prediction } from '../training/model';
import { float32ToFloat16Bits } from '../core/float16';
import { topologyOf } from './save';
import type { LayerJson } from '../layers/keras-json';

export interface TfjsLayersArtifacts {
  modelJson: Record<string, unknown>;
  shards: { path: string; bytes: Uint8Array }[];
}

const SHARD_BYTES = 4 * 1024 * 1024;

// TF.js activation names where Keras's differ.
const TFJS_ACTIVATIONS: Record<string, string> = { leaky_relu: 'leakyRelu', hard_sigmoid: 'hardSigmoid', gelu_tanh: 'gelu_new' };

// Drop initializers (the weights replace them; TF.js names initializer classes differently) and
// give TF.js the config keys it reads.
function tfjsLayerConfig(layer: { class_name: string; config: Record<string, unknown> }): void {
  const c = layer.config;
  for (const k of Object.keys(c)) {
    if (k.endsWith('_initializer') || ((k.endsWith('_regularizer') || k.endsWith('_constraint')) && c[k] === null)) delete c[k];
  }
  if (typeof c.activation === 'string') c.activation = TFJS_ACTIVATIONS[c.activation] ?? c.activation;
}

export function toTfjsLayersModel(model: Model<Prediction>, options: { quantize?: 'float16' | null; source?: string } = {}): TfjsLayersArtifacts {
  const where = options.source ?? model.name;
  const topology = topologyOf(model) as { class_name: string; config: { layers: LayerJson[] } };
  // Each record adjusts its config where TF.js reads it differently, or refuses the layer.
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  for (const j of topology.config.layers) {
    if (j.class_name === 'InputLayer') continue;
    tfjsLayerConfig(j);
    const l = byName.get(j.config.name as string)!;
    l.def.toTfjs?.(l, j, where, options.source);
  }
  const half = options.quantize === 'float16';
  const weights: Record<string, unknown>[] = [];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const l of model.layers) {
    // Only the weights Keras has (rescaling's constants are config there).
    const kerasWeights = l.def.kerasWeights?.(l.config) ?? [];
    l.weightSpecs.forEach((s, i) => {
      if (!kerasWeights.includes(s.name)) return;
      const values = l.values[i];
      for (let j = 0; j < values.length; j++) {
        if (!Number.isFinite(values[j])) throw new ModelFormatError(`${options.source ?? model.name}: weight '${l.name}/${s.name}' has a non-finite value at ${j}; refusing to export it`, options.source, `${l.name}/${s.name}`);
      }
      let bytes: Uint8Array;
      if (half) {
        const bits = new Uint16Array(values.length);
        for (let j = 0; j < values.length; j++) bits[j] = float32ToFloat16Bits(values[j]);
        bytes = new Uint8Array(bits.buffer);
      } else {
        bytes = new Uint8Array(Float32Array.from(values).buffer);
      }
      weights.push({ name: `${l.name}/${s.name}`, shape: [...s.shape], dtype: 'float32', ...(half ? { quantization: { dtype: 'float16' } } : {}) });
      chunks.push(bytes);
      total += bytes.length;
    });
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = Array.from({ length: count }, (_, i) => ({
    path: `group1-shard${i + 1}of${count}.bin`,
    bytes: all.slice(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)),
  }));
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy: 'edgetune',
      convertedBy: 'edgetune convert',
      modelTopology: topology,
      weightsManifest: [{ paths: shards.map((s) => s.path), weights }],
    },
    shards,
  };
}
