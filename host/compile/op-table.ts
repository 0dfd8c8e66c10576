// The plan's op table: the one place that says, per kernel op, its opcode, its arguments in order
// with their types, and how the interpreter calls the kernel. scripts/gen-ops.mjs writes
// assembly/interp/opcodes.ts (OP_*, S_*, OPT_*, CLIP_*) and the dispatch of assembly/interp/run.ts
// from it; host/compile/ops.ts encodes plans with it and adds each op's footprint (OP_FOOTPRINTS).
//
// `args`: space-separated names in word order; `name:ptr` is a byte offset into the arena,
// `name:f32` an f32 stored as its bit pattern, a bare name an i32. `run`: the kernel call (or a short
// statement) as AssemblyScript, where each argument name stands for its decoded word and the
// interpreter's locals are in scope: `batch` (rows in this step), `invBatch` (1 / batch, or S_LOSS_SCALE when that is > 0), `step`
// (this update's t), `scalars` (the step header), `index` (the op's index), `tail` and `tailCount`
// (the f32 values after the named arguments, for a schedule's parameters), and the S_* offsets.
// Sizes marked "per sample" are multiplied by the batch here, so one static plan serves any batch
// up to the planned one.

export type ArgType = 'ptr' | 'i32' | 'f32';
export interface OpRow { code: number; args: string; run: string }

// Per-sample convolution geometry; the batch comes from the step header at run time.
const CONV_GEOMETRY = 'h w_ c f kh kw sh sw dh dw_ pt pl oh ow';
const DEPTHWISE_GEOMETRY = 'h w_ c m kh kw sh sw dh dw_ pt pl oh ow';
const POOL_GEOMETRY = 'h w_ c kh kw sh sw pt pl oh ow';
const GROUPED_GEOMETRY = 'h w_ c f groups kh kw sh sw dh dw_ pt pl oh ow';
const CONV_CALL = CONV_GEOMETRY.split(' ').join(', ');
const DEPTHWISE_CALL = DEPTHWISE_GEOMETRY.split(' ').join(', ');
const POOL_CALL = POOL_GEOMETRY.split(' ').join(', ');
const BROADCAST_STRIDES = ['sy', 'sa', 'sb'].map((o) => [0, 1, 2, 3, 4, 5].map((i) => `${o}${i}`).join(' ')).join(' ');
const GROUPED_CALL = GROUPED_GEOMETRY.split(' ').join(', ');
const LOSS_ARGS = (p: string) => `dx:ptr ${p}:ptr y:ptr rows n`;
const LOSS_CALL = (kernel: string, p: string) => `${kernel}(scalars + S_LOSS_SUM, dx, ${p}, y, rows * batch, n, rows * n, invBatch)`;

// The strided copy's box: d1..d5 per sample (the batch is axis 0), and a stride per axis of each side.
export const ND_AXES = 6;
const ND_DIMS = 'd1 d2 d3 d4 d5';
const ND_STRIDES = (side: string) => Array.from({ length: ND_AXES }, (_, k) => `${side}${k}`).join(' ');

export const OP_TABLE = {
  gemm: {
    code: 1,
    args: 'c:ptr a:ptr b:ptr m n k rsa csa rsb csb ldc accumulate pack:ptr batchFlags',
    // batchFlags bits 0, 1, 2: m, n, k are per sample.
    run: 'gemm_f32(c, a, b, m * (batchFlags & 1 ? batch : 1), n * (batchFlags & 2 ? batch : 1), k * (batchFlags & 4 ? batch : 1), rsa, csa, rsb, csb, ldc, accumulate, pack)',
  },
  bias_fill: { code: 2, args: 'y:ptr b:ptr rows n', run: 'bias_fill(y, b, rows * batch, n)' },
  bias_backward: { code: 3, args: 'db:ptr dy:ptr rows n accumulate', run: 'bias_backward(db, dy, rows * batch, n, accumulate)' },
  relu_forward: { code: 4, args: 'y:ptr x:ptr count', run: 'relu_forward(y, x, count * batch)' },
  relu_backward: { code: 5, args: 'dx:ptr dy:ptr y:ptr count accumulate', run: 'relu_backward(dx, dy, y, count * batch, accumulate)' },
  softmax_forward: { code: 6, args: 'y:ptr x:ptr rows n', run: 'softmax_forward(y, x, rows * batch, n)' },
  softmax_backward: { code: 7, args: 'dx:ptr dy:ptr y:ptr rows n accumulate', run: 'softmax_backward(dx, dy, y, rows * batch, n, accumulate)' },
  fill: { code: 8, args: 'y:ptr value:f32 count perSample', run: 'fill_f32(y, value, count * (perSample ? batch : 1))' },
  copy: { code: 9, args: 'y:ptr x:ptr count accumulate', run: 'copy_f32(y, x, count * batch, accumulate)' },
  xent_logits_sparse: {
    code: 10, args: 'dx:ptr x:ptr labels:ptr rows n',
    run: 'softmax_xent_sparse(scalars + S_LOSS_SUM, dx, x, labels, rows * batch, n, invBatch)',
  },
  xent_logits_dense: {
    code: 11, args: 'dx:ptr x:ptr y:ptr rows n', run: 'softmax_xent_dense(scalars + S_LOSS_SUM, dx, x, y, rows * batch, n, invBatch)',
  },
  xent_probs: {
    code: 12, args: 'dx:ptr p:ptr y:ptr sparse rows n', run: 'xent_probs(scalars + S_LOSS_SUM, dx, p, y, sparse, rows * batch, n, invBatch)',
  },
  accuracy: { code: 13, args: 'x:ptr y:ptr sparse rows n', run: 'accuracy_count(scalars + S_CORRECT, x, y, sparse, rows * batch, n)' },
  // A non-finite loss or gradient stops the run before anything after it (no update touches the weights).
  check_loss: {
    code: 14, args: '',
    run: 'if (!isFinite(load<f64>(scalars + S_LOSS_SUM))) { store<i32>(scalars + S_FAILED_OP, index); return index + 1; }',
  },
  grad_norm: {
    code: 15, args: 'g:ptr count', run: 'store<f64>(scalars + S_GRAD_NORM_SQ, load<f64>(scalars + S_GRAD_NORM_SQ) + sumsq_f32(g, count))',
  },
  check_grads: {
    code: 16, args: '',
    run: 'if (!isFinite(load<f64>(scalars + S_GRAD_NORM_SQ))) { store<i32>(scalars + S_FAILED_OP, index); return index + 1; }',
  },
  // One fused optimizer pass (clip, weight decay, update) over count parameters; see assembly/kernels/optim.ts.
  apply_gradients: {
    code: 17, args: 'kind w:ptr g:ptr s1:ptr s2:ptr s3:ptr count clipMode clip:f32 weightDecay:f32 h1:f32 h2:f32 flags',
    run: 'apply_gradients(scalars, kind, w, g, s1, s2, s3, count, clipMode, clip, weightDecay, h1, h2, flags)',
  },
  // The step's learning rate from the iteration count; its parameters follow as a float tail.
  schedule: { code: 18, args: 'kind', run: 'schedule_lr(scalars, kind, tail, tailCount)' },
  act_forward: { code: 19, args: 'kind y:ptr x:ptr count alpha:f32', run: 'activation_forward(kind, y, x, count * batch, alpha)' },
  act_backward: {
    code: 20, args: 'kind dx:ptr dy:ptr x:ptr y:ptr count alpha:f32 accumulate',
    run: 'activation_backward(kind, dx, dy, x, y, count * batch, alpha, accumulate)',
  },
  conv2d_forward: {
    code: 21, args: `y:ptr x:ptr w:ptr b:ptr ${CONV_GEOMETRY} chunkRows cols:ptr pack:ptr relu pool chunkOut:ptr`,
    run: `conv2d_forward_fused(y, x, w, b, batch, ${CONV_CALL}, chunkRows, cols, pack, relu, pool, chunkOut)`,
  },
  conv2d_backward_filter: {
    code: 22, args: `dw:ptr db:ptr x:ptr dy:ptr ${CONV_GEOMETRY} chunkRows cols:ptr pack:ptr accumulate`,
    run: `conv2d_backward_filter(dw, db, x, dy, batch, ${CONV_CALL}, chunkRows, cols, pack, accumulate)`,
  },
  // The filter gradient as FILTER_PARTS partial sums over fixed ranges of positions, in the scratch
  // the plan gave them (host/compile/conv-lowering.ts convFilterParts).
  conv2d_backward_filter_parts: {
    code: 255, args: `dw:ptr db:ptr x:ptr dy:ptr ${CONV_GEOMETRY} sub parts:ptr pack:ptr accumulate`,
    run: `conv2d_backward_filter_by_parts(dw, db, x, dy, batch, ${CONV_CALL}, sub, parts, pack, accumulate)`,
  },
  conv2d_backward_input: {
    code: 23, args: `dx:ptr dy:ptr w:ptr ${CONV_GEOMETRY} chunkRows cols:ptr pack:ptr accumulate`,
    run: `conv2d_backward_input(dx, dy, w, batch, ${CONV_CALL}, chunkRows, cols, pack, accumulate)`,
  },
  depthwise_forward: {
    code: 24, args: `y:ptr x:ptr w:ptr b:ptr ${DEPTHWISE_GEOMETRY}`, run: `depthwise_conv2d_forward(y, x, w, b, batch, ${DEPTHWISE_CALL})`,
  },
  depthwise_backward_input: {
    code: 25, args: `dx:ptr dy:ptr w:ptr ${DEPTHWISE_GEOMETRY} accumulate`,
    run: `depthwise_conv2d_backward_input(dx, dy, w, batch, ${DEPTHWISE_CALL}, accumulate)`,
  },
  depthwise_backward_filter: {
    code: 26, args: `dw:ptr db:ptr x:ptr dy:ptr ${DEPTHWISE_GEOMETRY} accumulate`,
    run: `depthwise_conv2d_backward_filter(dw, db, x, dy, batch, ${DEPTHWISE_CALL}, accumulate)`,
  },
  maxpool_forward: { code: 27, args: `y:ptr argmax:ptr x:ptr ${POOL_GEOMETRY}`, run: `max_pool2d_forward(y, argmax, x, batch, ${POOL_CALL})` },
  maxpool_backward: {
    code: 28, args: 'dx:ptr dy:ptr argmax:ptr count inputCount accumulate',
    run: 'max_pool2d_backward(dx, dy, argmax, count * batch, inputCount * batch, accumulate, batch)',
  },
  avgpool_forward: { code: 29, args: `y:ptr x:ptr ${POOL_GEOMETRY}`, run: `avg_pool2d_forward(y, x, batch, ${POOL_CALL})` },
  avgpool_backward: { code: 30, args: `dx:ptr dy:ptr ${POOL_GEOMETRY} accumulate`, run: `avg_pool2d_backward(dx, dy, batch, ${POOL_CALL}, accumulate)` },
  gap_forward: { code: 31, args: 'y:ptr x:ptr hw c', run: 'global_avg_pool_forward(y, x, batch, hw, c)' },
  gap_backward: { code: 32, args: 'dx:ptr dy:ptr hw c accumulate', run: 'global_avg_pool_backward(dx, dy, batch, hw, c, accumulate)' },
  // Writes the updated moving statistics to newMean/newVar (pending), read from movingMean/movingVar.
  bn_forward_train: {
    code: 33,
    args: 'y:ptr mean:ptr invstd:ptr newMean:ptr newVar:ptr x:ptr gamma:ptr beta:ptr movingMean:ptr movingVar:ptr rows c momentum:f32 epsilon:f32',
    run: 'batchnorm_forward_train(y, mean, invstd, newMean, newVar, x, gamma, beta, movingMean, movingVar, rows * batch, c, momentum, epsilon)',
  },
  bn_forward_infer: {
    code: 34, args: 'y:ptr x:ptr gamma:ptr beta:ptr movingMean:ptr movingVar:ptr rows c epsilon:f32',
    run: 'batchnorm_forward_inference(y, x, gamma, beta, movingMean, movingVar, rows * batch, c, epsilon)',
  },
  bn_backward_train: {
    code: 35, args: 'dx:ptr dgamma:ptr dbeta:ptr dy:ptr x:ptr mean:ptr invstd:ptr gamma:ptr rows c accumulate accumulateParams',
    run: 'batchnorm_backward_train(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, rows * batch, c, accumulate, accumulateParams)',
  },
  bn_backward_infer: {
    code: 36, args: 'dx:ptr dy:ptr gamma:ptr movingVar:ptr rows c epsilon:f32 accumulate',
    run: 'batchnorm_backward_inference(dx, dy, gamma, movingVar, rows * batch, c, epsilon, accumulate)',
  },
  // Dropout masks depend on (layer seed, optimizer step): reproducible, and new every step.
  dropout_forward: { code: 37, args: 'y:ptr mask:ptr x:ptr count rate:f32 seed', run: 'dropout_forward(y, mask, x, count * batch, rate, seed, step)' },
  dropout_backward: {
    code: 38, args: 'dx:ptr dy:ptr mask:ptr count rate:f32 accumulate', run: 'dropout_backward(dx, dy, mask, count * batch, rate, accumulate)',
  },
  copy_strided: {
    code: 39, args: 'y:ptr ldy x:ptr ldx rows cols accumulate', run: 'copy_strided_f32(y, ldy, x, ldx, rows * batch, cols, accumulate)',
  },
  reg_penalty: {
    code: 40, args: 'w:ptr count l1:f32 l2:f32',
    run: 'store<f64>(scalars + S_PENALTY, load<f64>(scalars + S_PENALTY) + l1l2_penalty(w, count, l1, l2))',
  },
  reg_gradient: { code: 41, args: 'g:ptr w:ptr count l1:f32 l2:f32', run: 'l1l2_gradient(g, w, count, l1, l2)' },
  max_norm: { code: 42, args: 'w:ptr rows cols axis maxValue:f32', run: 'max_norm(w, rows, cols, axis, maxValue)' },
  non_neg: { code: 43, args: 'w:ptr count', run: 'non_neg(w, count)' },
  unit_norm: { code: 44, args: 'w:ptr rows cols axis', run: 'unit_norm(w, rows, cols, axis)' },
  bn_fold: {
    code: 45, args: 'wf:ptr bf:ptr w:ptr b:ptr gamma:ptr beta:ptr movingMean:ptr movingVar:ptr k f epsilon:f32',
    run: 'batchnorm_fold(wf, bf, w, b, gamma, beta, movingMean, movingVar, k, f, epsilon)',
  },
  optimizer_init: { code: 46, args: 'baseLr:f32 momentum:f32', run: 'optimizer_init(scalars, baseLr, momentum)' },
  step_done: { code: 47, args: '', run: 'store<i32>(scalars + S_ITER, load<i32>(scalars + S_ITER) + 1)' },
  nadam_prep: { code: 48, args: '', run: 'nadam_prep(scalars)' },
  // y (count) = x (count), not per sample: a layer's pending state (moving statistics), committed
  // after check_loss and check_grads passed.
  commit_state: { code: 49, args: 'y:ptr x:ptr count', run: 'copy_f32(y, x, count, 0)' },
  // A multi-output model's losses, after output `output`'s loss and accuracy ops: moves the header's
  // loss and correct-row sums into m (f64: [weighted total, loss 0, correct 0, loss 1, ...]), adds
  // weight * loss to the total and clears both sums; after the last output (last = 1) the header's
  // loss sum becomes the weighted total (what check_loss tests and fit reports as `loss`).
  output_metrics: {
    code: 50, args: 'm:ptr output weight:f32 last',
    run: 'output_metrics(scalars + S_LOSS_SUM, scalars + S_CORRECT, m, output, weight, last)',
  },
  // Merges and spatial re-layouts (importers: Subtract, Multiply, ZeroPadding2D, Resizing), 70-89.
  axpy: { code: 70, args: 'y:ptr x:ptr count alpha:f32 accumulate', run: 'axpy_f32(y, x, count * batch, alpha, accumulate)' },
  mul: { code: 71, args: 'y:ptr a:ptr b:ptr count accumulate', run: 'mul_f32(y, a, b, count * batch, accumulate)' },
  zero_pad2d_forward: { code: 72, args: 'y:ptr x:ptr h w_ c pt pb pl pr', run: 'zero_pad2d_forward(y, x, batch, h, w_, c, pt, pb, pl, pr)' },
  zero_pad2d_backward: {
    code: 73, args: 'dx:ptr dy:ptr h w_ c pt pb pl pr accumulate', run: 'zero_pad2d_backward(dx, dy, batch, h, w_, c, pt, pb, pl, pr, accumulate)',
  },
  resize_bilinear_forward: { code: 74, args: 'y:ptr x:ptr h w_ c oh ow', run: 'resize_bilinear_forward(y, x, batch, h, w_, c, oh, ow)' },
  resize_bilinear_backward: {
    code: 75, args: 'dx:ptr dy:ptr h w_ c oh ow accumulate', run: 'resize_bilinear_backward(dx, dy, batch, h, w_, c, oh, ow, accumulate)',
  },
  channel_affine: { code: 76, args: 'y:ptr x:ptr scale:ptr offset:ptr rows c', run: 'channel_affine_f32(y, x, scale, offset, rows * batch, c)' },
  channel_scale_backward: {
    code: 77, args: 'dx:ptr dy:ptr scale:ptr rows c accumulate', run: 'channel_scale_backward(dx, dy, scale, rows * batch, c, accumulate)',
  },
  // Shape and re-layout layers (permute, slice, pad, concatenate, depthToSpace, tile, gather), 100-119:
  // y [+]= x over the box (batch, d1..d5) at per-axis strides in floats, axis 0 the batch; a
  // negative stride walks its axis backwards and each pointer is its lowest address
  // (assembly/kernels/nd-copy.ts).
  nd_copy: {
    code: 100, args: `y:ptr x:ptr ${ND_DIMS} ${ND_STRIDES('ys')} ${ND_STRIDES('xs')} accumulate`,
    run: `nd_copy_f32(y, x, batch, ${ND_DIMS.split(' ').join(', ')}, ${ND_STRIDES('ys').split(' ').join(', ')}, ${ND_STRIDES('xs').split(' ').join(', ')}, accumulate)`,
  },
  // Broadcasting arithmetic, reductions and softmax on an inner axis (assembly/kernels/broadcast.ts,
  // softmax-axis.ts), 120-139. broadcast's index space is [batch, n1..n5]; sy*, sa*, sb* are the
  // strides of y, a, b per axis (0 = broadcast; sy 0 = reduced), g is contiguous over it.
  broadcast: {
    code: 120, args: `op y:ptr g:ptr a:ptr b:ptr n1 n2 n3 n4 n5 ${BROADCAST_STRIDES} alpha:f32 accumulate`,
    run: `broadcast_f32(op, y, g, a, b, batch, n1, n2, n3, n4, n5, ${BROADCAST_STRIDES.split(' ').join(', ')}, alpha, accumulate)`,
  },
  softmax_axis_forward: { code: 121, args: 'y:ptr x:ptr outer n inner', run: 'softmax_axis_forward(y, x, outer * batch, n, inner)' },
  softmax_axis_backward: {
    code: 122, args: 'dx:ptr dy:ptr y:ptr outer n inner accumulate', run: 'softmax_axis_backward(dx, dy, y, outer * batch, n, inner, accumulate)',
  },
  // Pointwise ops with two parameters, resizing and PReLU (layers unary, clip, resizing,
  // upSampling2d, prelu), 160-179. Resize modes and coordinate transforms: assembly/kernels/resize.ts;
  // PReLU's collapsed dims and shared-axis bits: assembly/kernels/prelu.ts.
  unary_forward: { code: 160, args: 'kind y:ptr x:ptr count alpha:f32 beta:f32', run: 'unary_forward(kind, y, x, count * batch, alpha, beta)' },
  unary_backward: {
    code: 161, args: 'kind dx:ptr dy:ptr x:ptr count alpha:f32 beta:f32 accumulate',
    run: 'unary_backward(kind, dx, dy, x, count * batch, alpha, beta, accumulate)',
  },
  resize_forward: {
    code: 162, args: 'y:ptr x:ptr h w_ c oh ow mode transform nearestMode',
    run: 'resize2d_forward(y, x, batch, h, w_, c, oh, ow, mode, transform, nearestMode)',
  },
  resize_backward: {
    code: 163, args: 'dx:ptr dy:ptr h w_ c oh ow mode transform nearestMode accumulate',
    run: 'resize2d_backward(dx, dy, batch, h, w_, c, oh, ow, mode, transform, nearestMode, accumulate)',
  },
  prelu_forward: { code: 164, args: 'y:ptr x:ptr alpha:ptr d0 d1 d2 d3 shared', run: 'prelu_forward(y, x, alpha, batch, d0, d1, d2, d3, shared)' },
  prelu_backward: {
    code: 165, args: 'dx:ptr dalpha:ptr dy:ptr x:ptr alpha:ptr d0 d1 d2 d3 shared accumulate accumulateAlpha',
    run: 'prelu_backward(dx, dalpha, dy, x, alpha, batch, d0, d1, d2, d3, shared, accumulate, accumulateAlpha)',
  },
  // Convolution and pooling variants (grouped convolution, transposed convolution's backward
  // input, count_include_pad average pooling), 140-159.
  conv2d_grouped_forward: {
    code: 140, args: `y:ptr x:ptr w:ptr b:ptr ${GROUPED_GEOMETRY} chunkRows cols:ptr pack:ptr accumulate`,
    run: `conv2d_grouped_forward(y, x, w, b, batch, ${GROUPED_CALL}, chunkRows, cols, pack, accumulate)`,
  },
  conv2d_grouped_backward_filter: {
    code: 141, args: `dw:ptr db:ptr x:ptr dy:ptr ${GROUPED_GEOMETRY} chunkRows cols:ptr pack:ptr accumulate`,
    run: `conv2d_grouped_backward_filter(dw, db, x, dy, batch, ${GROUPED_CALL}, chunkRows, cols, pack, accumulate)`,
  },
  conv2d_grouped_backward_input: {
    code: 142, args: `dx:ptr dy:ptr w:ptr ${GROUPED_GEOMETRY} chunkRows cols:ptr pack:ptr accumulate`,
    run: `conv2d_grouped_backward_input(dx, dy, w, batch, ${GROUPED_CALL}, chunkRows, cols, pack, accumulate)`,
  },
  avgpool_include_pad_forward: {
    code: 143, args: `y:ptr x:ptr ${POOL_GEOMETRY} pb pr`, run: `avg_pool2d_forward_include_pad(y, x, batch, ${POOL_CALL}, pb, pr)`,
  },
  avgpool_include_pad_backward: {
    code: 144, args: `dx:ptr dy:ptr ${POOL_GEOMETRY} pb pr accumulate`,
    run: `avg_pool2d_backward_include_pad(dx, dy, batch, ${POOL_CALL}, pb, pr, accumulate)`,
  },
  // Products of two computed tensors (the matMul layer), 180-189: `count` (m,n,k) products per
  // sample; matrix l of sample s of x starts at x + 4*(s*px + l*sx), a stride of 0 broadcasts
  // (assembly/kernels/gemm.ts, batched_gemm_f32).
  batched_gemm: {
    code: 180, args: 'c:ptr a:ptr b:ptr count m n k rsa csa rsb csb ldc sa sb sc pa pb pc accumulate pack:ptr',
    run: 'batched_gemm_f32(c, a, b, batch, count, m, n, k, rsa, csa, rsb, csb, ldc, sa, sb, sc, pa, pb, pc, accumulate, pack)',
  },
  // Convolution-family kernels with the bias and the activation's clamp in their epilogue, 200-219
  // (issue 12): lo/hi are [0, inf) for ReLU, [0, 6] for ReLU6, +-inf for none.
  depthwise_forward_clamp: {
    code: 200, args: `y:ptr x:ptr w:ptr b:ptr ${DEPTHWISE_GEOMETRY} lo:f32 hi:f32`,
    run: `depthwise_conv2d_forward_clamp(y, x, w, b, batch, ${DEPTHWISE_CALL}, lo, hi)`,
  },
  // Direct convolution for a short reduction (kh * kw * c <= 256): no im2col; zero: c floats of scratch.
  conv2d_direct: {
    code: 202, args: `y:ptr x:ptr w:ptr b:ptr ${CONV_GEOMETRY} lo:f32 hi:f32 zero:ptr`,
    run: `conv2d_direct_f32_4x8(y, x, w, b, batch, ${CONV_CALL}, lo, hi, zero)`,
  },
  // Regression and binary losses, 90-99.
  mse: { code: 90, args: LOSS_ARGS('p'), run: LOSS_CALL('mse_loss', 'p') },
  bce_logits: { code: 91, args: LOSS_ARGS('x'), run: LOSS_CALL('bce_logits_loss', 'x') },
  bce_probs: { code: 92, args: LOSS_ARGS('p'), run: LOSS_CALL('bce_probs_loss', 'p') },
  // Constant weights packed once, 230-239 (assembly/kernels/gemm-packed.ts): pack_b runs in an
  // inference plan's 'prepare' program; the others read its panels, with the bias and a clamp
  // (lo/hi: [0, inf) ReLU, [0, 6] ReLU6, +-inf none) on each output tile. gemm_packed's m is per sample.
  pack_b: { code: 230, args: 'bp:ptr b:ptr n k rsb csb', run: 'gemm_pack_b(bp, b, n, k, rsb, csb)' },
  gemm_packed: {
    code: 231, args: 'c:ptr a:ptr bp:ptr bias:ptr m n k rsa csa ldc lo:f32 hi:f32 pack:ptr',
    run: 'gemm_f32_packed(c, a, bp, bias, m * batch, n, k, rsa, csa, ldc, 0, lo, hi, pack)',
  },
  conv2d_forward_packed: {
    code: 232, args: `y:ptr x:ptr wp:ptr b:ptr ${CONV_GEOMETRY} chunkRows cols:ptr pack:ptr lo:f32 hi:f32`,
    run: `conv2d_forward_packed(y, x, wp, b, batch, ${CONV_CALL}, chunkRows, cols, pack, lo, hi)`,
  },
  // Winograd F(2x2, 3x3), 240-244 (assembly/kernels/winograd.ts): winograd_pack runs in an inference
  // plan's 'prepare' program (the 16 transformed kernels U, each in gemm_pack_b's panels; tmp c*f
  // floats of scratch); conv2d_winograd reads them, with the bias and a clamp on each output tile.
  winograd_pack: { code: 240, args: 'u:ptr w:ptr c f tmp:ptr', run: 'winograd_f23_pack(u, w, c, f, tmp)' },
  conv2d_winograd: {
    code: 241, args: 'y:ptr x:ptr u:ptr b:ptr h w_ c f pt pl oh ow tiles scratch:ptr lo:f32 hi:f32',
    run: 'conv2d_winograd_f23(y, x, u, b, batch, h, w_, c, f, pt, pl, oh, ow, tiles, scratch, lo, hi)',
  },
  // Winograd F(2x2, 3x3) on a frozen layer's int8 kernel q (3, 3, c, f), 242 (assembly/kernels/
  // winograd-i8.ts): q stays int8; each call transforms it into the scratch a block of cb channels
  // and fb filters at a time, and divides each filter's outputs by its scale before the bias and the clamp.
  conv2d_winograd_i8: {
    code: 242, args: 'y:ptr x:ptr q:ptr scale:ptr b:ptr h w_ c f pt pl oh ow tiles fb cb scratch:ptr lo:f32 hi:f32',
    run: 'conv2d_winograd_i8(y, x, q, scale, b, batch, h, w_, c, f, pt, pl, oh, ow, tiles, fb, cb, scratch, lo, hi)',
  },
  // Fusions of the emotion model's layers, 247-249 (issue 12). conv_gap: a linear convolution read
  // only by a global average pooling, y (F per sample) = the mean of conv(x) + b, from tap sums of x
  // and one product with the kernel packed once (assembly/kernels/conv-gap.ts); scratch:
  // conv_gap_scratch_floats, pack: the packed GEMM's for k = kh*kw*c.
  conv_gap: {
    code: 247, args: `y:ptr x:ptr wp:ptr b:ptr ${CONV_GEOMETRY} scratch:ptr pack:ptr`,
    run: `conv_gap_f32(y, x, wp, b, batch, ${CONV_CALL}, scratch, pack)`,
  },
  // maxpool_add: a max pooling read only by an add of two same-shape tensors, y = [relu](maxpool(x)
  // + s) image by image (assembly/kernels/pool-add.ts); relu 1 for a ReLU layer after the add.
  maxpool_add: { code: 248, args: `y:ptr x:ptr s:ptr ${POOL_GEOMETRY} relu`, run: `max_pool2d_add(y, x, s, batch, ${POOL_CALL}, relu)` },
  // sepconv: a depthwise convolution (multiplier 1, clamp dlo/dhi) and the 1x1 convolution that
  // alone reads it, its kernel packed once: the depthwise output a band of bandRows output rows at
  // a time into scratch, the 1x1 GEMM on the band (assembly/kernels/sepconv.ts). f: the 1x1's filters.
  sepconv: {
    code: 249, args: `y:ptr x:ptr wd:ptr bd:ptr wp:ptr b:ptr ${CONV_GEOMETRY} dlo:f32 dhi:f32 lo:f32 hi:f32 bandRows band:ptr pack:ptr`,
    run: `sepconv_f32(y, x, wd, bd, wp, b, batch, ${CONV_CALL}, dlo, dhi, lo, hi, bandRows, band, pack)`,
  },
  // sepconv on frozen int8 kernels, 243 (assembly/kernels/sepconv.ts sepconv_i8): the depthwise's
  // q (kh, kw, c) widened into wf per call (multiplier 1, dilation 1, kh == kw in {3, 5}), its rows
  // in depthwise_forward_i8_wide's order a band at a time, the 1x1's q packed by pack_b_i8 (qp).
  sepconv_i8: {
    code: 243, args: 'y:ptr x:ptr qd:ptr sd:ptr bd:ptr qp:ptr sp:ptr b:ptr h w_ c f kh kw sh sw pt pl oh ow dlo:f32 dhi:f32 lo:f32 hi:f32 bandRows wf:ptr band:ptr pack:ptr',
    run: 'sepconv_i8(y, x, qd, sd, bd, qp, sp, b, batch, h, w_, c, f, kh, kw, sh, sw, pt, pl, oh, ow, dlo, dhi, lo, hi, bandRows, wf, band, pack)',
  },
  // conv_gap on a frozen int8 kernel, 244 (assembly/kernels/conv-gap.ts conv_gap_i8): q packed by
  // pack_b_i8 (qp) and its scales; pack: gemm_i8_packed's scratch for (batch, f, kh*kw*c).
  conv_gap_i8: {
    code: 244, args: `y:ptr x:ptr qp:ptr scale:ptr b:ptr ${CONV_GEOMETRY} scratch:ptr pack:ptr`,
    run: `conv_gap_i8(y, x, qp, scale, b, batch, ${CONV_CALL}, scratch, pack)`,
  },
  // int8 weights, 220-239: a frozen layer's kernel unpacked to f32 where it is used.
  dequantize_i8: { code: 220, args: 'y:ptr q:ptr scale:ptr rows ch', run: 'dequantize_i8(y, q, scale, rows, ch)' },
  // Kernels that read a frozen layer's int8 kernel q and its per-output-channel f32 scales directly
  // (docs/int8.md): dense's y = x.W, conv2d's forward (im2col or 1x1), depthwise's forward.
  gemm_i8: {
    code: 221, args: 'c:ptr a:ptr q:ptr scale:ptr m n k rsa csa rsq ldc accumulate pack:ptr',
    run: 'gemm_i8f32(c, a, q, scale, m * batch, n, k, rsa, csa, rsq, ldc, accumulate, pack)',
  },
  conv2d_forward_i8: {
    code: 222, args: `y:ptr x:ptr q:ptr scale:ptr b:ptr ${CONV_GEOMETRY} chunkRows cols:ptr pack:ptr relu pool chunkOut:ptr`,
    run: `conv2d_forward_i8(y, x, q, scale, b, batch, ${CONV_CALL}, chunkRows, cols, pack, relu, pool, chunkOut)`,
  },
  depthwise_forward_i8: {
    code: 223, args: `y:ptr x:ptr q:ptr scale:ptr b:ptr ${DEPTHWISE_GEOMETRY} lo:f32 hi:f32`,
    run: `depthwise_conv2d_forward_i8(y, x, q, scale, b, batch, ${DEPTHWISE_CALL}, lo, hi)`,
  },
  // depthwise_forward_i8 with wf scratch (kh * kw * c * m floats), 246: the 3x3 / 5x5 layers
  // widen q into it per call and run in depthwise.ts's f32 order (assembly/kernels/depthwise-i8.ts).
  depthwise_forward_i8_wide: {
    code: 246, args: `y:ptr x:ptr q:ptr scale:ptr b:ptr ${DEPTHWISE_GEOMETRY} lo:f32 hi:f32 wf:ptr`,
    run: `depthwise_conv2d_forward_i8_wide(y, x, q, scale, b, batch, ${DEPTHWISE_CALL}, lo, hi, wf)`,
  },
  // Channel gathers of the planned-away re-layouts, 245-249 (host/compile/channel-gather.ts): y
  // (rows, ldy) = the pairs of a (rows, lda) and b (rows, ldb), n per row; rows per sample.
  interleave2: { code: 245, args: 'y:ptr ldy a:ptr lda b:ptr ldb rows n', run: 'interleave2_f32(y, ldy, a, lda, b, ldb, rows * batch, n)' },
  // int8 kernels packed once, 250-254 (assembly/kernels/gemm-i8-packed.ts): pack_b_i8 runs in an
  // inference plan's 'prepare' program (gemm_pack_b's panels, a byte a weight); the others widen a
  // block of panels per call and run the bias and a clamp on each output tile, as 231 and 232 do.
  pack_b_i8: { code: 250, args: 'bp:ptr q:ptr n k rsq', run: 'gemm_pack_b_i8(bp, q, n, k, rsq)' },
  gemm_i8_packed: {
    code: 251, args: 'c:ptr a:ptr bp:ptr scale:ptr bias:ptr m n k rsa csa ldc lo:f32 hi:f32 pack:ptr',
    run: 'gemm_i8_packed(c, a, bp, scale, bias, m * batch, n, k, rsa, csa, ldc, lo, hi, pack)',
  },
  conv2d_forward_i8_packed: {
    code: 252, args: `y:ptr x:ptr bp:ptr scale:ptr b:ptr ${CONV_GEOMETRY} chunkRows cols:ptr pack:ptr lo:f32 hi:f32`,
    run: `conv2d_forward_i8_packed(y, x, bp, scale, b, batch, ${CONV_CALL}, chunkRows, cols, pack, lo, hi)`,
  },
  // The few-channel first layers with an int8 kernel, 253-254 (assembly/kernels/conv-direct-i8.ts):
  // widen_i8 runs in an inference plan's prepare program (q to f32, exact: K*F floats); the direct
  // convolution reads it and divides each filter's sum by its scale before the bias and the clamp.
  widen_i8: { code: 253, args: 'y:ptr q:ptr count', run: 'widen_i8(y, q, count)' },
  conv2d_direct_i8: {
    code: 254, args: `y:ptr x:ptr qf:ptr scale:ptr b:ptr ${CONV_GEOMETRY} lo:f32 hi:f32 zero:ptr`,
    run: `conv2d_direct_i8(y, x, qf, scale, b, batch, ${CONV_CALL}, lo, hi, zero)`,
  },
  // Keras 3's int8 x int8 -> int32 product with the absmax activation quantizer, 256-257
  // (assembly/kernels/gemm-q8.ts; docs/int8.md "absmax"): pack_b_q8 lays q (k, n) out in k-pair
  // panels (in an inference plan's prepare program, or per call in a training plan); gemm_q8
  // quantizes a's rows 4 at a time (xs = 127 / (max|x| + 1e-7)) and divides the int32 sums by
  // xs * ks before the bias and the clamp. scratch: q8ScratchBytes(k).
  pack_b_q8: { code: 256, args: 'bp:ptr q:ptr n k rsq', run: 'gemm_pack_b_q8(bp, q, n, k, rsq)' },
  gemm_q8: {
    code: 257, args: 'c:ptr a:ptr bp:ptr scale:ptr bias:ptr m n k rsa ldc lo:f32 hi:f32 scratch:ptr',
    run: 'gemm_q8(c, a, bp, scale, bias, m * batch, n, k, rsa, ldc, lo, hi, scratch)',
  },
  // conv2d (one group) as that product on its im2col rows, 258 (assembly/kernels/conv-q8.ts): bp
  // is q (kh*kw*c, f) packed by pack_b_q8; cols the im2col chunk, scratch gemm_q8's.
  conv2d_q8: {
    code: 258, args: `y:ptr x:ptr bp:ptr scale:ptr b:ptr ${CONV_GEOMETRY} chunkRows cols:ptr scratch:ptr lo:f32 hi:f32`,
    run: `conv2d_q8(y, x, bp, scale, b, batch, ${CONV_CALL}, chunkRows, cols, scratch, lo, hi)`,
  },
  // sepconv_i8's depthwise half under a 1x1 with the absmax quantizer, 259 (assembly/kernels/sepconv.ts
  // sepconv_q8): each band's rows quantized and multiplied as gemm_q8 does on the 1x1's q packed by
  // pack_b_q8 (bp) and its scales ks; wf the depthwise's q widened, q8 gemm_q8's scratch for k = c.
  sepconv_q8: {
    code: 259, args: 'y:ptr x:ptr qd:ptr sd:ptr bd:ptr bp:ptr ks:ptr b:ptr h w_ c f kh kw sh sw pt pl oh ow dlo:f32 dhi:f32 lo:f32 hi:f32 bandRows wf:ptr band:ptr q8:ptr',
    run: 'sepconv_q8(y, x, qd, sd, bd, bp, ks, b, batch, h, w_, c, f, kh, kw, sh, sw, pt, pl, oh, ow, dlo, dhi, lo, hi, bandRows, wf, band, q8)',
  },
  // expand_depthwise: a 1x1 convolution (its kernel packed once, clamp elo/ehi) and the depthwise
  // convolution (multiplier 1, dilation 1, clamp dlo/dhi) that alone reads it: the expanded rows a
  // band at a time into scratch (bandBytes, shared by the threads), the depthwise rows on them
  // (assembly/kernels/expand-depthwise.ts). e: the expanded channels.
  expand_depthwise: {
    code: 260, args: 'y:ptr x:ptr wp:ptr be:ptr wd:ptr bd:ptr h w_ c e kh kw sh sw pt pl oh ow elo:f32 ehi:f32 dlo:f32 dhi:f32 bandBytes band:ptr pack:ptr',
    run: 'expand_depthwise_f32(y, x, wp, be, wd, bd, batch, h, w_, c, e, kh, kw, sh, sw, pt, pl, oh, ow, elo, ehi, dlo, dhi, bandBytes, band, pack)',
  },
  // A loss with Keras sample weights sw (one per sample, filled per batch): kind is
  // WEIGHTED_LOSS_KIND (host/compile/loss-ops.ts); see assembly/kernels/loss.ts.
  loss_weighted: {
    code: 51, args: 'kind dx:ptr x:ptr y:ptr sw:ptr sparse rows n',
    run: 'loss_sample_weighted(scalars + S_LOSS_SUM, kind, dx, x, y, sw, sparse, rows, n, batch, invBatch)',
  },
} satisfies Record<string, OpRow>;

export type OpName = keyof typeof OP_TABLE;

export interface OpSpec {
  code: number;
  args: readonly string[];
  types: readonly ArgType[];
}

function spec(row: OpRow): OpSpec {
  const words = row.args.split(' ').filter((w) => w !== '');
  return {
    code: row.code,
    args: words.map((w) => w.split(':')[0]),
    types: words.map((w) => (w.split(':')[1] ?? 'i32') as ArgType),
  };
}

export const OP_SPECS = Object.fromEntries(Object.entries(OP_TABLE).map(([name, row]) => [name, spec(row)])) as Record<OpName, OpSpec>;

// apply_gradients kinds and clip modes (assembly/interp/opcodes.ts OPT_*, CLIP_*).
export const OPT_KIND = { sgd: 0, adagrad: 1, rmsprop: 2, adam: 3, adamw: 3, nadam: 4, adamax: 5 } as const;
export const CLIP_MODE = { none: 0, value: 1, norm: 2, globalNorm: 3 } as const;

// The step header: [byte offset, type, what]. Per step the driver (the JS host, or the WASI module)
// writes batch and zeroes the accumulators; everything else is kept by the programs: optimizer_init
// sets the optimizer scalars, schedule writes lr (and momentum for 1cycle), and step_done counts the
// update in iter.
export const HEADER_FIELDS = {
  batch: [0, 'i32', 'rows in this batch (<= the planned batch)'],
  iter: [4, 'i32', 'optimizer iterations done (Keras optimizer.iterations); this update\'s t = S_ITER + 1'],
  lr: [8, 'f32', 'learning rate for this step (written by the schedule op)'],
  failedOp: [12, 'i32', 'index of the op that stopped the run, else -1'],
  gradNormSq: [16, 'f64', 'sum of squared gradients (set by GRAD_NORM ops)'],
  lossSum: [24, 'f64', 'summed data loss over the rows run so far'],
  correct: [32, 'f64', 'rows whose argmax matched the label'],
  penalty: [40, 'f64', 'summed regularization penalties (set by REG_PENALTY ops)'],
  baseLr: [48, 'f32', 'the optimizer\'s learning-rate variable (constant schedule; callbacks set it)'],
  momentum: [52, 'f32', 'momentum (SGD, RMSprop) or beta_1 (Adam family) in effect; 1cycle cycles it'],
  nadamU: [56, 'f64', 'Nadam\'s running product of u_t'],
  lrOverride: [64, 'f32', 'if > 0, the learning rate for every step (the LR finder)'],
  lossScale: [68, 'f32', 'if > 0, the loss gradient\'s scale in place of 1 / batch (micro-batches: 1 / the whole batch)'],
} as const;
export const HEADER_BYTES = 128;

// Step-header byte offsets by name, and its size.
export const HEADER = {
  ...(Object.fromEntries(Object.entries(HEADER_FIELDS).map(([k, [at]]) => [k, at])) as { [K in keyof typeof HEADER_FIELDS]: number }),
  bytes: HEADER_BYTES,
};
