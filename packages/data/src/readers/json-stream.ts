import { closeSync, openSync, readSync } from 'node:fs';
import { checkFile, DataError, parseJson } from './problems';

type State = 'start' | 'between' | 'item' | 'end';

/**
 * Calls `onItem` for each element of a file whose top level is a JSON array, without holding
 * the whole file as one string: Visual Genome's region_descriptions.json (~700 MB) is longer
 * than V8's maximum string length, so JSON.parse of the whole file cannot work. Elements are
 * cut out byte-wise (tracking strings, escapes and nesting depth) and parsed one by one; a syntax
 * error names the element index and its line.
 */
export function forEachJsonArrayItem(file: string, what: string, onItem: (value: unknown, index: number) => void, chunkBytes = 1 << 22): void {
  checkFile(file, what);
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(chunkBytes);
    let line = 1;
    let state = 'start' as State;
    let depth = 0;
    let inString = false;
    let escape = false;
    let parts: Buffer[] = [];
    let itemLine = 1;
    let index = 0;
    const emit = () => {
      const text = Buffer.concat(parts).toString('utf8');
      parts = [];
      const value = (() => {
        try {
          return parseJson(text, file, itemLine - 1);
        } catch (e) {
          if (e instanceof DataError) throw new DataError(e.problems.map((p) => ({ ...p, path: `[${index}]` })));
          throw e;
        }
      })();
      onItem(value, index++);
    };
    const bad = (what: string): never => {
      throw new DataError({ file, line, message: `malformed JSON: ${what} (expected a top-level array)` });
    };
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      let itemStart = state === 'item' ? 0 : -1;
      for (let i = 0; i < n; i++) {
        const c = buf[i]!;
        if (c === 0x0a) line++;
        if (state === 'item') {
          if (inString) {
            if (escape) escape = false;
            else if (c === 0x5c) escape = true;
            else if (c === 0x22) inString = false;
            continue;
          }
          if (c === 0x22) inString = true;
          else if (c === 0x7b || c === 0x5b) depth++;
          else if (c === 0x7d || c === 0x5d) {
            if (depth === 0) {
              // `]` closing the top-level array right after an element.
              parts.push(Buffer.from(buf.subarray(itemStart, i)));
              emit();
              state = 'end';
              continue;
            }
            depth--;
          } else if (c === 0x2c && depth === 0) {
            parts.push(Buffer.from(buf.subarray(itemStart, i)));
            emit();
            state = 'between';
          }
          continue;
        }
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (state === 'start') {
          if (c !== 0x5b) bad(`found ${JSON.stringify(String.fromCharCode(c))} at the start`);
          state = 'between';
        } else if (state === 'between') {
          if (c === 0x5d && index === 0) state = 'end';
          else if (c === 0x5d || c === 0x2c) bad(`unexpected ${String.fromCharCode(c)} after element ${index - 1}`);
          else {
            state = 'item';
            itemStart = i;
            itemLine = line;
            depth = 0;
            i--; // re-read this (non-blank) byte as the element's first
          }
        } else {
          bad('content after the closing ]');
        }
      }
      if (state === 'item') parts.push(Buffer.from(buf.subarray(itemStart, n)));
    }
    // (Read through a function: TypeScript cannot see the loop's assignments here.)
    const last = (): State => state;
    if (last() !== 'end') bad(last() === 'start' ? 'empty file' : 'the file ends before the closing ]');
  } finally {
    closeSync(fd);
  }
}
