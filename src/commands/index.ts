/**
 * Every command, one spec each. Specs are small (flags, parse, a lazy `run`), so loading them all to
 * build the command tree costs little; the work each command does is imported only when it runs.
 */
import type { AnyCommandSpec } from '../cli/spec.js';
import { apply } from './deploy/apply.js';
import { canaryAbort } from './deploy/canary-abort.js';
import { canaryPromote } from './deploy/canary-promote.js';
import { canaryResume } from './deploy/canary-resume.js';
import { canaryStart } from './deploy/canary-start.js';
import { canaryStatus } from './deploy/canary-status.js';
import { freezeOff } from './deploy/freeze-off.js';
import { freezeOn } from './deploy/freeze-on.js';
import { freezeStatus } from './deploy/freeze-status.js';
import { freezeScheduleAdd } from './deploy/freeze-schedule-add.js';
import { freezeScheduleList } from './deploy/freeze-schedule-list.js';
import { freezeScheduleRemove } from './deploy/freeze-schedule-remove.js';
import { guard } from './deploy/guard.js';
import { ready } from './deploy/ready.js';
import { release } from './deploy/release.js';
import { history } from './deploy/history.js';
import { canaryUndo } from './deploy/canary-undo.js';
import { sli } from './deploy/sli.js';
import { checkin } from './evidence/checkin.js';
import { contractCheck } from './evidence/contract-check.js';
import { diagramsCheck } from './evidence/diagrams-check.js';
import { diagramsExport } from './evidence/diagrams-export.js';
import { healthcheck } from './evidence/healthcheck.js';
import { schemaExport } from './evidence/schema-export.js';
import { clustersStatus } from './fleet/clusters-status.js';
import { clustersSync } from './fleet/clusters-sync.js';
import { clustersDiff } from './fleet/clusters-diff.js';
import { clustersHistory } from './fleet/clusters-history.js';
import { clustersRollback } from './fleet/clusters-rollback.js';
import { failover } from './fleet/failover.js';
import { checkpoint } from './git/checkpoint.js';
import { checkpointList } from './git/checkpoint-list.js';
import { rollback } from './git/rollback.js';
import { chatAppend } from './memory/chat-append.js';
import { chatImport } from './memory/chat-import.js';
import { digest } from './memory/digest.js';
import { loop } from './memory/loop.js';
import { memoryExport } from './memory/memory-export.js';
import { memorySearch } from './memory/memory-search.js';
import { stateCheck } from './memory/state-check.js';
import { statePatch } from './memory/state-patch.js';
import { stateShow } from './memory/state-show.js';
import { summary } from './memory/summary.js';
import { completion } from './meta/completion.js';
import { init } from './meta/init.js';
import { version } from './meta/version.js';
import { ask } from './runner/ask.js';
import { policyExplain } from './runner/policy-explain.js';
import { policyTest } from './runner/policy-test.js';
import { run } from './runner/run.js';
import { runUndo } from './runner/run-undo.js';

export const COMMANDS: readonly AnyCommandSpec[] = [
  init,
  chatAppend,
  chatImport,
  summary,
  digest,
  stateShow,
  stateCheck,
  statePatch,
  loop,
  memoryExport,
  memorySearch,
  checkpoint,
  checkpointList,
  rollback,
  run,
  runUndo,
  ask,
  policyExplain,
  policyTest,
  freezeOn,
  freezeOff,
  freezeStatus,
  freezeScheduleAdd,
  freezeScheduleList,
  freezeScheduleRemove,
  apply,
  release,
  ready,
  sli,
  canaryStart,
  canaryStatus,
  canaryAbort,
  canaryPromote,
  canaryResume,
  canaryUndo,
  history,
  guard,
  clustersStatus,
  clustersSync,
  clustersDiff,
  clustersHistory,
  clustersRollback,
  failover,
  healthcheck,
  diagramsCheck,
  diagramsExport,
  schemaExport,
  checkin,
  contractCheck,
  version,
  completion,
];

/** Descriptions of the words that only group commands. */
export const GROUPS: Readonly<Record<string, string>> = {
  chat: 'conversation log (logs/<date>.jsonl)',
  memory: 'the memory handed back to agents (AGENTS.md / CLAUDE.md) and searched',
  state: 'STATE/current_state.md: the single source of truth',
  freeze: 'deploy freeze (.ops/deploy_freeze.json, and with a fleet: AppProject window, namespace annotation, admission policy)',
  schedule: 'recurring freezes (config freeze.schedules, mirrored into the AppProject)',
  canary: 'canary rollout of a Knative Service with SLO gates',
  clusters: 'multi-cluster GitOps: Argo CD Applications across clusters',
  diagrams: 'Mermaid diagrams under diagrams/src/ (*.md ```mermaid blocks, *.mmd)',
  schema: 'JSON Schemas of the evidence kinds and file formats',
  contract: 'the persist-report contract (reports-only PRs merge themselves)',
  policy: 'the execution policy of vpm run (config execution_policy)',
};
