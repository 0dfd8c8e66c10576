// Node launcher: node examples/edge/serve-node.mjs [port] [model.safetensors] [--tokens=tokens.json]
// Node's http server has no fetch-style API, so each request is turned into a Request whose body
// streams from the socket, and the Response is written back. Port 0 (the default) picks a free
// one; the first stdout line says which. Options: launch.mjs.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { handlerFromArgs } from './launch.mjs';

const { port, handler } = await handlerFromArgs(process.argv.slice(2), async (path) => new Uint8Array(await readFile(path)));

// The request body as a web stream that reads the socket only as fast as the handler consumes
// it. When the handler stops early (a body over its limit, a request refused before its body is
// read) the rest is left to drain().
function bodyStream(req, state) {
  return new ReadableStream({
    start(controller) {
      req.pause();
      req.on('data', (chunk) => {
        if (state.closed) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (controller.desiredSize <= 0) req.pause();
      });
      req.on('end', () => { if (!state.closed) { state.closed = true; controller.close(); } });
      req.on('error', (e) => { if (!state.closed) { state.closed = true; controller.error(e); } });
    },
    pull() { req.resume(); },
    cancel() { state.closed = true; req.pause(); },
  }, { highWaterMark: 256 * 1024, size: (chunk) => chunk.byteLength });
}

// What a refused request left of its body is read and dropped before the answer goes out (at most
// DRAIN_BYTES, for at most DRAIN_MS), so the connection stays usable. Closing it instead, with
// the client still sending, made the kernel reset the connection (unread data at close): under
// load the client could see the reset before the answer, and the request failed in transit
// (ECONNRESET / "other side closed", 2 of 2,006 in scripts/edge-load.mjs). Resolves false when
// the rest is more than that: the connection is then closed after the answer.
const DRAIN_BYTES = 4 * 1024 * 1024;
const DRAIN_MS = 10_000;
function drain(req, state) {
  state.closed = true; // the handler's stream takes nothing more
  if (req.complete) return Promise.resolve(true);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > DRAIN_BYTES) return Promise.resolve(false);
  return new Promise((resolve) => {
    let bytes = 0;
    const done = (ok) => { clearTimeout(timer); req.off('data', count); resolve(ok); };
    const count = (chunk) => { bytes += chunk.byteLength; if (bytes > DRAIN_BYTES) done(false); };
    const timer = setTimeout(() => done(false), DRAIN_MS);
    req.on('data', count);
    req.once('end', () => done(true));
    req.once('close', () => done(req.complete));
    req.resume();
  });
}

const server = createServer(async (req, res) => {
  const state = { closed: false };
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url}`, {
      method: req.method, headers: req.headers, body: hasBody ? bodyStream(req, state) : undefined, duplex: 'half',
    });
    const response = await handler.fetch(request);
    const headers = Object.fromEntries(response.headers);
    const body = Buffer.from(await response.arrayBuffer());
    if (!(await drain(req, state))) headers.connection = 'close';
    res.writeHead(response.status, headers);
    res.end(body);
  } catch (e) {
    await drain(req, state);
    res.writeHead(500, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ error: String(e?.message ?? e) }));
  }
});
// An idle kept-alive connection stays open 65 s, not Node's 5 s: with the default, a loaded
// server closed connections the client was just reusing, and those requests failed in transit
// (3 of 2,000 in scripts/edge-load.mjs, 'other side closed'; the client never saw an answer).
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
