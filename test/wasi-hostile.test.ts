// Hostile plan files: the WASI module verifies every region and every op of a plan against the
// rules of verifyPlan before it runs anything (assembly/wasi/plan-verify.ts, from host/compile/ops.ts
// OP_FOOTPRINTS). Each crafted plan must exit 1 with one line naming what is wrong, quickly, and
// leave every file byte-identical; the host's reader of plan files refuses them too.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModelFile, EdgetuneError, loadModel, OP_SPECS, packDataFile, readPlanFileInfo, readSafetensors } from '../dist/node.js';
import { mnistData } from '../dist/examples.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RUNNER = join(ROOT, 'test/wasi/run-wasi.mjs');
const FIXTURES = join(ROOT, 'test/fixtures/wasi-hostile');
const work = mkdtempSync(join(tmpdir(), 'edgetune-wasi-hostile-'));
const ARGS = ['train', '--plan', '/p/model.plan', '--weights', '/w/model.safetensors', '--data', '/d/train.etd', '--epochs', '1'];

// Every file under the case's directory, by name, with its SHA-256.
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of ['p', 'w', 'd']) {
    for (const f of readdirSync(join(dir, d))) out[`${d}/${f}`] = createHash('sha256').update(readFileSync(join(dir, d, f))).digest('hex');
  }
  return out;
}

function run(dir: string) {
  const preopens = { '/p': join(dir, 'p'), '/w': join(dir, 'w'), '/d': join(dir, 'd') };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [RUNNER, join(ROOT, 'build/edgetune-wasi.wasm'), JSON.stringify(preopens), ...ARGS], { encoding: 'utf8', timeout: 60_000 });
  const stderr = r.stderr.split('\n').filter((l) => l && !/ExperimentalWarning|--trace-warnings/.test(l));
  return { status: r.status, stdout: r.stdout, stderr, ms: performance.now() - t0 };
}

// The plan file's parts (host/formats/plan-file.ts, version 2): where each op of each program and its
// uses words are, the region table and the bindings.
interface Op { program: number; index: number; name: string; at: number; uses: number; nargs: number }
function layout(bytes: Buffer) {
  const u = (o: number) => bytes.readUInt32LE(o);
  let at = 96 + 4 * u(76);
  const programs: { id: number; ops: number; words: number }[] = [];
  for (let i = 0; i < u(68); i++, at += 16) programs.push({ id: u(at), ops: u(at + 8), words: u(at + 12) });
  const bindings: { name: string; offset: number; bytes: number; flags: number }[] = [];
  for (let i = 0; i < u(72); i++) {
    const rank = u(at + 12);
    const len = u(at + 16 + 4 * rank);
    bindings.push({ offset: u(at), bytes: u(at + 4), flags: u(at + 8), name: bytes.toString('utf8', at + 20 + 4 * rank, at + 20 + 4 * rank + len) });
    at += 20 + 4 * rank + ((len + 3) & ~3);
  }
  const headerImage = at;
  at += (u(32) + 3) & ~3;
  const regions = at + 4 * programs.reduce((n, p) => n + p.words, 0);
  let uses = regions + 28 * u(84);
  const byCode = new Map(Object.entries(OP_SPECS).map(([name, s]) => [s.code as number, name]));
  const ops: Op[] = [];
  for (const p of programs) {
    let w = 0;
    for (let i = 0; i < p.ops; i++) {
      const nargs = u(at + 4 * w + 4);
      ops.push({ program: p.id, index: i, name: byCode.get(u(at + 4 * w))!, at: at + 4 * w, uses: uses + 4 * w, nargs });
      w += 2 + nargs;
    }
    at += 4 * p.words;
    uses += 4 * p.words;
  }
  const region = (i: number) => ({ offset: u(regions + 28 * i), bytes: u(regions + 28 * i + 4), kind: u(regions + 28 * i + 8), at: regions + 28 * i });
  const regionAt = (offset: number) => { for (let i = 0; i < u(84); i++) if (region(i).offset === offset && region(i).bytes) return i; return -1; };
  return { ops, bindings, region, regionAt, headerImage, arenaEnd: u(16) * 65536, regionCount: u(84) };
}
const argIndex = (op: string, arg: string) => (OP_SPECS as Record<string, { args: readonly string[] }>)[op].args.indexOf(arg);
function setArg(bytes: Buffer, op: Op, arg: string, value: number, region?: number) {
  const i = argIndex(op.name, arg);
  bytes.writeInt32LE(value | 0, op.at + 8 + 4 * i);
  if (region !== undefined) bytes.writeUInt32LE(region + 1, op.uses + 8 + 4 * i);
}

// A copy of the valid set in `base` with its plan mutated; the module must refuse it with one line.
function refusedIn(base: string, plan: Buffer, name: string, mutate: (bytes: Buffer, l: ReturnType<typeof layout>) => void, reason: RegExp, planBytes?: Buffer) {
  const dir = join(work, name);
  cpSync(base, dir, { recursive: true });
  const bytes = planBytes ?? Buffer.from(plan);
  if (!planBytes) mutate(bytes, layout(bytes));
  writeFileSync(join(dir, 'p/model.plan'), bytes);
  const before = hashes(dir);
  const r = run(dir);
  expect(r.stderr, name).toHaveLength(1);
  expect(r.stderr[0], name).toMatch(reason);
  expect(r.status, name).toBe(1);
  expect(r.stdout, name).toBe('');
  expect(hashes(dir), name).toEqual(before);
  expect(r.ms, name).toBeLessThan(5000);
  return bytes;
}

describe('WASI module: hostile plan files are refused before anything runs', () => {
  let base = '';
  let plan: Buffer;
  beforeAll(async () => {
    // The repro's valid set: the 784-300-100-5 MLP frozen up to base_dense_1, 4 MB budget.
    base = join(work, 'base');
    for (const d of ['p', 'w', 'd']) mkdirSync(join(base, d), { recursive: true });
    cpSync(join(FIXTURES, 'w'), join(base, 'w'), { recursive: true });
    await compileModelFile(join(base, 'w/model.safetensors'), join(base, 'p/model.plan'), { batch: 16, freeze: 'base_dense_1', budget: '4MB' });
    await packDataFile(join(base, 'd/train.etd'), mnistData([5, 6, 7, 8, 9], 40));
    plan = readFileSync(join(base, 'p/model.plan'));
  });

  const refused = (name: string, mutate: (bytes: Buffer, l: ReturnType<typeof layout>) => void, reason: RegExp, planBytes?: Buffer) =>
    refusedIn(base, plan, name, mutate, reason, planBytes);
  const initFill = (l: ReturnType<typeof layout>) => l.ops.find((o) => o.program === 5 && o.name === 'fill')!;
  const trainOp = (l: ReturnType<typeof layout>, name: string) => l.ops.find((o) => o.program === 1 && o.name === name)!;
  const frozen = (l: ReturnType<typeof layout>) => l.bindings.find((b) => b.name === 'base_dense_1/kernel')!;

  it('the valid plan runs (the mutations below are all that differ)', () => {
    const dir = join(work, 'valid');
    cpSync(base, dir, { recursive: true });
    const r = run(dir);
    expect(r.stderr).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote model\.safetensors after 3 steps$/m);
  });

  it('a valid plan with an arena past 32 MB runs to the end (Node 20 node:wasi aborted there: run-wasi.mjs)', () => {
    // The same plan with 600 pages (37.5 MB) of arena: only room added, every region unchanged.
    const dir = join(work, 'big-arena');
    cpSync(base, dir, { recursive: true });
    const bytes = Buffer.from(plan);
    expect(bytes.readUInt32LE(16)).toBeLessThan(600);
    bytes.writeUInt32LE(600, 16);
    writeFileSync(join(dir, 'p/model.plan'), bytes);
    const r = run(dir);
    expect(r.stderr).toEqual([]);
    expect(r.status).toBe(0); // was 134 (SIGABRT in uvwasi_destroy) or 139 with fast API calls on
    expect(r.stdout).toMatch(/^wrote model\.safetensors after 3 steps$/m);
  });

  it('a fill aimed at the I/O region (the safetensors header written back, the output path)', () => {
    let io = 0;
    const bytes = refused('fill-io', (b, l) => { io = l.arenaEnd + 1024; setArg(b, initFill(l), 'y', io); setArg(b, initFill(l), 'count', 4); },
      /^edgetune-wasi: plan: init op \d+ \(fill\) argument 'y' touches \[\d+, \d+\) outside region \d+ \[\d+, \d+\)$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/init op \d+ \(fill, op \d+\) argument 'y' touches \[/);
    expect(io).toBeGreaterThan(0);
  });

  it('the rename-target plan: a fill writing "other" over the output path; the sibling file is untouched', () => {
    refused('rename', (b, l) => {
      const fill = initFill(l);
      setArg(b, fill, 'y', l.arenaEnd + 65536);
      b.writeUInt32LE(0x6568746f, fill.at + 8 + 4 * argIndex('fill', 'value')); // 'othe'
    }, /^edgetune-wasi: plan: init op \d+ \(fill\) argument 'y' touches /);
    // (the copied set holds w/other.safetensors: hashes() covered it)
    expect(readdirSync(join(work, 'rename/w')).sort()).toEqual(['model.safetensors', 'other.safetensors']);
  });

  it('a fill zeroing frozen weights, with the uses table pointed at their region too', () => {
    refused('fill-frozen', (b, l) => {
      const w = frozen(l);
      setArg(b, initFill(l), 'y', w.offset, l.regionAt(w.offset));
      setArg(b, initFill(l), 'count', 1000);
      b.writeFloatLE(0, initFill(l).at + 8 + 4 * argIndex('fill', 'value'));
    }, /^edgetune-wasi: plan: init op \d+ \(fill\) argument 'y' may not write region \d+$/);
  });

  it('an op of the train program writing a frozen weight (a gemm output aimed at base_dense_1/kernel)', () => {
    refused('gemm-frozen', (b, l) => {
      const w = frozen(l);
      setArg(b, trainOp(l, 'gemm'), 'c', w.offset, l.regionAt(w.offset));
    }, /^edgetune-wasi: plan: train op \d+ \(gemm\) argument 'c' may not write region \d+$/);
  });

  it('a pointer past the end of memory', () => {
    refused('oom', (b, l) => setArg(b, initFill(l), 'y', 0x7ffffff0), /^edgetune-wasi: plan: init op \d+ \(fill\) argument 'y' touches \[2147483632, /);
  });

  it('a GEMM with k = 2^31-1 (would run for minutes): its ranges are computed without wrapping', () => {
    refused('gemm-k', (b, l) => setArg(b, trainOp(l, 'gemm'), 'k', 0x7fffffff), /^edgetune-wasi: plan: train op \d+ \(gemm\) argument '[abc]' touches \[\d+, \d+\) outside/);
  });

  it('a GEMM with zero strides and k = 2^30: every range is one float, the loops take hours; the work estimate refuses it', () => {
    const bytes = refused('gemm-zero-strides', (b, l) => {
      const g = trainOp(l, 'gemm');
      for (const s of ['rsa', 'csa', 'rsb', 'csb']) setArg(b, g, s, 0);
      setArg(b, g, 'k', 2 ** 30);
    }, /^edgetune-wasi: plan: train program: a step does \d+ element operations, over the limit of 4398046511104$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/train program: a step does \d+ element operations, over the limit of 4398046511104/);
  });

  it('an absurd count and a negative count', () => {
    refused('count-huge', (b, l) => setArg(b, trainOp(l, 'relu_forward') ?? trainOp(l, 'act_forward'), 'count', 0x7fffffff), /argument '[xy]' touches \[\d+, \d+\) outside region/);
    refused('count-negative', (b, l) => setArg(b, trainOp(l, 'bias_fill'), 'n', -5), /^edgetune-wasi: plan: train op \d+ \(bias_fill\) argument 'n' is -5, not a size$/);
  });

  it('an out-of-arena read (a gemm input past the arena)', () => {
    refused('read-outside', (b, l) => setArg(b, trainOp(l, 'gemm'), 'b', l.arenaEnd + 64), /^edgetune-wasi: plan: train op \d+ \(gemm\) argument 'b' touches \[\d+, \d+\) outside region/);
  });

  it('overlapping regions: a gradient region moved onto the trainable weights', () => {
    refused('overlap', (b, l) => {
      let grad = -1;
      let param = -1;
      for (let i = 0; i < l.regionCount; i++) {
        if (l.region(i).kind === 7 && grad < 0) grad = i;
        if (l.region(i).kind === 5 && param < 0) param = i;
      }
      b.writeUInt32LE(l.region(param).offset, l.region(grad).at);
    }, /^edgetune-wasi: plan: regions \d+ and \d+ overlap while both are alive$/);
  });

  it('an unknown opcode, a wrong argument count, and a step header batch above the planned batch', () => {
    refused('opcode', (b, l) => b.writeUInt32LE(99, trainOp(l, 'gemm').at), /^edgetune-wasi: plan: train op \d+: unknown opcode 99$/);
    refused('nargs', (b, l) => b.writeUInt32LE(13, trainOp(l, 'gemm').at + 4), /^edgetune-wasi: plan: train op \d+ \(gemm\): 13 arguments, expected 14$/);
    refused('batch', (b, l) => b.writeUInt32LE(1000, l.headerImage), /^edgetune-wasi: plan: step header batch 1000 exceeds the planned batch 16$/);
  });

  it("counts and lengths of the file's parts past its end (fuzz: 7 of 2000 mutations trapped reading there)", () => {
    const bindingAt = (b: Buffer) => 96 + 4 * b.readUInt32LE(76) + 16 * b.readUInt32LE(68);
    const cases: [string, (b: Buffer, l: ReturnType<typeof layout>) => void][] = [
      ['binding-rank', (b) => b.writeUInt32LE(0x80001, bindingAt(b) + 12)], // fuzz case 844
      ['binding-name', (b) => b.writeUInt32LE(0x7ffffff0, bindingAt(b) + 16 + 4 * b.readUInt32LE(bindingAt(b) + 12))],
      ['input-rank', (b) => b.writeUInt32LE(0x20000000, 76)], // fuzz case 1994
      ['program-count', (b) => b.writeUInt32LE(0x7fffffff, 68)], // fuzz case 971
      ['binding-count', (b) => b.writeUInt32LE(1000, 72)],
      ['header-bytes', (b) => b.writeUInt32LE(0xfffffff0, 32)],
      ['program-words', (b) => b.writeUInt32LE(0x40000000, 96 + 4 * b.readUInt32LE(76) + 12)], // x4 wraps to 0 in 32 bits
    ];
    for (const [name, mutate] of cases) {
      const bytes = refused(name, mutate, /^edgetune-wasi: plan: region out of bounds$/);
      expect(() => readPlanFileInfo(bytes), name).toThrow(EdgetuneError);
    }
  });

  it("an optimizer's slot passed as 0 (Adam's moments would be updated at address 0)", () => {
    const bytes = refused('slot-zero', (b, l) => {
      const op = trainOp(l, 'apply_gradients');
      setArg(b, op, 'kind', 3); // Adam: slots 1 and 2 required
      setArg(b, op, 's1', 0, -1);
      setArg(b, op, 's2', 0, -1);
    }, /^edgetune-wasi: plan: train op \d+ \(apply_gradients\) argument 's1' points at no region$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/argument 's1' is 0 but the kernel touches \d+ bytes there/);
  });

  it("a class count in the header above the loss op's (a label would read a logit past its row)", () => {
    refused('classes', (b) => b.writeUInt32LE(1_000_000, 56),
      /^edgetune-wasi: plan: train op \d+ \(xent_logits_sparse\): \d+ classes, fewer than the header's 1000000$/);
  });

  it('the version-1 reproductions (test/fixtures/wasi-hostile) are refused: recompile the plan', () => {
    for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.plan'))) {
      refused(`v1-${f}`, () => {}, /^edgetune-wasi: plan: file format version 1, this module reads version 2: recompile the plan$/, readFileSync(join(FIXTURES, f)));
      expect(() => readPlanFileInfo(readFileSync(join(FIXTURES, f)))).toThrow(/version 1, this build reads version 2: recompile the plan/);
    }
  });
});

describe('WASI module: hostile micro-batched plans with int8 weights', () => {
  // The valid set: the MLP with base_dense_1 frozen and int8, micro-batches of 4 in steps of 16.
  let base = '';
  let plan: Buffer;
  beforeAll(async () => {
    base = join(work, 'micro-base');
    for (const d of ['p', 'w', 'd']) mkdirSync(join(base, d), { recursive: true });
    const model = await loadModel(readFileSync(join(FIXTURES, 'w/model.safetensors')));
    model.layers[0].trainable = false;
    model.quantize('int8');
    writeFileSync(join(base, 'w/model.safetensors'), model.toBytes());
    await compileModelFile(join(base, 'w/model.safetensors'), join(base, 'p/model.plan'), { batch: 16, microBatch: 4 });
    await packDataFile(join(base, 'd/train.etd'), mnistData([5, 6, 7, 8, 9], 40));
    plan = readFileSync(join(base, 'p/model.plan'));
  });
  const refused = (name: string, mutate: (bytes: Buffer, l: ReturnType<typeof layout>) => void, reason: RegExp) => refusedIn(base, plan, name, mutate, reason);
  const int8Kernel = (l: ReturnType<typeof layout>) => l.bindings.find((b) => b.name === 'base_dense_1/kernel')!;

  it('the valid plan runs: steps of 16, 16 and 8 rows; the int8 kernel is written back unchanged, the trainable weights changed', () => {
    const dir = join(work, 'micro-valid');
    cpSync(base, dir, { recursive: true });
    const before = readFileSync(join(dir, 'w/model.safetensors'));
    const r = run(dir);
    expect(r.stderr).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote model\.safetensors after 3 steps$/m);
    expect(plan.readUInt32LE(12)).toBe(3); // step contract 3
    const after = readFileSync(join(dir, 'w/model.safetensors'));
    const k = int8Kernel(layout(plan));
    expect(k.flags & 4).toBe(4);
    const data = (b: Buffer, name: string) => Buffer.from(readSafetensors(b).tensors.get(name)!.data);
    expect(data(after, 'base_dense_1/kernel').equals(data(before, 'base_dense_1/kernel'))).toBe(true);
    expect(data(after, 'base_dense_2/kernel').equals(data(before, 'base_dense_2/kernel'))).toBe(false);
  });

  it('a loss scale that is not 1 / the step batch', () => {
    const bytes = refused('micro-loss-scale', (b) => b.writeFloatLE(1 / 15, 92), /^edgetune-wasi: plan: loss scale is not 1 \/ the step batch 16$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/loss scale 0\.066\d+ is not 1 \/ the step batch 16/);
  });

  it('a step batch the micro-batch does not divide (its loss scale consistent)', () => {
    const bytes = refused('micro-divide', (b) => { b.writeUInt32LE(18, 88); b.writeFloatLE(1 / 18, 92); }, /^edgetune-wasi: plan: micro-batch 4 does not divide the step batch 18$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/micro-batch 4 does not divide the step batch 18/);
  });

  it('a micro-batched plan relabelled whole-batch (step contract 2): its step fields are refused', () => {
    const bytes = refused('micro-contract', (b) => b.writeUInt32LE(2, 12), /^edgetune-wasi: plan: a whole-batch plan \(step contract 2\) has a step batch or loss scale$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/a whole-batch plan \(step contract 2\) has step batch 16/);
  });

  it('the optimizer aimed at the int8 kernel\'s region', () => {
    const bytes = refused('int8-written', (b, l) => {
      const update = l.ops.find((o) => o.program === 1 && o.name === 'apply_gradients')!;
      const k = int8Kernel(l);
      setArg(b, update, 'w', k.offset, l.regionAt(k.offset));
    }, /^edgetune-wasi: plan: train op \d+ \(apply_gradients\) argument 'w' may not write region \d+$/);
    expect(() => readPlanFileInfo(bytes)).toThrow(/train op \d+ \(apply_gradients, op \d+\) argument 'w' may not write 'region \d+'/);
  });

  it('the int8 kernel flagged trainable, or its region put in the trainable slab', () => {
    const reason = /^edgetune-wasi: plan: int8 tensor 'base_dense_1\/kernel' is trainable or in a writable region; an int8 kernel stays frozen$/;
    const flagged = refused('int8-trainable', (b) => {
      const nameAt = b.indexOf(Buffer.from('base_dense_1/kernel'));
      b.writeUInt32LE(b.readUInt32LE(nameAt - 20) | 1, nameAt - 20); // rank 2: flags are 20 bytes before the name
    }, reason);
    expect(() => readPlanFileInfo(flagged)).toThrow(/int8 tensor 'base_dense_1\/kernel' is trainable or in a writable region/);
    const moved = refused('int8-slab', (b, l) => b.writeUInt32LE(1, l.region(l.regionAt(int8Kernel(l).offset)).at + 24), reason);
    expect(() => readPlanFileInfo(moved)).toThrow(/int8 tensor 'base_dense_1\/kernel' is trainable or in a writable region/);
  });
});
