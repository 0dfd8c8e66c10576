// The lite kernel build (dist/edgetune-lite.wasm, the `edgetune/lite` entry): compiled with
// --use EDGETUNE_LITE=1, its interpreter keeps the ops of host/runtime/lite-ops.ts (dense networks)
// and none of the convolution, pooling, resizing or int8 kernels. It exports only what the host
// calls directly; every kernel is reached through `run`, the same code as the full build's.
export { run } from './interp/run';
export { init_uniform, init_uniform_packed, init_truncated_normal } from './kernels/init';
export { gemm_set_a_broadcast } from './kernels/gemm';
export { heap_base } from './index';
