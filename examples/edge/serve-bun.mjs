// Bun launcher: bun examples/edge/serve-bun.mjs [port] [model.safetensors]
// Port 0 (the default) picks a free one; the first stdout line says which.
import { createHandler } from './handler.mjs';

const [port = '0', modelPath] = Bun.argv.slice(2);
const modelBytes = new Uint8Array(await Bun.file(modelPath ?? new URL('../../models/mnist-base-0to4.safetensors', import.meta.url)).arrayBuffer());
const handler = await createHandler(modelBytes);

const server = Bun.serve({ hostname: '127.0.0.1', port: Number(port), fetch: (request) => handler.fetch(request) });
console.log(`listening ${server.port}`);
