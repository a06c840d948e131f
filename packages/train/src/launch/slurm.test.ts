// The Slurm launcher against stand-in Slurm commands (a shell script that records its calls and
// answers from files): what it writes, submits, refuses and resubmits. The real cluster: slurm.cluster.test.ts.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addState, slurmSweep, type SlurmSweepOptions } from './slurm';

const FAKE = `#!/usr/bin/env bash
# Stand-in for sbatch/squeue/sacct/scancel/scontrol: records "name args" in $FAKE/calls.
name="$(basename "$0")"
echo "$name $*" >> "$FAKE/calls"
case "$name" in
  sbatch)
    for a in "$@"; do
      case "$a" in --partition=nope) echo "sbatch: error: invalid partition specified: nope" >&2; echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1 ;; esac
      if [ "$a" = "--array=\${REFUSE_ARRAY:-x}" ] || { [ -f "$FAKE/refuse-array" ] && [[ "$a" == --array=* ]]; }; then echo "sbatch: error: Batch job submission failed: Job violates accounting/QOS policy" >&2; exit 1; fi
    done
    n=$(( $(cat "$FAKE/next" 2>/dev/null || echo 100) + 1 )); echo $n > "$FAKE/next"; echo "$n" ;;
  squeue) cat "$FAKE/squeue" 2>/dev/null || true ;;
  sacct)
    if [[ " $* " == *" --completion "* ]]; then cat "$FAKE/completion" 2>/dev/null || true
    elif [ -f "$FAKE/no-accounting" ]; then echo "Slurm accounting storage is disabled"; exit 1
    else cat "$FAKE/sacct" 2>/dev/null || true; fi ;;
esac
`;

let fake: string;
let sweeps: string;
let out: string[];

beforeEach(() => {
  fake = mkdtempSync(path.join(tmpdir(), 'pixel-bert-fake-slurm-'));
  mkdirSync(path.join(fake, 'bin'));
  writeFileSync(path.join(fake, 'fake'), FAKE);
  chmodSync(path.join(fake, 'fake'), 0o755);
  for (const n of ['sbatch', 'squeue', 'sacct', 'scancel', 'scontrol']) symlinkSync(path.join(fake, 'fake'), path.join(fake, 'bin', n));
  sweeps = path.join(fake, 'sweeps');
  out = [];
});
afterEach(() => rmSync(fake, { recursive: true, force: true }));

const env = (extra: NodeJS.ProcessEnv = {}) => ({ PATH: `${fake}/bin:/usr/bin:/bin`, FAKE: fake, ...extra });
const sweep = (o: Partial<SlurmSweepOptions> = {}) =>
  slurmSweep({ scale: 'smoke', rows: [1, 2, 3, 4, 5, 6], seeds: [0], dryRun: false, flags: {}, sweepsDir: sweeps, env: env(), print: (l) => out.push(l), ...o });
const calls = () => (existsSync(path.join(fake, 'calls')) ? readFileSync(path.join(fake, 'calls'), 'utf8').trim().split('\n') : []);
const sweepDir = () => path.join(sweeps, 'table6-smoke-pixel-bert');

describe('slurmSweep', () => {
  it('--dry-run prints the scripts and every resolved spec, and writes and submits nothing (no Slurm needed)', async () => {
    expect(await sweep({ dryRun: true, rows: [2, 5], seeds: [0, 1], env: { PATH: '/nonexistent' } })).toBe(0);
    const text = out.join('\n');
    for (const t of ['row2-seed0', 'row2-seed1', 'row5-seed0', 'row5-seed1']) {
      expect(text).toContain(`${t}/task.sh`);
      expect(text).toContain(`${t}/spec.yaml (hash `);
    }
    expect(text).toContain('node --import tsx packages/train/src/cli/ablation.ts --row=5 --scale=smoke --seed=1 &');
    expect(text).toContain('node --import tsx packages/train/src/cli/init.ts --scale=smoke &');
    expect(text).toContain('--dependency=afterok:<init job>');
    expect(text).toContain('(dry run: 4 task(s) would be submitted; nothing was written or submitted)');
    expect(existsSync(sweeps)).toBe(false);
  });

  it('without sbatch: a usage error naming what to install, and nothing written', async () => {
    await expect(sweep({ env: { PATH: '/nonexistent' } })).rejects.toMatchObject({ name: 'UsageError', message: expect.stringMatching(/sbatch not found.*apt-get install slurm-client.*tools\/slurm-local start/s) });
    expect(existsSync(sweeps)).toBe(false);
  });

  it('submits a held init job, an array of every row × seed depending on it, then releases the init job', async () => {
    const secret = 's3cr3t-password';
    const code = await sweep({
      seeds: [0, 1],
      flags: { partition: 'gpu', time: '1:00:00', 'gpus-per-task': '1', 'sbatch-arg': ['--account=proj'] },
      env: env({ MLFLOW_TRACKING_URI: 'http://mlflow.example:5000', MLFLOW_TRACKING_PASSWORD: secret, MLFLOW_TRACKING_USERNAME: 'me' }),
    });
    expect(code).toBe(0);
    const [init, array, release, ...rest] = calls();
    expect(rest).toEqual([]);
    expect(init).toMatch(/^sbatch --hold --job-name=pb-table6-smoke-pixel-bert-init --dependency=singleton .*--export=ALL .*--partition=gpu --time=1:00:00 --gpus-per-task=1 --account=proj .*init\.sbatch$/);
    expect(array).toMatch(/^sbatch --array=0-11 --dependency=afterok:101 --kill-on-invalid-dep=yes --job-name=pb-table6-smoke-pixel-bert .*--partition=gpu .*array\.sbatch .*submit-1\.tasks$/);
    expect(release).toBe('scontrol release 101');
    const d = sweepDir();
    expect(readFileSync(path.join(d, 'submit-1.tasks'), 'utf8').trim().split('\n')).toHaveLength(12);
    expect(readFileSync(path.join(d, 'row3-seed1', 'task.sh'), 'utf8')).toContain('ablation.ts --row=3 --scale=smoke --seed=1 &');
    expect(readFileSync(path.join(d, 'row3-seed1', 'spec.yaml'), 'utf8')).toMatch(/^row: 3$/m);
    // Credentials and the server's address travel by name only.
    const written = [path.join(d, 'init.sbatch'), path.join(d, 'array.sbatch'), path.join(d, 'sweep.json'), ...readdirSync(d).filter((f) => f.startsWith('row')).map((f) => path.join(d, f, 'task.sh'))];
    for (const f of written) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toContain(secret);
      expect(text).not.toContain('mlflow.example');
    }
    expect(calls().join('\n')).not.toContain(secret);
    const text = out.join('\n');
    expect(text).toContain('init job 101');
    expect(text).toContain('array job 102, 12 task(s)');
    expect(text).toContain('squeue -j 101,102');
    expect(text).toContain('sacct -j 102');
    expect(text).toContain(`${d}/logs/102_11.out`);
  });

  it('a partition Slurm does not know: its error is shown, exit 2, nothing submitted', async () => {
    expect(await sweep({ flags: { partition: 'nope' } })).toBe(2);
    expect(out.join('\n')).toContain('sbatch: error: invalid partition specified: nope');
    expect(calls().filter((c) => c.startsWith('sbatch'))).toHaveLength(1);
    expect(existsSync(path.join(sweepDir(), 'sweep.json'))).toBe(false);
  });

  it('an array job Slurm refuses: the held init job is cancelled, nothing recorded as submitted', async () => {
    writeFileSync(path.join(fake, 'refuse-array'), '');
    expect(await sweep()).toBe(1);
    expect(calls().at(-1)).toBe('scancel 101');
    expect(calls().some((c) => c.startsWith('scontrol release'))).toBe(false);
    expect(out.join('\n')).toMatch(/held init job 101 was cancelled.*\n.*accounting\/QOS policy/);
    expect(existsSync(path.join(sweepDir(), 'sweep.json'))).toBe(false);
  });

  it('resubmitting submits only what is not finished; --rerun-failed only what failed; then nothing', async () => {
    expect(await sweep()).toBe(0); // init 101, array 102: rows 1..6 at indices 0..5
    writeFileSync(path.join(fake, 'squeue'), '102_0|RUNNING\n');
    writeFileSync(path.join(fake, 'sacct'), '102_0|RUNNING\n102_1|COMPLETED\n102_2|FAILED\n102_3|TIMEOUT\n102_4|CANCELLED by 0\n');
    // index 5: Slurm no longer knows it (UNKNOWN)
    out = [];
    expect(await sweep({ flags: { 'rerun-failed': true } })).toBe(0);
    expect(out.join('\n')).toMatch(/row3-seed0 +FAILED as job 102_2 +→ submit/);
    expect(out.join('\n')).toMatch(/row5-seed0 +CANCELLED as job 102_4 +→ submit/);
    expect(out.join('\n')).toMatch(/row6-seed0 +UNKNOWN as job 102_5 +→ keep/);
    expect(readFileSync(path.join(sweepDir(), 'submit-2.tasks'), 'utf8')).toBe('row3-seed0\nrow4-seed0\nrow5-seed0\n');
    expect(calls().find((c) => c.includes('submit-2.tasks'))).toMatch(/--array=0-2 --dependency=afterok:103 /);

    // The plain resubmission also takes the unknown one; the resubmitted three are now queued.
    writeFileSync(path.join(fake, 'squeue'), '102_0|RUNNING\n104_[0-2]|PENDING\n');
    out = [];
    expect(await sweep()).toBe(0);
    expect(readFileSync(path.join(sweepDir(), 'submit-3.tasks'), 'utf8')).toBe('row6-seed0\n');

    writeFileSync(path.join(fake, 'squeue'), '');
    writeFileSync(path.join(fake, 'sacct'), '102_0|COMPLETED\n102_1|COMPLETED\n104_0|COMPLETED\n104_1|COMPLETED\n104_2|COMPLETED\n106_0|COMPLETED\n');
    const before = calls().length;
    out = [];
    expect(await sweep()).toBe(0);
    expect(out.at(-1)).toContain('nothing to submit');
    expect(calls().slice(before).some((c) => c.startsWith('sbatch'))).toBe(false);
    const state = JSON.parse(readFileSync(path.join(sweepDir(), 'sweep.json'), 'utf8'));
    expect(state.submissions.map((s: { arrayJob: string }) => s.arrayJob)).toEqual(['102', '104', '106']);
  });

  it('a task whose spec changed since it finished is submitted again', async () => {
    expect(await sweep({ rows: [1, 2] })).toBe(0); // array 102
    writeFileSync(path.join(fake, 'sacct'), '102_0|COMPLETED\n102_1|COMPLETED\n');
    const state = path.join(sweepDir(), 'sweep.json');
    const recorded = JSON.parse(readFileSync(state, 'utf8'));
    recorded.submissions[0].specHashes['row2-seed0'] = 'an-older-hash';
    writeFileSync(state, JSON.stringify(recorded));
    out = [];
    expect(await sweep({ rows: [1, 2] })).toBe(0);
    expect(out.join('\n')).toMatch(/row1-seed0 +COMPLETED as job 102_0 +→ keep/);
    expect(out.join('\n')).toMatch(/row2-seed0 +COMPLETED as job 102_1, spec changed since → submit/);
    expect(readFileSync(path.join(sweepDir(), 'submit-2.tasks'), 'utf8')).toBe('row2-seed0\n');
  });

  it('without slurmdbd, reads how tasks ended from the job completion log through the job ids the tasks wrote', async () => {
    expect(await sweep({ rows: [1, 2, 3] })).toBe(0); // array 102
    writeFileSync(path.join(fake, 'no-accounting'), '');
    // Tasks 0 and 1 ran as jobs 103 and 102 (the array's last task keeps its id); task 2 never started.
    writeFileSync(path.join(sweepDir(), 'row1-seed0', 'job-102_0'), '103\n');
    writeFileSync(path.join(sweepDir(), 'row2-seed0', 'job-102_1'), '102\n');
    writeFileSync(path.join(fake, 'completion'), '103|COMPLETED\n102|FAILED\n');
    out = [];
    expect(await sweep({ rows: [1, 2, 3], flags: { 'rerun-failed': true } })).toBe(0);
    expect(out.join('\n')).toMatch(/row1-seed0 +COMPLETED as job 102_0 +→ keep/);
    expect(out.join('\n')).toMatch(/row2-seed0 +FAILED as job 102_1 +→ submit/);
    expect(out.join('\n')).toMatch(/row3-seed0 +FAILED as job 102_2 +→ submit/); // the array's own record
  });

  it('refuses malformed flags before writing anything', async () => {
    await expect(sweep({ flags: { time: 'an hour' } })).rejects.toMatchObject({ name: 'UsageError', message: expect.stringContaining('--time=an hour') });
    await expect(sweep({ flags: { 'gpus-per-task': 'two' } })).rejects.toMatchObject({ name: 'UsageError' });
    await expect(sweep({ flags: { 'sbatch-arg': ['--array=0-3'] } })).rejects.toMatchObject({ message: expect.stringContaining('sets --array itself') });
    await expect(sweep({ flags: { 'sbatch-arg': ['-o/tmp/x'] } })).rejects.toMatchObject({ message: expect.stringContaining('sets -o itself') });
    await expect(sweep({ experiment: '../x' })).rejects.toMatchObject({ name: 'UsageError' });
    await expect(sweep({ rows: [9] })).rejects.toMatchObject({ name: 'SpecError' });
    expect(existsSync(sweeps)).toBe(false);
    expect(calls()).toEqual([]);
  });
});

describe('addState', () => {
  it('expands an array remainder into its indices and keeps the first word of a state', () => {
    const m = new Map<string, string>();
    for (const l of ['12_[3-5,7%2]|PENDING', '12_1|CANCELLED by 0', '13|COMPLETED', 'garbage']) addState(m, l);
    expect(Object.fromEntries(m)).toEqual({ '12_3': 'PENDING', '12_4': 'PENDING', '12_5': 'PENDING', '12_7': 'PENDING', '12_1': 'CANCELLED', '13': 'COMPLETED' });
  });
});
