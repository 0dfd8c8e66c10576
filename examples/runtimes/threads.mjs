// The threads scenario (examples/common/threads-scenario.mjs) on 1, 2 and 3 threads under Node,
// Deno or Bun, importing the built package directly:
//   node examples/runtimes/threads.mjs
//   deno run --allow-read examples/runtimes/threads.mjs
//   bun examples/runtimes/threads.mjs
// Prints one JSON line: the runtime and, per thread count, the scenario's result.
import { runThreadsScenario } from '../common/threads-scenario.mjs';

const edgetune = await import('../../dist/index.js');
const runtime = typeof globalThis.Deno !== 'undefined' ? `deno ${globalThis.Deno.version.deno}`
  : typeof globalThis.Bun !== 'undefined' ? `bun ${globalThis.Bun.version}` : `node ${globalThis.process.versions.node}`;

await edgetune.ready();
const byThreads = {};
for (const threads of [1, 2, 3]) byThreads[threads] = await runThreadsScenario(edgetune, threads);
globalThis.process.stdout.write(JSON.stringify({ runtime, byThreads }) + '\n');
