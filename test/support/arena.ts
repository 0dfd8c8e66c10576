// The one allocator of the kernel tests: a bump arena over a kernel module's memory. Every buffer is
// 16-byte aligned (or shifted off alignment on request) and sits between guard words that must come
// back unchanged; outputs start as NaN, so an element a kernel forgets stays NaN and fails. Also the
// same kernels compiled without SIMD (the scalar branches).
import { main as asc } from 'assemblyscript/asc';

export type Fn = (...args: number[]) => number;
export const GUARD = -31337.25; // exactly representable; no kernel output here can produce it
export const GUARD_WORDS = 4;

export class Arena {
  private top: number;
  private buffers: Array<[number, number]> = [];
  constructor(readonly k: Record<string, Fn>, readonly memory: WebAssembly.Memory, private base: number, private limitBytes: number) {
    this.top = base;
  }
  private get f32() { return new Float32Array(this.memory.buffer); }
  reset(): void {
    this.top = this.base;
    this.buffers = [];
  }
  // `floats` f32 slots filled with `fill`, GUARD_WORDS guard words either side; `offset` extra words
  // shift the start off 16-byte alignment.
  alloc(floats: number, fill = NaN, offset = 0): number {
    const ptr = Math.ceil(this.top / 16) * 16 + 4 * (GUARD_WORDS + offset);
    this.top = ptr + 4 * (floats + GUARD_WORDS);
    if (this.top > this.base + this.limitBytes) throw new Error('arena exhausted');
    const f = this.f32;
    f.fill(GUARD, ptr / 4 - GUARD_WORDS, ptr / 4);
    f.fill(fill, ptr / 4, ptr / 4 + floats);
    f.fill(GUARD, ptr / 4 + floats, ptr / 4 + floats + GUARD_WORDS);
    this.buffers.push([ptr, floats]);
    return ptr;
  }
  // n floats: `init` if given, else NaN.
  buf(n: number, init?: ArrayLike<number>, offset = 0): number {
    const ptr = this.alloc(n, NaN, offset);
    if (init) this.write(ptr, init);
    return ptr;
  }
  put(data: ArrayLike<number>): number {
    return this.buf(data.length, data);
  }
  putI32(data: ArrayLike<number>): number {
    const ptr = this.alloc(data.length);
    new Int32Array(this.memory.buffer).set(data, ptr / 4);
    return ptr;
  }
  write(ptr: number, data: ArrayLike<number>): void {
    this.f32.set(data, ptr / 4);
  }
  read(ptr: number, floats: number): Float32Array {
    return this.f32.slice(ptr / 4, ptr / 4 + floats);
  }
  readI32(ptr: number, count: number): Int32Array {
    return new Int32Array(this.memory.buffer).slice(ptr / 4, ptr / 4 + count);
  }
  // An f64 slot (the loss and accuracy sums) holding `value`.
  slot(value: number): number {
    const ptr = this.alloc(2);
    this.writeF64(ptr, value);
    return ptr;
  }
  readF64(ptr: number): number {
    return new Float64Array(this.memory.buffer, ptr, 1)[0];
  }
  writeF64(ptr: number, value: number): void {
    new Float64Array(this.memory.buffer, ptr, 1)[0] = value;
  }
  // Everything below the arena's top, to show that a call with a 0 output wrote nothing anywhere.
  snapshot(): Buffer {
    return Buffer.from(new Uint8Array(this.memory.buffer).slice(0, this.top));
  }
  // The buffers (pointer, length and the guard words found) whose guard words were overwritten.
  brokenGuards(): string[] {
    const f = this.f32;
    const intact = (i: number) => f.subarray(i, i + GUARD_WORDS).every((v) => v === GUARD);
    return this.buffers
      .filter(([ptr, n]) => !intact(ptr / 4 - GUARD_WORDS) || !intact(ptr / 4 + n))
      .map(([ptr, n]) => `buffer at ${ptr} of ${n} floats: before [${f.subarray(ptr / 4 - GUARD_WORDS, ptr / 4).join(', ')}], after [${f.subarray(ptr / 4 + n, ptr / 4 + n + GUARD_WORDS).join(', ')}]`);
  }
  guardsIntact(): boolean {
    return this.brokenGuards().length === 0;
  }
}

// `sources` compiled with --disable simd, as the no-SIMD build for engines without it would be.
export async function scalarModule(sources: string[], outFile: string): Promise<WebAssembly.Module> {
  let binary: Uint8Array | undefined;
  const { error, stderr } = await asc([
    ...sources, '--runtime', 'stub', '--importMemory', '--noExportMemory', '--use', 'abort=',
    '-O3', '--noAssert', '--disable', 'simd', '--outFile', outFile,
  ], {
    writeFile(name, contents) {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
  });
  if (error || !binary) throw new Error(`asc --disable simd failed: ${error?.message}\n${stderr.toString()}`);
  return new WebAssembly.Module(binary as BufferSource);
}

export function scalarArena(module: WebAssembly.Module, pages: number, bytes: number): Arena {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Record<string, Fn>;
  return new Arena(k, memory, 65536, bytes);
}
