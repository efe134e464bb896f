/**
 * The execution policy: decides allow/deny for one runner step, on the *normalised* command, never
 * on the raw string. Deny is checked before allow and any error inside the evaluation denies.
 *
 * Input first has to be canonical (./canonical.ts, shared with the executor, which runs exactly the
 * words approved here): a non-ASCII space, control or format character in a string command, or
 * anything but printable ASCII in a program name, denies (`non_canonical: U+00A0 at 3`).
 *
 * Normalisation turns a step (argv array or string command) into the list of simple commands it
 * would run:
 * - string commands are parsed as shell words (shell-quote), so `r''m`, `"r"m`, `r\m` are `rm`;
 *   any shell syntax the runner does not execute (operators, substitution, expansion, redirection,
 *   globbing, newlines) makes the string denied unless it is allowlisted verbatim; shell grammar
 *   words (`!`, `trap`, `coproc`, `if`, …) deny;
 * - leading `VAR=value` assignments are stripped; each name must be in `env_allow`, and loader,
 *   git, node, python, perl, less, kubectl, HOME/XDG variables can never be set (./programs.ts);
 * - argv0 spelled as a path is reduced to its basename for deny rules (`/usr/bin/rm`, `../bin/rm`
 *   → `rm`); an allowlist entry matches it only when it is the same file PATH lookup finds
 *   (./resolve.ts), so a committed `tools/echo` is not `echo`;
 * - program rules (./programs.ts) refuse options that run programs, write files or change
 *   configuration (git `--output`/`-c`/`--upload-pack`…, kubectl `--kubeconfig`/`exec`…, `find
 *   -exec`, `tar --checkpoint-action`, `env -S`, `xargs -a/-I`), and interpreters and other
 *   exec-capable programs need an allowlist entry that names the command up to the offending word;
 * - wrappers are unwrapped recursively (`env`, `sudo`, `doas`, `su -c`, `runuser -c`, `nice`,
 *   `ionice`, `timeout`, `nohup`, `xargs`, `command`, `builtin`, `exec`, `stdbuf`, `time`,
 *   `setsid`, `chroot`, `flock`, `watch`, `script -c`, `ssh HOST CMD`, `strace`, `ltrace`,
 *   `unbuffer`, `busybox`, `pkexec`, `find -exec`), each with its own options;
 *   an option a wrapper does not know is read both as a flag and as taking a value, and both
 *   readings are evaluated;
 * - `sh|bash|zsh|dash|ksh|… -c STRING` evaluates STRING as a string command, at any depth; a shell
 *   running a script or stdin, `eval`, `source`, `.` and interpreters given inline code
 *   (`python -c`, `perl -e`, `node -e`, awk programs calling `system`) are opaque and deny unless
 *   allowlisted verbatim;
 * - `git` global options before the subcommand (`-C`, `-c`, `--git-dir`, …) are dropped, so
 *   `git -C . push` is `git push`; `-c` keys that make git run programs (aliases, pagers, hooks,
 *   ssh commands, filters, …) deny.
 *
 * Rule syntax (config `execution_policy`, see src/schemas/config.ts):
 * - `deny_if_contains` entries are command patterns written as shell words: the first word is the
 *   command name (compared after normalisation), later plain words must all appear, in order,
 *   among the command's arguments (for `git`, the first one must be the subcommand), and words
 *   starting with `-` are flags that must be present (`-rf` = both `-r` and `-f`, in any
 *   spelling). So `rm` denies every `rm`, `git push` every push; `echo rm` is not an `rm`.
 *   Every wrapper layer is checked too, so `sudo` as a rule denies anything run under sudo.
 * - `deny_patterns` are JavaScript regular expressions tested against each normalised command
 *   (and each wrapper layer) rendered as its words joined by single spaces.
 * - `allowlist` entries are command prefixes, matched strictly: the normalised command must
 *   start with exactly these words (`git status` allows `git status --short`, not `git push
 *   status`). An entry also allows, verbatim, a string command or `-c` string equal to it, which
 *   is the only way to let shell syntax (`ls | wc -l`) through. Privileged or remote wrappers (`sudo`,
 *   `doas`, `su`, `runuser`, `chroot`, `pkexec`, `ssh`) need an allowlist entry of their own.
 * - `default_action` decides what neither a deny rule nor the allowlist decided.
 */
import { parse as parseShell } from 'shell-quote';
import { SHELL_SPECIAL, checkArgvWord, checkCommandString, tokeniseCommand, NonCanonicalError } from './canonical.js';
import { envFinding, programFindings, type Finding } from './programs.js';
import { SYSTEM_PATH, sameProgram, type ResolveContext } from './resolve.js';
import { WRAPPERS, type WrapperSpec } from './wrappers.js';

export interface PolicyConfig {
  default_action: 'allow' | 'deny';
  deny_if_contains: string[];
  deny_patterns: string[];
  allowlist: string[];
  stop_on_deny: boolean;
  /** Variable names a job may set (`NAME=value` prefixes, `env NAME=value`); everything else denies. */
  env_allow?: string[];
  /** Steps may use the network (default false: the sandbox has no network). */
  network?: boolean;
  /** Declared examples, checked by `vpm policy test`. */
  examples?: { deny?: PolicyExample[]; allow?: PolicyExample[] };
}

/** An example: a string command or an argv array. */
export type PolicyExample = string | string[];

export type StepCommand = { argv: string[] } | { command: string };

/** What the executor runs for an allowed step: exactly these words, never re-split. */
interface ExecPlan {
  /** The program and its arguments (`sh -c TEXT` for a string allowlisted verbatim). */
  argv: string[];
  /** Job-set variables (leading `NAME=value` words), each allowed by the policy. */
  env: Record<string, string>;
}

export interface PolicyDecision {
  decision: 'allow' | 'deny';
  /** The rule that decided, e.g. `deny_if_contains: rm`, `shell_syntax: ;`, `default_action: allow`. */
  matched_rule: string;
  /** The first simple command, normalised (what most steps are). */
  normalized_argv: string[];
  /** Every simple command the step would run, normalised, innermost argv of each. */
  normalized_commands: string[][];
  /** Allowed steps only: what the executor runs. */
  exec?: ExecPlan;
}

/** Where the step will run: program names resolve through this PATH (the sandbox's), relative paths from cwd. */
export type PolicyContext = ResolveContext;

// ---------------------------------------------------------------------------------------------
// Compiled rules

interface TokenRule {
  text: string;
  argv0: string;
  positionals: string[];
  shortFlags: string[];
  longFlags: string[];
  words: string[];
  /** The rule spelled its program as a path: it matches only that file. */
  path?: string;
}

interface CompiledPolicy {
  defaultAction: 'allow' | 'deny';
  deny: TokenRule[];
  denyByArgv0: Map<string, TokenRule[]>;
  patterns: Array<{ text: string; re: RegExp }>;
  allow: TokenRule[];
  allowByArgv0: Map<string, TokenRule[]>;
  verbatim: Map<string, string>;
  envAllow: Set<string>;
}

/** Splits a rule into words. Rules are plain words; shell syntax in a rule makes it verbatim-only. */
function ruleWords(text: string): string[] | undefined {
  if (SHELL_SPECIAL.test(text)) return undefined;
  const parsed = parseShell(text);
  if (!parsed.every((t): t is string => typeof t === 'string')) return undefined;
  return parsed;
}

function compileTokenRule(text: string): TokenRule | undefined {
  const words = ruleWords(text.trim());
  if (!words || words.length === 0) return undefined;
  const argv0 = commandName(words[0]);
  const positionals: string[] = [];
  const shortFlags: string[] = [];
  const longFlags: string[] = [];
  for (const w of words.slice(1)) {
    if (w.startsWith('--') && w.length > 2) longFlags.push(w);
    else if (w.startsWith('-') && w.length > 1) shortFlags.push(...w.slice(1));
    else positionals.push(w);
  }
  return {
    text,
    argv0,
    positionals,
    shortFlags,
    longFlags,
    words: [argv0, ...words.slice(1)],
    ...(words[0].includes('/') ? { path: words[0] } : {}),
  };
}

function indexByArgv0(rules: TokenRule[]): Map<string, TokenRule[]> {
  const m = new Map<string, TokenRule[]>();
  for (const r of rules) {
    const list = m.get(r.argv0) ?? [];
    list.push(r);
    m.set(r.argv0, list);
  }
  return m;
}

const compiled = new WeakMap<PolicyConfig, CompiledPolicy>();

/** Throws on an invalid regex; the config schema reports that as a usage error first. */
export function compilePolicy(policy: PolicyConfig): CompiledPolicy {
  const hit = compiled.get(policy);
  if (hit) return hit;
  const deny: TokenRule[] = [];
  for (const text of policy.deny_if_contains) {
    const rule = compileTokenRule(text);
    if (!rule) throw new Error(`deny_if_contains entry ${JSON.stringify(text)} is not a command pattern (plain words only)`);
    deny.push(rule);
  }
  const allow: TokenRule[] = [];
  const verbatim = new Map<string, string>();
  for (const text of policy.allowlist) {
    verbatim.set(text.trim(), text);
    const rule = compileTokenRule(text);
    if (rule) allow.push(rule);
  }
  const result: CompiledPolicy = {
    defaultAction: policy.default_action,
    deny,
    denyByArgv0: indexByArgv0(deny),
    patterns: policy.deny_patterns.map((text) => ({ text, re: new RegExp(text) })),
    allow,
    allowByArgv0: indexByArgv0(allow),
    verbatim,
    envAllow: new Set(policy.env_allow ?? []),
  };
  compiled.set(policy, result);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

const SPECIAL_NAMES: Record<string, string> = {
  ';': ';',
  '&': '&',
  '|': '|',
  '<': 'redirection <',
  '>': 'redirection >',
  '(': '( (subshell or substitution)',
  ')': ')',
  '`': 'backtick substitution',
  $: '$ (expansion or substitution)',
  '*': 'glob *',
  '?': 'glob ?',
  '[': 'glob [',
  ']': 'glob ]',
  '{': 'brace {',
  '}': 'brace }',
  '\n': 'newline',
  '\r': 'carriage return',
};

const QUOTING = /["'\\#~]/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const MAX_DEPTH = 32;
const MAX_COMMANDS = 256;
const MAX_STRING = 65_536;

const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'ash', 'mksh', 'rbash', 'yash', 'posh', 'fish', 'csh', 'tcsh', 'pwsh']);
const EVALS = new Set(['eval', 'source', '.']);
const PRIVILEGED = new Set(['sudo', 'doas', 'su', 'runuser', 'chroot', 'pkexec', 'ssh', 'setpriv', 'unshare', 'nsenter', 'sg', 'capsh']);
/**
 * Shell grammar that is not a simple command (issue 15, class 4: `! rm x`, `trap … EXIT`, `coproc`):
 * as a command word it denies; the policy reads only simple command lists.
 */
const SHELL_GRAMMAR = new Set([
  '!',
  'trap',
  'coproc',
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'case',
  'esac',
  'for',
  'while',
  'until',
  'do',
  'done',
  'function',
  'select',
  '{',
  '}',
  '[[',
  ']]',
  'alias',
  'unalias',
  'set',
  'shopt',
  'export',
  'readonly',
  'declare',
  'typeset',
  'local',
  'let',
  'enable',
  'hash',
  'cd',
  'pushd',
  'popd',
  'fc',
  'history',
  'bind',
  'complete',
  'compgen',
  'read',
  'mapfile',
  'readarray',
  'wait',
  'jobs',
  'fg',
  'bg',
  'disown',
  'ulimit',
  'umask',
  'getopts',
  'shift',
  'return',
  'break',
  'continue',
  'caller',
  'suspend',
  'logout',
  'exit',
  'times',
  'autoload',
  'emulate',
  'zmodload',
  'noglob',
  'nocorrect',
  'repeat',
  'foreach',
  'end',
]);

/** Git global options (before the subcommand). */
const GIT_VALUE_SHORT = new Set(['-C', '-c']);
const GIT_VALUE_LONG = new Set([
  '--git-dir',
  '--work-tree',
  '--namespace',
  '--config-env',
  '--super-prefix',
  '--attr-source',
  '--list-cmds',
  '--shallow-file',
]);
/** `-c` keys that make git run a program or redefine commands. */
const GIT_EXEC_CONFIG =
  /^(?:alias\.|core\.(?:sshcommand|pager|editor|fsmonitor|hookspath|gitproxy|askpass|alternaterefscommand)|credential\.|diff\.|difftool\.|merge\.|mergetool\.|filter\.|sequence\.editor|pager\.|uploadpack\.|receive\.procreceiverefs|remote\..*\.(?:receivepack|uploadpack|vcs|proxy)|gpg\.|ssh\.|protocol\.|include\.|includeif\.|http\..*proxy|instaweb\.|sendemail\.|submodule\.|init\.templatedir|trace2\.|help\.autocorrect)/i;

interface Violation {
  rule: string;
  /** The string (command text or layer line) whose verbatim allowlisting overrides it; none = hard. */
  verbatimKey?: string;
  /** An allowlist entry matching this command with more than `at` words overrides it. */
  overridable?: { argv: string[]; at: number };
}

interface SimpleCommand {
  argv: string[];
  /** argv0 as written (`./tools/echo`), for the resolved-program check. */
  raw0: string;
  /** Wrapper layers around it (normalised), outermost first, then the command itself. */
  layers: string[][];
  /** Inside a string allowlisted verbatim: needs no allowlist entry of its own. */
  covered: boolean;
  /** Extracted only for deny matching (alternative readings); never needs allowing. */
  denyOnly: boolean;
}

export interface Analysis {
  commands: SimpleCommand[];
  violations: Violation[];
}

interface Walk {
  policy: CompiledPolicy;
  out: Analysis;
}

/** `/usr/bin/rm`, `./rm`, `../../bin/rm`, `rm` → `rm`. */
function commandName(word: string): string {
  if (!word.includes('/')) return word;
  const parts = word.split('/');
  for (let i = parts.length - 1; i >= 0; i--) if (parts[i] !== '') return parts[i];
  return '';
}

function addViolation(w: Walk, rule: string, verbatimKey?: string): void {
  w.out.violations.push(verbatimKey === undefined ? { rule } : { rule, verbatimKey });
}

function addFinding(w: Walk, f: Finding, argv: string[]): void {
  w.out.violations.push(f.overridableAt === undefined ? { rule: f.rule } : { rule: f.rule, overridable: { argv, at: f.overridableAt } });
}

/** A walk for alternative readings: their commands count for deny rules, their violations not. */
function denyOnlyWalk(w: Walk): Walk {
  return { policy: w.policy, out: { commands: w.out.commands, violations: [] } };
}

function pushCommand(w: Walk, cmd: SimpleCommand): void {
  if (w.out.commands.length >= MAX_COMMANDS) throw new Error(`more than ${MAX_COMMANDS} commands in one step`);
  w.out.commands.push(cmd);
}

/**
 * Reads a wrapper's options from `args` and returns every possible start index of the wrapped
 * command (several when an unknown option may or may not take a value), plus string commands.
 */
function wrapperStarts(spec: WrapperSpec, args: string[]): { starts: number[]; strings: string[]; shell: boolean } {
  const strings: string[] = [];
  let shell = false;
  const starts = new Set<number>();
  const visit = (i: number, budget: number): void => {
    while (i < args.length) {
      const a = args[i];
      if (a === '--') {
        i++;
        break;
      }
      if (a.startsWith('--') && a.length > 2) {
        const eq = a.indexOf('=');
        const name = eq === -1 ? a : a.slice(0, eq);
        if (spec.stringLong?.includes(name)) {
          const value = eq === -1 ? args[i + 1] : a.slice(eq + 1);
          if (value !== undefined) strings.push(value);
          i += eq === -1 ? 2 : 1;
          continue;
        }
        if (spec.shellLong?.includes(name)) shell = true;
        if (eq !== -1) {
          i++;
          continue;
        }
        if (spec.valueLong.includes(name)) {
          i += 2;
          continue;
        }
        if (spec.flagLong.includes(name) || spec.shellLong?.includes(name)) {
          i++;
          continue;
        }
        // Unknown long option: read it both ways.
        if (budget > 0) visit(i + 2, budget - 1);
        i++;
        continue;
      }
      if (a.startsWith('-') && a.length > 1) {
        let next = i + 1;
        for (let j = 1; j < a.length; j++) {
          const c = a[j];
          if (spec.stringShort?.includes(c)) {
            const value = j < a.length - 1 ? a.slice(j + 1) : args[i + 1];
            if (value !== undefined) strings.push(value);
            next = j < a.length - 1 ? i + 1 : i + 2;
            break;
          }
          if (spec.valueShort.includes(c)) {
            next = j < a.length - 1 ? i + 1 : i + 2;
            break;
          }
          if (spec.optionalShort?.includes(c)) break;
          if (spec.shellShort?.includes(c)) {
            shell = true;
            continue;
          }
          if (spec.flagShort.includes(c)) continue;
          // Unknown short option: it may take the next word as its value.
          if (budget > 0 && j === a.length - 1) visit(i + 2, budget - 1);
          if (j === a.length - 1) break;
        }
        i = next;
        continue;
      }
      break;
    }
    starts.add(Math.min(i + (spec.leadingPositionals ?? 0), args.length));
  };
  visit(0, 4);
  return { starts: [...starts], strings, shell };
}

/** Values of `-X VALUE`, `-XVALUE`, `-abX VALUE`, `--long VALUE`, `--long=VALUE` anywhere in args. */
function optionValuesAnywhere(args: string[], short: string, longs: string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const a = args[k];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq === -1 ? a : a.slice(0, eq);
      if (longs.includes(name)) {
        const v = eq === -1 ? args[++k] : a.slice(eq + 1);
        if (v !== undefined) out.push(v);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      const at = a.indexOf(short, 1);
      if (at !== -1) {
        const v = at < a.length - 1 ? a.slice(at + 1) : args[++k];
        if (v !== undefined) out.push(v);
      }
    }
  }
  return out;
}

function lineOf(argv: string[]): string {
  return argv.join(' ');
}

/** Parses `sh [options] -c STRING …`; returns the string, or why the shell is opaque. */
function shellCommandString(args: string[]): { script?: string; opaque?: string } {
  let hasC = false;
  let stdin = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--' || a === '-') {
      i++;
      break;
    }
    if (a.startsWith('--')) {
      if (['--rcfile', '--init-file', '--command'].includes(a)) {
        if (a === '--command') hasC = true;
        else i++;
      }
      continue;
    }
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if (c === 'c') hasC = true;
        else if (c === 's') stdin = true;
        else if (c === 'o' || c === 'O') i++; // -o option-name
      }
      continue;
    }
    break;
  }
  if (hasC) {
    const script = args[i];
    return script === undefined ? { opaque: 'missing -c string' } : { script };
  }
  if (stdin || i >= args.length) return { opaque: 'reads commands from stdin' };
  return { opaque: `runs script ${args[i]}` };
}

function normaliseGit(argv: string[], w: Walk): string[] {
  const out = ['git'];
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-')) break;
    if (GIT_VALUE_SHORT.has(a)) {
      const value = argv[i + 1] ?? '';
      if (a === '-c') checkGitConfig(value, w, argv);
      i++;
      continue;
    }
    if (a.startsWith('-c') && a.length > 2) {
      checkGitConfig(a.slice(2), w, argv);
      continue;
    }
    if (a.startsWith('-C') && a.length > 2) continue;
    const eq = a.indexOf('=');
    const name = eq === -1 ? a : a.slice(0, eq);
    if (GIT_VALUE_LONG.has(name)) {
      const value = eq === -1 ? (argv[++i] ?? '') : a.slice(eq + 1);
      if (name === '--config-env') checkGitConfig(value, w, argv);
    }
    // Flags such as --no-pager, -p, -P, --bare, --exec-path[=…], --literal-pathspecs.
  }
  return out.concat(argv.slice(i));
}

function checkGitConfig(assignment: string, w: Walk, argv: string[]): void {
  const key = assignment.split('=')[0].trim();
  if (GIT_EXEC_CONFIG.test(key)) addViolation(w, `git_exec_config: ${key}`, lineOf(argv));
}

function normaliseArgv(argv: readonly unknown[], depth: number, layers: string[][], covered: boolean, denyOnly: boolean, w: Walk): void {
  if (depth > MAX_DEPTH) throw new Error(`command nesting deeper than ${MAX_DEPTH}`);
  let i = 0;
  for (const t of argv) {
    if (typeof t !== 'string') throw new Error('argv must contain only strings');
    if (t.includes('\u0000')) throw new Error('argv contains a NUL byte');
  }
  const words = argv as string[];
  while (i < words.length && ASSIGNMENT.test(words[i])) {
    const name = words[i].slice(0, words[i].indexOf('='));
    const f = envFinding(name, w.policy.envAllow);
    if (f) addFinding(w, f, []);
    const bad = checkArgvWord(words[i], false);
    if (bad) addViolation(w, bad);
    i++;
  }
  if (i >= words.length) return;
  for (let k = i; k < words.length; k++) {
    const bad = checkArgvWord(words[k], k === i);
    if (bad) {
      addViolation(w, bad);
      return;
    }
  }
  const raw0 = words[i];
  const name = commandName(words[i]);
  if (name === '') {
    addViolation(w, `empty_command: ${JSON.stringify(words[i])}`);
    return;
  }
  const args = words.slice(i + 1);
  let norm = [name, ...args];
  const here = [...layers, norm];
  if (name.startsWith('-') && depth > 0) {
    // A wrapper option this table does not know, read where the program should be: fail closed.
    addViolation(
      w,
      `unparsed_option: ${JSON.stringify(name)} where a program was expected (${layers.length > 0 ? layers[layers.length - 1][0] : 'step'})`,
    );
    return;
  }
  if (SHELL_GRAMMAR.has(name)) {
    addViolation(w, `shell_grammar: ${name} (only simple commands are read)`, lineOf(norm));
    if (args.length > 0) normaliseArgv(args, depth + 1, here, covered, true, denyOnlyWalk(w));
    return;
  }
  if (!covered) for (const f of programFindings(norm)) addFinding(w, f, norm);

  if (name === 'su' || name === 'runuser' || name === 'script') {
    // The command is only ever a -c string (script's positional is its log file).
    pushCommand(w, { argv: norm, raw0, layers: here, covered, denyOnly: true });
    const strings = optionValuesAnywhere(args, 'c', ['--command', '--session-command']);
    for (const s of strings) normaliseString(s, depth + 1, here, covered, denyOnly, w);
    if (strings.length === 0) addViolation(w, `opaque_shell: ${name} starts a shell`, lineOf(norm));
    return;
  }
  const spec = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name] : undefined;
  if (spec) {
    pushCommand(w, { argv: norm, raw0, layers: here, covered, denyOnly: true });
    if (name === 'env') {
      // env treats every leading NAME=value as an assignment, whatever the name looks like.
      for (const a of args) {
        if (a.startsWith('-')) continue;
        if (!a.includes('=')) break;
        const f = envFinding(a.slice(0, a.indexOf('=')), w.policy.envAllow);
        if (f) addFinding(w, f, []);
      }
    }
    const { starts, strings, shell } = wrapperStarts(spec, args);
    for (const s of strings) normaliseString(s, depth + 1, here, covered, denyOnly, w);
    let ranSomething = strings.length > 0;
    for (const start of starts) {
      let inner = args.slice(start);
      if (
        spec.stringShort &&
        inner.length > 0 &&
        (inner[0] === `-${spec.stringShort}` || spec.stringLong?.includes(inner[0].split('=')[0]))
      ) {
        // `flock FILE -c STRING`: the string option may follow the leading positional.
        const value = inner[0].includes('=') ? inner[0].slice(inner[0].indexOf('=') + 1) : inner[1];
        if (value !== undefined) normaliseString(value, depth + 1, here, covered, denyOnly, w);
        ranSomething = true;
        continue;
      }
      if (name === 'env')
        while (inner.length > 0 && inner[0].includes('=') && !inner[0].startsWith('-')) {
          inner = inner.slice(1);
        }
      if (inner.length === 0) continue;
      ranSomething = true;
      // A `--` where the command should start: read past it as well.
      if (inner[0] === '--' && inner.length > 1) normaliseArgv(inner.slice(1), depth + 1, here, covered, denyOnly, w);
      if (shell || spec.joinsToShell) {
        // What runs is the joined string; the word-by-word reading only feeds deny rules.
        normaliseString(inner.join(' '), depth + 1, here, covered, denyOnly, w);
        normaliseArgv(inner, depth + 1, here, covered, true, denyOnlyWalk(w));
      } else {
        normaliseArgv(inner, depth + 1, here, covered, denyOnly, w);
      }
    }
    if (!ranSomething) {
      if (spec.emptyIsShell || shell) addViolation(w, `opaque_shell: ${name} starts an interactive shell`, lineOf(norm));
      else if (name === 'xargs') pushCommand(w, { argv: ['echo'], raw0: 'echo', layers: [...here, ['echo']], covered, denyOnly });
      else pushCommand(w, { argv: norm, raw0, layers: here, covered, denyOnly });
    }
    return;
  }
  if (SHELLS.has(name)) {
    pushCommand(w, { argv: norm, raw0, layers: here, covered, denyOnly: true });
    const { script, opaque } = shellCommandString(args);
    if (script !== undefined) normaliseString(script, depth + 1, here, covered, denyOnly, w);
    else addViolation(w, `opaque_shell: ${name} ${opaque}`, lineOf(norm));
    return;
  }
  if (EVALS.has(name)) {
    pushCommand(w, { argv: norm, raw0, layers: here, covered, denyOnly: true });
    addViolation(w, `shell_eval: ${name}`, lineOf(norm));
    // Read what eval would run too, so a deny rule names it.
    if (args.length > 0) normaliseString(args.join(' '), depth + 1, here, covered, true, denyOnlyWalk(w));
    return;
  }
  if (name === 'git') {
    norm = normaliseGit(norm, w);
    here[here.length - 1] = norm;
  }
  pushCommand(w, { argv: norm, raw0, layers: here, covered, denyOnly });
  if (name === 'find') {
    for (let k = 0; k < args.length; k++) {
      if (!['-exec', '-execdir', '-ok', '-okdir'].includes(args[k])) continue;
      let end = k + 1;
      while (end < args.length && args[end] !== ';' && args[end] !== '+') end++;
      normaliseArgv(args.slice(k + 1, end), depth + 1, here, covered, denyOnly, w);
      k = end;
    }
  }
}

type ShellToken = string | { op: string } | { op: 'glob'; pattern: string } | { comment: string } | { op: 'var'; name: string };

function normaliseString(text: string, depth: number, layers: string[][], covered: boolean, denyOnly: boolean, w: Walk): void {
  if (depth > MAX_DEPTH) throw new Error(`command nesting deeper than ${MAX_DEPTH}`);
  if (text.length > MAX_STRING) throw new Error(`command string longer than ${MAX_STRING} characters`);
  const nonCanonical = checkCommandString(text);
  if (nonCanonical) {
    // Fail closed: a string that could be split more than one way is not read at all.
    addViolation(w, nonCanonical);
    return;
  }
  const key = text.trim();
  const verbatim = w.policy.verbatim.has(key);
  const special = SHELL_SPECIAL.exec(text);
  if (special) {
    const ch = special[0];
    addViolation(
      w,
      `shell_syntax: ${(Object.hasOwn(SPECIAL_NAMES, ch) ? SPECIAL_NAMES[ch] : undefined) ?? `control character U+${ch.charCodeAt(0).toString(16).padStart(4, '0')}`}`,
      key,
    );
  }
  const inner = covered || verbatim;
  if (!special && !QUOTING.test(text)) {
    // Plain words: nothing for a shell parser to do.
    const words = text.split(' ');
    const start = words[0] === '' ? 1 : 0;
    const end = words[words.length - 1] === '' ? words.length - 1 : words.length;
    if (end > start)
      normaliseArgv(start === 0 && end === words.length ? words : words.slice(start, end), depth + 1, layers, inner, denyOnly, w);
    return;
  }
  const tokens = parseShell(text, (name: string) => ({ op: 'var', name })) as ShellToken[];
  let current: string[] = [];
  const flush = () => {
    if (current.length > 0) normaliseArgv(current, depth + 1, layers, inner, denyOnly, w);
    current = [];
  };
  for (const t of tokens) {
    if (typeof t === 'string') {
      current.push(t);
      continue;
    }
    if ('comment' in t) {
      addViolation(w, 'shell_syntax: comment', key);
      continue;
    }
    if (t.op === 'glob') {
      addViolation(w, 'shell_syntax: glob', key);
      current.push((t as { pattern: string }).pattern);
      continue;
    }
    if (t.op === 'var') {
      addViolation(w, 'shell_syntax: $ (expansion or substitution)', key);
      flush();
      continue;
    }
    addViolation(w, `shell_syntax: ${t.op}`, key);
    // Redirection targets and everything after an operator are read as a new command, so a
    // deny rule can still name what hides there.
    flush();
  }
  flush();
  if (special && inner) {
    // A second, cruder reading (needed only where the string could be allowed, i.e. verbatim) for deny matching only: quotes and escapes removed, split at every
    // special character. It catches what a shell would read differently from shell-quote.
    const crude = text.replace(/["'\\]/g, '').split(/[;&|<>()`${}\n\r]+/);
    for (const segment of crude) {
      const words = segment.split(/\s+/).filter(Boolean);
      if (words.length > 0) normaliseArgv(words, depth + 1, layers, inner, true, denyOnlyWalk(w));
    }
  } else if (/["'\\]/.test(text)) {
    const words = text
      .replace(/["'\\]/g, '')
      .split(/\s+/)
      .filter(Boolean);
    if (words.length > 0) normaliseArgv(words, depth + 1, layers, inner, true, denyOnlyWalk(w));
  }
}

/** Normalises a step into simple commands and the violations found on the way. Throws on malformed input. */
export function analyseStep(step: StepCommand, policy: PolicyConfig): Analysis {
  const w: Walk = { policy: compilePolicy(policy), out: { commands: [], violations: [] } };
  if ('argv' in step) {
    if (!Array.isArray(step.argv) || step.argv.length === 0) throw new Error('argv must be a non-empty array');
    normaliseArgv(step.argv, 0, [], false, false, w);
  } else if ('command' in step) {
    if (typeof step.command !== 'string') throw new Error('command must be a string');
    normaliseString(step.command, 0, [], false, false, w);
  } else {
    throw new Error('a step needs argv or command');
  }
  return w.out;
}

// ---------------------------------------------------------------------------------------------
// Matching

function matchesDeny(rule: TokenRule, argv: string[]): boolean {
  if (argv[0] !== rule.argv0) return false;
  if (rule.shortFlags.length > 0 || rule.longFlags.length > 0) {
    // Flags in any spelling: `-rf`, `-r -f`, `-fr`; long flags alone or with `=value`.
    const shorts = new Set<string>();
    const longs: string[] = [];
    for (let k = 1; k < argv.length; k++) {
      const a = argv[k];
      if (a === '--') break;
      if (a.startsWith('--')) longs.push(a);
      else if (a.startsWith('-')) for (let j = 1; j < a.length; j++) shorts.add(a[j]);
    }
    for (const f of rule.shortFlags) if (!shorts.has(f)) return false;
    for (const f of rule.longFlags) if (!longs.some((l) => l === f || l.startsWith(`${f}=`))) return false;
  }
  if (rule.positionals.length === 0) return true;
  let p = 0;
  let k = 1;
  if (rule.argv0 === 'git') {
    // The subcommand is argv[1] after normalisation; it must be the rule's first word.
    if (argv[1] !== rule.positionals[0]) return false;
    p = 1;
    k = 2;
  }
  for (; k < argv.length && p < rule.positionals.length; k++) if (argv[k] === rule.positionals[p]) p++;
  return p === rule.positionals.length;
}

function matchesAllow(rule: TokenRule, argv: string[]): boolean {
  if (argv.length < rule.words.length) return false;
  for (let k = 0; k < rule.words.length; k++) if (argv[k] !== rule.words[k]) return false;
  return true;
}

function findAllow(policy: CompiledPolicy, argv: string[], raw0: string, ctx: PolicyContext, minWords = 0): TokenRule | undefined {
  const candidates = policy.allowByArgv0.get(argv[0]);
  if (!candidates) return undefined;
  for (const rule of candidates) {
    if (rule.words.length <= minWords || !matchesAllow(rule, argv)) continue;
    // Match the program, not its basename: `./tools/echo` is not the system `echo`.
    if (!sameProgram(raw0, rule.path ?? rule.argv0, ctx)) continue;
    return rule;
  }
  return undefined;
}

function deny(rule: string, commands: string[][]): PolicyDecision {
  return { decision: 'deny', matched_rule: rule, normalized_argv: commands[0] ?? [], normalized_commands: commands };
}

const ASSIGNMENT_WORD = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** What the executor runs for a step the policy allowed: the tokeniser's words, assignments split off. */
function execPlan(step: StepCommand): ExecPlan {
  let words: string[];
  if ('argv' in step) words = step.argv;
  else {
    const t = tokeniseCommand(step.command);
    // Shell syntax is only ever allowed verbatim; then the shell runs exactly the approved text.
    if (t.kind === 'shell') return { argv: ['sh', '-c', step.command], env: {} };
    words = t.words;
  }
  const env: Record<string, string> = {};
  let i = 0;
  while (i < words.length - 1 && ASSIGNMENT_WORD.test(words[i])) {
    const eq = words[i].indexOf('=');
    env[words[i].slice(0, eq)] = words[i].slice(eq + 1);
    i++;
  }
  return { argv: words.slice(i), env };
}

const DEFAULT_CONTEXT: PolicyContext = { cwd: process.cwd(), path: SYSTEM_PATH };

/** The allowlist entry that allows one normalised command (for `vpm policy explain`), if any. */
export function allowRuleFor(policy: PolicyConfig, argv: string[], raw0: string, ctx: PolicyContext = DEFAULT_CONTEXT): string | undefined {
  return findAllow(compilePolicy(policy), argv, raw0, ctx)?.text;
}

/** Which deny rules match one command or wrapper layer (for `vpm policy explain`). */
export function denyRulesFor(policy: PolicyConfig, layer: string[]): string[] {
  const c = compilePolicy(policy);
  const out: string[] = [];
  for (const rule of c.denyByArgv0.get(layer[0]) ?? []) if (matchesDeny(rule, layer)) out.push(`deny_if_contains: ${rule.text}`);
  for (const p of c.patterns) if (p.re.test(lineOf(layer))) out.push(`deny_patterns: ${p.text}`);
  return out;
}

export { DEFAULT_CONTEXT };

/**
 * Decides one step. Order: deny rules (`deny_if_contains`, `deny_patterns`) on every command and
 * wrapper layer → built-in violations (dangerous variables, shell syntax, opaque code) unless
 * allowlisted verbatim → allowlist → `default_action`. Never throws: an error denies.
 */
export function evaluatePolicy(step: StepCommand, policy: PolicyConfig, ctx: PolicyContext = DEFAULT_CONTEXT): PolicyDecision {
  let commands: string[][] = [];
  try {
    if (step && 'command' in step && typeof step.command === 'string') {
      const bad = checkCommandString(step.command);
      if (bad) return deny(bad, []);
    }
    const compiledPolicy = compilePolicy(policy);
    const analysis = analyseStep(step, policy);
    const primary = analysis.commands.filter((c) => !c.denyOnly);
    commands = primary.map((c) => c.argv);
    if (commands.length === 0 && analysis.commands.length > 0) commands = [analysis.commands[0].argv];

    // Wrapper layers are shared between the commands they wrap: check each once.
    const checked = new Set<string[]>();
    for (const cmd of analysis.commands) {
      for (const layer of cmd.layers) {
        if (checked.has(layer)) continue;
        checked.add(layer);
        const rules = compiledPolicy.denyByArgv0.get(layer[0]);
        if (rules) for (const rule of rules) if (matchesDeny(rule, layer)) return deny(`deny_if_contains: ${rule.text}`, commands);
        if (compiledPolicy.patterns.length > 0) {
          const line = lineOf(layer);
          for (const p of compiledPolicy.patterns) if (p.re.test(line)) return deny(`deny_patterns: ${p.text}`, commands);
        }
      }
    }
    for (const v of analysis.violations) {
      if (v.verbatimKey !== undefined && compiledPolicy.verbatim.has(v.verbatimKey)) continue;
      if (v.overridable && findAllow(compiledPolicy, v.overridable.argv, v.overridable.argv[0], ctx, v.overridable.at)) continue;
      return deny(v.rule, commands);
    }
    if (commands.length === 0) return deny('empty_command: nothing to run', commands);

    let allowedBy: string | undefined;
    let allAllowed = true;
    for (const cmd of primary) {
      if (cmd.covered) {
        allowedBy ??= 'allowlist (verbatim)';
        continue;
      }
      const rule = findAllow(compiledPolicy, cmd.argv, cmd.raw0, ctx);
      if (!rule) {
        allAllowed = false;
        break;
      }
      allowedBy ??= `allowlist: ${rule.text}`;
      for (const layer of cmd.layers.slice(0, -1)) {
        if (PRIVILEGED.has(layer[0]) && !findAllow(compiledPolicy, layer, layer[0], ctx)) {
          allAllowed = false;
          allowedBy = undefined;
          break;
        }
      }
      if (!allAllowed) break;
    }
    if (step && 'command' in step && compiledPolicy.verbatim.has(step.command.trim())) {
      allowedBy = `allowlist (verbatim): ${compiledPolicy.verbatim.get(step.command.trim())}`;
      allAllowed = true;
    }
    if (allAllowed && allowedBy)
      return {
        decision: 'allow',
        matched_rule: allowedBy,
        normalized_argv: commands[0],
        normalized_commands: commands,
        exec: execPlan(step),
      };
    if (compiledPolicy.defaultAction === 'allow') {
      return {
        decision: 'allow',
        matched_rule: 'default_action: allow',
        normalized_argv: commands[0],
        normalized_commands: commands,
        exec: execPlan(step),
      };
    }
    return deny('default_action: deny', commands);
  } catch (err) {
    if (err instanceof NonCanonicalError) return deny(err.message, commands);
    return deny(`policy_error: ${(err as Error)?.message ?? String(err)}`, commands);
  }
}
