// Spawning Deno and Bun from tests: the binaries the devDependencies ship, a scratch directory
// per run (Deno's cache included, so nothing outside it is written and nothing is fetched) and a
// bounded time for every child.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DENO = join(ROOT, 'node_modules/.bin/deno');
export const BUN = join(ROOT, 'node_modules/.bin/bun');
export type RuntimeName = 'node' | 'deno' | 'bun';
export const RUNTIMES: RuntimeName[] = ['node', 'deno', 'bun'];

export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// The command line that runs `script` (absolute path) with `args` under a runtime. Deno gets read
// access to the repository and the scratch directory, write access to the scratch directory only,
// network access only where asked (loopback), and never the registry (--cached-only).
export function runtimeCommand(runtime: RuntimeName, script: string, args: string[], scratch: string, opts: { net?: boolean } = {}): { cmd: string; argv: string[]; env: NodeJS.ProcessEnv } {
  const env = { ...process.env, DENO_DIR: join(scratch, 'deno-dir'), NO_COLOR: '1' };
  if (runtime === 'node') return { cmd: process.execPath, argv: [script, ...args], env };
  if (runtime === 'bun') return { cmd: BUN, argv: [script, ...args], env };
  const perms = [`--allow-read=${ROOT},${scratch}`, `--allow-write=${scratch}`];
  if (opts.net) perms.push('--allow-net=127.0.0.1');
  return { cmd: DENO, argv: ['run', '--quiet', '--no-prompt', '--cached-only', '--no-lock', ...perms, script, ...args], env };
}

// Runs to completion (or kills it after timeoutMs) and returns stdout; rejects on a non-zero exit.
export function runToEnd(runtime: RuntimeName, script: string, args: string[], scratch: string, timeoutMs = 60_000): Promise<string> {
  const { cmd, argv, env } = runtimeCommand(runtime, script, args, scratch);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${runtime} ${script} exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (killed after ${timeoutMs} ms)` : ''}: ${err.slice(-2000)}`));
    });
  });
}

// Starts a server script that prints `listening <port>` on its first stdout line; resolves with
// the port and the child (the caller stops it). Rejects if no such line comes within timeoutMs.
export function startServer(runtime: RuntimeName, script: string, args: string[], scratch: string, timeoutMs = 60_000): Promise<{ port: number; child: ChildProcess; stderr: () => string }> {
  const { cmd, argv, env } = runtimeCommand(runtime, script, args, scratch, { net: true });
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${runtime} server did not start within ${timeoutMs} ms: ${err}`)); }, timeoutMs);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ port: Number(m[1]), child, stderr: () => err }); }
    });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); reject(new Error(`${runtime} server exited with ${code} before listening: ${err.slice(-2000)}`)); });
  });
}

export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('close', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}
