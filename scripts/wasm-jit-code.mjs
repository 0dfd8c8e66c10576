// What V8 made of the 4x8 microkernel probes, in Node and in Deno: the optimized (TurboFan) x86-64
// code of each probe function, taken from the running process and disassembled with objdump.
//   node scripts/wasm-jit-code.mjs [--print]
// Each runtime runs this file with --child under V8's --perf-basic-prof (Deno with --allow-all, to
// read /proc/self/mem) (which lists JIT code
// addresses in /tmp/perf-<pid>.map); the child warms the probes until V8 has tiered them up,
// copies their code out of /proc/self/mem and exits. Counts per function: memory loads, and the
// explicit bounds checks (a conditional jump to an out-of-bounds trap call) an engine emits when it
// does not use guard pages and a signal handler. Diagnostic only (needs Linux x86-64 and objdump).
import process from 'node:process';
import { openSync, readSync, readFileSync, writeFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelWasm } from './wasm-probes.mjs';

if (process.argv.includes('--child')) {
  const out = process.argv[process.argv.indexOf('--child') + 1];
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
  const k = new WebAssembly.Instance(await WebAssembly.compile(kernelWasm()), { env: { memory } }).exports;
  const names = ['kernel4x8Splat', 'kernel4x8Shuffle'];
  const t0 = performance.now();
  while (performance.now() - t0 < 1500) for (const n of names) k[n](1024, 8192, 256, 20);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const mapFile = `/tmp/perf-${process.pid}.map`;
  const fd = openSync('/proc/self/mem', 'r');
  for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) JS:wasm-function\[(\d+)\]-\d+-turbofan$/.exec(line);
    if (!m) continue;
    const code = Buffer.alloc(parseInt(m[2], 16));
    readSync(fd, code, 0, code.length, Number(BigInt(`0x${m[1]}`)));
    writeFileSync(join(out, `${names[Number(m[3])]}.bin`), code);
  }
  rmSync(mapFile, { force: true });
  process.exit(0);
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const print = process.argv.includes('--print');
const scratch = mkdtempSync(join(tmpdir(), 'edgetune-jit-'));
try {
  for (const runtime of ['node', 'deno']) {
    const dir = mkdtempSync(join(scratch, `${runtime}-`));
    const [cmd, args] = runtime === 'node'
      ? [process.execPath, ['--perf-basic-prof', self, '--child', dir]]
      : [join(ROOT, 'node_modules/.bin/deno'), ['run', '--quiet', '--cached-only', '--no-lock', '--allow-all', '--v8-flags=--perf-basic-prof', self, '--child', dir]];
    const version = runtime === 'node' ? process.version : execFileSync(cmd, ['--version']).toString().split('\n')[0];
    execFileSync(cmd, args, { cwd: scratch, env: { ...process.env, DENO_DIR: join(scratch, 'deno-dir') }, stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 });
    for (const file of readdirSync(dir).sort()) {
      const asm = execFileSync('objdump', ['-D', '-b', 'binary', '-mi386:x86-64', join(dir, file)]).toString().split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l));
      // Trap stubs are the calls at the end of the function; a bounds check jumps to one of them.
      const trapTargets = new Set(asm.filter((l) => /\tcall\s/.test(l)).slice(-12).map((l) => l.split(':')[0].trim()));
      const checks = asm.filter((l) => /\tj(ae|nb|a)\s+0x([0-9a-f]+)/.test(l) && trapTargets.has(/0x([0-9a-f]+)/.exec(l.split('\t').pop())[1]));
      // Loads from wasm memory (not the spill slots of the stack frame, %rbp-relative).
      const loads = asm.filter((l) => /\t(vmovdqu|vmovups|vbroadcastss|movdqu|movups)\s+-?(0x[0-9a-f]+)?\(%r(?!bp)/.test(l));
      console.log(`${runtime} (${version}) ${file.replace('.bin', '')}: ${asm.length} instructions, ${loads.length} vector loads, ${checks.length} explicit bounds checks`);
      if (print) console.log(asm.join('\n'));
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
