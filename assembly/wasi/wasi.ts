// The WASI command module (build/edgetune-wasi.wasm): fine-tuning with no JavaScript host.
//   edgetune-wasi.wasm train --plan /p/model.plan --weights /w/model.safetensors --data /d/train.etd --epochs 3
// Reads a compiled plan (host/formats/plan-file.ts), the model's safetensors weights and a training-data
// file (host/formats/data-file.ts) from preopened directories, runs the plan's train program once per
// batch through the same interpreter as the JS host (run.ts), prints the mean loss per epoch and
// writes the weights back atomically (temporary file in the same directory, then rename), every
// byte other than the weights' data kept. Formats: docs/wasi.md.
//
// Memory: the plan's arena exactly as the JS executor lays it out (plan pages; [0, 8192) holds
// the kernels' math tables), then one I/O region (the plan file, the safetensors header, a copy
// of this driver's texts, messages). The memory grows once, after the plan's and the weights'
// headers are read; nothing allocates.
import * as T from './wasi-messages';
import { run } from '../interp/run';
import { S_BATCH, S_GRAD_NORM_SQ, S_LOSS_SUM, S_CORRECT, S_PENALTY, S_LOSS_SCALE } from '../interp/opcodes';
import { FOOTPRINT_BYTES } from './op-footprints';
import { K_PARAM, REGION_RECORD, verifyRegions, hasRegion, frozenRegion, clearGradients, verifyParts, verifyPrograms } from './plan-verify';
import {
  path_open, fd_sync, fd_close, path_rename, RIGHT_FD_SEEK, RIGHT_FD_SYNC, RIGHT_FD_WRITE, OFLAG_CREAT, OFLAG_TRUNC,
} from './syscalls';
import {
  PLAN_MAGIC, PLAN_VERSION, P_FILE_BYTES, P_CONTRACT, P_PAGES, P_STATIC_BYTES, P_BATCH, P_HEADER_OFFSET, P_HEADER_BYTES,
  P_INPUT_OFFSET, P_INPUT_FLOATS, P_LABELS_OFFSET, P_LABEL_WORDS, P_LABEL_KIND, P_CLASSES, P_PROGRAMS, P_BINDINGS, P_INPUT_RANK,
  P_REGIONS, P_FIXED_BYTES, PROGRAM_TRAIN, PROGRAM_INIT, STEP_CONTRACT, DATA_MAGIC, DATA_VERSION, DATA_HEADER_BYTES,
  P_STEP_BATCH, P_LOSS_SCALE, PROGRAM_GRADIENTS, STEP_CONTRACT_MICRO, BINDING_TRAINABLE, BINDING_INT8,
} from './file-layouts';
import {
  ARENA_BASE, PAGE, small, msg, text, footprints, textAt, textLen, checkStatics, putByte, put, putBytes, putU64, putHex64,
  putFixed6, putDims, flush, weightsDir, tmpPath, tmpLen, tmpOpen, failWith, fail, usage, tempErrno, unchanged, outside, refuse,
} from './messages';
import {
  same, resolvedDir, resolvedRel, resolvedRelLen, openFile, fileSize, seek, readExact, writeAll, listPreopens,
} from './files';
import { argPlan, argWeights, argData, epochs, parseArgs } from './args';
import { jp, jend, strStart, strLen, badHeader, peek, expect, str, uint, skipValue, keyIs } from './json';

// ---- The plan and the weights ----------------------------------------------------------------
let plan: usize = 0; // the plan file, in the I/O region
let bindings: usize = 0; // first binding record in the plan file
let bindingCount: i32 = 0;
let found: usize = 0; // per binding: u64 begin offset in the data section, u32 found flag, pad
let stHeader: usize = 0; // the safetensors file's first 8 + N bytes
let stHeaderBytes: u64 = 0;
let relPath: usize = 0;
let relLen: i32 = 0;

let arenaEnd: usize = 0;
function inside(offset: u64, bytes: u64): bool {
  return offset >= <u64>ARENA_BASE && offset + bytes <= <u64>arenaEnd;
}

// @ts-ignore: decorator
@inline function pu(field: usize): u32 {
  return load<u32>(plan + field);
}

function nextBinding(b: usize): usize {
  const rank = <usize>load<u32>(b + 12);
  const nameLen = <usize>load<u32>(b + 16 + (rank << 2));
  return b + 20 + (rank << 2) + ((nameLen + 3) & ~3);
}

function bindingByName(): i32 {
  let b = bindings;
  for (let i = 0; i < bindingCount; i++) {
    const rank = <usize>load<u32>(b + 12);
    const nameAt = b + 16 + (rank << 2);
    const n = <i32>load<u32>(nameAt);
    if (n == strLen && same(nameAt + 4, strStart, n)) return i;
    b = nextBinding(b);
  }
  return -1;
}

function bindingAt(i: i32): usize {
  let b = bindings;
  for (let j = 0; j < i; j++) b = nextBinding(b);
  return b;
}

function putBindingName(b: usize): void {
  const rank = <usize>load<u32>(b + 12);
  const nameAt = b + 16 + (rank << 2);
  putBytes(nameAt + 4, <i32>load<u32>(nameAt));
}

// One tensor entry {"dtype": .., "shape": [..], "data_offsets": [b, e]} of the header.
const DIMS_MAX = 8;
function tensorEntry(nameStart: usize, nameLen: i32): void {
  strStart = nameStart;
  strLen = nameLen;
  const index = bindingByName();
  if (index < 0) { put(T.TENSOR); putBytes(nameStart, nameLen); failWith(T.NOT_IN_PLAN); }
  const b = bindingAt(index);
  const dims = small + 96; // up to DIMS_MAX u32
  let rank = -1;
  let f32 = false;
  let i8 = false;
  let first: u64 = 0;
  let last: u64 = 0;
  expect(123);
  if (peek() != 125) {
    while (true) {
      str();
      expect(58);
      if (keyIs(T.KEY_DTYPE)) { str(); f32 = keyIs(T.F32); i8 = keyIs(T.I8); }
      else if (keyIs(T.KEY_SHAPE)) {
        expect(91);
        rank = 0;
        if (peek() == 93) jp++;
        else {
          while (true) {
            const d = uint();
            if (rank < DIMS_MAX) store<u32>(dims + (<usize>rank << 2), <u32>d);
            rank++;
            const c = peek();
            jp++;
            if (c == 93) break;
            if (c != 44) badHeader();
          }
        }
      } else if (keyIs(T.KEY_OFFSETS)) {
        expect(91); first = uint(); expect(44); last = uint(); expect(93);
      } else skipValue(1);
      const c = peek();
      jp++;
      if (c == 125) break;
      if (c != 44) badHeader();
    }
  }
  // An int8 kernel's binding holds I8 bytes; every other tensor is F32.
  if (load<u32>(b + 8) & BINDING_INT8 ? !i8 : !f32) { put(T.TENSOR); putBindingName(b); failWith(load<u32>(b + 8) & BINDING_INT8 ? T.NOT_I8 : T.NOT_F32); }
  const planRank = <i32>load<u32>(b + 12);
  let same = rank == planRank;
  for (let i = 0; same && i < rank; i++) same = load<u32>(dims + (<usize>i << 2)) == load<u32>(b + 16 + (<usize>i << 2));
  if (!same || rank > DIMS_MAX) {
    put(T.TENSOR); putBindingName(b); put(T.HAS_SHAPE); putDims(dims, rank < DIMS_MAX ? rank : DIMS_MAX);
    put(T.PLAN_EXPECTS); putDims(b + 16, planRank); fail();
  }
  if (last < first || last - first != <u64>load<u32>(b + 4)) {
    put(T.TENSOR); putBindingName(b); failWith(T.HAS_BAD_OFFSETS);
  }
  const f = found + (<usize>index << 4);
  if (load<u32>(f + 8)) { put(T.TENSOR); putBindingName(b); failWith(T.APPEARS_TWICE); }
  store<u64>(f, first);
  store<u32>(f + 8, 1);
}

function parseWeightsHeader(fileBytes: u64): void {
  jp = stHeader + 8;
  jend = stHeader + <usize>stHeaderBytes;
  expect(123);
  if (peek() != 125) {
    while (true) {
      str();
      const nameStart = strStart;
      const nameLen = strLen;
      expect(58);
      if (keyIs(T.KEY_METADATA)) skipValue(1);
      else tensorEntry(nameStart, nameLen);
      const c = peek();
      jp++;
      if (c == 125) break;
      if (c != 44) badHeader();
    }
  }
  // Every weight of the plan is in the file, and the tensors tile the data section exactly, so
  // writing them back in offset order reproduces every byte of the file's layout.
  for (let i = 0; i < bindingCount; i++) {
    const f = found + (<usize>i << 4);
    if (!load<u32>(f + 8)) { put(T.TENSOR); putBindingName(bindingAt(i)); failWith(T.IS_MISSING); }
    store<u32>(f + 12, 0xffffffff);
  }
  let cursor: u64 = 0;
  for (let n = 0; n < bindingCount; n++) {
    let next = -1;
    for (let i = 0; i < bindingCount && next < 0; i++) {
      const f = found + (<usize>i << 4);
      if (load<u32>(f + 12) == 0xffffffff && load<u64>(f) == cursor) next = i;
    }
    if (next < 0) { failWith(T.BAD_OFFSETS); }
    cursor += <u64>load<u32>(bindingAt(next) + 4);
    store<u32>(found + (<usize>next << 4) + 12, <u32>n); // write order
  }
  if (stHeaderBytes + cursor != fileBytes) {
    failWith(T.WEIGHTS_TRUNCATED);
  }
}

// ---- The step contract ------------------------------------------------------------------------
// What the JS host does before each step (host/runtime/executor.ts setStep with fresh accumulators): the
// batch's rows, and the accumulators cleared. The learning rate (schedule), the iteration count and
// the bias corrections are kept by the train program itself (step contract 2).
function beginStep(h: usize, rows: i32): void {
  store<i32>(h + S_BATCH, rows);
  store<f64>(h + S_LOSS_SUM, 0);
  store<f64>(h + S_CORRECT, 0);
  store<f64>(h + S_GRAD_NORM_SQ, 0);
  store<f64>(h + S_PENALTY, 0);
  store<f32>(h + S_LOSS_SCALE, 0);
}

// The data file's next `rows` records (the first is record `first`, for the messages) into the
// input and labels regions, each checked as it is read.
let dataFd: i32 = 0;
let inputOffset: usize = 0;
let labelsOffset: usize = 0;
let xFloats: u32 = 0;
let labelWords: u32 = 0;
let labelKind: u32 = 0;
let classes: i32 = 0;
function loadRows(first: i32, rows: i32): void {
  const xBytes = <usize>xFloats << 2;
  const lBytes = <usize>labelWords << 2;
  for (let j = 0; j < rows; j++) {
    const x = inputOffset + <usize>j * xBytes;
    const y = labelsOffset + <usize>j * lBytes;
    readExact(dataFd, x, xBytes, T.DATA_FILE);
    readExact(dataFd, y, lBytes, T.DATA_FILE);
    for (let k: u32 = 0; k < xFloats; k++) {
      if (!isFinite(load<f32>(x + (<usize>k << 2)))) {
        put(T.RECORD); putU64(<u64>(first + j)); failWith(T.NON_FINITE_INPUT);
      }
    }
    for (let k: u32 = 0; k < labelWords; k++) {
      const a = y + (<usize>k << 2);
      if (labelKind == 0 ? <u32>load<i32>(a) >= <u32>classes : !isFinite(load<f32>(a))) {
        put(T.RECORD); putU64(<u64>(first + j)); put(T.LABEL_OUTSIDE); putU64(<u64>classes); failWith(T.CLASSES);
      }
    }
  }
}

// One optimizer step over the next `count` records; returns the run status. Whole-batch plans
// (step contract 2) run `train` once. Micro-batched ones (contract 3, host/training/micro-batch.ts
// microBatchStep) zero the gradients, run `gradients` per micro-batch of the plan's batch with the
// loss gradient scaled by 1 / count, then `train` with S_BATCH = count and the step's loss and
// correct counts kept. stepLoss: the data loss summed over the step's rows (f64, in run order);
// stepPenalty: the penalty of the weights before the update.
let train: usize = 0;
let trainOps: i32 = 0;
let grads: usize = 0;
let gradsOps: i32 = 0;
let stepLoss: f64 = 0;
let stepPenalty: f64 = 0;
function step(h: usize, batch: i32, first: i32, count: i32): i32 {
  if (!grads) {
    loadRows(first, count);
    beginStep(h, count);
    const status = run(train, trainOps, h);
    stepLoss = load<f64>(h + S_LOSS_SUM);
    stepPenalty = load<f64>(h + S_PENALTY);
    return status;
  }
  clearGradients();
  stepLoss = 0;
  for (let at = 0; at < count; at += batch) {
    const rows = min(batch, count - at);
    loadRows(first + at, rows);
    beginStep(h, rows);
    store<f32>(h + S_LOSS_SCALE, <f32>(1.0 / <f64>count));
    const status = run(grads, gradsOps, h);
    if (status != 0) return status;
    stepLoss += load<f64>(h + S_LOSS_SUM);
  }
  stepPenalty = load<f64>(h + S_PENALTY);
  store<i32>(h + S_BATCH, count);
  store<f64>(h + S_GRAD_NORM_SQ, 0);
  store<f64>(h + S_PENALTY, 0);
  store<f32>(h + S_LOSS_SCALE, 0);
  return run(train, trainOps, h);
}

// The step contract's fields (docs/wasi.md): a whole-batch plan has none; a micro-batched one
// a step batch that the plan's batch divides, the f32 of 1 / it as loss scale, and a gradients
// program. Returns the rows of one optimizer step.
function checkStep(contract: u32, batch: i32, table: usize, programCount: i32): i32 {
  const stepBatch = pu(P_STEP_BATCH);
  const lossScale = load<f32>(plan + P_LOSS_SCALE);
  if (contract == STEP_CONTRACT) {
    if (stepBatch != 0 || lossScale != 0) failWith(T.WHOLE_BATCH_STEP);
    return batch;
  }
  if (stepBatch < <u32>batch || stepBatch % <u32>batch != 0 || stepBatch > 0x7fffffff) {
    put(T.MICRO_BATCH); putU64(<u64>batch); put(T.NOT_DIVIDE_STEP); putU64(<u64>stepBatch); fail();
  }
  if (lossScale != <f32>(1.0 / <f64>stepBatch)) { put(T.BAD_LOSS_SCALE); putU64(<u64>stepBatch); fail(); }
  let found = false;
  for (let i = 0; i < programCount; i++) if (load<u32>(table + (<usize>i << 4)) == PROGRAM_GRADIENTS) found = true;
  if (!found) failWith(T.NO_GRADIENTS);
  return <i32>stepBatch;
}

// ---- The command ------------------------------------------------------------------------------
export function _start(): void {
  // Never true (the memory has a page): compiles the interpreter, and the math tables its kernels
  // read, before this file's texts (checkStatics), so that the tables come first in static data.
  if (memory.size() == 0) run(0, 0, 0);
  checkStatics();
  parseArgs();
  listPreopens();
  const planFd = openFile(argPlan, T.PLAN, false);
  const weightsFd = openFile(argWeights, T.WEIGHTS, false);
  weightsDir = resolvedDir;
  const weightsRel = resolvedRel;
  const weightsRelLen = resolvedRelLen;
  dataFd = openFile(argData, T.DATA, false);

  // Headers first: they size the memory.
  const planHead = small + 128; // 96 bytes
  const planBytes = fileSize(planFd, T.PLAN_FILE);
  if (planBytes < <u64>P_FIXED_BYTES) { failWith(T.PLAN_TRUNCATED); }
  readExact(planFd, planHead, P_FIXED_BYTES, T.PLAN_FILE);
  if (load<u32>(planHead) != PLAN_MAGIC) { failWith(T.NOT_A_PLAN); }
  if (load<u32>(planHead + 4) != PLAN_VERSION) {
    put(T.PLAN_VERSION_IS); putU64(<u64>load<u32>(planHead + 4)); put(T.READS_VERSION); putU64(<u64>PLAN_VERSION); put(T.V_RECOMPILE); fail();
  }
  if (<u64>load<u32>(planHead + P_FILE_BYTES) != planBytes) { failWith(T.PLAN_TRUNCATED); }
  const contract = load<u32>(planHead + P_CONTRACT);
  if (contract != STEP_CONTRACT && contract != STEP_CONTRACT_MICRO) { failWith(T.BAD_CONTRACT); }
  if (<usize>load<u32>(planHead + P_STATIC_BYTES) != ARENA_BASE) { failWith(T.BAD_ARENA); }
  const arenaPages = <usize>load<u32>(planHead + P_PAGES);
  if (arenaPages < 1 || arenaPages > 32768) { failWith(T.BAD_ARENA); }

  const weightsBytes = fileSize(weightsFd, T.WEIGHTS_FILE);
  if (weightsBytes < 8) { failWith(T.WEIGHTS_TRUNCATED); }
  readExact(weightsFd, small + 224, 8, T.WEIGHTS_FILE);
  const jsonBytes = load<u64>(small + 224);
  if (jsonBytes > 100000000 || 8 + jsonBytes > weightsBytes) { failWith(T.BAD_HEADER); }
  stHeaderBytes = 8 + jsonBytes;

  const dataBytes = fileSize(dataFd, T.DATA_FILE);
  const dataHead = small + 232; // 32 bytes
  if (dataBytes < <u64>DATA_HEADER_BYTES) { failWith(T.DATA_TRUNCATED); }
  readExact(dataFd, dataHead, DATA_HEADER_BYTES, T.DATA_FILE);
  if (load<u32>(dataHead) != DATA_MAGIC) { failWith(T.NOT_ETD); }
  if (load<u32>(dataHead + 4) != DATA_VERSION) { put(T.DATA_VERSION_IS); putU64(<u64>load<u32>(dataHead + 4)); fail(); }
  const dataStart = <u64>load<u32>(dataHead + 8);
  const records = <u64>load<u32>(dataHead + 12);
  xFloats = load<u32>(dataHead + 16);
  labelKind = load<u32>(dataHead + 20);
  labelWords = load<u32>(dataHead + 24);
  const recordBytes = (<u64>xFloats + <u64>labelWords) << 2;
  if (!records) { failWith(T.NO_RECORDS); }
  if (dataStart + records * recordBytes != dataBytes) {
    put(T.DATA_COLON); putU64(records); put(T.RECORDS_NEED); putU64(dataStart + records * recordBytes); put(T.BYTES_FILE_HAS);
    putU64(dataBytes); put(T.TRUNCATED_Q); fail();
  }

  // Size the memory once: arena, then the I/O region, sized to what it holds (in order: the plan
  // file, the weights header, 16 bytes per binding, the weights path and its temporary name, the
  // verifier's notes, the texts, the small buffers and the message line), so that a small plan's
  // I/O region is one page.
  if (load<u32>(planHead + P_BINDINGS) > 1024) outside(); // the I/O region keeps 16 bytes per binding
  if (weightsRelLen > 8000) usage();
  const io = arenaPages * PAGE;
  const textBytes = ((T.TEXT_BYTES + 15) & ~15) + ((FOOTPRINT_BYTES + 15) & ~15);
  const foundBytes = <usize>load<u32>(planHead + P_BINDINGS) << 4;
  const pathBytes = (2 * <usize>weightsRelLen + 16 + <usize>textLen(T.TMP_SUFFIX) + 15) & ~15;
  const ioBytes = <usize>((planBytes + 15) & ~15) + <usize>((stHeaderBytes + 15) & ~15) + foundBytes + pathBytes + 1024 + textBytes + 2048;
  const totalPages = (io + ioBytes + PAGE - 1) / PAGE;
  if (totalPages > 65536 || memory.grow(<i32>(totalPages - <usize>memory.size())) < 0) {
    failWith(T.OUT_OF_MEMORY);
  }
  // Move the small buffers and the message line (empty between messages) out of the boot area,
  // which becomes arena.
  const newSmall = io + ioBytes - 2048;
  memory.copy(newSmall, small, 512);
  small = newSmall;
  msg = newSmall + 1024;
  plan = io;
  stHeader = io + <usize>((planBytes + 15) & ~15);
  found = stHeader + <usize>((stHeaderBytes + 15) & ~15);
  relPath = found + foundBytes;
  // The weights path, relative to its directory, and the temporary name next to it.
  memory.copy(relPath, weightsRel, <usize>weightsRelLen);
  relLen = weightsRelLen;
  tmpPath = relPath + <usize>relLen + 16;
  memory.copy(tmpPath, relPath, <usize>relLen);
  tmpLen = relLen;
  memory.copy(tmpPath + <usize>tmpLen, textAt(T.TMP_SUFFIX), <usize>textLen(T.TMP_SUFFIX));
  tmpLen += textLen(T.TMP_SUFFIX);
  const textCopy = io + ioBytes - 2048 - textBytes;
  memory.copy(textCopy, text, T.TEXT_BYTES);
  text = textCopy;
  const footprintsCopy = textCopy + ((T.TEXT_BYTES + 15) & ~15);
  memory.copy(footprintsCopy, footprints, FOOTPRINT_BYTES);
  footprints = footprintsCopy;
  memory.fill(ARENA_BASE, 0, PAGE - ARENA_BASE);

  // The whole plan file, checked against the memory it describes.
  seek(planFd, 0);
  readExact(planFd, plan, <usize>planBytes, T.PLAN_FILE);
  fd_close(planFd);
  arenaEnd = io;
  const planEnd = plan + <usize>planBytes;
  const batch = <i32>pu(P_BATCH);
  const h = <usize>pu(P_HEADER_OFFSET);
  inputOffset = <usize>pu(P_INPUT_OFFSET);
  const inputFloats = pu(P_INPUT_FLOATS);
  labelsOffset = <usize>pu(P_LABELS_OFFSET);
  const planLabelWords = pu(P_LABEL_WORDS);
  const planLabelKind = pu(P_LABEL_KIND);
  classes = <i32>pu(P_CLASSES);
  if (batch < 1 || !inside(<u64>h, 64) || !inside(<u64>inputOffset, <u64>batch * <u64>inputFloats * 4) ||
    !inside(<u64>labelsOffset, <u64>batch * <u64>planLabelWords * 4)) {
    outside();
  }
  if (xFloats != inputFloats || labelWords != planLabelWords || labelKind != planLabelKind) {
    put(T.RECORDS_OF); putU64(<u64>xFloats); put(T.INPUTS_AND); putU64(<u64>labelWords); put(labelKind ? T.F32_TARGETS : T.CLASS_LABELS);
    put(T.DO_NOT_FIT); putU64(<u64>inputFloats); put(T.INPUTS_AND); putU64(<u64>planLabelWords); put(planLabelKind ? T.F32_TARGETS : T.CLASS_LABELS); fail();
  }
  // The file's parts follow one another; each count and length is checked against the file's end
  // (in u64: a wrapped 32-bit sum would point back inside) before anything past it is read.
  const programCount = <i32>pu(P_PROGRAMS);
  bindingCount = <i32>pu(P_BINDINGS);
  const regionCount = pu(P_REGIONS);
  if (<u32>programCount > 8 || <u32>bindingCount > 1024 || regionCount > 65536) outside();
  if (<u64>P_FIXED_BYTES + (<u64>pu(P_INPUT_RANK) << 2) + (<u64>programCount << 4) > planBytes) outside();
  let p = plan + P_FIXED_BYTES + (<usize>pu(P_INPUT_RANK) << 2);
  let init: usize = 0;
  let initOps: i32 = 0;
  let words = p + (<usize>programCount << 4);
  bindings = words;
  let b = bindings;
  for (let i = 0; i < bindingCount; i++) {
    if (<u64>b + 20 > <u64>planEnd || !inside(<u64>load<u32>(b), <u64>load<u32>(b + 4))) { outside(); }
    const rank = <u64>load<u32>(b + 12);
    if (<u64>b + 20 + (rank << 2) > <u64>planEnd) outside();
    const nameLen = <u64>load<u32>(b + 16 + (<usize>rank << 2));
    if (<u64>b + 20 + (rank << 2) + ((nameLen + 3) & ~3) > <u64>planEnd) outside();
    b = nextBinding(b);
  }
  const headerImage = b;
  const headerBytes = <usize>pu(P_HEADER_BYTES);
  if (<u64>headerImage + ((<u64>headerBytes + 3) & ~3) > <u64>planEnd) outside();
  words = headerImage + ((headerBytes + 3) & ~3);
  // Every region and every op checked before anything is copied or run (plan-verify.ts).
  let tableAt = <u64>words;
  for (let i = 0; i < programCount; i++) tableAt += <u64>load<u32>(p + (<usize>i << 4) + 12) << 2;
  const useTableAt = tableAt + <u64>regionCount * REGION_RECORD;
  if (useTableAt + (tableAt - <u64>words) != <u64>planEnd) { outside(); }
  const stepBatch = checkStep(contract, batch, p, programCount);
  let table = <usize>tableAt;
  let useTable = <usize>useTableAt;
  const notes = text - 1024; // free I/O memory below the texts
  if (!verifyRegions(notes, footprints, table, regionCount, <u64>ARENA_BASE, <u64>arenaEnd) ||
    !verifyParts(h, headerBytes, headerImage, inputOffset, <u64>inputFloats << 2, labelsOffset, <u64>planLabelWords << 2, batch) ||
    !verifyPrograms(p, programCount, words, useTable, batch, stepBatch, planLabelKind == 0 ? classes : 0)) {
    refuse(notes);
  }
  for (let i = 0; i < bindingCount; i++) {
    const b = bindingAt(i);
    if (!hasRegion(<u64>load<u32>(b), <u64>load<u32>(b + 4), K_PARAM)) outside(); // weights or state
    const flags = load<u32>(b + 8);
    if (flags & BINDING_INT8 && (flags & BINDING_TRAINABLE || !frozenRegion(<u64>load<u32>(b), <u64>load<u32>(b + 4)))) {
      put(T.INT8_TENSOR); putBindingName(b); failWith(T.INT8_WRITABLE);
    }
  }
  memory.copy(h, headerImage, headerBytes);
  for (let i = 0; i < programCount; i++, p += 16) {
    const offset = <usize>load<u32>(p + 4);
    const count = <usize>load<u32>(p + 12);
    memory.copy(offset, words, count << 2);
    if (load<u32>(p) == PROGRAM_TRAIN) { train = offset; trainOps = <i32>load<u32>(p + 8); }
    if (load<u32>(p) == PROGRAM_INIT) { init = offset; initOps = <i32>load<u32>(p + 8); }
    if (load<u32>(p) == PROGRAM_GRADIENTS && contract == STEP_CONTRACT_MICRO) { grads = offset; gradsOps = <i32>load<u32>(p + 8); }
    words += count << 2;
  }
  if (!train) { failWith(T.NO_TRAIN); }

  // The weights: the header into the I/O region, each tensor's data straight into its region.
  seek(weightsFd, 0);
  readExact(weightsFd, stHeader, <usize>stHeaderBytes, T.WEIGHTS_FILE);
  parseWeightsHeader(weightsBytes);
  for (let i = 0; i < bindingCount; i++) {
    const b = bindingAt(i);
    seek(weightsFd, stHeaderBytes + load<u64>(found + (<usize>i << 4)));
    readExact(weightsFd, <usize>load<u32>(b), <usize>load<u32>(b + 4), T.WEIGHTS_FILE);
  }
  fd_close(weightsFd);
  // A fresh optimizer, as the JS executor starts one: iteration 0, its scalars, slot start values.
  if (init && run(init, initOps, h) != 0) { failWith(T.INIT_FAILED); }

  // Epochs over the records in file order, steps of the plan's step batch, the last one partial.
  const n = <i32>records;
  let t = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    seek(dataFd, dataStart);
    let lossSum: f64 = 0;
    for (let start = 0, b = 0; start < n; start += stepBatch, b++) {
      const count = min(stepBatch, n - start);
      const status = step(h, batch, start, count);
      if (status != 0) {
        if (status < 0) put(T.UNKNOWN_OPCODE);
        else put(T.NON_FINITE);
        put(T.AT_EPOCH); putU64(<u64>(epoch + 1)); put(T.COMMA_BATCH); putU64(<u64>(b + 1)); put(T.STEP); putU64(<u64>(t + 1));
        { put(T.CLOSE); unchanged(); };
      }
      t++;
      lossSum += stepLoss + stepPenalty * <f64>count;
    }
    const loss = lossSum / <f64>n;
    put(T.EPOCH); putU64(<u64>(epoch + 1)); putByte(47); putU64(<u64>epochs); put(T.LOSS); putFixed6(loss);
    put(T.F64); putHex64(reinterpret<u64>(loss));
    flush(1);
  }
  fd_close(dataFd);

  // Write back: the original header bytes, then every tensor from the arena in offset order, to a
  // temporary file in the same directory; then rename it over the original.
  const out = path_open(weightsDir, 0, tmpPath, tmpLen, OFLAG_CREAT | OFLAG_TRUNC, RIGHT_FD_WRITE | RIGHT_FD_SYNC | RIGHT_FD_SEEK, 0, 0, small + 8);
  if (out) { put(T.CANNOT_CREATE); tempErrno(); putU64(<u64>out); { put(T.CLOSE); unchanged(); }; }
  const tmpFd = <i32>load<u32>(small + 8);
  tmpOpen = true;
  writeAll(tmpFd, stHeader, <usize>stHeaderBytes);
  for (let k = 0; k < bindingCount; k++) {
    for (let i = 0; i < bindingCount; i++) {
      if (load<u32>(found + (<usize>i << 4) + 12) != <u32>k) continue;
      const b = bindingAt(i);
      writeAll(tmpFd, <usize>load<u32>(b), <usize>load<u32>(b + 4));
    }
  }
  fd_sync(tmpFd); // best effort: some runtimes do not implement it
  fd_close(tmpFd);
  const moved = path_rename(weightsDir, tmpPath, tmpLen, weightsDir, relPath, relLen);
  if (moved) { put(T.CANNOT_RENAME); tempErrno(); putU64(<u64>moved); { put(T.CLOSE); unchanged(); }; }
  tmpOpen = false;
  put(T.WROTE); putBytes(relPath, relLen); put(T.AFTER); putU64(<u64>t); put(T.STEPS);
  flush(1);
}
