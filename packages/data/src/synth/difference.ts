// What tells two captions of the generated world apart: the kind of attribute in which their words
// differ. Pre-training's hard ITM negatives differ from the positive in an attribute or two; held-out
// ITM accuracy per kind says which attributes a model has bound to the pixels (a negative that
// differs only in colour is told apart only by a model that reads colour).
import { COLOURS, RELATIONS, SHAPES, SIZES, TEXTURES } from './world';

export const DIFFERENCE_KINDS = ['count', 'shape', 'colour', 'size', 'texture', 'relation', 'order', 'wording'] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

/** Coarsest first: a pair that differs in count and colour is a `count` pair (counting tells it apart). */
const ATTRIBUTES = ['count', 'shape', 'colour', 'size', 'texture', 'relation'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

const SHAPE_PLURALS: Record<string, string> = Object.fromEntries(SHAPES.map((s) => [s === 'cross' ? 'crosses' : `${s}s`, s]));
const ATTRIBUTE_OF = new Map<string, Attribute>([
  ...COLOURS.map((w) => [w, 'colour'] as const),
  ...SHAPES.map((w) => [w, 'shape'] as const),
  ...SIZES.map((w) => [w, 'size'] as const),
  ...TEXTURES.map((w) => [w, 'texture'] as const),
  ...RELATIONS.flatMap((r) => r.split(' ')).filter((w) => w !== 'of').map((w) => [w, 'relation'] as const),
  ...['no', 'one', 'two', 'three', 'four'].map((w) => [w, 'count'] as const),
]);

/** Words of a caption as the generator writes them (lower case, punctuation dropped), shape plurals made singular. */
function normalised(words: readonly string[]): string[] {
  return words.map((w) => w.toLowerCase().replace(/[^a-z]/g, '')).filter((w) => w !== '').map((w) => SHAPE_PLURALS[w] ?? w);
}

/**
 * The kind of difference between two captions' words: of the attribute kinds among the words one has
 * and the other lacks (counted with multiplicity), the coarsest — count, then shape, colour, size,
 * texture, relation — so `colour` means the captions agree on count and shapes and differ in a colour
 * (the pair only a model that reads colour tells apart); `order` when both have the same words in
 * another order (a relation or an attribute swapped between the objects); `wording` when only
 * template words differ.
 */
export function captionDifference(a: readonly string[], b: readonly string[]): DifferenceKind {
  const wa = normalised(a);
  const wb = normalised(b);
  const count = new Map<string, number>();
  for (const w of wa) count.set(w, (count.get(w) ?? 0) + 1);
  for (const w of wb) count.set(w, (count.get(w) ?? 0) - 1);
  const kinds = new Set<Attribute>();
  let differ = false;
  for (const [w, c] of count) {
    if (c === 0) continue;
    differ = true;
    const k = ATTRIBUTE_OF.get(w);
    if (k) kinds.add(k);
  }
  const first = ATTRIBUTES.find((k) => kinds.has(k));
  if (first) return first;
  if (!differ) return wa.join(' ') === wb.join(' ') ? 'wording' : 'order';
  return 'wording';
}
