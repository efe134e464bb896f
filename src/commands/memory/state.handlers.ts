import { join } from 'node:path';
import type { CommandHandler } from '../../core/command.js';
import { UsageError, OperationalError } from '../../core/errors.js';
import { readTextIfExists, withLock, writeFileAtomic } from '../../core/fs.js';
import { makeId } from '../../core/ids.js';
import { confirm } from '../../core/progress.js';
import { graphemeLength, truncateGraphemes } from '../../memory/graphemes.js';
import { updateMemory } from '../../memory/memory-store.js';
import { readState, readStateText, renderStateForWrite, STATE_FILE, validateState } from '../../memory/state-doc.js';
import { maskText } from '../../core/secrets.js';
import { SUMMARY_MAX_GRAPHEMES } from '../../schemas/memory.js';
import type { statePatch } from './state-patch.js';
import type { FlagsOf } from '../../cli/spec.js';

/** fast-json-patch's validation errors, in words (RFC 6902's terms). */
const PATCH_ERRORS: Record<string, (op: { op?: string; path?: string; from?: string }) => string> = {
  SEQUENCE_NOT_AN_ARRAY: () => 'a patch is a JSON array of operations',
  OPERATION_NOT_AN_OBJECT: () => 'an operation is a JSON object',
  OPERATION_OP_INVALID: (o) => `"${o.op}" is not an operation (add, remove, replace, move, copy, test)`,
  OPERATION_PATH_INVALID: () => 'its path is not a JSON pointer (e.g. /phase)',
  OPERATION_FROM_REQUIRED: (o) => `${o.op} needs "from"`,
  OPERATION_VALUE_REQUIRED: (o) => `${o.op} needs "value"`,
  OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: () => 'its value holds undefined',
  OPERATION_PATH_CANNOT_ADD: (o) => `the parent of ${o.path} does not exist`,
  OPERATION_PATH_UNRESOLVABLE: (o) => `${o.path} does not exist`,
  OPERATION_FROM_UNRESOLVABLE: (o) => `from ${o.from} does not exist`,
  OPERATION_PATH_ILLEGAL_ARRAY_INDEX: (o) => `${o.path} is not a valid array index`,
  OPERATION_VALUE_OUT_OF_BOUNDS: (o) => `${o.path} is past the end of its array`,
  TEST_OPERATION_FAILED: (o) => `the value at ${o.path} is not the one the test expects`,
};

export const stateShowCommand: CommandHandler = async (ctx) => {
  const state = await readState(ctx.root);
  const human = [
    `phase: ${state.phase}   updated: ${state.updated_at}`,
    '',
    'C:',
    state.current,
    '',
    'G:',
    ...state.goals.map((g) => `  ${g.id}  ${g.text}`),
    '',
    'δ:',
    state.delta,
  ].join('\n');
  return { data: state, human };
};

export const stateCheckCommand: CommandHandler = async (ctx) => {
  const state = await readState(ctx.root);
  return { data: { ok: true, file: STATE_FILE, goals: state.goals.length }, human: `${STATE_FILE}: ok (${state.goals.length} goals)` };
};

/** JSON pointers of `input` that `output` (the schema-parsed form) no longer has. */
function droppedPaths(input: unknown, output: unknown, at = ''): string[] {
  if (!input || typeof input !== 'object') return [];
  if (!output || typeof output !== 'object') return [at || '/'];
  const out: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    const next = `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (!(key in output)) out.push(next);
    else out.push(...droppedPaths(value, (output as Record<string, unknown>)[key], next));
  }
  return out;
}

export const statePatchCommand: CommandHandler<FlagsOf<typeof statePatch>> = async (ctx, { args, opts }) => {
  // Decide up front whether we may write: a non-interactive run without --yes fails before any work.
  if (!opts.yes && !opts.dryRun && !ctx.canPrompt()) {
    throw new UsageError('refusing to change STATE without confirmation: stdin is not a terminal', {
      hint: 'pass --yes to write, or --dry-run to only see the diff',
    });
  }
  const patchFile = args[0];
  let patchText: string | undefined;
  try {
    if (patchFile === '-') {
      const { readStdinText } = await import('../../core/stdin.js');
      patchText = await readStdinText(ctx.io.stdin, { limitBytes: 1024 * 1024, what: 'the patch on stdin' });
    } else patchText = readTextIfExists(ctx.userPath(patchFile)) ?? readTextIfExists(join(ctx.root, patchFile));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read patch file ${patchFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'pass a JSON file holding an array of RFC 6902 operations',
    });
  }
  if (patchText === undefined) throw new UsageError(`patch file ${patchFile} not found`);
  let ops: unknown;
  try {
    ops = JSON.parse(patchText);
  } catch (err) {
    throw new UsageError(`patch file ${patchFile} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(ops)) throw new UsageError(`patch file ${patchFile} must hold a JSON array of RFC 6902 operations`);
  const { default: jsonpatch } = await import('fast-json-patch');
  const { createTwoFilesPatch } = await import('diff');
  const path = join(ctx.root, STATE_FILE);

  return withLock(
    path,
    async () => {
      const before = await readState(ctx.root);
      const hint = 'check the JSON pointer paths against `vpm state show --json`';
      let validationError: ReturnType<typeof jsonpatch.validate>;
      try {
        validationError = jsonpatch.validate(ops as any[], structuredClone(before));
      } catch (err) {
        throw new UsageError(`patch file ${patchFile} cannot apply: ${(err as Error).message.split('\n')[0]}`, { hint });
      }
      if (validationError) {
        const op = validationError.operation as { op?: string; path?: string; from?: string } | undefined;
        const why = PATCH_ERRORS[validationError.name]?.(op ?? {}) ?? validationError.name;
        throw new UsageError(`patch operation ${validationError.index} (${op?.op} ${op?.path}) cannot apply: ${why}`, { hint });
      }
      // validate() passes some patches that applyPatch() still rejects or that leave no usable document
      // (a `__proto__` path, moving a value into itself, replacing the root with a scalar, a copy into
      // its own subtree); all of them are bad input, never an internal error.
      let patched: Record<string, unknown>;
      try {
        const doc: unknown = jsonpatch.applyPatch(structuredClone(before), ops as any[], false, false).newDocument;
        if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the patched document is not an object');
        patched = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
      } catch (err) {
        throw new UsageError(`patch file ${patchFile} cannot apply: ${(err as Error).message.split('\n')[0]}`, { hint });
      }
      const touchesUpdatedAt = (ops as Array<{ path?: string }>).some((o) => o?.path === '/updated_at');
      if (!touchesUpdatedAt) patched.updated_at = ctx.now().toISOString();
      const after = validateState(patched, `${STATE_FILE} after the patch`);
      // A field STATE cannot hold would be dropped on write: refuse instead of losing it silently.
      const dropped = droppedPaths(patched, after);
      if (dropped.length) {
        throw new UsageError(
          `the patch sets field(s) STATE/current_state.md cannot hold: ${dropped.slice(0, 5).join(', ')}${dropped.length > 5 ? ', …' : ''}`,
          { hint },
        );
      }
      const beforeText = readStateText(ctx.root) ?? '';
      const afterText = renderStateForWrite(after, beforeText, ctx.env);
      const diff = maskText(
        createTwoFilesPatch(`a/${STATE_FILE}`, `b/${STATE_FILE}`, beforeText, afterText, '', '', { context: 3 }),
        ctx.env,
      );
      const data = { file: STATE_FILE, applied: false, operations: (ops as unknown[]).length, diff, state: after };
      if (opts.dryRun) return { data, human: diff };
      ctx.io.stderr.write(diff);
      if (!opts.yes && !(await confirm(ctx, `Write ${STATE_FILE}?`))) {
        throw new OperationalError('not written: the change was not confirmed');
      }
      await writeFileAtomic(path, afterText);
      const ops6902 = ops as Array<{ op: string; path: string }>;
      const note = truncateGraphemes(
        `STATE patched (${ops6902.map((o) => `${o.op} ${o.path}`).join(', ')}); phase ${after.phase}`,
        SUMMARY_MAX_GRAPHEMES,
      );
      await updateMemory(ctx.root, (memory) => ({
        next: {
          ...memory,
          entries: [
            {
              id: makeId('state', ctx.now()),
              created_at: ctx.now().toISOString(),
              kind: 'state_patch' as const,
              summary: note,
              chars: graphemeLength(note),
              source: { from_id: null, to_id: null, count: 0 },
              provider: 'vpm state patch',
              compress_ratio: 0,
            },
            ...memory.entries,
          ],
        },
        result: undefined,
      }));
      return { data: { ...data, applied: true }, human: `${STATE_FILE} updated (${ops6902.length} operations)` };
    },
    { what: STATE_FILE },
  );
};
