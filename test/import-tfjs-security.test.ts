// TF.js weights manifests are untrusted: a shard path that leaves the model's folder (.., absolute,
// a device, a symlink out), a directory or a missing file is a ModelFormatError that says nothing
// about files outside, through the library (core check + Node shardReader) and `edgetune convert`
// (exit 1, no output written); shards must hold exactly the manifest's bytes, and a weight whose
// shape differs from its layer's is refused. The valid model still matches TF.js.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importTfjsGraphModel, importTfjsLayersModel, loadModel, ModelFormatError, shardPathProblem, shardReader, tensor } from '../dist/node.js';
import { randomArray } from './harness';
import { tf, tfl } from './tfjs';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const MODELS = new URL('./fixtures/models/', import.meta.url).pathname;
const SHARD = 'group1-shard1of1.bin';
const SECRET = 'SECRET_TOKEN=hunter2'.padEnd(123, '#'); // 123 bytes: more than the 80 the manifest needs

// A Dense(4) on 4 inputs saved by tfjs-layers (kernel 16 + bias 4 floats = 80 bytes), written as
// model.json + one shard in a fresh model folder; a secret file sits in a sibling folder.
async function fixture() {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 4, activation: 'tanh' })] });
  let saved: tf.io.ModelArtifacts | null = null;
  await m.save(tf.io.withSaveHandler(async (a) => { saved = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  const a = saved!;
  const root = mkdtempSync(join(tmpdir(), 'edgetune-shards-'));
  const dir = join(root, 'model');
  mkdirSync(dir);
  mkdirSync(join(root, 'private'));
  const secret = join(root, 'private', 'secret.txt');
  writeFileSync(secret, SECRET);
  const shard = new Uint8Array(a.weightData as ArrayBuffer);
  writeFileSync(join(dir, SHARD), shard);
  const json = { format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: [SHARD], weights: a.weightSpecs! }] };
  const write = (j: typeof json, name = 'model.json') => { writeFileSync(join(dir, name), JSON.stringify(j)); return join(dir, name); };
  write(json);
  return { m, root, dir, secret, shard, json, write, withPath: (p: string) => ({ ...json, weightsManifest: [{ paths: [p], weights: a.weightSpecs! }] }) };
}

function convert(input: string, output: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, 'convert', input, output], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Nothing of the secret file: neither its text nor its size.
function expectNoLeak(message: string) {
  expect(message).not.toContain('hunter2');
  expect(message).not.toMatch(/\b123\b/);
}

describe('shardPathProblem', () => {
  it('accepts plain relative names and refuses everything that could leave the folder', () => {
    for (const ok of ['group1-shard1of1.bin', 'weights/group1.bin', 'a..b.bin', '.hidden.bin']) expect(shardPathProblem(ok)).toBeNull();
    const refused: [unknown, RegExp][] = [
      ['', /non-empty/], [42, /non-empty string/], ['../x.bin', /'\.\.'/], ['a/../../b', /'\.\.'/], ['./x.bin', /'\.'/], ['x/.', /'\.'/],
      ['%2E%2e/x.bin', /'\.\.'/], ['/etc/passwd', /absolute/], ['C:/w.bin', /':'/], ['c:w.bin', /':'/], ['file:///etc/passwd', /':'/],
      ['https://h/x.bin', /':'/], ['a\\b.bin', /'\\'/], ['..\\..\\x', /'\\'/], ['a\u0000.bin', /NUL/], ['a//b.bin', /empty segment/], ['x/', /empty segment/],
    ];
    for (const [path, why] of refused) expect(shardPathProblem(path), String(path)).toMatch(why);
  });
});

describe('TF.js shard paths', () => {
  it('refuses .., absolute and device paths before any read, whatever the reader', async () => {
    const f = await fixture();
    const paths = [relative(f.dir, f.secret), `../../../../../../../..${f.secret}`, f.secret, '/dev/zero', '/dev/stdin', '/proc/self/environ', 'C:\\Windows\\win.ini'];
    for (const p of paths) {
      const reads: string[] = [];
      const spy = async (rel: string) => { reads.push(rel); return new Uint8Array(readFileSync(join(f.dir, rel))); };
      const err = await importTfjsLayersModel(f.withPath(p), spy, 'model.json').catch((e) => e);
      expect(err, p).toBeInstanceOf(ModelFormatError);
      expect(err.message).toContain(`model.json: weightsManifest group 0 path 0 ${JSON.stringify(p)} is refused`);
      expectNoLeak(err.message);
      expect(reads).toEqual([]); // refused as data: a browser or URL reader gets the same check
    }
  });

  it('shardReader refuses a symlink out, a directory and a missing file with one message', async () => {
    const f = await fixture();
    symlinkSync(f.secret, join(f.dir, 'out.bin'));
    symlinkSync('/dev/zero', join(f.dir, 'zero.bin'));
    symlinkSync(join(f.root, 'private'), join(f.dir, 'up'));
    mkdirSync(join(f.dir, 'folder.bin'));
    for (const p of ['out.bin', 'zero.bin', 'up/secret.txt', 'folder.bin', 'missing.bin']) {
      const err = await importTfjsLayersModel(f.withPath(p), shardReader(f.dir), 'model.json').catch((e) => e);
      expect(err, p).toBeInstanceOf(ModelFormatError);
      expect(err.message).toContain(`model.json: weight shard '${p}' (group 0, holding `);
      expect(err.message).toContain("cannot be read: there is no regular file of that name inside the model's folder");
      expectNoLeak(err.message);
    }
  });

  it('shardReader reads a symlink or subfolder that stays inside, at most the bytes the manifest needs', async () => {
    const f = await fixture();
    mkdirSync(join(f.dir, 'weights'));
    writeFileSync(join(f.dir, 'weights', 'w.bin'), f.shard);
    symlinkSync(join(f.dir, SHARD), join(f.dir, 'alias.bin'));
    const x = randomArray(3 * 4, 7);
    const want = (f.m.predict(tf.tensor(x, [3, 4])) as tf.Tensor).dataSync();
    for (const p of [SHARD, 'weights/w.bin', 'alias.bin']) {
      const asked: number[] = [];
      const read = shardReader(f.dir);
      const model = await importTfjsLayersModel(f.withPath(p), (rel, max) => { asked.push(max); return read(rel, max); }, 'model.json');
      expect(asked).toEqual([81]); // 80 bytes of weights, + 1 to see extra bytes
      const got = model.predict(tensor(x, [3, 4])).data;
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
    }
    expect((await shardReader(f.dir)(SHARD, 10)).length).toBe(10); // stops at maxBytes
  });

  it('refuses a manifest of absurd size before reading or allocating', async () => {
    const f = await fixture();
    const huge = structuredClone(f.json);
    huge.weightsManifest[0].weights[0].shape = [1e9, 1e9];
    let reads = 0;
    const err = await importTfjsLayersModel(huge, async () => { reads++; return new Uint8Array(0); }, 'model.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(/model\.json: weightsManifest group 0: weight '.*kernel' \[1000000000,1000000000\] brings the weights past 4 GiB/);
    expect(reads).toBe(0);
  });
});

describe('TF.js shards hold exactly the manifest', () => {
  it('refuses one trailing byte and a shrunk bias shape (layers model)', async () => {
    const f = await fixture();
    const longer = new Uint8Array([...f.shard, 0]);
    const err = await importTfjsLayersModel(f.json, async () => longer, 'model.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toBe(`model.json: weightsManifest group 0: shard '${SHARD}' holds bytes past the 80 the manifest's weights take; ` +
      'the shards must hold exactly the listed weights (a wrong shape shifts every later weight)');
    const shrunk = structuredClone(f.json);
    const bias = shrunk.weightsManifest[0].weights[1];
    bias.shape = [1, 1, 1, 1, 1];
    await expect(importTfjsLayersModel(shrunk, async () => f.shard, 'model.json')).rejects.toThrow(/holds bytes past the 68/);
    const err2 = await importTfjsLayersModel(shrunk, async () => f.shard.subarray(0, 68), 'model.json').catch((e) => e);
    expect(err2).toBeInstanceOf(ModelFormatError);
    expect(err2.message).toMatch(new RegExp(`weight '${bias.name}' has shape \\[1,1,1,1,1\\], but layer .* expects 'bias' of shape \\[4\\]`));
  });

  it('refuses a shrunk bias in a graph model, with its bytes left in or cut out', async () => {
    const json = JSON.parse(readFileSync(join(MODELS, 'emotion.json'), 'utf8'));
    const bin = new Uint8Array(readFileSync(join(MODELS, 'emotion.bin')));
    const ws = json.weightsManifest[0].weights as { name: string; shape: number[] }[];
    const i = ws.findIndex((w) => w.shape.length === 1 && w.shape[0] === 128);
    const at = ws.slice(0, i).reduce((n, w) => n + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
    const name = ws[i].name;
    ws[i].shape = [1, 1, 1, 1, 1];
    const left = await importTfjsGraphModel(json, async () => bin, 'emotion.json').catch((e) => e);
    expect(left).toBeInstanceOf(ModelFormatError);
    expect(left.message).toMatch(/holds bytes past the \d+ the manifest's weights take/);
    const cut = new Uint8Array([...bin.subarray(0, at + 4), ...bin.subarray(at + 4 * 128)]);
    const err = await importTfjsGraphModel(json, async () => cut, 'emotion.json').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(err.message).toMatch(new RegExp(`emotion\\.json: weight '${name}' has shape \\[1,1,1,1,1\\], but the fused bias of node '.*' expects \\[128\\]`));
  });
});

describe('edgetune convert on a hostile TF.js manifest', () => {
  it('exits 1 without writing and without leaking, for every way out of the folder', async () => {
    const f = await fixture();
    symlinkSync(f.secret, join(f.dir, 'out.bin'));
    mkdirSync(join(f.dir, 'folder.bin'));
    const cases: [string, RegExp][] = [
      [`../../../../../../../..${f.secret}`, /weightsManifest group 0 path 0 .* is refused: it has a '\.' or '\.\.' segment/],
      [f.secret, /is refused: it is absolute/], ['/dev/zero', /is refused: it is absolute/], ['/dev/stdin', /is refused: it is absolute/],
      ['/proc/self/environ', /is refused: it is absolute/], ['out.bin', /weight shard 'out\.bin' .*no regular file of that name inside/],
      ['folder.bin', /weight shard 'folder\.bin' .*no regular file/], ['missing.bin', /weight shard 'missing\.bin' .*no regular file/],
    ];
    for (const [k, [p, why]] of cases.entries()) {
      const out = join(f.root, `out${k}.safetensors`);
      const r = convert(f.write(f.withPath(p), `m${k}.json`), out, { SECRET_TOKEN: 'hunter2' });
      expect(r.code, p).toBe(1);
      expect(r.stderr).toMatch(why);
      expectNoLeak(r.stderr + r.stdout);
      expect(existsSync(out)).toBe(false);
    }
    writeFileSync(join(f.dir, 'long.bin'), new Uint8Array([...f.shard, 0]));
    const out = join(f.root, 'long.safetensors');
    const r = convert(f.write(f.withPath('long.bin'), 'long.json'), out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("shard 'long.bin' holds bytes past the 80");
    expect(existsSync(out)).toBe(false);
    const ok = convert(join(f.dir, 'model.json'), join(f.root, 'ok.safetensors'));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const x = randomArray(2 * 4, 3);
    const want = (f.m.predict(tf.tensor(x, [2, 4])) as tf.Tensor).dataSync();
    const got = (await loadModel(join(f.root, 'ok.safetensors'))).predict(tensor(x, [2, 4])).data;
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
  });
});
