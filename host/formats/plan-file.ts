// The compiled-plan file (`.plan`): a train-mode Plan as the WASI module (assembly/wasi/wasi.ts) reads
// it, with no JSON and no JavaScript. Little-endian; every field a u32 unless marked; every part
// 4-byte aligned. The layout is documented field by field in docs/wasi.md and mirrored by the
// P_* constants in assembly/wasi/wasi.ts: change both and bump PLAN_FILE_VERSION together.
import { EdgetuneError, InvalidArgumentError } from '../core/errors';
import { sizeOf } from '../compile/graph';
import { encodeOps, HEADER, OP_SPECS, type OpName, OPT_KIND } from '../compile/ops';
import { verifyPlan } from '../compile/plan-check';
import { baseLearningRate } from '../training/optimizers';
import { checkMicroBatch } from '../training/micro-batch';
import { KERNEL_STATIC_BYTES, WASM_PAGE, type Plan, type PlanOpWithRegions, type ProgramName, type RegionKind } from '../compile/plan';

export const PLAN_FILE_MAGIC = 0x4c505445; // 'ETPL' read as a little-endian u32
// Version 2 added the region table and each op's region uses (the WASI module verifies every op
// against them before it runs anything); version-1 files are refused: recompile the plan.
export const PLAN_FILE_VERSION = 2;
export const PLAN_FILE_HEADER_BYTES = 96;
// Which step contract the driver follows (docs/wasi.md): 2 = run `init` once, then per step write
// S_BATCH and clear the accumulators; the train program computes the learning rate, bias corrections
// and clipping and counts the iteration itself (host/runtime/executor.ts setStep). 3 = micro-batched
// (host/training/micro-batch.ts microBatchStep): per step of up to `stepBatch` rows, zero the
// gradients, run `gradients` once per micro-batch of the plan's batch with the loss scale
// 1 / the step's rows, then `train` once.
export const STEP_CONTRACT = 2;
export const STEP_CONTRACT_MICRO = 3;

// Programs the WASI driver runs; 'init' joins when the plan has one.
const FILE_PROGRAMS: ProgramName[] = ['train', 'init'];
const MICRO_PROGRAMS: ProgramName[] = ['gradients', 'train', 'init'];
// Every program has an id (regions name the program their activations belong to); the file holds
// the words of train and init only.
export const PROGRAM_ID_OF: Record<ProgramName, number> = { train: 1, forward: 2, evaluate: 3, gradients: 4, init: 5, prepare: 6 };
const PROGRAM_OF_ID = Object.fromEntries(Object.entries(PROGRAM_ID_OF).map(([name, id]) => [id, name as ProgramName]));

// Region kinds and slabs in the region table (assembly/wasi/plan-verify.ts K_*, SLAB_*).
export const REGION_KINDS: RegionKind[] = ['static', 'header', 'program', 'input', 'labels', 'param', 'state', 'grad', 'slot', 'scratch', 'activation', 'derived'];
const FIXED_SLABS = ['', 'trainable', 'frozen', 'state', 'grads'];
export const REGION_RECORD_BYTES = 28;

export const BINDING_TRAINABLE = 1;
export const BINDING_STATE = 2;
export const BINDING_INT8 = 4; // an I8 tensor (a frozen int8 kernel); its f32 scales are the next binding

export interface PlanFileOptions {
  // A micro-batched plan (compiled with microBatching): the rows of one optimizer step, a multiple
  // of the plan's batch (the micro-batch).
  stepBatch?: number;
}

export interface PlanFileInfo {
  version: number;
  pages: number;
  batchSize: number;
  stepBatch: number; // rows per optimizer step: the batch size, or the micro-batched plan's effective batch
  bindings: { name: string; offset: number; bytes: number; flags: number; shape: number[] }[];
  programs: { id: number; offset: number; ops: number; words: number }[];
}

const slabId = (slab: string | undefined, slots: string[]) => {
  if (!slab) return 0;
  const fixed = FIXED_SLABS.indexOf(slab);
  if (fixed > 0) return fixed;
  if (!slots.includes(slab)) slots.push(slab);
  return FIXED_SLABS.length + slots.indexOf(slab);
};

// Per program: one word per op word, 1 + the region index a pointer argument uses, else 0.
function encodeUses(ops: PlanOpWithRegions[], words: Int32Array): Uint32Array {
  const uses = new Uint32Array(words.length);
  let w = 0;
  for (const op of ops) {
    OP_SPECS[op.op].args.forEach((name, i) => { if (op.uses[name] !== undefined) uses[w + 2 + i] = op.uses[name] + 1; });
    w += 2 + words[w + 1];
  }
  return uses;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

// The rows of one optimizer step, checked: the plan's batch, or for a micro-batched plan the
// effective batch, a multiple of the plan's (micro-)batch.
function stepBatchOf(plan: Plan, options: PlanFileOptions): number {
  const step = options.stepBatch;
  if (!plan.microBatching) {
    if (step !== undefined && step !== plan.batchSize) throw new InvalidArgumentError(`a plan file's step batch ${step} needs a micro-batched plan; this plan runs whole batches of ${plan.batchSize}`);
    return plan.batchSize;
  }
  if (step === undefined) throw new InvalidArgumentError(`a micro-batched plan file needs its step batch (the rows of one optimizer step, a multiple of the micro-batch ${plan.batchSize})`);
  checkMicroBatch(plan.batchSize, step, 'plan file');
  return step;
}

export function planToFileBytes(plan: Plan, options: PlanFileOptions = {}): Uint8Array {
  if (plan.mode !== 'training' || !plan.programs.train || plan.labelsRegion === null || !plan.labels || !plan.optimizer) {
    throw new InvalidArgumentError('a plan file needs a training plan (compile with --train): it has no train program, labels or optimizer');
  }
  // The WASI driver feeds one input and one labels batch per step and reads one loss.
  if (plan.outputs.some((o) => o.weightsRegion !== null)) {
    throw new InvalidArgumentError('a plan file (the WASI runner) feeds no sample weights; this plan was made for sampleWeight / classWeight');
  }
  const lossProgram = plan.microBatching ? plan.programs.gradients : plan.programs.train;
  if (plan.inputs.length !== 1 || plan.outputs.length !== 1 || !lossProgram || lossProgram.metrics !== null) {
    throw new InvalidArgumentError(`a plan file (the WASI runner) takes a model with one input and one output and an unweighted loss; this plan has ${plan.inputs.length} inputs (${plan.inputs.map((i) => i.name).join(', ')}) and ${plan.outputs.length} outputs (${plan.outputs.map((o) => o.name).join(', ')})`);
  }
  const stepBatch = stepBatchOf(plan, options);
  const enc = new TextEncoder();
  const programs = (plan.microBatching ? MICRO_PROGRAMS : FILE_PROGRAMS).filter((name) => (plan.programs as Record<string, unknown>)[name])
    .map((name) => {
      const p = (plan.programs as Record<string, NonNullable<Plan['programs']['train']>>)[name];
      const words = encodeOps(p.ops);
      return { id: PROGRAM_ID_OF[name], offset: plan.regions[p.region].offset, ops: p.ops.length, words, uses: encodeUses(p.ops, words) };
    });
  // An int8 kernel is two safetensors tensors (host/formats/save.ts): the I8 kernel and its F32
  // '<kernel>_scale', one per output channel.
  const bindings = plan.params.flatMap((b) => {
    const name = `${b.layer}/${b.weight}`;
    const flags = (b.trainable ? BINDING_TRAINABLE : 0) | (plan.regions[b.region].kind === 'state' ? BINDING_STATE : 0);
    if (b.int8Scale === undefined) return [{ name: enc.encode(name), offset: plan.regions[b.region].offset, bytes: sizeOf(b.shape) * 4, flags, shape: b.shape }];
    const ch = b.int8Channels!;
    return [
      { name: enc.encode(name), offset: plan.regions[b.region].offset, bytes: sizeOf(b.shape), flags: flags | BINDING_INT8, shape: b.shape },
      { name: enc.encode(`${name}_scale`), offset: plan.regions[b.int8Scale].offset, bytes: ch * 4, flags, shape: [ch] },
    ];
  });
  const headerRegion = plan.regions[plan.header];
  let size = PLAN_FILE_HEADER_BYTES + 4 * plan.inputShape.length + 16 * programs.length;
  for (const b of bindings) size += 16 + 4 * b.shape.length + 4 + pad4(b.name.length);
  size += pad4(headerRegion.bytes);
  for (const p of programs) size += 2 * p.words.byteLength;
  size += REGION_RECORD_BYTES * plan.regions.length;

  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const u32 = (v: number) => { view.setUint32(at, v, true); at += 4; };
  const outputShape = plan.outputShape;
  u32(PLAN_FILE_MAGIC);
  u32(PLAN_FILE_VERSION);
  u32(size);
  u32(plan.microBatching ? STEP_CONTRACT_MICRO : STEP_CONTRACT);
  u32(plan.pages);
  u32(KERNEL_STATIC_BYTES);
  u32(plan.batchSize);
  u32(headerRegion.offset);
  u32(headerRegion.bytes);
  u32(plan.regions[plan.input].offset);
  u32(sizeOf(plan.inputShape));
  u32(plan.regions[plan.labelsRegion].offset);
  u32(plan.labels.floatsPerSample);
  u32(plan.labels.sparse ? 0 : 1);
  u32(outputShape[outputShape.length - 1]);
  u32(OPT_KIND[plan.optimizer.className]);
  view.setFloat32(at, baseLearningRate(plan.optimizer), true); at += 4;
  u32(programs.length);
  u32(bindings.length);
  u32(plan.inputShape.length);
  u32(HEADER.bytes);
  u32(plan.regions.length);
  // Micro-batched plans: the step batch and the loss gradient's scale of a whole step (f32 of
  // 1 / stepBatch, as the executor's lossScale setter stores it); zero for whole-batch plans.
  u32(plan.microBatching ? stepBatch : 0);
  view.setFloat32(at, plan.microBatching ? 1 / stepBatch : 0, true); at += 4;
  for (const d of plan.inputShape) u32(d);
  for (const p of programs) { u32(p.id); u32(p.offset); u32(p.ops); u32(p.words.length); }
  for (const b of bindings) {
    u32(b.offset); u32(b.bytes); u32(b.flags); u32(b.shape.length);
    for (const d of b.shape) u32(d);
    u32(b.name.length);
    bytes.set(b.name, at);
    at += pad4(b.name.length);
  }
  at += pad4(headerRegion.bytes); // the step header's initial image: zero (the init program fills it)
  for (const p of programs) { bytes.set(new Uint8Array(p.words.buffer, p.words.byteOffset, p.words.byteLength), at); at += p.words.byteLength; }
  const slots: string[] = [];
  for (const r of plan.regions) {
    const live = r.kind === 'activation' ? r.live! : [0, 0];
    u32(r.offset); u32(r.bytes); u32(REGION_KINDS.indexOf(r.kind)); u32(r.program ? PROGRAM_ID_OF[r.program] : 0);
    u32(live[0]); u32(live[1]); u32(slabId(r.slab, slots));
  }
  for (const p of programs) for (const u of p.uses) u32(u);
  if (at !== size) throw new EdgetuneError('PlanInvalid', `plan file layout error: wrote ${at} of ${size} bytes`);
  return bytes;
}

// Reads back the parts a host-side check or `inspect` needs (the WASI module reads the rest).
export function readPlanFileInfo(bytes: Uint8Array, source = '<plan>'): PlanFileInfo {
  const fail = (why: string) => new EdgetuneError('PlanFile', `${source}: ${why}`);
  if (bytes.length < PLAN_FILE_HEADER_BYTES) throw fail(`${bytes.length} bytes, shorter than the ${PLAN_FILE_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Every read is checked: counts and lengths in a crafted header point anywhere.
  const inside = (o: number) => { if (!(o >= 0 && o + 4 <= bytes.length)) throw fail(`truncated: a table entry at byte ${o} is past the end (${bytes.length} bytes)`); return o; };
  const u = (o: number) => view.getUint32(inside(o), true);
  const i32 = (o: number) => view.getInt32(inside(o), true);
  if (u(0) !== PLAN_FILE_MAGIC) throw fail('not an edgetune plan file (bad magic)');
  if (u(4) !== PLAN_FILE_VERSION) throw fail(`plan file version ${u(4)}, this build reads version ${PLAN_FILE_VERSION}: recompile the plan (edgetune compile)`);
  if (u(8) !== bytes.length) throw fail(`header says ${u(8)} bytes, the file has ${bytes.length}`);
  let at = PLAN_FILE_HEADER_BYTES + 4 * u(76);
  const programs = [];
  for (let i = 0; i < u(68); i++, at += 16) programs.push({ id: u(at), offset: u(at + 4), ops: u(at + 8), words: u(at + 12) });
  const dec = new TextDecoder();
  const bindings = [];
  for (let i = 0; i < u(72); i++) {
    const offset = u(at), nbytes = u(at + 4), flags = u(at + 8), rank = u(at + 12);
    at += 16;
    const shape = [];
    for (let d = 0; d < rank; d++, at += 4) shape.push(u(at));
    const len = u(at);
    at += 4;
    bindings.push({ name: dec.decode(bytes.subarray(at, at + len)), offset, bytes: nbytes, flags, shape });
    at += pad4(len);
  }
  // The same checks the WASI module makes before it runs anything (verifyPlan over the file's
  // regions and ops): a plan file is data from anywhere.
  at += (u(32) + 3) & ~3;
  const wordsAt = programs.map((p) => { const w = at; at += 4 * p.words; return w; });
  const regions: { name: string; offset: number; bytes: number; kind: RegionKind; program?: ProgramName; live?: [number, number]; slab?: string }[] = [];
  for (let i = 0; i < u(84); i++, at += REGION_RECORD_BYTES) {
    const kind = REGION_KINDS[u(at + 8)];
    regions.push({
      name: `region ${i}`, offset: u(at), bytes: u(at + 4), kind, program: PROGRAM_OF_ID[u(at + 12)],
      live: kind === 'activation' ? [u(at + 16), u(at + 20)] as [number, number] : undefined, slab: u(at + 24) ? `slab ${u(at + 24)}` : undefined,
    });
    if (u(at + 24) === 1) regions[i].slab = 'trainable';
  }
  if (at + 4 * programs.reduce((n, p) => n + p.words, 0) !== bytes.length) throw fail('bad region or program tables');
  const byCode = new Map(Object.entries(OP_SPECS).map(([name, spec]) => [spec.code as number, name as OpName]));
  const planPrograms: Partial<Plan['programs']> = {};
  programs.forEach((p, pi) => {
    const ops: PlanOpWithRegions[] = [];
    for (let w = 0, n = 0; n < p.ops; n++) {
      const code = i32(wordsAt[pi] + 4 * w);
      const name = byCode.get(code);
      const nargs = u(wordsAt[pi] + 4 * w + 4);
      if (!name) throw fail(`${PROGRAM_OF_ID[p.id]} op ${n}: unknown opcode ${code}`);
      const spec = OP_SPECS[name].args;
      if (nargs !== spec.length && !(name === 'schedule' && nargs >= spec.length)) throw fail(`${PROGRAM_OF_ID[p.id]} op ${n} (${name}): ${nargs} arguments, expected ${spec.length}`);
      const args: Record<string, number> = {};
      const uses: Record<string, number> = {};
      spec.forEach((arg, i) => {
        args[arg] = i32(wordsAt[pi] + 4 * (w + 2 + i));
        const use = u(at + 4 * (w + 2 + i));
        if (use) uses[arg] = use - 1;
      });
      ops.push({ op: name, layer: `op ${n}`, args, uses });
      w += 2 + nargs;
    }
    at += 4 * p.words;
    planPrograms[PROGRAM_OF_ID[p.id]] = { ops, region: -1, output: -1, outputs: [], metrics: null };
  });
  const stepBatch = checkStep(u(12), u(24), u(88), view.getFloat32(92, true), planPrograms, fail);
  checkInt8Bindings(bindings, regions, fail);
  // The train program of a micro-batched plan runs with S_BATCH = the step's rows: its footprints
  // are checked at the step batch, the other programs' at the plan's batch.
  const { train, ...rest } = planPrograms;
  const check = (programs: Partial<Plan['programs']>, batchSize: number) =>
    verifyPlan({ regions, programs, batchSize, pages: u(16), totalBytes: u(16) * WASM_PAGE } as unknown as Plan);
  const problems = [...check(rest, u(24)), ...check(train ? { train } : {}, stepBatch)];
  if (problems.length) throw fail(`refused: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
  return { version: u(4), pages: u(16), batchSize: u(24), stepBatch, bindings, programs };
}

// The step contract and its fields (docs/wasi.md), as the WASI module checks them: a whole-batch
// plan has no step batch or loss scale; a micro-batched one a step batch that the plan's batch
// divides, the f32 of 1 / it as loss scale, and a gradients program. Returns the step batch.
function checkStep(contract: number, batch: number, step: number, lossScale: number, programs: Partial<Plan['programs']>,
  fail: (why: string) => Error): number {
  if (contract === STEP_CONTRACT) {
    if (step !== 0 || lossScale !== 0) throw fail(`refused: a whole-batch plan (step contract ${STEP_CONTRACT}) has step batch ${step} and loss scale ${lossScale}; both must be 0`);
    return batch;
  }
  if (contract !== STEP_CONTRACT_MICRO) throw fail(`unsupported step contract ${contract} (this build runs ${STEP_CONTRACT} and ${STEP_CONTRACT_MICRO})`);
  if (!(batch >= 1 && step >= batch && step % batch === 0)) throw fail(`refused: micro-batch ${batch} does not divide the step batch ${step}`);
  if (lossScale !== Math.fround(1 / step)) throw fail(`refused: loss scale ${lossScale} is not 1 / the step batch ${step}`);
  if (!programs.gradients) throw fail('refused: a micro-batched plan (step contract 3) has no gradients program');
  return step;
}

// An int8 kernel is frozen: not flagged trainable, in a region no optimizer may write (the frozen
// slab), followed by its f32 scales.
function checkInt8Bindings(bindings: PlanFileInfo['bindings'], regions: { offset: number; kind: RegionKind; slab?: string }[], fail: (why: string) => Error): void {
  bindings.forEach((b, i) => {
    if (!(b.flags & BINDING_INT8)) return;
    const region = regions.find((r) => r.kind === 'param' && r.offset === b.offset);
    if (b.flags & BINDING_TRAINABLE || !region || region.slab === 'trainable') throw fail(`refused: int8 tensor '${b.name}' is trainable or in a writable region; an int8 kernel stays frozen`);
    if (bindings[i + 1]?.name !== `${b.name}_scale`) throw fail(`refused: int8 tensor '${b.name}' is not followed by its scales '${b.name}_scale'`);
  });
}
