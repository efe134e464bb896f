/**
 * What `vpm canary status --watch` shows of a KService: one line per change for logs and pipes, a
 * compact tree (release → canary steps → revisions with weights) redrawn on a terminal.
 */
import type { KObj } from '../adapters/kube.js';
import { readProgress } from './canary.js';
import { condition, type TrafficTarget } from './ksvc.js';
import { readRelease, rolloutInProgress } from './traffic-ownership.js';

export function describeTraffic(list: TrafficTarget[] | undefined): string {
  return (list ?? [])
    .map((t) => `${t.revisionName ?? (t.latestRevision ? 'latest' : '?')}=${t.percent ?? 0}%${t.tag ? `(${t.tag})` : ''}`)
    .join(' ');
}

/** One line: release phase, canary phase and step, routed traffic, readiness. */
export function statusLine(obj: KObj | null): string {
  if (!obj) return 'the KService is gone';
  const release = readRelease(obj);
  const canary = readProgress(obj);
  const ready = condition(obj, 'Ready');
  return [
    release ? `release ${release.run_id} ${release.phase}` : null,
    canary
      ? `canary ${canary.run_id} ${canary.phase} step ${canary.step_index + 1}/${canary.steps.length} (${canary.steps[canary.step_index]}%)${canary.hold ? ' HELD: vpm canary resume|promote|abort' : ''}`
      : null,
    `traffic ${describeTraffic(obj.status?.traffic) || '-'}`,
    `ready ${ready?.status ?? 'Unknown'}${ready?.reason ? ` (${ready.reason})` : ''}`,
  ]
    .filter(Boolean)
    .join(' | ');
}

/** The tree for a terminal. */
export function statusTree(name: string, obj: KObj | null): string {
  if (!obj) return `${name}: gone`;
  const release = readRelease(obj);
  const canary = readProgress(obj);
  const lines = [`${name}  ready ${condition(obj, 'Ready')?.status ?? 'Unknown'}`];
  if (release) lines.push(`└ release ${release.run_id}: ${release.phase}${release.reason ? ` — ${release.reason}` : ''}`);
  if (canary) {
    lines.push(`  └ canary ${canary.run_id}: ${canary.phase}${canary.reason ? ` — ${canary.reason}` : ''}`);
    canary.steps.forEach((s, i) => {
      const mark = i < canary.step_index ? '✓' : i === canary.step_index ? (canary.phase === 'promoted' ? '✓' : '▶') : ' ';
      lines.push(`    ${mark} ${s}%${i === canary.step_index && canary.hold ? '  HELD' : ''}`);
    });
  }
  lines.push('  revisions:');
  for (const t of (obj.status?.traffic ?? []) as TrafficTarget[])
    lines.push(`    ${t.revisionName ?? '?'}  ${t.percent ?? 0}%${t.tag ? `  (${t.tag})` : ''}`);
  return lines.join('\n');
}

/** Nothing is rolling this KService out any more (or it is gone). */
export function rolloutEnded(obj: KObj | null): boolean {
  return !rolloutInProgress(obj);
}
