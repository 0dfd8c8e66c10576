// edgetune kernels: raw byte-offset exports over one imported memory. Nothing here allocates.
export { gemm_f32 } from './gemm';
export {
  bias_fill, bias_backward, relu_forward, relu_backward, softmax_forward, softmax_backward, fill_f32, copy_f32,
} from './elementwise';
export { softmax_xent_sparse, softmax_xent_dense, xent_probs, accuracy_count } from './loss';
export { sgd_update, adam_update, sumsq_f32 } from './optim';
export { run } from './run';

// End of the module's static data: plans keep their regions above it.
export function heap_base(): usize {
  return __heap_base;
}
