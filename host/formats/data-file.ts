// The training-data file (`.etd`): a 32-byte header, then one fixed-size record per sample, in the
// order fine-tuning visits them. Little-endian. Layout in docs/wasi.md; read by assembly/wasi/wasi.ts.
import { EdgetuneError, InvalidArgumentError } from '../core/errors';

export const DATA_FILE_MAGIC = 0x44535445; // 'ETSD' read as a little-endian u32
export const DATA_FILE_VERSION = 1;
export const DATA_FILE_HEADER_BYTES = 32;
export const LABELS_SPARSE = 0; // i32 class indices
export const LABELS_DENSE = 1; // f32 targets

export interface TrainingData {
  x: Float32Array; // count * xFloats
  xFloats: number;
  labels: Int32Array | Float32Array; // count * labelWords; Int32Array = class indices
  labelWords: number;
}

export function dataToFileBytes(d: TrainingData): Uint8Array {
  const count = d.x.length / d.xFloats;
  if (!Number.isInteger(count) || count <= 0) throw new InvalidArgumentError(`training data: ${d.x.length} input floats is not a whole number of ${d.xFloats}-float records`);
  if (d.labels.length !== count * d.labelWords) throw new InvalidArgumentError(`training data: ${count} records need ${count * d.labelWords} label words, got ${d.labels.length}`);
  for (let i = 0; i < d.x.length; i++) {
    if (!Number.isFinite(d.x[i])) throw new InvalidArgumentError(`training data: record ${Math.floor(i / d.xFloats)} has a non-finite input (${d.x[i]}) at element ${i % d.xFloats}`);
  }
  const sparse = d.labels instanceof Int32Array;
  const recordWords = d.xFloats + d.labelWords;
  const bytes = new Uint8Array(DATA_FILE_HEADER_BYTES + count * recordWords * 4);
  const view = new DataView(bytes.buffer);
  const head = [DATA_FILE_MAGIC, DATA_FILE_VERSION, DATA_FILE_HEADER_BYTES, count, d.xFloats, sparse ? LABELS_SPARSE : LABELS_DENSE, d.labelWords, 0];
  head.forEach((v, i) => view.setUint32(4 * i, v, true));
  let at = DATA_FILE_HEADER_BYTES;
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < d.xFloats; j++, at += 4) view.setFloat32(at, d.x[r * d.xFloats + j], true);
    for (let j = 0; j < d.labelWords; j++, at += 4) {
      if (sparse) view.setInt32(at, d.labels[r * d.labelWords + j], true);
      else view.setFloat32(at, d.labels[r * d.labelWords + j], true);
    }
  }
  return bytes;
}

export function dataFromFileBytes(bytes: Uint8Array, source = '<data>'): TrainingData {
  const fail = (why: string) => new EdgetuneError('DataFile', `${source}: ${why}`);
  if (bytes.length < DATA_FILE_HEADER_BYTES) throw fail(`${bytes.length} bytes, shorter than the ${DATA_FILE_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u = (i: number) => view.getUint32(4 * i, true);
  if (u(0) !== DATA_FILE_MAGIC) throw fail('not an edgetune training-data file (bad magic)');
  if (u(1) !== DATA_FILE_VERSION) throw fail(`data file version ${u(1)}, this build reads version ${DATA_FILE_VERSION}`);
  const [headerBytes, count, xFloats, kind, labelWords] = [u(2), u(3), u(4), u(5), u(6)];
  const expected = headerBytes + count * (xFloats + labelWords) * 4;
  if (bytes.length !== expected) throw fail(`${count} records of ${xFloats}+${labelWords} words need ${expected} bytes, the file has ${bytes.length}`);
  const x = new Float32Array(count * xFloats);
  const labels = kind === LABELS_SPARSE ? new Int32Array(count * labelWords) : new Float32Array(count * labelWords);
  let at = headerBytes;
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < xFloats; j++, at += 4) x[r * xFloats + j] = view.getFloat32(at, true);
    for (let j = 0; j < labelWords; j++, at += 4) labels[r * labelWords + j] = kind === LABELS_SPARSE ? view.getInt32(at, true) : view.getFloat32(at, true);
  }
  return { x, xFloats, labels, labelWords };
}
