// Deno launcher (offline, only the permissions it needs):
//   deno run --allow-read=. --allow-net=127.0.0.1 examples/edge/serve-deno.mjs [port] [model.safetensors] [--tokens=tokens.json]
// Port 0 (the default) picks a free one; the first stdout line says which. Options: launch.mjs.
import { handlerFromArgs } from './launch.mjs';

const { port, handler } = await handlerFromArgs(Deno.args, (path) => Deno.readFile(path));

Deno.serve({ hostname: '127.0.0.1', port, onListen: ({ port }) => console.log(`listening ${port}`) }, (request) => handler.fetch(request));
