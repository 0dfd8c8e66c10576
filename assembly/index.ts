// edgetune kernels: raw byte-offset exports over one imported memory. Nothing here allocates.
export { gemm_f32, gemm_i8f32, gemm_set_a_broadcast } from './kernels/gemm';
export { gemm_pack_b, gemm_f32_packed, gemm_packed_floats } from './kernels/gemm-packed';
export { gemm_pack_b_i8, gemm_i8_packed, widen_i8 } from './kernels/gemm-i8-packed';
export { gemm_pack_b_q8, quantize_rows_q8, gemm_q8 } from './kernels/gemm-q8';
export { conv2d_q8 } from './kernels/conv-q8';
export { conv2d_direct_i8 } from './kernels/conv-direct-i8';
export {
  bias_fill, bias_backward, relu_forward, relu_backward, softmax_forward, softmax_backward, fill_f32, copy_f32, copy_strided_f32,
} from './kernels/elementwise';
export { softmax_xent_sparse, softmax_xent_dense, xent_probs, accuracy_count } from './kernels/loss';
export { mse_loss, bce_logits_loss, bce_probs_loss } from './kernels/loss';
export {
  sgd_update, adagrad_update, rmsprop_update, adam_update, nadam_update, adamax_update, nadam_u, sumsq_f32, apply_gradients, optimizer_init,
  nadam_prep,
} from './kernels/optim';
export { schedule_lr } from './kernels/schedule';
export { run } from './interp/run';
export { dequantize_i8 } from './kernels/quantize';
export { threads_attach, threads_run, threads_region_bytes } from './kernels/threads';
export { threads_side_work } from './kernels/threads-side';

// End of the module's static data: plans keep their regions above it.
export function heap_base(): usize {
  return __heap_base;
}
export {
  conv2d_forward_fused, conv2d_forward_i8, conv2d_backward_filter, conv2d_backward_input, im2col_f32, col2im_f32,
  conv2d_forward_packed, conv2d_forward_i8_packed, conv2d_grouped_forward, conv2d_grouped_backward_filter, conv2d_grouped_backward_input,
} from './kernels/conv';
export {
  depthwise_conv2d_forward_clamp, depthwise_conv2d_forward, depthwise_conv2d_backward_input, depthwise_conv2d_backward_filter,
} from './kernels/depthwise';
export { depthwise_conv2d_forward_i8, depthwise_conv2d_forward_i8_wide } from './kernels/depthwise-i8';
export { conv2d_direct_f32_4x8 } from './kernels/conv-direct';
export { conv2d_backward_filter_by_parts } from './kernels/conv-filter-parts';
export { conv2d_igemm_f32 } from './kernels/conv-igemm';
export {
  max_pool2d_forward, max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward,
  avg_pool2d_forward_include_pad, avg_pool2d_backward_include_pad,
  global_avg_pool_forward, global_avg_pool_backward,
} from './kernels/pool';
export {
  activation_forward, activation_backward, ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_LEAKY_RELU, ACT_ELU, ACT_SELU,
  ACT_GELU, ACT_GELU_TANH, ACT_SWISH, ACT_RELU6, ACT_HARD_SIGMOID, ACT_HARD_SWISH, unary_forward, unary_backward,
} from './kernels/activations';
export { resize2d_forward, resize2d_backward } from './kernels/resize';
export { prelu_forward, prelu_backward } from './kernels/prelu';
export { batchnorm_forward_train, batchnorm_backward_train } from './kernels/norm';
export { batchnorm_forward_inference, batchnorm_backward_inference, batchnorm_fold } from './kernels/norm-inference';
export { dropout_forward, dropout_backward } from './kernels/dropout';
export { l1l2_penalty, l1l2_gradient, max_norm, unit_norm, non_neg } from './kernels/regularize';
export { axpy_f32, mul_f32, channel_affine_f32, channel_scale_backward } from './kernels/merge';
export { zero_pad2d_forward, zero_pad2d_backward, resize_bilinear_forward, resize_bilinear_backward } from './kernels/spatial';
export { interleave2_f32, nd_copy_f32 } from './kernels/nd-copy';
export { broadcast_f32 } from './kernels/broadcast';
export { softmax_axis_forward, softmax_axis_backward } from './kernels/softmax-axis';
export { init_uniform, init_uniform_packed, init_truncated_normal } from './kernels/init';
export { conv2d_winograd_f23, winograd_f23_pack, winograd_f23_scratch } from './kernels/winograd';
export { conv2d_winograd_i8, winograd_i8_scratch, winograd_i8_transform } from './kernels/winograd-i8';
export { conv_gap_f32, conv_gap_i8, conv_gap_scratch_floats } from './kernels/conv-gap';
export { max_pool2d_add } from './kernels/pool-add';
export { sepconv_f32, sepconv_i8, sepconv_q8 } from './kernels/sepconv';
export { expand_depthwise_f32 } from './kernels/expand-depthwise';
