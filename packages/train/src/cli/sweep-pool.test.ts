import { describe, expect, it } from 'vitest';
import { pickNext, type PoolJob } from './sweep-pool';

const job = (label: string, cost: number, order: number, after?: PoolJob): PoolJob => ({ label, tag: `[${label}] `, cost, order, rerun: `rerun ${label}`, ...(after ? { after } : {}) });

/** Starts jobs as `lanes` processes would, each taking `cost` time units (init jobs: `initTime`); returns (label, start time) in start order. */
function simulate(list: PoolJob[], lanes: number, exitOf: (j: PoolJob) => number = () => 0, initTime: Record<string, number> = {}) {
  const queue = [...list];
  const codes = new Map<PoolJob, number | null>();
  const running: { job: PoolJob; end: number }[] = [];
  const starts: [string, number][] = [];
  const blocked: string[] = [];
  let now = 0;
  for (;;) {
    while (running.length < lanes) {
      const { job, blocked: b } = pickNext(queue, codes);
      for (const x of b) {
        codes.set(x, null);
        blocked.push(x.label);
      }
      if (!job) break;
      starts.push([job.label, now]);
      running.push({ job, end: now + (Number.isFinite(job.cost) ? job.cost : (initTime[job.label] ?? 1)) });
    }
    if (!running.length) break;
    running.sort((a, b) => a.end - b.end);
    const done = running.shift()!;
    now = done.end;
    codes.set(done.job, exitOf(done.job));
  }
  return { starts, blocked, end: now, left: queue.map((j) => j.label) };
}

describe('the sweep pool', () => {
  const initA = job('init A', Infinity, -500);
  const initB = job('init B', Infinity, -100);
  const rowsA = [job('r4', 8, 4, initA), job('r1', 3, 1, initA), job('r5', 7, 5, initA)];
  const r6 = job('r6', 9, 6, initB);

  it('starts no row before the init job of its backbone has finished, and the costliest ready row first', () => {
    const { starts, end } = simulate([initA, initB, ...rowsA, r6], 2, () => 0, { 'init A': 2, 'init B': 4 });
    // r4 starts when init A ends (init B still runs), r6 when init B ends, then r5 and r1 as lanes free
    expect(starts).toEqual([['init A', 0], ['init B', 0], ['r4', 2], ['r6', 4], ['r5', 10], ['r1', 13]]);
    expect(end).toBe(17);
    // one lane: both inits, then the rows costliest first
    expect(simulate([initA, initB, ...rowsA, r6], 1).starts.map(([l]) => l)).toEqual(['init A', 'init B', 'r6', 'r4', 'r5', 'r1']);
  });

  it('lets the rows of a finished init start while the other backbone\'s init still runs', () => {
    const slowB = job('init B', Infinity, -100);
    const r6b = job('r6', 9, 6, slowB);
    const queue = [slowB, r6b, ...rowsA.map((r) => ({ ...r, after: initA }))];
    const codes = new Map<PoolJob, number | null>([[initA, 0]]);
    // init B started (taken off the queue), still running: r6 waits, r4 goes
    queue.splice(0, 1);
    expect(pickNext(queue, codes).job!.label).toBe('r4');
    expect(pickNext(queue, codes).job!.label).toBe('r5');
    expect(pickNext(queue, codes).job!.label).toBe('r1');
    expect(pickNext(queue, codes).job).toBeNull();
    expect(queue.map((j) => j.label)).toEqual(['r6']);
    codes.set(slowB, 0);
    expect(pickNext(queue, codes).job!.label).toBe('r6');
  });

  it('takes out the rows of a failed init job (reported, never started) and runs the others', () => {
    const { starts, blocked, left } = simulate([initA, initB, ...rowsA, r6], 2, (j) => (j === initB ? 1 : 0));
    expect(blocked).toEqual(['r6']);
    expect(starts.map(([l]) => l)).toEqual(['init A', 'init B', 'r4', 'r5', 'r1']);
    expect(left).toEqual([]);
  });

  it('breaks cost ties by order, and with one lane runs everything one after another', () => {
    const a = job('a', 5, 2);
    const b = job('b', 5, 1);
    const c = job('c', 6, 3);
    const { starts, end } = simulate([a, b, c], 1);
    expect(starts).toEqual([['c', 0], ['b', 6], ['a', 11]]);
    expect(end).toBe(16);
  });
});
