// The offline fine-tuning page (examples/browser/) in a real headless Chromium (Debian's package,
// driven by playwright-core): label the bundled samples and fine-tune through the UI with the
// network off, check held-out accuracy against the mnist package's labels and TensorFlow.js, check
// that the page's weights are the bits Node computes with the same recipe, that they come back
// from IndexedDB after a reload and a browser restart, and that the cross-runtime determinism
// scenario gives the same bits in the page's worker as here.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as edgetune from '../dist/index.js';
import { loadMnist, selectDigits } from '../dist/examples.js';
import { toMnistInput } from '../examples/browser/preprocess';
import { decodeSamples } from '../examples/browser/samples';
import { fitOptions, headDigest, toClassIndices, transferModel } from '../examples/browser/recipe';
import { runScenario } from '../examples/common/determinism.mjs';
import { runThreadsScenario } from '../examples/common/threads-scenario.mjs';
import { buildBrowser, HELD_OUT_PER_CLASS, TRAIN_PER_CLASS } from '../scripts/build-browser.mjs';
import { ISOLATION, serveBrowser } from '../scripts/serve-browser.mjs';
import { legacyH5 } from './support/keras-files';
import { tf, tfjsCopy, tfl } from './tfjs';

const CHROMIUM = process.env.EDGETUNE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const BASE_BYTES = new Uint8Array(readFileSync('models/mnist-base-0to4.safetensors'));
// Measured: 68.5% of the 200 held-out digits after fine-tuning on the 50 samples (chance is 20%).
const HELD_OUT_THRESHOLD = 0.6;

function argmax5(p: ArrayLike<number>, i: number): number {
  let best = 0;
  for (let j = 1; j < 5; j++) if (p[i * 5 + j] > p[i * 5 + best]) best = j;
  return best;
}

// The page's bundled held-out and training digits, straight from the mnist package (host/cli/mnist.ts's
// split: training rows are the first of each class, held-out rows the first of the last 20%).
function mnistDigits5to9() {
  const m = loadMnist();
  const pick = (part: 'train' | 'test', per: number) => {
    const all = selectDigits(m, [5, 6, 7, 8, 9], part);
    const rows: number[] = [];
    const count = new Map<number, number>();
    for (let i = 0; i < all.n; i++) {
      const c = count.get(all.y[i]) ?? 0;
      if (c < per) { rows.push(i); count.set(all.y[i], c + 1); }
    }
    const x = new Float32Array(rows.length * 784);
    rows.forEach((r, j) => x.set(all.x.subarray(r * 784, (r + 1) * 784), j * 784));
    return { x, digits: Int32Array.from(rows, (r) => all.y[r]), n: rows.length };
  };
  return { train: pick('train', TRAIN_PER_CLASS), heldOut: pick('test', HELD_OUT_PER_CLASS) };
}

describe('drawing preprocessing (examples/browser/preprocess.ts)', () => {
  it('real held-out digits 0-4, enlarged 10x and brought back to 28x28, keep the base model accurate', async () => {
    const base = await edgetune.loadModel(BASE_BYTES);
    const test = selectDigits(loadMnist(), [0, 1, 2, 3, 4], 'test');
    const W = 280;
    const x = new Float32Array(test.n * 784);
    for (let i = 0; i < test.n; i++) {
      const big = new Float32Array(W * W);
      for (let y = 0; y < W; y++) for (let c = 0; c < W; c++) big[y * W + c] = test.x[i * 784 + Math.floor(y / 10) * 28 + Math.floor(c / 10)];
      const small = toMnistInput(big, W, W)!;
      expect(small.every((v) => v >= 0 && v <= 1)).toBe(true);
      x.set(small, i * 784);
    }
    const accuracy = (xs: Float32Array) => {
      const p = base.predict(edgetune.tensor(xs, [test.n, 784])).data;
      let right = 0;
      for (let i = 0; i < test.n; i++) if (argmax5(p, i) === test.y[i]) right++;
      return right / test.n;
    };
    // Measured: 97.57% on the originals, 96.02% after the round trip.
    expect(accuracy(test.x)).toBeGreaterThan(0.97);
    expect(accuracy(x)).toBeGreaterThan(0.94);
    expect(toMnistInput(new Float32Array(W * W), W, W)).toBeNull();
  });
});

describe('scripts/serve-browser.mjs', () => {
  it('serves files of its directory only: 200 with a type, 404 outside or missing, 400 for a bad path, 405 for other methods', async () => {
    const root = mkdtempSync(join(tmpdir(), 'edgetune-serve-'));
    writeFileSync(join(root, 'index.html'), '<p>hello</p>');
    const { server, url } = await serveBrowser({ root });
    try {
      const home = await fetch(url);
      expect(home.status).toBe(200);
      expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await home.text()).toBe('<p>hello</p>');
      // Cross-origin isolation (docs/threads.md): the page gets SharedArrayBuffer, so threads.
      for (const [name, value] of Object.entries(ISOLATION)) expect(home.headers.get(name)).toBe(value);
      expect(home.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(home.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect((await fetch(`${url}missing.js`)).status).toBe(404);
      // '..%2f' survives URL normalisation and decodes to '../': outside the root, so not found.
      expect((await fetch(`${url}..%2f..%2f..%2fetc%2fpasswd`)).status).toBe(404);
      expect((await fetch(`${url}%E0%A4%A`)).status).toBe(400);
      expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(405);
    } finally {
      server.close();
      server.closeAllConnections();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('offline fine-tuning page in headless Chromium', () => {
  let server: Server;
  let url: string;
  let userData: string;
  let context: BrowserContext | null = null;
  let page: Page;
  const requests: string[] = [];
  const errors: string[] = [];

  async function launch() {
    context = await chromium.launchPersistentContext(userData, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 1000 }, timeout: 60_000 });
    page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    context.on('request', (r) => requests.push(r.url()));
    // Nothing may leave the page's origin: anything else is refused and remembered.
    await context.route((u) => !u.href.startsWith(url) && !u.href.startsWith('data:'), (route) => route.abort());
  }

  async function open() {
    await page.goto(url, { timeout: 60_000 });
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  }

  const hooks = () => page.evaluate(() => {
    const h = (window as unknown as { edgetuneDemo: { digest: string; heldOutProbs: number[]; persisted: { runs: number; examples: number; digest: string } | null } }).edgetuneDemo;
    return { digest: h.digest, heldOutProbs: h.heldOutProbs, persisted: h.persisted };
  });

  // Pixels of the loss line (red) on the curve canvas.
  const curveInk = () => page.evaluate(() => {
    const c = document.getElementById('curve') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let red = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 180 && d[i + 1] < 100) red++;
    return red;
  });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed at ${CHROMIUM}: the browser tests need Debian's chromium package ` +
        '(apt-get install chromium; .ci/run installs it) or EDGETUNE_CHROMIUM=/path/to/chromium');
    }
    await buildBrowser();
    ({ server, url } = await serveBrowser());
    userData = mkdtempSync(join(tmpdir(), 'edgetune-chromium-'));
    await launch();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (userData) rmSync(userData, { recursive: true, force: true });
  });

  const state: { digest?: string; heldOutProbs?: number[] } = {};

  it('fine-tunes on the bundled samples through the UI, offline, to a real held-out accuracy', async () => {
    await open();
    expect(await page.textContent('#status')).toContain('Ready');
    const before = await hooks();
    expect(before.persisted).toBeNull();

    // The bundled samples are the mnist package's digits, bit for bit.
    const mnist = mnistDigits5to9();
    const samples = decodeSamples(readFileSync('examples/browser/dist/samples.bin').buffer as ArrayBuffer);
    expect(samples.train.x).toEqual(mnist.train.x);
    expect(Array.from(samples.heldOut.digits)).toEqual(Array.from(mnist.heldOut.digits));
    expect(samples.heldOut.x).toEqual(mnist.heldOut.x);

    // Label every training sample the way a person would: click it, then its digit.
    await page.context().setOffline(true);
    const thumbs = page.locator('#samples canvas');
    expect(await thumbs.count()).toBe(mnist.train.n);
    for (let i = 0; i < mnist.train.n; i++) {
      await thumbs.nth(i).click();
      await page.click(`#label-buttons button[data-digit="${mnist.train.digits[i]}"]`);
    }
    expect(await page.textContent('#labelled-count')).toBe(String(mnist.train.n));

    await page.click('#train');
    await page.waitForSelector('body[data-state="trained"]', { timeout: 120_000 });
    const status = await page.textContent('#status');
    expect(status).toContain('epoch 40/40');
    expect(status).toContain('saved to IndexedDB');
    // The curve was drawn from one point per epoch: the canvas is no longer blank.
    expect(await curveInk()).toBeGreaterThan(200);

    const after = await hooks();
    expect(after.persisted).toMatchObject({ runs: 1, examples: mnist.train.n, digest: after.digest });
    let right = 0;
    for (let i = 0; i < mnist.heldOut.n; i++) if (argmax5(after.heldOutProbs, i) + 5 === mnist.heldOut.digits[i]) right++;
    const accuracy = right / mnist.heldOut.n;
    expect(accuracy).toBeGreaterThanOrEqual(HELD_OUT_THRESHOLD);
    expect(Number(await page.getAttribute('#heldout-acc', 'data-accuracy'))).toBe(accuracy);
    Object.assign(state, after);

    // Node, the same recipe on the same images in the same order: the same bits.
    const node = await transferModel(edgetune, BASE_BYTES, null);
    await node.fit(edgetune.tensor(mnist.train.x, [mnist.train.n, 784]), edgetune.tensor(toClassIndices(mnist.train.digits), [mnist.train.n]), fitOptions(0));
    expect(headDigest(node)).toBe(after.digest);
    const nodeProbs = node.predict(edgetune.tensor(mnist.heldOut.x, [mnist.heldOut.n, 784])).data;
    expect(after.heldOutProbs).toEqual(Array.from(nodeProbs));

    // What IndexedDB holds is that model, and TensorFlow.js with its weights agrees on the predictions.
    const storedBase64 = await page.evaluate(() => new Promise<string>((resolve, reject) => {
      const req = indexedDB.open('edgetune-browser');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const get = req.result.transaction('models').objectStore('models').get('head-5to9');
        get.onsuccess = () => {
          const bytes = get.result.bytes as Uint8Array;
          let s = '';
          for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
          resolve(btoa(s));
        };
        get.onerror = () => reject(get.error);
      };
    }));
    const stored = new Uint8Array(Buffer.from(storedBase64, 'base64'));
    expect(Buffer.compare(Buffer.from(stored), Buffer.from(node.toBytes()))).toBe(0);
    const restored = await edgetune.loadModel(stored);
    const tfProbs = (tfjsCopy(restored).predict(tf.tensor(mnist.heldOut.x, [mnist.heldOut.n, 784])) as ReturnType<typeof tf.tensor>).dataSync();
    let agree = 0;
    for (let i = 0; i < mnist.heldOut.n; i++) if (argmax5(tfProbs, i) === argmax5(after.heldOutProbs, i)) agree++;
    expect(agree).toBe(mnist.heldOut.n);

    // A sample on the pad, its predictions shown: the screenshot (docs/browser-screenshot.png is a copy).
    await page.locator('#samples canvas').nth(23).click();
    await page.waitForFunction(() => document.querySelector('#pred-head .bar.top') !== null);
    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/browser.png', fullPage: true });
    expect(readFileSync('test-output/browser.png').subarray(1, 4).toString()).toBe('PNG');
    await page.context().setOffline(false);
  }, 240_000);

  it('the fine-tuned weights and the labels survive a reload, a reload with the server gone and a browser restart', async () => {
    expect(state.digest).toBeTruthy();
    await page.waitForSelector('#labelled-count[data-saved="50"]', { timeout: 30_000 });
    await page.reload({ timeout: 60_000 });
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    expect(await page.textContent('#status')).toContain('Restored');
    expect(await page.textContent('#labelled-count')).toBe('50');
    expect(await page.locator('#labelled canvas').count()).toBe(50);
    expect(await page.locator('#samples canvas.labelled').count()).toBe(50);
    expect(await page.isEnabled('#train')).toBe(true);
    let now = await hooks();
    expect(now.digest).toBe(state.digest);
    expect(now.heldOutProbs).toEqual(state.heldOutProbs);
    expect(await curveInk()).toBeGreaterThan(200);

    // With the server gone: the page from its service worker's cache, the weights from IndexedDB.
    await page.waitForSelector('#offline[data-ready="true"]', { timeout: 60_000 });
    const port = Number(new URL(url).port);
    await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    const refused = await fetch(url).then(() => false, () => true);
    expect(refused).toBe(true);
    await page.reload({ timeout: 60_000 });
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
    now = await hooks();
    expect(now.digest).toBe(state.digest);
    expect(now.heldOutProbs).toEqual(state.heldOutProbs);
    // The service worker's cached responses keep the COOP/COEP headers: still isolated, so threads.
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    ({ server } = await serveBrowser({ port }));

    await context!.close();
    context = null;
    await launch();
    await open();
    now = await hooks();
    expect(await page.textContent('#labelled-count')).toBe('50');
    expect(now.persisted?.runs).toBe(1);
    expect(now.digest).toBe(state.digest);
    expect(now.heldOutProbs).toEqual(state.heldOutProbs);
  }, 180_000);

  it('drawing on the pad reaches the model: a stroked 1 and 0 are read as 1 and 0 by the base', async () => {
    const box = (await page.locator('#pad').boundingBox())!;
    const at = (x: number, y: number) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
    const topBase = async () => {
      await page.waitForFunction(() => document.querySelector('#pred-base .bar.top') !== null, null, { timeout: 30_000 });
      return Number(await page.getAttribute('#pred-base .bar.top', 'data-digit'));
    };
    await page.click('#clear');
    await page.mouse.move(...at(140, 40));
    await page.mouse.down();
    await page.mouse.move(...at(138, 240), { steps: 12 });
    await page.mouse.up();
    expect(await topBase()).toBe(1);

    await page.click('#clear');
    await page.mouse.move(...at(140, 40));
    await page.mouse.down();
    for (let k = 1; k <= 40; k++) {
      const a = (2 * Math.PI * k) / 40;
      await page.mouse.move(...at(140 + 65 * Math.sin(a), 140 - 100 * Math.cos(a)));
    }
    await page.mouse.up();
    expect(await topBase()).toBe(0);
    // The preview shows what the model was given: ink in the 28x28 field.
    const lit = await page.evaluate(() => {
      const d = (document.getElementById('preview') as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 64) n++;
      return n;
    });
    expect(lit).toBeGreaterThan(40);
  }, 120_000);

  it('the determinism scenario gives bit-identical weights and predictions in the page worker and in Node', async () => {
    const inPage = await page.evaluate(() => (window as unknown as { edgetuneDemo: { determinism(): Promise<unknown> } }).edgetuneDemo.determinism());
    const inNode = await runScenario(edgetune, BASE_BYTES);
    expect(inPage).toEqual(inNode);
    expect((inNode as { predictions: number[] }).predictions.length).toBe(20);
  }, 120_000);

  it('the page is cross-origin isolated: its worker trains on 1, 2 and 3 threads with the bits Node gets', async () => {
    const inPage = await page.evaluate(() => (window as unknown as { edgetuneDemo: { threads(): Promise<ThreadsCheck> } }).edgetuneDemo.threads());
    expect(inPage.isolated).toBe(true);
    expect(inPage.summary).toMatch(/^Threads: 2 \(\+[0-9.]+ KB outside the planned arena/);
    expectThreadsBits(inPage, await runThreadsScenario(edgetune, 1), true);
  }, 240_000);

  it('the page asked for nothing outside its own origin and raised no errors', () => {
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((r) => !r.startsWith(url))).toEqual([]);
    expect(errors).toEqual([]);
  });
});

type Scenario = Awaited<ReturnType<typeof runThreadsScenario>>;
type ThreadsCheck = { isolated: boolean; summary: string; byThreads: Record<number, Scenario> };

// Every thread count's MLP and CNN give Node's bits; with `threaded`, on the threads asked for and
// with the workers running tiles, else on one thread.
function expectThreadsBits(inPage: ThreadsCheck, node: Scenario, threaded: boolean): void {
  for (const threads of [1, 2, 3]) {
    for (const net of ['mlp', 'cnn'] as const) {
      const got = inPage.byThreads[threads][net];
      const where = `${net}, ${threads} threads`;
      expect(got.threads, where).toBe(threaded ? threads : 1);
      expect(got.weightsHex, where).toEqual(node[net].weightsHex);
      expect(got.predictions, where).toBe(node[net].predictions);
      expect(got.loss, where).toEqual(node[net].loss);
      if (threaded && threads > 1) expect(got.workerTiles, where).toBeGreaterThan(0);
    }
  }
}

describe('the page served without COOP/COEP', () => {
  it('falls back to one thread silently, says why in summary(), gives the same bits; isolated once its service worker serves it', async () => {
    await buildBrowser();
    const { server, url } = await serveBrowser({ isolate: false });
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
      await page.goto(url, { timeout: 60_000 });
      await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
      const inPage = await page.evaluate(() => (window as unknown as { edgetuneDemo: { threads(): Promise<ThreadsCheck> } }).edgetuneDemo.threads());
      expect(inPage.isolated).toBe(false);
      expect(inPage.summary).toBe('Threads: 1 (asked for 2; one thread because the page is not cross-origin isolated (serve it with COOP/COEP headers))');
      expectThreadsBits(inPage, await runThreadsScenario(edgetune, 1), false);
      // Once its service worker controls the page, the worker's responses carry COOP/COEP even
      // though this server sends neither: from the second load the page is isolated.
      await page.waitForSelector('#offline[data-ready="true"]', { timeout: 60_000 });
      await page.reload({ timeout: 60_000 });
      await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      server.close();
      server.closeAllConnections();
    }
  }, 240_000);
});

// importKeras's HDF5 reader in a page: dist/ served as is, the reader in a Web Worker loaded from
// dist/keras-hdf5-worker.js (host/import/hdf5-read.ts), stopped after timeoutMs.
describe('Keras HDF5 in Chromium, through the Web Worker', () => {
  let server: Server;
  let browser: Awaited<ReturnType<typeof chromium.launch>>;
  let page: Page;
  const workers: string[] = [];
  const closed: string[] = [];
  const TYPES: Record<string, string> = { js: 'text/javascript', wasm: 'application/wasm', html: 'text/html' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = req.url === '/' ? null : new URL(req.url!, 'http://x').pathname;
      if (path && !/^\/dist\/[\w./-]+$/.test(path)) { res.writeHead(404).end(); return; }
      try {
        const body = path ? readFileSync(`.${path}`) : '<!doctype html><title>hdf5</title>';
        res.writeHead(200, { 'content-type': TYPES[path?.split('.').pop() ?? 'html'] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
    page = await browser.newPage();
    page.on('worker', (w) => { workers.push(w.url()); w.on('close', () => closed.push(w.url())); });
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, { timeout: 60_000 });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    server?.close();
    server?.closeAllConnections();
  });

  // importKeras in the page: every layer's weights, or the error's class and message.
  const importInPage = (bytes: Uint8Array, name: string, timeoutMs?: number) => page.evaluate(async ({ bytes, name, timeoutMs }) => {
    // A dynamic import written as text: vitest would rewrite an import() in this function.
    const { importKeras } = await (new Function('u', 'return import(u)'))('/dist/import/keras.js');
    try {
      const m = await importKeras(new Uint8Array(bytes), name, { timeoutMs });
      return { weights: m.layers.map((l: { values: Float32Array[] }) => l.values.map((v) => Array.from(v))) };
    } catch (e) {
      return { error: (e as Error).name, message: (e as Error).message };
    }
  }, { bytes: Array.from(bytes), name, timeoutMs });

  it('imports a legacy .h5 in a worker with the weights Node reads', async () => {
    const net = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 5, activation: 'relu' }), tfl.layers.dense({ units: 2, activation: 'softmax' })] });
    const bytes = legacyH5(net);
    const inNode = await (await import('../dist/import/keras.js')).importKeras(bytes, 'net.h5');
    const got = await importInPage(bytes, 'net.h5');
    expect(got.error).toBeUndefined();
    expect(got.weights).toEqual(inNode.layers.map((l) => l.values.map((v) => Array.from(v))));
    expect(got.weights![1][0]).toEqual(Array.from(net.layers[1].getWeights()[0].dataSync()));
    expect(workers.filter((u) => u.endsWith('/dist/keras-hdf5-worker.js'))).toHaveLength(1);
  }, 120_000);

  it('stops a worker that hangs on a hostile .h5 after timeoutMs: a ModelFormatError, then the next file reads', async () => {
    const hostile = new Uint8Array(readFileSync('test/fixtures/keras/h5wasm-hang-1.h5'));
    const before = workers.length;
    const t0 = performance.now();
    const got = await importInPage(hostile, 'hang.h5', 1500);
    expect(got).toEqual({ error: 'ModelFormatError', message: 'hang.h5: the HDF5 reader did not finish in 1500 ms (a corrupt or hostile file)' });
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(workers.length).toBe(before + 1);
    await expect.poll(() => closed.length, { timeout: 10_000 }).toBe(workers.length); // the stuck worker was terminated
    const net = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] });
    const ok = await importInPage(legacyH5(net), 'ok.h5');
    expect(ok.weights![0][0]).toEqual(Array.from(net.layers[0].getWeights()[0].dataSync()));
  }, 120_000);
});
