// Reads an HDF5 file (host/import/hdf5-tree.ts) in a worker that is stopped after `timeoutMs`:
// h5wasm's C reader can loop forever on a corrupt file, and a caller of importKeras must get a
// ModelFormatError, not a hang. Node (worker_threads) keeps one worker between calls, unref'd so
// it never keeps the process alive; where there is a Web Worker (browsers, Deno, Bun) each call
// gets one and ends it. Where there is neither (Node before 20.16, a sandbox without threads, a
// bundle without the worker file), the caller gets an InvalidArgumentError saying so, unless it
// asked for `inThread`: then the file is read in the calling thread, without the time limit.
import { InvalidArgumentError, ModelFormatError } from '../core/errors';
import { type Hdf5Tree, readHdf5Tree } from './hdf5-tree';

// A legitimate Keras file is read at tens of MB per second; a stuck reader is stopped after this.
export const DEFAULT_HDF5_TIMEOUT_MS = 30_000;

type Reply = { id: number; tree?: Hdf5Tree; error?: string; typed?: boolean; fatal?: boolean };
interface Reader {
  ready: Promise<void>; // the worker has loaded h5wasm
  post(m: unknown): void;
  end(): void;
  pending: Map<number, (r: Reply) => void>;
  dead?: boolean; // the worker failed or exited: the next call starts another
}

type NodeWorker = { postMessage(m: unknown): void; on(e: string, f: (x: unknown) => void): void; unref(): void; terminate(): Promise<number> };
type WebWorker = { postMessage(m: unknown): void; addEventListener(e: string, f: (x: { data?: unknown; message?: string }) => void): void; terminate(): void };
const g = globalThis as unknown as {
  process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };
  Worker?: new (url: URL, o: { type: 'module' }) => WebWorker;
};

const WORKER_URL = () => new URL('./keras-hdf5-worker.js', import.meta.url);

// A reader's message handler and its ready signal.
function wire(post: (m: unknown) => void, end: () => void): { r: Reader; onReply: (m: unknown) => void } {
  let started!: () => void;
  const r: Reader = { ready: new Promise((res) => { started = res; }), post, end, pending: new Map() };
  const onReply = (m: unknown) => {
    const reply = m as Reply & { ready?: boolean };
    if (reply.ready) return started();
    r.pending.get(reply.id)?.(reply);
    r.pending.delete(reply.id);
  };
  return { r, onReply };
}

function fail(r: Reader, why: string): void {
  r.dead = true;
  for (const f of r.pending.values()) f({ id: -1, error: why, typed: false, fatal: true });
  r.pending.clear();
}

function nodeReader(): Reader | null {
  const threads = g.process?.versions?.node ? g.process.getBuiltinModule?.('node:worker_threads') as { Worker: new (url: URL) => NodeWorker } | undefined : undefined;
  if (!threads) return null;
  const w = new threads.Worker(WORKER_URL());
  const { r, onReply } = wire((m) => w.postMessage(m), () => void w.terminate());
  w.on('message', onReply);
  w.on('error', (e) => fail(r, `the HDF5 worker failed: ${(e as Error)?.message ?? e}`));
  w.on('exit', () => fail(r, 'the HDF5 worker exited'));
  w.unref(); // after the listeners, which ref it again
  return r;
}

function webReader(): Reader | null {
  if (!g.Worker) return null;
  const w = new g.Worker(WORKER_URL(), { type: 'module' });
  const { r, onReply } = wire((m) => w.postMessage(m), () => w.terminate());
  w.addEventListener('message', (e) => onReply(e.data));
  w.addEventListener('error', (e) => fail(r, `the HDF5 worker failed: ${e.message ?? e}`));
  return r;
}

let kept: Reader | null = null; // Node's worker, reused
function startNodeReader(): Reader | null {
  try {
    return nodeReader();
  } catch {
    return null;
  }
}
let nextId = 0;

// One request; the timeout counts from the worker's ready signal (a loaded machine can take
// seconds to start h5wasm). The interval keeps Node alive while the unref'd worker starts.
function ask(r: Reader, bytes: Uint8Array, source: string, timeoutMs: number): Promise<Reply> {
  const id = nextId++;
  const keepAlive = setInterval(() => {}, 1 << 30);
  return new Promise<Reply>((resolve) => {
    const done = (m: Reply) => { clearTimeout(timer); clearInterval(keepAlive); r.pending.delete(id); resolve(m); };
    let timer: ReturnType<typeof setTimeout> | undefined;
    r.pending.set(id, done); // a worker that fails to start answers through fail()
    void r.ready.then(() => {
      if (!r.pending.has(id)) return;
      timer = setTimeout(() => done({ id, error: `the HDF5 reader did not finish in ${timeoutMs} ms (a corrupt or hostile file)`, typed: false, fatal: true }), timeoutMs);
      r.post({ id, bytes, source });
    });
  });
}

export async function readHdf5(bytes: Uint8Array, source: string, timeoutMs = DEFAULT_HDF5_TIMEOUT_MS, inThread = false): Promise<Hdf5Tree> {
  if (inThread) return readHdf5Tree(bytes, source);
  const reusable = !!g.process?.versions?.node;
  let reader: Reader | null;
  try {
    if (kept?.dead) kept = null;
    reader = reusable ? (kept ??= nodeReader()) : webReader();
  } catch {
    reader = null; // no worker here (a bundle without the worker file, a sandbox without threads)
  }
  if (!reader) {
    throw new InvalidArgumentError(`${source}: no worker can start here to read HDF5 within the ${timeoutMs} ms time limit (a corrupt file can hang ` +
      'the HDF5 reader forever); pass { inThread: true } to importKeras to read it in this thread without a time limit');
  }
  const reply = await ask(reader, bytes, source, timeoutMs);
  if (!reusable || reply.fatal || reader.dead) {
    reader.end();
    // Node: the replacement starts now, loading h5wasm while the caller handles this file's error.
    if (kept === reader) kept = startNodeReader();
  }
  if (reply.tree) return reply.tree;
  throw new ModelFormatError(`${reply.typed ? '' : `${source}: `}${reply.error}`, source);
}
