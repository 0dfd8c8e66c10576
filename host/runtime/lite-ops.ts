// The ops of the lite kernel build (dist/edgetune-lite.wasm, the `edgetune/lite` entry): dense
// networks trained and run (GEMMs, activations, losses, optimizers, regularizers, batch norm,
// dropout, element-wise and shape ops), without the convolution, depthwise, pooling, resizing,
// padding and weight-only int8 kernels. scripts/gen-ops.mjs compiles the other ops' cases out of the lite
// interpreter (assembly/interp/run.ts under EDGETUNE_LITE), and scripts/build.mjs writes this list
// into the module's 'edgetune.ops' section, from which the executor refuses a plan that needs
// another op, naming the op and its layer (host/runtime/kernel-source.ts). An op missing here is
// simply not in the lite build: new ops join it only when listed.
export const LITE_OPS: readonly string[] = [
  'gemm', 'bias_fill', 'bias_backward', 'relu_forward', 'relu_backward', 'softmax_forward', 'softmax_backward', 'fill', 'copy',
  'xent_logits_sparse', 'xent_logits_dense', 'xent_probs', 'accuracy', 'check_loss', 'grad_norm', 'check_grads', 'apply_gradients',
  'schedule', 'act_forward', 'act_backward', 'bn_forward_train', 'bn_forward_infer', 'bn_backward_train', 'bn_backward_infer',
  'dropout_forward', 'dropout_backward', 'copy_strided', 'reg_penalty', 'reg_gradient', 'max_norm', 'non_neg', 'unit_norm', 'bn_fold',
  'optimizer_init', 'step_done', 'nadam_prep', 'commit_state', 'output_metrics', 'loss_weighted', 'axpy', 'mul', 'channel_affine',
  'channel_scale_backward', 'mse', 'bce_logits', 'bce_probs', 'nd_copy', 'broadcast', 'softmax_axis_forward', 'softmax_axis_backward',
  'unary_forward', 'unary_backward', 'prelu_forward', 'prelu_backward', 'batched_gemm', 'pack_b', 'gemm_packed',
  // A loaded int8 dense model in Keras's absmax mode (docs/int8.md "absmax"); lite has no quantize.
  'pack_b_q8', 'gemm_q8',
];
