// Opcodes of the plan's op stream. host/compile/ops.ts holds the same table with argument names;
// test/opcodes.test.ts checks that the two agree.
export const OP_GEMM: i32 = 1;
export const OP_BIAS_FILL: i32 = 2;
export const OP_BIAS_BACKWARD: i32 = 3;
export const OP_RELU_FORWARD: i32 = 4;
export const OP_RELU_BACKWARD: i32 = 5;
export const OP_SOFTMAX_FORWARD: i32 = 6;
export const OP_SOFTMAX_BACKWARD: i32 = 7;
export const OP_FILL: i32 = 8;
export const OP_COPY: i32 = 9;
export const OP_XENT_LOGITS_SPARSE: i32 = 10;
export const OP_XENT_LOGITS_DENSE: i32 = 11;
export const OP_XENT_PROBS: i32 = 12;
export const OP_ACCURACY: i32 = 13;
export const OP_CHECK_LOSS: i32 = 14;
export const OP_GRAD_NORM: i32 = 15;
export const OP_CHECK_GRADS: i32 = 16;
export const OP_APPLY_GRADIENTS: i32 = 17;
export const OP_SCHEDULE: i32 = 18;
export const OP_ACT_FORWARD: i32 = 19;
export const OP_ACT_BACKWARD: i32 = 20;
export const OP_CONV2D_FORWARD: i32 = 21;
export const OP_CONV2D_BACKWARD_FILTER: i32 = 22;
export const OP_CONV2D_BACKWARD_INPUT: i32 = 23;
export const OP_DEPTHWISE_FORWARD: i32 = 24;
export const OP_DEPTHWISE_BACKWARD_INPUT: i32 = 25;
export const OP_DEPTHWISE_BACKWARD_FILTER: i32 = 26;
export const OP_MAXPOOL_FORWARD: i32 = 27;
export const OP_MAXPOOL_BACKWARD: i32 = 28;
export const OP_AVGPOOL_FORWARD: i32 = 29;
export const OP_AVGPOOL_BACKWARD: i32 = 30;
export const OP_GAP_FORWARD: i32 = 31;
export const OP_GAP_BACKWARD: i32 = 32;
export const OP_BN_FORWARD_TRAIN: i32 = 33;
export const OP_BN_FORWARD_INFER: i32 = 34;
export const OP_BN_BACKWARD_TRAIN: i32 = 35;
export const OP_BN_BACKWARD_INFER: i32 = 36;
export const OP_DROPOUT_FORWARD: i32 = 37;
export const OP_DROPOUT_BACKWARD: i32 = 38;
export const OP_COPY_STRIDED: i32 = 39;
export const OP_REG_PENALTY: i32 = 40;
export const OP_REG_GRADIENT: i32 = 41;
export const OP_MAX_NORM: i32 = 42;
export const OP_NON_NEG: i32 = 43;
export const OP_UNIT_NORM: i32 = 44;
export const OP_BN_FOLD: i32 = 45;
export const OP_OPTIMIZER_INIT: i32 = 46;
export const OP_STEP_DONE: i32 = 47;
export const OP_NADAM_PREP: i32 = 48;

// apply_gradients kinds and clip modes.
export const OPT_SGD: i32 = 0;
export const OPT_ADAGRAD: i32 = 1;
export const OPT_RMSPROP: i32 = 2;
export const OPT_ADAM: i32 = 3;
export const OPT_NADAM: i32 = 4;
export const OPT_ADAMAX: i32 = 5;
export const CLIP_NONE: i32 = 0;
export const CLIP_VALUE: i32 = 1;
export const CLIP_NORM: i32 = 2; // per tensor: the op's own range
export const CLIP_GLOBAL_NORM: i32 = 3; // from S_GRAD_NORM_SQ (the whole trainable slab)

// Byte offsets inside the step header (128 bytes). Per step the driver (the JS host, or the WASI
// module) writes S_BATCH and zeroes the accumulators; everything else is kept by the programs:
// optimizer_init sets the optimizer scalars, schedule writes S_LR (and S_MOMENTUM for 1cycle), and
// step_done counts the update in S_ITER.
export const S_BATCH: usize = 0; // i32: rows in this batch (<= the planned batch)
export const S_ITER: usize = 4; // i32: optimizer iterations done (Keras optimizer.iterations); this update's t = S_ITER + 1
export const S_LR: usize = 8; // f32: learning rate for this step (written by the schedule op)
export const S_FAILED_OP: usize = 12; // i32: index of the op that stopped the run, else -1
export const S_GRAD_NORM_SQ: usize = 16; // f64: sum of squared gradients (set by GRAD_NORM ops)
export const S_LOSS_SUM: usize = 24; // f64: summed data loss over the rows run so far
export const S_CORRECT: usize = 32; // f64: rows whose argmax matched the label
export const S_PENALTY: usize = 40; // f64: summed regularization penalties (set by REG_PENALTY ops)
export const S_BASE_LR: usize = 48; // f32: the optimizer's learning-rate variable (constant schedule; callbacks set it)
export const S_MOMENTUM: usize = 52; // f32: momentum (SGD, RMSprop) or beta_1 (Adam family) in effect; 1cycle cycles it
export const S_NADAM_U: usize = 56; // f64: Nadam's running product of u_t
export const S_LR_OVERRIDE: usize = 64; // f32: if > 0, the learning rate for every step (the LR finder)
export const HEADER_BYTES: usize = 128;

// Issue 6 (importers): merges and spatial re-layouts, 70-89.
export const OP_AXPY: i32 = 70;
export const OP_MUL: i32 = 71;
export const OP_ZERO_PAD2D_FORWARD: i32 = 72;
export const OP_ZERO_PAD2D_BACKWARD: i32 = 73;
export const OP_RESIZE_BILINEAR_FORWARD: i32 = 74;
export const OP_RESIZE_BILINEAR_BACKWARD: i32 = 75;
export const OP_CHANNEL_AFFINE: i32 = 76;
export const OP_CHANNEL_SCALE_BACKWARD: i32 = 77;
// Regression and binary losses (90-99: importers and reuse).
export const OP_MSE: i32 = 90;
export const OP_BCE_LOGITS: i32 = 91;
export const OP_BCE_PROBS: i32 = 92;
