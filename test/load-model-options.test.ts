// loadModel(bytesOrPath, options): the format is found from the bytes; ONNX and TF.js graph models
// get inputs / outputs / inputShape passed to their importer (the same model as importOnnx /
// importTfjsGraphModel with those options), `trainable` applies to every format, and an option
// the detected format cannot use is a typed error naming the file, its format and the option.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module without types
import { node, onnxModel, tensor as onnxTensor, valueInfo } from '../scripts/onnx-writer.mjs';
import {
  importOnnx, importTfjsGraphModel, InvalidArgumentError, layers, loadModel, ModelFormatError, sequential, shardReader, tensor,
} from '../dist/node.js';
import { randomArray } from './support/harness';

const dir = mkdtempSync(join(tmpdir(), 'edgetune-load-'));
const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;

// Conv 3->4 (3x3, pad 1) then ReLU, over an input whose H and W the file leaves open.
function dynamicConv(): Uint8Array {
  const inits = [onnxTensor('w', [4, 3, 3, 3], randomArray(108, 5, -0.4, 0.4)), onnxTensor('b', [4], randomArray(4, 6, -0.1, 0.1))];
  const nodes = [node('Conv', ['x', 'w', 'b'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, '/Conv'), node('Relu', ['c'], ['r'], {}, '/Relu')];
  return onnxModel({ name: 'dyn', nodes, initializers: inits, inputs: [valueInfo('x', ['N', 3, 'H', 'W'])], outputs: [valueInfo('r', ['N', 4, 'H', 'W'])] });
}

async function refusal(f: () => Promise<unknown>): Promise<Error> {
  try { await f(); } catch (e) { return e as Error; }
  throw new Error('accepted');
}

describe('loadModel options', () => {
  it('ONNX, from a path or bytes: inputShape and outputs reach importOnnx; the same model as importOnnx', async () => {
    const bytes = dynamicConv();
    const path = join(dir, 'dyn.onnx');
    writeFileSync(path, bytes);
    const missingShape = await refusal(() => loadModel(path));
    expect(missingShape).toBeInstanceOf(ModelFormatError);
    expect(missingShape.message).toMatch(/dyn\.onnx.*inputShape/);
    const m = await loadModel(path, { inputShape: [3, 5, 5] });
    const ref = importOnnx(bytes, 'dyn.onnx', { inputShape: [3, 5, 5] });
    expect(m.inputShape).toEqual([5, 5, 3]);
    const x = tensor(randomArray(2 * 75, 8, -1, 1), [2, 5, 5, 3]);
    expect(Array.from(m.predict(x).data)).toEqual(Array.from(ref.predict(x).data));
    const cut = await loadModel(bytes, { inputShape: [3, 5, 5], outputs: ['c'], trainable: false, outputLayout: 'nhwc' });
    expect(cut.layers.map((l) => l.kind)).toEqual(['conv2d']);
    // the default returns the cut's image output NCHW, as onnxruntime does
    const nchw = await loadModel(bytes, { inputShape: [3, 5, 5], outputs: ['c'] });
    const [n1, n2] = [cut.predict(x), nchw.predict(x)];
    expect(n2.shape).toEqual([2, n1.shape[3], n1.shape[1], n1.shape[2]]);
    const [, H, W, C] = n1.shape;
    for (let i = 0; i < n1.data.length; i++) {
      const c = i % C, w = Math.floor(i / C) % W, h = Math.floor(i / (C * W)) % H, b = Math.floor(i / (C * W * H));
      expect(n2.data[((b * C + c) * H + h) * W + w]).toBe(n1.data[i]);
    }
    await expect(loadModel(join(MODELS, 'emotion.json'), { outputLayout: 'nhwc' })).rejects.toThrow(/'outputLayout' applies to ONNX models only/);
    expect(cut.layers.every((l) => !l.trainable)).toBe(true);
    const unknown = await refusal(() => loadModel(bytes, { outputs: ['nope'], inputShape: [3, 5, 5] }));
    expect(unknown.message).toMatch(/nope/);
  });

  it('a TF.js graph model from its path is the importer\'s model; trainable false freezes it', async () => {
    const path = join(MODELS, 'emotion.json');
    const m = await loadModel(path, { trainable: false });
    const ref = await importTfjsGraphModel(JSON.parse(readFileSync(path, 'utf8')), shardReader(MODELS), path);
    const x = tensor(randomArray(64 * 64, 3, 0, 1), [1, 64, 64, 1]);
    expect(Array.from(m.predict(x).data)).toEqual(Array.from((ref.predict(x) as { data: Float32Array }).data));
    expect(m.layers.length).toBeGreaterThan(3);
    expect(m.layers.every((l) => !l.trainable)).toBe(true);
  });

  it('options the detected format cannot use are typed errors naming the file, its format and the options', async () => {
    const saved = sequential([layers.dense(2, { inputShape: [3] }), layers.dense(1)]).toBytes();
    const e = await refusal(() => loadModel(saved, { outputs: ['dense'] }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toBe("loadModel: <bytes> is an edgetune (safetensors) model; option 'outputs' applies to ONNX and TF.js graph models only");
    const layersJson = new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { layers: [] } }, weightsManifest: [] }));
    const e2 = await refusal(() => loadModel(layersJson, { inputs: ['a'], inputShape: [3] }));
    expect(e2.message).toBe("loadModel: <bytes> is a TF.js layers model (model.json); options 'inputs', 'inputShape' apply to ONNX and TF.js graph models only");
    const e3 = await refusal(() => loadModel(saved, { trainabel: false } as never));
    expect(e3.message).toBe("unknown option 'trainabel' for loadModel; did you mean 'trainable'?");
    expect((await refusal(() => loadModel(saved, { trainable: 'no' as never }))).message).toBe('loadModel: trainable must be true or false, got no');
    // trainable applies to an edgetune model too
    const frozen = await loadModel(saved, { trainable: false });
    expect(frozen.layers.map((l) => l.trainable)).toEqual([false, false]);
  });
});
