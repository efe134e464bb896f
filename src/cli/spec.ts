/**
 * The shape of a command: one declaration per command (name, arguments, typed flags, examples,
 * `parse` from argv to options, `run` that acts). The commander tree, `--help`, shell completion and
 * the start-up fast paths are all generated from these declarations, so a flag is declared once and
 * its type flows from here to `run`.
 */
import type { CommandResult } from '../core/command.js';
import type { Ctx } from '../core/context.js';

export interface FlagDecl {
  readonly type: 'boolean' | 'string';
  readonly description: string;
  /** One letter: `-n`. */
  readonly short?: string;
  /** Shown in help for a string flag: `--timeout <duration>`. */
  readonly placeholder?: string;
  readonly default?: string | boolean;
  readonly choices?: readonly string[];
  /** A boolean that is on unless `--no-<name>` is given (commander's negatable option). */
  readonly negatable?: boolean;
  readonly required?: boolean;
}
export type FlagDecls = Readonly<Record<string, FlagDecl>>;

type ValueOf<D extends FlagDecl> = D extends { type: 'boolean' }
  ? boolean
  : D extends { choices: readonly (infer C)[] }
    ? D extends { default: string } | { required: true }
      ? C
      : C | undefined
    : D extends { default: string } | { required: true }
      ? string
      : string | undefined;

/** The typed flag values a command's `parse` receives. */
export type FlagValues<F extends FlagDecls> = { -readonly [K in keyof F]: ValueOf<F[K]> };

interface ArgDecl {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  /** Takes every remaining word. */
  readonly variadic?: boolean;
  /** The only values it takes (checked when parsed, offered by shell completion). */
  readonly choices?: readonly string[];
  /** What shell completion offers for it: file or directory names. */
  readonly complete?: 'file' | 'dir';
}

interface Example {
  readonly command: string;
  readonly description: string;
}

export interface ParsedInput<F extends FlagDecls> {
  /** Positional words in declaration order (a variadic argument's words at the end). */
  readonly args: readonly string[];
  readonly flags: FlagValues<F>;
}

/**
 * Whether the command works on a repository: `required` finds the root by walking up to `.git` and
 * refuses outside one (exit 2); `optional` (the default) uses the root when there is one and the
 * starting directory otherwise, so state commands also work in a plain folder; `none` never looks.
 */
export type RepoNeed = 'required' | 'optional' | 'none';

export interface CommandSpec<F extends FlagDecls = FlagDecls, O = unknown> {
  /** The words that name the command: ['checkpoint', 'list']. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Longer help text shown after the options. */
  readonly details?: string;
  readonly args?: readonly ArgDecl[];
  readonly flags: F;
  readonly examples: readonly Example[];
  readonly repo?: RepoNeed;
  /** argv → options, pure: throws UsageError for values it cannot accept. Nothing is touched yet. */
  parse(input: ParsedInput<F>): O;
  run(ctx: Ctx, options: O): Promise<CommandResult>;
}

/**
 * Declares a command and lets TypeScript infer the flag and option types. Without a `parse`, the
 * options are the positional words and the typed flags as given (HandlerInput).
 */
export function defineCommand<const F extends FlagDecls>(
  spec: Omit<CommandSpec<F, HandlerInput<F>>, 'parse'> & { parse?: undefined },
): CommandSpec<F, HandlerInput<F>>;
export function defineCommand<const F extends FlagDecls, O>(spec: CommandSpec<F, O>): CommandSpec<F, O>;
export function defineCommand<const F extends FlagDecls, O>(
  spec: Omit<CommandSpec<F, O>, 'parse'> & { parse?: CommandSpec<F, O>['parse'] },
): CommandSpec<F, O> {
  return { ...spec, parse: spec.parse ?? ((input) => asHandlerInput(input) as O) };
}

// biome-ignore lint/suspicious/noExplicitAny: a list of commands with different option types
export type AnyCommandSpec = CommandSpec<FlagDecls, any>;

/** The options every command takes (declared on every command so they work before or after it). */
export const GLOBAL_FLAGS = {
  json: { type: 'boolean', description: 'print exactly one JSON document on stdout (errors too)' },
  cwd: {
    type: 'string',
    placeholder: '<dir>',
    description: 'run as if vpm was started in DIR (must exist); the repository is found from there',
  },
  verbose: { type: 'boolean', description: 'also write structured logs to stderr' },
  debug: { type: 'boolean', description: 'show stack traces on errors (or VPM_DEBUG=1)' },
} as const satisfies FlagDecls;
export type GlobalFlags = Partial<FlagValues<typeof GLOBAL_FLAGS>>;

/** The Kubernetes connection flags, kubectl's names. */
export const KUBE_FLAGS = {
  context: {
    type: 'string',
    placeholder: '<name>',
    description: 'kubeconfig context (default: config kube.context, else the current context)',
  },
  namespace: {
    type: 'string',
    short: 'n',
    placeholder: '<ns>',
    description: 'namespace (default: config kube.namespace, else the context’s, else default)',
  },
  kubeconfig: { type: 'string', placeholder: '<file>', description: 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)' },
} as const satisfies FlagDecls;

/** The deploy-freeze override every mutating deploy command accepts. */
export const FREEZE_OVERRIDE_FLAGS = {
  forceFreeze: { type: 'boolean', description: 'run even though deploys are frozen (needs --reason; recorded)' },
  reason: { type: 'string', placeholder: '<text>', description: 'why the freeze (or, with --force, the rollout guard) is overridden' },
} as const satisfies FlagDecls;

export const SUMMARY_FILE_FLAG = {
  summaryFile: {
    type: 'string',
    placeholder: '<path>',
    description: 'also write a run summary: PATH (JSON) and PATH with .txt (one line)',
  },
} as const satisfies FlagDecls;

export const YES_FLAG = {
  yes: { type: 'boolean', short: 'y', description: 'do not ask for confirmation (required when stdin is not a terminal)' },
} as const satisfies FlagDecls;

/** `summaryFile` → `--summary-file`; a negatable flag `test` → `--no-test`. */
export function flagLongName(key: string, decl: FlagDecl): string {
  const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return decl.negatable ? `no-${kebab}` : kebab;
}

/** The value of a flag that was not given. */
export function flagDefault(decl: FlagDecl): string | boolean | undefined {
  if (decl.type === 'boolean') return decl.negatable ? true : (decl.default ?? false);
  return decl.default;
}

/** What the handlers of the first command layer take: positional words and the typed flags. */
export interface HandlerInput<F extends FlagDecls> {
  args: string[];
  opts: FlagValues<F>;
}

/** The default parse: positional words and flags as they are (validation happens in the handler or a custom parse). */
function asHandlerInput<F extends FlagDecls>(input: ParsedInput<F>): HandlerInput<F> {
  return { args: [...input.args], opts: { ...input.flags } };
}

/** The typed flag values of a declared command: what its handler receives as `opts`. */
export type FlagsOf<S extends { flags: FlagDecls }> = FlagValues<S['flags']>;
