// The worker that reads HDF5 files for host/import/hdf5-read.ts (dist/import/keras-hdf5-worker.js):
// h5wasm's C reader can loop forever on a corrupt file, and only a thread can be stopped. After { id: -1, ready } (h5wasm loaded), one
// message in ({ id, bytes, source }), one out ({ id, tree } or { id, error, typed }). A wasm trap
// leaves h5wasm's state unknown, so `fatal` asks the host to replace the worker.
import { EdgetuneError } from '../core/errors';
import { h5Trapped, loadH5, readHdf5Tree } from './hdf5-tree';

type Port = { postMessage(m: unknown, transfer?: Transferable[]): void };
const g = globalThis as unknown as {
  process?: { getBuiltinModule?: (id: string) => unknown };
  addEventListener?: (type: 'message', f: (e: { data: unknown }) => void) => void;
  postMessage?: Port['postMessage'];
};
const threads = g.process?.getBuiltinModule?.('node:worker_threads') as { parentPort: (Port & { on(e: 'message', f: (m: unknown) => void): void }) | null } | undefined;
const port: Port = threads?.parentPort ?? { postMessage: (m, t) => g.postMessage!(m, t) };

async function answer(m: { id: number; bytes: Uint8Array; source: string }): Promise<void> {
  try {
    const tree = await readHdf5Tree(m.bytes, m.source);
    // Only buffers the values own move (a view into h5wasm's memory would detach it).
    const own = Object.values(tree.datasets).map((d) => d.values).filter((v) => v.byteOffset === 0 && v.byteLength === v.buffer.byteLength);
    port.postMessage({ id: m.id, tree }, own.map((v) => v.buffer as ArrayBuffer));
  } catch (e) {
    port.postMessage({ id: m.id, error: String((e as Error)?.message ?? e), typed: e instanceof EdgetuneError, fatal: h5Trapped });
  }
}

if (threads?.parentPort) threads.parentPort.on('message', (m) => void answer(m as never));
else g.addEventListener!('message', (e) => void answer(e.data as never));
// h5wasm compiled and ready: the host's timeout counts from here, not from a slow start.
void loadH5().then(() => port.postMessage({ id: -1, ready: true }));
