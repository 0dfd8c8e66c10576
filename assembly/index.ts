// edgetune kernels: raw byte-offset exports over one imported memory. Nothing here allocates.
export { gemm_f32 } from './gemm';
