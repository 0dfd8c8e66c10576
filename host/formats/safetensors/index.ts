// safetensors: [u64 little-endian N][N bytes of UTF-8 JSON header][data], on Uint8Array only so the
// same code runs in browsers, Deno, workers and Node. reader.ts validates as the reference does,
// writer.ts writes the reference's bytes, json.ts is the strict header parser, dtypes.ts converts
// elements.
export { type Dtype, dtypeSize, type TensorEntry, toFloat32 } from './dtypes';
export { SafetensorsError, type SafetensorsErrorCode } from './errors';
export { readSafetensors, type SafetensorsFile } from './reader';
export { type TensorToWrite, writeSafetensors } from './writer';
