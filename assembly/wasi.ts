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
import { run } from './run';
import { S_BATCH, S_GRAD_NORM_SQ, S_LOSS_SUM, S_CORRECT, S_PENALTY } from './opcodes';
import * as T from './wasi-messages';
import { FOOTPRINT_BYTES, footprintTable } from './op-footprints';
import { hasRegion, K_PARAM, noteCount, REGION_RECORD, verifyParts, verifyPrograms, verifyRegions } from './plan-verify';

// ---- WASI preview1 imports ------------------------------------------------------------------
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_sizes_get") declare function args_sizes_get(argc: usize, bufSize: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_get") declare function args_get(argv: usize, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_get") declare function fd_prestat_get(fd: i32, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_dir_name") declare function fd_prestat_dir_name(fd: i32, path: usize, len: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_open")
declare function path_open(dirfd: i32, dirflags: i32, path: usize, pathLen: i32, oflags: i32, rightsBase: i64, rightsInheriting: i64,
  fdflags: i32, fdOut: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read") declare function fd_read(fd: i32, iovs: usize, iovsLen: i32, nread: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write") declare function fd_write(fd: i32, iovs: usize, iovsLen: i32, nwritten: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_seek") declare function fd_seek(fd: i32, offset: i64, whence: i32, newOffset: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_filestat_get") declare function fd_filestat_get(fd: i32, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_sync") declare function fd_sync(fd: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_close") declare function fd_close(fd: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_rename")
declare function path_rename(fd: i32, oldPath: usize, oldLen: i32, newFd: i32, newPath: usize, newLen: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_unlink_file") declare function path_unlink_file(fd: i32, path: usize, len: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit") declare function proc_exit(code: i32): void;

const RIGHT_FD_READ: i64 = 1 << 1;
const RIGHT_FD_SEEK: i64 = 1 << 2;
const RIGHT_FD_SYNC: i64 = 1 << 4;
const RIGHT_FD_TELL: i64 = 1 << 5;
const RIGHT_FD_WRITE: i64 = 1 << 6;
const RIGHT_FD_FILESTAT_GET: i64 = 1 << 21;
const OFLAG_CREAT: i32 = 1;
const OFLAG_TRUNC: i32 = 8;

// ---- Plan file layout (host/formats/plan-file.ts; docs/wasi.md) --------------------------------------
const PLAN_MAGIC: u32 = 0x4c505445; // 'ETPL'
const PLAN_VERSION: u32 = 2;
const P_FILE_BYTES: usize = 8;
const P_CONTRACT: usize = 12;
const P_PAGES: usize = 16;
const P_STATIC_BYTES: usize = 20;
const P_BATCH: usize = 24;
const P_HEADER_OFFSET: usize = 28;
const P_HEADER_BYTES: usize = 32;
const P_INPUT_OFFSET: usize = 36;
const P_INPUT_FLOATS: usize = 40;
const P_LABELS_OFFSET: usize = 44;
const P_LABEL_WORDS: usize = 48;
const P_LABEL_KIND: usize = 52;
const P_CLASSES: usize = 56;
const P_PROGRAMS: usize = 68;
const P_BINDINGS: usize = 72;
const P_INPUT_RANK: usize = 76;
const P_REGIONS: usize = 84;
const P_FIXED_BYTES: usize = 96;
const PROGRAM_TRAIN: u32 = 1;
const PROGRAM_INIT: u32 = 5;
const STEP_CONTRACT: u32 = 2;

// ---- Data file layout (host/formats/data-file.ts) ----------------------------------------------------
const DATA_MAGIC: u32 = 0x44535445; // 'ETSD'
const DATA_VERSION: u32 = 1;
const DATA_HEADER_BYTES: usize = 32;

const ARENA_BASE: usize = 8192; // plans keep [0, 8192) for this module's static data
const PAGE: usize = 65536;
const MAX_PREOPENS = 16;

// Boot area: [BOOT_BASE, PAGE) before the arena exists (zeroed before the arena is used). It starts
// above this module's static data, which may pass ARENA_BASE (see checkStatics).
const BOOT_BASE: usize = 16384;
const BOOT_ARGV: usize = BOOT_BASE; // 64 argv pointers
const BOOT_ARGS: usize = BOOT_BASE + 256; // argument strings, up to 16 KB
const BOOT_ARGS_MAX: usize = 16384;
const BOOT_PREOPENS: usize = BOOT_ARGS + BOOT_ARGS_MAX; // fd, name pointer, name length per preopen
const BOOT_NAMES: usize = BOOT_PREOPENS + MAX_PREOPENS * 12; // preopen names, up to 8 KB
const BOOT_NAMES_MAX: usize = 8192;
const BOOT_SMALL: usize = BOOT_NAMES + BOOT_NAMES_MAX; // iovec, counts, stat buffers, file headers
const BOOT_MSG: usize = BOOT_SMALL + 1024;

// Fixed places that move from the boot area to the I/O region once the memory is sized.
let small: usize = BOOT_SMALL; // 512 bytes: iovec, counts, filestat, seek result, dims, file headers
let msg: usize = BOOT_MSG; // 1 KB message line
let msgLen: i32 = 0;

// ---- Static data -----------------------------------------------------------------------------
// The kernels' math tables (exp, log, pow: the table-based versions of a shrink-level-0 build, the
// same as build/edgetune.wasm's, so that both round alike) lie below ARENA_BASE. This driver's texts
// (wasi-messages.ts, generated by scripts/wasi-messages.mjs: one blob of UTF-8 bytes) follow them
// and may pass ARENA_BASE, into what becomes the arena: before the arena is set up the blob is
// copied to the I/O region, and `text` moves with it.
let text: usize = 0;
let footprints: usize = 0; // the plan verifier's op table (op-footprints.ts), placed before the texts
// @ts-ignore: decorator
@inline function textAt(t: T.Text): usize {
  return text + <usize>t + 1;
}
// @ts-ignore: decorator
@inline function textLen(t: T.Text): i32 {
  return <i32>load<u8>(text + <usize>t);
}
// The op table and then the blob are compiled after the interpreter and are the last static
// data: everything before them (the math tables) must lie below the arena, and the boot area
// above all of it. Both move to the I/O region.
function checkStatics(): void {
  footprints = footprintTable();
  text = T.textBlob();
  if (footprints > ARENA_BASE || text < footprints || text + T.TEXT_BYTES + 16 <= __heap_base || __heap_base > BOOT_BASE) {
    failWith(T.BAD_BUILD);
  }
}

// ---- Messages --------------------------------------------------------------------------------
function putByte(b: i32): void {
  if (msgLen < 1000) { store<u8>(msg + <usize>msgLen, <u8>b); msgLen++; }
}
// (The loop is here rather than a call to putBytes: a function this small would be inlined at
// each of its ~100 call sites.)
function put(t: T.Text): void {
  const p = textAt(t);
  for (let i = 0, n = textLen(t); i < n; i++) putByte(load<u8>(p + <usize>i));
}
function putBytes(p: usize, n: i32): void {
  for (let i = 0; i < n; i++) putByte(load<u8>(p + <usize>i));
}
function putU64(v: u64): void {
  let div: u64 = 1;
  while (v / div >= 10) div *= 10;
  for (; div > 0; div /= 10) putByte(48 + <i32>((v / div) % 10));
}
function putHex64(v: u64): void {
  for (let s = 60; s >= 0; s -= 4) {
    const d = <i32>((v >> <u64>s) & 15);
    putByte(d < 10 ? 48 + d : 87 + d);
  }
}
// Fixed point, 6 decimals (the exact value follows as f64 bits).
function putFixed6(x: f64): void {
  if (x < 0) { putByte(45); x = -x; }
  const scaled = <u64>Math.round(x * 1e6);
  putU64(scaled / 1000000);
  putByte(46);
  const frac = scaled % 1000000;
  for (let div: u64 = 100000; div > 0; div /= 10) putByte(48 + <i32>((frac / div) % 10));
}
function putDims(p: usize, rank: i32): void {
  putByte(91);
  for (let i = 0; i < rank; i++) {
    if (i) putByte(44);
    putU64(<u64>load<u32>(p + (<usize>i << 2)));
  }
  putByte(93);
}
// Writes the line in progress and a newline (on stderr after "edgetune-wasi: "); every message
// is one line, begun at msgLen 0 and ended here.
function flush(fd: i32): void {
  putByte(10);
  store<u32>(small, <u32>textAt(T.PREFIX));
  store<u32>(small + 4, <u32>textLen(T.PREFIX));
  store<u32>(small + 8, <u32>msg);
  store<u32>(small + 12, <u32>msgLen);
  const err = fd == 2;
  fd_write(fd, err ? small : small + 8, err ? 2 : 1, small + 16);
  msgLen = 0;
}
// Ends the message with `t`: one line on stderr and a non-zero exit. The weights file is only
// replaced at the very end, by a rename, so every failure before it leaves the file as it was.
// (fail() calls this rather than the reverse: a body as small as fail's is inlined at each call.)
function failWith(t: T.Text): void {
  put(t);
  flush(2);
  if (tmpOpen) path_unlink_file(weightsDir, tmpPath, tmpLen);
  proc_exit(1);
}
function fail(): void {
  failWith(T.EMPTY);
}
function usage(): void {
  failWith(T.USAGE);
}
function tempErrno(): void {
  put(T.TEMP_FILE); put(T.ERRNO);
}
function unchanged(): void {
  failWith(T.UNCHANGED);
}
function outside(): void {
  failWith(T.OUT_OF_BOUNDS);
}
// The verifier's refusal (plan-verify.ts): texts and numbers, one line.
function refuse(notes: usize): void {
  put(T.V_PLAN);
  for (let i = 0, n = noteCount(); i < n; i++) {
    const v = load<u64>(notes + (<usize>i << 4) + 8);
    if (load<u32>(notes + (<usize>i << 4))) putU64(v);
    else put(<T.Text>v);
  }
  fail();
}

// ---- Files -----------------------------------------------------------------------------------
let preopenCount = 0;

// The n bytes at a and at b are equal. (memory.compare would be inlined at each use, with its
// word-at-a-time path: this is ~100 bytes smaller per use.)
function same(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  return true;
}

function cstrlen(p: usize): i32 {
  let n = 0;
  while (load<u8>(p + <usize>n)) n++;
  return n;
}

// The preopened directory whose name is the longest prefix of `path` (at a '/' boundary), and the
// path relative to it.
let resolvedDir: i32 = -1;
let resolvedRel: usize = 0;
let resolvedRelLen: i32 = 0;
function resolve(path: usize, len: i32): bool {
  let best = -1;
  let bestLen = -1;
  for (let i = 0; i < preopenCount; i++) {
    const e = BOOT_PREOPENS + <usize>i * 12;
    const name = <usize>load<u32>(e + 4);
    let n = <i32>load<u32>(e + 8);
    while (n > 1 && load<u8>(name + <usize>n - 1) == 47) n--; // '/w/' -> '/w'
    if (n == 1 && load<u8>(name) == 46) { // '.': relative paths
      if (load<u8>(path) != 47 && bestLen < 0) { best = i; bestLen = 0; }
      continue;
    }
    if (n > len || n <= bestLen) continue;
    if (!same(name, path, n)) continue;
    if (n < len && load<u8>(path + <usize>n) != 47 && !(n == 1 && load<u8>(name) == 47)) continue;
    best = i;
    bestLen = n;
  }
  if (best < 0) return false;
  resolvedDir = <i32>load<u32>(BOOT_PREOPENS + <usize>best * 12);
  let skip = bestLen;
  while (skip < len && load<u8>(path + <usize>skip) == 47) skip++;
  resolvedRel = path + <usize>skip;
  resolvedRelLen = len - skip;
  return resolvedRelLen > 0;
}

function openFile(path: usize, what: T.Text, write: bool): i32 {
  const len = cstrlen(path);
  if (!resolve(path, len)) {
    put(what); put(T.SPACE); putBytes(path, len); failWith(T.NOT_PREOPENED);
  }
  const rights = write ? RIGHT_FD_WRITE | RIGHT_FD_SEEK | RIGHT_FD_SYNC | RIGHT_FD_FILESTAT_GET
    : RIGHT_FD_READ | RIGHT_FD_SEEK | RIGHT_FD_TELL | RIGHT_FD_FILESTAT_GET;
  const err = path_open(resolvedDir, 1, resolvedRel, resolvedRelLen, write ? OFLAG_CREAT | OFLAG_TRUNC : 0, rights, 0, 0, small + 8);
  if (err) {
    put(T.CANNOT_OPEN); put(what); put(T.SPACE); putBytes(path, len); put(T.ERRNO); putU64(<u64>err); failWith(T.CLOSE);
  }
  return <i32>load<u32>(small + 8);
}

function fileSize(fd: i32, what: T.Text): u64 {
  const st = small + 16;
  if (fd_filestat_get(fd, st)) { put(T.CANNOT_OPEN); failWith(what); }
  return load<u64>(st + 32);
}

function seek(fd: i32, at: u64): void {
  if (fd_seek(fd, <i64>at, 0, small + 80)) { failWith(T.SEEK_FAILED); }
}

// Reads exactly n bytes or fails naming the file: a short file is a truncated file.
function readExact(fd: i32, p: usize, n: usize, what: T.Text): void {
  while (n > 0) {
    store<u32>(small, <u32>p);
    store<u32>(small + 4, <u32>n);
    const err = fd_read(fd, small, 1, small + 8);
    const got = <usize>load<u32>(small + 8);
    if (err || got == 0) { put(what); failWith(T.IS_TRUNCATED); }
    p += got;
    n -= got;
  }
}

function writeAll(fd: i32, p: usize, n: usize): void {
  while (n > 0) {
    store<u32>(small, <u32>p);
    store<u32>(small + 4, <u32>n);
    const err = fd_write(fd, small, 1, small + 8);
    const wrote = <usize>load<u32>(small + 8);
    if (err || wrote == 0) { { put(T.WRITE_FAILED); unchanged(); }; }
    p += wrote;
    n -= wrote;
  }
}

// ---- Arguments -------------------------------------------------------------------------------
let argPlan: usize = 0;
let argWeights: usize = 0;
let argData: usize = 0;
let epochs: i32 = 1;

function argIs(p: usize, t: T.Text): bool {
  const n = textLen(t);
  return same(p, textAt(t), n) && load<u8>(p + <usize>n) == 0;
}

function arg(i: i32): usize {
  return <usize>load<u32>(BOOT_ARGV + (<usize>i << 2));
}

function parseArgs(): void {
  if (args_sizes_get(small, small + 4)) usage();
  const argc = <i32>load<u32>(small);
  const size = <usize>load<u32>(small + 4);
  if (argc > 64 || size > BOOT_ARGS_MAX) usage();
  args_get(BOOT_ARGV, BOOT_ARGS);
  if (argc < 2 || !argIs(arg(1), T.TRAIN)) {
    usage();
  }
  for (let i = 2; i < argc; i += 2) {
    const key = arg(i);
    if (i + 1 >= argc) usage();
    const value = arg(i + 1);
    if (argIs(key, T.ARG_PLAN)) argPlan = value;
    else if (argIs(key, T.ARG_WEIGHTS)) argWeights = value;
    else if (argIs(key, T.ARG_DATA)) argData = value;
    else if (argIs(key, T.ARG_EPOCHS)) {
      let n = 0;
      const len = cstrlen(value);
      for (let j = 0; j < len; j++) {
        const c = <i32>load<u8>(value + <usize>j);
        if (c < 48 || c > 57 || n > 100000000) usage();
        n = n * 10 + c - 48;
      }
      if (len == 0) usage();
      epochs = n;
    } else usage();
  }
  if (!argPlan || !argWeights || !argData) usage();
}

function listPreopens(): void {
  let names = BOOT_NAMES;
  for (let fd = 3; preopenCount < MAX_PREOPENS; fd++) {
    if (fd_prestat_get(fd, small)) break; // EBADF: no more preopens
    if (load<u8>(small) != 0) continue; // not a directory
    const len = <usize>load<u32>(small + 4);
    if (names + len > BOOT_NAMES + BOOT_NAMES_MAX) break;
    if (fd_prestat_dir_name(fd, names, <i32>len)) break;
    const e = BOOT_PREOPENS + <usize>preopenCount * 12;
    store<u32>(e, fd);
    store<u32>(e + 4, <u32>names);
    store<u32>(e + 8, <u32>len);
    names += len;
    preopenCount++;
  }
}

// ---- Minimal JSON over the safetensors header ------------------------------------------------
let jp: usize = 0;
let jend: usize = 0;
let strStart: usize = 0;
let strLen: i32 = 0;

function badHeader(): void {
  failWith(T.BAD_HEADER);
}
function ws(): void {
  while (jp < jend) {
    const c = load<u8>(jp);
    if (c != 32 && c != 9 && c != 10 && c != 13) break;
    jp++;
  }
}
function peek(): i32 {
  ws();
  return jp < jend ? <i32>load<u8>(jp) : -1;
}
function expect(c: i32): void {
  if (peek() != c) badHeader();
  jp++;
}
// A string's raw bytes between the quotes (escapes are skipped, not decoded).
function str(): void {
  expect(34);
  strStart = jp;
  while (jp < jend && load<u8>(jp) != 34) jp += load<u8>(jp) == 92 ? 2 : 1;
  if (jp >= jend) badHeader();
  strLen = <i32>(jp - strStart);
  jp++;
}
function uint(): u64 {
  ws();
  let v: u64 = 0;
  let digits = 0;
  while (jp < jend) {
    const c = <i32>load<u8>(jp);
    if (c < 48 || c > 57) break;
    if (v > 0xffffffffffff) badHeader();
    v = v * 10 + <u64>(c - 48);
    jp++;
    digits++;
  }
  if (!digits) badHeader();
  return v;
}
function skipValue(depth: i32): void {
  if (depth > 64) badHeader();
  const c = peek();
  if (c == 34) { str(); return; }
  if (c == 123 || c == 91) {
    const close = c == 123 ? 125 : 93;
    jp++;
    if (peek() == close) { jp++; return; }
    while (true) {
      if (c == 123) { str(); expect(58); }
      skipValue(depth + 1);
      const d = peek();
      jp++;
      if (d == close) return;
      if (d != 44) badHeader();
    }
  }
  // number, true, false, null
  const start = jp;
  while (jp < jend) {
    const d = load<u8>(jp);
    if (d == 44 || d == 125 || d == 93 || d == 32 || d == 10 || d == 13 || d == 9) break;
    jp++;
  }
  if (jp == start) badHeader();
}
function keyIs(t: T.Text): bool {
  return strLen == textLen(t) && same(strStart, textAt(t), strLen);
}

// ---- The plan and the weights ----------------------------------------------------------------
let plan: usize = 0; // the plan file, in the I/O region
let bindings: usize = 0; // first binding record in the plan file
let bindingCount: i32 = 0;
let found: usize = 0; // per binding: u64 begin offset in the data section, u32 found flag, pad
let stHeader: usize = 0; // the safetensors file's first 8 + N bytes
let stHeaderBytes: u64 = 0;
let weightsDir: i32 = -1;
let tmpPath: usize = 0;
let tmpLen: i32 = 0;
let tmpOpen = false;
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
  let first: u64 = 0;
  let last: u64 = 0;
  expect(123);
  if (peek() != 125) {
    while (true) {
      str();
      expect(58);
      if (keyIs(T.KEY_DTYPE)) { str(); f32 = keyIs(T.F32); }
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
  if (!f32) { put(T.TENSOR); putBindingName(b); failWith(T.NOT_F32); }
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
  const dataFd = openFile(argData, T.DATA, false);

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
  if (load<u32>(planHead + P_CONTRACT) != STEP_CONTRACT) { failWith(T.BAD_CONTRACT); }
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
  const xFloats = load<u32>(dataHead + 16);
  const labelKind = load<u32>(dataHead + 20);
  const labelWords = load<u32>(dataHead + 24);
  const recordBytes = (<u64>xFloats + <u64>labelWords) << 2;
  if (!records) { failWith(T.NO_RECORDS); }
  if (dataStart + records * recordBytes != dataBytes) {
    put(T.DATA_COLON); putU64(records); put(T.RECORDS_NEED); putU64(dataStart + records * recordBytes); put(T.BYTES_FILE_HAS);
    putU64(dataBytes); put(T.TRUNCATED_Q); fail();
  }

  // Size the memory once: arena, then the I/O region.
  const io = arenaPages * PAGE;
  const textBytes = ((T.TEXT_BYTES + 15) & ~15) + ((FOOTPRINT_BYTES + 15) & ~15);
  const ioBytes = <usize>((planBytes + 15) & ~15) + <usize>((stHeaderBytes + 15) & ~15) + textBytes + 65536;
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
  relPath = found + 16384;
  // The weights path, relative to its directory, and the temporary name next to it.
  if (weightsRelLen > 8000) usage();
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
  const inputOffset = <usize>pu(P_INPUT_OFFSET);
  const inputFloats = pu(P_INPUT_FLOATS);
  const labelsOffset = <usize>pu(P_LABELS_OFFSET);
  const planLabelWords = pu(P_LABEL_WORDS);
  const planLabelKind = pu(P_LABEL_KIND);
  const classes = <i32>pu(P_CLASSES);
  if (batch < 1 || !inside(<u64>h, 64) || !inside(<u64>inputOffset, <u64>batch * <u64>inputFloats * 4) ||
    !inside(<u64>labelsOffset, <u64>batch * <u64>planLabelWords * 4)) {
    outside();
  }
  if (xFloats != inputFloats || labelWords != planLabelWords || labelKind != planLabelKind) {
    put(T.RECORDS_OF); putU64(<u64>xFloats); put(T.INPUTS_AND); putU64(<u64>labelWords); put(labelKind ? T.F32_TARGETS : T.CLASS_LABELS);
    put(T.DO_NOT_FIT); putU64(<u64>inputFloats); put(T.INPUTS_AND); putU64(<u64>planLabelWords); put(planLabelKind ? T.F32_TARGETS : T.CLASS_LABELS); fail();
  }
  let p = plan + P_FIXED_BYTES + (<usize>pu(P_INPUT_RANK) << 2);
  const programCount = <i32>pu(P_PROGRAMS);
  let train: usize = 0;
  let trainOps: i32 = 0;
  let init: usize = 0;
  let initOps: i32 = 0;
  let words = p + (<usize>programCount << 4);
  bindings = words;
  bindingCount = <i32>pu(P_BINDINGS);
  if (bindingCount > 1024) outside(); // the I/O region keeps 16 bytes per binding, 16 KB
  for (let i = 0; i < bindingCount; i++) {
    const b = bindingAt(i);
    if (b + 20 > planEnd || !inside(<u64>load<u32>(b), <u64>load<u32>(b + 4))) { outside(); }
  }
  const headerImage = bindingAt(bindingCount);
  const headerBytes = <usize>pu(P_HEADER_BYTES);
  words = headerImage + ((headerBytes + 3) & ~3);
  // Every region and every op checked before anything is copied or run (plan-verify.ts).
  const regionCount = pu(P_REGIONS);
  let table = words;
  for (let i = 0; i < programCount; i++) table += <usize>load<u32>(p + (<usize>i << 4) + 12) << 2;
  let useTable = table + <usize>regionCount * REGION_RECORD;
  if (programCount > 8 || regionCount > 65536 || useTable + (table - words) != planEnd) { outside(); }
  const notes = text - 1024; // free I/O memory below the texts
  if (!verifyRegions(notes, footprints, table, regionCount, <u64>ARENA_BASE, <u64>arenaEnd) ||
    !verifyParts(h, headerBytes, headerImage, inputOffset, <u64>inputFloats << 2, labelsOffset, <u64>planLabelWords << 2, batch) ||
    !verifyPrograms(p, programCount, words, useTable, batch)) {
    refuse(notes);
  }
  for (let i = 0; i < bindingCount; i++) {
    const b = bindingAt(i);
    if (!hasRegion(<u64>load<u32>(b), <u64>load<u32>(b + 4), K_PARAM)) outside(); // weights or state
  }
  memory.copy(h, headerImage, headerBytes);
  for (let i = 0; i < programCount; i++, p += 16) {
    const offset = <usize>load<u32>(p + 4);
    const count = <usize>load<u32>(p + 12);
    memory.copy(offset, words, count << 2);
    if (load<u32>(p) == PROGRAM_TRAIN) { train = offset; trainOps = <i32>load<u32>(p + 8); }
    if (load<u32>(p) == PROGRAM_INIT) { init = offset; initOps = <i32>load<u32>(p + 8); }
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

  // Epochs over the records in file order, batches of the plan's batch, the last one partial.
  const n = <i32>records;
  const xBytes = <usize>xFloats << 2;
  const lBytes = <usize>labelWords << 2;
  let t = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    seek(dataFd, dataStart);
    let lossSum: f64 = 0;
    for (let start = 0, b = 0; start < n; start += batch, b++) {
      const count = min(batch, n - start);
      for (let j = 0; j < count; j++) {
        const x = inputOffset + <usize>j * xBytes;
        const y = labelsOffset + <usize>j * lBytes;
        readExact(dataFd, x, xBytes, T.DATA_FILE);
        readExact(dataFd, y, lBytes, T.DATA_FILE);
        for (let k: u32 = 0; k < xFloats; k++) {
          if (!isFinite(load<f32>(x + (<usize>k << 2)))) {
            put(T.RECORD); putU64(<u64>(start + j)); failWith(T.NON_FINITE_INPUT);
          }
        }
        for (let k: u32 = 0; k < labelWords; k++) {
          const a = y + (<usize>k << 2);
          if (labelKind == 0 ? <u32>load<i32>(a) >= <u32>classes : !isFinite(load<f32>(a))) {
            put(T.RECORD); putU64(<u64>(start + j)); put(T.LABEL_OUTSIDE); putU64(<u64>classes); failWith(T.CLASSES);
          }
        }
      }
      beginStep(h, count);
      const status = run(train, trainOps, h);
      if (status != 0) {
        if (status < 0) put(T.UNKNOWN_OPCODE);
        else put(T.NON_FINITE);
        put(T.AT_EPOCH); putU64(<u64>(epoch + 1)); put(T.COMMA_BATCH); putU64(<u64>(b + 1)); put(T.STEP); putU64(<u64>(t + 1));
        { put(T.CLOSE); unchanged(); };
      }
      t++;
      lossSum += load<f64>(h + S_LOSS_SUM) + load<f64>(h + S_PENALTY) * <f64>count;
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
