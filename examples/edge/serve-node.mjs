// Node launcher: node examples/edge/serve-node.mjs [port] [model.safetensors] [--tokens=tokens.json]
// Node's http server has no fetch-style API, so each request is turned into a Request whose body
// streams from the socket, and the Response is written back. Port 0 (the default) picks a free
// one; the first stdout line says which. Options: launch.mjs.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { handlerFromArgs } from './launch.mjs';

const { port, handler } = await handlerFromArgs(process.argv.slice(2), async (path) => new Uint8Array(await readFile(path)));

// The request body as a web stream that reads the socket only as fast as the handler consumes
// it. When the handler stops early (a body over its limit) the rest is never read.
function bodyStream(req) {
  let closed = false;
  return new ReadableStream({
    start(controller) {
      req.pause();
      req.on('data', (chunk) => {
        if (closed) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (controller.desiredSize <= 0) req.pause();
      });
      req.on('end', () => { if (!closed) { closed = true; controller.close(); } });
      req.on('error', (e) => { if (!closed) { closed = true; controller.error(e); } });
    },
    pull() { req.resume(); },
    cancel() { closed = true; req.pause(); },
  }, { highWaterMark: 256 * 1024, size: (chunk) => chunk.byteLength });
}

const server = createServer(async (req, res) => {
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url}`, {
      method: req.method, headers: req.headers, body: hasBody ? bodyStream(req) : undefined, duplex: 'half',
    });
    const response = await handler.fetch(request);
    const headers = Object.fromEntries(response.headers);
    // A body left unread (over the limit) cannot be skipped on a kept-alive connection: close it
    // once the answer is out, rather than read the rest.
    if (!req.complete) headers.connection = 'close';
    res.writeHead(response.status, headers);
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    res.writeHead(500, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ error: String(e?.message ?? e) }));
  }
});
// An idle kept-alive connection stays open 65 s, not Node's 5 s: with the default, a loaded
// server closed connections the client was just reusing, and those requests failed in transit
// (3 of 2,000 in scripts/edge-load.mjs, 'other side closed'; the client never saw an answer).
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
