// A child process that runs fuzz cases which can take the process down: a WASI run of a mutated
// plan (the module grows its memory to the plan's page count; Node 20's node:wasi aborts or
// crashes the process past ~32 MB of memory unless fast API calls are off, see docs/wasi.md) and
// the HDF5 reader (h5wasm can hang on a mutated file). Each case gets `timeoutMs` and the child at
// most `maxRssBytes` of resident memory (polled from /proc on Linux); over either, or dead, the
// child is killed, the case reported as 'timeout', 'memory' or 'crash', and a new child started
// for the next case. The child is also replaced every RECYCLE_EVERY cases: node:wasi closes a WASI
// instance's preopened and opened files only when the instance is garbage collected, and a child
// that ran 3,672 cases without a collection failed with EMFILE. The child is
// test/fuzz/sandbox-child.mjs.
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CHILD = new URL('./sandbox-child.mjs', import.meta.url).pathname;
// Node 20's node:wasi fast API path crashes with large memories (docs/wasi.md).
export const WASI_NODE_FLAGS = ['--no-turbo-fast-api-calls', '--no-warnings'];

const RECYCLE_EVERY = 500;

export type SandboxOutcome = { ok: true; value: any } | { ok: false; why: 'timeout' | 'memory' | 'crash'; detail: string };

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
  private cases = 0;
  constructor(private readonly timeoutMs = 5000, private readonly maxRssBytes = 1024 * 2 ** 20) {}

  private start(): Promise<ChildProcess> {
    const child = fork(CHILD, [], { execArgv: WASI_NODE_FLAGS, serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    return new Promise((resolve, reject) => {
      child.once('message', () => resolve(child));
      child.once('exit', (code, signal) => reject(new Error(`sandbox child exited (${code ?? signal}) while starting`)));
    });
  }

  async run(message: object): Promise<SandboxOutcome> {
    if (++this.cases % RECYCLE_EVERY === 0) this.close();
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
      const onMessage = (value: unknown) => finish({ ok: true, value });
      const onExit = (code: number | null, signal: string | null) => {
        this.child = undefined;
        finish({ ok: false, why: 'crash', detail: `the child died (${signal ?? `exit ${code}`})` });
      };
      const timer = setTimeout(() => stop('timeout', `over ${this.timeoutMs} ms`), this.timeoutMs);
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
