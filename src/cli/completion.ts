/**
 * Shell completion scripts generated from the command specs: subcommands at each level, then the
 * command's flags (long and short) and the values of flags with choices. The scripts are static —
 * completing a word never starts vpm — so they stay instant on any machine.
 */
import { COMMANDS } from '../commands/index.js';
import { type AnyCommandSpec, type FlagDecls, GLOBAL_FLAGS, flagLongName } from './spec.js';

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

/** Every command path ('' for the top level) with its completions: subcommands, else flags. */
function table(): Array<{ path: string; words: string[]; choices: Array<{ flag: string; values: readonly string[] }> }> {
  const rows: Array<{ path: string; words: string[]; choices: Array<{ flag: string; values: readonly string[] }> }> = [];
  const walk = (node: Node, path: string[]) => {
    const subcommands = [...node.children.keys()];
    const choices = Object.entries(node.spec?.flags ?? {})
      .filter(([, d]) => d.choices)
      .flatMap(([key, d]) =>
        [`--${flagLongName(key, d)}`, ...(d.short ? [`-${d.short}`] : [])].map((flag) => ({ flag, values: d.choices ?? [] })),
      );
    rows.push({ path: path.join(' '), words: [...subcommands, ...(node.spec || path.length === 0 ? flagWords(node.spec) : [])], choices });
    for (const [word, child] of node.children) walk(child, [...path, word]);
  };
  walk(tree(), []);
  return rows;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(): string {
  const cases = table()
    .map((r) => {
      const choiceCases = r.choices
        .map((c) => `        ${q(c.flag)}) COMPREPLY=($(compgen -W ${q(c.values.join(' '))} -- "$cur")); return ;;`)
        .join('\n');
      return `    ${q(r.path)})\n      case "$prev" in\n${choiceCases}\n      esac\n      words_=${q(r.words.join(' '))} ;;`;
    })
    .join('\n');
  return `# vpm completion for bash: source <(vpm completion bash)
_vpm_complete() {
  local cur prev path="" w i words_=""
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
  COMPREPLY=($(compgen -W "$words_" -- "$cur"))
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
    for (const w of r.words) {
      if (w.startsWith('--')) lines.push(`complete -c vpm -n ${q(cond)} -l ${w.slice(2)}`);
      else if (w.startsWith('-')) lines.push(`complete -c vpm -n ${q(cond)} -s ${w.slice(1)}`);
      else lines.push(`complete -c vpm -n ${q(cond)} -a ${w}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: 'bash' | 'zsh' | 'fish'): string {
  return shell === 'bash' ? bash() : shell === 'zsh' ? zsh() : fish();
}
