// Saving and loading: safetensors bytes with the topology in __metadata__, atomic writes, and
// typed errors that name the tensor when a file does not match its topology.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  layers, sequential, tensor, loadModel, readSafetensors, writeSafetensors, ModelFormatError, type Model,
} from '../dist/node.js';
import { randomArray } from './support/harness';

function model(): Model {
  const m = sequential([
    layers.dense(9, { activation: 'relu', inputShape: [5] }),
    layers.relu(),
    layers.dense(3, { activation: 'softmax', useBias: false }),
  ], { name: 'io_test' });
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], batchSize: 4 });
  return m;
}

const x = tensor(randomArray(6 * 5, 3), [6, 5]);

describe('save and load', () => {
  it('round-trips weights, topology and training config; predictions are bit-identical', async () => {
    const m = model();
    await m.fit(x, tensor(new Int32Array([0, 1, 2, 0, 1, 2]), [6]), { epochs: 2, batchSize: 4 });
    const bytes = m.toBytes();
    const file = readSafetensors(bytes);
    expect([...file.tensors.keys()].sort()).toEqual([`${m.layers[0].name}/bias`, `${m.layers[0].name}/kernel`, `${m.layers[2].name}/kernel`].sort());
    expect(file.tensors.get(`${m.layers[2].name}/kernel`)!.shape).toEqual([9, 3]);
    expect(JSON.parse(file.metadata.topology).class_name).toBe('Sequential');
    const loaded = await loadModel(bytes);
    expect(loaded.name).toBe('io_test');
    expect(loaded.layers.map((l) => l.kind)).toEqual(['dense', 'activation', 'dense']);
    expect(loaded.compileConfig?.optimizer.className).toBe('adam');
    expect(loaded.predict(x).data).toEqual(m.predict(x).data);
    // a loaded model trains straight away with its saved training config
    await loaded.fit(x, tensor(new Int32Array([0, 1, 2, 0, 1, 2]), [6]), { epochs: 1, batchSize: 4 });
  });

  it('writes atomically to a path and loads from it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-'));
    const path = join(dir, 'sub', 'm.safetensors');
    const m = model();
    await m.save(path);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['m.safetensors']); // no temporary file left behind
    const loaded = await loadModel(path);
    expect(loaded.predict(x).data).toEqual(m.predict(x).data);
  });

  it('a failed load names the file and tensor and changes nothing', async () => {
    const m = model();
    const good = readSafetensors(m.toBytes());
    const rebuild = (mutate: (t: { name: string; dtype: 'F32'; shape: number[]; data: Uint8Array }[]) => void) => {
      const list = [...good.tensors.values()].map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data.slice() }));
      mutate(list);
      return writeSafetensors(list, good.metadata);
    };
    const kernel = `${m.layers[0].name}/kernel`;
    const wrongShape = rebuild((l) => { const t = l.find((q) => q.name === kernel)!; t.shape = [9, 5]; });
    await expect(loadModel(wrongShape)).rejects.toThrow(new RegExp(`tensor '${kernel}' has shape \\[9,5\\], layer .* expects \\[5,9\\]`));
    const missing = rebuild((l) => l.splice(l.findIndex((q) => q.name === kernel), 1));
    await expect(loadModel(missing)).rejects.toThrow(/is missing/);
    const extra = rebuild((l) => l.push({ name: 'stray/kernel', dtype: 'F32', shape: [1], data: new Uint8Array(4) }));
    await expect(loadModel(extra)).rejects.toThrow(/'stray\/kernel' matches no weight/);
    const truncated = m.toBytes().slice(0, 100);
    const err = await loadModel(truncated).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(/InvalidHeaderLength|MetadataIncompleteBuffer/);
    const dir = mkdtempSync(join(tmpdir(), 'edgetune-'));
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, wrongShape);
    await expect(loadModel(path)).rejects.toThrow(new RegExp(path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
    const notOurs = writeSafetensors([{ name: 'w', dtype: 'F32', shape: [1], data: new Float32Array([1]) }]);
    await expect(loadModel(notOurs)).rejects.toThrow(/not an edgetune model/);
    expect(readFileSync(path).length).toBe(wrongShape.length);
  });
});
