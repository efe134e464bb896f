/** Shared pieces of the crash-injection cases: calibrated kill points and a tally of where kills landed. */
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
export async function runAndKill(args: string[], o: VpmRunOptions, rand: () => number, durationMs: number): Promise<KilledRun & { delayMs: number }> {
  const delayMs = killDelay(rand, durationMs);
  const child = spawnVpm(args, o);
  return { ...(await killAt(child, delayMs)), delayMs };
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
