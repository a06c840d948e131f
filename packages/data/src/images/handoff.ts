// Where decoder processes hand batches to the loader, and how that place is cleared.
import { accessSync, constants, readdirSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * Where decoders hand batches over: memory-backed /dev/shm where there is one with room for
 * `needBytes` (a container's default /dev/shm is 64 MiB, less than three paper-size batches),
 * else the temp folder.
 */
export function handoffRoot(needBytes: number, shm = '/dev/shm'): string {
  try {
    accessSync(shm, constants.W_OK);
    const st = statfsSync(shm);
    if (st.bavail * st.bsize >= needBytes) return shm;
  } catch {
    // no /dev/shm here (macOS, Windows) or not writable
  }
  return tmpdir();
}

/** A batch written to the temp folder because the hand-over folder had no room (see decoder.ts). */
export function fallbackFile(handoff: string, step: number): string {
  return join(tmpdir(), `pixel-bert-batch-${step}-${basename(handoff)}.bin`);
}

/** Remove the hand-over folder and any batch of it that went to the temp folder instead. */
export function removeHandoff(handoff: string): void {
  rmSync(handoff, { recursive: true, force: true });
  const tail = `-${basename(handoff)}.bin`;
  let names: string[] = [];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith('pixel-bert-batch-') && n.endsWith(tail)) rmSync(join(tmpdir(), n), { force: true });
}
