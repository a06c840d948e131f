// A child process for the crash, signal and exit tests. Mode (argv[2]):
//   log-forever   logs a metric per step until killed, printing "step N" every 100 steps
//   until-signal  like log-forever, slower; the parent sends SIGTERM/SIGINT
//   throw         logs a little, then throws an uncaught error
//   no-end        logs a little and returns without ending the run
import { openTracker } from '../index';

const mode = process.argv[2];
const tracker = await openTracker({ experiment: process.env.CHILD_EXPERIMENT ?? 'child-runs' });
const run = tracker.startRun({ runName: `child-${mode}`, tags: { 'pixelbert.seed': '1' } });
console.log(`run ${run.id}`);
if (mode === 'log-forever' || mode === 'until-signal') {
  for (let step = 0; ; step++) {
    run.logMetric('loss', 1 / (step + 1), step);
    if (step % 100 === 0) console.log(`step ${step}`);
    if (mode === 'until-signal' || step % 100 === 0) await new Promise((r) => setTimeout(r, mode === 'until-signal' ? 5 : 0));
  }
} else if (mode === 'throw') {
  for (let step = 0; step < 10; step++) run.logMetric('loss', step, step);
  setTimeout(() => {
    throw new Error('boom from the training loop');
  }, 10);
} else if (mode === 'no-end') {
  for (let step = 0; step < 10; step++) run.logMetric('loss', step, step);
  console.log('returning without end()');
} else {
  throw new Error(`unknown mode ${mode}`);
}
