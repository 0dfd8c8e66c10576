// Deno launcher (offline, only the permissions it needs):
//   deno run --allow-read=. --allow-net=127.0.0.1 examples/edge/serve-deno.mjs [port] [model.safetensors]
// Port 0 (the default) picks a free one; the first stdout line says which.
import { createHandler } from './handler.mjs';

const [port = '0', modelPath] = Deno.args;
const modelBytes = await Deno.readFile(modelPath ?? new URL('../../models/mnist-base-0to4.safetensors', import.meta.url));
const handler = await createHandler(modelBytes);

Deno.serve({ hostname: '127.0.0.1', port: Number(port), onListen: ({ port }) => console.log(`listening ${port}`) }, (request) => handler.fetch(request));
