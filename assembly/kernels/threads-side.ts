// The host's side work (threads build only; docs/threads.md): JavaScript that only the calling
// thread can run (predict's first writes to a fresh output array, whose page faults cost about
// as much as a quarter of GEMM-1024's forward on a VM), run by the driver while its workers take
// the first split job's tiles rather than before or after the run, when they would idle.
// host/runtime/executor.ts run(program, sideWork) arms it; the host runs it itself after a run
// that split no job.

// @ts-ignore: decorator
@external("env", "side_work") declare function hostSideWork(): void;

let pending: bool = false;

// Arms (1) or disarms (0) the side work for this instance's next split job.
export function threads_side_work(armed: i32): void {
  pending = armed != 0;
}

// Runs the armed side work once, on the driver, after a job is published (runJob).
export function takeSideWork(): void {
  if (pending) {
    pending = false;
    hostSideWork();
  }
}
