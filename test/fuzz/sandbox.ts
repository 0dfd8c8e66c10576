// A long-lived child process that runs fuzz cases which can take a process down: a WASI run of a
// mutated plan (the module grows its memory to the plan's page count; Node 20's node:wasi aborts
// or crashes the process past ~32 MB of memory unless fast API calls are off, see docs/wasi.md)
// and the HDF5 reader (h5wasm can hang on a mutated file). The child (test/fuzz/sandbox-child.mjs)
// serves many cases over IPC and times each one itself (wall and CPU), so its start (seconds on a
// loaded machine: it loads the library, compiles the kernels and h5wasm) is never counted against
// a case. It is replaced only after a case killed it ('crash'), did not answer within `hangMs` of
// wall time ('timeout': killed) or grew its resident memory past `maxRssBytes` ('memory': killed,
// polled from /proc on Linux); the next case waits for the new child to be ready.
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CHILD = new URL('./sandbox-child.mjs', import.meta.url).pathname;
// Node 20's node:wasi fast API path crashes with large memories (docs/wasi.md).
export const WASI_NODE_FLAGS = ['--no-turbo-fast-api-calls', '--no-warnings'];

// A case's own time, measured in the child.
export interface CaseTime { wallMs: number; cpuMs: number }
export type SandboxOutcome = { ok: true; value: any; time: CaseTime } | { ok: false; why: 'timeout' | 'memory' | 'crash'; detail: string };

// A case the sandbox had to stop: the fuzzer counts it by `why`, never as a typed refusal.
export class SandboxFailure extends Error {
  constructor(readonly why: 'timeout' | 'memory' | 'crash', detail: string) {
    super(`${why}: ${detail}`);
  }
}

function rssOf(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0; // not Linux, or gone: no memory cap here
  }
}

export class Sandbox {
  private child?: Promise<ChildProcess>;
  starts = 0; // children started: 1 + the cases that killed, hung or over-grew one
  last?: CaseTime; // the own time of the last case that answered
  constructor(private readonly hangMs = 60_000, private readonly maxRssBytes = 1024 * 2 ** 20) {}

  private start(): Promise<ChildProcess> {
    this.starts++;
    const child = fork(CHILD, [], { execArgv: WASI_NODE_FLAGS, serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('exit', (code, signal) => reject(new Error(`sandbox child exited (${code ?? signal}) while starting`)));
    });
  }

  async run(message: object): Promise<SandboxOutcome> {
    this.last = undefined;
    const child = await (this.child ??= this.start());
    return new Promise((resolve) => {
      let done = false;
      const finish = (o: SandboxOutcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(watch);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(o);
      };
      const stop = (why: 'timeout' | 'memory', detail: string) => {
        this.child = undefined;
        child.kill('SIGKILL');
        finish({ ok: false, why, detail });
      };
      const onMessage = ({ wallMs, cpuMs, ...value }: any) => {
        this.last = { wallMs, cpuMs };
        finish({ ok: true, value, time: this.last });
      };
      const onExit = (code: number | null, signal: string | null) => {
        this.child = undefined;
        finish({ ok: false, why: 'crash', detail: `the child died (${signal ?? `exit ${code}`})` });
      };
      const timer = setTimeout(() => stop('timeout', `no answer in ${this.hangMs} ms (killed)`), this.hangMs);
      const watch = setInterval(() => {
        const rss = rssOf(child.pid!);
        if (rss > this.maxRssBytes) stop('memory', `resident memory ${Math.round(rss / 2 ** 20)} MB over ${Math.round(this.maxRssBytes / 2 ** 20)} MB`);
      }, 25);
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(message);
    });
  }

  // The value of a case that finished, or a SandboxFailure.
  async value(message: object): Promise<any> {
    const o = await this.run(message);
    if (!o.ok) throw new SandboxFailure(o.why, o.detail);
    return o.value;
  }

  close(): void {
    this.child?.then((c) => c.kill('SIGKILL'), () => {});
    this.child = undefined;
  }
}
