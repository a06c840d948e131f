import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { relative } from 'node:path';
import { TAGS } from './tags';
import { workspaceRoot } from './paths';

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20, timeout: 10_000 });
  } catch {
    return null;
  }
}

export interface RunMetadata {
  tags: Record<string, string>;
  /** Uncommitted changes (tracked diff against HEAD plus the list of untracked files), when dirty. */
  diff: string | null;
}

/** MLflow's standard source/user tags and the git state of the workspace the run was started from. */
export function collectMetadata(sourceName?: string): RunMetadata {
  const root = workspaceRoot();
  const script = sourceName ?? (process.argv[1] ? relative(root, process.argv[1]) || process.argv[1] : 'node');
  let user = process.env.USER ?? '';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (containers): keep $USER */
  }
  const tags: Record<string, string> = {
    [TAGS.sourceName]: script,
    [TAGS.sourceType]: 'LOCAL',
    [TAGS.user]: user || 'unknown',
  };
  const commit = git(['rev-parse', 'HEAD'], root)?.trim();
  let diff: string | null = null;
  if (commit) {
    tags[TAGS.gitCommit] = commit;
    const status = git(['status', '--porcelain'], root) ?? '';
    const dirty = status.trim().length > 0;
    tags[TAGS.gitDirty] = String(dirty);
    if (dirty) {
      const untracked = status
        .split('\n')
        .filter((l) => l.startsWith('?? '))
        .map((l) => `# untracked: ${l.slice(3)}`);
      diff = [...untracked, git(['diff', 'HEAD'], root) ?? ''].join('\n');
    }
  }
  return { tags, diff };
}
