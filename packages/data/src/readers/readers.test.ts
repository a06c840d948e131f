import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildAnswerVocab, DataError, jsonErrorOffset, karpathySplit, normalizeVqaAnswer, readCocoCaptions, readKarpathy, readNlvr2,
  readVisualGenome, readVqa, vqaAnswerScore, vqaSoftTarget,
} from './index';
import { forEachJsonArrayItem } from './json-stream';

const FIX = join(import.meta.dirname, '../../fixtures');
const fx = (...p: string[]) => join(FIX, ...p);

function thrown(f: () => unknown): DataError {
  try {
    f();
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error('expected a DataError');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pb-readers-'));
}

function touch(root: string, rel: string): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), '');
}

describe('COCO captions', () => {
  it('reads images and trimmed captions', () => {
    const c = readCocoCaptions(fx('coco/captions_val2014.json'));
    expect(c.images.size).toBe(3);
    expect(c.images.get(74)).toEqual({ id: 74, fileName: 'COCO_val2014_000000000074.jpg', width: 481, height: 640 });
    expect(c.captions).toHaveLength(16);
    expect(c.captions.find((x) => x.id === 1003)!.caption).toBe('The big red bus is stopped at the light.');
    expect(c.captions.find((x) => x.id === 1012)!.caption).toBe('A brown dog sleeps on the sofa.');
    expect(c.skipped).toEqual([]);
  });

  it('reports every inconsistency with file, JSON path and item', () => {
    const e = thrown(() => readCocoCaptions(fx('bad/captions_inconsistent.json')));
    const msgs = e.problems.map((p) => `${p.path} ${p.item ?? ''} ${p.message}`);
    expect(msgs).toContain('images[1] image 1 duplicate image id 1');
    expect(msgs.some((m) => m.startsWith('images[2].file_name') && /expected string/.test(m))).toBe(true);
    expect(msgs).toContain('annotations[1] caption 10 duplicate annotation id 10');
    expect(msgs).toContain('annotations[2].caption caption 11 empty caption');
    expect(msgs).toContain('annotations[3].image_id caption 12 image_id 99 is not among the usable images of this file');
    expect(e.message).toMatch(/captions_inconsistent\.json/);
    expect(e.message).toMatch(/5 of 7 items are bad/);
  });

  it('skips bad items under the threshold and reports them', () => {
    const c = readCocoCaptions(fx('bad/captions_inconsistent.json'), { maxBadFraction: 0.8 });
    expect(c.captions.map((x) => x.id)).toEqual([10]);
    expect(c.skipped).toHaveLength(5);
  });

  it('names a missing file and a missing image', () => {
    expect(thrown(() => readCocoCaptions(fx('coco/nope.json'))).message).toMatch(/nope\.json: COCO captions file not found/);
    const dir = tempDir();
    touch(dir, 'COCO_val2014_000000000042.jpg');
    touch(dir, 'COCO_val2014_000000000073.jpg');
    const e = thrown(() => readCocoCaptions(fx('coco/captions_val2014.json'), { imageDir: dir }));
    expect(e.message).toMatch(/images\[2\] \(item image 74\): image file .*COCO_val2014_000000000074\.jpg does not exist/);
    expect(thrown(() => readCocoCaptions(fx('coco/captions_val2014.json'), { imageDir: join(dir, 'x') })).message).toMatch(/image directory not found/);
  });
});

describe('Karpathy splits', () => {
  it('reads COCO with filepath/cocoid and folds restval into train', () => {
    const d = readKarpathy(fx('karpathy/dataset_coco.json'));
    expect(d.dataset).toBe('coco');
    expect(d.images.map((i) => [i.id, i.split])).toEqual([[42, 'test'], [73, 'restval'], [74, 'val'], [9, 'train']]);
    expect(d.images[1]!.relPath).toBe('val2014/COCO_val2014_000000000073.jpg');
    expect(d.images[1]!.sentences).toEqual(['Two giraffes.', 'Giraffes near a tree']);
    expect(d.images[1]!.sentenceTypes).toBeUndefined(); // real files carry no type tags
    expect(karpathySplit(d, 'train').map((i) => i.id)).toEqual([73, 9]);
    expect(karpathySplit(d, 'train', { restvalInTrain: false }).map((i) => i.id)).toEqual([9]);
    expect(karpathySplit(d, 'test').map((i) => i.id)).toEqual([42]);
  });

  it('reads Flickr30K with imgid and no filepath', () => {
    const d = readKarpathy(fx('karpathy/dataset_flickr30k.json'));
    expect(d.images.map((i) => [i.id, i.relPath, i.split])).toEqual([
      [0, '1000092795.jpg', 'train'], [1, '10002456.jpg', 'val'], [2, '1000268201.jpg', 'test'],
    ]);
  });

  it('gives the line and column of a JSON syntax error', () => {
    const e = thrown(() => readKarpathy(fx('bad/dataset_trailing_comma.json')));
    expect(e.problems[0]).toMatchObject({ line: 3, column: 35 });
    expect(e.message).toMatch(/dataset_trailing_comma\.json:3:35: malformed JSON/);
  });

  it('rejects an unknown split and a missing id with the JSON path', () => {
    const dir = tempDir();
    const f = join(dir, 'dataset_x.json');
    writeFileSync(f, JSON.stringify({ images: [{ filename: 'a.jpg', split: 'dev', imgid: 1, sentences: [{ raw: 'x' }] }, { filename: 'b.jpg', split: 'val', sentences: [{ raw: 'y' }] }] }));
    const e = thrown(() => readKarpathy(f));
    expect(e.problems.map((p) => p.path)).toEqual(['images[0].split', 'images[1]']);
    expect(e.problems[1]!.message).toMatch(/needs cocoid \(COCO\) or imgid/);
  });
});

describe('Visual Genome', () => {
  it('reads regions, joins image data and clips overhanging boxes', () => {
    const vg = readVisualGenome(fx('vg/region_descriptions.json'), fx('vg/image_data.json'));
    expect(vg.images.get(1)!.relPath).toBe('VG_100K_2/1.jpg');
    expect(vg.images.get(10)!.cocoId).toBe(73);
    expect(vg.regions).toHaveLength(4);
    expect(vg.regions[1]!.phrase).toBe('shade is along the street');
    // x 760 + 100 > 800 and y 540 + 80 > 600: clipped to the image.
    expect(vg.regions[2]!.box).toEqual([760, 540, 40, 60]);
    expect(vg.clippedBoxes).toBe(1);
  });

  it('names a region whose image is not in image_data.json', () => {
    const dir = tempDir();
    const f = join(dir, 'region_descriptions.json');
    writeFileSync(f, JSON.stringify([{ id: 5, regions: [{ region_id: 1, image_id: 5, phrase: 'a', x: 0, y: 0, width: 1, height: 1 }] }]));
    expect(thrown(() => readVisualGenome(f, fx('vg/image_data.json'))).message).toMatch(/\[0\]\.regions\[0\] \(item region 1\): image 5 is not in .*image_data\.json/);
  });

  it('treats empty phrases and boxes outside the image as bad items', () => {
    const dir = tempDir();
    const f = join(dir, 'region_descriptions.json');
    const r = (id: number, phrase: string, x: number) => ({ region_id: id, image_id: 1, phrase, x, y: 0, width: 10, height: 10 });
    writeFileSync(f, JSON.stringify([{ id: 1, regions: [r(1, 'ok', 0), r(2, ' ', 0), r(3, 'off the edge', 900)] }]));
    const msgs = thrown(() => readVisualGenome(f, fx('vg/image_data.json'))).problems.map((p) => `${p.path} ${p.message}`);
    expect(msgs).toEqual(['[0].regions[1].phrase empty phrase', '[0].regions[2] box [900, 0, 10, 10] has no area inside the 800×600 image']);
    const vg = readVisualGenome(f, fx('vg/image_data.json'), { maxBadFraction: 0.5 });
    expect(vg.regions.map((x) => x.id)).toEqual([1]);
    expect(vg.skipped).toHaveLength(2);
  });
});

describe('VQA answer normalisation (official evaluation behaviour)', () => {
  it.each([
    ['Red', 'red'], ['red.', 'red'], ['yes!', 'yes'], ['two', '2'], ['Two.', '2'], ['none', '0'],
    ['the couch', 'couch'], ['a couch', 'couch'], ['dont know', "don't know"], ['cant', "can't"],
    ['t-shirt', 't shirt'], ['red, white', 'red white'], ['1,000', '1000'], ['3.5', '3.5'],
    ['3:00 pm', '3:00 pm'], ['well', 'well'], ['  fire\thydrant \n', 'fire hydrant'], ["couldnt've", "couldn't've"],
  ])('%j → %j', (raw, want) => expect(normalizeVqaAnswer(raw)).toBe(want));
});

describe('VQA v2', () => {
  const q = fx('vqa/v2_OpenEnded_mscoco_val2014_questions.json');
  const a = fx('vqa/v2_mscoco_val2014_annotations.json');

  it('joins questions and ten normalised answers', () => {
    const d = readVqa(q, a);
    expect(d.dataSubtype).toBe('val2014');
    expect(d.questions).toHaveLength(6);
    const couch = d.questions.find((x) => x.questionId === 740001)!;
    expect(couch.answers).toEqual(['couch', 'couch', 'couch', 'sofa', 'couch', 'couch', 'couch', 'sofa', 'sofa', 'couch']);
    expect(couch.answerType).toBe('other');
    expect(d.questions.find((x) => x.questionId === 740002)!.answers).toContain("i don't know");
  });

  it('reads test questions without annotations', () => {
    const d = readVqa(q);
    expect(d.questions.every((x) => x.answers === undefined)).toBe(true);
  });

  it('flags a question whose image does not exist (COCO file naming)', () => {
    const dir = tempDir();
    touch(dir, 'COCO_val2014_000000000042.jpg');
    touch(dir, 'COCO_val2014_000000000073.jpg');
    const e = thrown(() => readVqa(q, a, { imageDir: dir }));
    expect(e.message).toMatch(/questions\[4\] \(item question 740001\): image 74: file .*COCO_val2014_000000000074\.jpg does not exist/);
    const d = readVqa(q, a, { imageDir: dir, maxBadFraction: 0.5 });
    expect(d.questions.map((x) => x.questionId)).toEqual([420001, 420002, 730001, 730002]);
    expect(d.skipped.filter((p) => p.message.includes('does not exist'))).toHaveLength(2);
    expect(d.questions[0]!.imageFile).toBe('COCO_val2014_000000000042.jpg');
  });

  it('flags duplicates, dangling annotations and answer counts', () => {
    const dir = tempDir();
    const qf = join(dir, 'q.json');
    const af = join(dir, 'a.json');
    writeFileSync(qf, JSON.stringify({ questions: [{ question_id: 1, image_id: 1, question: 'x?' }, { question_id: 1, image_id: 2, question: 'y?' }, { question_id: 2, image_id: 1, question: 'z?' }, { question_id: 4, image_id: 1, question: 'w?' }] }));
    const ans = (n: number) => Array.from({ length: n }, () => ({ answer: 'yes' }));
    writeFileSync(af, JSON.stringify({ annotations: [
      { question_id: 1, image_id: 1, multiple_choice_answer: 'yes', answers: ans(10) },
      { question_id: 2, image_id: 1, multiple_choice_answer: 'yes', answers: ans(3) },
      { question_id: 3, image_id: 1, multiple_choice_answer: 'yes', answers: ans(10) },
    ] }));
    const msgs = thrown(() => readVqa(qf, af)).problems.map((p) => `${p.item}: ${p.message}`);
    expect(msgs).toEqual([
      'question 1: duplicate question_id 1',
      'question 2: has 3 answers; VQA v2 has 10 per question',
      `question 3: question_id 3 is not in ${qf} (or was skipped there)`,
      `question 4: has no annotation in ${af}`,
    ]);
  });

  it('builds a deterministic top-K answer vocabulary', () => {
    const d = readVqa(q, a);
    expect(buildAnswerVocab(d.questions, { topK: 10 }).answers).toEqual(['2', 'afternoon', 'couch', 'red', 'yes']);
    expect(buildAnswerVocab(d.questions, { topK: 2 }).answers).toEqual(['2', 'afternoon']);
    expect(buildAnswerVocab(d.questions, { topK: 10, minCount: 2 }).answers).toEqual(['2']);
  });

  it('scores answers: averaged over 10 annotator subsets, or min(1, n/3)', () => {
    expect([0, 1, 2, 3, 4, 10].map((n) => vqaAnswerScore(n))).toEqual([0, 0.3, 0.6, 0.9, 1, 1].map((x) => expect.closeTo(x, 12) as unknown as number));
    expect([1, 2, 3, 4].map((n) => vqaAnswerScore(n, 'min3'))).toEqual([1 / 3, 2 / 3, 1, 1]);
    const d = readVqa(q, a);
    const vocab = buildAnswerVocab(d.questions, { topK: 10 });
    const t = vqaSoftTarget(d.questions.find((x) => x.questionId === 740001)!.answers!, vocab);
    // couch ×7 → 1.0; sofa ×3 is outside the vocabulary (never a multiple-choice answer).
    expect(t).toEqual({ indices: [vocab.index.get('couch')], scores: [1], outOfVocab: 3 });
  });
});

describe('NLVR2', () => {
  it('reads JSON lines with the -img0/-img1 naming and train directories', () => {
    const dev = readNlvr2(fx('nlvr2/dev.json'));
    expect(dev.items.map((i) => [i.identifier, i.label])).toEqual([
      ['dev-850-0-0', false], ['dev-850-0-1', true], ['dev-12-1-0', true], ['dev-12-2-1', false],
    ]);
    expect(dev.items[0]!.images).toEqual(['dev-850-0-img0.png', 'dev-850-0-img1.png']);
    expect(dev.items[0]!.pairId).toBe(dev.items[1]!.pairId);
    const train = readNlvr2(fx('nlvr2/train.json'));
    expect(train.items.map((i) => i.images[1])).toEqual(['2/train-10171-0-img1.png', '2/train-10171-0-img1.png', '87/train-4-3-img1.png']);
    expect(train.items[2]!.label).toBe(true);
  });

  it('reports each bad line by number', () => {
    const e = thrown(() => readNlvr2(fx('bad/nlvr2_bad.json')));
    const got = e.problems.map((p) => [p.line, p.path ?? '', p.message.slice(0, 40)]);
    expect(got).toEqual([
      [2, '', 'duplicate identifier dev-1-0-0'],
      [3, 'label', 'expected "True" or "False"'],
      [4, '', expect.stringMatching(/^malformed JSON/)],
      [5, 'identifier', expect.stringMatching(/^expected <split>-<set>-<pair>-<sentence>/)],
    ]);
  });

  it('checks both images of a pair exist', () => {
    const dir = tempDir();
    touch(dir, 'dev-850-0-img0.png');
    touch(dir, 'dev-850-0-img1.png');
    touch(dir, 'dev-12-1-img0.png');
    const d = readNlvr2(fx('nlvr2/dev.json'), { imageDir: dir, maxBadFraction: 0.5 });
    expect(d.items.map((i) => i.identifier)).toEqual(['dev-850-0-0', 'dev-850-0-1']);
    expect(d.skipped.map((p) => p.item)).toEqual(['dev-12-1-0', 'dev-12-2-1']);
    expect(d.skipped[0]!.message).toMatch(/dev-12-1-img1\.png$/);
  });
});

describe('JSON syntax error location', () => {
  it.each([
    ['{"a": [1,]}', 9],
    ['{"a": 1,}', 8],
    ['[1 2]', 3],
    ['{"a": tru}', 9],
    ['{"a": "x\n"}', 8],
    ['[1]  x', 5],
  ])('%j fails at offset %i', (text, offset) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorOffset(text)).toBe(offset);
  });
  it('finds no error in valid JSON', () => {
    expect(jsonErrorOffset('{"a": [1, -2.5e3, "\\u00e9", true, null, {}]}')).toBe(-1);
  });
});

describe('streaming a top-level JSON array', () => {
  const collect = (text: string, chunk: number) => {
    const dir = tempDir();
    const f = join(dir, 'a.json');
    writeFileSync(f, text);
    const got: unknown[] = [];
    forEachJsonArrayItem(f, 'test array', (v, i) => got.push([i, v]), chunk);
    return got;
  };

  it('yields each element, whatever the chunk boundaries', () => {
    const value = [{ a: 'x,]}"\\' }, [1, [2, { b: null }]], 'str"ing', 3.5, true, { regions: [{ phrase: 'a, b] c' }] }];
    const text = JSON.stringify(value, null, 1);
    const want = value.map((v, i) => [i, v]);
    for (const chunk of [1, 2, 3, 7, 64, 1 << 20]) expect(collect(text, chunk), `chunk ${chunk}`).toEqual(want);
    expect(collect('[]', 4)).toEqual([]);
    expect(collect(' [ 1 ] \n', 2)).toEqual([[0, 1]]);
  });

  it('names the element and line of a syntax error', () => {
    const e = thrown(() => collect('[\n {"a": 1},\n {"a": 2,},\n {"a": 3}\n]', 5));
    expect(e.problems[0]).toMatchObject({ path: '[1]', line: 3 });
    expect(thrown(() => collect('{"a": 1}', 5)).message).toMatch(/expected a top-level array/);
    expect(thrown(() => collect('[1, 2', 5)).message).toMatch(/ends before the closing \]/);
    expect(thrown(() => collect('[1] 2', 5)).message).toMatch(/content after the closing \]/);
  });
});
