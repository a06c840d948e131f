import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/init';
import { ParamScope } from '../params';
import {
  createMlmHead,
  createNlvr2Head,
  createRetrievalHead,
  createVqaHead,
  mlmHeadForward,
  nlvr2HeadForward,
  retrievalHeadForward,
  vqaHeadForward,
} from './heads';
import { IGNORE_INDEX, mlmTargets, retrievalLoss, softmaxCrossEntropy, vqaLoss } from './losses';

let root: ParamScope;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
afterEach(() => {
  root?.registry.forEach((v) => v.dispose());
});

const maxAbs = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;

describe('MLM head and loss', () => {
  it('picks only the labelled text positions of the joint sequence', () => {
    // B=2, T=4 text tokens, L=7 (3 pixels after the text)
    const labels = [IGNORE_INDEX, 5, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 9, 3];
    const t = mlmTargets(labels, 2, 4, 7, 10);
    expect([...t.positions]).toEqual([1, 7 + 2, 7 + 3]);
    expect([...t.labels]).toEqual([5, 9, 3]);
    expect(() => mlmTargets([0, 10, 0, 0], 1, 4, 4, 10)).toThrow(/labels\[0\]\[1\] = 10/);
  });

  it('computes logits only at masked positions, decoder tied to the word embeddings', () => {
    root = ParamScope.root(0);
    const V = 11;
    const d = 8;
    const words = root.child('embeddings').child('word_embeddings').variable('weight', [V, d], { kind: 'truncatedNormal', std: 0.5 });
    const head = createMlmHead(root.child('cls').child('predictions'), d, V);
    const hidden = tf.randomNormal([2, 5, d], 0, 1, 'float32', 1) as tf.Tensor3D;
    const positions = Int32Array.from([1, 5 + 3]);
    const logits = mlmHeadForward(head, words, hidden, positions);
    expect(logits.shape).toEqual([2, V]);
    // same as the full-sequence head read at those rows
    const all = mlmHeadForward(head, words, hidden, Int32Array.from([...Array(10).keys()]));
    expect(maxAbs(logits, tf.gather(all, [1, 8]))).toBeLessThan(1e-5);
    // the decoder is the word-embedding matrix: its gradient reaches it
    const g = tf.variableGrads(() => softmaxCrossEntropy(mlmHeadForward(head, words, hidden, positions), [3, 4]), [words]);
    expect(tf.sum(tf.abs(g.grads[words.name]!)).dataSync()[0]).toBeGreaterThan(0);
  });
});

describe('losses', () => {
  it('softmax cross-entropy matches −log softmax of the true class', () => {
    const logits = tf.tensor2d([[1, 2, 3], [0.5, -1, 2]]);
    const manual = (row: number[], y: number) => -Math.log(Math.exp(row[y]!) / row.reduce((a, v) => a + Math.exp(v), 0));
    const expected = (manual([1, 2, 3], 0) + manual([0.5, -1, 2], 2)) / 2;
    expect(softmaxCrossEntropy(logits, [0, 2]).dataSync()[0]).toBeCloseTo(expected, 5);
  });

  it('VQA: BCE with logits summed over answers, averaged over questions', () => {
    const x = [[2, -1, 0.5], [-3, 0, 1]];
    const z = [[1, 0, 0.3], [0, 0.6, 1]];
    const bce = (xi: number, zi: number) => -(zi * Math.log(1 / (1 + Math.exp(-xi))) + (1 - zi) * Math.log(1 - 1 / (1 + Math.exp(-xi))));
    const expected = x.map((row, i) => row.reduce((a, xi, j) => a + bce(xi, z[i]![j]!), 0)).reduce((a, b) => a + b) / 2;
    expect(vqaLoss(tf.tensor2d(x), tf.tensor2d(z)).dataSync()[0]).toBeCloseTo(expected, 5);
    // stable for large logits
    expect(Number.isFinite(vqaLoss(tf.tensor2d([[200, -200]]), tf.tensor2d([[0, 1]])).dataSync()[0]!)).toBe(true);
    expect(() => vqaLoss(tf.tensor2d(x), tf.tensor2d([[1, 0]]))).toThrow(/differ in shape/);
  });

  it('retrieval: softmax over the true pair and the k hardest negatives, gradient only through those', () => {
    // one query: true pair 1.0, negatives 0.2, 3.0, -1.0, 2.5, 0.0 → hardest two: 3.0 and 2.5
    const s = tf.variable(tf.tensor2d([[1.0, 0.2, 3.0, -1.0, 2.5, 0.0]]));
    const expected = -Math.log(Math.exp(1) / (Math.exp(1) + Math.exp(3) + Math.exp(2.5)));
    const { value, grads } = tf.variableGrads(() => retrievalLoss(s as unknown as tf.Tensor2D, 2), [s]);
    expect(value.dataSync()[0]).toBeCloseTo(expected, 5);
    const g = [...grads[s.name]!.dataSync()];
    expect(g[1]).toBe(0);
    expect(g[3]).toBe(0);
    expect(g[5]).toBe(0);
    expect(g[2]).toBeGreaterThan(0);
    expect(g[4]).toBeGreaterThan(0);
    expect(g[0]).toBeLessThan(0);
    expect(() => retrievalLoss(tf.tensor2d([[1, 2]]), 2)).toThrow(/integer in \[1, 1\]/);
    s.dispose();
  });

  it('retrieval: with every negative kept it is the plain softmax, one negative included', () => {
    const one = retrievalLoss(tf.tensor2d([[1, 3]]), 1).dataSync()[0]!;
    expect(one).toBeCloseTo(Math.log(1 + Math.exp(2)), 5);
    const all = retrievalLoss(tf.tensor2d([[0.5, 0.2, -1]]), 2).dataSync()[0]!;
    expect(all).toBeCloseTo(-Math.log(Math.exp(0.5) / (Math.exp(0.5) + Math.exp(0.2) + Math.exp(-1))), 5);
  });
});

describe('[CLS] heads', () => {
  it('VQA gives (B, answers) logits; retrieval one score per pair', () => {
    root = ParamScope.root(1);
    const vqa = createVqaHead(root.child('vqa_head'), 8, 13);
    const ret = createRetrievalHead(root.child('retrieval_head'), 8);
    const pooled = tf.randomNormal([3, 8]) as tf.Tensor2D;
    expect(vqaHeadForward(vqa, pooled).shape).toEqual([3, 13]);
    expect(retrievalHeadForward(ret, pooled).shape).toEqual([3]);
  });

  it('NLVR²: rows 2i, 2i+1 (left, right image) are concatenated per example', () => {
    root = ParamScope.root(2);
    const head = createNlvr2Head(root.child('nlvr2_head'), 4);
    const pooled = tf.randomNormal([4, 4], 0, 1, 'float32', 5) as tf.Tensor2D;
    const out = nlvr2HeadForward(head, pooled);
    expect(out.shape).toEqual([2, 2]);
    // swapping the two examples swaps the outputs; swapping left/right inside one changes it
    const swapped = nlvr2HeadForward(head, tf.gather(pooled, [2, 3, 0, 1]) as tf.Tensor2D);
    expect(maxAbs(swapped, tf.gather(out, [1, 0]))).toBeLessThan(1e-6);
    const lr = nlvr2HeadForward(head, tf.gather(pooled, [1, 0, 2, 3]) as tf.Tensor2D);
    expect(maxAbs(lr.slice([0, 0], [1, 2]), out.slice([0, 0], [1, 2]))).toBeGreaterThan(1e-6);
    expect(() => nlvr2HeadForward(head, tf.zeros([3, 4]) as tf.Tensor2D)).toThrow(/even number of rows/);
  });
});
