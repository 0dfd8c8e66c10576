// An app's own kernel build: the lite kernel module (assembly/lite.ts, the same kernels and flags)
// with the interpreter cases of the listed ops only, as TF.js's custom bundles and onnxruntime's
// reduced-operator builds do. The module carries its op list in an `edgetune.ops` custom section,
// which the executor reads to refuse a plan needing another op (EdgetuneError 'KernelBuild',
// naming the op and its layer) before it runs. The op list of an app: `usedOps()` from
// edgetune/lite after running its models once (every op of every plan checked in the process).
//
//   node scripts/build-kernels.mjs --ops gemm,bias_fill,... --out app-kernels.wasm [--scalar]
//   (then, in the app: await ready(new URL('./app-kernels.wasm', import.meta.url)))
//
// The lite build itself (dist/edgetune-lite.wasm) is this with host/runtime/lite-ops.ts's list.
import { main as asc } from 'assemblyscript/asc';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSource } from './gen-ops.mjs';
import { loadTables } from './op-footprints.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const OPS_SECTION = 'edgetune.ops';

// The module's bytes with a custom section `name` holding `text` (UTF-8) appended: engines skip
// custom sections, WebAssembly.Module.customSections reads them without instantiating.
export function withCustomSection(wasm, name, text) {
  const leb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
  const nameBytes = Buffer.from(name, 'utf8');
  const payload = Buffer.concat([Buffer.from(leb(nameBytes.length)), nameBytes, Buffer.from(text, 'utf8')]);
  return Buffer.concat([Buffer.from(wasm), Buffer.from([0, ...leb(payload.length)]), payload]);
}

// The section's text: each op as name:opcode, so the host can tell a module compiled from another
// version of the op table (its opcodes differ) from one that lacks an op.
export function opsSectionText(t, ops) {
  return [...new Set(ops)].sort().map((op) => `${op}:${t.OP_SPECS[op].code}`).join(',');
}

// Appends the section to a compiled module in place (scripts/build.mjs: the lite builds).
export async function writeOpsSection(file, ops) {
  writeFileSync(file, withCustomSection(readFileSync(file), OPS_SECTION, opsSectionText(await loadTables(), ops)));
}

// Compiles the kernels for `ops` (op names of host/compile/op-table.ts) to `outFile`; SIMD unless
// `simd` is false. The generated interpreter and entry live in a scratch folder under build/.
export async function buildKernels(ops, outFile, { simd = true } = {}) {
  const t = await loadTables();
  const unknown = ops.filter((op) => !t.OP_SPECS[op]);
  if (unknown.length) throw new Error(`build-kernels: no op ${unknown.map((o) => `'${o}'`).join(', ')} in the op table (host/compile/op-table.ts)`);
  if (ops.length === 0) throw new Error('build-kernels: --ops lists no op');
  const dir = join(ROOT, 'build', `kernels-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const assembly = relative(dir, join(ROOT, 'assembly')).split('\\').join('/');
  try {
    const run = runSource(t, new Set(ops)).replaceAll("from '../kernels/", `from '${assembly}/kernels/`).replace("from './opcodes'", `from '${assembly}/interp/opcodes'`);
    writeFileSync(join(dir, 'run.ts'), run);
    const entry = readFileSync(join(ROOT, 'assembly/lite.ts'), 'utf8').replace("from './interp/run'", "from './run'").replaceAll(/from '\.\/(kernels\/\w+|index)'/g, (_, p) => `from '${assembly}/${p}'`);
    writeFileSync(join(dir, 'kernels.ts'), entry);
    const wasmFile = join(dir, 'kernels.wasm');
    const args = [join(dir, 'kernels.ts'), '--config', join(ROOT, 'asconfig.json'), '--target', 'release', '--use', 'EDGETUNE_LITE=1', '--outFile', wasmFile, '--textFile', join(dir, 'kernels.wat')];
    const { error, stderr } = await asc(simd ? args : [...args, '--disable', 'simd']);
    if (error) throw new Error(`build-kernels: asc failed: ${error.message}\n${stderr.toString()}`);
    mkdirSync(dirname(resolve(outFile)), { recursive: true });
    // written beside and renamed: a reader of outFile (another test) never sees half a module
    writeFileSync(`${outFile}.${process.pid}.tmp`, withCustomSection(readFileSync(wasmFile), OPS_SECTION, opsSectionText(t, ops)));
    renameSync(`${outFile}.${process.pid}.tmp`, outFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => { const i = process.argv.indexOf(name); return i < 0 ? undefined : process.argv[i + 1]; };
  const ops = arg('--ops')?.split(',').map((s) => s.trim()).filter(Boolean);
  const out = arg('--out');
  if (!ops || !out) {
    console.error('usage: node scripts/build-kernels.mjs --ops op1,op2,... --out file.wasm [--scalar]');
    process.exit(2);
  }
  await buildKernels(ops, out, { simd: !process.argv.includes('--scalar') });
  console.log(`${out}: ${ops.length} ops, ${(readFileSync(out).length / 1024).toFixed(1)} KB`);
}
