// The page's service worker: once the page has been opened, it opens again with the server gone
// (or the machine offline). Network first, so a rebuilt page is used as soon as it is served; the
// cache, filled at install, when the network fails. Same-origin GETs only. __BUILD__ is replaced by
// scripts/build-browser.mjs with a digest of the assets, so a new build replaces the old cache.
const CACHE = 'edgetune-browser-__BUILD__';
const ASSETS = ['./', 'index.html', 'style.css', 'main.js', 'worker.js', 'edgetune.wasm', 'edgetune-nosimd.wasm', 'samples.bin', 'mnist-base-0to4.safetensors'];

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
      return response;
    })
    .catch(() => caches.open(CACHE).then((c) => c.match(request, { ignoreSearch: true })).then((r) => r ?? Response.error())));
});
