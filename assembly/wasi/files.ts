// Files under preopened directories: resolving a path, opening, sizing, reading and writing.
import * as T from './wasi-messages';
import {
  fd_prestat_get, fd_prestat_dir_name, path_open, fd_read, fd_write, fd_seek, fd_filestat_get, RIGHT_FD_READ, RIGHT_FD_SEEK,
  RIGHT_FD_SYNC, RIGHT_FD_TELL, RIGHT_FD_WRITE, RIGHT_FD_FILESTAT_GET, OFLAG_CREAT, OFLAG_TRUNC,
} from './syscalls';
import {
  MAX_PREOPENS, BOOT_PREOPENS, BOOT_NAMES, BOOT_NAMES_MAX, small, put, putBytes, putU64, failWith, unchanged,
} from './messages';

// ---- Files -----------------------------------------------------------------------------------
export let preopenCount = 0;

// The n bytes at a and at b are equal. (memory.compare would be inlined at each use, with its
// word-at-a-time path: this is ~100 bytes smaller per use.)
export function same(a: usize, b: usize, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  return true;
}

export function cstrlen(p: usize): i32 {
  let n = 0;
  while (load<u8>(p + <usize>n)) n++;
  return n;
}

// The preopened directory whose name is the longest prefix of `path` (at a '/' boundary), and the
// path relative to it.
export let resolvedDir: i32 = -1;
export let resolvedRel: usize = 0;
export let resolvedRelLen: i32 = 0;
export function resolve(path: usize, len: i32): bool {
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

export function openFile(path: usize, what: T.Text, write: bool): i32 {
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

export function fileSize(fd: i32, what: T.Text): u64 {
  const st = small + 16;
  if (fd_filestat_get(fd, st)) { put(T.CANNOT_OPEN); failWith(what); }
  return load<u64>(st + 32);
}

export function seek(fd: i32, at: u64): void {
  if (fd_seek(fd, <i64>at, 0, small + 80)) { failWith(T.SEEK_FAILED); }
}

// Reads exactly n bytes or fails naming the file: a short file is a truncated file.
export function readExact(fd: i32, p: usize, n: usize, what: T.Text): void {
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

export function writeAll(fd: i32, p: usize, n: usize): void {
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


export function listPreopens(): void {
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
