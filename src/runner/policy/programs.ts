/**
 * Argument-aware rules for programs that can run other programs, write outside their job, or change
 * their own configuration through their options (issue 15, classes 2–4). They apply to every
 * command the policy reads, allowlisted or not:
 *
 * - `hard` findings deny whatever the allowlist says (git `--output`, kubectl `--kubeconfig`, …);
 * - `exec_capable` programs (interpreters, build tools, editors, pagers, package runners) and their
 *   code-running options (`python -m`, `node --import`, `make --eval`, …) deny unless an allowlist
 *   entry names the command up to and including the offending word (`python3 -m pytest` allows
 *   `python3 -m pytest -q`, `python3` alone allows none of them).
 */

export interface Finding {
  rule: string;
  /**
   * Position of the offending word in the normalised argv. An allowlist entry with more words than
   * this (i.e. one that fixed that word) overrides the finding; undefined = hard, never overridden.
   */
  overridableAt?: number;
}

// ---------------------------------------------------------------------------------------------
// Environment

/**
 * Variables a job can never set, whatever the policy allows: they make programs load code, read
 * another configuration or run helpers (loader, git, node, python, perl, less, kubectl, shells).
 */
const FORBIDDEN_ENV =
  /^(?:HOME|PATH|SHELL|USER|LOGNAME|TMPDIR|IFS|CDPATH|ENV|BASH_ENV|BASH_FUNC_.*|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|XDG_\w*|LD_\w*|DYLD_\w*|GIT_\w*|NODE_\w*|NPM_\w*|npm_\w*|PYTHON\w*|PERL\w*|RUBY\w*|GEM_\w*|BUNDLE_\w*|JAVA_\w*|_JAVA_OPTIONS|JDK_\w*|CLASSPATH|LESS\w*|PAGER|MANPAGER|MANOPT|EDITOR|VISUAL|KUBECTL_\w*|KUBECONFIG|KUBE_\w*|SSH_\w*|SUDO_\w*|GPG_\w*|GNUPGHOME|MALLOC_\w*|GLIBC_\w*|GCONV_PATH|HOSTALIASES|LOCALDOMAIN|RES_OPTIONS|NLSPATH|LOCPATH|TERMINFO\w*|CURL_\w*|WGETRC|HTTPS?_PROXY|https?_proxy|ALL_PROXY|all_proxy|NO_PROXY|no_proxy|VPM_\w*|GITHUB_\w*|LUA_\w*|TCL\w*|R_\w*|OPENSSL_\w*|SSL_\w*|DOCKER_\w*|AWS_\w*|GOOGLE_\w*|CC|CXX|MAKEFLAGS|MFLAGS|MAKELEVEL|GNUMAKEFLAGS|TAR_OPTIONS|GREP_OPTIONS|GZIP|BZIP2?|XZ_\w*|ZSTD_\w*|SYSTEMD_\w*|DBUS_\w*|DISPLAY|WAYLAND_\w*|PKG_CONFIG_\w*|TZDIR)$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One `NAME=value` a job sets (leading assignment or an `env` argument). */
export function envFinding(name: string, allowed: ReadonlySet<string>): Finding | undefined {
  if (!ENV_NAME.test(name)) return { rule: `env_invalid_name: ${JSON.stringify(name)}` };
  if (FORBIDDEN_ENV.test(name)) return { rule: `env_forbidden: ${name}` };
  if (!allowed.has(name)) return { rule: `env_not_allowed: ${name} (add it to execution_policy.env_allow)` };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Programs that run code

/**
 * Interpreter names, versioned or suffixed spellings included (`python3.12`, `perl5.36-x86_64`,
 * `nodejs`, `pypy3`): anything that starts with one of these stems is an interpreter.
 */
const INTERPRETER =
  /^(?:python|pypy|perl|ruby|irb|jruby|node|nodejs|bun|deno|php|lua|luajit|tclsh|wish|expect|rscript|r$|java|jshell|jrunscript|groovy|scala|kotlin|julia|osascript|pwsh|powershell|guile|racket|sbcl|clisp|ghc|runghc|runhaskell|erl|escript|elixir|iex|swift|dotnet|qjs|gjs|jjs|rhino|ocaml|gdb|lldb|gawk|mawk|nawk|awk|sqlite3|psql|mysql|redis-cli|bc$|dc$|m4$)/i;

/** Programs that run code or commands taken from their arguments or from files they read. */
const EXEC_CAPABLE = new Set([
  'make',
  'gmake',
  'bmake',
  'cmake',
  'ninja',
  'meson',
  'scons',
  'bazel',
  'ant',
  'mvn',
  'gradle',
  'cargo',
  'go',
  'rustc',
  'cc',
  'gcc',
  'g++',
  'clang',
  'ld',
  'npm',
  'npx',
  'pnpm',
  'pnpx',
  'yarn',
  'yarnpkg',
  'corepack',
  'bunx',
  'pip',
  'pip3',
  'pipx',
  'uv',
  'uvx',
  'poetry',
  'tox',
  'nox',
  'gem',
  'bundle',
  'rake',
  'composer',
  'sed',
  'gsed',
  'ed',
  'ex',
  'vi',
  'vim',
  'nvim',
  'view',
  'vimdiff',
  'gvim',
  'rvim',
  'evim',
  'emacs',
  'emacsclient',
  'nano',
  'pico',
  'joe',
  'mcedit',
  'kak',
  'micro',
  'helix',
  'hx',
  'less',
  'more',
  'most',
  'man',
  'info',
  'pager',
  'systemd-run',
  'firejail',
  'bwrap',
  'capsh',
  'parallel',
  'newgrp',
  'at',
  'batch',
  'crontab',
  'tmux',
  'screen',
  'entr',
  'inotifywait',
  'watchexec',
  'rsync',
  'scp',
  'sftp',
  'zip',
  'git-shell',
  'socat',
  'nc',
  'ncat',
  'netcat',
  'telnet',
  'openssl',
  'ssh-agent',
  'docker',
  'podman',
  'helm',
  'kustomize',
  'dpkg',
  'apt',
  'apt-get',
  'rpm',
  'yum',
  'dnf',
  'apk',
]);

/** Per-interpreter options that run inline code or load modules before the program (`-c`, `-m`, `-M`, `--import`). */
const INTERPRETER_CODE_OPTIONS: Array<[RegExp, string, string[]]> = [
  [/^(?:python|pypy)/i, 'cmWX', []],
  [/^perl/i, 'eEMmIdx', []],
  [/^(?:ruby|jruby|irb)/i, 'erIx', ['--require']],
  [
    /^(?:node|nodejs|bun|deno)/i,
    'epr',
    [
      '--eval',
      '--print',
      '--require',
      '--import',
      '--loader',
      '--experimental-loader',
      '--env-file',
      '--experimental-default-type',
      '--inspect',
      '--inspect-brk',
      'eval',
      'run',
      'x',
    ],
  ],
  [/^php/i, 'rBRFEd', []],
  [/^(?:lua|luajit)/i, 'el', []],
  [/^(?:tclsh|wish|expect)/i, 'cf', []],
  [/^(?:rscript|r$)/i, 'e', ['--file']],
  [/^(?:gdb|lldb)/i, 'xo', ['-ex', '-iex', '--batch', '--command', '--eval-command']],
];

/** Options of exec-capable programs that run code (overridable only by a longer allowlist entry). */
const PROGRAM_CODE_OPTIONS: Record<string, { short: string; long: string[]; words?: string[] }> = {
  make: { short: 'Ef', long: ['--eval', '--file', '--makefile', '--include-dir'], words: [] },
  gmake: { short: 'Ef', long: ['--eval', '--file', '--makefile'] },
  vim: { short: 'cSs', long: ['--cmd', '-c'], words: [] },
  nvim: { short: 'cSs', long: ['--cmd'] },
  vi: { short: 'cSs', long: ['--cmd'] },
  ex: { short: 'cSs', long: ['--cmd'] },
  sed: { short: 'fe', long: ['--file', '--expression'] },
  npm: {
    short: '',
    long: ['--script-shell', '--node-options', '--call', '--prefix', '--userconfig', '--globalconfig'],
    words: ['exec', 'x', 'explore', 'edit', 'run-script', 'run', 'rum', 'urn', 'install-test', 'it'],
  },
};

/** Does the command only print a version or help (safe for any program)? */
function versionOnly(argv: readonly string[]): boolean {
  return argv.length === 2 && ['--version', '-V', '-v', '--help', '-h', 'version'].includes(argv[1]);
}

/** `-abc` contains short option `c`? (`-`, `--x` are not short clusters). */
function shortCluster(word: string, letters: string): string | undefined {
  if (!word.startsWith('-') || word.startsWith('--') || word.length < 2) return undefined;
  for (let j = 1; j < word.length; j++) {
    if (letters.includes(word[j])) return word[j];
    // Anything after a letter that takes a value is that value.
    if (!/[A-Za-z0-9]/.test(word[j])) return undefined;
  }
  return undefined;
}

function longName(word: string): string {
  const eq = word.indexOf('=');
  return eq === -1 ? word : word.slice(0, eq);
}

// ---------------------------------------------------------------------------------------------
// git

/** Global options git accepts before the subcommand, and what they take. */
const GIT_GLOBAL_FLAGS = new Set([
  '--no-pager',
  '-p',
  '--paginate',
  '-P',
  '--bare',
  '--literal-pathspecs',
  '--glob-pathspecs',
  '--noglob-pathspecs',
  '--icase-pathspecs',
  '--no-replace-objects',
  '--no-optional-locks',
  '--no-advice',
  '--no-lazy-fetch',
  '--version',
  '-v',
  '--help',
  '-h',
  '--html-path',
  '--man-path',
  '--info-path',
]);
const GIT_GLOBAL_PATHS = new Set(['-C', '--git-dir', '--work-tree']);
/** Subcommands that run programs, serve or send repositories, or rewrite configuration. */
const GIT_DENIED_SUBCOMMANDS = new Set([
  'difftool',
  'mergetool',
  'send-pack',
  'receive-pack',
  'upload-pack',
  'upload-archive',
  'daemon',
  'instaweb',
  'filter-branch',
  'credential',
  'credential-cache',
  'credential-store',
  'hook',
  'web--browse',
  'remote-ext',
  'remote-fd',
  'send-email',
  'imap-send',
  'p4',
  'svn',
  'cvsimport',
  'cvsserver',
  'archimport',
  'quiltimport',
  'shell',
  'http-backend',
  'http-fetch',
  'http-push',
  'fast-import',
  'submodule',
  'bisect',
  'config',
  'sh-setup',
  'sh-i18n',
  'mergetool--lib',
  'run-command',
  'bugreport',
  'maintenance',
  'gc',
  'replace',
  'notes',
  'worktree',
  'var',
]);
/** Options (after the subcommand) that write files where they like, run programs or change remotes' helpers. */
const GIT_DENIED_OPTIONS = new Set([
  '--output',
  '--output-directory',
  '--upload-pack',
  '--receive-pack',
  '--exec',
  '--extcmd',
  '--template',
  '--config',
  '--open-files-in-pager',
  '--shallow-file',
  '--exec-path',
  '--tool',
  '--gpg-program',
  '--interactive',
  '--edit-todo',
  '--run',
  '--ext-diff',
  '--textconv',
  '--git-dir',
  '--work-tree',
  '--separate-git-dir',
  '--reference',
  '--reference-if-able',
  '--server-option',
  '--upload-archive',
  '--remote',
]);
/** Short options denied only for some subcommands (`-x` is harmless for cherry-pick, runs a shell for rebase). */
const GIT_DENIED_SHORT: Record<string, string> = {
  rebase: 'xi',
  'format-patch': 'o',
  clone: 'ucj',
  fetch: 'u',
  pull: 'u',
  'ls-remote': 'u',
  archive: 'o',
  grep: 'O',
  log: 'O',
  commit: 'te',
  tag: 'ue',
  push: '',
  am: 'i',
  'cherry-pick': 'e',
  merge: 'e',
};

function outsideRepo(path: string): boolean {
  return path.startsWith('/') || path.startsWith('~') || path.split('/').includes('..');
}

/** Git rules (issue 15, class 2). Returns the subcommand index too. */
function gitFindings(argv: readonly string[]): Finding[] {
  const out: Finding[] = [];
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-')) break;
    if (a === '--') {
      i++;
      break;
    }
    const name = longName(a);
    if (GIT_GLOBAL_PATHS.has(name) || (a.startsWith('-C') && a.length > 2)) {
      const value = a.startsWith('-C') && a.length > 2 ? a.slice(2) : a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (value === undefined || outsideRepo(value))
        out.push({ rule: `git_option: ${name} ${JSON.stringify(value ?? '')} points outside the repository` });
      continue;
    }
    if (name === '--namespace' || name === '--list-cmds') {
      if (!a.includes('=')) i++;
      continue;
    }
    if (GIT_GLOBAL_FLAGS.has(a)) continue;
    // -c, --config-env, --exec-path, --shallow-file, --super-prefix, --attr-source and anything
    // git adds later: configuration or helpers from the command line.
    out.push({ rule: `git_option: ${name}` });
    if (!a.includes('=') && ['-c', '--config-env', '--shallow-file', '--super-prefix', '--attr-source'].includes(a)) i++;
  }
  const sub = argv[i];
  if (sub === undefined) return out;
  if (GIT_DENIED_SUBCOMMANDS.has(sub)) {
    // Read-only config queries are fine.
    const readOnlyConfig =
      sub === 'config' &&
      argv.slice(i + 1).some((a) => ['--get', '--get-all', '--get-regexp', '--list', '-l', 'get', 'list'].includes(a)) &&
      !argv
        .slice(i + 1)
        .some(
          (a) =>
            /^--(?:add|replace-all|unset|unset-all|rename-section|remove-section|edit|file|global|system|blob)/.test(a) ||
            a === '-e' ||
            a === '-f',
        );
    if (!readOnlyConfig) out.push({ rule: `git_subcommand: ${sub}` });
  }
  const shorts = GIT_DENIED_SHORT[sub] ?? '';
  for (let k = i + 1; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--') break;
    if (a.startsWith('--')) {
      const name = longName(a);
      if (GIT_DENIED_OPTIONS.has(name)) out.push({ rule: `git_option: ${sub} ${name}` });
      continue;
    }
    const s = shorts && shortCluster(a, shorts);
    if (s) out.push({ rule: `git_option: ${sub} -${s}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// kubectl

/** Subcommands the runner may use; anything else (exec, cp, proxy, port-forward, plugins, …) denies. */
const KUBECTL_SUBCOMMANDS = new Set([
  'get',
  'describe',
  'diff',
  'apply',
  'explain',
  'api-resources',
  'api-versions',
  'version',
  'logs',
  'top',
  'rollout',
  'wait',
  'auth',
  'cluster-info',
  'label',
  'annotate',
  'patch',
  'create',
  'delete',
  'scale',
  'set',
  'replace',
  'autoscale',
  'events',
  'certificate',
  'cordon',
  'uncordon',
  'drain',
  'taint',
]);
const KUBECTL_DENIED_OPTIONS = new Set([
  '--kubeconfig',
  '--token',
  '--as',
  '--as-group',
  '--as-uid',
  '--username',
  '--password',
  '--client-certificate',
  '--client-key',
  '--certificate-authority',
  '--server',
  '-s',
  '--insecure-skip-tls-verify',
  '--tls-server-name',
  '--cluster',
  '--user',
  '--cache-dir',
  '--profile-output',
  '--enable-alpha-plugins',
  '--enable-exec',
  '--enable-helm',
  '--helm-command',
  '--editor',
  '--output-directory',
  '--log-file',
  '--log-dir',
  '--kustomize',
  '-k',
]);

function kubectlFindings(argv: readonly string[]): Finding[] {
  const out: Finding[] = [];
  let sub: string | undefined;
  for (let k = 1; k < argv.length; k++) {
    const a = argv[k];
    if (a === '--') break;
    if (a.startsWith('-')) {
      const name = longName(a);
      if (KUBECTL_DENIED_OPTIONS.has(name)) out.push({ rule: `kubectl_option: ${name}` });
      // Options with a separate value: skip it, so it is not read as the subcommand.
      if (
        !a.includes('=') &&
        /^(?:-n|--namespace|--context|-o|--output|-f|--filename|-l|--selector|--field-manager|-c|--container|--request-timeout|-v|--v)$/.test(
          a,
        )
      )
        k++;
      continue;
    }
    if (sub === undefined) {
      sub = a;
      if (!KUBECTL_SUBCOMMANDS.has(a)) out.push({ rule: `kubectl_subcommand: ${a}` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Other programs with exec options (hard: not even an allowlist entry makes them safe)

function findFindings(argv: readonly string[]): Finding[] {
  const out: Finding[] = [];
  for (let k = 1; k < argv.length; k++) {
    if (/^-(?:exec|execdir|ok|okdir|fprint|fprint0|fprintf|fls|delete)$/.test(argv[k])) out.push({ rule: `exec_option: find ${argv[k]}` });
  }
  return out;
}

function tarFindings(argv: readonly string[]): Finding[] {
  const out: Finding[] = [];
  for (let k = 1; k < argv.length; k++) {
    const a = argv[k];
    if (a.startsWith('--')) {
      const name = longName(a);
      if (
        /^--(?:checkpoint-action|to-command|use-compress-program|info-script|new-volume-script|rsh-command|rmt-command|index-file|volno-file|transform|xform|owner-map|group-map)/.test(
          name,
        )
      ) {
        out.push({ rule: `exec_option: tar ${name}` });
      }
      continue;
    }
    // `-I PROG`, `-F SCRIPT`, also in old-style first-word clusters (`tar cIf prog x.tar`).
    const cluster = a.startsWith('-') ? a.slice(1) : k === 1 ? a : '';
    if (/[IF]/.test(cluster)) out.push({ rule: `exec_option: tar -${cluster.match(/[IF]/)![0]}` });
    // `-f host:file` runs rsh/ssh.
    if (/^[^/.]*:/.test(a) && k > 1 && /f$/.test(argv[k - 1])) out.push({ rule: 'exec_option: tar remote archive' });
  }
  return out;
}

function xargsFindings(argv: readonly string[]): Finding[] {
  const out: Finding[] = [];
  for (let k = 1; k < argv.length; k++) {
    const a = argv[k];
    if (!a.startsWith('-')) break;
    const name = longName(a);
    if (name === '--arg-file' || shortCluster(a, 'a')) out.push({ rule: 'exec_option: xargs -a (arguments from a file)' });
    if (name === '--replace' || shortCluster(a, 'Ii')) out.push({ rule: 'exec_option: xargs -I (replacement can rewrite the command)' });
  }
  return out;
}

function envWrapperFindings(argv: readonly string[]): Finding[] {
  for (let k = 1; k < argv.length; k++) {
    const a = argv[k];
    if (!a.startsWith('-')) break;
    if (longName(a) === '--split-string' || shortCluster(a, 'S'))
      return [{ rule: 'exec_option: env -S (split-string has its own escape syntax)' }];
    if (longName(a) === '--argv0' || shortCluster(a, 'a')) return [{ rule: 'exec_option: env --argv0' }];
  }
  return [];
}

/** Every finding for one normalised command. */
export function programFindings(argv: readonly string[]): Finding[] {
  const name = argv[0];
  if (name === 'git') return gitFindings(argv);
  if (name === 'kubectl' || name === 'oc') return kubectlFindings(argv);
  if (name === 'find') return findFindings(argv);
  if (name === 'tar' || name === 'gtar' || name === 'bsdtar') return tarFindings(argv);
  if (name === 'xargs') return xargsFindings(argv);
  if (name === 'env') return envWrapperFindings(argv);
  if (versionOnly(argv)) return [];
  const out: Finding[] = [];
  const interp = INTERPRETER.test(name);
  if (interp || EXEC_CAPABLE.has(name))
    out.push({ rule: `exec_capable: ${name} runs code from its arguments or files (needs an allowlist entry)`, overridableAt: 0 });
  if (interp) {
    for (const [re, shorts, longs] of INTERPRETER_CODE_OPTIONS) {
      if (!re.test(name)) continue;
      for (let k = 1; k < argv.length; k++) {
        const a = argv[k];
        if (a === '--') break;
        const s = shortCluster(a, shorts);
        if (s || longs.includes(longName(a))) {
          out.push({ rule: `exec_option: ${name} ${s ? `-${s}` : longName(a)}`, overridableAt: k });
          break;
        }
        if (!a.startsWith('-')) break; // the script: its own arguments follow
      }
    }
  }
  const opts = Object.hasOwn(PROGRAM_CODE_OPTIONS, name) ? PROGRAM_CODE_OPTIONS[name] : undefined;
  if (opts) {
    for (let k = 1; k < argv.length; k++) {
      const a = argv[k];
      if (a === '--') break;
      const s = opts.short && shortCluster(a, opts.short);
      if (
        s ||
        (a.startsWith('--') && opts.long.includes(longName(a))) ||
        (a.startsWith('+') && /^(?:vim?|nvim|ex)$/.test(name)) ||
        (k === 1 && opts.words?.includes(a))
      ) {
        out.push({ rule: `exec_option: ${name} ${s ? `-${s}` : a.startsWith('+') ? '+cmd' : longName(a)}`, overridableAt: k });
      }
    }
  }
  return out;
}
