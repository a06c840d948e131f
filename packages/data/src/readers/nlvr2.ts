import { z } from 'zod';
import { DataError, FileIndex, isProblems, parseJson, ProblemLog, readText, validate } from './problems';
import type { Problem } from './problems';

// Identifiers are `<split>-<set>-<pair>-<sentence>`, e.g. `train-10171-0-0`; the pair's images are
// `<split>-<set>-<pair>-img0.png` and `-img1.png` (left, right). Train images sit in numbered
// sub-directories given by the `directory` field; dev/test1 images are flat.
const IDENTIFIER = /^([a-z0-9]+)-(\d+)-(\d+)-(\d+)$/;

const Line = z.object({
  identifier: z.string().regex(IDENTIFIER, 'expected <split>-<set>-<pair>-<sentence>, e.g. train-10171-0-0'),
  sentence: z.string(),
  type: z.string().optional(),
  // The released files spell labels "True"/"False"; accept any case.
  label: z.string().regex(/^(true|false)$/i, 'expected "True" or "False"'),
  directory: z.union([z.number().int(), z.string()]).optional(),
  left_url: z.string().optional(),
  right_url: z.string().optional(),
});

export interface Nlvr2Item {
  identifier: string;
  sentence: string;
  label: boolean;
  /** Image file paths relative to the split's image directory: [left (img0), right (img1)]. */
  images: [string, string];
  /** `<split>-<set>-<pair>`: items sharing it share both images. */
  pairId: string;
  /** Item type tag (e.g. colour, count, relation) where the file carries one, as the generated world does. */
  type?: string;
}
export interface Nlvr2Dataset {
  file: string;
  items: Nlvr2Item[];
  skipped: Problem[];
}

export function nlvr2ImageNames(identifier: string, directory?: number | string): [string, string] {
  const m = IDENTIFIER.exec(identifier);
  if (!m) throw new DataError({ file: '<identifier>', item: identifier, message: 'expected <split>-<set>-<pair>-<sentence>' });
  const stem = `${m[1]}-${m[2]}-${m[3]}`;
  const dir = directory !== undefined ? `${directory}/` : '';
  return [`${dir}${stem}-img0.png`, `${dir}${stem}-img1.png`];
}

/** Read an NLVR² `train.json` / `dev.json` / `test1.json` (one JSON object per line). */
export function readNlvr2(file: string, opts: { maxBadFraction?: number; imageDir?: string } = {}): Nlvr2Dataset {
  const text = readText(file, 'NLVR2 file');
  const log = new ProblemLog(`NLVR2 ${file}`, opts.maxBadFraction ?? 0);
  const index = opts.imageDir ? new FileIndex(opts.imageDir) : undefined;
  const items: Nlvr2Item[] = [];
  const seen = new Set<string>();
  let total = 0;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    total++;
    let value: unknown;
    try {
      value = parseJson(raw, file, line - 1);
    } catch (e) {
      return log.add(e instanceof DataError ? e.problems.map((p) => ({ ...p, line, item: `line ${line}` })) : { file, line, message: String(e) });
    }
    const it = validate(Line, value, file, [], `line ${line}`);
    if (isProblems(it)) return log.add(it.map((p) => ({ ...p, line })));
    const where = { file, line, item: it.identifier };
    if (seen.has(it.identifier)) return log.add({ ...where, message: `duplicate identifier ${it.identifier}` });
    seen.add(it.identifier);
    if (!it.sentence.trim()) return log.add({ ...where, path: 'sentence', message: 'empty sentence' });
    const images = nlvr2ImageNames(it.identifier, it.directory);
    if (index) {
      const missing = images.filter((p) => !index.has(p));
      if (missing.length) return log.add({ ...where, message: `image file(s) missing: ${missing.map((p) => index.path(p)).join(', ')}` });
    }
    items.push({ identifier: it.identifier, sentence: it.sentence.trim(), label: it.label.toLowerCase() === 'true', images, pairId: it.identifier.replace(/-\d+$/, ''), ...(it.type !== undefined ? { type: it.type } : {}) });
  });
  if (total === 0) throw new DataError({ file, message: 'no items (expected one JSON object per line)' });
  log.finish(total);
  return { file, items, skipped: log.skipped };
}
