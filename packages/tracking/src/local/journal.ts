import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { WireNumber } from '../limits';
import type { DatasetInput } from '../rest/client';

/**
 * The local store is a journal of events, one JSON object per line, appended as they happen
 * (`<runsDir>/<runId>/journal.jsonl`). Each write is a single write(2) of a whole line to a file
 * opened with O_APPEND, so a crash or `kill -9` loses at most the line being written; a reader
 * skips a torn last line. Format version 1 — see docs/tracking.md.
 */
export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

export type JournalBody =
  | {
      type: 'start';
      v: 1;
      runId: string;
      experiment: string;
      runName: string;
      /** Local id of the parent run (translated to the server's id on delivery). */
      parentRunId: string | null;
      time: number;
      tags: Record<string, string>;
    }
  | { type: 'params'; params: Record<string, string> }
  | { type: 'metrics'; step: number; time: number; values: Record<string, WireNumber> }
  | { type: 'tags'; tags: Record<string, string> }
  | { type: 'artifact'; path: string; size: number; sha256: string }
  | { type: 'input'; dataset: DatasetInput }
  | { type: 'end'; status: RunStatus; time: number };

export type JournalEvent = JournalBody & { seq: number };

export const JOURNAL_FILE = 'journal.jsonl';

export class JournalWriter {
  #fd: number | null;
  #seq: number;

  constructor(readonly file: string) {
    // A run is written by one process; appending to an existing journal continues its sequence.
    this.#seq = existsSync(file) ? readJournal(file).events.length : 0;
    this.#fd = openSync(file, 'a');
  }

  get nextSeq(): number {
    return this.#seq;
  }

  append(body: JournalBody): JournalEvent {
    if (this.#fd === null) throw new Error(`journal ${this.file} is closed`);
    const ev = { seq: this.#seq, ...body } as JournalEvent;
    writeSync(this.#fd, JSON.stringify(ev) + '\n');
    this.#seq++;
    return ev;
  }

  close(): void {
    if (this.#fd === null) return;
    fsyncSync(this.#fd); // the run is over: make it durable beyond the page cache
    closeSync(this.#fd);
    this.#fd = null;
  }
}

export interface JournalContents {
  events: JournalEvent[];
  /** A last line without its newline (a write cut short by a crash); it is ignored. */
  tornTail: boolean;
}

export function readJournal(file: string): JournalContents {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const events: JournalEvent[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    let ev: JournalEvent;
    try {
      ev = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not a JSON journal line (${(e as Error).message}); the journal is damaged there`);
    }
    if (ev.seq !== events.length) {
      throw new Error(`${file}:${i + 1}: expected event seq ${events.length}, found ${ev.seq}; the journal is damaged there`);
    }
    events.push(ev);
  });
  return { events, tornTail: last.length > 0 };
}
