// Node launcher: node examples/edge/serve-node.mjs [port] [model.safetensors]
// Node's http server has no fetch-style API, so each request is turned into a Request and the
// Response written back. Port 0 (the default) picks a free one; the first stdout line says which.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createHandler } from './handler.mjs';

const [port = '0', modelPath] = process.argv.slice(2);
const modelBytes = new Uint8Array(await readFile(modelPath ?? new URL('../../models/mnist-base-0to4.safetensors', import.meta.url)));
const handler = await createHandler(modelBytes);

const server = createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url}`, {
      method: req.method, headers: req.headers, body: hasBody ? Buffer.concat(chunks) : undefined,
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: String(e?.message ?? e) }));
  }
});
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${server.address().port}`));
