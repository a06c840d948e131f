// Text about scenes: captions, region phrases, VQA questions with ten annotator answers, and
// NLVR²-style statements about image pairs. Every item carries a `type` so results can be read
// per type, and the generators balance answers/labels so that the text alone cannot answer:
// the next answer is always the one seen least often so far (within its type) among the answers
// this image can support, and question parameters are then drawn among those giving that answer.

import type { Rng } from '../rng';
import {
  COLOURS,
  RELATIONS,
  SHAPES,
  countObjects,
  describeObject,
  objectBox,
  relationHolds,
  unionBox,
  uniqueRef,
  type Attribute,
  type Colour,
  type Relation,
  type Scene,
  type SceneObject,
  type Shape,
} from './world';

export const CAPTION_TYPES = ['scene', 'colour', 'shape', 'count', 'relation'] as const;
export type CaptionType = (typeof CAPTION_TYPES)[number];
export const VQA_TYPES = ['colour', 'shape', 'count', 'existence', 'relation'] as const;
export type VqaType = (typeof VQA_TYPES)[number];
export const NLVR2_TYPES = ['comparison', 'existence', 'count', 'relation'] as const;
export type Nlvr2Type = (typeof NLVR2_TYPES)[number];

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
const numberWord = (n: number): string => NUMBER_WORDS[n] ?? String(n);
export const plural = (s: Shape): string => (s === 'cross' ? 'crosses' : `${s}s`);
const article = (phrase: string): string => (/^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`);
const REL_TEXT: Record<Relation, string> = {
  'left of': 'to the left of',
  'right of': 'to the right of',
  above: 'above',
  below: 'below',
};

function listJoin(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// ---- captions ---------------------------------------------------------------------------------

export interface Caption {
  raw: string;
  type: CaptionType;
}

/** Objects with a unique description that avoids `forbidden`, paired with that description. */
function referable(scene: Scene, forbidden: Attribute[], prefer?: Attribute[]): { o: SceneObject; ref: string }[] {
  const out: { o: SceneObject; ref: string }[] = [];
  for (const o of scene.objects) {
    const attrs = uniqueRef(scene, o, forbidden, prefer);
    if (attrs) out.push({ o, ref: describeObject(o, attrs) });
  }
  return out;
}

/** Ordered pairs (a, b) with a clear relation, and that relation. */
function relatedPairs(scene: Scene): { a: SceneObject; b: SceneObject; rel: Relation }[] {
  const out: { a: SceneObject; b: SceneObject; rel: Relation }[] = [];
  for (const a of scene.objects)
    for (const b of scene.objects)
      if (a !== b) for (const rel of RELATIONS) if (relationHolds(a, b, rel, scene.width) === true) out.push({ a, b, rel });
  return out;
}

/** A caption of the given type, or null when this scene cannot support one (e.g. a relation with one object). */
export function captionOf(scene: Scene, type: CaptionType, rng: Rng): string | null {
  const objs = scene.objects;
  switch (type) {
    case 'scene': {
      const parts = rng.shuffle([...objs]).map((o) => article(describeObject(o, ['size', 'texture', 'colour', 'shape'])));
      // Short leads: four fully described objects already take ~26 tokens with [CLS]/[SEP].
      const lead = rng.pick(['', 'a picture of ', 'there is ']);
      return capitalise(`${lead}${listJoin(parts)}.`);
    }
    case 'colour': {
      const refs = rng.shuffle(referable(scene, ['colour'])).slice(0, 2);
      if (refs.length === 0) return null;
      const verb = rng.pick(['is', 'is colored']);
      return capitalise(`${refs.map(({ o, ref }) => `the ${ref} ${verb} ${o.colour}`).join(' and ')}.`);
    }
    case 'shape': {
      const refs = rng.shuffle(referable(scene, ['shape'])).slice(0, 2);
      if (refs.length === 0) return null;
      return capitalise(`${refs.map(({ o, ref }) => `the ${ref} is ${article(o.shape)}`).join(' and ')}.`);
    }
    case 'count': {
      // No bare "there are N objects": true of a third of all images, it would make ITM negatives
      // and retrieval distractors true captions of the image far more often than real captions are.
      const style = 1 + rng.int(2);
      const byShape = SHAPES.map((s) => [s, countObjects(scene, (o) => o.shape === s)] as const).filter(([, n]) => n > 0);
      if (style === 1)
        return capitalise(
          `${listJoin(byShape.map(([s, n]) => `${numberWord(n)} ${n === 1 ? s : plural(s)}`))} on a gray background.`,
        );
      const byColour = COLOURS.map((c) => [c, countObjects(scene, (o) => o.colour === c)] as const).filter(([, n]) => n > 0);
      const verb = byColour[0]?.[1] === 1 ? 'there is' : 'there are'; // agrees with the first item
      return capitalise(`${verb} ${listJoin(byColour.map(([c, n]) => `${numberWord(n)} ${c} ${n === 1 ? 'object' : 'objects'}`))}.`);
    }
    case 'relation': {
      const pairs = relatedPairs(scene);
      if (pairs.length === 0) return null;
      const p = rng.pick(pairs);
      const ra = uniqueRef(scene, p.a, [], ['colour', 'shape']);
      const rb = uniqueRef(scene, p.b, [], ['colour', 'shape']);
      const da = ra ? `the ${describeObject(p.a, ra)}` : article(describeObject(p.a, ['colour', 'shape']));
      const db = rb ? `the ${describeObject(p.b, rb)}` : article(describeObject(p.b, ['colour', 'shape']));
      return capitalise(`${da} is ${REL_TEXT[p.rel]} ${db}.`);
    }
  }
}

/**
 * `n` captions: each type once (in random order), cycling through the types when n > 5; a type
 * the scene cannot support is replaced by the next one that it can ("scene" always can).
 */
export function captionsFor(scene: Scene, n: number, rng: Rng): Caption[] {
  const order = rng.shuffle([...CAPTION_TYPES]);
  const out: Caption[] = [];
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < order.length; t++) {
      const type = order[(i + t) % order.length] as CaptionType;
      const raw = captionOf(scene, type, rng);
      if (raw !== null) {
        out.push({ raw, type });
        break;
      }
    }
  }
  return out;
}

// ---- Visual Genome-style regions --------------------------------------------------------------

export interface Region {
  phrase: string;
  box: [number, number, number, number];
  type: 'object' | 'relation';
}

/** One phrase per object (a random subset of its attributes, always its shape) plus up to two relation regions. */
export function regionsFor(scene: Scene, rng: Rng): Region[] {
  const out: Region[] = [];
  for (const o of scene.objects) {
    const attrs: Attribute[] = ['shape', ...(['size', 'texture', 'colour'] as Attribute[]).filter(() => rng.bernoulli(0.6))];
    const lead = rng.pick(['', 'a ', 'the ']);
    let phrase = describeObject(o, attrs);
    if (lead === 'a ') phrase = article(phrase);
    else phrase = lead + phrase;
    out.push({ phrase, box: objectBox(o), type: 'object' });
  }
  const pairs = rng.shuffle(relatedPairs(scene)).slice(0, 2);
  for (const p of pairs) {
    out.push({
      phrase: `${describeObject(p.a, ['colour', 'shape'])} ${REL_TEXT[p.rel]} ${describeObject(p.b, ['colour', 'shape'])}`,
      box: unionBox([objectBox(p.a), objectBox(p.b)]),
      type: 'relation',
    });
  }
  return out;
}

// ---- VQA --------------------------------------------------------------------------------------

export interface VqaCandidate {
  /** Question pattern, e.g. "how many <shape>s": answers are balanced per pattern, not just per type. */
  template: string;
  question: string;
  answer: string;
  /** The real VQA `question_type`: the question's opening words. */
  questionType: string;
  answerType: 'yes/no' | 'number' | 'other';
}

function vqaCandidates(scene: Scene, type: VqaType): VqaCandidate[] {
  const out: VqaCandidate[] = [];
  switch (type) {
    case 'colour':
      for (const { o, ref } of referable(scene, ['colour']))
        out.push({ template: 'what-color', question: `What color is the ${ref}?`, answer: o.colour, questionType: 'what color is the', answerType: 'other' });
      break;
    case 'shape':
      for (const { o, ref } of referable(scene, ['shape']))
        out.push({ template: 'what-shape', question: `What shape is the ${ref}?`, answer: o.shape, questionType: 'what shape is the', answerType: 'other' });
      break;
    case 'count':
      for (const s of SHAPES)
        out.push({
          template: 'how-many-shape',
          question: `How many ${plural(s)} are there?`,
          answer: String(countObjects(scene, (o) => o.shape === s)),
          questionType: 'how many',
          answerType: 'number',
        });
      for (const c of COLOURS)
        out.push({
          template: 'how-many-colour',
          question: `How many ${c} objects are in the picture?`,
          answer: String(countObjects(scene, (o) => o.colour === c)),
          questionType: 'how many',
          answerType: 'number',
        });
      out.push({ template: 'how-many-objects', question: 'How many objects are there?', answer: String(scene.objects.length), questionType: 'how many', answerType: 'number' });
      break;
    case 'existence':
      for (const c of COLOURS)
        for (const s of SHAPES) {
          const yes = countObjects(scene, (o) => o.colour === c && o.shape === s) > 0;
          out.push({ template: 'is-there', question: `Is there ${article(`${c} ${s}`)}?`, answer: yes ? 'yes' : 'no', questionType: 'is there a', answerType: 'yes/no' });
        }
      for (const s of SHAPES) {
        const yes = countObjects(scene, (o) => o.shape === s) > 0;
        out.push({ template: 'are-there-any', question: `Are there any ${plural(s)}?`, answer: yes ? 'yes' : 'no', questionType: 'are there any', answerType: 'yes/no' });
      }
      break;
    case 'relation': {
      const refs = referable(scene, [], ['colour', 'shape']);
      for (const a of refs)
        for (const b of refs) {
          if (a === b) continue;
          for (const rel of RELATIONS) {
            const holds = relationHolds(a.o, b.o, rel, scene.width);
            if (holds === null) continue;
            out.push({
              template: 'is-the-rel',
              question: `Is the ${a.ref} ${REL_TEXT[rel]} the ${b.ref}?`,
              answer: holds ? 'yes' : 'no',
              questionType: 'is the',
              answerType: 'yes/no',
            });
          }
        }
      break;
    }
  }
  return out;
}

/** Keeps the answer distribution of each type flat across a split (see the file comment). */
export class AnswerBalancer {
  private readonly counts = new Map<string, Map<string, number>>();

  /** How often `answer` has been given for `key` so far. */
  seen(key: string, answer: string): number {
    return this.counts.get(key)?.get(answer) ?? 0;
  }

  record(key: string, answer: string): void {
    const m = this.counts.get(key) ?? new Map<string, number>();
    m.set(answer, (m.get(answer) ?? 0) + 1);
    this.counts.set(key, m);
  }

  /** Chooses among `options` the answer seen least for `key` (ties broken by rng) and records it. */
  choose<T extends { answer: string }>(key: string, options: T[], rng: Rng): T | null {
    if (options.length === 0) return null;
    const answers = [...new Set(options.map((o) => o.answer))].sort();
    let best = Infinity;
    for (const a of answers) best = Math.min(best, this.seen(key, a));
    const answer = rng.pick(answers.filter((a) => this.seen(key, a) === best));
    this.record(key, answer);
    return rng.pick(options.filter((o) => o.answer === answer));
  }

  /**
   * Chooses among the (key, answer) combinations `options` offer one whose answer is the least
   * seen so far in `group` (the question type), uniformly over such combinations — so each question
   * pattern (key) is about equally likely whatever the answer, however many concrete questions it
   * has — records it, and returns a random option with it. Picking the answer first and then a
   * uniform question (as `choose` does) let patterns with many questions ("is there a <colour>
   * <shape>?", 24 of them) take most "no"s: text-only accuracy on existence 0.64 instead of ≈ 0.5.
   */
  chooseKeyed<T extends { key: string; answer: string }>(options: T[], rng: Rng, group: string): T | null {
    if (options.length === 0) return null;
    const combos = [...new Set(options.map((o) => `${o.key}\u0000${o.answer}`))].sort();
    const answerOf = (c: string): string => c.split('\u0000')[1] as string;
    let best = Infinity;
    for (const c of combos) best = Math.min(best, this.seen(group, answerOf(c)));
    const combo = rng.pick(combos.filter((c) => this.seen(group, answerOf(c)) === best));
    const [key, answer] = combo.split('\u0000') as [string, string];
    this.record(key, answer);
    this.record(group, answer);
    return rng.pick(options.filter((o) => o.key === key && o.answer === answer));
  }

  /** Answer counts per key, sorted for stable printing. */
  table(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const k of [...this.counts.keys()].sort()) {
      const m = this.counts.get(k) as Map<string, number>;
      out[k] = Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return out;
  }
}

export interface VqaItem extends VqaCandidate {
  type: VqaType;
}

/** `n` questions about one scene, types taken round-robin starting at `offset`, answers balanced per type. */
export function questionsFor(scene: Scene, n: number, offset: number, balancer: AnswerBalancer, rng: Rng): VqaItem[] {
  const out: VqaItem[] = [];
  const asked = new Set<string>();
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < VQA_TYPES.length; t++) {
      const type = VQA_TYPES[(offset + i + t) % VQA_TYPES.length] as VqaType;
      const cands = vqaCandidates(scene, type)
        .filter((c) => !asked.has(c.question))
        .map((c) => ({ ...c, key: `${type}/${c.template}` }));
      const picked = balancer.chooseKeyed(cands, rng, type);
      const chosen = picked && (({ key: _key, ...c }) => c)(picked);
      if (chosen) {
        asked.add(chosen.question);
        out.push({ ...chosen, type });
        break;
      }
    }
  }
  return out;
}

/**
 * Enough of the VQA answer normalisation to group this generator's own surface variants (case,
 * trailing punctuation, articles, number words); the readers apply the full official one.
 */
export function roughNormalise(a: string): string {
  let s = a.toLowerCase().trim().replace(/[.!?]+$/, '');
  s = s.replace(/^(a|an|the) /, '');
  const i = NUMBER_WORDS.indexOf(s);
  return i >= 0 ? String(i) : s;
}

/** Plausible wrong answers an annotator might give, per correct answer. */
const CONFUSIONS: Record<string, string[]> = {
  red: ['orange', 'pink', 'maroon'],
  orange: ['red', 'yellow', 'brown'],
  yellow: ['orange', 'gold', 'green'],
  green: ['blue', 'teal', 'yellow'],
  blue: ['purple', 'teal', 'navy'],
  purple: ['blue', 'pink', 'violet'],
  circle: ['oval', 'round', 'ball'],
  square: ['rectangle', 'box', 'diamond'],
  triangle: ['pyramid', 'arrow', 'diamond'],
  cross: ['plus', 'x', 'star'],
  yes: ['no'],
  no: ['yes'],
};

/** Ways of writing the correct answer that the official normalisation maps back to it. */
function surfaceVariant(answer: string, answerType: VqaCandidate['answerType'], rng: Rng): string {
  const n = Number(answer);
  switch (rng.int(6)) {
    case 0:
      return capitalise(answer);
    case 1:
      return `${answer}.`;
    case 2:
      if (answerType === 'number' && Number.isInteger(n)) return numberWord(n);
      if (answerType === 'other' && SHAPES.includes(answer as Shape)) return article(answer);
      return answer;
    case 3:
      return answerType === 'yes/no' ? `${answer}!` : answer;
    default:
      return answer;
  }
}

export interface VqaAnswer {
  answer: string;
  answer_confidence: 'yes' | 'maybe' | 'no';
  answer_id: number;
}

/**
 * Ten annotator answers. How many agree with the truth follows a skewed distribution like VQA v2's
 * (most questions near-unanimous, a tail of contested ones); agreeing answers vary in surface form
 * (case, punctuation, number words, articles) and the rest are plausible confusions.
 */
export function annotatorAnswers(c: VqaCandidate, rng: Rng): { answers: VqaAnswer[]; multipleChoice: string } {
  const agreeDist = [0, 0, 0, 0.02, 0.03, 0.05, 0.07, 0.09, 0.14, 0.2, 0.4]; // P(k of 10 agree)
  const k = rng.weighted(agreeDist);
  const wrongPool = (() => {
    if (c.answerType === 'number') {
      const n = Number(c.answer);
      return [String(n + 1), n > 0 ? String(n - 1) : String(n + 2)];
    }
    return CONFUSIONS[c.answer] ?? ['unsure'];
  })();
  const answers: VqaAnswer[] = [];
  for (let i = 0; i < 10; i++) {
    const agree = i < k;
    const answer = agree ? surfaceVariant(c.answer, c.answerType, rng) : rng.pick(wrongPool);
    const answer_confidence = agree ? (rng.bernoulli(0.85) ? 'yes' : 'maybe') : rng.pick(['yes', 'maybe', 'no'] as const);
    answers.push({ answer, answer_confidence, answer_id: i + 1 });
  }
  rng.shuffle(answers);
  answers.forEach((a, i) => (a.answer_id = i + 1)); // ids 1..10 in listed order, as in the real files
  // The real `multiple_choice_answer` is the most frequent answer; surface variants count as one.
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(roughNormalise(a.answer), (counts.get(roughNormalise(a.answer)) ?? 0) + 1);
  let multipleChoice = c.answer;
  for (const [w, n] of [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) if (n > (counts.get(c.answer) ?? 0)) multipleChoice = w;
  return { answers, multipleChoice };
}

// ---- NLVR² ------------------------------------------------------------------------------------

export interface Nlvr2Candidate {
  template: string;
  sentence: string;
  label: boolean;
}

const side = (i: 0 | 1): string => (i === 0 ? 'left' : 'right');

function nlvr2Candidates(pair: [Scene, Scene], type: Nlvr2Type): Nlvr2Candidate[] {
  const out: Nlvr2Candidate[] = [];
  const cnt = (i: 0 | 1, p: (o: SceneObject) => boolean): number => countObjects(pair[i], p);
  const has = (i: 0 | 1, p: (o: SceneObject) => boolean): boolean => cnt(i, p) > 0;
  switch (type) {
    case 'comparison':
      for (const s of SHAPES) {
        const l = cnt(0, (o) => o.shape === s);
        const r = cnt(1, (o) => o.shape === s);
        out.push({ template: 'more-shape', sentence: `The left image contains more ${plural(s)} than the right image.`, label: l > r });
        out.push({ template: 'more-shape', sentence: `The right image contains more ${plural(s)} than the left image.`, label: r > l });
        out.push({ template: 'same-shape', sentence: `Both images contain the same number of ${plural(s)}.`, label: l === r });
      }
      for (const c of COLOURS) {
        const l = cnt(0, (o) => o.colour === c);
        const r = cnt(1, (o) => o.colour === c);
        out.push({ template: 'fewer-colour', sentence: `The left image has fewer ${c} objects than the right image.`, label: l < r });
        out.push({ template: 'fewer-colour', sentence: `The right image has fewer ${c} objects than the left image.`, label: r < l });
      }
      {
        const l = pair[0].objects.length;
        const r = pair[1].objects.length;
        out.push({ template: 'more-objects', sentence: 'The left image contains more objects than the right image.', label: l > r });
        out.push({ template: 'more-objects', sentence: 'The right image contains more objects than the left image.', label: r > l });
      }
      break;
    case 'existence':
      for (const c of COLOURS)
        for (const s of SHAPES) {
          const p = (o: SceneObject): boolean => o.colour === c && o.shape === s;
          const l = has(0, p);
          const r = has(1, p);
          out.push({ template: 'both', sentence: `Both images contain ${article(`${c} ${s}`)}.`, label: l && r });
          out.push({ template: 'exactly-one', sentence: `Exactly one image contains ${article(`${c} ${s}`)}.`, label: l !== r });
          out.push({ template: 'side-has', sentence: `The left image contains ${article(`${c} ${s}`)}.`, label: l });
          out.push({ template: 'side-has', sentence: `The right image contains ${article(`${c} ${s}`)}.`, label: r });
        }
      for (const c of COLOURS) {
        const p = (o: SceneObject): boolean => o.colour === c;
        out.push({ template: 'neither', sentence: `Neither image contains a ${c} object.`, label: !has(0, p) && !has(1, p) });
      }
      break;
    case 'count':
      for (const s of SHAPES) {
        const total = cnt(0, (o) => o.shape === s) + cnt(1, (o) => o.shape === s);
        for (let n = 1; n <= 4; n++)
          // The number is part of the template: balancing "exactly four … in total" on its own keeps
          // the sentence from giving its label away (with n pooled, text-only accuracy was 0.69).
          out.push({ template: `total-shape-${n}`, sentence: `There ${n === 1 ? 'is' : 'are'} exactly ${numberWord(n)} ${n === 1 ? s : plural(s)} in total.`, label: total === n });
      }
      for (const i of [0, 1] as const)
        for (let n = 2; n <= 5; n++)
          out.push({ template: `side-objects-${n}`, sentence: `The ${side(i)} image shows exactly ${numberWord(n)} objects.`, label: pair[i].objects.length === n });
      break;
    case 'relation':
      for (const i of [0, 1] as const) {
        // Descriptors present in either image, so false statements mention plausible objects.
        const descs = new Map<string, { c: Colour; s: Shape }>();
        for (const sc of pair) for (const o of sc.objects) descs.set(`${o.colour} ${o.shape}`, { c: o.colour, s: o.shape });
        const ds = [...descs.values()];
        for (const a of ds)
          for (const b of ds) {
            if (a === b) continue;
            for (const rel of RELATIONS) {
              let truth = false;
              let clear = true;
              for (const oa of pair[i].objects)
                for (const ob of pair[i].objects) {
                  if (oa === ob || oa.colour !== a.c || oa.shape !== a.s || ob.colour !== b.c || ob.shape !== b.s) continue;
                  const h = relationHolds(oa, ob, rel, pair[i].width);
                  if (h === true) truth = true;
                  if (h === null) clear = false;
                }
              if (!truth && !clear) continue; // too close to call: never stated
              out.push({
                template: 'relation',
                sentence: `In the ${side(i)} image, ${article(`${a.c} ${a.s}`)} is ${REL_TEXT[rel]} ${article(`${b.c} ${b.s}`)}.`,
                label: truth,
              });
            }
          }
      }
      break;
  }
  return out;
}

/**
 * One statement for a pair, of the given type. The template is the least used so far within the
 * type, and the label the rarer one so far for that template, so P(label | template) ≈ ½.
 */
export function statementFor(pair: [Scene, Scene], type: Nlvr2Type, balancer: AnswerBalancer, rng: Rng): (Nlvr2Candidate & { type: Nlvr2Type }) | null {
  const cands = nlvr2Candidates(pair, type);
  const templates = [...new Set(cands.map((c) => c.template))].sort();
  const key = (t: string): string => `${type}/${t}`;
  const usage = (t: string): number => balancer.seen(key(t), 'true') + balancer.seen(key(t), 'false');
  const byUse = rng.shuffle(templates).sort((a, b) => usage(a) - usage(b));
  // First pass: the least-used template whose rarer label this pair can state; second pass: any.
  for (const strict of [true, false]) {
    for (const t of byUse) {
      const opts = cands.filter((c) => c.template === t);
      const nt = balancer.seen(key(t), 'true');
      const nf = balancer.seen(key(t), 'false');
      const want = nt === nf ? rng.bernoulli(0.5) : nt < nf;
      let pool = opts.filter((c) => c.label === want);
      if (pool.length === 0 && !strict) pool = opts;
      if (pool.length === 0) continue;
      const chosen = rng.pick(pool);
      balancer.record(key(t), String(chosen.label));
      return { ...chosen, type };
    }
  }
  return null; // e.g. a relation statement about two one-object images
}
