// The compiled-plan file (`.plan`): a train-mode Plan as the WASI module (assembly/wasi.ts) reads
// it, with no JSON and no JavaScript. Little-endian; every field a u32 unless marked; every part
// 4-byte aligned. The layout is documented field by field in docs/wasi.md and mirrored by the
// P_* constants in assembly/wasi.ts: change both and bump PLAN_FILE_VERSION together.
import { EdgetuneError, InvalidArgumentError } from '../core/errors';
import { sizeOf } from '../compile/graph';
import { encodeOps, HEADER, OPT_KIND } from '../compile/ops';
import { baseLearningRate } from '../training/optimizers';
import { KERNEL_STATIC_BYTES, type Plan } from '../compile/plan';

export const PLAN_FILE_MAGIC = 0x4c505445; // 'ETPL' read as a little-endian u32
export const PLAN_FILE_VERSION = 1;
export const PLAN_FILE_HEADER_BYTES = 96;
// Which step contract the driver follows (docs/wasi.md): 2 = run `init` once, then per step write
// S_BATCH and clear the accumulators; the train program computes the learning rate, bias corrections
// and clipping and counts the iteration itself (host/runtime/executor.ts setStep).
export const STEP_CONTRACT = 2;

// Programs the WASI driver runs; 'init' joins when the plan has one.
const FILE_PROGRAMS: string[] = ['train', 'init'];
const PROGRAM_ID_OF: Record<string, number> = { train: 1, init: 5 };

export const BINDING_TRAINABLE = 1;
export const BINDING_STATE = 2;

export interface PlanFileInfo {
  version: number;
  pages: number;
  batchSize: number;
  bindings: { name: string; offset: number; bytes: number; flags: number; shape: number[] }[];
  programs: { id: number; offset: number; ops: number; words: number }[];
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export function planToFileBytes(plan: Plan): Uint8Array {
  if (plan.mode !== 'training' || !plan.programs.train || plan.labelsRegion === null || !plan.labels || !plan.optimizer) {
    throw new InvalidArgumentError('a plan file needs a training plan (compile with --train): it has no train program, labels or optimizer');
  }
  const enc = new TextEncoder();
  const programs = FILE_PROGRAMS.filter((name) => (plan.programs as Record<string, unknown>)[name])
    .map((name) => {
      const p = (plan.programs as Record<string, NonNullable<Plan['programs']['train']>>)[name];
      return { id: PROGRAM_ID_OF[name], offset: plan.regions[p.region].offset, ops: p.ops.length, words: encodeOps(p.ops) };
    });
  const bindings = plan.params.map((b) => ({
    name: enc.encode(`${b.layer}/${b.weight}`),
    offset: plan.regions[b.region].offset,
    bytes: sizeOf(b.shape) * 4,
    flags: (b.trainable ? BINDING_TRAINABLE : 0) | (plan.regions[b.region].kind === 'state' ? BINDING_STATE : 0),
    shape: b.shape,
  }));
  const headerRegion = plan.regions[plan.header];
  let size = PLAN_FILE_HEADER_BYTES + 4 * plan.inputShape.length + 16 * programs.length;
  for (const b of bindings) size += 16 + 4 * b.shape.length + 4 + pad4(b.name.length);
  size += pad4(headerRegion.bytes);
  for (const p of programs) size += p.words.byteLength;

  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const u32 = (v: number) => { view.setUint32(at, v, true); at += 4; };
  const outputShape = plan.outputShape;
  u32(PLAN_FILE_MAGIC);
  u32(PLAN_FILE_VERSION);
  u32(size);
  u32(STEP_CONTRACT);
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
  at = PLAN_FILE_HEADER_BYTES; // the rest of the fixed header is reserved (zero)
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
  if (at !== size) throw new EdgetuneError('PlanInvalid', `plan file layout error: wrote ${at} of ${size} bytes`);
  return bytes;
}

// Reads back the parts a host-side check or `inspect` needs (the WASI module reads the rest).
export function readPlanFileInfo(bytes: Uint8Array, source = '<plan>'): PlanFileInfo {
  const fail = (why: string) => new EdgetuneError('PlanFile', `${source}: ${why}`);
  if (bytes.length < PLAN_FILE_HEADER_BYTES) throw fail(`${bytes.length} bytes, shorter than the ${PLAN_FILE_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u = (o: number) => view.getUint32(o, true);
  if (u(0) !== PLAN_FILE_MAGIC) throw fail('not an edgetune plan file (bad magic)');
  if (u(4) !== PLAN_FILE_VERSION) throw fail(`plan file version ${u(4)}, this build reads version ${PLAN_FILE_VERSION}`);
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
  return { version: u(4), pages: u(16), batchSize: u(24), bindings, programs };
}
