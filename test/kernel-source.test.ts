// Where the kernels come from (host/runtime/kernel-source.ts): a kernel file that cannot be read
// is a KernelBuild error naming it (here, host sources have no .wasm beside them), and only file:
// URLs are read directly; others are fetched.
import { describe, expect, it } from 'vitest';
import { EdgetuneError } from '../host/core/errors';
import { engineHasSimd, kernelBytesSync, kernelUrl, readFileUrl } from '../host/runtime/kernel-source';

describe('kernel source', () => {
  it('a missing kernel file is a KernelBuild error that names it', () => {
    let error: unknown = null;
    try {
      kernelBytesSync('simd');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EdgetuneError);
    expect((error as EdgetuneError).code).toBe('KernelBuild');
    expect((error as Error).message).toContain(kernelUrl('simd').href);
    expect(kernelUrl('scalar').href.endsWith('/host/runtime/edgetune-nosimd.wasm')).toBe(true);
  });

  it('reads file: URLs only, and the SIMD probe validates on Node', () => {
    expect(readFileUrl(new URL('https://example.com/edgetune.wasm'))).toBeNull();
    const bytes = readFileUrl(new URL('../build/edgetune.wasm', import.meta.url));
    expect(Array.from(bytes!.subarray(0, 4))).toEqual([0, 97, 115, 109]);
    expect(engineHasSimd()).toBe(true);
  });
});
