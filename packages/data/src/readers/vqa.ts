import { z } from 'zod';
import { DataError, FileIndex, isProblems, ProblemLog, readJson, validate } from './problems';
import type { Problem } from './problems';
import { normalizeVqaAnswer } from './vqa-normalize';

const Question = z.object({
  question_id: z.number().int().nonnegative(),
  image_id: z.number().int().nonnegative(),
  question: z.string(),
  type: z.string().optional(),
});
const QuestionsFile = z.object({ data_subtype: z.string().optional(), questions: z.array(z.unknown()) });
const Answer = z.object({ answer: z.string(), answer_confidence: z.string().optional(), answer_id: z.number().int().optional() });
const Annotation = z.object({
  question_id: z.number().int().nonnegative(),
  image_id: z.number().int().nonnegative(),
  question_type: z.string().optional(),
  answer_type: z.string().optional(),
  multiple_choice_answer: z.string(),
  answers: z.array(Answer),
});
const AnnotationsFile = z.object({ annotations: z.array(z.unknown()) });

/** VQA v2 collects ten human answers per question (Goyal et al. 2017). */
export const VQA_ANSWERS_PER_QUESTION = 10;

export interface VqaQuestion {
  questionId: number;
  imageId: number;
  question: string;
  /** Image path relative to `imageDir` (when the reader was given one). */
  imageFile?: string;
  /** The ten human answers, normalised; absent for the unannotated test splits. */
  answers?: string[];
  /** The most common answer, normalised. */
  multipleChoiceAnswer?: string;
  answerType?: string;
  questionType?: string;
  /** Item type tag (e.g. colour, count, relation) where the file carries one, as the generated world does. */
  type?: string;
}

export interface VqaReadOptions {
  maxBadFraction?: number;
  /** Check each question's image exists here. */
  imageDir?: string;
  /** File name of an image id inside imageDir; default COCO naming `COCO_<data_subtype>_<id:012>.jpg`. */
  imageFileName?: (imageId: number, dataSubtype: string | undefined) => string;
  /** Alternatively (or also): the image ids known to exist, e.g. from a COCO captions file. */
  imageIds?: ReadonlySet<number>;
}

export interface VqaDataset {
  questionsFile: string;
  annotationsFile?: string;
  dataSubtype?: string;
  questions: VqaQuestion[];
  skipped: Problem[];
}

export function cocoImageFileName(imageId: number, dataSubtype: string | undefined): string {
  if (!dataSubtype) throw new DataError({ file: '<options>', message: 'COCO image naming needs data_subtype (e.g. train2014) in the questions file, or pass imageFileName' });
  return `COCO_${dataSubtype}_${String(imageId).padStart(12, '0')}.jpg`;
}

/**
 * Read VQA v2 `v2_OpenEnded_mscoco_<subtype>_questions.json` and, for train/val, the matching
 * `v2_mscoco_<subtype>_annotations.json`. Answers are normalised as the official evaluation does.
 */
export function readVqa(questionsFile: string, annotationsFile?: string, opts: VqaReadOptions = {}): VqaDataset {
  const qTop = validate(QuestionsFile, readJson(questionsFile, 'VQA questions file'), questionsFile);
  if (isProblems(qTop)) throw new DataError(qTop);
  const log = new ProblemLog(`VQA ${questionsFile}`, opts.maxBadFraction ?? 0);
  const index = opts.imageDir ? new FileIndex(opts.imageDir) : undefined;
  const fileName = opts.imageFileName ?? cocoImageFileName;

  const byId = new Map<number, { q: VqaQuestion; at: number }>();
  qTop.questions.forEach((raw, i) => {
    const q = validate(Question, raw, questionsFile, ['questions', i]);
    if (isProblems(q)) return log.add(q);
    const where = { file: questionsFile, path: `questions[${i}]`, item: `question ${q.question_id}` };
    if (byId.has(q.question_id)) return log.add({ ...where, message: `duplicate question_id ${q.question_id}` });
    if (!q.question.trim()) return log.add({ ...where, path: `${where.path}.question`, message: 'empty question' });
    if (opts.imageIds && !opts.imageIds.has(q.image_id)) return log.add({ ...where, message: `image ${q.image_id} is not among the known images` });
    let imageFile: string | undefined;
    if (index) {
      imageFile = fileName(q.image_id, qTop.data_subtype);
      // COCO images are JPEG; a PNG of the same name (the generated world writes PNG) is accepted by the default naming.
      if (!opts.imageFileName && !index.has(imageFile) && index.has(imageFile.replace(/\.jpg$/, '.png'))) imageFile = imageFile.replace(/\.jpg$/, '.png');
      if (!index.has(imageFile)) return log.add({ ...where, message: `image ${q.image_id}: file ${index.path(imageFile)} does not exist` });
    }
    byId.set(q.question_id, { q: { questionId: q.question_id, imageId: q.image_id, question: q.question.trim(), imageFile, ...(q.type !== undefined ? { type: q.type } : {}) }, at: i });
  });
  let total = qTop.questions.length;

  if (annotationsFile) {
    const aTop = validate(AnnotationsFile, readJson(annotationsFile, 'VQA annotations file'), annotationsFile);
    if (isProblems(aTop)) throw new DataError(aTop);
    total += aTop.annotations.length;
    const annotated = new Set<number>();
    aTop.annotations.forEach((raw, i) => {
      const a = validate(Annotation, raw, annotationsFile, ['annotations', i]);
      if (isProblems(a)) return log.add(a);
      const where = { file: annotationsFile, path: `annotations[${i}]`, item: `question ${a.question_id}` };
      if (annotated.has(a.question_id)) return log.add({ ...where, message: `duplicate annotation for question_id ${a.question_id}` });
      annotated.add(a.question_id);
      const entry = byId.get(a.question_id);
      if (!entry) return log.add({ ...where, message: `question_id ${a.question_id} is not in ${questionsFile} (or was skipped there)` });
      if (entry.q.imageId !== a.image_id) return log.add({ ...where, path: `${where.path}.image_id`, message: `image_id ${a.image_id} differs from the question's image_id ${entry.q.imageId}` });
      if (a.answers.length !== VQA_ANSWERS_PER_QUESTION) {
        return log.add({ ...where, path: `${where.path}.answers`, message: `has ${a.answers.length} answers; VQA v2 has ${VQA_ANSWERS_PER_QUESTION} per question` });
      }
      entry.q.answers = a.answers.map((x) => normalizeVqaAnswer(x.answer));
      entry.q.multipleChoiceAnswer = normalizeVqaAnswer(a.multiple_choice_answer);
      entry.q.answerType = a.answer_type;
      entry.q.questionType = a.question_type;
    });
    for (const [id, { at }] of byId) {
      if (!annotated.has(id)) log.add({ file: questionsFile, path: `questions[${at}]`, item: `question ${id}`, message: `has no annotation in ${annotationsFile}` });
    }
  }
  log.finish(total);
  const bad = new Set(log.skipped.map((p) => p.item));
  const questions = [...byId.values()].map((e) => e.q).filter((q) => !bad.has(`question ${q.questionId}`));
  return { questionsFile, annotationsFile, dataSubtype: qTop.data_subtype, questions, skipped: log.skipped };
}

export interface AnswerVocab {
  answers: string[];
  index: ReadonlyMap<string, number>;
}

/**
 * The answer vocabulary: the `topK` most frequent normalised `multiple_choice_answer`s (ties by
 * text, so it is deterministic), keeping only answers seen at least `minCount` times. The paper
 * (Sec. 4.3) uses 3129 answers, the bottom-up-attention vocabulary (answers seen ≥ 9 times).
 */
export function buildAnswerVocab(questions: readonly VqaQuestion[], { topK, minCount = 1 }: { topK: number; minCount?: number }): AnswerVocab {
  const counts = new Map<string, number>();
  for (const q of questions) {
    if (q.multipleChoiceAnswer !== undefined && q.multipleChoiceAnswer !== '') {
      counts.set(q.multipleChoiceAnswer, (counts.get(q.multipleChoiceAnswer) ?? 0) + 1);
    }
  }
  const answers = [...counts.entries()]
    .filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, topK)
    .map(([a]) => a);
  return { answers, index: new Map(answers.map((a, i) => [a, i])) };
}

export type SoftScoreMode = 'avg10' | 'min3';

/**
 * Score of an answer given by `matches` of the ten annotators.
 * - 'min3': min(1, matches / 3), the VQA accuracy formula as usually quoted.
 * - 'avg10' (default): the official evaluation's form — min(1, matches among the other 9 / 3)
 *   averaged over the 10 leave-one-annotator-out subsets. It gives 0.3, 0.6, 0.9, 1.0 for
 *   1, 2, 3, ≥4 matches — the table bottom-up-attention's training targets use.
 */
export function vqaAnswerScore(matches: number, mode: SoftScoreMode = 'avg10', annotators = VQA_ANSWERS_PER_QUESTION): number {
  if (mode === 'min3') return Math.min(1, matches / 3);
  const held = matches * Math.min(1, (matches - 1) / 3) + (annotators - matches) * Math.min(1, matches / 3);
  return Math.max(0, held / annotators);
}

/** Sparse soft target over the answer vocabulary; answers outside it are dropped (counted in `outOfVocab`). */
export function vqaSoftTarget(answers: readonly string[], vocab: AnswerVocab, mode: SoftScoreMode = 'avg10'): { indices: number[]; scores: number[]; outOfVocab: number } {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  const indices: number[] = [];
  const scores: number[] = [];
  let outOfVocab = 0;
  for (const [a, c] of [...counts.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    const i = vocab.index.get(a);
    if (i === undefined) {
      outOfVocab += c;
      continue;
    }
    indices.push(i);
    scores.push(vqaAnswerScore(c, mode, answers.length));
  }
  return { indices, scores, outOfVocab };
}
