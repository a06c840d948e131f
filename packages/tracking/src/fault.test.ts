import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { MlflowClient } from './rest/client';
import { serverCommand } from './testing/server';
import { openTracker } from './tracker';

const fault = inject('faultServer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('server killed (SIGKILL) mid-run and restarted: the run goes on and every step is in MLflow exactly once', async () => {
  const runsDir = mkdtempSync(join(tmpdir(), 'tracking-fault-'));
  const notices: string[] = [];
  const t = await openTracker({
    experiment: `fault-${Date.now()}`,
    uri: fault.uri,
    runsDir,
    handleProcessEvents: false,
    flushIntervalMs: 50,
    endTimeoutMs: 60_000,
    log: (l) => notices.push(l),
  });
  const run = t.startRun({ runName: 'killed-server' });
  let step = 0;
  const logSteps = async (n: number) => {
    for (let i = 0; i < n; i++, step++) {
      run.logMetrics({ a: step, b: 0 - step, c: step / 2 }, step); // 0 - step: +0 at step 0 (JSON has no -0)
      if (step % 10 === 0) await sleep(5); // give the delivery worker turns, as a training step would
    }
  };
  await logSteps(100);
  expect(await t.flush(30_000)).toBe(0);
  await logSteps(30); // some of these are in flight when the server dies
  await serverCommand(['kill', '--name', fault.name]);
  const loggedWhileUp = step;
  await logSteps(100);
  await sleep(300);
  expect(notices.join('\n')).toMatch(/is unreachable .* the run goes on, events stay in the local journal/);
  // Restart on the same port and data, and keep training while it starts.
  let restarted = false;
  const restart = serverCommand(['start', '--name', fault.name, '--port', new URL(fault.uri).port, '--data-dir', fault.dataDir]).then(
    (u) => ((restarted = true), u),
  );
  while (!restarted) await logSteps(5).then(() => sleep(100));
  expect(await restart).toBe(fault.uri);
  await logSteps(50);
  await run.end();
  expect(t.pending()).toBe(0);
  expect(notices.join('\n')).toMatch(/is back; backlog delivered/);
  expect(step).toBeGreaterThan(loggedWhileUp + 100);

  const client = new MlflowClient(fault.uri);
  const all = Array.from({ length: step }, (_, i) => i);
  for (const [key, f] of [
    ['a', (s: number) => s],
    ['b', (s: number) => 0 - s],
    ['c', (s: number) => s / 2],
  ] as const) {
    const h = await client.getMetricHistory(run.remoteRunId!, key);
    expect(h.map((p) => p.step)).toEqual(all);
    expect(h.map((p) => p.value)).toEqual(all.map(f));
  }
  expect((await client.getRun(run.remoteRunId!)).info.status).toBe('FINISHED');
  rmSync(runsDir, { recursive: true });
});
