// samples.bin (written by scripts/build-browser.mjs): real MNIST digits 5-9, a training part and a
// held-out part. Layout: 'EDSM', u32 version 1, u32 training count, u32 held-out count, then u16
// pixels (thousandths, 784 per image), then a u8 digit per image.
export interface SampleSet {
  x: Float32Array; // n x 784, in [0, 1]
  digits: Uint8Array; // n, 5-9
  n: number;
}

export function decodeSamples(buffer: ArrayBuffer): { train: SampleSet; heldOut: SampleSet } {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, Math.min(4, buffer.byteLength)));
  if (buffer.byteLength < 16 || magic !== 'EDSM') throw new Error(`samples.bin: not a sample file (magic '${magic}')`);
  const version = view.getUint32(4, true);
  if (version !== 1) throw new Error(`samples.bin: version ${version}, this page reads version 1`);
  const nTrain = view.getUint32(8, true);
  const nHeld = view.getUint32(12, true);
  const n = nTrain + nHeld;
  if (buffer.byteLength !== 16 + n * 784 * 2 + n) throw new Error(`samples.bin: ${buffer.byteLength} bytes, expected ${16 + n * 1569} for ${n} images`);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = view.getUint16(16 + 2 * i, true) / 1000;
  const digits = new Uint8Array(buffer, 16 + n * 784 * 2, n).slice();
  return {
    train: { x: x.slice(0, nTrain * 784), digits: digits.slice(0, nTrain), n: nTrain },
    heldOut: { x: x.slice(nTrain * 784), digits: digits.slice(nTrain), n: nHeld },
  };
}
