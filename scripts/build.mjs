// Build: AssemblyScript kernels -> build/*.wasm, host/ -> dist/ (ESM bundles + .d.ts).
// The kernel modules are copied beside the bundles (dist/edgetune.wasm, dist/edgetune-nosimd.wasm, and dist/edgetune-threads.wasm for threads) and
// loaded from there by host/runtime/kernel-source.ts: only the build the engine needs is read or fetched.
import { main as asc } from 'assemblyscript/asc';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import binaryen from 'binaryen';
import { writeMessages } from './wasi-messages.mjs';
import { liteOps, writeOps } from './gen-ops.mjs';
import { opTableWithoutTemplates } from './op-table-strip.mjs';

const t0 = performance.now();
mkdirSync('build', { recursive: true });

async function compileWasm(args) {
  const { error, stderr } = await asc(args);
  if (error) {
    console.error(stderr.toString());
    throw new Error(`asc failed: ${error.message}`);
  }
}
// `node scripts/build.mjs --host`: dist/ only, over the kernels already in build/ (after host-only edits).
if (!process.argv.includes('--host')) await buildKernels();
rmSync('dist', { recursive: true, force: true });
await buildDist();
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
fullySpecifyDeclarations('dist/types');

// The host bundles and, beside them, the two kernel builds they load (host/runtime/kernel-source.ts).
async function buildDist() {
  await build({
    // The Keras importer is an entry of its own (edgetune/import/keras): it is the only code that loads
    // h5wasm (one copy, bundled into a chunk it imports on first use), so the core entry never reaches it.
    // The importers are an entry of their own (edgetune/import), so the core entry carries none;
    // edgetune/lite is the core entry on the lite kernel build (dense networks only);
    // the TF.js ones also have one without ONNX and PyTorch (edgetune/import/tfjs).
    entryPoints: {
      index: 'host/index.ts', lite: 'host/lite.ts', node: 'host/node.ts', 'import/index': 'host/import/public.ts', 'import/keras': 'host/import/keras.ts',
      'import/tfjs': 'host/import/tfjs.ts',
      // The layer factories as named exports (edgetune/layers): a bundler keeps only those imported.
      layers: 'host/layers/factories.ts',
      cli: 'host/cli/main.ts', examples: 'host/cli/examples.ts',
      // An app's own kernel build (`edgetune kernels`), also for scripts (scripts/size.mjs).
      kernels: 'host/cli/kernels.ts',
      // The worker that reads HDF5 for the Keras importer (host/import/hdf5-read.ts loads it by URL
      // beside the chunk that holds the importer, at the root of dist/).
      'keras-hdf5-worker': 'host/import/hdf5-worker.ts',
    },
    outdir: 'dist',
    bundle: true,
    splitting: true,
    plugins: [wholeCore(), opTableWithoutTemplates()],
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['node:*'],
    logLevel: 'warning',
  });
  // The lite builds' op list, which the executor reads to refuse a plan needing another op
  // (kernel-source.ts), written by the same code as an app's own build's (host/cli/kernels.ts).
  const { writeOpsSection } = await import(pathToFileURL(resolve('dist/kernels.js')).href);
  for (const file of ['build/edgetune-lite.wasm', 'build/edgetune-lite-nosimd.wasm']) writeOpsSection(file, [...await liteOps()]);
  for (const file of ['edgetune.wasm', 'edgetune-nosimd.wasm', 'edgetune-threads.wasm', 'edgetune-lite.wasm', 'edgetune-lite-nosimd.wasm']) copyFileSync(`build/${file}`, `dist/${file}`);
}

// esbuild puts each module in the chunk of the set of entries that reach it, so the core's modules
// were spread over eight files (the importers, the layer factories, the CLI each reach a different
// part), and Node links ES modules at a cost per file and per import binding: importing dist/index.js
// took 44 ms of CPU against 28 for the same code as one file (medians of 11 fresh processes, load 9).
// Every entry but the HDF5 worker (which must stay small), and the CLI's WASI file writers (loaded
// on demand), also imports the core entry, so its modules share one chunk: four files, 35 ms.
// Bundles built from dist/ are no larger: bundlers drop what an app does not use statement by
// statement, not file by file (scripts/size.mjs).
function wholeCore() {
  const entries = /host\/(node|lite|import\/public|import\/keras|import\/tfjs|layers\/factories|cli\/main|cli\/examples|cli\/wasi-files|cli\/kernels)\.ts$/;
  const core = JSON.stringify(join(process.cwd(), 'host/index.ts'));
  return {
    name: 'whole-core',
    setup(b) {
      b.onLoad({ filter: entries }, (args) => ({ contents: `${readFileSync(args.path, 'utf8')}\nimport ${core};\n`, loader: 'ts', resolveDir: dirname(args.path) }));
    },
  };
}

// host/ imports without extensions (bundler resolution); under NodeNext and Node16 a relative
// import in a .d.ts needs the file it names. Each relative specifier gets the `.js` (or `/index.js`)
// of the declaration file it resolves to; one that resolves to none fails the build.
function fullySpecifyDeclarations(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) { fullySpecifyDeclarations(path); continue; }
    if (!entry.name.endsWith('.d.ts')) continue;
    const text = readFileSync(path, 'utf8');
    const fixed = text.replace(/(\bfrom\s*|\bimport\s*\(\s*|^import\s*)(['"])(\.{1,2}\/[^'"]*)\2/gm, (_, lead, quote, spec) => {
      const base = join(dirname(path), spec.replace(/\.js$/, ''));
      let resolved;
      if (existsSync(`${base}.d.ts`)) resolved = spec.endsWith('.js') ? spec : `${spec}.js`;
      else if (existsSync(join(base, 'index.d.ts'))) resolved = `${spec.replace(/\/$/, '')}/index.js`;
      else throw new Error(`${path}: import '${spec}' names no declaration file`);
      return `${lead}${quote}${resolved}${quote}`;
    });
    if (fixed !== text) writeFileSync(path, fixed);
  }
}

const kb = (f) => (statSync(f).size / 1024).toFixed(1);
const sizes = ['edgetune', 'edgetune-nosimd', 'edgetune-lite', 'edgetune-threads', 'edgetune-wasi', 'edgetune-wasi-nosimd'].map((n) => `${n}.wasm ${kb(`build/${n}.wasm`)} KB`).join(', ');
console.log(`built ${sizes}, dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// The kernel modules: build/edgetune.wasm and the WASI command module, each with and without SIMD.
async function buildKernels() {
  // The interpreter's opcodes, step header and dispatch (assembly/interp/, from host/compile/op-table.ts).
  await writeOps();
  await compileWasm(['assembly/index.ts', '--config', 'asconfig.json', '--target', 'release']);
  // The threads build (docs/threads.md): the same kernels on a shared imported memory, for the
  // executor and its workers when a model runs on more than one thread.
  await compileWasm(['assembly/index.ts', '--config', 'asconfig.json', '--target', 'release', '--enable', 'threads', '--sharedMemory', '--maximumMemory', '65536', '--outFile', 'build/edgetune-threads.wasm', '--textFile', 'build/edgetune-threads.wat']);
  // The WASI driver's texts as one UTF-8 blob (assembly/wasi/wasi-messages.ts, from scripts/wasi-messages.mjs).
  // With them, the plan verifier's op table (assembly/wasi/op-footprints.ts, from host/compile/ops.ts).
  await writeMessages();
  // The WASI command module (fine-tuning with no JavaScript host, docs/wasi.md), and both modules
  // without SIMD for engines that reject it (host/runtime/executor.ts picks one with WebAssembly.validate).
  await compileWasm(['assembly/wasi/wasi.ts', '--config', 'asconfig.wasi.json', '--target', 'release']);
  await compileWasm(['assembly/index.ts', '--config', 'asconfig.json', '--target', 'release', '--disable', 'simd', '--outFile', 'build/edgetune-nosimd.wasm', '--textFile', 'build/edgetune-nosimd.wat']);
  await compileWasm(['assembly/wasi/wasi.ts', '--config', 'asconfig.wasi.json', '--target', 'release', '--disable', 'simd', '--outFile', 'build/edgetune-wasi-nosimd.wasm']);
  // The lite build (edgetune/lite): the same kernels and flags, the interpreter without the ops
  // host/runtime/lite-ops.ts leaves out (convolution, pooling, resizing, int8), with and without SIMD.
  const lite = ['assembly/lite.ts', '--config', 'asconfig.json', '--target', 'release', '--use', 'EDGETUNE_LITE=1'];
  await compileWasm([...lite, '--outFile', 'build/edgetune-lite.wasm', '--textFile', 'build/edgetune-lite.wat']);
  await compileWasm([...lite, '--disable', 'simd', '--outFile', 'build/edgetune-lite-nosimd.wasm', '--textFile', 'build/edgetune-lite-nosimd.wat']);
  // The WASI modules are compiled at shrink level 0 (AssemblyScript's table-based exp/log/pow, which
  // round as the kernel module's do; docs/wasi.md) and then shrunk by binaryen alone, which keeps
  // float semantics.
  for (const [file, simd] of [['build/edgetune-wasi.wasm', true], ['build/edgetune-wasi-nosimd.wasm', false]]) {
    const module = binaryen.readBinary(readFileSync(file));
    // AssemblyScript's default features (plus SIMD): with more, binaryen would write newer encodings.
    const F = binaryen.Features;
    module.setFeatures(F.MVP | F.SignExt | F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | (F.BulkMemoryOpt ?? 0) | (simd ? F.SIMD128 : 0));
    if (!module.validate()) throw new Error(`${file}: binaryen validation failed`);
    binaryen.setOptimizeLevel(2);
    binaryen.setShrinkLevel(2);
    module.optimize();
    module.optimize(); // a second round still finds a few hundred bytes
    writeFileSync(file, module.emitBinary());
    module.dispose();
  }
}
