// Where no worker can start (Node before 20.16 has no process.getBuiltinModule; a sandbox without
// threads), importKeras cannot bound h5wasm's reader by its time limit: it refuses HDF5 with an
// InvalidArgumentError that says so, and reads in the calling thread, unbounded, only when asked
// ({ inThread: true }). It used to read in-thread silently, without the time limit.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError } from '../dist/node.js';
import { importKeras } from '../dist/import/keras.js';
import { keras3, legacyH5 } from './support/keras-files';
import { tfl } from './tfjs';

describe('Keras HDF5 where no worker can start', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is refused with an InvalidArgumentError unless inThread is asked for, then read in this thread', async () => {
    const builtin = process.getBuiltinModule.bind(process);
    vi.spyOn(process, 'getBuiltinModule').mockImplementation(((id: string) => (id === 'node:worker_threads' ? undefined : builtin(id))) as typeof process.getBuiltinModule);
    const net = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] });
    const want = Array.from(net.layers[1].getWeights()[0].dataSync());
    for (const [bytes, file, where] of [[legacyH5(net), 'net.h5', 'net.h5'], [keras3(net), 'net.keras', 'net.keras/model.weights.h5']] as const) {
      const e = await importKeras(bytes, file, { timeoutMs: 5000 }).then(() => null, (x) => x);
      expect(e, file).toBeInstanceOf(InvalidArgumentError);
      expect(e.message).toBe(`${where}: no worker can start here to read HDF5 within the 5000 ms time limit (a corrupt file can hang the HDF5 reader forever); ` +
        'pass { inThread: true } to importKeras to read it in this thread without a time limit');
      const m = await importKeras(bytes, file, { inThread: true });
      expect(Array.from(m.layers.at(-1)!.values[0]), file).toEqual(want);
    }
  });
});
