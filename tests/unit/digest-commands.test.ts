import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/index.js';
import { commandsOf, goalsOf, sloFactsOf, VPM_COMMAND_WORDS } from '../../src/memory/findings.js';

describe('digest: commands, goals and SLO facts in prose', () => {
  it('knows every vpm command word (so a new command is recognised in chat)', () => {
    expect([...new Set(COMMANDS.map((c) => c.path[0]))].sort()).toEqual([...VPM_COMMAND_WORDS].sort());
  });

  it.each([
    ['I ran vpm canary start hello --weight 10 and it passed.', ['vpm canary start hello --weight 10']],
    ['vpm canary start hello --weight 10 を実行しました。', ['vpm canary start hello --weight 10']],
    ['まず`kubectl get pods -n prod`で確認', ['kubectl get pods -n prod']],
    ['$ git commit -m "fix: retry"', ['git commit -m "fix: retry"']],
    ['Then npm test, then gh pr create --fill.', ['npm test', 'gh pr create --fill']],
    ['git is great and npm registry mirrors are slow; kubectl is a CLI.', []],
    ['Use `the config` and `vpm` alone.', []],
  ])('%s', (text, expected) => {
    expect(commandsOf(text)).toEqual(expected);
  });

  it('finds goal ids (not G-10 as G-1) and SLO figures', () => {
    expect(goalsOf('明日G-3とG-10の coverage を確認、XG-4 は違う')).toEqual(['G-3', 'G-10']);
    expect(sloFactsOf('p95 が 420ms で、エラー率 2.5% 、availability 99.9%; pool size 20')).toEqual([
      'p95 が 420ms',
      'エラー率 2.5%',
      'availability 99.9%',
    ]);
  });
});
