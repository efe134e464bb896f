import { maskDeep } from '../core/secrets.js';

export const PAYLOAD_LIMIT = 2000;
const TRUNCATED_SUFFIX = '...(truncated)';

// C0 and C1 control characters and DEL; tab/newline included: a payload is data, not layout.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function stripControls(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(CONTROL, '');
  if (Array.isArray(value)) return value.map(stripControls);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k.replace(CONTROL, '')] = stripControls(v);
    return out;
  }
  return value;
}

export interface SanitisedPayload {
  /** The payload as JSON text: secrets masked, control characters stripped, ≤ 2000 characters. */
  text: string;
  truncated: boolean;
  /** UTF-8 bytes of `text`. */
  size: number;
}

/**
 * Sanitises a job payload for step logs and the step environment. Cuts at code points (never
 * inside a surrogate pair) so the result, suffix included, is at most PAYLOAD_LIMIT characters.
 */
export function sanitisePayload(value: unknown, env: NodeJS.ProcessEnv): SanitisedPayload {
  // Masked before the control characters go: a key block or a YAML value is recognised by its lines.
  const json = JSON.stringify(stripControls(maskDeep(value, env))) ?? 'null';
  let text = json;
  let truncated = false;
  if (json.length > PAYLOAD_LIMIT) {
    truncated = true;
    const keep = PAYLOAD_LIMIT - TRUNCATED_SUFFIX.length;
    let cut = json.slice(0, keep);
    if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
    text = cut + TRUNCATED_SUFFIX;
  }
  return { text, truncated, size: Buffer.byteLength(text, 'utf8') };
}
