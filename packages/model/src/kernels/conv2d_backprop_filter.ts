import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { Ctx, type ConvGradAttrs } from './call';

type Attrs = ConvGradAttrs & { filterShape: [number, number, number, number] };

/**
 * dW for conv2d on backends without Conv2DBackpropFilter (wasm; tfjs issue #8474).
 *
 * dW[i, j] = Σ_{b,y,x} x_pad[b, y·s + i, x·s + j, :]ᵀ ⊗ dy[b, y, x, :]
 * Two implementations, both from kernels wasm has: a dilated convolution (below), and "taps":
 * for every kernel tap (i, j) the strided window of the padded input is one (Ci × N)·(N × Co)
 * product with N = batch·outH·outW. We compute its transpose dyᵀ (Co × N) · X_ij (N × Ci) so that
 * dyᵀ is materialised once and every product is a plain 2-D one (XNNPACK's fast path); one
 * transpose at the end turns [kh, kw, Co, Ci] into tfjs's [kh, kw, Ci, Co].
 * tfjs-core refuses gradients of dilated convolutions, so dilation is always 1 here.
 */
export type BackpropFilterMethod = 'auto' | 'taps' | 'dilatedConv';
let forced: BackpropFilterMethod = 'auto';
/** For tests and the benchmark: force one implementation ('auto' restores the choice below). */
export function setBackpropFilterMethod(m: BackpropFilterMethod): void {
  forced = m;
}

export const conv2DBackpropFilter: KernelFunc = (args) => {
  const backend = args.backend as KernelBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as Attrs;
  if (attrs.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter: only NHWC is supported');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inChannels, outChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth, padInfo } = info;
  const ctx = new Ctx(backend, String(tf.getBackend()));
  try {
    const n = batchSize * outHeight * outWidth;
    // Rows of the padded input that any tap reads; padding beyond them is never touched.
    const needH = (outHeight - 1) * strideHeight + filterHeight;
    const needW = (outWidth - 1) * strideWidth + filterWidth;
    const inH = x.shape[1]!;
    const inW = x.shape[2]!;
    const padBottom = Math.max(0, needH - padInfo.top - inH);
    const padRight = Math.max(0, needW - padInfo.left - inW);
    let xp = x;
    if (padInfo.top || padInfo.left || padBottom || padRight) {
      xp = ctx.run('PadV2', { x }, {
        paddings: [[0, 0], [padInfo.top, padBottom], [padInfo.left, padRight], [0, 0]],
        constantValue: 0,
      });
    }
    // Measured on wasm (src/kernels/bench.ts): the dilated convolution is 6–60× faster than one
    // product per tap (7×7/2 stem at 8×128²: 35 ms vs 2270 ms), except for a 1×1 stride-1
    // convolution, where "taps" is a single product (1.7 ms vs 3.7 ms).
    const pointwise = filterHeight === 1 && filterWidth === 1 && strideHeight === 1 && strideWidth === 1;
    const method = forced !== 'auto' ? forced : pointwise ? 'taps' : 'dilatedConv';
    if (method === 'dilatedConv') {
      // dW[i, j, c, o] = Σ_{b,y,x} xp[b, y·s + i, x·s + j, c] · dy[b, y, x, o] is itself a
      // convolution: images = input channels c (xp as [Ci, H, W, B]), filter = dy as
      // [outH, outW, B, Co] dilated by the stride, stride 1, no padding: one XNNPACK call.
      let xc = xp;
      if (xp.shape[1] !== needH || xp.shape[2] !== needW) {
        xc = ctx.run('Slice', { x: xp }, { begin: [0, 0, 0, 0], size: [batchSize, needH, needW, inChannels] });
      }
      const images = ctx.transpose(xc, [3, 1, 2, 0]); // (Ci, needH, needW, B)
      const filter = ctx.transpose(dy, [1, 2, 0, 3]); // (outH, outW, B, Co)
      const dw = ctx.run('Conv2D', { x: images, filter }, {
        strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [strideHeight, strideWidth],
      }) as TensorInfo; // (Ci, kh, kw, Co)
      return ctx.keep(ctx.transpose(dw, [1, 2, 0, 3]));
    }
    const dyT = ctx.reshape(ctx.transpose(ctx.reshape(dy, [n, outChannels]), [1, 0]), [1, outChannels, n]); // (1, Co, N)
    const taps: TensorInfo[] = [];
    for (let i = 0; i < filterHeight; i++) {
      for (let j = 0; j < filterWidth; j++) {
        let win: TensorInfo;
        if (pointwise && xp.shape[1] === outHeight && xp.shape[2] === outWidth) {
          win = xp; // 1×1 stride-1 convolution: the window is the input itself
        } else {
          win = ctx.run('StridedSlice', { x: xp }, {
            begin: [0, i, j, 0],
            end: [batchSize, i + (outHeight - 1) * strideHeight + 1, j + (outWidth - 1) * strideWidth + 1, inChannels],
            strides: [1, strideHeight, strideWidth, 1],
            beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
          });
        }
        const prod = ctx.run('BatchMatMul', { a: dyT, b: ctx.reshape(win, [1, n, inChannels]) }, { transposeA: false, transposeB: false });
        taps.push(ctx.reshape(prod, [1, outChannels, inChannels]));
      }
    }
    const stacked = taps.length === 1 ? taps[0]! : ctx.run('Concat', taps, { axis: 0 }); // (kh·kw, Co, Ci)
    const out = ctx.transpose(ctx.reshape(stacked, [filterHeight, filterWidth, outChannels, inChannels]), [0, 1, 3, 2]);
    return ctx.keep(out);
  } finally {
    ctx.freeAll();
  }
};
