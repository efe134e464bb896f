/**
 * Secret masking: the one masker every byte vpm stores or prints goes through (chat text and meta,
 * logs, reports, evidence, state files, run logs, error messages, stdout/stderr).
 *
 * Detection = a provider catalogue (the token shapes of secretlint's recommended preset plus a few
 * providers it lacks: Hugging Face, Groq, xAI, kube bootstrap tokens, JWTs) + vpm's structural
 * rules (secret-named keys in key=value / JSON / YAML / `--flag value` forms, URL credentials,
 * PEM/PGP private-key blocks including truncated ones, Basic/Bearer authorisation values) + the
 * verbatim values of secret-named environment variables.
 *
 * Linear time is a design rule, not an accident. secretlint's own rules are not linear (nested
 * quantifiers, unbounded `.*`) and are async, so it is not run here: its preset is the oracle in
 * tests/unit/secrets-corpus.test.ts instead, which fails when it finds something this scanner
 * leaves. Every regex below either starts with a literal prefix and consumes one character class
 * with no trailing requirement (an attempt succeeds by consuming the run or fails within the
 * minimum length), or carries a lookbehind that excludes its own body class (so attempts start
 * only at run starts). The structural scanner walks the text forward once and never re-reads what
 * it has passed. Ranges from all detectors are merged and replaced in one final pass.
 */
const MASK = '***';

type Range = [start: number, end: number];

/**
 * Provider tokens: each shape with its needles — literal text that every match of it, or the text
 * its lookbehind requires, contains (any one of them; space-separated). Left boundaries are
 * deliberately looser than secretlint's `(?<!\p{L})`: a GitHub token glued to text (`x_ghp_…`,
 * URL-encoded `%3Dghp_…`) is still a GitHub token.
 */
export const PROVIDER_SHAPES: readonly (readonly [needles: string, source: string])[] = [
  // GitHub (secretlint-rule-github): classic, fine-grained, app installation tokens.
  ['ghp_ gho_ ghu_ ghs_ ghr_', String.raw`gh[pousr]_[A-Za-z0-9_]{20,}`],
  ['github_pat_', String.raw`github_pat_[A-Za-z0-9_]{20,}`],
  // OpenAI / Anthropic (secretlint-rule-openai, -anthropic), generic `sk-` keys (DeepSeek, etc).
  ['sk-', String.raw`(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}`],
  // Stripe (secretlint-rule-stripe).
  ['_live_ _test_', String.raw`(?<![A-Za-z0-9])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}`],
  // Slack (secretlint-rule-slack): tokens and incoming webhooks.
  ['xox', String.raw`xox[abposr]-[A-Za-z0-9-]{10,}`],
  ['xapp-', String.raw`xapp-[A-Za-z0-9-]{10,}`],
  ['hooks.slack.com/services/', String.raw`hooks\.slack\.com/services/[A-Za-z0-9/]{8,}`],
  // AWS access key ids (secretlint-rule-aws); secret keys are caught by the structural rule.
  [
    'A3T AKIA AGPA AIDA AROA AIPA ANPA ANVA ASIA ABIA ACCA',
    String.raw`(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|ABIA|ACCA)[A-Z0-9]{16}`,
  ],
  // Google (secretlint-rule-gcp covers service-account JSON; API keys here).
  ['AIza', String.raw`AIza[0-9A-Za-z_-]{35}`],
  ['ya29.', String.raw`ya29\.[0-9A-Za-z_-]{20,}`],
  // npm (secretlint-rule-npm), GitLab (-gitlab), Grafana (-grafana), Hashicorp Vault (-hashicorp-vault).
  ['npm_', String.raw`npm_[A-Za-z0-9]{30,}`],
  [
    'glpat- glptt- gldt- glrt- glcbt- gloas- glimt- glft- glsoat- glagent-',
    String.raw`gl(?:pat|ptt|dt|rt|cbt|oas|imt|ft|soat|agent)-[A-Za-z0-9_-]{20,}`,
  ],
  ['glc_', String.raw`glc_[A-Za-z0-9+/]{32,}={0,2}`],
  ['glsa_', String.raw`glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}`],
  ['hvs. hvb. hvr.', String.raw`hv[sbr]\.[A-Za-z0-9_-]{24,}`],
  // Linear, Notion, SendGrid, Shopify, 1Password, Vercel, Databricks, Docker, Figma, Cloudflare,
  // Tailscale (each a secretlint-rule of that name).
  ['lin_api_ lin_oauth_', String.raw`lin_(?:api|oauth)_[A-Za-z0-9_]{32,}`],
  ['ntn_ secret_', String.raw`(?:ntn|secret)_[0-9]{11}[A-Za-z0-9]{35}`],
  ['SG.', String.raw`SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`],
  ['shppa_ shpca_ shpat_ shpss_', String.raw`shp(?:pa|ca|at|ss)_[A-Za-z0-9]{32,}`],
  ['ops_ey', String.raw`ops_ey[A-Za-z0-9+/=]{40,}`],
  ['vcp_ vci_ vck_ vca_ vcr_', String.raw`(?<![A-Za-z0-9])vc[pikar]_[A-Za-z0-9]{20,}`],
  ['dapi', String.raw`(?<![A-Za-z0-9])dapi[A-Fa-f0-9]{32}(?:-[0-9])?`],
  ['dckr_pat_', String.raw`dckr_pat_[A-Za-z0-9_-]{20,}`],
  ['figd_', String.raw`figd_[A-Za-z0-9_-]{40,}`],
  ['cfk_ cfut_ cfat_', String.raw`(?:cfk|cfut|cfat)_[A-Za-z0-9]{40,}`],
  ['tskey-', String.raw`tskey-[a-z]{2,20}-[0-9A-Za-z_-]{20,}`],
  // Providers the preset lacks: Hugging Face, Groq, xAI, DigitalOcean, PyPI, Doppler.
  ['hf_', String.raw`hf_[A-Za-z0-9]{30,}`],
  ['gsk_', String.raw`gsk_[A-Za-z0-9]{40,}`],
  ['xai-', String.raw`xai-[A-Za-z0-9]{40,}`],
  ['dop_v1_ doo_v1_ dor_v1_', String.raw`do[por]_v1_[a-f0-9]{64}`],
  ['pypi-AgE', String.raw`pypi-AgE[A-Za-z0-9_-]{50,}`],
  ['dp.', String.raw`dp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9]{40,}`],
  // JWTs (kube service-account tokens, OIDC id tokens); attempts only at the start of a run.
  ['eyJ', String.raw`(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`],
  // Kubernetes bootstrap tokens: [a-z0-9]{6}.[a-z0-9]{16}.
  ['.', String.raw`(?<![A-Za-z0-9.])[a-z0-9]{6}\.[a-z0-9]{16}(?![A-Za-z0-9.])`],
  // Authorisation values: `Bearer x`, `Basic x`, GitHub's `token x`.
  ['earer EARER asic ASIC oken', String.raw`(?<=(?<![A-Za-z0-9])(?:[Bb]earer|BEARER|[Bb]asic|BASIC|[Tt]oken) {1,4})[A-Za-z0-9._~+/=-]{8,}`],
];
const PROVIDER_NEEDLES = PROVIDER_SHAPES.map(([needles]) => needles.split(' '));

function providerAlternation(indexes: readonly number[]): RegExp {
  return new RegExp(indexes.map((i) => `(?:${PROVIDER_SHAPES[i]![1]})`).join('|'), 'g');
}

/** Up to this length a text's needles are looked for one by one (a few dozen substring searches). */
const SHORT_TEXT = 4096;
/** Distinct subsets compiled before a process settles on the whole catalogue: each is a compile too. */
const MAX_SUBSETS = 8;
let wholeCatalogue: RegExp | undefined;
const subsets = new Map<string, RegExp>();

/**
 * The provider regex to scan `text` with, or undefined when no shape can match it. Compiling the
 * whole catalogue costs V8 about half a millisecond, and again as much when it tiers up on its
 * second use — most of what masking costs `vpm chat append`, which runs on every agent turn. A
 * short text is scanned with the alternation of only the shapes whose needles it contains, in
 * catalogue order: the same matches, since a shape whose needles are all absent from the text
 * cannot match anywhere in it, and a leftmost-first alternation picks, at each position, the first
 * alternative that matches there. Long texts (and a process that has met many subsets) use the
 * whole catalogue, whose compile is then small beside the scan.
 */
function providerRegex(text: string): RegExp | undefined {
  if (text.length <= SHORT_TEXT && (wholeCatalogue === undefined || subsets.size > 0)) {
    const present: number[] = [];
    for (let i = 0; i < PROVIDER_NEEDLES.length; i++) {
      if (PROVIDER_NEEDLES[i]!.some((needle) => text.includes(needle))) present.push(i);
    }
    if (present.length === 0) return undefined;
    const key = present.join(',');
    let re = subsets.get(key);
    if (re === undefined && subsets.size < MAX_SUBSETS) subsets.set(key, (re = providerAlternation(present)));
    if (re !== undefined) return re;
  }
  return (wholeCatalogue ??= providerAlternation(PROVIDER_SHAPES.map((_, i) => i)));
}

const PEM_BEGIN_RE = /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END_RE = /-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;

/**
 * Words that make a key secret-named. Matched case-insensitively anywhere in the text; the whole
 * identifier around a hit is then judged by isSecretKey.
 */
const KEY_WORD_RE =
  /passw|passphrase|pwd|secret|token|api[_-]?key|apikey|auth|credential|private[_-]?key|access[_-]?key|cookie|session[_-]?key/gi;

/** Keys named like secrets whose values are not: names, references, counts, paths, kinds. */
const NOT_SECRET_KEY_RE =
  /(?:^|_)(?:name|names|ref|refs|file|path|dir|type|types|count|limit|len|length|usage|ttl|expiry|expires|expires_at|expiration|url|uri|endpoint|id|ids|kind|mode|policy|format|tokens|hint|label|prompt|field|env|var|source|provider|used|estimate|max|min|budget|method|header|scheme|store|required|enabled|version|mount|manager|rotation|error|prefix|suffix|size|in|out|input|output|total|cost|rate|per_\w+)$/;
const SECRET_KEY_RE =
  /passw(?:or)?d|passwd|passphrase|secret|token|api_?key|apikey|access_?key|private_?key|credential|signing_?key|encryption_?key|_pwd$|(?:^|_)(?:auth|authorization|cookie|set_cookie|session_?key|x_api_key|x_auth_token)$/;

/** True when a key (JSON property, YAML key, env var name, flag name) names a secret value. */
/** A word every SECRET_KEY_RE alternative contains: most keys are turned away here, cheaply. */
const SECRET_KEY_HINT_RE = /pass|secret|token|key|credential|pwd|auth|cookie/i;

export function isSecretKey(key: string): boolean {
  if (key.length === 0 || key.length > 200 || !SECRET_KEY_HINT_RE.test(key)) return false;
  const k = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[-. ]/g, '_')
    .replace(/^_+|_+$/g, '');
  return SECRET_KEY_RE.test(k) && !NOT_SECRET_KEY_RE.test(k);
}

/** Values under secret keys that are not secrets: placeholders, references, already masked. */
function isExemptValue(v: string): boolean {
  if (v.length === 0) return true;
  if (v === MASK || v.startsWith('***')) return true;
  if (/^(?:null|nil|none|true|false|undefined|yes|no|on|off|\[redacted\]|<redacted>|redacted|\*+)$/i.test(v)) return true;
  // ${VAR}, $VAR, ${{ secrets.X }}, {{ .Values.x }}: references to a secret, not the secret.
  if (/^\$\{?\{?\s*[A-Za-z_][\w. ]*\}?\}?$/.test(v) || /^\{\{.*\}\}$/.test(v)) return true;
  return false;
}

/** Identifier characters of a key (letters, digits, `_`, `.`, `-`), by char code: hot loops. */
function isIdChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45;
}
const ID_RUN_RE = /[A-Za-z0-9_.-]*/y;
const UNQUOTED_VALUE_END_RE = /[\s"'`,&<>)\]}]/g;
const AUTH_VALUE_END_RE = /[\s"'`,]/g;
const URL_AUTHORITY_END_RE = /[\s/?#"'`<>]/g;

/** A quote at `p`, after any backslashes escaping it: `"`, `\"`, `\\\"` (JSON in JSON in JSON). */
function quoteAt(text: string, p: number, backtick: boolean): { quote?: string; esc: number; next: number } {
  let q = p;
  while (text.charCodeAt(q) === 92 && q - p < 7) q++;
  const c = text[q];
  if (c === '"' || c === "'" || (backtick && c === '`' && q === p)) return { quote: c, esc: q - p, next: q + 1 };
  return { esc: 0, next: p };
}

const closers = new Map<string, RegExp>();
/** A global regex for `closer` or a line break, whichever comes first. */
function closerRe(closer: string): RegExp {
  let re = closers.get(closer);
  if (!re) closers.set(closer, (re = new RegExp(`${closer.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}|\\n`, 'g')));
  return re;
}

/** Index of the first match of a global regex at or after `from`, or text.length. */
function endAt(re: RegExp, text: string, from: number): number {
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index : text.length;
}
const AUTH_SCHEME_RE = /^(?:basic|bearer|token|digest|negotiate|ntlm|apikey|api-key)$/i;

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/**
 * Secret-named keys followed by a value: `password=x`, `"token": "x"`, `api_key: x`, `--password x`,
 * `--token=x`, `\"secret\":\"x\"` (JSON inside a JSON string), `Authorization: Basic x`, and YAML
 * block scalars (`private_key: |` + indented lines). One forward pass; `floor` never moves back.
 */
function structuralRanges(text: string, out: Range[]): void {
  KEY_WORD_RE.lastIndex = 0;
  let floor = 0;
  for (let m = KEY_WORD_RE.exec(text); m; m = KEY_WORD_RE.exec(text)) {
    const hit = m.index;
    if (hit < floor) {
      KEY_WORD_RE.lastIndex = floor;
      continue;
    }
    let s = hit;
    while (s > floor && isIdChar(text.charCodeAt(s - 1))) s--;
    while (s < hit && (text[s] === '-' || text[s] === '.')) s++; // `--password`: the flag's dashes are not the key
    ID_RUN_RE.lastIndex = KEY_WORD_RE.lastIndex;
    ID_RUN_RE.exec(text);
    const e = ID_RUN_RE.lastIndex;
    floor = e;
    KEY_WORD_RE.lastIndex = e;
    // A dotted path like `auth.token` or a trailing dot in prose: judge the identifier as written.
    const key = text.slice(s, e);
    if (!isSecretKey(key)) continue;
    const isFlag = s >= 2 && text[s - 1] === '-' && text[s - 2] === '-';
    let p = e;
    // Closing quote of a quoted key, possibly escaped once or more (JSON inside a JSON string).
    const kq = quoteAt(text, p, false);
    if (kq.quote !== undefined) p = kq.next;
    while (isSpace(text[p])) p++;
    let sepOk = false;
    const colon = text[p] === ':';
    if (text[p] === '=' || (text[p] === ':' && text[p + 1] !== '/')) {
      p += text[p + 1] === '=' || text[p + 1] === '>' ? 2 : 1;
      sepOk = true;
    } else if (isFlag && p > e && text[p] !== '-' && text[p] !== '\n' && p < text.length) {
      sepOk = true;
    }
    if (!sepOk) continue;
    while (isSpace(text[p])) p++;
    const vq = quoteAt(text, p, true);
    const quote = vq.quote;
    p = vq.next;
    const vs = p;
    let ve = p;
    if (quote !== undefined && vq.esc > 0) {
      // Escaped quotes: the value ends at the same escape + quote (or the line's end).
      ve = endAt(closerRe('\\'.repeat(vq.esc) + quote), text, vs);
    } else if (quote !== undefined) {
      while (ve < text.length && text[ve] !== '\n') {
        const c = text[ve]!;
        if (c === '\\') {
          ve += 2;
          continue;
        }
        if (c === quote) break;
        ve++;
      }
      ve = Math.min(ve, text.length);
    } else {
      ve = endAt(UNQUOTED_VALUE_END_RE, text, vs);
      // `apiKey: apiKey: x` — what follows is another key, not this key's value: scan it as such.
      if (ve > vs && text[ve - 1] === ':') {
        floor = vs;
        KEY_WORD_RE.lastIndex = vs;
        continue;
      }
    }
    const value = text.slice(vs, ve);
    // `Authorization: Basic xyz`: keep the scheme, mask what follows it.
    if (quote === undefined && AUTH_SCHEME_RE.test(value) && isSpace(text[ve])) {
      let q = ve;
      while (isSpace(text[q])) q++;
      const qe = endAt(AUTH_VALUE_END_RE, text, q);
      if (qe > q) out.push([q, qe]);
      floor = Math.max(floor, qe);
      KEY_WORD_RE.lastIndex = floor;
      continue;
    }
    // YAML block scalar (`key: |`), or a plain value continued on the next, deeper-indented lines
    // (`password:` + newline + `  value`): the value is every following line indented deeper than the key's line.
    const blockIndicator = /^[|>][+-]?\d?$/.test(value);
    const valueOnNextLines = colon && value.trim() === '' && text[ve] !== undefined && /^[ \t]*\r?\n/.test(text.slice(ve, ve + 8));
    if (quote === undefined && (blockIndicator || valueOnNextLines) && /^[ \t]*(?:\r?\n|$)/.test(text.slice(ve, ve + 8))) {
      const lineStart = text.lastIndexOf('\n', s - 1) + 1;
      let indent = 0;
      while (isSpace(text[lineStart + indent])) indent++;
      let q = text.indexOf('\n', ve);
      const bs = q === -1 ? text.length : q + 1;
      let be = bs;
      while (q !== -1) {
        const ls = q + 1;
        let li = 0;
        while (isSpace(text[ls + li])) li++;
        const next = text.indexOf('\n', ls);
        const blank = ls + li === (next === -1 ? text.length : next);
        if (!blank && li <= indent) break;
        be = next === -1 ? text.length : next;
        q = next;
      }
      if (be > bs) out.push([bs, be]);
      floor = Math.max(floor, be);
      KEY_WORD_RE.lastIndex = floor;
      continue;
    }
    if (!isExemptValue(value.trim())) out.push([vs, ve]);
    floor = Math.max(floor, ve);
    KEY_WORD_RE.lastIndex = floor;
  }
}

/** `scheme://user:password@host`: the password is masked, the user kept. */
function urlCredentialRanges(text: string, out: Range[]): void {
  let i = text.indexOf('://');
  while (i !== -1) {
    const a = i + 3;
    const e = endAt(URL_AUTHORITY_END_RE, text, a);
    const authority = text.slice(a, e);
    const at = authority.lastIndexOf('@');
    if (at !== -1) {
      const colon = authority.indexOf(':');
      if (colon !== -1 && colon < at) out.push([a + colon + 1, a + at]);
      else if (at >= 16) out.push([a, a + at]); // a long bare user part is a token (https://<token>@host)
    }
    i = text.indexOf('://', Math.max(e, a));
  }
}

/**
 * Private-key blocks. An unterminated BEGIN masks to the end of the text (a truncated key is still
 * a key); an END without its BEGIN masks the base64 body back to where it starts.
 */
function pemRanges(text: string, out: Range[]): void {
  if (!text.includes('PRIVATE KEY')) return;
  const ends: Range[] = [];
  PEM_END_RE.lastIndex = 0;
  for (let m = PEM_END_RE.exec(text); m; m = PEM_END_RE.exec(text)) ends.push([m.index, m.index + m[0].length]);
  let ei = 0;
  let floor = 0;
  PEM_BEGIN_RE.lastIndex = 0;
  const begins: number[] = [];
  for (let m = PEM_BEGIN_RE.exec(text); m; m = PEM_BEGIN_RE.exec(text)) begins.push(m.index);
  let bi = 0;
  while (bi < begins.length || ei < ends.length) {
    const b = begins[bi];
    const end = ends[ei];
    if (end !== undefined && (b === undefined || end[0] < b)) {
      // END with no BEGIN before it (since the last block): walk back over the base64 body.
      let s = end[0];
      while (s > floor && isKeyBodyChar(text.charCodeAt(s - 1))) s--;
      out.push([s, end[1]]);
      floor = end[1];
      ei++;
      continue;
    }
    if (b === undefined) break;
    while (ei < ends.length && ends[ei]![0] < b) ei++;
    const close = ends[ei];
    if (close === undefined) {
      out.push([b, text.length]);
      return;
    }
    out.push([b, close[1]]);
    floor = close[1];
    ei++;
    while (bi < begins.length && begins[bi]! < floor) bi++;
  }
}

/** Base64 body of a key block, its line breaks, and `\` of `\n` escapes in JSON strings. */
function isKeyBodyChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) ||
    (c >= 65 && c <= 90) ||
    (c >= 48 && c <= 57) ||
    c === 43 ||
    c === 47 ||
    c === 61 ||
    c === 92 ||
    c === 10 ||
    c === 13
  );
}

const KNOWN_SECRET_ENV = ['GITHUB_TOKEN', 'GH_TOKEN', 'VPM_LLM_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY'];

/**
 * An environment variable long enough to be a secret: a known secret variable's value (6+
 * characters) always is one; another's (8+) when its name is secret-named and the value is not a
 * placeholder. `secret` is that verdict, worked out on first need.
 */
interface EnvCandidate {
  name: string;
  value: string;
  known: boolean;
  secret?: boolean;
}

/** The values of secret-named environment variables, masked wherever they appear verbatim. */
interface EnvSecrets {
  readonly candidates: EnvCandidate[];
}

const envSecretsCache = new WeakMap<NodeJS.ProcessEnv, { fingerprint: string; secrets: EnvSecrets }>();

/**
 * The environment's candidate secrets. A command masks many texts: they are kept per environment
 * object while its names and value lengths stay the same.
 */
function envSecrets(env: NodeJS.ProcessEnv = process.env): EnvSecrets {
  let fingerprint = '';
  for (const [name, v] of Object.entries(env)) fingerprint += `${name}:${v?.length ?? 0};`;
  const cached = envSecretsCache.get(env);
  if (cached?.fingerprint === fingerprint) return cached.secrets;
  const candidates: EnvCandidate[] = [];
  for (const name of KNOWN_SECRET_ENV) {
    const value = env[name];
    if (value && value.length >= 6) candidates.push({ name, value, known: true });
  }
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= 8) candidates.push({ name, value, known: false });
  }
  const secrets = { candidates };
  envSecretsCache.set(env, { fingerprint, secrets });
  return secrets;
}

function isEnvSecret(c: EnvCandidate): boolean {
  c.secret ??= c.known || (isSecretKey(c.name) && !isExemptValue(c.value));
  return c.secret;
}

/**
 * Judging a name compiles the key rules (a shell's PWD alone needs them), so in a short text a
 * variable is judged only once its value is found there; in a long one every variable is judged
 * first and only the secrets' values are searched for.
 */
function envRanges(text: string, secrets: EnvSecrets, out: Range[]): void {
  const short = text.length <= SHORT_TEXT;
  for (const c of secrets.candidates) {
    if ((short && !text.includes(c.value)) || !isEnvSecret(c)) continue;
    const v = c.value;
    for (let i = text.indexOf(v); i !== -1; i = text.indexOf(v, i + v.length)) out.push([i, i + v.length]);
  }
}

/** Every secret range in `text`, sorted and merged. */
export function findSecretRanges(text: string, secrets: EnvSecrets = { candidates: [] }): Range[] {
  const ranges: Range[] = [];
  const providers = providerRegex(text);
  if (providers) {
    providers.lastIndex = 0;
    for (let m = providers.exec(text); m; m = providers.exec(text)) ranges.push([m.index, m.index + m[0].length]);
  }
  structuralRanges(text, ranges);
  if (text.includes('://')) urlCredentialRanges(text, ranges);
  pemRanges(text, ranges);
  envRanges(text, secrets, ranges);
  if (ranges.length < 2) return ranges;
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Range[] = [ranges[0]!];
  for (let i = 1; i < ranges.length; i++) {
    const last = merged[merged.length - 1]!;
    const r = ranges[i]!;
    if (r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push(r);
  }
  return merged;
}

/** Masks every secret in a whole text. Mask before truncating: a cut can hide a secret's prefix. */
export function maskText(text: string, env: NodeJS.ProcessEnv = process.env, secrets = envSecrets(env)): string {
  const ranges = findSecretRanges(text, secrets);
  if (ranges.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [s, e] of ranges) {
    if (e <= s) continue;
    out += text.slice(at, s) + MASK;
    at = e;
  }
  return out + text.slice(at);
}

/**
 * Deep-masks a JSON-like value before it is serialised: strings are masked as texts, object keys
 * that are secrets themselves are masked, and every scalar under a secret-named key is replaced.
 */
export function maskValue<T>(value: T, env: NodeJS.ProcessEnv = process.env): T {
  const secrets = envSecrets(env);
  const onPath = new WeakSet<object>();
  // `secretKey`: the value sits under a secret-named key. `numericSecret`: that key names a credential
  // outright, so even a number is masked (`token_in: 812` is a count; `password: 1234` is a password).
  const walk = (v: unknown, secretKey: boolean, numericSecret: boolean): unknown => {
    if (typeof v === 'string') {
      if (secretKey && !isExemptValue(v.trim())) return MASK;
      return maskText(v, env, secrets);
    }
    if ((typeof v === 'number' || typeof v === 'bigint') && numericSecret) return MASK;
    if (v === null || typeof v !== 'object') return v;
    // Only a true cycle (an object inside itself) is cut; an object shared by two places is masked twice.
    if (onPath.has(v)) return '[circular]';
    onPath.add(v);
    try {
      if (Array.isArray(v)) return v.map((x) => walk(x, secretKey, numericSecret));
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        let key = maskText(k, env, secrets);
        while (key !== k && Object.hasOwn(out, key)) key += '*';
        const isSecret = isSecretKey(k);
        out[key] = walk(x, isSecret, isSecret && /passw|passphrase|secret|api_?key|apikey|private/i.test(k));
      }
      return out;
    } finally {
      onPath.delete(v);
    }
  };
  return walk(value, false, false) as T;
}

/** Masks the whole text first, then keeps at most `max` characters of its end (a log tail). */
export function maskedTail(text: string, max: number, env: NodeJS.ProcessEnv = process.env): string {
  const masked = maskText(text, env);
  return masked.length > max ? masked.slice(masked.length - max) : masked;
}

/** The minimal writable shape vpm writes text to (process.stdout, a file stream, a test sink). */
export interface TextWritable {
  write(chunk: string | Uint8Array, ...rest: unknown[]): boolean;
}

/**
 * Masks one write of CLI output. A write that is a whole JSON document (`--json` results, error
 * objects) is masked as a value before it is serialised again — inside a JSON string a secret's
 * context is escaped (`\n`, `\"`) and a text masker sees less of it — then as text.
 */
function maskOutput(text: string, env: NodeJS.ProcessEnv = process.env): string {
  const secrets = envSecrets(env);
  const t = text.trim();
  if (t.length > 1 && ((t[0] === '{' && t.endsWith('}')) || (t[0] === '[' && t.endsWith(']')))) {
    let value: unknown;
    try {
      value = JSON.parse(t);
    } catch {
      value = undefined;
    }
    if (value !== undefined) {
      const indent = /^[{[]\r?\n( +)/.exec(t)?.[1]?.length;
      const start = text.indexOf(t);
      const json = JSON.stringify(maskValue(value, env), null, indent);
      return text.slice(0, start) + maskText(json, env, secrets) + text.slice(start + t.length);
    }
  }
  return maskText(text, env, secrets);
}

/**
 * Wraps a stream so each write is masked as a whole text (see maskOutput). Callers write whole
 * texts (a message, a rendered result, a JSON document) per call, which is what lets a multi-line
 * key be recognised; Buffers are decoded as UTF-8 first.
 */
export function maskingWritable<W extends TextWritable>(stream: W, env: NodeJS.ProcessEnv = process.env): W {
  const write = stream.write.bind(stream);
  const wrapped = Object.create(stream) as W;
  wrapped.write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return write(maskOutput(text, env), ...rest);
  };
  return wrapped;
}

/**
 * The CLI's streams with stdout and stderr masked (wrapped lazily: the hot path never constructs a
 * stream it does not write to). Everything else on `io` is passed through.
 */
const MASKED_IO = Symbol('vpm.maskedIo');

/** The streams with stdout and stderr behind the masking sink (once: wrapping a wrapped one returns it). */
export function maskingIo<T extends { stdout: TextWritable; stderr: TextWritable }>(io: T, env: NodeJS.ProcessEnv = process.env): T {
  if ((io as { [MASKED_IO]?: boolean })[MASKED_IO]) return io;
  let out: TextWritable | undefined;
  let err: TextWritable | undefined;
  return Object.create(io, {
    stdout: { get: () => (out ??= maskingWritable(io.stdout, env)), enumerable: true },
    stderr: { get: () => (err ??= maskingWritable(io.stderr, env)), enumerable: true },
    [MASKED_IO]: { value: true },
  }) as T;
}

/** Kept for existing callers: the same masker under its former names. */
export interface MaskOptions {
  /**
   * Keep the number of lines: a secret that spans lines (a PEM key; a `token:` and its value on the
   * next line) is replaced by the mask followed by as many line breaks as it had, so callers that
   * address the text by line number stay aligned.
   */
  keepLines?: boolean;
}

export function maskSecrets(text: string, env: NodeJS.ProcessEnv = process.env, opts: MaskOptions = {}): string {
  if (!opts.keepLines) return maskText(text, env);
  let out = '';
  let at = 0;
  for (const [s, e] of findSecretRanges(text, envSecrets(env))) {
    if (e <= s) continue;
    const breaks = text.slice(s, e).split('\n').length - 1;
    out += text.slice(at, s) + MASK + '\n'.repeat(breaks);
    at = e;
  }
  return out + text.slice(at);
}
export function maskDeep<T>(value: T, env: NodeJS.ProcessEnv = process.env): T {
  return maskValue(value, env);
}
