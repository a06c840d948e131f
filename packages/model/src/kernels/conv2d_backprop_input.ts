import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { Ctx, type ConvGradAttrs } from './call';

type Attrs = ConvGradAttrs & { inputShape: [number, number, number, number] };

/**
 * dx for conv2d on wasm, as one forward XNNPACK convolution. wasm's own Conv2DBackpropInput is a
 * scalar loop: in a resnet-small train step (batch 8, 128 px) it took 960 ms against 90 ms for all
 * forward convolutions (src/kernels/bench.ts).
 *
 * Forward: y[o] = Σ_k x[o·s + k − pad] · w[k]. So dx[i] = Σ_k dyₛ[i + pad − k] · w[k], where dyₛ
 * is dy with s − 1 zeros between its elements: a stride-1 correlation of dyₛ, padded by
 * k − 1 − pad in front, with the kernel flipped in space and its in/out channels swapped.
 */
export function makeConv2DBackpropInput(original: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as KernelBackend;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as Attrs;
    if (attrs.dataFormat === 'NCHW' || dy.dtype !== 'float32') return original(args);
    const info = tf.backend_util.computeConv2DInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, padInfo } = info;
    const padTop = kh - 1 - padInfo.top;
    const padLeft = kw - 1 - padInfo.left;
    if (padTop < 0 || padLeft < 0) return original(args); // padding wider than the kernel: rare, leave it to wasm
    const ctx = new Ctx(backend, 'wasm');
    try {
      // dyₛ: (B, (outH−1)·sh + 1, (outW−1)·sw + 1, Co), zeros between the rows/cols of dy.
      let d = dy;
      if (sh > 1 || sw > 1) {
        d = ctx.reshape(dy, [batchSize, outHeight, 1, outWidth, 1, outChannels]);
        d = ctx.run('PadV2', { x: d }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
        d = ctx.reshape(d, [batchSize, outHeight * sh, outWidth * sw, outChannels]);
      }
      // Pad (or crop) so that a valid k×k correlation yields exactly inH × inW.
      const padBottom = inHeight + kh - 1 - padTop - d.shape[1]!;
      const padRight = inWidth + kw - 1 - padLeft - d.shape[2]!;
      d = ctx.run('PadV2', { x: d }, { paddings: [[0, 0], [padTop, Math.max(0, padBottom)], [padLeft, Math.max(0, padRight)], [0, 0]], constantValue: 0 });
      if (padBottom < 0 || padRight < 0) {
        d = ctx.run('Slice', { x: d }, { begin: [0, 0, 0, 0], size: [batchSize, inHeight + kh - 1, inWidth + kw - 1, outChannels] });
      }
      // Kernel flipped in space, channels swapped: (kh, kw, Co, Ci).
      const flipped = ctx.run('Reverse', { x: filter }, { dims: [0, 1] });
      const w = ctx.transpose(flipped, [0, 1, 3, 2]);
      const dx = ctx.run('Conv2D', { x: d, filter: w }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] });
      if (dx.shape[1] !== inHeight || dx.shape[2] !== inWidth || dx.shape[3] !== inChannels) {
        throw new Error(`Conv2DBackpropInput: produced [${dx.shape}] for input [${attrs.inputShape}] (internal error)`);
      }
      return ctx.keep(dx);
    } finally {
      ctx.freeAll();
    }
  };
}
