// node examples/mcu/finetune-wasi.mjs [dir] [--epochs N] (after npm run build), or the same under
// Bun (node_modules/.bin/bun examples/mcu/finetune-wasi.mjs): the 256 KB fine-tune of
// finetune-256k.mjs run by the WASI module (build/edgetune-wasi.wasm) through this runtime's
// node:wasi, with no JavaScript in the training loop. Writes the plan, the model before training
// and the data into `dir` (a new temporary directory if not given), runs `train`, which prints
// the loss of each epoch and writes the weights back, then loads them for the held-out accuracy.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { loadModel, tensor } from '../../dist/node.js';
import { ARENA_BUDGET, mcuData, mcuWasiFiles } from './finetune-lib.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--epochs');
const epochs = at >= 0 ? Number(args.splice(at, 2)[1]) : 20;
const dir = args[0] ?? mkdtempSync(join(tmpdir(), 'edgetune-mcu-'));
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

const plan = await mcuWasiFiles(dir);
const b = plan.breakdown;
console.log(`plan: micro-batch ${plan.batchSize}, step batch 16, arena ${kb(plan.totalBytes)} planned in ${plan.pages} wasm page(s) = ${kb(plan.pages * 65536)} ` +
  `(budget ${kb(ARENA_BUDGET)}): weights ${kb(b.weights)} (int8 base kernels), gradients ${kb(b.gradients)}, Adam slots ${kb(b.optimizerState)}, ` +
  `activations ${kb(b.activations)} (one sample), scratch ${kb(b.scratch)}, programs, I/O and statics ${kb(b.other)}`);

const wasi = new WASI({
  version: 'preview1', returnOnExit: true, env: {}, preopens: { '/m': dir },
  args: ['edgetune-wasi.wasm', 'train', '--plan', '/m/model.plan', '--weights', '/m/model.safetensors', '--data', '/m/train.etd', '--epochs', String(epochs)],
});
const module = new WebAssembly.Module(readFileSync(new URL('../../build/edgetune-wasi.wasm', import.meta.url)));
const instance = new WebAssembly.Instance(module, wasi.getImportObject ? wasi.getImportObject() : { wasi_snapshot_preview1: wasi.wasiImport });
const status = wasi.start(instance) ?? 0;
if (status !== 0) process.exit(status);
const memory = instance.exports.memory.buffer.byteLength;
console.log(`WASI module memory: ${kb(memory)} = the plan's arena ${kb(plan.pages * 65536)} + its I/O region ${kb(memory - plan.pages * 65536)} ` +
  '(the plan file, the weights file\'s header, the module\'s texts; outside the arena, no op reaches it)');

const { test } = mcuData();
const trained = await loadModel(readFileSync(join(dir, 'model.safetensors')));
trained.compile({ loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], optimizer: 'adam' });
const accuracy = trained.evaluate(tensor(test.x, [test.n, 28, 28, 1]), tensor(test.y, [test.n])).accuracy;
console.log(`held-out accuracy on digits 5-9: ${(100 * accuracy).toFixed(2)}% (${test.n} images)`);
console.log(`weights written to ${join(dir, 'model.safetensors')}`);
