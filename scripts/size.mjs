// npm run size: what a browser app that builds, trains and runs a model downloads: the core entry
// bundled by esbuild (--bundle --minify --platform=browser) plus the one kernel module it loads
// (dist/edgetune.wasm, the SIMD build), each gzipped (level 9). Prints one line; bench.mjs
// reports the total as its bundle-gz row. The app imports its layers by name from edgetune/layers
// (dist/layers.js), as the README recommends for bundles: the `layers` object holds every kind.
// The same app on edgetune/lite (dist/lite.js, which loads dist/edgetune-lite.wasm: dense networks
// only) is the bundle-gz-lite row.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

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

export async function bundleSize(entry = 'index') {
  const out = await build({
    stdin: { contents: SIZE_APP.replace("'./index.js'", `'./${entry}.js'`), resolveDir: DIST, loader: 'js' },
    bundle: true, minify: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent',
  });
  const js = out.outputFiles[0].contents;
  const wasm = readFileSync(`${DIST}${entry === 'lite' ? 'edgetune-lite' : 'edgetune'}.wasm`);
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  return { jsBytes: js.length, jsGz: gz(js), wasmBytes: wasm.length, wasmGz: gz(wasm), totalGz: gz(js) + gz(wasm) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  for (const [entry, wasm] of [['index', 'edgetune.wasm'], ['lite', 'edgetune-lite.wasm']]) {
    const s = await bundleSize(entry);
    console.log(`bundle${entry === 'lite' ? ' (edgetune/lite)' : ''} (build, train, run an MLP in a browser): JS ${kb(s.jsBytes)} min, ${kb(s.jsGz)} gz + ${wasm} ${kb(s.wasmBytes)}, ${kb(s.wasmGz)} gz = ${kb(s.totalGz)} gz (target <= 50 KB)`);
  }
}
