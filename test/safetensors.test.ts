// safetensors reader, writer and element conversions. Files are assembled here byte by byte
// (fileFrom), independently of the writer; expected writer output and error vectors follow the
// reference implementation's own tests (huggingface/safetensors, safetensors/src/tensor.rs).
import { describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  readSafetensors,
  toFloat32,
  writeSafetensors,
  type SafetensorsErrorCode,
  type TensorEntry,
} from '../host/formats/safetensors';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../host/core/float16';

const utf8 = new TextEncoder();

// [u64 LE N][header bytes][data]; N defaults to the header's byte length.
function fileFrom(header: string | Uint8Array, data: ArrayLike<number> = [], declared?: number | bigint): Uint8Array {
  const headerBytes = typeof header === 'string' ? utf8.encode(header) : header;
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength).slice();
}

function expectError(run: () => unknown, code: SafetensorsErrorCode, tensor?: string): SafetensorsError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const error = caught as SafetensorsError;
  expect(error.code, error.message).toBe(code);
  if (tensor !== undefined) {
    expect(error.tensor).toBe(tensor);
    expect(error.message).toContain(`"${tensor}"`);
  }
  return error;
}

// Header of a written file, padding included.
function headerText(file: Uint8Array): string {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(file.subarray(8, 8 + n));
}

const zeros = (n: number) => new Uint8Array(n);

describe('writeSafetensors / readSafetensors round trip', () => {
  it('keeps every dtype, shape (zero-size, rank-0), byte and metadata value', () => {
    const i64 = new BigInt64Array([-(2n ** 62n), 0n, 1234567890123n]);
    const u64 = new BigUint64Array([2n ** 64n - 1n, 7n]);
    const input = [
      { name: 'dense/kernel', dtype: 'F32' as const, shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, -0, 1e-30]) },
      { name: 'dense/bias', dtype: 'F32' as const, shape: [3], data: bytesOf(new Float32Array([0.25, 0.5, 0.75])) },
      { name: 'half', dtype: 'F16' as const, shape: [2, 2], data: new Float32Array([1, -2, 65504, 2 ** -24]) },
      { name: 'brain', dtype: 'BF16' as const, shape: [2], data: new Float32Array([1.5, -3]) },
      { name: 'double', dtype: 'F64' as const, shape: [2, 1], data: new Float32Array([0.1, -7]) },
      { name: 'index', dtype: 'I64' as const, shape: [3], data: bytesOf(i64) },
      { name: 'unsigned64', dtype: 'U64' as const, shape: [2], data: bytesOf(u64) },
      { name: 'i32', dtype: 'I32' as const, shape: [1, 1, 2], data: bytesOf(new Int32Array([-5, 16777217])) },
      { name: 'u32', dtype: 'U32' as const, shape: [1], data: bytesOf(new Uint32Array([4000000000])) },
      { name: 'i16', dtype: 'I16' as const, shape: [2], data: bytesOf(new Int16Array([-32768, 32767])) },
      { name: 'u16', dtype: 'U16' as const, shape: [2], data: bytesOf(new Uint16Array([0, 65535])) },
      { name: 'mask', dtype: 'BOOL' as const, shape: [3], data: new Uint8Array([1, 0, 1]) },
      { name: 'bytes', dtype: 'U8' as const, shape: [3], data: new Uint8Array([0, 128, 255]) },
      { name: 'signed', dtype: 'I8' as const, shape: [2], data: new Uint8Array([0x80, 0x7f]) },
      { name: 'e4m3', dtype: 'F8_E4M3' as const, shape: [2], data: new Uint8Array([0x38, 0x7e]) },
      { name: 'e5m2', dtype: 'F8_E5M2' as const, shape: [2], data: new Uint8Array([0x3c, 0xc0]) },
      { name: 'empty', dtype: 'F32' as const, shape: [2, 0, 3], data: new Float32Array(0) },
      { name: 'empty_i64', dtype: 'I64' as const, shape: [0], data: new Uint8Array(0) },
      { name: 'scalar', dtype: 'F32' as const, shape: [], data: new Float32Array([7]) },
      { name: 'scalar_u8', dtype: 'U8' as const, shape: [], data: new Uint8Array([9]) },
    ];
    const metadata: Record<string, string> = { format: 'pt', note: 'ünïcode "quoted"\n\ttab' };
    Object.defineProperty(metadata, '__proto__', { value: 'plain key', enumerable: true });
    const file = writeSafetensors(input, metadata);
    const { tensors, metadata: readBack } = readSafetensors(file);

    expect(readBack).toEqual(metadata);
    expect(Object.keys(readBack)).toContain('__proto__');
    expect(tensors.size).toBe(input.length);
    const expectedValues: Record<string, number[]> = {
      'dense/kernel': [1, -2, 3.5, 0, -0, Math.fround(1e-30)],
      'dense/bias': [0.25, 0.5, 0.75],
      half: [1, -2, 65504, 2 ** -24],
      brain: [1.5, -3],
      double: [Math.fround(0.1), -7],
      index: [-(2 ** 62), 0, Math.fround(1234567890123)],
      unsigned64: [2 ** 64, 7],
      i32: [-5, 16777216],
      u32: [4000000000],
      i16: [-32768, 32767],
      u16: [0, 65535],
      mask: [1, 0, 1],
      bytes: [0, 128, 255],
      signed: [-128, 127],
      e4m3: [1, 448],
      e5m2: [1, -2],
      empty: [],
      empty_i64: [],
      scalar: [7],
      scalar_u8: [9],
    };
    for (const t of input) {
      const entry = tensors.get(t.name)!;
      expect(entry.name).toBe(t.name);
      expect(entry.dtype).toBe(t.dtype);
      expect(entry.shape).toEqual(t.shape);
      const size = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2 }[t.dtype as string] ?? 1;
      expect(entry.data.byteOffset % size, `${t.name} aligned`).toBe(0);
      expect(entry.data.buffer).toBe(file.buffer); // a view, not a copy
      if (t.data instanceof Uint8Array) expect(entry.data).toEqual(t.data);
      expect(Array.from(toFloat32(entry)), t.name).toEqual(expectedValues[t.name]);
    }
    // Encoded from Float32Array values: check the stored bits too.
    expect(Array.from(new Uint16Array(tensors.get('half')!.data.slice().buffer))).toEqual([0x3c00, 0xc000, 0x7bff, 0x0001]);
    expect(Array.from(new Uint16Array(tensors.get('brain')!.data.slice().buffer))).toEqual([0x3fc0, 0xc040]);
    expect(Array.from(new Float64Array(tensors.get('double')!.data.slice().buffer))).toEqual([Math.fround(0.1), -7]);
  });

  it('writes an empty file exactly like the reference', () => {
    // serialize(&{}, &None) and serialize(&{}, &Some({"framework": "pt"})) in the reference tests.
    expect(Array.from(writeSafetensors([]))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(writeSafetensors([], {}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(writeSafetensors([], { framework: 'pt' }))).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114,
      97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it('writes a single tensor exactly like the reference, padding the header with spaces to 8', () => {
    const values = new Float32Array([0, 1, 2, 3, 4, 5]);
    // 64-byte header: no padding.
    const header64 = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(header64.length).toBe(64);
    expect(writeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: values }])).toEqual(
      fileFrom(header64, bytesOf(values)),
    );
    // 65 bytes of JSON + 7 spaces.
    const header72 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + ' '.repeat(7);
    expect(header72.length).toBe(72);
    expect(writeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data: values }])).toEqual(
      fileFrom(header72, bytesOf(values)),
    );
  });

  it('puts __metadata__ first, sorts by dtype alignment then name (UTF-8 byte order), aligns every tensor', () => {
    const file = writeSafetensors(
      [
        { name: 'z', dtype: 'U8', shape: [3], data: zeros(3) },
        { name: 'b', dtype: 'F32', shape: [1], data: zeros(4) },
        { name: 'a2', dtype: 'BF16', shape: [1], data: zeros(2) },
        { name: 'a', dtype: 'F32', shape: [1], data: zeros(4) },
        { name: 'c', dtype: 'F64', shape: [1], data: zeros(8) },
        { name: 'e', dtype: 'I64', shape: [1], data: zeros(8) },
        { name: 'm', dtype: 'BOOL', shape: [1], data: zeros(1) },
        { name: '\u{1F600}', dtype: 'I16', shape: [1], data: zeros(2) },
        { name: '\uFF01', dtype: 'I16', shape: [1], data: zeros(2) },
      ],
      { framework: 'edgetune', z: 'last' },
    );
    const text = headerText(file);
    const headerBytes = utf8.encode(text).length;
    expect(headerBytes % 8).toBe(0);
    expect(text.startsWith('{"__metadata__":{"framework":"edgetune","z":"last"},')).toBe(true);
    const json = text.trimEnd();
    expect(text.slice(json.length)).toMatch(/^ {0,7}$/);
    const header = JSON.parse(json) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    // Object.keys keeps the writer's order (none of these names is an array index).
    expect(names).toEqual(['e', 'c', 'a', 'b', 'a2', '\uFF01', '\u{1F600}', 'z', 'm']);
    let end = 0;
    for (const name of names) {
      const [begin, stop] = header[name].data_offsets;
      expect(begin).toBe(end);
      const size = { I64: 8, F64: 8, F32: 4, BF16: 2, I16: 2, U8: 1, BOOL: 1 }[header[name].dtype]!;
      expect(begin % size).toBe(0);
      end = stop;
    }
    expect(file.length).toBe(8 + headerBytes + end);
    expect([...readSafetensors(file).tensors.keys()]).toEqual(names);
  });
});

describe('readSafetensors on hand-built files', () => {
  it('reads out-of-order entries, whitespace, rank-0 and zero-size tensors', () => {
    const data = new Uint8Array(4 + 8 + 2);
    const view = new DataView(data.buffer);
    view.setFloat32(0, -1.5, true); // "b": F32 [] at [0, 4]
    view.setInt32(4, 17, true); // "a": I32 [2] at [4, 12]
    view.setInt32(8, -3, true);
    view.setUint16(12, 0x3555, true); // "h": F16 [1, 1] at [12, 14]
    const header =
      ' \n\t{ "a" : {"shape": [2], "dtype": "I32", "data_offsets": [4, 12], "extra": {"ignored": [1.5, null]}},\r\n' +
      '  "__metadata__": {"format": "pt", "k": "\\u00e9\\ud83d\\ude00\\n"},' +
      '  "h": {"dtype": "F16", "shape": [1, 1], "data_offsets": [12, 14]},' +
      '  "b": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},' +
      '  "none": {"dtype": "BF16", "shape": [3, 0], "data_offsets": [14, 14]} }   \n';
    const { tensors, metadata } = readSafetensors(fileFrom(header, data));
    expect(metadata).toEqual({ format: 'pt', k: 'é\u{1F600}\n' });
    expect([...tensors.keys()]).toEqual(['b', 'a', 'h', 'none']);
    const b = tensors.get('b')!;
    expect(b.shape).toEqual([]);
    expect(Array.from(toFloat32(b))).toEqual([-1.5]);
    expect(Array.from(toFloat32(tensors.get('a')!))).toEqual([17, -3]);
    expect(Array.from(toFloat32(tensors.get('h')!))).toEqual([float16BitsToFloat32(0x3555)]);
    expect(float16BitsToFloat32(0x3555)).toBe(0.333251953125);
    const none = tensors.get('none')!;
    expect(none.shape).toEqual([3, 0]);
    expect(none.data.length).toBe(0);
    expect(toFloat32(none).length).toBe(0);
  });

  it('accepts the reference test vectors', () => {
    // test_deserialization
    const deserialization = readSafetensors(
      fileFrom('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', zeros(16)),
    );
    expect(deserialization.tensors.get('test')).toMatchObject({ dtype: 'I32', shape: [2, 2] });
    // test_empty_shapes_allowed
    const scalar = readSafetensors(fileFrom('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', zeros(4)));
    expect(scalar.tensors.get('test')!.shape).toEqual([]);
    // test_zero_sized_tensor (N = 60 covers 60 header bytes; nothing after it)
    const zero = '{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}';
    expect(readSafetensors(fileFrom(zero)).tensors.get('test')!.shape).toEqual([2, 0]);
    // test_whitespace_padded_header
    expect(readSafetensors(fileFrom('{}\r \t\n')).tensors.size).toBe(0);
    // Leading whitespace is accepted too (the reference's '{' check is not enabled).
    expect(readSafetensors(fileFrom('\t\n{}  ')).tensors.size).toBe(0);
    // A null __metadata__ is no metadata; a dimension of 0 makes any other dimension fit.
    const nullMeta = readSafetensors(
      fileFrom('{"__metadata__":null,"t":{"dtype":"U8","shape":[0,1099511627776,1099511627776],"data_offsets":[0,0]}}'),
    );
    expect(nullMeta.metadata).toEqual({});
    expect(nullMeta.tensors.get('t')!.shape).toEqual([0, 2 ** 40, 2 ** 40]);
    // Two zero-size tensors at the same offset.
    const twoEmpty = readSafetensors(
      fileFrom('{"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"y":{"dtype":"F64","shape":[0],"data_offsets":[0,0]}}'),
    );
    expect(twoEmpty.tensors.size).toBe(2);
  });

  it('reads a file that lives at an unaligned offset of a larger buffer', () => {
    const values = new Float32Array([1, 2, 3]);
    const file = writeSafetensors([{ name: 'w', dtype: 'F32', shape: [3], data: values }]);
    const backing = new Uint8Array(file.length + 3);
    backing.set(file, 3);
    const entry = readSafetensors(backing.subarray(3)).tensors.get('w')!;
    expect(entry.data.byteOffset % 4).toBe(3);
    expect(Array.from(toFloat32(entry))).toEqual([1, 2, 3]);
  });
});

describe('readSafetensors rejects what the reference rejects', () => {
  const I32x4 = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';

  it('HeaderTooSmall', () => {
    expect(expectError(() => readSafetensors(new Uint8Array(0)), 'HeaderTooSmall').message).toContain('0 bytes');
    const error = expectError(() => readSafetensors(new Uint8Array(7), 'tiny.safetensors'), 'HeaderTooSmall');
    expect(error.source).toBe('tiny.safetensors');
    expect(error.message).toMatch(/^tiny\.safetensors: HeaderTooSmall: file is 7 bytes/);
  });

  it('HeaderTooLarge', () => {
    // test_header_too_large: '<' then 0xff in the high bytes.
    const file = fileFrom(I32x4, zeros(16));
    file.set([0xff, 0xff, 0xff], 5);
    expectError(() => readSafetensors(file), 'HeaderTooLarge');
    const error = expectError(() => readSafetensors(fileFrom('{}', [], 100_000_001), 'big.safetensors'), 'HeaderTooLarge');
    expect(error.message).toContain('100000001');
    expect(error.message).toContain('big.safetensors');
    // At the limit it is not too large, only longer than the file.
    expectError(() => readSafetensors(fileFrom('{}', [], 100_000_000)), 'InvalidHeaderLength');
  });

  it('InvalidHeaderLength', () => {
    // test_invalid_header_length: N = 60 and nothing after it.
    const error = expectError(() => readSafetensors(fileFrom('', [], 60)), 'InvalidHeaderLength');
    expect(error.message).toContain('68 bytes');
    expect(error.message).toContain('has 8');
  });

  it('InvalidHeaderDeserialization: not UTF-8', () => {
    // test_invalid_header_non_utf8
    const error = expectError(() => readSafetensors(fileFrom(new Uint8Array([0xff]))), 'InvalidHeaderDeserialization');
    expect(error.message).toContain('UTF-8');
    expect(error.message).toContain('file byte 8');
    // Overlong '/', an encoded surrogate, a truncated sequence: each reported at its first byte.
    for (const [bytes, at] of [
      [[0x7b, 0x20, 0xc0, 0xaf, 0x7d], 10],
      [[0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22], 10],
      [[0x7b, 0x7d, 0x20, 0xe2, 0x82], 11],
    ] as const) {
      const e = expectError(() => readSafetensors(fileFrom(new Uint8Array(bytes))), 'InvalidHeaderDeserialization');
      expect(e.message).toContain(`file byte ${at}`);
    }
  });

  it('InvalidHeaderDeserialization: not a JSON object', () => {
    const cases: Array<[string, string]> = [
      ['{', 'not valid JSON'], // test_invalid_header_not_json
      ['[]', 'must be a JSON object'],
      ['"x"', 'must be a JSON object'],
      ['{}x', 'trailing characters'],
      ['{"a":1,}', 'expected a string key'],
      ['{\'a\':1}', 'expected a string key'],
      ['\uFEFF{}', 'unexpected'], // a byte order mark is not JSON whitespace
      ['{"a\u0001":1}', 'control character'],
      ['{"\\ud800":{}}', 'lone leading surrogate'],
      ['{"\\udc00":{}}', 'lone trailing surrogate'],
      ['{"\\x":{}}', 'invalid escape'],
      ['{"__metadata__":{"n":1e999}}', 'number out of range'],
      ['[' .repeat(100_000), 'nesting deeper than 127'],
    ];
    for (const [header, reason] of cases) {
      const error = expectError(() => readSafetensors(fileFrom(header)), 'InvalidHeaderDeserialization');
      expect(error.message, header.slice(0, 20)).toContain(reason);
    }
    // 127 levels are fine (serde_json's limit is 128).
    const deep = `{"__metadata__":null,"t":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":${'['.repeat(125)}${']'.repeat(125)}}}`;
    expect(readSafetensors(fileFrom(deep, [1])).tensors.size).toBe(1);
    const deeper = deep.replace('['.repeat(125), '['.repeat(126)).replace(']'.repeat(125), ']'.repeat(126));
    expectError(() => readSafetensors(fileFrom(deeper, [1])), 'InvalidHeaderDeserialization');
  });

  it('InvalidHeaderDeserialization: metadata values must be strings', () => {
    const error = expectError(
      () => readSafetensors(fileFrom('{"__metadata__":{"format":"pt","epochs":3}}'), 'meta.safetensors'),
      'InvalidHeaderDeserialization',
    );
    expect(error.message).toContain('"epochs"');
    expect(error.message).toContain('meta.safetensors');
    expectError(() => readSafetensors(fileFrom('{"__metadata__":["pt"]}')), 'InvalidHeaderDeserialization');
    expectError(() => readSafetensors(fileFrom('{"__metadata__":{"a":null}}')), 'InvalidHeaderDeserialization');
  });

  it('InvalidOffset', () => {
    // test_json_attack: every tensor claims [0, 16].
    const attack = `{${Array.from({ length: 10 }, (_, i) => `"weight_${i}":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`).join(',')}}`;
    const error = expectError(() => readSafetensors(fileFrom(attack, zeros(16))), 'InvalidOffset');
    expect(error.tensor).toMatch(/^weight_\d$/);
    expect(error.message).toContain('must start at data byte 16');

    const first = expectError(
      () => readSafetensors(fileFrom('{"late":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}', zeros(8)), 'f.safetensors'),
      'InvalidOffset',
      'late',
    );
    expect(first.message).toContain('[4, 8]');
    expect(first.message).toContain('start at data byte 0');
    expect(first.source).toBe('f.safetensors');

    const gap = expectError(
      () =>
        readSafetensors(
          fileFrom('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}', zeros(8)),
        ),
      'InvalidOffset',
      'b',
    );
    expect(gap.message).toContain('must start at data byte 4, where tensor "a" ends');

    expectError(
      () =>
        readSafetensors(
          fileFrom('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}', zeros(4)),
        ),
      'InvalidOffset',
      'b',
    );
    const reversed = expectError(
      () => readSafetensors(fileFrom('{"r":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"s":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}', [0])),
      'InvalidOffset',
      't',
    );
    expect(reversed.message).toContain('end before they begin');
  });

  it('ValidationOverflow', () => {
    // test_validation_overflow: the shape product, then the byte count, overflow u64.
    const shape = expectError(
      () => readSafetensors(fileFrom('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', zeros(16))),
      'ValidationOverflow',
      'test',
    );
    expect(shape.message).toContain('element count');
    const bytes = expectError(
      () => readSafetensors(fileFrom('{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', zeros(16))),
      'ValidationOverflow',
      'test',
    );
    expect(bytes.message).toContain('byte count');
    // Checked in order, like checked_mul in try_fold: a later 0 does not save an earlier overflow.
    expectError(
      () => readSafetensors(fileFrom('{"t":{"dtype":"U8","shape":[1099511627776,1099511627776,0],"data_offsets":[0,0]}}')),
      'ValidationOverflow',
      't',
    );
  });

  it('TensorInvalidInfo', () => {
    // test_invalid_info
    const error = expectError(
      () => readSafetensors(fileFrom('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}', zeros(4)), 'w.safetensors'),
      'TensorInvalidInfo',
      'test',
    );
    expect(error.message).toContain('span 4 bytes');
    expect(error.message).toContain('4 elements x 4 bytes = 16 bytes');
    expect(error.message).toContain('w.safetensors');
  });

  it('MetadataIncompleteBuffer', () => {
    // test_metadata_incomplete_buffer: trailing bytes, then 2 bytes missing.
    const extra = utf8.encode('extra_bogus_data_for_polyglot_file');
    const trailing = expectError(
      () => readSafetensors(fileFrom(I32x4, [...zeros(16), ...extra])),
      'MetadataIncompleteBuffer',
      'test',
    );
    expect(trailing.message).toContain(`8 + 60 + 16 = 84 bytes, but it has ${84 + extra.length}`);
    const short = expectError(() => readSafetensors(fileFrom(I32x4, zeros(14))), 'MetadataIncompleteBuffer', 'test');
    expect(short.message).toContain('but it has 82');
    expectError(() => readSafetensors(fileFrom('{}', [0])), 'MetadataIncompleteBuffer');
  });

  it('InvalidDtype', () => {
    for (const dtype of ['F128', 'f32', 'FLOAT32', '']) {
      const error = expectError(
        () => readSafetensors(fileFrom(`{"w":{"dtype":"${dtype}","shape":[1],"data_offsets":[0,4]}}`, zeros(4))),
        'InvalidDtype',
        'w',
      );
      expect(error.message).toContain(`"${dtype}"`);
    }
  });

  it('InvalidTensorInfo', () => {
    const entries = [
      '{"shape":[-1],"dtype":"U8","data_offsets":[0,0]}',
      '{"shape":[-0],"dtype":"U8","data_offsets":[0,0]}',
      '{"shape":[1.0],"dtype":"U8","data_offsets":[0,1]}',
      '{"shape":[1e0],"dtype":"U8","data_offsets":[0,1]}',
      '{"shape":["1"],"dtype":"U8","data_offsets":[0,1]}',
      '{"shape":1,"dtype":"U8","data_offsets":[0,1]}',
      '{"shape":[18446744073709551616],"dtype":"U8","data_offsets":[0,1]}',
      '{"shape":[1],"dtype":"U8","data_offsets":[0]}',
      '{"shape":[1],"dtype":"U8","data_offsets":[0,1,2]}',
      '{"shape":[1],"dtype":"U8","data_offsets":{"begin":0,"end":1}}',
      '{"shape":[1],"dtype":"U8","data_offsets":[0,-1]}',
      '{"shape":[1],"dtype":8,"data_offsets":[0,1]}',
      '{"shape":[1],"data_offsets":[0,1]}',
      '{"dtype":"U8","data_offsets":[0,1]}',
      '{"dtype":"U8","shape":[1]}',
      '[1]',
      '"U8"',
    ];
    for (const entry of entries) {
      const error = expectError(() => readSafetensors(fileFrom(`{"layer.weight":${entry}}`, [0])), 'InvalidTensorInfo', 'layer.weight');
      expect(error.message.length).toBeGreaterThan(30);
    }
    // Valid for the reference (0 elements), but the dimension does not fit a number.
    const huge = expectError(
      () => readSafetensors(fileFrom('{"t":{"dtype":"U8","shape":[0,9223372036854775808],"data_offsets":[0,0]}}')),
      'InvalidTensorInfo',
      't',
    );
    expect(huge.message).toContain('9223372036854775808');
  });

  it('type errors anywhere win over offset errors (the header is deserialized first)', () => {
    const header = '{"a":{"dtype":"U8","shape":[1],"data_offsets":[5,6]},"z":{"dtype":"X","shape":[1],"data_offsets":[0,1]}}';
    expectError(() => readSafetensors(fileFrom(header, [0])), 'InvalidDtype', 'z');
  });
});

describe('writeSafetensors rejects bad input', () => {
  it('duplicate names, length mismatches, unknown dtypes, bad shapes', () => {
    const dup = expectError(
      () =>
        writeSafetensors([
          { name: 'w', dtype: 'U8', shape: [1], data: zeros(1) },
          { name: 'w', dtype: 'U8', shape: [1], data: zeros(1) },
        ]),
      'InvalidTensorInfo',
      'w',
    );
    expect(dup.message).toContain('duplicate');
    const bytes = expectError(
      () => writeSafetensors([{ name: 'k', dtype: 'F32', shape: [2, 3], data: zeros(20) }]),
      'TensorInvalidInfo',
      'k',
    );
    expect(bytes.message).toContain('has 20 bytes');
    expect(bytes.message).toContain('6 x 4 = 24 bytes');
    const values = expectError(
      () => writeSafetensors([{ name: 'v', dtype: 'F16', shape: [4], data: new Float32Array(3) }]),
      'TensorInvalidInfo',
      'v',
    );
    expect(values.message).toContain('3 values');
    expectError(
      () => writeSafetensors([{ name: 'q', dtype: 'Q4' as never, shape: [1], data: zeros(1) }]),
      'InvalidDtype',
      'q',
    );
    expectError(() => writeSafetensors([{ name: 'i', dtype: 'I32', shape: [1], data: new Float32Array(1) }]), 'InvalidTensorInfo', 'i');
    expectError(() => writeSafetensors([{ name: 's', dtype: 'U8', shape: [-1], data: zeros(0) }]), 'InvalidTensorInfo', 's');
    expectError(() => writeSafetensors([{ name: 's', dtype: 'U8', shape: [0.5], data: zeros(0) }]), 'InvalidTensorInfo', 's');
    expectError(
      () => writeSafetensors([{ name: '__metadata__', dtype: 'U8', shape: [0], data: zeros(0) }]),
      'InvalidTensorInfo',
      '__metadata__',
    );
    expectError(
      () => writeSafetensors([], { epochs: 3 as unknown as string }),
      'InvalidHeaderDeserialization',
    );
  });
});

// Bit-level references, written independently of the implementation under test.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const asFloat = (bits: number) => ((u32[0] = bits), f32[0]);
const asBits = (x: number) => ((f32[0] = x), u32[0]);

function halfToFloatBitsReference(h: number): number {
  const sign = (h & 0x8000) << 16;
  let exponent = (h >> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0;
  if (exponent === 0) {
    if (mantissa === 0) return sign >>> 0;
    exponent = 1;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      exponent--;
    }
    mantissa &= 0x3ff;
  }
  return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
}

// F. Giesen's float_to_half_fast3_rtne.
function floatBitsToHalfReference(bits: number): number {
  const sign = bits & 0x80000000;
  let f = (bits ^ sign) >>> 0;
  let o: number;
  if (f >= 0x47800000) o = f > 0x7f800000 ? 0x7e00 : 0x7c00;
  else if (f < 0x38800000) o = asBits(Math.fround(asFloat(f) + 0.5)) - 0x3f000000;
  else {
    const mantissaOdd = (f >>> 13) & 1;
    f += ((15 - 127) << 23) + 0xfff + mantissaOdd;
    o = f >>> 13;
  }
  return o | (sign >>> 16);
}

describe('float16', () => {
  it('decodes known bit patterns', () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0xc000)).toBe(-2);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(float16BitsToFloat32(0x0400)).toBe(2 ** -14);
    expect(float16BitsToFloat32(0x7c00)).toBe(Infinity);
    expect(float16BitsToFloat32(0xfc00)).toBe(-Infinity);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(Object.is(float16BitsToFloat32(0x0000), 0)).toBe(true);
  });

  it('encodes known values', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00);
    expect(float32ToFloat16Bits(-2)).toBe(0xc000);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(float32ToFloat16Bits(NaN)).toBe(0x7e00);
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(0)).toBe(0x0000);
    expect(float32ToFloat16Bits(1e-10)).toBe(0x0000);
    expect(float32ToFloat16Bits(-1e-10)).toBe(0x8000);
    expect(float32ToFloat16Bits(1e10)).toBe(0x7c00);
  });

  it('rounds to nearest, ties to even', () => {
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway 0x3c00 / 0x3c01: even is 0x3c00
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 0x3c01 / 0x3c02: even is 0x3c02
    expect(float32ToFloat16Bits(Math.fround(1 + 2 ** -11 + 2 ** -23))).toBe(0x3c01); // just above halfway
    expect(float32ToFloat16Bits(-(1 + 2 ** -11))).toBe(0xbc00);
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // halfway 65504 / 65536 rounds to even: infinity
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000); // subnormal halfway 0 / 1
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // subnormal halfway 1 / 2
    expect(float32ToFloat16Bits(1023.5 * 2 ** -24)).toBe(0x0400); // halfway into the smallest normal
    expect(float32ToFloat16Bits(2047.5 * 2 ** -24)).toBe(0x0800); // mantissa carry into the exponent
    // Straight from the number: a double just above a tie rounds up, where rounding to float32 first would tie.
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
  });

  it('decodes all 65536 patterns exactly and encodes them back', () => {
    const wrong: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const x = float16BitsToFloat32(h);
      const reference = asFloat(halfToFloatBitsReference(h));
      if (Number.isNaN(reference)) {
        if (!Number.isNaN(x) || float32ToFloat16Bits(x) !== 0x7e00) wrong.push(`NaN ${h.toString(16)}`);
      } else if (!Object.is(x, reference) || Math.fround(x) !== x) {
        wrong.push(`decode ${h.toString(16)}: ${x}, expected ${reference}`);
      } else if (float32ToFloat16Bits(x) !== h) {
        wrong.push(`encode ${x}: ${float32ToFloat16Bits(x).toString(16)}, expected ${h.toString(16)}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('encodes float32 like a bit-level reference, over every exponent and every rounding case', () => {
    // For each of the 2^19 high bit patterns: the 13 bits dropped at exactly, below and above a tie.
    const lows = [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff];
    let mismatches = 0;
    for (let high = 0; high < 1 << 19; high++) {
      for (const low of lows) {
        const bits = ((high << 13) | low) >>> 0;
        const x = asFloat(bits);
        if (Number.isNaN(x)) continue;
        if (float32ToFloat16Bits(x) !== floatBitsToHalfReference(bits) && mismatches++ < 5) {
          expect([bits.toString(16), float32ToFloat16Bits(x)]).toEqual([bits.toString(16), floatBitsToHalfReference(bits)]);
        }
      }
    }
    expect(mismatches).toBe(0);
  });
});

describe('toFloat32', () => {
  const entry = (dtype: TensorEntry['dtype'], shape: number[], data: Uint8Array): TensorEntry => ({ name: 't', dtype, shape, data });

  it('copies F32 from an unaligned view', () => {
    const backing = new Uint8Array(13);
    const data = backing.subarray(1);
    const view = new DataView(data.buffer, data.byteOffset);
    [1.5, -0, 3e38].forEach((v, i) => view.setFloat32(4 * i, v, true));
    const out = toFloat32(entry('F32', [3], data));
    expect(Array.from(out)).toEqual([1.5, -0, Math.fround(3e38)]);
    out[0] = 99;
    expect(view.getFloat32(0, true)).toBe(1.5);
  });

  it('rounds wide integers to nearest even, once', () => {
    const big = 2n ** 60n + 2n ** 36n + 1n; // just above the tie between 2^60 and 2^60 + 2^37
    const i64 = bytesOf(new BigInt64Array([big, -big, -(2n ** 63n), 2n ** 53n + 1n, 2n ** 60n + 2n ** 36n]));
    expect(Array.from(toFloat32(entry('I64', [5], i64)))).toEqual([
      2 ** 60 + 2 ** 37,
      -(2 ** 60 + 2 ** 37),
      -(2 ** 63),
      2 ** 53,
      2 ** 60, // an exact tie goes to even
    ]);
    const u64 = bytesOf(new BigUint64Array([2n ** 64n - 1n, 0n, 16777217n]));
    expect(Array.from(toFloat32(entry('U64', [3], u64)))).toEqual([2 ** 64, 0, 16777216]);
    const i32 = bytesOf(new Int32Array([16777217, 16777219, -2147483648]));
    expect(Array.from(toFloat32(entry('I32', [3], i32)))).toEqual([16777216, 16777220, -2147483648]);
    expect(Array.from(toFloat32(entry('U32', [1], bytesOf(new Uint32Array([0xffffffff])))))).toEqual([2 ** 32]);
  });

  it('converts the narrow float formats', () => {
    const bf16 = bytesOf(new Uint16Array([0x3f80, 0xc040, 0x7f80, 0x0001]));
    expect(Array.from(toFloat32(entry('BF16', [4], bf16)))).toEqual([1, -3, Infinity, asFloat(0x00010000)]);
    const nan = toFloat32(entry('BF16', [1], bytesOf(new Uint16Array([0x7fc1]))));
    expect(new Uint32Array(nan.buffer)[0]).toBe(0x7fc10000); // payload kept
    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 1 + 2 ** -30, true);
    new DataView(f64.buffer).setFloat64(8, 1e300, true);
    expect(Array.from(toFloat32(entry('F64', [2], f64)))).toEqual([1, Infinity]);
    const e4m3 = new Uint8Array([0x38, 0x7e, 0x01, 0xb8, 0x08]);
    expect(Array.from(toFloat32(entry('F8_E4M3', [5], e4m3)))).toEqual([1, 448, 2 ** -9, -1, 2 ** -6]);
    expect(toFloat32(entry('F8_E4M3', [1], new Uint8Array([0x7f])))[0]).toBeNaN();
    const e5m2 = new Uint8Array([0x3c, 0x7b, 0x7c, 0x01]);
    expect(Array.from(toFloat32(entry('F8_E5M2', [4], e5m2)))).toEqual([1, 57344, Infinity, 2 ** -16]);
    expect(Array.from(toFloat32(entry('BOOL', [3], new Uint8Array([0, 1, 2]))))).toEqual([0, 1, 1]);
  });

  it('rejects data that does not match the shape', () => {
    expectError(() => toFloat32(entry('F32', [2], zeros(4))), 'TensorInvalidInfo', 't');
  });
});
