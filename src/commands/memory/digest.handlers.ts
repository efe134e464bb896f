import { join } from 'node:path';
import type { CommandHandler } from '../../core/command.js';
import { UsageError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs.js';
import { maskText } from '../../core/secrets.js';
import { utcDate } from '../../core/ids.js';
import { loadDigestEntries, renderDigest } from '../../memory/digest.js';
import { readMemory } from '../../memory/memory-store.js';
import type { digest } from './digest.js';
import type { FlagsOf } from '../../cli/spec.js';

export const digestCommand: CommandHandler<FlagsOf<typeof digest>> = async (ctx, { opts }) => {
  if (opts.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(opts.date)) {
    throw new UsageError(`--date must be YYYY-MM-DD, got '${opts.date}'`);
  }
  const { date, entries } = loadDigestEntries(ctx.root, opts.date ?? utcDate(ctx.now()), opts.session);
  if (opts.session && entries.length === 0) {
    throw new UsageError(`no chat entries for session '${opts.session}'`, { hint: 'check the id with the session field in logs/*.jsonl' });
  }
  const out = renderDigest({ cwd: ctx.root, date, session: opts.session, entries, memory: readMemory(ctx.root).entries });
  // Chat entries are stored masked; the digest is masked again so text from any other source is too.
  await writeFileAtomic(join(ctx.root, out.digestPath), maskText(out.digest, ctx.env));
  await writeFileAtomic(join(ctx.root, out.navPath), maskText(out.nav, ctx.env));
  // When each digest was written: the healthcheck's summary → digest lag is measured against it.
  await (await import('../../healthcheck/digest-runs.js')).recordDigestRun(ctx.root, {
    ts: ctx.now().toISOString(),
    date,
    session: opts.session ?? null,
    digest: out.digestPath,
    entries: out.stats.entries,
  });
  ctx.status(`digest of ${out.stats.entries} turns written`);
  return {
    data: { date, session: opts.session ?? null, digest: out.digestPath, nav: out.navPath, stats: out.stats },
    human: `${out.digestPath}\n${out.navPath}`,
  };
};
