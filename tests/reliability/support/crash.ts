/** Shared pieces of the crash-injection cases: calibrated kill points and a tally of where kills landed. */
import { existsSync, mkdirSync, readdirSync, watch } from 'node:fs';
import { join, relative } from 'node:path';
import { killAt, killDelay, spawnVpm, type KilledRun, type VpmRunOptions } from './vpm.ts';

/** Median wall time of `runs` clean runs of `run()`: the span kill points are drawn from. */
export async function calibrate(run: () => Promise<unknown>, runs = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = Date.now();
    await run();
    times.push(Date.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** Spawns vpm and SIGKILLs it (with its process group) at a random point of a run of `durationMs`. */
export async function runAndKill(
  args: string[],
  o: VpmRunOptions,
  rand: () => number,
  durationMs: number,
): Promise<KilledRun & { delayMs: number }> {
  const delayMs = killDelay(rand, durationMs);
  const child = spawnVpm(args, o);
  return { ...(await killAt(child, delayMs)), delayMs };
}

/**
 * Spawns vpm and SIGKILLs it the moment a file whose name `isTemp` accepts appears in `dir` — the
 * temp file of an atomic write, i.e. between writing the new content and renaming it into place —
 * or at `fallbackMs` if none appears. This aims kills at the one window random timing rarely hits.
 */
export async function runAndKillOnWrite(
  args: string[],
  o: VpmRunOptions,
  dir: string,
  isTemp: (name: string) => boolean,
  fallbackMs: number,
): Promise<KilledRun & { delayMs: number; trigger: 'write' | 'timer' }> {
  mkdirSync(dir, { recursive: true });
  let trigger: 'write' | 'timer' = 'timer';
  let fire!: () => void;
  const seen = new Promise<void>((r) => (fire = r));
  const watcher = watch(dir, (_event, name) => {
    if (name && isTemp(String(name))) {
      trigger = 'write';
      fire();
    }
  });
  const t0 = Date.now();
  try {
    const child = spawnVpm(args, o);
    const k = await killAt(child, 0, Promise.race([seen, new Promise((r) => setTimeout(r, fallbackMs))]));
    return { ...k, delayMs: Date.now() - t0 - k.durationMs, trigger };
  } finally {
    watcher.close();
  }
}

/** Files an interrupted atomic write left behind (write-file-atomic temp files, `*.tmp`), for the report. */
export function leftoverTempFiles(cwd: string): string[] {
  if (!existsSync(cwd)) return [];
  return readdirSync(cwd, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && (/\.tmp$/.test(e.name) || /\.(json|md|jsonl)\.\d+$/.test(e.name)))
    .map((e) => relative(cwd, join(e.parentPath, e.name)));
}

/** Where the kills landed, for the report: before any write, mid-way (state changed), or after the run finished. */
export class KillTally {
  private counts = { killed_before_change: 0, killed_after_change: 0, finished_first: 0 };
  record(k: KilledRun, changed: boolean): void {
    if (!k.killed) this.counts.finished_first++;
    else if (changed) this.counts.killed_after_change++;
    else this.counts.killed_before_change++;
  }
  toString(): string {
    const c = this.counts;
    return `kills: ${c.killed_before_change} before any state change, ${c.killed_after_change} after it changed state, ${c.finished_first} runs finished before the kill`;
  }
}
