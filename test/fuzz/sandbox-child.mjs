// The sandbox's child process (test/fuzz/sandbox.ts): a long-lived server of fuzz cases over IPC.
// Cases that can crash the process, hang or exhaust memory run here: the WASI module (node:wasi)
// and the Keras readers (h5wasm). Each message is one case; the answer carries its outcome and the
// case's own time, measured here (wall and CPU of this process, the HDF5 worker thread included),
// so neither this child's start nor the IPC round trip counts against a case.
//   { kind: 'wasi', args, preopens }  -> { code } (the module's exit code) or { trap }
//   { kind: 'keras', bytes, name }    -> { accepted } or { error, typed }
//   { kind: 'spin', ms }              -> { spun }    (busy for ms of CPU: test/fuzz/sandbox.test.ts)
// Every answer also has { wallMs, cpuMs }.
import { openSync, readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { EdgetuneError } from '../../dist/node.js';
import { importKeras } from '../../dist/import/keras.js';
import { runs } from './accepted.mjs';

const wasiModule = new WebAssembly.Module(readFileSync(new URL('../../build/edgetune-wasi.wasm', import.meta.url)));
const devNull = openSync('/dev/null', 'w');
const live = new Set(); // a WASI object must stay reachable while its instance runs
// Node 20's node:wasi never closes an instance's preopened directories or the files a run left
// open (not even when the WASI object is collected): a child failed with EMFILE after 3,672 runs.
// After each run its descriptors are closed through the instance's own fd_close.
const MAX_FD = 64;

function wasiExit(args, preopens) {
  const wasi = new WASI({ version: 'preview1', args: ['edgetune-wasi.wasm', ...args], env: {}, preopens, returnOnExit: true, stdout: devNull, stderr: devNull });
  live.add(wasi);
  try {
    return wasi.start(new WebAssembly.Instance(wasiModule, wasi.getImportObject())) ?? 0;
  } finally {
    for (let fd = 3; fd < MAX_FD; fd++) wasi.wasiImport.fd_close(fd);
    live.delete(wasi);
  }
}

async function handle(m) {
  if (m.kind === 'spin') {
    const c0 = process.cpuUsage();
    for (let c = { user: 0, system: 0 }; (c.user + c.system) / 1000 < m.ms; c = process.cpuUsage(c0));
    return { spun: m.ms };
  }
  if (m.kind === 'wasi') {
    try {
      return { code: wasiExit(m.args, m.preopens) };
    } catch (e) {
      return { trap: String(e?.message ?? e) }; // a wasm trap (the module failed to refuse the input), or node:wasi failed
    }
  }
  try {
    runs(await importKeras(m.bytes, m.name, { timeoutMs: 2000 })); // a reader stopped at 2 s is a typed refusal
    return { accepted: true };
  } catch (e) {
    return { error: String(e?.stack ?? e).split('\n').slice(0, 3).join(' | '), typed: e instanceof EdgetuneError };
  }
}

async function timed(m) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await handle(m);
  const c = process.cpuUsage(c0);
  r.wallMs = performance.now() - t0;
  r.cpuMs = (c.user + c.system) / 1000;
  return r;
}

// One case at a time, in the order sent (the parent waits for each answer anyway).
let queue = Promise.resolve();
process.on('message', (m) => {
  queue = queue.then(() => timed(m)).then((r) => process.send(r));
});
// Start importKeras's HDF5 worker (h5wasm loads in it: seconds on a loaded machine) before the
// first case: an HDF5 signature over nothing is refused once the worker has started.
await importKeras(Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a), 'warm-up.h5').catch(() => {});
process.send({ ready: true });
