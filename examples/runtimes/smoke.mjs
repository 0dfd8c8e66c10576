// The runtime smoke run: the same script under Node, Deno and Bun, importing the built package
// files directly (no npm: specifier, so Deno needs no registry and works offline).
//   node examples/runtimes/smoke.mjs [scratch-dir]
//   deno run --allow-read --allow-write=<scratch-dir> examples/runtimes/smoke.mjs <scratch-dir>
//   bun examples/runtimes/smoke.mjs [scratch-dir]
// Prints one JSON line: the runtime, the determinism scenario's result with the core entry
// (model from bytes, no file system), and a save/load round trip through the Node entry's file
// access (what `import 'edgetune'` gives Node, Deno and Bun).
import process from 'node:process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, digestWeights } from '../common/determinism.mjs';

const core = await import('../../dist/index.js');
const withFiles = await import('../../dist/node.js');
const modelUrl = new URL('../../models/mnist-base-0to4.safetensors', import.meta.url);

const runtime = typeof globalThis.Deno !== 'undefined' ? `deno ${globalThis.Deno.version.deno}`
  : typeof globalThis.Bun !== 'undefined' ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`;

const bytes = new Uint8Array(await readFile(modelUrl));
await core.ready(); // asynchronous compile, as a browser or an edge function would do it
const scenario = await runScenario(core, bytes);

// File access: load by path, save atomically into a scratch directory, load again.
const scratch = process.argv[2] ?? await mkdtemp(join(tmpdir(), 'edgetune-smoke-'));
const model = await withFiles.loadModel(decodeURIComponent(modelUrl.pathname));
const savedPath = join(scratch, 'roundtrip.safetensors');
await model.save(savedPath);
const again = await withFiles.loadModel(savedPath);
const weights = (m) => digestWeights(m.layers.flatMap((l) => l.getWeights()));
const files = { original: weights(model), reloaded: weights(again) };
if (!process.argv[2]) await rm(scratch, { recursive: true, force: true });

process.stdout.write(JSON.stringify({ runtime, ...scenario, files }) + '\n');
