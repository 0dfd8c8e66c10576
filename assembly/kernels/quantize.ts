// int8 weights (Keras 3 model.quantize('int8')): per-output-channel symmetric kernels, w ~ q / scale
// with scale = 127 / max|w| of the channel. Frozen layers keep q (1 byte a weight) and scale (one
// f32 a channel) in the arena; this unpacks one layer's kernel into f32 for the float kernels
// that have no int8 form (docs/int8.md; the forward kernels read q themselves).

// y (R,C) f32 = q (R,C) i8 / scale (C). C: the output channels (the kernel's trailing axes).
export function dequantize_i8(y: usize, q: usize, scale: usize, rows: i32, ch: i32): void {
  for (let r = 0; r < rows; r++) {
    const qr = q + <usize>(r * ch);
    const yr = y + (<usize>(r * ch) << 2);
    for (let c = 0; c < ch; c++) {
      store<f32>(yr + (<usize>c << 2), <f32>load<i8>(qr + <usize>c) / load<f32>(scale + (<usize>c << 2)));
    }
  }
}
