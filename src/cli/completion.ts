/**
 * Shell completion scripts generated from the command specs: subcommands at each level, then the
 * command's flags (long and short) and the values of flags with choices. The scripts are static —
 * completing a word never starts vpm — so they stay instant on any machine.
 */
import { COMMANDS } from '../commands/index.js';
import { type AnyCommandSpec, type FlagDecl, type FlagDecls, GLOBAL_FLAGS, flagLongName } from './spec.js';

interface Node {
  children: Map<string, Node>;
  spec?: AnyCommandSpec;
}

function tree(): Node {
  const root: Node = { children: new Map() };
  for (const spec of COMMANDS) {
    let node = root;
    for (const word of spec.path) {
      let next = node.children.get(word);
      if (!next) {
        next = { children: new Map() };
        node.children.set(word, next);
      }
      node = next;
    }
    node.spec = spec;
  }
  root.children.set('help', { children: new Map() });
  return root;
}

function flagWords(spec: AnyCommandSpec | undefined): string[] {
  const flags: FlagDecls = { ...(spec?.flags ?? {}), ...GLOBAL_FLAGS };
  return Object.entries(flags).flatMap(([key, decl]) => [`--${flagLongName(key, decl)}`, ...(decl.short ? [`-${decl.short}`] : [])]);
}

/** What a flag's value is, for completion: its choices, or file / directory names by its placeholder. */
function flagValues(decl: FlagDecl): readonly string[] | 'file' | 'dir' | undefined {
  if (decl.choices) return decl.choices;
  if (decl.placeholder === '<dir>') return 'dir';
  if (decl.placeholder && ['<file>', '<path>', '<manifest>'].includes(decl.placeholder)) return 'file';
  return undefined;
}

interface Row {
  path: string;
  /** Subcommands, else the command's flags and its first argument's choices. */
  words: string[];
  /** Flags whose value is completed: from a list, or as file / directory names. */
  values: Array<{ flag: string; values: readonly string[] | 'file' | 'dir' }>;
  /** The first argument takes file names. */
  fileArg: boolean;
}

/** Every command path ('' for the top level) with its completions. */
function table(): Row[] {
  const rows: Row[] = [];
  const walk = (node: Node, path: string[]) => {
    const subcommands = [...node.children.keys()];
    const flags: FlagDecls = { ...(node.spec?.flags ?? {}), ...(node.spec || path.length === 0 ? GLOBAL_FLAGS : {}) };
    const values = Object.entries(flags).flatMap(([key, d]) => {
      const v = flagValues(d);
      return v ? [`--${flagLongName(key, d)}`, ...(d.short ? [`-${d.short}`] : [])].map((flag) => ({ flag, values: v })) : [];
    });
    const arg = node.spec?.args?.[0];
    rows.push({
      path: path.join(' '),
      words: [...subcommands, ...(node.spec || path.length === 0 ? flagWords(node.spec) : []), ...(arg?.choices ?? [])],
      values,
      fileArg: arg?.complete === 'file',
    });
    for (const [word, child] of node.children) walk(child, [...path, word]);
  };
  walk(tree(), []);
  return rows;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(): string {
  const cases = table()
    .map((r) => {
      const valueCases = r.values
        .map((c) => {
          const gen = c.values === 'file' ? '-f' : c.values === 'dir' ? '-d' : `-W ${q(c.values.join(' '))}`;
          return `        ${q(c.flag)}) COMPREPLY=($(compgen ${gen} -- "$cur")); return ;;`;
        })
        .join('\n');
      const words = r.words.filter((w) => !w.startsWith('-'));
      const flags = r.words.filter((w) => w.startsWith('-'));
      return `    ${q(r.path)})\n      case "$prev" in\n${valueCases}\n      esac\n      words_=${q(words.join(' '))}; flags_=${q(flags.join(' '))}${r.fileArg ? '; files_=1' : ''} ;;`;
    })
    .join('\n');
  return `# vpm completion for bash: source <(vpm completion bash)
_vpm_complete() {
  local cur prev path="" w i words_="" flags_="" files_=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # The command path: the words before the cursor that are not options (the deepest known one wins).
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    _vpm_known "\${path:+$path }$w" && path="\${path:+$path }$w"
  done
  case "$path" in
${cases}
  esac
  # Options when one is being typed (or nothing else fits); else subcommands or the argument's
  # values, file names for a command whose argument is a file.
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags_" -- "$cur"))
  elif [[ -n $files_ ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ -n $words_ ]]; then
    COMPREPLY=($(compgen -W "$words_" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$flags_" -- "$cur"))
  fi
}
_vpm_known() {
  case "$1" in
    ${table()
      .filter((r) => r.path)
      .map((r) => q(r.path))
      .join('|')}) return 0 ;;
  esac
  return 1
}
complete -F _vpm_complete vpm
`;
}

function zsh(): string {
  return `#compdef vpm
# vpm completion for zsh: vpm completion zsh > "\${fpath[1]}/_vpm"
autoload -U +X bashcompinit && bashcompinit
${bash()}`;
}

function fish(): string {
  const lines = ['# vpm completion for fish: vpm completion fish > ~/.config/fish/completions/vpm.fish', 'complete -c vpm -f'];
  for (const r of table()) {
    const words = r.path ? r.path.split(' ') : [];
    const cond = words.length === 0 ? '__fish_use_subcommand' : `__fish_seen_subcommand_from ${words[words.length - 1]}`;
    const valuesOf = new Map(r.values.map((v) => [v.flag, v.values]));
    // -r: the option takes a value; -F: file names; -a: these words
    const takes = (flag: string) => {
      const v = valuesOf.get(flag);
      if (v === undefined) return '';
      if (v === 'file') return ' -r -F';
      if (v === 'dir') return ` -r -a ${q('(__fish_complete_directories)')}`;
      return ` -r -a ${q(v.join(' '))}`;
    };
    for (const w of r.words) {
      if (w.startsWith('--')) lines.push(`complete -c vpm -n ${q(cond)} -l ${w.slice(2)}${takes(w)}`);
      else if (w.startsWith('-')) lines.push(`complete -c vpm -n ${q(cond)} -s ${w.slice(1)}${takes(w)}`);
      else lines.push(`complete -c vpm -n ${q(cond)} -a ${w}`);
    }
    if (r.fileArg) lines.push(`complete -c vpm -n ${q(cond)} -F`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: 'bash' | 'zsh' | 'fish'): string {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : fish();
}
