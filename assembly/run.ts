// The plan interpreter: executes an op stream [opcode, nargs, args...] (i32 words) in one call,
// so a whole training step (forward, loss, backward, update) costs one host -> wasm transition.
// Sizes marked "per sample" are multiplied by the batch in the step header, so one static plan
// serves any batch up to the planned one.
import { gemm_f32 } from './gemm';
import {
  bias_fill, bias_backward, relu_forward, relu_backward, softmax_forward, softmax_backward, fill_f32, copy_f32, copy_strided_f32,
} from './elementwise';
import {
  conv2d_forward_fused, conv2d_backward_filter, conv2d_backward_input,
  depthwise_conv2d_forward, depthwise_conv2d_backward_input, depthwise_conv2d_backward_filter,
} from './conv';
import { activation_forward, activation_backward } from './activations';
import {
  batchnorm_forward_train, batchnorm_forward_inference, batchnorm_backward_train, batchnorm_backward_inference, batchnorm_fold,
} from './norm';
import { dropout_forward, dropout_backward } from './dropout';
import { l1l2_penalty, l1l2_gradient, max_norm, unit_norm, non_neg } from './regularize';
import {
  max_pool2d_forward, max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward, global_avg_pool_forward, global_avg_pool_backward,
} from './pool';
import { softmax_xent_sparse, softmax_xent_dense, xent_probs, accuracy_count } from './loss';
import { mse_loss, bce_logits_loss, bce_probs_loss } from './loss';
import { OP_MSE, OP_BCE_LOGITS, OP_BCE_PROBS } from './opcodes';
import { axpy_f32, mul_f32, channel_affine_f32, channel_scale_backward } from './merge';
import { zero_pad2d_forward, zero_pad2d_backward, resize_bilinear_forward, resize_bilinear_backward } from './spatial';
import {
  OP_AXPY, OP_MUL, OP_ZERO_PAD2D_FORWARD, OP_ZERO_PAD2D_BACKWARD, OP_RESIZE_BILINEAR_FORWARD, OP_RESIZE_BILINEAR_BACKWARD,
  OP_CHANNEL_AFFINE, OP_CHANNEL_SCALE_BACKWARD,
} from './opcodes';
import { sumsq_f32, apply_gradients, optimizer_init, nadam_prep } from './optim';
import { schedule_lr } from './schedule';
import {
  OP_GEMM, OP_BIAS_FILL, OP_BIAS_BACKWARD, OP_RELU_FORWARD, OP_RELU_BACKWARD, OP_SOFTMAX_FORWARD,
  OP_SOFTMAX_BACKWARD, OP_FILL, OP_COPY, OP_XENT_LOGITS_SPARSE, OP_XENT_LOGITS_DENSE, OP_XENT_PROBS,
  OP_ACCURACY, OP_CHECK_LOSS, OP_GRAD_NORM, OP_CHECK_GRADS, OP_APPLY_GRADIENTS, OP_SCHEDULE, OP_OPTIMIZER_INIT, OP_STEP_DONE, OP_NADAM_PREP,
  OP_CONV2D_FORWARD, OP_CONV2D_BACKWARD_FILTER, OP_CONV2D_BACKWARD_INPUT, OP_DEPTHWISE_FORWARD, OP_DEPTHWISE_BACKWARD_INPUT,
  OP_DEPTHWISE_BACKWARD_FILTER, OP_MAXPOOL_FORWARD, OP_MAXPOOL_BACKWARD, OP_AVGPOOL_FORWARD, OP_AVGPOOL_BACKWARD, OP_GAP_FORWARD,
  OP_GAP_BACKWARD, OP_COPY_STRIDED, OP_ACT_FORWARD, OP_ACT_BACKWARD, OP_BN_FORWARD_TRAIN, OP_BN_FORWARD_INFER,
  OP_BN_BACKWARD_TRAIN, OP_BN_BACKWARD_INFER, OP_DROPOUT_FORWARD, OP_DROPOUT_BACKWARD, OP_REG_PENALTY, OP_REG_GRADIENT,
  OP_MAX_NORM, OP_NON_NEG, OP_UNIT_NORM, OP_BN_FOLD, OP_COMMIT_STATE,
  S_BATCH, S_ITER, S_FAILED_OP, S_GRAD_NORM_SQ, S_LOSS_SUM, S_CORRECT, S_PENALTY,
} from './opcodes';

// @ts-ignore: decorator
@inline function arg(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>(i + 2) << 2));
}
// @ts-ignore: decorator
@inline function argp(p: usize, i: i32): usize {
  return <usize>load<u32>(p + (<usize>(i + 2) << 2));
}
// @ts-ignore: decorator
@inline function argf(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>(i + 2) << 2));
}

// Runs `count` ops starting at byte offset `ops`. Returns 0, or 1 + the index of the op that found
// a non-finite loss or gradient (nothing after it ran: no update touched the weights).
export function run(ops: usize, count: i32, scalars: usize): i32 {
  const batch = load<i32>(scalars + S_BATCH);
  // Dropout masks are keyed by this update's t (the step being taken).
  const step = load<i32>(scalars + S_ITER) + 1;
  const scale: f32 = 1 / <f32>batch;
  store<i32>(scalars + S_FAILED_OP, -1);
  let p = ops;
  for (let i = 0; i < count; i++) {
    const op = load<i32>(p);
    switch (op) {
      case OP_GEMM: {
        const flags = arg(p, 13);
        const m = arg(p, 3) * (flags & 1 ? batch : 1);
        const n = arg(p, 4) * (flags & 2 ? batch : 1);
        const k = arg(p, 5) * (flags & 4 ? batch : 1);
        gemm_f32(argp(p, 0), argp(p, 1), argp(p, 2), m, n, k, arg(p, 6), arg(p, 7), arg(p, 8), arg(p, 9),
          arg(p, 10), arg(p, 11), argp(p, 12));
        break;
      }
      case OP_BIAS_FILL: bias_fill(argp(p, 0), argp(p, 1), arg(p, 2) * batch, arg(p, 3)); break;
      case OP_BIAS_BACKWARD: bias_backward(argp(p, 0), argp(p, 1), arg(p, 2) * batch, arg(p, 3), arg(p, 4)); break;
      case OP_RELU_FORWARD: relu_forward(argp(p, 0), argp(p, 1), arg(p, 2) * batch); break;
      case OP_RELU_BACKWARD: relu_backward(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4)); break;
      case OP_SOFTMAX_FORWARD: softmax_forward(argp(p, 0), argp(p, 1), arg(p, 2) * batch, arg(p, 3)); break;
      case OP_SOFTMAX_BACKWARD:
        softmax_backward(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), arg(p, 5));
        break;
      case OP_FILL: fill_f32(argp(p, 0), argf(p, 1), arg(p, 2) * (arg(p, 3) ? batch : 1)); break;
      case OP_COPY: copy_f32(argp(p, 0), argp(p, 1), arg(p, 2) * batch, arg(p, 3)); break;
      case OP_XENT_LOGITS_SPARSE:
        softmax_xent_sparse(scalars + S_LOSS_SUM, argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), scale);
        break;
      case OP_XENT_LOGITS_DENSE:
        softmax_xent_dense(scalars + S_LOSS_SUM, argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), scale);
        break;
      case OP_XENT_PROBS:
        xent_probs(scalars + S_LOSS_SUM, argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3), arg(p, 4) * batch, arg(p, 5), scale);
        break;
      case OP_MSE:
        mse_loss(scalars + S_LOSS_SUM, argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), arg(p, 3) * arg(p, 4), scale);
        break;
      case OP_BCE_LOGITS:
        bce_logits_loss(scalars + S_LOSS_SUM, argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), arg(p, 3) * arg(p, 4), scale);
        break;
      case OP_BCE_PROBS:
        bce_probs_loss(scalars + S_LOSS_SUM, argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), arg(p, 3) * arg(p, 4), scale);
        break;
      case OP_ACCURACY: accuracy_count(scalars + S_CORRECT, argp(p, 0), argp(p, 1), arg(p, 2), arg(p, 3) * batch, arg(p, 4)); break;
      case OP_CHECK_LOSS: {
        if (!isFinite(load<f64>(scalars + S_LOSS_SUM))) { store<i32>(scalars + S_FAILED_OP, i); return i + 1; }
        break;
      }
      case OP_GRAD_NORM: {
        const s = scalars + S_GRAD_NORM_SQ;
        store<f64>(s, load<f64>(s) + sumsq_f32(argp(p, 0), arg(p, 1)));
        break;
      }
      case OP_CHECK_GRADS: {
        if (!isFinite(load<f64>(scalars + S_GRAD_NORM_SQ))) { store<i32>(scalars + S_FAILED_OP, i); return i + 1; }
        break;
      }
      case OP_APPLY_GRADIENTS:
        apply_gradients(scalars, arg(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), argp(p, 4), argp(p, 5), arg(p, 6), arg(p, 7), argf(p, 8),
          argf(p, 9), argf(p, 10), argf(p, 11), arg(p, 12));
        break;
      case OP_SCHEDULE: schedule_lr(scalars, arg(p, 0), p + 12, load<i32>(p + 4) - 1); break; // parameters follow the kind
      case OP_OPTIMIZER_INIT: optimizer_init(scalars, argf(p, 0), argf(p, 1)); break;
      case OP_STEP_DONE: store<i32>(scalars + S_ITER, load<i32>(scalars + S_ITER) + 1); break;
      case OP_NADAM_PREP: nadam_prep(scalars); break;
      // Convolution geometry follows the pointers: h w c f|m kh kw sh sw dh dw pt pl oh ow (per sample).
      case OP_CONV2D_FORWARD:
        conv2d_forward_fused(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), batch, arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7),
          arg(p, 8), arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13), arg(p, 14), arg(p, 15), arg(p, 16), arg(p, 17),
          arg(p, 18), argp(p, 19), argp(p, 20), arg(p, 21), arg(p, 22), argp(p, 23));
        break;
      case OP_BN_FOLD:
        batchnorm_fold(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), argp(p, 4), argp(p, 5), argp(p, 6), argp(p, 7), arg(p, 8),
          arg(p, 9), argf(p, 10));
        break;
      case OP_CONV2D_BACKWARD_FILTER:
        conv2d_backward_filter(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), batch, arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7),
          arg(p, 8), arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13), arg(p, 14), arg(p, 15), arg(p, 16), arg(p, 17),
          arg(p, 18), argp(p, 19), argp(p, 20), arg(p, 21));
        break;
      case OP_CONV2D_BACKWARD_INPUT:
        conv2d_backward_input(argp(p, 0), argp(p, 1), argp(p, 2), batch, arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7),
          arg(p, 8), arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13), arg(p, 14), arg(p, 15), arg(p, 16), arg(p, 17),
          argp(p, 18), argp(p, 19), arg(p, 20));
        break;
      case OP_DEPTHWISE_FORWARD:
        depthwise_conv2d_forward(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), batch, arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7),
          arg(p, 8), arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13), arg(p, 14), arg(p, 15), arg(p, 16), arg(p, 17));
        break;
      case OP_DEPTHWISE_BACKWARD_INPUT:
        depthwise_conv2d_backward_input(argp(p, 0), argp(p, 1), argp(p, 2), batch, arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6),
          arg(p, 7), arg(p, 8), arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13), arg(p, 14), arg(p, 15), arg(p, 16),
          arg(p, 17));
        break;
      case OP_DEPTHWISE_BACKWARD_FILTER:
        depthwise_conv2d_backward_filter(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), batch, arg(p, 4), arg(p, 5), arg(p, 6),
          arg(p, 7), arg(p, 8), arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13), arg(p, 14), arg(p, 15), arg(p, 16),
          arg(p, 17), arg(p, 18));
        break;
      // Pooling geometry: h w c kh kw sh sw pt pl oh ow.
      case OP_MAXPOOL_FORWARD:
        max_pool2d_forward(argp(p, 0), argp(p, 1), argp(p, 2), batch, arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7), arg(p, 8),
          arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13));
        break;
      case OP_MAXPOOL_BACKWARD:
        max_pool2d_backward(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4) * batch, arg(p, 5));
        break;
      case OP_AVGPOOL_FORWARD:
        avg_pool2d_forward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7), arg(p, 8),
          arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12));
        break;
      case OP_AVGPOOL_BACKWARD:
        avg_pool2d_backward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7), arg(p, 8),
          arg(p, 9), arg(p, 10), arg(p, 11), arg(p, 12), arg(p, 13));
        break;
      case OP_GAP_FORWARD: global_avg_pool_forward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3)); break;
      case OP_GAP_BACKWARD: global_avg_pool_backward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4)); break;
      case OP_COPY_STRIDED:
        copy_strided_f32(argp(p, 0), arg(p, 1), argp(p, 2), arg(p, 3), arg(p, 4) * batch, arg(p, 5), arg(p, 6));
        break;
      case OP_ACT_FORWARD: activation_forward(arg(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, argf(p, 4)); break;
      case OP_ACT_BACKWARD:
        activation_backward(arg(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), argp(p, 4), arg(p, 5) * batch, argf(p, 6), arg(p, 7));
        break;
      case OP_BN_FORWARD_TRAIN:
        batchnorm_forward_train(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), argp(p, 4), argp(p, 5), argp(p, 6), argp(p, 7),
          argp(p, 8), argp(p, 9), arg(p, 10) * batch, arg(p, 11), argf(p, 12), argf(p, 13));
        break;
      // A layer's pending state (moving statistics), written after the step's checks passed.
      case OP_COMMIT_STATE: copy_f32(argp(p, 0), argp(p, 1), arg(p, 2), 0); break;
      case OP_BN_FORWARD_INFER:
        batchnorm_forward_inference(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), argp(p, 4), argp(p, 5), arg(p, 6) * batch,
          arg(p, 7), argf(p, 8));
        break;
      case OP_BN_BACKWARD_TRAIN:
        batchnorm_backward_train(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), argp(p, 4), argp(p, 5), argp(p, 6), argp(p, 7),
          arg(p, 8) * batch, arg(p, 9), arg(p, 10), arg(p, 11));
        break;
      case OP_BN_BACKWARD_INFER:
        batchnorm_backward_inference(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), arg(p, 4) * batch, arg(p, 5), argf(p, 6), arg(p, 7));
        break;
      // Dropout masks depend on (layer seed, optimizer step): reproducible, and new every step.
      case OP_DROPOUT_FORWARD:
        dropout_forward(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, argf(p, 4), arg(p, 5), step);
        break;
      case OP_DROPOUT_BACKWARD: dropout_backward(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, argf(p, 4), arg(p, 5)); break;
      case OP_REG_PENALTY: {
        const s = scalars + S_PENALTY;
        store<f64>(s, load<f64>(s) + l1l2_penalty(argp(p, 0), arg(p, 1), argf(p, 2), argf(p, 3)));
        break;
      }
      case OP_REG_GRADIENT: l1l2_gradient(argp(p, 0), argp(p, 1), arg(p, 2), argf(p, 3), argf(p, 4)); break;
      case OP_MAX_NORM: max_norm(argp(p, 0), arg(p, 1), arg(p, 2), arg(p, 3), argf(p, 4)); break;
      case OP_NON_NEG: non_neg(argp(p, 0), arg(p, 1)); break;
      case OP_UNIT_NORM: unit_norm(argp(p, 0), arg(p, 1), arg(p, 2), arg(p, 3)); break;
      // Merges and spatial re-layouts (importers). Sizes are per sample.
      case OP_AXPY: axpy_f32(argp(p, 0), argp(p, 1), arg(p, 2) * batch, argf(p, 3), arg(p, 4)); break;
      case OP_MUL: mul_f32(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4)); break;
      case OP_ZERO_PAD2D_FORWARD:
        zero_pad2d_forward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7), arg(p, 8));
        break;
      case OP_ZERO_PAD2D_BACKWARD:
        zero_pad2d_backward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7), arg(p, 8), arg(p, 9));
        break;
      case OP_RESIZE_BILINEAR_FORWARD:
        resize_bilinear_forward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6));
        break;
      case OP_RESIZE_BILINEAR_BACKWARD:
        resize_bilinear_backward(argp(p, 0), argp(p, 1), batch, arg(p, 2), arg(p, 3), arg(p, 4), arg(p, 5), arg(p, 6), arg(p, 7));
        break;
      case OP_CHANNEL_AFFINE: channel_affine_f32(argp(p, 0), argp(p, 1), argp(p, 2), argp(p, 3), arg(p, 4) * batch, arg(p, 5)); break;
      case OP_CHANNEL_SCALE_BACKWARD:
        channel_scale_backward(argp(p, 0), argp(p, 1), argp(p, 2), arg(p, 3) * batch, arg(p, 4), arg(p, 5));
        break;
      default: {
        // An opcode this build does not know: stop before doing anything wrong.
        store<i32>(scalars + S_FAILED_OP, i);
        return -(i + 1);
      }
    }
    p += <usize>(load<i32>(p + 4) + 2) << 2;
  }
  return 0;
}
