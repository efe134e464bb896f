/**
 * Secret masking. Applied to chat text before it is stored, and to everything that reaches logs,
 * reports, evidence or error messages. Patterns cover the common token shapes; values of known
 * secret environment variables are masked verbatim as well.
 */
const MASK = '***';

const SECRET_PATTERNS: RegExp[] = [
  /\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}/g, // OpenAI / Anthropic / Stripe style keys
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, // Slack
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key id
  /\bAIza[0-9A-Za-z_-]{35}\b/g, // Google API key
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWT (kube service-account tokens)
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /\b(Bearer|token)\s+[A-Za-z0-9._~+/=-]{16,}/gi,
];

// key=value / "key": "value" where the key names a secret.
const SECRET_ASSIGNMENT =
  /\b([A-Za-z0-9_]*(?:api[_-]?key|apikey|secret|token|password|passwd)[A-Za-z0-9_]*)(\s*[:=]\s*["']?)([^\s"',;]{6,})/gi;

const SECRET_ENV_NAMES = ['GITHUB_TOKEN', 'GH_TOKEN', 'VPM_LLM_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY'];

export interface MaskOptions {
  /**
   * Keep the number of lines: a secret that spans lines (a PEM key; a `token:` and its value on the
   * next line) is replaced by the mask followed by as many line breaks as it had, so callers that
   * address the text by line number stay aligned.
   */
  keepLines?: boolean;
}

export function maskSecrets(text: string, env: NodeJS.ProcessEnv = process.env, opts: MaskOptions = {}): string {
  const breaks = (t: string) => t.split('\n').length - 1;
  const keep = (match: string, replacement: string) =>
    opts.keepLines ? replacement + '\n'.repeat(Math.max(0, breaks(match) - breaks(replacement))) : replacement;
  let out = text;
  for (const name of SECRET_ENV_NAMES) {
    const value = env[name];
    if (value && value.length >= 6) out = out.split(value).join(keep(value, MASK));
  }
  for (const re of SECRET_PATTERNS) {
    out = out.replace(re, (m, p1: string | undefined) =>
      keep(m, typeof p1 === 'string' && /^(bearer|token)$/i.test(p1) ? `${p1} ${MASK}` : MASK),
    );
  }
  out = out.replace(SECRET_ASSIGNMENT, (m, key: string, sep: string) => keep(m, `${key}${sep}${MASK}`));
  return out;
}

/** Deep-masks every string in a JSON-like value. */
export function maskDeep<T>(value: T, env: NodeJS.ProcessEnv = process.env): T {
  if (typeof value === 'string') return maskSecrets(value, env) as T;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, env)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, env);
    return out as T;
  }
  return value;
}
