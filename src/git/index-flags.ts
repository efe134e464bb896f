/**
 * Whether any entry of git's index is flagged assume-unchanged or skip-worktree, read from the
 * index file itself. The rollback must look for edits those flags hide (git status does not show
 * them, a reset overwrites them); on a large repository `git ls-files -v` prints every entry to
 * find the few flagged ones, which costs more than the rest of the rollback's preparation. Almost
 * no repository has a flagged entry, so this scan (fixed-size records, no text decoded) answers
 * "none" cheaply and the caller only asks git when the answer is "some" or "unknown".
 *
 * Format (gitformat-index): "DIRC", version, entry count, then per entry 40 bytes of stat data, the
 * object id (20 bytes; 32 in a SHA-256 repository), 16 bits of flags (0x8000 assume-valid, 0x4000
 * extended, low 12 bits the name length), in version 3 and later 16 more bits when extended
 * (0x4000 skip-worktree), then the name, NUL-padded to a multiple of 8 (versions 2 and 3).
 * Version 4 compresses names without padding, a split index keeps entries in a shared file: both
 * answer "unknown", and the caller asks git.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type FlaggedEntries = 'none' | 'some' | 'unknown';

const ASSUME_VALID = 0x8000;
const EXTENDED = 0x4000;
const SKIP_WORKTREE = 0x4000;
const NAME_MASK = 0x0fff;

export function indexFlaggedEntries(gitDir: string, objectIdBytes = 20): FlaggedEntries {
  let buf: Buffer;
  try {
    buf = readFileSync(join(gitDir, 'index'));
  } catch {
    return 'unknown';
  }
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'DIRC') return 'unknown';
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) return 'unknown';
  if (hasSharedIndex(gitDir)) return 'unknown';
  const count = buf.readUInt32BE(8);
  const fixed = 40 + objectIdBytes + 2;
  let at = 12;
  for (let i = 0; i < count; i++) {
    if (at + fixed > buf.length) return 'unknown';
    const flags = buf.readUInt16BE(at + fixed - 2);
    if (flags & ASSUME_VALID) return 'some';
    let header = fixed;
    if (flags & EXTENDED) {
      if (version < 3 || at + fixed + 2 > buf.length) return 'unknown';
      if (buf.readUInt16BE(at + fixed) & SKIP_WORKTREE) return 'some';
      header += 2;
    }
    let nameLength = flags & NAME_MASK;
    // A name of 0xFFF or more characters is stored whole; its length is where its NUL is.
    if (nameLength === NAME_MASK) {
      const nul = buf.indexOf(0, at + header);
      if (nul < 0) return 'unknown';
      nameLength = nul - (at + header);
    }
    // Entries are padded with 1–8 NULs to a multiple of 8 bytes.
    at += (header + nameLength + 8) & ~7;
  }
  return 'none';
}

/** A split index ("link" extension) keeps most entries in .git/sharedindex.<sha>. */
function hasSharedIndex(gitDir: string): boolean {
  if (!existsSync(gitDir)) return false;
  try {
    return readdirSync(gitDir).some((f) => f.startsWith('sharedindex.'));
  } catch {
    return true;
  }
}
