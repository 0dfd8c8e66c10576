// Runs a WASI command module in this process with only the given directories preopened:
//   node run-wasi.mjs <module.wasm> '{"/p": "/real/dir", ...}' <args...>
// The tests launch it as a separate process (Node, or Bun, which implements node:wasi too).
//
// Node 20's node:wasi aborts (SIGABRT in uvwasi_destroy, from a GC inside fd_read) or corrupts its
// heap (SIGSEGV at exit) once the module's memory grows past about 32 MB, in V8's fast API call
// path for the WASI imports: turned off here before anything is compiled (docs/wasi.md).
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-turbo-fast-api-calls');
const { readFileSync } = await import('node:fs');
const { WASI } = await import('node:wasi');

const [wasmPath, preopens, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['edgetune-wasi.wasm', ...args], env: {}, preopens: JSON.parse(preopens), returnOnExit: true });
const module = new WebAssembly.Module(readFileSync(wasmPath));
const instance = new WebAssembly.Instance(module, wasi.getImportObject ? wasi.getImportObject() : { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance) ?? 0;
