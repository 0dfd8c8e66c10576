// Bun launcher: bun examples/edge/serve-bun.mjs [port] [model.safetensors] [--tokens=tokens.json]
// Port 0 (the default) picks a free one; the first stdout line says which. Options: launch.mjs.
import { handlerFromArgs } from './launch.mjs';

const { port, handler } = await handlerFromArgs(Bun.argv.slice(2), async (path) => new Uint8Array(await Bun.file(path).arrayBuffer()));

// The handler stops reading a body at its limit; Bun's own limit (128 MB by default) is far above it.
const server = Bun.serve({ hostname: '127.0.0.1', port, fetch: (request) => handler.fetch(request) });
console.log(`listening ${server.port}`);
