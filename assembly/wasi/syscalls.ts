// WASI preview1: the imports this module uses, and the rights and flags it passes to path_open.

// ---- WASI preview1 imports ------------------------------------------------------------------
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_sizes_get") export declare function args_sizes_get(argc: usize, bufSize: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_get") export declare function args_get(argv: usize, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_get") export declare function fd_prestat_get(fd: i32, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_dir_name") export declare function fd_prestat_dir_name(fd: i32, path: usize, len: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_open")
export declare function path_open(dirfd: i32, dirflags: i32, path: usize, pathLen: i32, oflags: i32, rightsBase: i64, rightsInheriting: i64,
  fdflags: i32, fdOut: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read") export declare function fd_read(fd: i32, iovs: usize, iovsLen: i32, nread: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write") export declare function fd_write(fd: i32, iovs: usize, iovsLen: i32, nwritten: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_seek") export declare function fd_seek(fd: i32, offset: i64, whence: i32, newOffset: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_filestat_get") export declare function fd_filestat_get(fd: i32, buf: usize): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_sync") export declare function fd_sync(fd: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_close") export declare function fd_close(fd: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_rename")
export declare function path_rename(fd: i32, oldPath: usize, oldLen: i32, newFd: i32, newPath: usize, newLen: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_unlink_file") export declare function path_unlink_file(fd: i32, path: usize, len: i32): i32;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit") export declare function proc_exit(code: i32): void;

export const RIGHT_FD_READ: i64 = 1 << 1;
export const RIGHT_FD_SEEK: i64 = 1 << 2;
export const RIGHT_FD_SYNC: i64 = 1 << 4;
export const RIGHT_FD_TELL: i64 = 1 << 5;
export const RIGHT_FD_WRITE: i64 = 1 << 6;
export const RIGHT_FD_FILESTAT_GET: i64 = 1 << 21;
export const OFLAG_CREAT: i32 = 1;
export const OFLAG_TRUNC: i32 = 8;
