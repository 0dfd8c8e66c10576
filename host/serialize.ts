// Models as safetensors: weights as F32 tensors named '<layer>/<weight>', the Keras-style topology
// and the training config as JSON strings in __metadata__. Loading checks every tensor against
// the topology before touching any layer, so a bad file changes nothing.
import { ModelFormatError } from './errors';
import { sizeOf } from './graph';
import { type ActivationName, layers, type Layer } from './layers';
import type { InitializerConfig } from './initializers';
import { Model } from './model';
import { readSafetensors, SafetensorsError, toFloat32, writeSafetensors } from './safetensors';

export const MODEL_FORMAT = 'edgetune-model';
export const MODEL_FORMAT_VERSION = '1';

interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

function layerToJson(l: Layer, inputShape: number[] | null): LayerJson {
  const base: Record<string, unknown> = { name: l.name, trainable: l.trainable };
  if (inputShape) base.batch_input_shape = [null, ...inputShape];
  switch (l.kind) {
    case 'dense':
      return {
        class_name: 'Dense',
        config: {
          ...base, units: l.config.units, activation: l.config.activation, use_bias: l.config.useBias,
          kernel_initializer: initializerToJson(l.config.kernelInitializer as InitializerConfig),
          bias_initializer: initializerToJson(l.config.biasInitializer as InitializerConfig),
        },
      };
    case 'relu':
      return { class_name: 'ReLU', config: base };
    case 'softmax':
      return { class_name: 'Softmax', config: base };
  }
}

function initializerToJson(c: InitializerConfig): { class_name: string; config: Record<string, unknown> } {
  const { className, ...config } = c;
  return { class_name: className, config };
}

function layerFromJson(j: LayerJson, source: string): Layer {
  const c = j.config ?? {};
  const opts = { name: c.name as string, trainable: c.trainable as boolean | undefined };
  switch (j.class_name) {
    case 'Dense': {
      const init = (v: unknown) => {
        const o = v as { class_name: string; config?: Record<string, unknown> } | undefined;
        return o ? ({ className: o.class_name, ...(o.config ?? {}) } as InitializerConfig) : undefined;
      };
      return layers.dense(c.units as number, {
        ...opts, activation: c.activation as ActivationName, useBias: c.use_bias as boolean,
        kernelInitializer: init(c.kernel_initializer), biasInitializer: init(c.bias_initializer),
      });
    }
    case 'ReLU':
      return layers.relu(opts);
    case 'Softmax':
      return layers.softmax(opts);
  }
  throw new ModelFormatError(`${source}: unknown layer class '${j.class_name}' (layer '${c.name}')`, source);
}

export function modelToBytes(model: Model): Uint8Array {
  const topology = {
    class_name: 'Sequential',
    config: { name: model.name, layers: model.layers.map((l, i) => layerToJson(l, i === 0 ? model.inputShape : null)) },
  };
  const metadata: Record<string, string> = {
    format: MODEL_FORMAT,
    format_version: MODEL_FORMAT_VERSION,
    topology: JSON.stringify(topology),
  };
  const cfg = model.compileConfig;
  if (cfg) {
    metadata.training_config = JSON.stringify({
      optimizer: cfg.optimizer, loss: cfg.loss, metrics: cfg.metrics, batch_size: cfg.batchSize,
    });
  }
  const tensors = model.layers.flatMap((l) => l.weightSpecs.map((s, i) => ({
    name: `${l.name}/${s.name}`, dtype: 'F32' as const, shape: s.shape, data: l.values[i],
  })));
  return writeSafetensors(tensors, metadata);
}

export function modelFromBytes(bytes: Uint8Array, source = '<bytes>'): Model {
  let file;
  try {
    file = readSafetensors(bytes, source);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelFormatError(e.message, source, e.tensor);
    throw e;
  }
  const meta = file.metadata;
  if (meta.format !== MODEL_FORMAT) {
    throw new ModelFormatError(`${source}: not an edgetune model (metadata 'format' is ${JSON.stringify(meta.format)}, expected '${MODEL_FORMAT}'); ` +
      'convert other formats with `edgetune convert`', source);
  }
  let topology: { class_name: string; config: { name?: string; layers: LayerJson[] } };
  try {
    topology = JSON.parse(meta.topology);
  } catch {
    throw new ModelFormatError(`${source}: metadata 'topology' is not valid JSON`, source);
  }
  if (topology?.class_name !== 'Sequential' || !Array.isArray(topology.config?.layers)) {
    throw new ModelFormatError(`${source}: topology must be a Sequential model with a layer list`, source);
  }
  const layerList = topology.config.layers.map((j) => layerFromJson(j, source));
  const first = topology.config.layers[0]?.config?.batch_input_shape as (number | null)[] | undefined;
  if (!first) throw new ModelFormatError(`${source}: the first layer has no batch_input_shape`, source);
  const model = new Model(layerList, { name: topology.config.name, inputShape: first.slice(1) as number[] });

  // Check everything first, then assign: a bad file leaves nothing half-loaded.
  const assignments: { layer: Layer; index: number; values: Float32Array }[] = [];
  const expected = new Set<string>();
  for (const l of model.layers) {
    l.weightSpecs.forEach((s, index) => {
      const name = `${l.name}/${s.name}`;
      expected.add(name);
      const t = file.tensors.get(name);
      if (!t) throw new ModelFormatError(`${source}: tensor '${name}' (shape [${s.shape}]) is missing`, source, name);
      const same = t.shape.length === s.shape.length && t.shape.every((d, i) => d === s.shape[i]);
      if (!same) throw new ModelFormatError(`${source}: tensor '${name}' has shape [${t.shape}], layer ${l.name} expects [${s.shape}]`, source, name);
      const values = toFloat32(t);
      if (values.length !== sizeOf(s.shape)) throw new ModelFormatError(`${source}: tensor '${name}' has ${values.length} values`, source, name);
      assignments.push({ layer: l, index, values });
    });
  }
  for (const name of file.tensors.keys()) {
    if (!expected.has(name)) throw new ModelFormatError(`${source}: tensor '${name}' matches no weight of the topology`, source, name);
  }
  for (const a of assignments) a.layer.values[a.index].set(a.values);
  if (meta.training_config) {
    try {
      const tc = JSON.parse(meta.training_config);
      model.restoreCompileConfig({ optimizer: tc.optimizer, loss: tc.loss, metrics: tc.metrics, batchSize: tc.batch_size });
    } catch (e) {
      throw new ModelFormatError(`${source}: training_config cannot be restored: ${(e as Error).message}`, source);
    }
  }
  return model;
}
