// Builds the offline fine-tuning page (examples/browser/) into examples/browser/dist/: the page and
// its worker bundled by esbuild, the kernel builds beside the worker (it loads the one the engine
// runs, as dist/ does: host/runtime/kernel-source.ts, and the threads build where the page is
// cross-origin isolated), the bundled base model
// and samples.bin, real MNIST digits 5-9 from the `mnist` package, and a service worker that keeps
// them for offline use. Everything the page loads is in that one directory, served from one origin.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BROWSER_DIST = join(root, 'examples/browser/dist');
const KERNEL_FILES = ['edgetune.wasm', 'edgetune-nosimd.wasm', 'edgetune-threads.wasm'];
export const SAMPLE_DIGITS = [5, 6, 7, 8, 9];
export const TRAIN_PER_CLASS = 10;
export const HELD_OUT_PER_CLASS = 40;

// samples.bin, version 1 (little-endian):
//   0  'EDSM' magic, u32 version = 1, u32 training count, u32 held-out count
//   16 pixels: u16 per pixel, 784 per image, value = round(1000 * v) (the mnist package stores
//      three decimals, so v = k / 1000 in f64 then f32 is exactly the package's value)
//   .. labels: u8 per image (the digit, 5-9), training images first, then held-out ones
// Training images are the first TRAIN_PER_CLASS of each digit's file; held-out ones the first
// HELD_OUT_PER_CLASS of the last 20% of it (host/cli/mnist.ts's split), so they never overlap.
export function sampleImages() {
  const require = createRequire(join(root, 'package.json'));
  const dir = dirname(require.resolve('mnist/src/digits/0.json'));
  const train = [];
  const heldOut = [];
  for (const d of SAMPLE_DIGITS) {
    const data = JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data;
    const n = data.length / 784;
    const cut = Math.floor(n * 0.8);
    const image = (i) => data.slice(i * 784, (i + 1) * 784);
    for (let i = 0; i < TRAIN_PER_CLASS; i++) train.push({ label: d, pixels: image(i) });
    for (let i = 0; i < HELD_OUT_PER_CLASS; i++) heldOut.push({ label: d, pixels: image(cut + i) });
  }
  return { train, heldOut };
}

export function encodeSamples({ train, heldOut }) {
  const all = [...train, ...heldOut];
  const n = all.length;
  const bytes = new Uint8Array(16 + n * 784 * 2 + n);
  const view = new DataView(bytes.buffer);
  bytes.set([0x45, 0x44, 0x53, 0x4d], 0);
  view.setUint32(4, 1, true);
  view.setUint32(8, train.length, true);
  view.setUint32(12, heldOut.length, true);
  all.forEach((s, j) => {
    for (let p = 0; p < 784; p++) {
      const k = Math.round(s.pixels[p] * 1000);
      if (k < 0 || k > 1000 || k / 1000 !== s.pixels[p]) throw new Error(`mnist pixel ${s.pixels[p]} (digit ${s.label}) is not a multiple of 0.001`);
      view.setUint16(16 + (j * 784 + p) * 2, k, true);
    }
    bytes[16 + n * 784 * 2 + j] = s.label;
  });
  return bytes;
}

function writeAtomic(path, data) {
  writeFileSync(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
}

export async function buildBrowser({ outdir = BROWSER_DIST, minify = true } = {}) {
  const wasm = join(root, 'build/edgetune.wasm');
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run \`npm run build\` first (it compiles the kernels the page loads)`);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const src = join(root, 'examples/browser');
  await build({
    entryPoints: { main: join(src, 'main.ts'), worker: join(src, 'worker.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    sourcemap: false,
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(src, f), join(outdir, f));
  for (const f of KERNEL_FILES) copyFileSync(join(root, 'build', f), join(outdir, f));
  copyFileSync(join(root, 'models/mnist-base-0to4.safetensors'), join(outdir, 'mnist-base-0to4.safetensors'));
  writeAtomic(join(outdir, 'samples.bin'), encodeSamples(sampleImages()));
  // The service worker's cache is named after the assets it keeps, so each build gets its own.
  const hash = createHash('sha256');
  for (const f of ['index.html', 'style.css', 'main.js', 'worker.js', ...KERNEL_FILES, 'samples.bin', 'mnist-base-0to4.safetensors']) hash.update(readFileSync(join(outdir, f)));
  writeFileSync(join(outdir, 'sw.js'), readFileSync(join(src, 'sw.js'), 'utf8').replace('__BUILD__', hash.digest('hex').slice(0, 12)));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const out = await buildBrowser();
  console.log(`built ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
