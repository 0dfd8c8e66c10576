// The WASI module's plan verifier runs the host's op footprint table (host/compile/ops.ts OP_FOOTPRINTS):
// the generated AssemblyScript files must be what the generator makes of today's table, and the
// opcodes the table, the kernel interpreter (assembly/interp/opcodes.ts) and the verifier use must agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conv2dPackBytes, convColsBytes } from '../host/compile/conv-scratch';
import { GEMM_KC, GEMM_MR, GEMM_NC, GEMM_NR, gemmScratchBytes } from '../host/compile/gemm-scratch';
import { HEADER, OP_FOOTPRINTS, OP_SPECS, opFootprint, type OpName } from '../host/compile/ops';
// @ts-expect-error: plain ES module without types
import { generatedOps } from '../scripts/gen-ops.mjs';
// @ts-expect-error: plain ES module without types
import { generatedSources } from '../scripts/wasi-messages.mjs';

const ROOT = new URL('..', import.meta.url).pathname;

describe('op footprints: one table for the host and the WASI verifier', () => {
  it('assembly/wasi/op-footprints.ts and assembly/wasi/wasi-messages.ts are up to date with host/compile/ops.ts', async () => {
    const { messages, footprints } = await generatedSources();
    expect(readFileSync(join(ROOT, 'assembly/wasi/op-footprints.ts'), 'utf8')).toBe(footprints);
    expect(readFileSync(join(ROOT, 'assembly/wasi/wasi-messages.ts'), 'utf8')).toBe(messages);
  });

  it('assembly/interp/opcodes.ts and assembly/interp/run.ts are what scripts/gen-ops.mjs makes of host/compile/op-table.ts', async () => {
    const { opcodes, run } = await generatedOps();
    expect(readFileSync(join(ROOT, 'assembly/interp/opcodes.ts'), 'utf8')).toBe(opcodes);
    expect(readFileSync(join(ROOT, 'assembly/interp/run.ts'), 'utf8')).toBe(run);
  });

  it('the step header offsets of assembly/interp/opcodes.ts are the host\'s HEADER', () => {
    const source = readFileSync(join(ROOT, 'assembly/interp/opcodes.ts'), 'utf8');
    const asm = new Map([...source.matchAll(/export const S_(\w+): usize = (\d+);/g)].map((m) => [m[1].replace(/_/g, '').toLowerCase(), Number(m[2])]));
    for (const [name, at] of Object.entries(HEADER)) if (name !== 'bytes') expect(asm.get(name.toLowerCase()), name).toBe(at);
    expect(asm.size).toBe(Object.keys(HEADER).length - 1);
    expect(Number(/HEADER_BYTES: usize = (\d+)/.exec(source)![1])).toBe(HEADER.bytes);
  });

  it('run.ts decodes every argument of every op, each by its type in the table', () => {
    const source = readFileSync(join(ROOT, 'assembly/interp/run.ts'), 'utf8');
    const decode = { ptr: 'argp', i32: 'arg', f32: 'argf' } as const;
    for (const [name, spec] of Object.entries(OP_SPECS)) {
      const line = source.split('\n').find((l) => l.includes(`case OP_${name.toUpperCase()}:`));
      expect(line, name).toBeDefined();
      const reads = [...line!.matchAll(/\b(argp|argf|arg)\(at, (\d+)\)/g)].map((m) => [m[1], Number(m[2])] as const);
      expect([...new Set(reads.map(([, i]) => i))].sort((a, b) => a - b), name).toEqual(spec.args.map((_, i) => i));
      for (const [fn, i] of reads) expect(fn, `${name}.${spec.args[i]}`).toBe(decode[spec.types[i]]);
    }
  });

  it('host and assembly opcodes agree, and the generated table knows exactly the host\'s ops', () => {
    const source = readFileSync(join(ROOT, 'assembly/interp/opcodes.ts'), 'utf8');
    const asm = new Map([...source.matchAll(/export const OP_(\w+): i32 = (\d+);/g)].map((m) => [m[1].toLowerCase(), Number(m[2])]));
    for (const [name, spec] of Object.entries(OP_SPECS)) expect(asm.get(name), name).toBe(spec.code);
    expect(asm.size).toBe(Object.keys(OP_SPECS).length);
    // Every pointer the table names is an argument of its op; every op has a footprint entry.
    for (const [name, spec] of Object.entries(OP_SPECS)) {
      for (const [arg] of OP_FOOTPRINTS[name as OpName].access) expect(spec.args as readonly string[], `${name}.${arg}`).toContain(arg.replace('?', ''));
    }
  });

  it('the scratch formulas (size expressions) give the kernel\'s documented sizes', () => {
    // host/compile/gemm-scratch.ts: 4 * min(k, KC) * (roundUp(min(n, NC), NR) + MR)
    for (const [m, n, k] of [[1, 1, 1], [5, 9, 3], [64, 300, 784], [16, 129, 257], [0, 5, 5]]) {
      const expected = m <= 0 || n <= 0 || k <= 0 ? 0 : 4 * Math.min(k, GEMM_KC) * (Math.ceil(Math.min(n, GEMM_NC) / GEMM_NR) * GEMM_NR + GEMM_MR);
      expect(gemmScratchBytes(m, n, k)).toBe(expected);
    }
    expect(convColsBytes(32, 3, 3, 8)).toBe(4 * 32 * 3 * 3 * 8);
    expect(conv2dPackBytes(32, 3, 3, 8, 16)).toBe(Math.max(gemmScratchBytes(32, 16, 72), gemmScratchBytes(72, 16, 32), gemmScratchBytes(32, 72, 16)));
  });

  it('footprints do not wrap: a GEMM with k = 2^31-1 spans ~8 GB of a', () => {
    const op = { op: 'gemm' as const, layer: 'x', args: { c: 64, a: 128, b: 256, m: 1, n: 1, k: 2 ** 31 - 1, rsa: 0, csa: 1, rsb: 1, csb: 0, ldc: 1, accumulate: 0, pack: 512, batchFlags: 0 } };
    const a = opFootprint(op, 1).find((x) => x.arg === 'a')!;
    expect(a.bytes).toBe(4 * (2 ** 31 - 1));
  });
});
