// What every benchmark line records besides its figures: the machine, the commit it measured, the load.
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

export const machine = () => ({ cpu: os.cpus()[0]?.model.trim(), cores: os.cpus().length, memGB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, platform: `${os.platform()}-${os.arch()}` });

export const load1 = () => +os.loadavg()[0]!.toFixed(2);

/** The short commit, `+uncommitted` when `paths` (what the figure depends on) have changes. */
export function benchCommit(root: string, paths: string[]): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...paths], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head}+uncommitted` : head;
  } catch {
    return 'unknown';
  }
}
