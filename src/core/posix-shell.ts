/** Words written for a POSIX shell: scripts vpm writes, commands it prints, its shell batches. */

/** `s` as one shell word: as is when it needs no quoting, else single-quoted (any byte but NUL survives, newlines included). */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
