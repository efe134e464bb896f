/**
 * Concurrency: many writers at once on one repository, real processes. A trial is one round of
 * concurrent processes; its invariants are checked after the round.
 *
 * - chat appenders: 8 `vpm chat append` processes at once (and a library-level burst) — every line
 *   lands once, none torn or interleaved.
 * - summary racing appenders: `vpm summary` processes while appenders write — every chat line is
 *   summarised exactly once (Σ source.count = lines), memory.json always valid.
 * - two runners on one inbox: no job runs twice or is lost.
 * - two checkpoints at once (and a checkpoint racing a rollback): both succeed one after another,
 *   no raw index.lock error, refs on distinct commits, `git fsck` clean.
 * - concurrent state patches: every patch applied, every one recorded in memory.json.
 */
import { describe, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeGitRepo } from '../helpers/gitrepo.ts';
import { openCase } from './support/ledger.ts';
import { scaled } from './support/random.ts';
import { errorProblems, integrityProblems, REPO_ROOT, vpmProcess } from './support/vpm.ts';
import { removeDir, STATE_MD, tempRepo, writeFile } from './support/tmp.ts';

const today = () => new Date().toISOString().slice(0, 10);
const chatLines = (cwd: string) => {
  const p = join(cwd, 'logs', `${today()}.jsonl`);
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
};

describe('concurrency', () => {
  it('chat appenders: every line lands exactly once, none torn', async ({ task }) => {
    const c = openCase(task, 'concurrency', 'chat appenders');
    for (let round = 0; round < scaled(3); round++) {
      const cwd = tempRepo('append');
      const ok = await c.trial(`round ${round}: 8 processes × 8 vpm chat append`, async (t) => {
        t.context.cwd = cwd;
        const results = await Promise.all(
          Array.from({ length: 8 }, async (_, w) => {
            const out = [];
            for (let i = 0; i < 8; i++)
              out.push(
                await vpmProcess(
                  [
                    'chat',
                    'append',
                    '--role',
                    i % 2 ? 'assistant' : 'user',
                    '--text',
                    `w${w}-${i} ${'x'.repeat((w * 131 + i * 977) % 9000)}`,
                  ],
                  { cwd },
                ),
              );
            return out;
          }),
        );
        for (const r of results.flat()) t.add(errorProblems(r, { codes: [0] }));
        const text = chatLines(cwd);
        t.check(text.endsWith('\n'), 'chat log does not end with a newline');
        const tags = text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).text.split(' ')[0]);
        t.same(tags.length, 64, 'lines in the chat log');
        t.same(new Set(tags).size, 64, 'distinct lines in the chat log');
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
    }
    const cwd = tempRepo('append-lib');
    const ok = await c.trial('library burst: 6 processes × 300 appends, 10 lanes each', async (t) => {
      t.context.cwd = cwd;
      const worker = `
        const { appendChatEntry } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/memory/chat-log.js'))});
        const [cwd, wid] = process.argv.slice(1);
        let next = 0;
        async function lane() { while (next < 300) { const i = next++; await appendChatEntry(cwd, { role: 'user', text: 'w' + wid + '-' + i + ' ' + 'y'.repeat(i % 9 === 0 ? 60000 : 30) }, new Date(), {}); } }
        await Promise.all(Array.from({ length: 10 }, lane));
      `;
      const runs = await Promise.all(
        Array.from({ length: 6 }, (_, w) =>
          execa(process.execPath, ['--input-type=module', '-e', worker, cwd, String(w)], { reject: false, timeout: 240_000 }),
        ),
      );
      for (const r of runs) t.check(r.exitCode === 0, () => `appender process exited ${r.exitCode}: ${String(r.stderr).slice(0, 400)}`);
      const tags = chatLines(cwd)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).text.split(' ')[0]);
      t.same(new Set(tags).size, 1800, 'distinct lines after 1,800 appends');
      t.same(tags.length, 1800, 'lines after 1,800 appends');
      t.add(await integrityProblems(cwd));
    });
    if (ok) removeDir(cwd);
    c.note('each round: 64 CLI appends (texts up to 9 KB); the burst: 1,800 library appends (every 9th 60 KB)');
    c.finish();
  });

  it('summary racing appenders: every chat line summarised exactly once', async ({ task }) => {
    const c = openCase(task, 'concurrency', 'summary racing appenders');
    for (let round = 0; round < scaled(4); round++) {
      const cwd = tempRepo('summary-race');
      const ok = await c.trial(`round ${round}: 4 appenders × 10 while 2 × 3 vpm summary`, async (t) => {
        t.context.cwd = cwd;
        const appenders = Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 10; i++)
            t.add(
              errorProblems(
                await vpmProcess(['chat', 'append', '--text', `Appender ${w} turn ${i}. We decided to ship build ${i}.`], { cwd }),
                { codes: [0] },
              ),
            );
        });
        const summarisers = Array.from({ length: 2 }, async () => {
          for (let i = 0; i < 3; i++) t.add(errorProblems(await vpmProcess(['summary'], { cwd }), { codes: [0] }));
        });
        await Promise.all([...appenders, ...summarisers]);
        t.add(errorProblems(await vpmProcess(['summary'], { cwd }), { codes: [0] }));
        const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
        const summarised = memory.entries
          .filter((e: { kind?: string }) => (e.kind ?? 'summary') === 'summary')
          .reduce((n: number, e: { source: { count: number } }) => n + e.source.count, 0);
        const lines = chatLines(cwd).trim().split('\n').length;
        t.same(summarised, lines, 'Σ source.count over memory.json entries vs chat lines (each summarised exactly once)');
        t.same(memory.cursor?.offset, Buffer.byteLength(chatLines(cwd)), 'cursor offset vs chat log size');
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
    }
    c.finish();
  });

  it('two runners on one inbox: no job runs twice, none is lost', async ({ task }) => {
    const c = openCase(task, 'concurrency', 'runners on one inbox');
    for (let round = 0; round < scaled(8); round++) {
      const ids = Array.from({ length: 6 }, (_, i) => `r${round}j${i}`);
      const runners = round % 2 === 0 ? 2 : 3;
      const cwd = tempRepo('runners', {
        'vpm.config.json': JSON.stringify({
          execution_policy: { default_action: 'allow', allowlist: ids.map((id) => `echo ${id} >> seen.txt`) },
        }),
        ...Object.fromEntries(
          ids.map((id, i) => [
            `codex/inbox/${id}.json`,
            JSON.stringify({
              id,
              kind: 'exec',
              created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
              source: 'reliability',
              steps: [
                { name: 'mark', command: `echo ${id} >> seen.txt` },
                { name: 'hold', argv: ['sleep', '0.1'] },
              ],
            }),
          ]),
        ),
      });
      const ok = await c.trial(`round ${round}: ${runners} runners, 6 jobs`, async (t) => {
        t.context.cwd = cwd;
        const results = await Promise.all(Array.from({ length: runners }, () => vpmProcess(['--json', 'run', '--exec'], { cwd })));
        for (const r of results) t.add(errorProblems(r, { codes: [0], json: true }));
        const seen = readFileSync(join(cwd, 'seen.txt'), 'utf8').trim().split('\n').sort();
        t.same(seen, [...ids].sort(), 'jobs executed (each exactly once)');
        const processed = results
          .flatMap((r) => (r.exitCode === 0 ? JSON.parse(r.stdout).jobs.map((j: { job_id: string }) => j.job_id) : []))
          .sort();
        t.same(processed, [...ids].sort(), 'jobs reported processed across runners');
        t.same(readdirSync(join(cwd, 'codex', 'inbox', '_done')).sort(), ids.map((id) => `${id}.json`).sort(), 'codex/inbox/_done');
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
    }
    c.finish();
  });

  it('two checkpoints at once (and one racing a rollback): serialised, no index.lock error, repository sound', async ({ task }) => {
    const c = openCase(task, 'concurrency', 'checkpoints at once');
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`src/m${i % 10}/f${i}.txt`] = `file ${i}\n`;
    for (let round = 0; round < scaled(12); round++) {
      const r = makeGitRepo({ files, gitignore: ['/logs/'] });
      const racingRollback = round % 4 === 3;
      const ok = await c.trial(
        racingRollback ? `round ${round}: checkpoint racing rollback` : `round ${round}: two checkpoints`,
        async (t) => {
          t.context.cwd = r.dir;
          if (racingRollback) {
            t.add(errorProblems(await vpmProcess(['checkpoint', 'base'], { cwd: r.dir }), { codes: [0] }));
            r.write('more.txt', 'more\n');
            r.commitAll('more');
            r.write('work/new.txt', 'new\n');
            const [rb, ck] = await Promise.all([
              vpmProcess(['rollback', '--yes', '--no-test', '--to', 'base'], { cwd: r.dir }),
              vpmProcess(['checkpoint', 'racing'], { cwd: r.dir }),
            ]);
            // Either may go first: the rollback (the untracked file moved aside, exit 0) or the checkpoint
            // (then the rollback takes it off too, exit 0); exit 3 is a refusal, never an error.
            t.add(errorProblems(rb, { codes: [0, 3] }));
            t.add(errorProblems(ck, { codes: [0] }));
            for (const x of [rb, ck]) t.check(!/index\.lock/.test(x.stderr), `raw index.lock error: ${x.stderr.slice(0, 200)}`);
          } else {
            const names = [`c${round}a`, `c${round}b`];
            for (const n of names) r.write(`work/${n}.txt`, `${n}\n`);
            const results = await Promise.all(names.map((n) => vpmProcess(['checkpoint', n], { cwd: r.dir })));
            for (const x of results) {
              t.add(errorProblems(x, { codes: [0] }));
              t.check(!/index\.lock/.test(x.stderr), `raw index.lock error: ${x.stderr.slice(0, 200)}`);
            }
            const hashes = names.map((n) => r.gitStatus('rev-parse', `refs/vpm/checkpoints/${n}`).stdout.trim());
            t.check(hashes.every(Boolean) && new Set(hashes).size === 2, `checkpoint refs not on two distinct commits: ${hashes}`);
            const history = r.git('rev-list', 'HEAD');
            for (const h of hashes) t.check(h && history.includes(h), `checkpoint ${h} is not in HEAD's history`);
            t.same(r.read('logs/last_checkpoint.txt').trim(), r.head(), 'logs/last_checkpoint.txt vs HEAD');
            t.same(r.git('status', '--porcelain'), '', 'git status after both checkpoints');
          }
          const fsck = r.gitStatus('fsck', '--strict', '--no-progress');
          t.check(fsck.status === 0, `git fsck: ${fsck.stderr.slice(0, 300)}`);
        },
      );
      if (ok) r.cleanup();
    }
    c.finish();
  });

  it('concurrent state patches: every patch applied and recorded', async ({ task }) => {
    const c = openCase(task, 'concurrency', 'state patches at once');
    for (let round = 0; round < scaled(6); round++) {
      const cwd = tempRepo('patches', { 'STATE/current_state.md': STATE_MD });
      for (let i = 0; i < 4; i++)
        writeFile(
          cwd,
          `p${i}.json`,
          JSON.stringify([{ op: 'add', path: '/goals/-', value: { id: `G-${10 + i}`, text: `goal ${i} of round ${round}` } }]),
        );
      const ok = await c.trial(`round ${round}: 4 state patches + 2 summaries at once`, async (t) => {
        t.context.cwd = cwd;
        await vpmProcess(['chat', 'append', '--text', 'We decided to race the patches.'], { cwd });
        const results = await Promise.all([
          ...Array.from({ length: 4 }, (_, i) => vpmProcess(['state', 'patch', `p${i}.json`, '--yes'], { cwd })),
          vpmProcess(['summary'], { cwd }),
          vpmProcess(['summary'], { cwd }),
        ]);
        for (const r of results) t.add(errorProblems(r, { codes: [0] }));
        const shown = await vpmProcess(['--json', 'state', 'show'], { cwd });
        const ids = JSON.parse(shown.stdout)
          .goals.map((g: { id: string }) => g.id)
          .sort();
        t.same(ids, ['G-1', 'G-10', 'G-11', 'G-12', 'G-13', 'G-2'], 'goal ids after 4 concurrent patches');
        const memory = JSON.parse(readFileSync(join(cwd, 'memory.json'), 'utf8'));
        t.same(memory.entries.filter((e: { kind?: string }) => e.kind === 'state_patch').length, 4, 'state_patch entries in memory.json');
        t.same(
          memory.entries
            .filter((e: { kind?: string }) => (e.kind ?? 'summary') === 'summary')
            .reduce((n: number, e: { source: { count: number } }) => n + e.source.count, 0),
          1,
          'chat lines summarised',
        );
        t.add(await integrityProblems(cwd));
      });
      if (ok) removeDir(cwd);
    }
    c.finish();
  });
});
