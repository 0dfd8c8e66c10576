// The WASI module's plan verifier: before anything runs, every region and every op of every
// program in a plan file (host/formats/plan-file.ts, version 2) is checked by the rules of the host's
// verifyPlan (host/compile/plan-check.ts): regions aligned and inside the arena, no two regions alive
// together overlap, every op known, with its argument count, its sizes non-negative and each
// pointer argument's bytes (the table of assembly/wasi/op-footprints.ts, generated from host/compile/ops.ts) inside the
// region the plan says it uses, in that region's live range, and allowed to write there: weights
// only by the optimizer and constraints (trainable ones only), state only by BN's moving
// statistics, never the input, labels, step header, program words or static data.
// A refusal is left as a message (texts and numbers) at `note` for the driver to print.
import * as T from './wasi-messages';
import { OP_XENT_LOGITS_SPARSE, S_BATCH } from '../interp/opcodes';
import {
  BC_ABS, BC_ADD, BC_AND, BC_B, BC_BIT, BC_CEIL, BC_DIV, BC_EQ, BC_GE, BC_GT, BC_LE, BC_LT, BC_MIN, BC_MUL, BC_OR, BC_SELECT, BC_SUB,
  BC_U16, BC_U32, BC_U8, OPCODE_MAX, PLAN_WORK_LIMIT,
} from './op-footprints';

// Region kinds and slabs as host/formats/plan-file.ts writes them (REGION_KINDS, FIXED_SLABS).
const K_STATIC: u32 = 0;
const K_HEADER: u32 = 1;
const K_PROGRAM: u32 = 2;
const K_INPUT: u32 = 3;
const K_LABELS: u32 = 4;
export const K_PARAM: u32 = 5;
const K_STATE: u32 = 6;
const K_GRAD: u32 = 7;
const K_ACTIVATION: u32 = 10;
const K_COUNT: u32 = 11;
const SLAB_TRAINABLE: u32 = 1;
export const REGION_RECORD: usize = 28; // offset, bytes, kind, program, live first, live last, slab
const MODE_READ = 0;
const MODE_PARAMS = 2;
const MODE_STATE = 3;
const OP_SCHEDULE = 18;

let table: usize = 0; // the generated op table (moved to the I/O region with the texts)
let note: usize = 0; // 1 KB: up to 32 entries of 16 bytes (u32 0 = text, 1 = number; u64 value), the stack
let notes = 0;
let regions: usize = 0;
let regionCount: u32 = 0;
let arenaBase: u64 = 0;
let arenaEnd: u64 = 0;
// The op being checked.
let program: u32 = 0;
let opIndex: i32 = 0;
let op: usize = 0;
let uses: usize = 0;
let work: f64 = 0; // element operations of the program's ops so far (host/compile/ops.ts opWork)

function text(t: T.Text): void {
  if (notes < 32) { store<u32>(note + (<usize>notes << 4), 0); store<u64>(note + (<usize>notes << 4) + 8, <u64>t); notes++; }
}
function num(v: u64): void {
  if (notes < 32) { store<u32>(note + (<usize>notes << 4), 1); store<u64>(note + (<usize>notes << 4) + 8, v); notes++; }
}
export function noteCount(): i32 {
  return notes;
}
// @ts-ignore: decorator
@inline function rf(r: u32, field: usize): u32 {
  return load<u32>(regions + <usize>r * REGION_RECORD + field);
}
// The op's record in the generated table (scripts/op-footprints.mjs footprintTable), or 0.
function recordOf(code: i32): usize {
  if (<u32>code > <u32>OPCODE_MAX) return 0;
  const at = load<u16>(table + (<usize>code << 1));
  return at == 0xffff ? 0 : table + <usize>at;
}
function regionNote(r: u32): void {
  text(T.V_REGION); num(<u64>r);
}
function opNote(arg: T.Text): void {
  text(program == 5 ? T.V_INIT : program == 4 ? T.V_GRADIENTS : T.V_TRAIN); num(<u64>opIndex);
  const rec = recordOf(load<i32>(op));
  if (rec) { text(T.V_OPEN); text(<T.Text>load<u16>(rec + 1)); text(T.CLOSE); }
  if (arg >= 0) { text(T.V_ARGUMENT); text(arg); text(T.V_QUOTE); }
}

// The region table: aligned, inside the arena, no overlap between regions alive together.
export function verifyRegions(buffer: usize, footprints: usize, records: usize, count: u32, base: u64, end: u64): bool {
  note = buffer; notes = 0; table = footprints; regions = records; regionCount = count; arenaBase = base; arenaEnd = end;
  for (let r: u32 = 0; r < count; r++) {
    const o = <u64>rf(r, 0), n = <u64>rf(r, 4), kind = rf(r, 8);
    if (kind >= K_COUNT || (o | n) & 15 || o + n > end || (o < base && kind != K_STATIC)) {
      regionNote(r); text(T.V_OUTSIDE); return false;
    }
  }
  for (let a: u32 = 0; a < count; a++) {
    for (let b = a + 1; b < count; b++) {
      if (!rf(a, 4) || !rf(b, 4)) continue;
      const overlap = rf(a, 0) < rf(b, 0) + rf(b, 4) && rf(b, 0) < rf(a, 0) + rf(a, 4);
      let together = true;
      if (rf(a, 8) == K_ACTIVATION && rf(b, 8) == K_ACTIVATION) {
        together = rf(a, 12) == rf(b, 12) && rf(a, 16) <= rf(b, 20) && rf(b, 16) <= rf(a, 20);
      }
      if (overlap && together) { text(T.V_REGIONS); num(<u64>a); text(T.V_AND); num(<u64>b); text(T.V_OVERLAP); return false; }
    }
  }
  return true;
}

// Some region of kind `kind` (or, kind K_PARAM, a param or state region) starts at `offset` and
// holds `bytes`: the header, input, labels, program words and bindings the driver uses directly.
export function hasRegion(offset: u64, bytes: u64, kind: u32): bool {
  for (let r: u32 = 0; r < regionCount; r++) {
    const k = rf(r, 8);
    if ((k == kind || (kind == K_PARAM && k == K_STATE)) && <u64>rf(r, 0) == offset && bytes <= <u64>rf(r, 4)) return true;
  }
  return false;
}

// An int8 kernel's region: a weights region (not state) outside the trainable slab, which no
// op may write (allowed() below), so the write-back returns its bytes unchanged.
export function frozenRegion(offset: u64, bytes: u64): bool {
  for (let r: u32 = 0; r < regionCount; r++) {
    if (rf(r, 8) == K_PARAM && rf(r, 24) != SLAB_TRAINABLE && <u64>rf(r, 0) == offset && bytes <= <u64>rf(r, 4)) return true;
  }
  return false;
}

// Zeroes every gradient region (a micro-batched step adds each micro-batch's gradients into them;
// host/runtime/executor.ts zeroGradients).
export function clearGradients(): void {
  for (let r: u32 = 0; r < regionCount; r++) if (rf(r, 8) == K_GRAD) memory.fill(<usize>rf(r, 0), 0, <usize>rf(r, 4));
}

// The parts the driver uses directly are regions of their kind: the step header (whose image
// holds a batch no larger than the plan's), the input and labels (a batch of rows each).
export function verifyParts(header: usize, headerBytes: usize, image: usize, input: usize, inputRow: u64, labels: usize, labelRow: u64,
  batch: i32): bool {
  if (!hasRegion(<u64>header, <u64>headerBytes, K_HEADER) || !hasRegion(<u64>input, <u64>batch * inputRow, K_INPUT) ||
    !hasRegion(<u64>labels, <u64>batch * labelRow, K_LABELS)) {
    text(T.V_PARTS); return false;
  }
  const rows = load<u32>(image + S_BATCH);
  if (rows > <u32>batch) { text(T.V_BATCH); num(<u64>rows); text(T.V_EXCEEDS); num(<u64>batch); return false; }
  return true;
}

// Every program (table entries of 16 bytes: id, arena offset, ops, words; the words follow in
// order from `words`, the uses tables from `useTable`), its words in a program region. `classes`
// bounds the data file's sparse labels (0 for dense targets): a sparse cross-entropy op over fewer
// classes would read a label's logit past its row. The train program runs with up to `stepBatch`
// rows in S_BATCH (a micro-batched plan's whole step), the others with up to `batch`.
let labelClasses: i32 = 0;
export function verifyPrograms(table: usize, count: i32, words: usize, useTable: usize, batch: i32, stepBatch: i32, classes: i32): bool {
  labelClasses = classes;
  for (let i = 0; i < count; i++) {
    const e = table + (<usize>i << 4);
    const n = load<u32>(e + 12);
    if (!hasRegion(<u64>load<u32>(e + 4), <u64>n << 2, K_PROGRAM)) { text(T.V_PARTS); return false; }
    const id = load<u32>(e);
    if (!verifyProgram(id, words, n, <i32>load<u32>(e + 8), useTable, id == 1 ? stepBatch : batch)) return false;
    words += <usize>n << 2;
    useTable += <usize>n << 2;
  }
  return true;
}

// One program's words (as in the file) and its uses table (one word per op word: 1 + region).
function verifyProgram(id: u32, words: usize, wordCount: u32, ops: i32, useTable: usize, batch: i32): bool {
  program = id;
  work = 0;
  const end = words + (<usize>wordCount << 2);
  let p = words;
  for (opIndex = 0; opIndex < ops; opIndex++) {
    op = p;
    uses = useTable + (p - words);
    if (p + 8 > end) { text(T.V_PROGRAM); return false; }
    const code = load<i32>(p);
    const nargs = load<i32>(p + 4);
    const rec = recordOf(code);
    const expected = rec ? <i32>load<u8>(rec) : -1;
    if (expected < 0) { opNote(-1); text(T.V_UNKNOWN); num(<u64><u32>code); return false; }
    if (nargs < expected || (nargs != expected && code != OP_SCHEDULE) || p + 8 + (<usize>nargs << 2) > end) {
      opNote(-1); text(T.V_COLON); num(<u64><u32>nargs); text(T.V_ARGS); num(<u64>expected); return false;
    }
    if (!checkOp(rec, <f64>batch)) return false;
    if (code == OP_XENT_LOGITS_SPARSE && load<i32>(p + 8 + 16) < labelClasses) { // argument n
      opNote(-1); text(T.V_COLON); num(<u64>load<i32>(p + 8 + 16)); text(T.V_CLASSES_FEWER); num(<u64>labelClasses); return false;
    }
    p += 8 + (<usize>nargs << 2);
  }
  if (p != end) { text(T.V_PROGRAM); return false; }
  if (!(work <= PLAN_WORK_LIMIT)) { // zero strides, a huge k or window: valid ops that loop for hours
    text(program == 5 ? T.V_WORK_INIT : T.V_WORK_TRAIN); num(<u64>Math.min(work, 1e18)); text(T.V_WORK_OVER); num(<u64>PLAN_WORK_LIMIT);
    return false;
  }
  return true;
}

// The op at `op`, run with `batch` rows: its size arguments, then each pointer argument's range,
// then its disjoint pairs, from its record in the generated table; adds its work to `work`.
function checkOp(rec: usize, batch: f64): bool {
  let q = rec + 3;
  for (let n = <i32>load<u8>(q++); n > 0; n--, q += 3) if (!size(<i32>load<u8>(q), <T.Text>load<u16>(q + 1))) return false;
  for (let n = <i32>load<u8>(q++); n > 0; n--) {
    const len = <usize>load<u16>(q + 4);
    const floats = evaluate(q + 6, len, batch);
    const mode = <i32>load<u8>(q + 1);
    if (!access(<i32>load<u8>(q), floats, mode & 3, (mode & 4) != 0, <T.Text>load<u16>(q + 2))) return false;
    q += 6 + len;
  }
  for (let n = <i32>load<u8>(q++); n > 0; n--, q += 6) {
    if (!apart(<i32>load<u8>(q), <i32>load<u8>(q + 1), <T.Text>load<u16>(q + 2), <T.Text>load<u16>(q + 4))) return false;
  }
  work += evaluate(q + 2, <usize>load<u16>(q), batch);
  return true;
}

// A size expression's postfix bytecode (scripts/op-footprints.mjs BC), over the op's arguments.
function evaluate(code: usize, len: usize, batch: f64): f64 {
  const stack = note + 512; // 64 f64 after the notes
  let sp = stack;
  const end = code + len;
  while (code < end) {
    const c = load<u8>(code++);
    let v: f64 = 0;
    if (c < BC_B) v = <f64>load<i32>(op + (<usize>(c + 2) << 2));
    else if (c == BC_B) v = batch;
    else if (c == BC_U8) v = <f64>load<u8>(code++);
    else if (c == BC_U16) { v = <f64>load<u16>(code); code += 2; }
    else if (c == BC_U32) { v = <f64>load<u32>(code); code += 4; }
    else if (c == BC_CEIL) { sp -= 8; v = Math.ceil(load<f64>(sp)); }
    else if (c == BC_ABS) { sp -= 8; v = Math.abs(load<f64>(sp)); }
    else if (c == BC_SELECT) { sp -= 24; v = load<f64>(sp) != 0 ? load<f64>(sp + 8) : load<f64>(sp + 16); }
    else {
      sp -= 16;
      const l = load<f64>(sp), r = load<f64>(sp + 8);
      switch (c) {
        case BC_ADD: v = l + r; break;
        case BC_SUB: v = l - r; break;
        case BC_MUL: v = l * r; break;
        case BC_DIV: v = l / r; break;
        case BC_LT: v = <f64>(l < r); break;
        case BC_LE: v = <f64>(l <= r); break;
        case BC_GT: v = <f64>(l > r); break;
        case BC_GE: v = <f64>(l >= r); break;
        case BC_EQ: v = <f64>(l == r); break;
        case BC_AND: v = <f64>(l != 0 && r != 0); break;
        case BC_OR: v = <f64>(l != 0 || r != 0); break;
        case BC_BIT: v = <f64>(<i64>l & <i64>r); break;
        case BC_MIN: v = Math.min(l, r); break;
        default: v = Math.max(l, r); break; // BC_MAX
      }
    }
    if (sp >= stack + 8 * 64) return Infinity; // deeper than any generated expression
    store<f64>(sp, v);
    sp += 8;
  }
  return load<f64>(stack);
}

// A size argument: a non-negative i32.
function size(i: i32, name: T.Text): bool {
  const v = load<i32>(op + (<usize>(i + 2) << 2));
  if (v >= 0) return true;
  opNote(name); text(T.V_IS); num(<u64>(-<i64>v)); text(T.V_NOT_SIZE);
  return false;
}

function allowed(mode: i32, kind: u32, slab: u32): bool {
  if (kind == K_STATIC || kind == K_HEADER || kind == K_PROGRAM) return false;
  if (mode == MODE_READ) return true;
  if (kind == K_PARAM) return mode == MODE_PARAMS && slab == SLAB_TRAINABLE;
  if (kind == K_STATE) return mode == MODE_STATE;
  return kind != K_INPUT && kind != K_LABELS;
}

// Pointer argument i spans `floats` floats with this access mode (host/compile/ops.ts AccessMode).
function access(i: i32, floats: f64, mode: i32, optional: bool, name: T.Text): bool {
  const bytes = floats * 4;
  if (!(bytes > 0)) return true;
  const start = <u64>load<u32>(op + (<usize>(i + 2) << 2));
  if (!start && optional) return true;
  const use = load<u32>(uses + (<usize>(i + 2) << 2));
  if (!use || use > regionCount) { opNote(name); text(T.V_NO_REGION); return false; }
  const r = use - 1;
  if (!allowed(mode, rf(r, 8), rf(r, 24))) {
    opNote(name); text(mode == MODE_READ ? T.V_MAY_NOT_USE : T.V_MAY_NOT_WRITE); regionNote(r); return false;
  }
  if (rf(r, 8) == K_ACTIVATION && (rf(r, 12) != program || <u32>opIndex < rf(r, 16) || <u32>opIndex > rf(r, 20))) {
    opNote(name); text(T.V_NOT_LIVE); regionNote(r); return false;
  }
  // A slab-wide op may run over consecutive regions of one slab.
  let end = <u64>rf(r, 0) + <u64>rf(r, 4);
  const slab = rf(r, 24);
  for (let more = slab != 0; more;) {
    more = false;
    for (let q: u32 = 0; q < regionCount; q++) {
      if (rf(q, 24) == slab && <u64>rf(q, 0) == end && <f64>start + bytes > <f64>end && rf(q, 4)) { end += <u64>rf(q, 4); more = true; }
    }
  }
  if (start < <u64>rf(r, 0) || <f64>start + bytes > <f64>end) {
    opNote(name); text(T.V_TOUCHES); num(start); text(T.V_COMMA); num(<u64>Math.min(<f64>start + bytes, 1e18)); text(T.V_OUTSIDE_OF);
    regionNote(r); text(T.V_FROM); num(<u64>rf(r, 0)); text(T.V_COMMA); num(end); text(T.CLOSE);
    return false;
  }
  return true;
}

// Kernels that read one buffer while scattering into another must not get the same region.
function apart(w: i32, r: i32, wName: T.Text, rName: T.Text): bool {
  const uw = load<u32>(uses + (<usize>(w + 2) << 2));
  if (!uw || uw != load<u32>(uses + (<usize>(r + 2) << 2))) return true;
  opNote(wName); text(T.V_SAME_AS); text(rName); text(T.V_QUOTE);
  return false;
}
