// The WASI command module (build/edgetune-wasi.wasm): fine-tuning with no JavaScript host.
//   edgetune-wasi.wasm train --plan /p/model.plan --weights /w/model.safetensors --data /d/train.etd --epochs 3
// Reads a compiled plan (host/plan-file.ts), the model's safetensors weights and a training-data
// file (host/data-file.ts) from preopened directories, runs the plan's train program once per
// batch through the same interpreter as the JS host (run.ts), prints the mean loss per epoch and
// writes the weights back atomically (temporary file in the same directory, then rename), every
// byte other than the weights' data kept. Formats: docs/wasi.md.
//
// Memory: the plan's arena exactly as the JS executor lays it out (plan pages; [0, 8192) holds
// the kernels' math tables), then one I/O region (the plan file, the safetensors header, a copy
// of this driver's strings, messages). The memory grows once, after the plan's and the weights'
// headers are read; nothing allocates.
import { run } from './run';
import { S_BATCH, S_GRAD_NORM_SQ, S_LOSS_SUM, S_CORRECT, S_PENALTY } from './opcodes';

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

// ---- Plan file layout (host/plan-file.ts; docs/wasi.md) --------------------------------------
const PLAN_MAGIC: u32 = 0x4c505445; // 'ETPL'
const PLAN_VERSION: u32 = 1;
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
const P_FIXED_BYTES: usize = 96;
const PROGRAM_TRAIN: u32 = 1;
const PROGRAM_INIT: u32 = 5;
const STEP_CONTRACT: u32 = 2;

// ---- Data file layout (host/data-file.ts) ----------------------------------------------------
const DATA_MAGIC: u32 = 0x44535445; // 'ETSD'
const DATA_VERSION: u32 = 1;
const DATA_HEADER_BYTES: usize = 32;

const ARENA_BASE: usize = 8192; // plans keep [0, 8192) for this module's static data
const PAGE: usize = 65536;
const MAX_PREOPENS = 16;
const ERRNO = ' (errno ';

// Boot area: [BOOT_BASE, PAGE) before the arena exists (zeroed before the arena is used). It starts
// above this module's static data, which passes ARENA_BASE (see reloc).
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
// same as build/edgetune.wasm's, so that both round alike) lie below ARENA_BASE. This driver's own
// strings follow them and pass ARENA_BASE, into what becomes the arena: before the arena is set
// up they are copied to the I/O region, and every read of a driver string goes through reloc.
let staticCopy: usize = 0;
// @ts-ignore: decorator
@inline function reloc(a: usize): usize {
  return a >= ARENA_BASE && staticCopy ? a - ARENA_BASE + staticCopy : a;
}
function len(s: string): i32 {
  return <i32>(load<u32>(reloc(changetype<usize>(s) - 4)) >> 1);
}
function ch(s: string, i: i32): i32 {
  return <i32>load<u16>(reloc(changetype<usize>(s) + (<usize>i << 1)));
}
// The first string compiled after the interpreter: everything before it (the math tables) must lie
// below the arena, and the boot area above all of it.
function checkStatics(): void {
  if (changetype<usize>('bad build') > ARENA_BASE || __heap_base > BOOT_BASE) {
    begin(); failWith('bad build');
  }
}

// ---- Messages --------------------------------------------------------------------------------
function putByte(b: i32): void {
  if (msgLen < 1000) { store<u8>(msg + <usize>msgLen, <u8>b); msgLen++; }
}
function put(s: string): void {
  for (let i = 0; i < len(s); i++) putByte(ch(s, i));
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
function flush(fd: i32): void {
  putByte(10);
  store<u32>(small, <u32>msg);
  store<u32>(small + 4, <u32>msgLen);
  fd_write(fd, small, 1, small + 8);
  msgLen = 0;
}
// One line on stderr and a non-zero exit. The weights file is only replaced at the very end, by
// a rename, so every failure before it leaves the file as it was.
function fail(): void {
  flush(2);
  if (tmpOpen) path_unlink_file(weightsDir, tmpPath, tmpLen);
  proc_exit(1);
}
function failWith(s: string): void {
  put(s);
  fail();
}
function usage(): void {
  failWith('usage: train --plan P --weights W --data D [--epochs N]');
}
function tempErrno(): void {
  put(' temp file'); put(ERRNO);
}
function unchanged(): void {
  failWith('; weights file unchanged');
}
function outside(): void {
  failWith('plan: region out of bounds');
}
function begin(): void {
  msgLen = 0;
  put('edgetune-wasi: ');
}

// ---- Files -----------------------------------------------------------------------------------
let preopenCount = 0;

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
    if (memory.compare(name, path, n) != 0) continue;
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

function openFile(path: usize, what: string, write: bool): i32 {
  const len = cstrlen(path);
  if (!resolve(path, len)) {
    begin(); put(what); put(' '); putBytes(path, len); failWith(' is not in a preopened directory');
  }
  const rights = write ? RIGHT_FD_WRITE | RIGHT_FD_SEEK | RIGHT_FD_SYNC | RIGHT_FD_FILESTAT_GET
    : RIGHT_FD_READ | RIGHT_FD_SEEK | RIGHT_FD_TELL | RIGHT_FD_FILESTAT_GET;
  const err = path_open(resolvedDir, 1, resolvedRel, resolvedRelLen, write ? OFLAG_CREAT | OFLAG_TRUNC : 0, rights, 0, 0, small + 8);
  if (err) {
    begin(); put('cannot open '); put(what); put(' '); putBytes(path, len); put(ERRNO); putU64(<u64>err); failWith(')');
  }
  return <i32>load<u32>(small + 8);
}

function fileSize(fd: i32, what: string): u64 {
  const st = small + 16;
  if (fd_filestat_get(fd, st)) { begin(); put('cannot open '); failWith(what); }
  return load<u64>(st + 32);
}

function seek(fd: i32, at: u64): void {
  if (fd_seek(fd, <i64>at, 0, small + 80)) { begin(); failWith('seek failed'); }
}

// Reads exactly n bytes or fails naming the file: a short file is a truncated file.
function readExact(fd: i32, p: usize, n: usize, what: string): void {
  while (n > 0) {
    store<u32>(small, <u32>p);
    store<u32>(small + 4, <u32>n);
    const err = fd_read(fd, small, 1, small + 8);
    const got = <usize>load<u32>(small + 8);
    if (err || got == 0) { begin(); put(what); failWith(' is truncated'); }
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
    if (err || wrote == 0) { begin(); { put('write failed'); unchanged(); }; }
    p += wrote;
    n -= wrote;
  }
}

// ---- Arguments -------------------------------------------------------------------------------
let argPlan: usize = 0;
let argWeights: usize = 0;
let argData: usize = 0;
let epochs: i32 = 1;

function argIs(p: usize, s: string): bool {
  const n = len(s);
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + <usize>i) != ch(s, i)) return false;
  return load<u8>(p + <usize>n) == 0;
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
  if (argc < 2 || !argIs(arg(1), 'train')) {
    usage();
  }
  for (let i = 2; i < argc; i += 2) {
    const key = arg(i);
    if (i + 1 >= argc) usage();
    const value = arg(i + 1);
    if (argIs(key, '--plan')) argPlan = value;
    else if (argIs(key, '--weights')) argWeights = value;
    else if (argIs(key, '--data')) argData = value;
    else if (argIs(key, '--epochs')) {
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
  begin(); failWith('weights: bad header');
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
function keyIs(s: string): bool {
  if (strLen != len(s)) return false;
  for (let i = 0; i < strLen; i++) if (<i32>load<u8>(strStart + <usize>i) != ch(s, i)) return false;
  return true;
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
    if (n == strLen && memory.compare(nameAt + 4, strStart, n) == 0) return i;
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
  if (index < 0) { begin(); put('weights: tensor \''); putBytes(nameStart, nameLen); failWith('\' is not in the plan'); }
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
      if (keyIs('dtype')) { str(); f32 = keyIs('F32'); }
      else if (keyIs('shape')) {
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
      } else if (keyIs('data_offsets')) {
        expect(91); first = uint(); expect(44); last = uint(); expect(93);
      } else skipValue(1);
      const c = peek();
      jp++;
      if (c == 125) break;
      if (c != 44) badHeader();
    }
  }
  if (!f32) { begin(); put('weights: tensor \''); putBindingName(b); failWith('\' is not F32'); }
  const planRank = <i32>load<u32>(b + 12);
  let same = rank == planRank;
  for (let i = 0; same && i < rank; i++) same = load<u32>(dims + (<usize>i << 2)) == load<u32>(b + 16 + (<usize>i << 2));
  if (!same || rank > DIMS_MAX) {
    begin(); put('weights: tensor \''); putBindingName(b); put('\' has shape '); putDims(dims, rank < DIMS_MAX ? rank : DIMS_MAX);
    put(', the plan expects '); putDims(b + 16, planRank); fail();
  }
  if (last < first || last - first != <u64>load<u32>(b + 4)) {
    begin(); put('weights: tensor \''); putBindingName(b); failWith('\' has bad offsets');
  }
  const f = found + (<usize>index << 4);
  if (load<u32>(f + 8)) { begin(); put('weights: tensor \''); putBindingName(b); failWith('\' appears twice'); }
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
      if (keyIs('__metadata__')) skipValue(1);
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
    if (!load<u32>(f + 8)) { begin(); put('weights: tensor \''); putBindingName(bindingAt(i)); failWith('\' is missing'); }
    store<u32>(f + 12, 0xffffffff);
  }
  let cursor: u64 = 0;
  for (let n = 0; n < bindingCount; n++) {
    let next = -1;
    for (let i = 0; i < bindingCount && next < 0; i++) {
      const f = found + (<usize>i << 4);
      if (load<u32>(f + 12) == 0xffffffff && load<u64>(f) == cursor) next = i;
    }
    if (next < 0) { begin(); failWith('weights: bad offsets'); }
    cursor += <u64>load<u32>(bindingAt(next) + 4);
    store<u32>(found + (<usize>next << 4) + 12, <u32>n); // write order
  }
  if (stHeaderBytes + cursor != fileBytes) {
    begin(); failWith('weights: file is truncated');
  }
}

// ---- The step contract ------------------------------------------------------------------------
// What the JS host does before each step (host/executor.ts setStep with fresh accumulators): the
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
  // read, before any string of this file, so that the tables come first in static data.
  if (memory.size() == 0) run(0, 0, 0);
  checkStatics();
  begin();
  parseArgs();
  listPreopens();
  const planFd = openFile(argPlan, 'plan', false);
  const weightsFd = openFile(argWeights, 'weights', false);
  weightsDir = resolvedDir;
  const weightsRel = resolvedRel;
  const weightsRelLen = resolvedRelLen;
  const dataFd = openFile(argData, 'data', false);

  // Headers first: they size the memory.
  const planHead = small + 128; // 96 bytes
  const planBytes = fileSize(planFd, 'plan file');
  if (planBytes < <u64>P_FIXED_BYTES) { begin(); failWith('plan: file is truncated'); }
  readExact(planFd, planHead, P_FIXED_BYTES, 'plan file');
  if (load<u32>(planHead) != PLAN_MAGIC) { begin(); failWith('plan: not a plan file'); }
  if (load<u32>(planHead + 4) != PLAN_VERSION) {
    begin(); put('plan: file format version '); putU64(<u64>load<u32>(planHead + 4)); put(', this module reads version '); putU64(<u64>PLAN_VERSION); fail();
  }
  if (<u64>load<u32>(planHead + P_FILE_BYTES) != planBytes) { begin(); failWith('plan: file is truncated'); }
  if (load<u32>(planHead + P_CONTRACT) != STEP_CONTRACT) { begin(); failWith('plan: unsupported step contract'); }
  if (<usize>load<u32>(planHead + P_STATIC_BYTES) != ARENA_BASE) { begin(); failWith('plan: bad arena'); }
  const arenaPages = <usize>load<u32>(planHead + P_PAGES);
  if (arenaPages < 1 || arenaPages > 32768) { begin(); failWith('plan: bad arena'); }

  const weightsBytes = fileSize(weightsFd, 'weights file');
  if (weightsBytes < 8) { begin(); failWith('weights: file is truncated'); }
  readExact(weightsFd, small + 224, 8, 'weights file');
  const jsonBytes = load<u64>(small + 224);
  if (jsonBytes > 100000000 || 8 + jsonBytes > weightsBytes) { begin(); failWith('weights: bad header'); }
  stHeaderBytes = 8 + jsonBytes;

  const dataBytes = fileSize(dataFd, 'data file');
  const dataHead = small + 232; // 32 bytes
  if (dataBytes < <u64>DATA_HEADER_BYTES) { begin(); failWith('data: file is truncated'); }
  readExact(dataFd, dataHead, DATA_HEADER_BYTES, 'data file');
  if (load<u32>(dataHead) != DATA_MAGIC) { begin(); failWith('data: not an .etd file'); }
  if (load<u32>(dataHead + 4) != DATA_VERSION) { begin(); put('data: file format version '); putU64(<u64>load<u32>(dataHead + 4)); fail(); }
  const dataStart = <u64>load<u32>(dataHead + 8);
  const records = <u64>load<u32>(dataHead + 12);
  const xFloats = load<u32>(dataHead + 16);
  const labelKind = load<u32>(dataHead + 20);
  const labelWords = load<u32>(dataHead + 24);
  const recordBytes = (<u64>xFloats + <u64>labelWords) << 2;
  if (!records) { begin(); failWith('data: no records'); }
  if (dataStart + records * recordBytes != dataBytes) {
    begin(); put('data: '); putU64(records); put(' records need '); putU64(dataStart + records * recordBytes); put(' bytes, the file has ');
    putU64(dataBytes); put(' (truncated?)'); fail();
  }

  // Size the memory once: arena, then the I/O region.
  const io = arenaPages * PAGE;
  const staticBytes = (__heap_base - ARENA_BASE + 15) & ~15;
  const ioBytes = <usize>((planBytes + 15) & ~15) + <usize>((stHeaderBytes + 15) & ~15) + staticBytes + 65536;
  const totalPages = (io + ioBytes + PAGE - 1) / PAGE;
  if (totalPages > 65536 || memory.grow(<i32>(totalPages - <usize>memory.size())) < 0) {
    begin(); failWith('out of memory');
  }
  // Move the small buffers and the message line out of the boot area, which becomes arena.
  const newSmall = io + ioBytes - 2048;
  memory.copy(newSmall, small, 512);
  memory.copy(newSmall + 1024, msg, <usize>msgLen);
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
  const suffix = '.edgetune-tmp';
  for (let i = 0; i < len(suffix); i++) { store<u8>(tmpPath + <usize>tmpLen, <u8>ch(suffix, i)); tmpLen++; }
  const staticAt = io + ioBytes - 2048 - staticBytes;
  memory.copy(staticAt, ARENA_BASE, staticBytes);
  staticCopy = staticAt;
  memory.fill(ARENA_BASE, 0, PAGE - ARENA_BASE);

  // The whole plan file, checked against the memory it describes.
  seek(planFd, 0);
  readExact(planFd, plan, <usize>planBytes, 'plan file');
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
    begin(); outside();
  }
  if (xFloats != inputFloats || labelWords != planLabelWords || labelKind != planLabelKind) {
    begin(); put('data: records of '); putU64(<u64>xFloats); put(' inputs and '); putU64(<u64>labelWords); put(labelKind ? ' f32 targets' : ' class labels');
    put(' do not fit the plan: '); putU64(<u64>inputFloats); put(' inputs and '); putU64(<u64>planLabelWords); put(planLabelKind ? ' f32 targets' : ' class labels'); fail();
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
    if (b + 20 > planEnd || !inside(<u64>load<u32>(b), <u64>load<u32>(b + 4))) { begin(); outside(); }
  }
  const headerImage = bindingAt(bindingCount);
  const headerBytes = <usize>pu(P_HEADER_BYTES);
  words = headerImage + ((headerBytes + 3) & ~3);
  if (words > planEnd || !inside(<u64>h, <u64>headerBytes)) { begin(); outside(); }
  memory.copy(h, headerImage, headerBytes);
  for (let i = 0; i < programCount; i++, p += 16) {
    const offset = <usize>load<u32>(p + 4);
    const count = <usize>load<u32>(p + 12);
    if (words + (count << 2) > planEnd || !inside(<u64>offset, <u64>count << 2)) { begin(); outside(); }
    memory.copy(offset, words, count << 2);
    if (load<u32>(p) == PROGRAM_TRAIN) { train = offset; trainOps = <i32>load<u32>(p + 8); }
    if (load<u32>(p) == PROGRAM_INIT) { init = offset; initOps = <i32>load<u32>(p + 8); }
    words += count << 2;
  }
  if (!train) { begin(); failWith('plan: no train program'); }

  // The weights: the header into the I/O region, each tensor's data straight into its region.
  seek(weightsFd, 0);
  readExact(weightsFd, stHeader, <usize>stHeaderBytes, 'weights file');
  parseWeightsHeader(weightsBytes);
  for (let i = 0; i < bindingCount; i++) {
    const b = bindingAt(i);
    seek(weightsFd, stHeaderBytes + load<u64>(found + (<usize>i << 4)));
    readExact(weightsFd, <usize>load<u32>(b), <usize>load<u32>(b + 4), 'weights file');
  }
  fd_close(weightsFd);
  // A fresh optimizer, as the JS executor starts one: iteration 0, its scalars, slot start values.
  if (init && run(init, initOps, h) != 0) { begin(); failWith('plan: init failed'); }

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
        readExact(dataFd, x, xBytes, 'data file');
        readExact(dataFd, y, lBytes, 'data file');
        for (let k: u32 = 0; k < xFloats; k++) {
          if (!isFinite(load<f32>(x + (<usize>k << 2)))) {
            begin(); put('data: record '); putU64(<u64>(start + j)); failWith(' has a non-finite input');
          }
        }
        for (let k: u32 = 0; k < labelWords; k++) {
          const a = y + (<usize>k << 2);
          if (labelKind == 0 ? <u32>load<i32>(a) >= <u32>classes : !isFinite(load<f32>(a))) {
            begin(); put('data: record '); putU64(<u64>(start + j)); put(' has a label outside the '); putU64(<u64>classes); failWith(' classes');
          }
        }
      }
      beginStep(h, count);
      const status = run(train, trainOps, h);
      if (status != 0) {
        begin();
        if (status < 0) put('plan: unknown opcode');
        else put('non-finite loss or gradients');
        put(' at epoch '); putU64(<u64>(epoch + 1)); put(', batch '); putU64(<u64>(b + 1)); put(' (step '); putU64(<u64>(t + 1));
        { put(')'); unchanged(); };
      }
      t++;
      lossSum += load<f64>(h + S_LOSS_SUM) + load<f64>(h + S_PENALTY) * <f64>count;
    }
    const loss = lossSum / <f64>n;
    msgLen = 0;
    put('epoch '); putU64(<u64>(epoch + 1)); putByte(47); putU64(<u64>epochs); put(' loss '); putFixed6(loss);
    put(' f64 0x'); putHex64(reinterpret<u64>(loss));
    flush(1);
  }
  fd_close(dataFd);

  // Write back: the original header bytes, then every tensor from the arena in offset order, to a
  // temporary file in the same directory; then rename it over the original.
  const out = path_open(weightsDir, 0, tmpPath, tmpLen, OFLAG_CREAT | OFLAG_TRUNC, RIGHT_FD_WRITE | RIGHT_FD_SYNC | RIGHT_FD_SEEK, 0, 0, small + 8);
  if (out) { begin(); put('cannot create'); tempErrno(); putU64(<u64>out); { put(')'); unchanged(); }; }
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
  if (moved) { begin(); put('cannot rename'); tempErrno(); putU64(<u64>moved); { put(')'); unchanged(); }; }
  tmpOpen = false;
  msgLen = 0;
  put('wrote '); putBytes(relPath, relLen); put(' after '); putU64(<u64>t); put(' steps');
  flush(1);
}
