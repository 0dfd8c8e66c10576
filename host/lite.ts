// edgetune/lite: the core entry (host/index.ts) on the lite kernel build, dist/edgetune-lite.wasm
// (25 KB gzipped instead of 39): dense networks built, trained and run, with the ops of
// host/runtime/lite-ops.ts. A plan that needs a convolution, pooling, resizing or int8 kernel is
// refused with an EdgetuneError (code 'KernelBuild') naming the op and its layer. One kernel set per
// process: do not load this entry and 'edgetune' in the same one.
import { useKernelSet } from './runtime/kernel-source';

useKernelSet('lite');

export * from './index';
export { usedOps } from './runtime/kernel-source';
