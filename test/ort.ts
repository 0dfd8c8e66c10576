// onnxruntime-web in Node, single-threaded, as scripts/bench-peers.mjs loads it: the oracle that
// executes the same ONNX files the importer reads.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';

const require = createRequire(import.meta.url);
const ORT_WASM = join(dirname(require.resolve('onnxruntime-web')), 'ort-wasm-simd-threaded.wasm');
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.wasm.wasmPaths = { wasm: pathToFileURL(ORT_WASM).href };
ort.env.logLevel = 'error';

// Runs the model on one input and returns its (only) output.
// The first graph output, or the one named `output`.
export async function ortRun(bytes: Uint8Array, x: Float32Array, shape: number[], output?: string): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) });
  const t = out[output ?? session.outputNames[0]];
  await session.release();
  return { data: t.data as Float32Array, dims: t.dims };
}

// NCHW -> NHWC for a batch.
export function toNhwc(x: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let z = 0; z < w; z++) {
    out[((b * h + y) * w + z) * c + ci] = x[((b * c + ci) * h + y) * w + z];
  }
  return out;
}
