// Test kit for the convolution and pooling kernels: a bump allocator with guard words over a kernel
// module's memory, and the same kernels compiled without SIMD (the scalar branches).
import { main as asc } from 'assemblyscript/asc';
import { harness } from './harness';

export type Fn = (...args: number[]) => number;
export const SENTINEL = -1234.5;
export const GUARD = 4;

// A bump allocator over a kernel module's memory, reset for every case; each buffer is 16-byte
// aligned and followed by GUARD sentinel floats.
export class Arena {
  private top: number;
  private guards: number[] = [];
  constructor(readonly k: Record<string, Fn>, private memory: WebAssembly.Memory, private base: number, private limitBytes: number) {
    this.top = base;
  }
  private get f32() { return new Float32Array(this.memory.buffer); }
  reset(): void {
    this.top = this.base;
    this.guards = [];
  }
  alloc(floats: number, fill = NaN): number {
    const ptr = Math.ceil(this.top / 16) * 16;
    this.top = ptr + 4 * (floats + GUARD);
    if (this.top > this.base + this.limitBytes) throw new Error('arena exhausted');
    this.f32.fill(fill, ptr / 4, ptr / 4 + floats);
    this.f32.fill(SENTINEL, ptr / 4 + floats, ptr / 4 + floats + GUARD);
    this.guards.push(ptr / 4 + floats);
    return ptr;
  }
  write(ptr: number, data: ArrayLike<number>): void {
    this.f32.set(data, ptr / 4);
  }
  put(data: ArrayLike<number>): number {
    const ptr = this.alloc(data.length);
    this.write(ptr, data);
    return ptr;
  }
  putI32(data: ArrayLike<number>): number {
    const ptr = this.alloc(data.length);
    new Int32Array(this.memory.buffer).set(data, ptr / 4);
    return ptr;
  }
  read(ptr: number, floats: number): Float32Array {
    return this.f32.slice(ptr / 4, ptr / 4 + floats);
  }
  readI32(ptr: number, count: number): Int32Array {
    return new Int32Array(this.memory.buffer).slice(ptr / 4, ptr / 4 + count);
  }
  // Everything below the arena's top, to show that a call with a 0 output wrote nothing anywhere.
  snapshot(): Buffer {
    return Buffer.from(new Uint8Array(this.memory.buffer).slice(0, this.top));
  }
  guardsIntact(): boolean {
    const f = this.f32;
    return this.guards.every((g) => f.subarray(g, g + GUARD).every((v) => v === SENTINEL));
  }
}

// An arena inside the SIMD build's test harness.
export function simdArena(bytes: number): Arena {
  const h = harness();
  return new Arena(h.k, h.memory, h.alloc(bytes / 4 + 16), bytes);
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
