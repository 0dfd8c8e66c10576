// loadModel on a file that is not an edgetune model says what the file is and which importer
// reads it (it was reported as a safetensors HeaderTooLarge); a missing file names the path.
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileAccessError, layers, loadModel, ModelFormatError, sequential } from '../dist/node.js';

const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'edgetune-format-'));

async function failure(source: string | Uint8Array): Promise<Error> {
  try {
    await loadModel(source);
  } catch (e) {
    return e as Error;
  }
  throw new Error('loadModel accepted it');
}

const bytes = (...parts: (string | number[])[]) => new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

describe('loadModel on other formats', () => {
  it('a TF.js graph model.json given as bytes names itself, its path and importTfjsGraphModel (from a path it is imported)', async () => {
    const e = await failure(readFileSync(join(MODELS, 'emotion.json')));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/TF\.js graph model \(model\.json\); loadModel reads one from its path .*importTfjsGraphModel/);
    expect(e.message).not.toMatch(/HeaderTooLarge/);
    // its shards missing next to it: the importer's error names the shard
    const path = join(dir, 'model.json');
    copyFileSync(join(MODELS, 'emotion.json'), path);
    expect((await failure(path)).message).toMatch(/emotion\.bin/);
  });

  it('a TF.js layers model.json names importTfjsLayersModel', async () => {
    const json = { format: 'layers-model', modelTopology: { class_name: 'Sequential', config: { layers: [] } }, weightsManifest: [] };
    const e = await failure(new TextEncoder().encode(`  ${JSON.stringify(json)}`));
    expect(e).toBeInstanceOf(ModelFormatError);
    expect(e.message).toMatch(/TF\.js layers model.*importTfjsLayersModel/);
  });

  it('Keras .h5 and .keras bytes, ONNX bytes and a PyTorch zip are each named with their importer', async () => {
    const h5 = await failure(bytes([0x89], 'HDF\r\n\x1a\n', [0, 0, 0, 0, 0, 0, 0, 0]));
    expect(h5.message).toMatch(/Keras HDF5.*importKeras/);
    const keras = await failure(bytes('PK\x03\x04', [20, 0, 0, 0], 'config.json', [0, 0, 0, 0]));
    expect(keras.message).toMatch(/\.keras.*importKeras/);
    const torch = await failure(bytes('PK\x03\x04', [20, 0, 0, 0], 'archive/data.pkl', [0, 0, 0, 0]));
    expect(torch.message).toMatch(/PyTorch checkpoint/);
    // ir_version 8, producer_name "pytorch": the first fields of every exported ONNX file
    // ONNX is imported by loadModel itself: a truncated one is refused by the ONNX reader
    const onnx = await failure(bytes([0x08, 0x08, 0x12, 0x07], 'pytorch', [0x1a, 0x03], '2.1', [0, 0, 0, 0, 0, 0, 0, 0]));
    expect(onnx).toBeInstanceOf(ModelFormatError);
    expect(onnx.message).toMatch(/^<bytes>: .*ModelProto/);
  });

  it('a real edgetune model still loads, a truncated one keeps the safetensors message, a missing file names the path', async () => {
    const m = sequential([layers.dense(2, { inputShape: [3] })]);
    const good = m.toBytes();
    expect((await loadModel(good)).layers.length).toBe(1);
    const cut = await failure(good.subarray(0, 20));
    expect(cut).toBeInstanceOf(ModelFormatError);
    expect(cut.message).not.toMatch(/importer|import it/);
    const missing = join(dir, 'nope.safetensors');
    const e = await failure(missing);
    expect(e).toBeInstanceOf(FileAccessError);
    expect(e.message).toContain(missing);
    writeFileSync(join(dir, 'empty.safetensors'), new Uint8Array(0));
    expect(await failure(join(dir, 'empty.safetensors'))).toBeInstanceOf(ModelFormatError);
  });
});
