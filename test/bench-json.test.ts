// npm run bench -- --json: stdout is the JSON array of records and nothing else (the build's
// summary line goes to stderr), and the bundle-gz row is what scripts/size.mjs measures.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bundleModules, bundleSize } from '../scripts/size.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

describe('bench --json', () => {
  it('the bench script sends the build line to stderr, so stdout is only the JSON array', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.bench).toMatch(/^npm run build --silent >&2 && node scripts\/bench\.mjs$/);
    const r = spawnSync(process.execPath, ['scripts/bench.mjs', '--json', '--only', 'bundle-gz'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trimStart().startsWith('[')).toBe(true);
    const records = JSON.parse(r.stdout) as { workload: string; impl: string; value: number; unit: string }[];
    expect(records.map((x) => [x.workload, x.impl, x.unit])).toEqual([['bundle-gz', 'edgetune', 'KB'], ['bundle-gz-lite', 'edgetune', 'KB'], ['bundle-gz-app', 'edgetune', 'KB']]);
    expect(r.stderr).toContain('bundle: JS');
  });

  it('bundle-gz: the minified browser bundle of the core entry plus the SIMD kernels, each gzipped', async () => {
    const size = await bundleSize();
    const wasm = readFileSync(`${ROOT}dist/edgetune.wasm`);
    expect(size.wasmBytes).toBe(wasm.length);
    expect(size.wasmGz).toBe(gzipSync(wasm, { level: 9 }).length);
    expect(size.totalGz).toBe(size.jsGz + size.wasmGz);
    // the JS is a real bundle of the library (the MLP app's code alone is a few hundred bytes)
    expect(size.jsBytes).toBeGreaterThan(10_000);
    expect(size.jsGz).toBeLessThan(size.jsBytes);
  });

  it('bundle-gz-lite: the same app on edgetune/lite with the lite kernels, whose file is smaller', async () => {
    const [full, lite] = [await bundleSize(), await bundleSize('lite')];
    const wasm = readFileSync(`${ROOT}dist/edgetune-lite.wasm`);
    expect(lite.wasmBytes).toBe(wasm.length);
    expect(lite.wasmGz).toBe(gzipSync(wasm, { level: 9 }).length);
    expect(lite.totalGz).toBe(lite.jsGz + lite.wasmGz);
    expect(lite.wasmGz).toBeLessThan(0.75 * full.wasmGz);
    // the same core less what a LiteModel leaves out (the model writer, summary, sample weights) and
    // the thread pool (the core entry's ready() and Model bring it): about 17.4 KB minified
    expect(full.jsBytes - lite.jsBytes).toBeGreaterThan(8192);
    expect(full.jsBytes - lite.jsBytes).toBeLessThan(20_480);
  });

  it('size --modules: the per-module view bundles the sources as dist/ ships them (no op-table run templates)', async () => {
    for (const entry of ['index', 'lite']) {
      const [dist, sources] = [await bundleSize(entry), await bundleModules(entry)];
      // the same code; a few bytes differ (the entry modules' paths)
      expect(Math.abs(sources.bytes - dist.jsBytes), entry).toBeLessThan(256);
      expect(sources.modules.reduce((n, m) => n + m.bytes, 0)).toBeLessThanOrEqual(sources.bytes);
      const paths = sources.modules.map((m) => m.path);
      expect(paths, entry).toContain('host/training/model.ts');
      expect(paths.filter((p) => p.startsWith('host/import/') && !p.endsWith('errors.ts')), entry).toEqual([]); // no importer
      // the op table without its 93 templates: about 9 KB where it was 15.5
      expect(sources.modules.find((m) => m.path === 'host/compile/op-table.ts')!.bytes).toBeLessThan(12_000);
    }
  });
});
