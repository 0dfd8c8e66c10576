// The page's service worker: once the page has been opened, it opens again with the server gone
// (or the machine offline). Network first, so a rebuilt page is used as soon as it is served; the
// cache, filled at install, when the network fails. Same-origin GETs only. __BUILD__ is replaced by
// scripts/build-browser.mjs with a digest of the assets, so a new build replaces the old cache.
// Every response it returns carries the COOP/COEP headers, cached ones too: the page stays
// cross-origin isolated offline, so it keeps its threads (docs/threads.md).
const CACHE = 'edgetune-browser-__BUILD__';
const ASSETS = ['./', 'index.html', 'style.css', 'main.js', 'worker.js', 'edgetune.wasm', 'edgetune-nosimd.wasm', 'edgetune-threads.wasm', 'samples.bin', 'mnist-base-0to4.safetensors'];
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

function isolated(response) {
  if (response.type === 'error' || response.type === 'opaque' || response.type === 'opaqueredirect') return response;
  if (Object.entries(ISOLATION).every(([name, value]) => response.headers.get(name) === value)) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('edgetune-browser-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(fetch(request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        event.waitUntil(caches.open(CACHE).then((c) => c.put(request, copy)));
      }
      return isolated(response);
    })
    .catch(() => caches.open(CACHE).then((c) => c.match(request, { ignoreSearch: true })).then((r) => (r ? isolated(r) : Response.error()))));
});
