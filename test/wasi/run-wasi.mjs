// Runs a WASI command module in this process with only the given directories preopened:
//   node run-wasi.mjs <module.wasm> '{"/p": "/real/dir", ...}' <args...>
// The tests launch it as a separate process (Node, or Bun, which implements node:wasi too).
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [wasmPath, preopens, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['edgetune-wasi.wasm', ...args], env: {}, preopens: JSON.parse(preopens), returnOnExit: true });
const module = new WebAssembly.Module(readFileSync(wasmPath));
const instance = new WebAssembly.Instance(module, wasi.getImportObject ? wasi.getImportObject() : { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance) ?? 0;
