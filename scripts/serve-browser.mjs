// `npm run serve:browser`: builds the offline fine-tuning page (scripts/build-browser.mjs) and
// serves examples/browser/dist/ on localhost. A plain node:http static server: GET and HEAD of files
// inside that directory, nothing else. `--port N` (default 8080; 0 picks a free one).
// Every response carries the COOP/COEP headers (ISOLATION) that make the page cross-origin
// isolated, so it gets SharedArrayBuffer and threads (docs/threads.md); `isolate: false` leaves
// them out (the page then runs on one thread).
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROWSER_DIST, buildBrowser } from './build-browser.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', '.safetensors': 'application/octet-stream', '.bin': 'application/octet-stream', '.png': 'image/png',
};

export const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

// Resolves with { server, url } once listening on 127.0.0.1.
export function serveBrowser({ root = BROWSER_DIST, port = 0, log = () => {}, isolate = true } = {}) {
  const base = resolve(root);
  const server = createServer((req, res) => {
    if (isolate) for (const [name, value] of Object.entries(ISOLATION)) res.setHeader(name, value);
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad request path\n');
      return;
    }
    const file = normalize(join(base, path.endsWith('/') ? `${path}index.html` : path));
    let size = -1;
    try {
      if (file.startsWith(base + sep)) size = statSync(file).isFile() ? statSync(file).size : -1;
    } catch { /* not found */ }
    if ((req.method !== 'GET' && req.method !== 'HEAD') || size < 0) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${path}: not served\n`);
      log(`${req.method} ${path} -> ${res.statusCode}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    log(`${req.method} ${path} -> 200`);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolvePromise({ server, url: `http://127.0.0.1:${server.address().port}/` }));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
  await buildBrowser();
  const { url } = await serveBrowser({ port });
  console.log(`edgetune offline fine-tuning page: ${url}  (Ctrl-C to stop)`);
}
