// Writes data/mnist-subset.bin.gz, the digits `edgetune demo` and `find-lr` use when the `mnist`
// package (21 MB, a devDependency) is not installed: per digit the first 50 images of its
// training part and the first 60 of its held-out part (host/cli/mnist.ts selectDigits's 80/20
// split by position in the class), 1100 images of the `mnist` package (MIT, Juan Cazala; the
// MNIST digits of LeCun, Cortes and Burges). Pixels are stored as bytes b = round(v * 255); the
// package's values are round(b / 255, 3), which the reader recomputes exactly (checked here).
// Layout, little-endian: "ETMNIST1", u16 images per digit in the full set [10], u32 n,
// u8 label [n], u16 index within its digit [n], u8 pixels [n * 784]; all gzipped.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

const TRAIN_PER_DIGIT = 50;
const HELD_OUT_PER_DIGIT = 60;
const dir = createRequire(import.meta.url).resolve('mnist/src/digits/0.json').replace(/0\.json$/, '');
const counts = [];
const picked = []; // [digit, index, pixels]
for (let d = 0; d < 10; d++) {
  const data = JSON.parse(readFileSync(`${dir}${d}.json`, 'utf8')).data;
  const n = data.length / 784;
  counts.push(n);
  const cut = Math.floor(n * 0.8);
  for (let i = 0; i < n; i++) {
    if (!(i < TRAIN_PER_DIGIT || (i >= cut && i < cut + HELD_OUT_PER_DIGIT))) continue;
    const pixels = Uint8Array.from(data.slice(i * 784, (i + 1) * 784), (v) => Math.round(v * 255));
    pixels.forEach((b, j) => {
      if (Math.round((b / 255) * 1000) / 1000 !== data[i * 784 + j]) throw new Error(`digit ${d} image ${i} pixel ${j}: ${data[i * 784 + j]} is not round(b / 255, 3)`);
    });
    picked.push([d, i, pixels]);
  }
}
const n = picked.length;
const out = Buffer.alloc(8 + 20 + 4 + n * (1 + 2 + 784));
out.write('ETMNIST1', 0, 'latin1');
counts.forEach((c, d) => out.writeUInt16LE(c, 8 + 2 * d));
out.writeUInt32LE(n, 28);
picked.forEach(([d, i, pixels], k) => {
  out[32 + k] = d;
  out.writeUInt16LE(i, 32 + n + 2 * k);
  out.set(pixels, 32 + 3 * n + 784 * k);
});
mkdirSync('data', { recursive: true });
const gz = gzipSync(out, { level: 9 });
writeFileSync('data/mnist-subset.bin.gz', gz);
console.log(`data/mnist-subset.bin.gz: ${n} images, ${out.length} bytes, ${gz.length} gzipped`);
