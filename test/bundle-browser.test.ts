// The 50 KB app in a real headless Chromium: the size app (scripts/size.mjs) bundled by esbuild on
// edgetune/lite with its own kernel build, served with the kernels as application/wasm (so ready(url)
// compiles them while they stream in), trains and predicts the bits Node gets from the full build,
// and refuses a model whose op its kernels lack, naming op and layer.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_KERNELS, buildAppKernels, SIZE_APP } from '../scripts/size.mjs';

const CHROMIUM = process.env.EDGETUNE_CHROMIUM ?? '/usr/bin/chromium';
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
// After the size app's run: its prediction's bytes, and a sigmoid layer's plan (an op it lacks).
const EPILOGUE = `
const bits = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), (b) => b.toString(16).padStart(2, '0')).join('');
let refused = null;
try { sequential([dense(2, { activation: 'sigmoid', inputShape: [4], name: 'gate' })]).predict(tensor(new Float32Array(4), [1, 4])); } catch (e) { refused = e.code + ': ' + e.message; }
globalThis.report({ prediction: bits(model.predict(tensor(new Float32Array(4), [1, 4])).data), refused });
`;

let server: Server;
let origin = '';
let page = '';

beforeAll(async () => {
  await buildAppKernels();
  const app = SIZE_APP.replace("'./index.js'", "'./lite.js'").replace('await ready();', "await ready(new URL('./app-kernels.wasm', import.meta.url));") + EPILOGUE;
  const out = await build({ stdin: { contents: app, resolveDir: DIST, loader: 'js' }, bundle: true, minify: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  const files: Record<string, [string, Uint8Array | string]> = {
    '/': ['text/html', '<!doctype html><script type="module" src="/app.js"></script>'],
    '/app.js': ['text/javascript', out.outputFiles[0].text],
    '/app-kernels.wasm': ['application/wasm', readFileSync(APP_KERNELS)],
  };
  server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': file[0] }).end(file[1]);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  page = out.outputFiles[0].text;
}, 120_000);

afterAll(() => new Promise<void>((done) => server.close(() => done())));

describe('the size app on edgetune/lite with its own kernels, in Chromium', () => {
  it('trains and predicts the bits Node gets on the full build, and refuses an op its kernels lack', async () => {
    // Node, the core entry and the full kernels: the same app
    const nodeApp = SIZE_APP.replace("'./index.js'", `'${DIST}index.js'`).replace("'./layers.js'", `'${DIST}layers.js'`).replace(/console\.log\(.*\);\n/, '') +
      EPILOGUE.replace('globalThis.report(', 'console.log(JSON.stringify(').replace(/\);\n$/, '));\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', nodeApp], { encoding: 'utf8' });
    const node = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { prediction: string; refused: string | null };
    expect(node.refused).toBeNull();
    expect(node.prediction).toHaveLength(24); // 3 float32

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (e) => errors.push(e.message));
      const wasmTypes: string[] = [];
      tab.on('response', (res) => { if (res.url().endsWith('.wasm')) wasmTypes.push(res.headers()['content-type']); });
      let report: (v: unknown) => void = () => {};
      const reported = new Promise((done) => { report = done; });
      await tab.exposeFunction('report', (v: unknown) => report(v));
      await tab.goto(`${origin}/`);
      const got = (await Promise.race([reported, new Promise((_, fail) => setTimeout(() => fail(new Error(`no report: ${errors.join('; ')}`)), 60_000))])) as { prediction: string; refused: string };
      expect(errors).toEqual([]);
      expect(wasmTypes).toEqual(['application/wasm']); // one kernel file, its own
      expect(got.prediction).toBe(node.prediction);
      expect(got.refused).toBe(`KernelBuild: layer 'gate' needs the op 'gemm_packed' (forward program), which the kernel build ${origin}/app-kernels.wasm does not have: build one with it (npx edgetune kernels --ops, the ops of usedOps()) or load the full kernels`);
      expect(page.length).toBeGreaterThan(10_000);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
