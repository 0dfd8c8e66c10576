// npm run size: what a browser app that builds, trains and runs a model downloads: the core entry
// bundled by esbuild (--bundle --minify --platform=browser) plus the one kernel module it loads
// (dist/edgetune.wasm, the SIMD build), each gzipped (level 9). Prints one line; bench.mjs
// reports the total as its bundle-gz row. The app imports its layers by name from edgetune/layers
// (dist/layers.js), as the README recommends for bundles: the `layers` object holds every kind.
// The same app on edgetune/lite (dist/lite.js, which loads dist/edgetune-lite.wasm: dense networks
// only) is the bundle-gz-lite row. `--modules` also lists what each host/ module costs in the app:
// the same app bundled from the sources (host/index.ts, host/layers/factories.ts, host/lite.ts), as
// esbuild's metafile counts minified bytes per input. The third line, the bundle-gz-app row: the
// same app on edgetune/lite with its own kernel build (`edgetune kernels`, host/cli/kernels.ts, with the ops that
// usedOps() lists after running the app in Node), loaded by ready(url).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { opTableWithoutTemplates } from './op-table-strip.mjs';
import { buildKernels } from '../dist/kernels.js';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

// The app: an MLP built, fitted for two epochs and run on one sample.
export const SIZE_APP = `import { ready, sequential, tensor } from './index.js';
import { dense } from './layers.js';
await ready();
const model = sequential([dense(32, { activation: 'relu', inputShape: [4] }), dense(3, { activation: 'softmax' })]);
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
await model.fit(tensor(new Float32Array(64), [16, 4]), tensor(new Int32Array(16), [16]), { epochs: 2 });
console.log(model.predict(tensor(new Float32Array(4), [1, 4])).data);
`;

// The size app's own kernel build, for the ops its plans use (run once in Node on edgetune/lite).
// (in a folder of its own: the package ships build/*.wasm)
export const APP_KERNELS = fileURLToPath(new URL('../build/size-app/kernels.wasm', import.meta.url));
export async function buildAppKernels() {
  const app = SIZE_APP.replace("'./index.js'", `'${DIST}lite.js'`).replace("'./layers.js'", `'${DIST}layers.js'`).replace(/console\.log\(/, '(');
  const script = `${app}\nconsole.log((await import('${DIST}lite.js')).usedOps().join(','));\n`;
  const ops = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split('\n').at(-1).split(',');
  await buildKernels(ops, APP_KERNELS);
  return ops;
}

// entry: 'index', 'lite', or 'lite-app' (edgetune/lite and APP_KERNELS, built by buildAppKernels).
export async function bundleSize(entry = 'index') {
  const app = entry === 'lite-app'
    ? SIZE_APP.replace("'./index.js'", "'./lite.js'").replace('await ready();', "await ready(new URL('./app-kernels.wasm', import.meta.url));")
    : SIZE_APP.replace("'./index.js'", `'./${entry}.js'`);
  const out = await build({
    stdin: { contents: app, resolveDir: DIST, loader: 'js' },
    bundle: true, minify: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
  });
  const js = out.outputFiles[0].contents;
  const wasm = readFileSync(entry === 'lite-app' ? APP_KERNELS : `${DIST}${entry === 'lite' ? 'edgetune-lite' : 'edgetune'}.wasm`);
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  return { jsBytes: js.length, jsGz: gz(js), wasmBytes: wasm.length, wasmGz: gz(wasm), totalGz: gz(js) + gz(wasm) };
}

// Minified bytes per host/ module of the size app built from the sources (dist/ has chunks, not
// modules) with the build's op-table transform, largest first, and the bundle's own size.
export async function bundleModules(entry = 'index') {
  const SOURCES = { index: 'host/index.ts', layers: 'host/layers/factories.ts', lite: 'host/lite.ts' };
  const app = SIZE_APP.replace("'./index.js'", `'./${entry}.js'`).replace(/'\.\/(index|layers|lite)\.js'/g, (_, name) => `'../${SOURCES[name]}'`);
  const out = await build({
    stdin: { contents: app, resolveDir: DIST, loader: 'js' },
    bundle: true, minify: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', plugins: [opTableWithoutTemplates()],
  });
  const inputs = Object.values(out.metafile.outputs)[0].inputs;
  const modules = Object.entries(inputs).map(([path, { bytesInOutput }]) => ({ path, bytes: bytesInOutput })).filter((m) => m.bytes > 0);
  return { bytes: out.outputFiles[0].contents.length, modules: modules.sort((a, b) => b.bytes - a.bytes) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const ops = await buildAppKernels();
  for (const [entry, wasm, label] of [['index', 'edgetune.wasm', ''], ['lite', 'edgetune-lite.wasm', ' (edgetune/lite)'], ['lite-app', `its own kernels (${ops.length} ops)`, ' (edgetune/lite)']]) {
    const s = await bundleSize(entry);
    console.log(`bundle${label} (build, train, run an MLP in a browser): JS ${kb(s.jsBytes)} min, ${kb(s.jsGz)} gz + ${wasm} ${kb(s.wasmBytes)}, ${kb(s.wasmGz)} gz = ${kb(s.totalGz)} gz (target <= 50 KB)`);
    if (!process.argv.includes('--modules') || entry === 'lite-app') continue;
    const { bytes, modules } = await bundleModules(entry);
    console.log(`  its JS from the sources, ${kb(bytes)} min, by module:`);
    for (const m of modules) console.log(`  ${kb(m.bytes).padStart(9)}  ${m.path}`);
  }
}
