/**
 * Escaping of untrusted chat text for the two formats vpm writes it into. Chat text comes from
 * humans and agents and can contain anything; it must never change the structure of a digest or
 * a diagram.
 */

/** Inline Markdown: one line, every structural character backslash-escaped or entity-encoded. */
export function markdownInline(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\`*_[\]|~#]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/^([-+=]|\d+[.)])/, '\\$1');
}

/** A Markdown code span that survives backticks inside it (fence longer than any run within). */
export function markdownCode(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const longestRun = Math.max(0, ...Array.from(flat.matchAll(/`+/g), (m) => m[0].length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/**
 * A Mermaid node label for use inside `["…"]`: characters Mermaid gives meaning to are written as
 * its `#<code>;` entity codes, so text like `]`, `-->`, `|` or a quote stays text.
 */
export function mermaidLabel(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/["#&<>[\]{}()|`;%\\:=-]/g, (c) => `#${c.codePointAt(0)};`);
}
