// An app's own kernel build (`edgetune kernels --ops ... --out app.wasm`, docs/runtimes-and-edge.md):
// the lite kernel module (assembly/lite.ts, the same kernels and flags) whose interpreter keeps only
// the cases of the listed ops, as TF.js's custom bundles and onnxruntime's reduced-operator builds
// do. It works from the installed package: the package ships the AssemblyScript sources
// (assembly/, with the generated interpreter assembly/interp/run.ts) and asconfig.json, and the
// compiler is AssemblyScript's own (an optional peer dependency: `npm i -D assemblyscript`).
//
// The module carries its ops in an `edgetune.ops` custom section (name:opcode pairs), which
// host/runtime/kernel-source.ts reads to refuse a plan that needs another op, or a module compiled
// from another version of the op table, before anything runs. The ops of an app: `usedOps()` from
// edgetune/lite after its models have run once. scripts/build.mjs writes the same section into
// the stock lite builds.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OP_SPECS, type OpName } from '../compile/op-table';
import { EdgetuneError, InvalidArgumentError } from '../core/errors';
import { parseCommandArgs } from './commands';

export const OPS_SECTION = 'edgetune.ops';

// The directory that holds asconfig.json and assembly/: the package root, found upwards from this
// module (dist/ in the package, host/cli/ in the repository).
export function kernelSourceRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'asconfig.json')) && existsSync(join(dir, 'assembly', 'interp', 'run.ts'))) return dir;
    if (dirname(dir) === dir) throw new EdgetuneError('KernelBuild', `no kernel sources (asconfig.json and assembly/interp/run.ts) above ${from}: reinstall edgetune`);
  }
}

const leb128 = (n: number): number[] => {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n);
  return out;
};

// The module's bytes without any custom section called `name`, then with one holding `text`
// (UTF-8) at the end: engines skip custom sections, WebAssembly.Module.customSections reads them
// without instantiating. Writing the section twice leaves one.
export function withCustomSection(wasm: Uint8Array, name: string, text: string): Uint8Array {
  const enc = new TextEncoder();
  const kept: Uint8Array[] = [wasm.subarray(0, 8)];
  for (let at = 8; at < wasm.length;) {
    const start = at;
    const id = wasm[at++];
    let size = 0;
    for (let shift = 0; ; shift += 7) { const b = wasm[at++]; size += (b & 0x7f) * 2 ** shift; if (b < 0x80) break; }
    const end = at + size;
    if (end > wasm.length) throw new EdgetuneError('KernelBuild', `not a WebAssembly module: a section runs past the end (${end} > ${wasm.length} bytes)`);
    let drop = false;
    if (id === 0) {
      let len = 0, p = at;
      for (let shift = 0; ; shift += 7) { const b = wasm[p++]; len += (b & 0x7f) * 2 ** shift; if (b < 0x80) break; }
      drop = new TextDecoder().decode(wasm.subarray(p, p + len)) === name;
    }
    if (!drop) kept.push(wasm.subarray(start, end));
    at = end;
  }
  const nameBytes = enc.encode(name);
  const payload = [...leb128(nameBytes.length), ...nameBytes, ...enc.encode(text)];
  kept.push(Uint8Array.from([0, ...leb128(payload.length), ...payload]));
  const out = new Uint8Array(kept.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of kept) { out.set(b, o); o += b.length; }
  return out;
}

// The section's text: each op as name:opcode, so the host tells a module compiled from another
// version of the op table (its opcodes differ) from one that lacks an op.
export function opsSectionText(ops: readonly string[]): string {
  return [...new Set(ops)].sort().map((op) => `${op}:${OP_SPECS[op as OpName].code}`).join(',');
}

// Writes (or rewrites) the section of a compiled module file in place.
export function writeOpsSection(file: string, ops: readonly string[]): void {
  writeFileSync(file, withCustomSection(readFileSync(file), OPS_SECTION, opsSectionText(ops)));
}

const GUARD = 'if (LITE) return unknownOp(scalars, index); ';

// The interpreter (assembly/interp/run.ts, generated from the op table with the lite build's
// guards) with a case kept for exactly `ops`: every other case stops the run under EDGETUNE_LITE,
// so its kernel is not compiled in.
export function interpreterFor(run: string, ops: ReadonlySet<string>): string {
  const byCode = new Map(Object.keys(OP_SPECS).map((n) => [`OP_${n.toUpperCase()}`, n]));
  let cases = 0;
  const out = run.replace(/^(\s*case (OP_\w+): )((?:if \(LITE\) return unknownOp\(scalars, index\); )?)/gm, (_, head: string, code: string) => {
    const name = byCode.get(code);
    if (name === undefined) throw new EdgetuneError('KernelBuild', `assembly/interp/run.ts has a case ${code} that the op table does not: the kernel sources and this edgetune differ, reinstall it`);
    cases++;
    return ops.has(name) ? head : head + GUARD;
  });
  if (cases !== byCode.size) throw new EdgetuneError('KernelBuild', `assembly/interp/run.ts has ${cases} op cases, the op table ${byCode.size}: the kernel sources and this edgetune differ, reinstall it`);
  return out;
}

export interface KernelBuildOptions {
  simd?: boolean; // default true; false for engines without WebAssembly SIMD
  root?: string; // where asconfig.json and assembly/ are (default: this package)
}

type Asc = (args: string[]) => Promise<{ error: Error | null; stderr: { toString(): string } }>;

async function loadAsc(): Promise<Asc> {
  const specifier = 'assemblyscript/asc';
  try {
    return ((await import(specifier)) as { main: Asc }).main;
  } catch (e) {
    throw new EdgetuneError('KernelBuild', `edgetune kernels compiles with AssemblyScript, which is not installed here (${(e as Error).message.split('\n')[0]}): npm install --save-dev assemblyscript@^0.28`);
  }
}

// Compiles the kernels for `ops` (op names: OP_SPECS, usedOps()) to `outFile`, written beside it and
// renamed, so a reader never sees half a module. Returns the module's size in bytes.
export async function buildKernels(ops: readonly string[], outFile: string, options: KernelBuildOptions = {}): Promise<number> {
  const unknown = ops.filter((op) => !Object.hasOwn(OP_SPECS, op));
  if (unknown.length) throw new InvalidArgumentError(`kernels: no op ${unknown.map((o) => `'${o}'`).join(', ')} in edgetune's op table (the names usedOps() returns)`);
  if (ops.length === 0) throw new InvalidArgumentError('kernels: the op list is empty (the names usedOps() returns, comma-separated)');
  const root = options.root ?? kernelSourceRoot();
  const asc = await loadAsc();
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-kernels-'));
  const assembly = relative(dir, join(root, 'assembly')).split('\\').join('/');
  try {
    const run = interpreterFor(readFileSync(join(root, 'assembly/interp/run.ts'), 'utf8'), new Set(ops))
      .replaceAll("from '../kernels/", `from '${assembly}/kernels/`).replace("from './opcodes'", `from '${assembly}/interp/opcodes'`);
    writeFileSync(join(dir, 'run.ts'), run);
    const entry = readFileSync(join(root, 'assembly/lite.ts'), 'utf8').replace("from './interp/run'", "from './run'")
      .replaceAll(/from '\.\/(kernels\/[\w-]+|index)'/g, (_, p: string) => `from '${assembly}/${p}'`);
    writeFileSync(join(dir, 'kernels.ts'), entry);
    const wasmFile = join(dir, 'kernels.wasm');
    const args = [join(dir, 'kernels.ts'), '--config', join(root, 'asconfig.json'), '--target', 'release', '--use', 'EDGETUNE_LITE=1', '--outFile', wasmFile, '--textFile', join(dir, 'kernels.wat')];
    const { error, stderr } = await asc(options.simd === false ? [...args, '--disable', 'simd'] : args);
    if (error) throw new EdgetuneError('KernelBuild', `kernels: AssemblyScript failed: ${error.message}\n${stderr.toString()}`);
    const bytes = withCustomSection(readFileSync(wasmFile), OPS_SECTION, opsSectionText(ops));
    const out = resolve(outFile);
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
    return bytes.length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `edgetune kernels --ops a,b,... | --ops-file ops.json --out app.wasm [--scalar]`.
export async function kernelsCommand(argv: string[], log: (line: string) => void): Promise<number> {
  const { positional, flags } = parseCommandArgs('kernels', argv);
  if (positional.length) throw new InvalidArgumentError(`kernels: unexpected argument '${positional[0]}' (the ops go in --ops or --ops-file)`);
  if ('ops' in flags === 'ops-file' in flags) throw new InvalidArgumentError('kernels: give the ops either as --ops a,b,... or as --ops-file FILE (a JSON array, e.g. JSON.stringify(usedOps()))');
  if (!flags.out) throw new InvalidArgumentError('kernels: --out FILE is required (the .wasm to write)');
  let ops: string[];
  if ('ops' in flags) ops = flags.ops.split(',').map((s) => s.trim()).filter(Boolean);
  else {
    let parsed: unknown;
    try { parsed = JSON.parse(readFileSync(flags['ops-file'], 'utf8')); } catch (e) { throw new InvalidArgumentError(`kernels: --ops-file ${flags['ops-file']}: ${(e as Error).message}`); }
    if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) throw new InvalidArgumentError(`kernels: --ops-file ${flags['ops-file']} must hold a JSON array of op names`);
    ops = parsed;
  }
  const bytes = await buildKernels(ops, flags.out, { simd: !('scalar' in flags) });
  log(`${flags.out}: ${new Set(ops).size} ops, ${(bytes / 1024).toFixed(1)} KB${'scalar' in flags ? ' (no SIMD)' : ''}; load it with ready(new URL('./${flags.out.split(/[\\/]/).pop()}', import.meta.url))`);
  return 0;
}
