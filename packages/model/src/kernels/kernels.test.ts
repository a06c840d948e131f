import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/index';
import { setBackpropFilterMethod } from './index';

/**
 * The kernels registered on wasm must give the gradients tfjs's cpu backend gives (its own
 * kernels, not ours: cpu only gets a replacement UnsortedSegmentSum, checked separately against
 * a plain loop). This runs on wasm whatever TFJS_BACKEND says, because that is what it tests.
 */
async function on<T>(backend: 'cpu' | 'wasm', f: () => T): Promise<T> {
  await initBackend({ prefer: backend, quiet: true, env: {} });
  return f();
}

function rand(shape: number[], seed: number): number[] {
  // Values made on the host so both backends see the same numbers.
  let s = seed * 9301 + 49297;
  const n = shape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s * 233280 + 12345) % 2147483647;
    out.push((s / 2147483647) * 2 - 1);
  }
  return out;
}

function expectClose(a: Float32Array | number[], b: Float32Array | number[], tol: number, what: string): void {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  expect(worst, what).toBeLessThan(tol);
}

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', quiet: true, env: {} });
});

type ConvCase = { k: [number, number]; stride: number | [number, number]; pad: 'same' | 'valid' | number; h: number; w: number };

const convCases: ConvCase[] = [
  { k: [1, 1], stride: 1, pad: 'valid', h: 6, w: 5 },
  { k: [1, 1], stride: 2, pad: 'same', h: 7, w: 7 },
  { k: [3, 3], stride: 1, pad: 'same', h: 8, w: 8 },
  { k: [3, 3], stride: 2, pad: 1, h: 9, w: 8 },
  { k: [3, 3], stride: 2, pad: 'valid', h: 9, w: 9 },
  { k: [2, 3], stride: [1, 2], pad: 'same', h: 7, w: 10 },
  { k: [5, 5], stride: 3, pad: 'same', h: 11, w: 12 },
  { k: [7, 7], stride: 2, pad: 3, h: 16, w: 16 },
  { k: [4, 4], stride: 2, pad: 'same', h: 10, w: 10 },
];

describe.each(['dilatedConv', 'taps'] as const)('Conv2DBackpropFilter on wasm (%s) matches cpu', (method) => {
  beforeAll(() => setBackpropFilterMethod(method));
  afterAll(() => setBackpropFilterMethod('auto'));
  for (const c of convCases) {
    it(`kernel ${c.k.join('x')} stride ${String(c.stride)} pad ${String(c.pad)} on ${c.h}x${c.w}`, async () => {
      const xShape = [2, c.h, c.w, 3];
      const fShape = [c.k[0], c.k[1], 3, 4];
      const xv = rand(xShape, 1);
      const fv = rand(fShape, 2);
      const grads = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, xShape as [number, number, number, number]);
          const f = tf.tensor4d(fv, fShape as [number, number, number, number]);
          const g = tf.grads((xx: tf.Tensor, ff: tf.Tensor) => {
            const y = tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.stride, c.pad);
            // A non-uniform weighting so every output position matters differently.
            return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
          });
          const [dx, df] = g([x, f]);
          return [Array.from(dx!.dataSync()), Array.from(df!.dataSync())];
        });
      const ref = await on('cpu', grads);
      const got = await on('wasm', grads);
      expectClose(got[1]!, ref[1]!, 1e-4, 'dfilter');
      expectClose(got[0]!, ref[0]!, 1e-4, 'dx');
    });
  }
});

describe('BatchMatMul on wasm (fast path wrapper) matches cpu', () => {
  const cases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
    { a: [7, 5], b: [7, 3], ta: true, tb: false },
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [4, 5, 7], b: [4, 7, 3], ta: false, tb: false },
    { a: [2, 3, 7, 5], b: [2, 3, 3, 7], ta: true, tb: true },
    // Large enough per item (130·128·130 > SPLIT_MIN_MACS) to take the split-into-2-D path.
    { a: [2, 128, 130], b: [2, 130, 128], ta: true, tb: true },
  ];
  // Broadcast batches: tfjs-core's BatchMatMul gradient does not reduce broadcast dimensions
  // (on any backend), so these check the forward product only.
  const broadcastCases: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
    { a: [4, 5, 7], b: [7, 3], ta: false, tb: false },
    { a: [4, 7, 5], b: [1, 3, 7], ta: true, tb: true },
    { a: [1, 5, 7], b: [4, 3, 7], ta: false, tb: true },
  ];
  for (const c of broadcastCases) {
    it(`broadcast [${c.a}]${c.ta ? 'ᵀ' : ''} · [${c.b}]${c.tb ? 'ᵀ' : ''} forward`, async () => {
      const av = rand(c.a, 3);
      const bv = rand(c.b, 4);
      const run = () => tf.tidy(() => tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.ta, c.tb));
      const ref = await on('cpu', () => { const y = run(); const r = { v: Array.from(y.dataSync()), s: y.shape }; y.dispose(); return r; });
      const got = await on('wasm', () => { const y = run(); const r = { v: Array.from(y.dataSync()), s: y.shape }; y.dispose(); return r; });
      expect(got.s).toEqual(ref.s);
      expectClose(got.v, ref.v, 1e-5, 'y');
    });
  }
  for (const c of cases) {
    it(`[${c.a}]${c.ta ? 'ᵀ' : ''} · [${c.b}]${c.tb ? 'ᵀ' : ''} forward and gradients`, async () => {
      const av = rand(c.a, 3);
      const bv = rand(c.b, 4);
      const run = () =>
        tf.tidy(() => {
          const a = tf.tensor(av, c.a);
          const b = tf.tensor(bv, c.b);
          const y = tf.matMul(a, b, c.ta, c.tb);
          const [da, db] = tf.grads((aa: tf.Tensor, bb: tf.Tensor) => {
            const yy = tf.matMul(aa, bb, c.ta, c.tb);
            return tf.sum(tf.mul(yy, tf.cos(tf.range(0, yy.size).reshape(yy.shape))));
          })([a, b]);
          return { y: Array.from(y.dataSync()), shape: y.shape, da: Array.from(da!.dataSync()), db: Array.from(db!.dataSync()) };
        });
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(got.shape).toEqual(ref.shape);
      expectClose(got.y, ref.y, 1e-5, 'y');
      expectClose(got.da, ref.da, 1e-5, 'da');
      expectClose(got.db, ref.db, 1e-5, 'db');
    });
  }

  it('fused matMul with bias and relu, transposed, batched', async () => {
    const run = () =>
      tf.tidy(() => {
        const a = tf.tensor(rand([3, 6, 4], 5), [3, 6, 4]);
        const b = tf.tensor(rand([3, 5, 6], 6), [3, 5, 6]);
        const bias = tf.tensor(rand([5], 7), [5]);
        return Array.from(tf.fused.matMul({ a, b, transposeA: true, transposeB: true, bias, activation: 'relu' }).dataSync());
      });
    expectClose(await on('wasm', run), await on('cpu', run), 1e-5, 'fused');
  });
});

describe('UnsortedSegmentSum (gather gradient)', () => {
  it('embedding gradient on wasm matches cpu, duplicates accumulate', async () => {
    const ev = rand([50, 8], 8);
    const ids = [3, 7, 3, 49, 0, 7, 7, 12, 3, 0, 22, 49];
    const run = () =>
      tf.tidy(() => {
        const e = tf.tensor2d(ev, [50, 8]);
        const [de] = tf.grads((ee: tf.Tensor) => {
          const g = tf.gather(ee, tf.tensor1d(ids, 'int32'));
          return tf.sum(tf.mul(g, tf.sin(tf.range(0, g.size).reshape(g.shape))));
        })([e]);
        return Array.from(de!.dataSync());
      });
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expectClose(got, ref, 1e-5, 'dE');
    // Row 3 is used three times: its gradient is not that of a single use.
    expect(got.slice(3 * 8, 4 * 8).some((v) => v !== 0)).toBe(true);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`direct call on ${backend}: sums rows per segment, drops out-of-range ids, keeps trailing dims`, async () => {
      const xv = rand([6, 2, 3], 9);
      const ids = [0, 4, -1, 4, 2, 5];
      const got = await on(backend, () =>
        tf.tidy(() => Array.from(tf.unsortedSegmentSum(tf.tensor3d(xv, [6, 2, 3]), tf.tensor1d(ids, 'int32'), 5).dataSync())),
      );
      const want = new Array<number>(5 * 6).fill(0);
      ids.forEach((s, i) => {
        if (s < 0 || s >= 5) return;
        for (let j = 0; j < 6; j++) want[s * 6 + j]! += xv[i * 6 + j]!;
      });
      expectClose(got, want, 1e-6, 'segments');
    });
  }
});

describe('registered kernels do not leak', () => {
  it('numTensors and wasm memory stay flat over repeated conv/matmul/gather gradients', async () => {
    await on('wasm', () => undefined);
    const x = tf.randomNormal([2, 8, 8, 3]);
    const f = tf.randomNormal([3, 3, 3, 4]);
    const e = tf.randomNormal([20, 6]);
    const step = () =>
      tf.tidy(() => {
        const [dx, df, de] = tf.grads((xx: tf.Tensor, ff: tf.Tensor, ee: tf.Tensor) => {
          const y = tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 2, 'same');
          const z = tf.matMul(tf.reshape(y, [2, 16, 4]), tf.reshape(tf.gather(ee, tf.tensor1d([1, 2, 2, 5, 0, 19, 2, 7], 'int32')), [2, 4, 6]));
          return tf.sum(tf.square(z));
        })([x, f, e]);
        return tf.addN([tf.sum(dx!), tf.sum(df!), tf.sum(de!)]).dataSync()[0];
      });
    step();
    const before = tf.memory();
    for (let i = 0; i < 5; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, f, e]);
  });
});
