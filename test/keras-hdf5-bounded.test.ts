// h5wasm's C reader loops forever on some corrupt HDF5 files (the fuzzer's mutated .h5 files in
// test/fixtures/keras/h5wasm-hang-*.h5: a number in the model_config text lengthened, a varint
// spliced into it). importKeras reads HDF5 in a worker it stops after `timeoutMs`
// (host/import/hdf5-read.ts): the caller gets a ModelFormatError naming the file, and the next
// import gets a fresh worker.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../dist/node.js';
import { importKeras } from '../dist/import/keras.js';
import { keras3, legacyH5 } from './support/keras-files';
import { tfl } from './tfjs';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/keras/${name}`, import.meta.url)));

describe('Keras HDF5 reading is bounded', () => {
  it('a file that hangs h5wasm is refused with a ModelFormatError after the timeout, and the next import works', async () => {
    const net = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] });
    for (const name of ['h5wasm-hang-1.h5', 'h5wasm-hang-2.h5']) {
      const t0 = performance.now();
      const e = await importKeras(fixture(name), name, { timeoutMs: 1000 }).then(() => null, (x) => x);
      expect(e, name).toBeInstanceOf(ModelFormatError);
      expect(e.message).toBe(`${name}: the HDF5 reader did not finish in 1000 ms (a corrupt or hostile file)`);
      expect(performance.now() - t0).toBeLessThan(15_000); // 1 s of reading after h5wasm starts in the new worker
    }
    for (const [bytes, file] of [[legacyH5(net), 'ok.h5'], [keras3(net), 'ok.keras']] as const) {
      const m = await importKeras(bytes, file);
      const w = net.layers[1].getWeights()[0].dataSync();
      expect(Array.from(m.layers.at(-1)!.values[0])).toEqual(Array.from(w));
    }
  }, 60_000);
});
