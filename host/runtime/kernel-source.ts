// Where the kernel module's bytes come from: the .wasm file shipped beside this bundle
// (dist/edgetune.wasm, or dist/edgetune-nosimd.wasm for engines that reject SIMD), found with
// new URL(file, import.meta.url), which Vite, webpack and Parcel also follow when they bundle.
// Only the build the engine runs is read. Node, Deno and Bun read the file; elsewhere it is
// fetched and compiled while it streams in.
import { EdgetuneError } from '../core/errors';
import { OP_SPECS, type OpName } from '../compile/ops';

export type KernelBuild = 'simd' | 'scalar';
export const KERNEL_FILES: Record<KernelBuild, string> = { simd: 'edgetune.wasm', scalar: 'edgetune-nosimd.wasm' };
// The lite kernel set (the `edgetune/lite` entry): the ops of host/runtime/lite-ops.ts only.
export const LITE_KERNEL_FILES: Record<KernelBuild, string> = { simd: 'edgetune-lite.wasm', scalar: 'edgetune-lite-nosimd.wasm' };
export type KernelSet = 'full' | 'lite';
let kernelSetInUse: KernelSet = 'full';
type PlanOps = Partial<Record<string, { ops: readonly { op: string; layer: string }[] }>>;

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): valid only where the
// engine has SIMD, so validating it decides the build without reading either file.
const SIMD_PROBE = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11);

export function engineHasSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

export function kernelUrl(build: KernelBuild, set: KernelSet = kernelSetInUse): URL {
  return new URL(`./${(set === 'lite' ? LITE_KERNEL_FILES : KERNEL_FILES)[build]}`, import.meta.url);
}

// Which kernel set this process loads: 'full' unless the `edgetune/lite` entry chose 'lite'
// (before any kernels were compiled: one module per process).
export function kernelSet(): KernelSet {
  return kernelSetInUse;
}
export function useKernelSet(set: KernelSet): void {
  if ((compiled || compiling) && set !== kernelSetInUse) {
    throw new EdgetuneError('KernelBuild', `the ${kernelSetInUse} kernels are already loaded in this process: import 'edgetune/lite' and 'edgetune' in separate processes`);
  }
  kernelSetInUse = set;
}

// The ops a kernel module has, from its 'edgetune.ops' custom section (name:opcode pairs), which
// the lite builds and an app's own build (`edgetune kernels`, host/cli/kernels.ts) carry; null for a module
// without one (the full builds: every op).
const OPS_SECTION = 'edgetune.ops';
let opsOf: { module: WebAssembly.Module; ops: Set<string> | null } | null = null;
function moduleOps(module: WebAssembly.Module): Set<string> | null {
  if (opsOf?.module !== module) {
    // The module's own class, not the global: an app may wrap WebAssembly.Module (to count compiles).
    const [section] = (module.constructor as typeof WebAssembly.Module).customSections(module, OPS_SECTION);
    const pairs = section ? new TextDecoder().decode(section).split(',').map((p) => p.split(':')) : null;
    // A module compiled from another version of the op table would run other ops under these codes.
    const stale = pairs?.find(([op, code]) => OP_SPECS[op as OpName]?.code !== Number(code));
    if (stale) throw new EdgetuneError('KernelBuild', `the kernel build ${compiledFrom ?? 'in use'} was compiled from another version of the op table (its op '${stale[0]}' is opcode ${stale[1]}, here ${OP_SPECS[stale[0] as OpName]?.code ?? 'none'}): rebuild it (npx edgetune kernels) with this version`);
    opsOf = { module, ops: pairs && new Set(pairs.map(([op]) => op)) };
  }
  return opsOf.ops;
}

// Every op of the plans checked in this process (edgetune/lite's usedOps()): what an app's own
// kernel build must have.
const opsSeen = new Set<string>();
export function usedOps(): string[] {
  return [...opsSeen].sort();
}

// Refuses a plan whose programs need an op the loaded kernel module lacks, naming the op and its
// layer (its interpreter would stop there): the executor calls it before making the plan's memory.
export function checkKernelSetRuns(programs: PlanOps): void {
  for (const p of Object.values(programs)) for (const o of p?.ops ?? []) opsSeen.add(o.op);
  // The full entry's own files have every op (and a plan on threads need not compile the plain one).
  if (kernelSetInUse === 'full' && compiledFrom === null) return;
  const module = compiled ?? kernelModuleIfLoadable();
  const have = module && moduleOps(module);
  if (!have) return;
  for (const [program, p] of Object.entries(programs)) {
    const missing = p?.ops.find((o) => !have.has(o.op));
    if (!missing) continue;
    const which = compiledFrom === null
      ? `the lite kernels (edgetune/lite: dense networks) do not have: import from 'edgetune' for the full kernels`
      : `the kernel build ${compiledFrom} does not have: build one with it (npx edgetune kernels --ops, the ops of usedOps()) or load the full kernels`;
    throw new EdgetuneError('KernelBuild', `layer '${missing.layer}' needs the op '${missing.op}' (${program} program), which ${which}`);
  }
}

interface FileGlobals {
  process?: { getBuiltinModule?: (id: string) => { readFileSync(path: URL): Uint8Array } | undefined };
  Deno?: { readFileSync(path: URL): Uint8Array };
}

// The bytes of a file: URL where the runtime can read files without an import (Node >= 20.16
// and Bun through process.getBuiltinModule, Deno through Deno.readFileSync); null elsewhere.
export function readFileUrl(url: URL): Uint8Array | null {
  if (url.protocol !== 'file:') return null;
  const g = globalThis as FileGlobals;
  const fs = g.process?.getBuiltinModule?.('node:fs');
  try {
    if (fs) return fs.readFileSync(url);
    if (g.Deno) return g.Deno.readFileSync(url);
  } catch (e) {
    throw new EdgetuneError('KernelBuild', `could not read the kernels from ${url.href}: ${(e as Error).message}`);
  }
  return null;
}

// The kernel bytes for a synchronous compile; browsers and edge platforms cannot read a file
// synchronously, so there the kernels must be compiled by `await ready()` first.
export function kernelBytesSync(build: KernelBuild): Uint8Array {
  const url = kernelUrl(build);
  const bytes = readFileUrl(url);
  if (!bytes) throw new EdgetuneError('KernelBuild', `the kernels (${url.href}) are not compiled yet and cannot be read synchronously here: await ready() before building or running a model`);
  return bytes;
}

// The threads build (dist/edgetune-threads.wasm, docs/threads.md): beside this bundle, or beside
// the kernels' `source` when ready(source) names where they are served.
export const THREADS_KERNEL_FILE = 'edgetune-threads.wasm';
export function threadsKernelUrl(source?: URL | string): URL {
  if (source === undefined) return new URL(`./${THREADS_KERNEL_FILE}`, import.meta.url);
  return new URL(THREADS_KERNEL_FILE, new URL(source, (globalThis as { location?: { href: string } }).location?.href));
}

// Its bytes where the file can be read synchronously; null elsewhere or when it is missing (the
// model then runs on one thread).
export function threadsKernelBytes(): Uint8Array | null {
  try {
    return readFileUrl(threadsKernelUrl());
  } catch {
    return null;
  }
}

// The threads build compiled from a URL that cannot be read synchronously (a page: fetched), for
// ready(); null when it is missing or the engine rejects it (models then run on one thread).
export async function fetchThreadsKernels(url: URL): Promise<WebAssembly.Module | null> {
  try {
    return await compileKernels(url);
  } catch {
    return null;
  }
}

// Compiles the kernels from a URL: read as a file where that is possible, and then compiled
// synchronously (Node, Deno and Bun allow it on any thread; the asynchronous compile costs more
// CPU and two trips through the event loop on the cold-start path), else fetched and compiled as
// the bytes arrive (WebAssembly.compileStreaming needs the application/wasm type).
export async function compileKernels(url: URL): Promise<WebAssembly.Module> {
  const bytes = readFileUrl(url);
  if (bytes) return new WebAssembly.Module(bytes as BufferSource);
  const response = await fetch(url);
  if (!response.ok) throw new EdgetuneError('KernelBuild', `could not load the kernels from ${url.href}: HTTP ${response.status}`);
  const streaming = typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.split(';')[0].trim() === 'application/wasm';
  return streaming ? WebAssembly.compileStreaming(response) : WebAssembly.compile(await response.arrayBuffer());
}

// Two builds of the kernels ship: with SIMD, and without it for engines that reject SIMD (many
// IoT interpreters). 'auto' picks the SIMD build where the engine validates a SIMD probe; only
// the chosen file is read. Both sum in the same order, so they give bit-identical results.
// EDGETUNE_SIMD=0 in the environment (Node, Bun) or setKernelVariant('scalar') forces the scalar build.
export type KernelVariant = 'auto' | 'simd' | 'scalar';
let requestedVariant: KernelVariant = variantFromEnvironment();
let chosenVariant: KernelBuild | null = null;

function variantFromEnvironment(): KernelVariant {
  if (typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined') return 'auto'; // env access would need a permission
  try {
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
    return env?.EDGETUNE_SIMD === '0' ? 'scalar' : 'auto';
  } catch {
    return 'auto';
  }
}

// Chooses the kernel build; only before the first model is planned or run (one module per process).
export function setKernelVariant(variant: KernelVariant): void {
  if (chosenVariant && variant !== 'auto' && variant !== chosenVariant) {
    throw new EdgetuneError('KernelBuild', `the ${chosenVariant} kernels are already loaded in this process: call setKernelVariant('${variant}') before anything runs`);
  }
  requestedVariant = variant;
}

// Which kernel build this process runs ('simd' or 'scalar'); decides it if nothing ran yet.
export function kernelVariant(): KernelBuild {
  chosenVariant ??= requestedVariant === 'scalar' || (requestedVariant === 'auto' && !engineHasSimd()) ? 'scalar' : 'simd';
  return chosenVariant;
}

// The kernel module, compiled once per process (host/runtime/executor.ts checks it before use).
let compiled: WebAssembly.Module | null = null;
let compiling: Promise<WebAssembly.Module> | null = null;

// Where the module came from when ready(source) named it (null: the file beside this bundle).
let compiledFrom: string | null = null;

export function compileKernelModule(source?: URL | string): Promise<WebAssembly.Module> {
  if (compiled) return Promise.resolve(compiled);
  const url = source === undefined ? kernelUrl(kernelVariant()) : new URL(source, (globalThis as { location?: { href: string } }).location?.href);
  if (source !== undefined && !compiling) compiledFrom = url.href;
  compiling ??= compileKernels(url).then((m) => (compiled ??= m));
  return compiling;
}

export function kernelModuleSync(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(kernelBytesSync(kernelVariant()) as BufferSource);
  return compiled;
}

// The kernel module where it is compiled or can be compiled synchronously here; null where it
// cannot (a browser before ready(), host sources run without the .wasm files beside them).
export function kernelModuleIfLoadable(): WebAssembly.Module | null {
  try {
    return kernelModuleSync();
  } catch {
    return null;
  }
}
