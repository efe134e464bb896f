/**
 * Every command spec, walked: help with an Examples section, each flag declared once (globals
 * included), --json parse errors as one `{ok:false,error}` document; the generated bash completion
 * sourced in a real bash; and the one place that sets the process's exit code.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { GLOBAL_FLAGS, flagLongName } from '../../src/cli/spec.ts';
import { COMMANDS } from '../../src/commands/index.ts';
import type { IOStreams } from '../../src/core/context.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough();
  const err = new PassThrough();
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const io: IOStreams = { stdin: new PassThrough(), stdout: out, stderr: err, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
  const code = await main(['--cwd', mkdtempSync(join(tmpdir(), 'vpm-spec-')), ...argv], io, { ...process.env, VPM_CWD: undefined });
  return { code, stdout, stderr };
}

describe('every command spec', () => {
  it('declares a summary and at least one example, and no flag twice (long or short, globals included)', () => {
    expect(COMMANDS.length).toBeGreaterThan(30);
    const paths = COMMANDS.map((s) => s.path.join(' '));
    expect(new Set(paths).size).toBe(paths.length);
    for (const spec of COMMANDS) {
      expect(spec.summary, spec.path.join(' ')).not.toBe('');
      expect(spec.examples.length, spec.path.join(' ')).toBeGreaterThan(0);
      for (const ex of spec.examples) expect(ex.command.includes(`vpm ${spec.path.join(' ')}`), ex.command).toBe(true);
      const all = { ...spec.flags, ...GLOBAL_FLAGS };
      const longs = Object.entries(all).map(([k, d]) => flagLongName(k, d));
      const shorts = Object.values(all).flatMap((d) => (d.short ? [d.short] : []));
      expect(
        Object.keys(spec.flags).filter((k) => k in GLOBAL_FLAGS),
        spec.path.join(' '),
      ).toEqual([]);
      expect(new Set(longs).size, spec.path.join(' ')).toBe(longs.length);
      expect(new Set(shorts).size, spec.path.join(' ')).toBe(shorts.length);
    }
  });

  it.each(COMMANDS.map((s) => [s.path.join(' '), s] as const))(
    'vpm %s --help: usage, every flag once, an Examples section',
    async (_name, spec) => {
      const { code, stdout } = await run([...spec.path, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain(`Usage: vpm ${spec.path.join(' ')}`);
      expect(stdout).toMatch(/\nExamples:\n {2}\$ .*vpm /);
      const optionsSection = stdout.slice(stdout.indexOf('Options:'), stdout.indexOf('\nExamples:'));
      for (const [key, decl] of Object.entries({ ...spec.flags, ...GLOBAL_FLAGS })) {
        const long = `--${flagLongName(key, decl)}`;
        const declared = optionsSection.split('\n').filter((line) => new RegExp(`^ {2}(-\\w, )?${long}( |$)`).test(line));
        expect(declared, `${spec.path.join(' ')} ${long}`).toHaveLength(1);
      }
    },
  );

  it.each(COMMANDS.map((s) => [s.path.join(' '), s] as const))(
    'vpm %s --json with an unknown option: one {ok:false} document, exit 2',
    async (_name, spec) => {
      const { code, stdout } = await run(['--json', ...spec.path, '--no-such-option-anywhere']);
      expect(code).toBe(2);
      const doc = JSON.parse(stdout);
      expect(doc).toMatchObject({ ok: false, error: { exit_code: 2 } });
      // Commander names a missing required option or argument before an unknown one.
      expect(doc.error.message).toMatch(/--no-such-option-anywhere|required option|missing required argument/);
    },
  );
});

describe('vpm completion', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpm-completion-'));

  async function complete(words: string[]): Promise<string[]> {
    const { code, stdout } = await run(['completion', 'bash']);
    expect(code).toBe(0);
    const script = join(dir, 'vpm.bash');
    writeFileSync(script, stdout);
    const line = `source ${script}; complete -p vpm; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _vpm_complete; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', line], { encoding: 'utf8' });
    const [registration, ...candidates] = out.trim().split('\n');
    expect(registration).toBe('complete -F _vpm_complete vpm');
    return candidates;
  }

  it('bash: completes subcommands, nested subcommands, flags and flag values in a real bash', async () => {
    expect(await complete(['vpm', 'ca'])).toEqual(['canary']);
    expect((await complete(['vpm', 'canary', ''])).sort()).toEqual(['abort', 'promote', 'resume', 'start', 'status', 'undo']);
    const flags = await complete(['vpm', 'canary', 'start', 'hello', '--st']);
    expect(flags.sort()).toEqual(['--stable', '--steps']);
    expect((await complete(['vpm', 'chat', 'append', '--role', ''])).sort()).toEqual(['assistant', 'system', 'tool', 'user']);
    expect(await complete(['vpm', 'rollback', '--no-t'])).toEqual(['--no-test']);
    expect(await complete(['vpm', '--json', 'freeze', 'st'])).toEqual(['status']);
  });

  it('bash: argument choices, and file or directory names where a flag or argument takes them', async () => {
    expect((await complete(['vpm', 'completion', ''])).sort()).toEqual(['bash', 'fish', 'zsh']);
    mkdirSync(join(dir, 'manifests'), { recursive: true });
    writeFileSync(join(dir, 'manifests', 'hello.yaml'), 'x');
    const at = (p: string) => join(dir, p);
    expect(await complete(['vpm', 'apply', at('manifests/he')])).toEqual([at('manifests/hello.yaml')]);
    expect(await complete(['vpm', 'apply', '--dry'])).toEqual(['--dry-run']);
    expect(await complete(['vpm', 'release', 'hello', '--slo', at('manifests/')])).toEqual([at('manifests/hello.yaml')]);
    expect(await complete(['vpm', '--cwd', at('man')])).toEqual([at('manifests')]);
    expect(await complete(['vpm', 'schema', 'export', '--out', at('manifests/')])).toEqual([]);
  });

  it('zsh and fish scripts are generated from the same specs; an unknown shell is a usage error', async () => {
    const zsh = await run(['completion', 'zsh']);
    expect(zsh.stdout).toMatch(/^#compdef vpm/);
    const fish = await run(['completion', 'fish']);
    expect(fish.stdout).toContain('complete -c vpm -n');
    expect(fish.stdout).toContain('-l stable');
    expect((await run(['completion', 'tcsh'])).code).toBe(2);
    if (spawnSync('fish', ['--version']).status === 0) {
      expect(spawnSync('fish', ['--no-execute', '-c', fish.stdout]).status).toBe(0);
    }
  });
});

describe('exit codes', () => {
  it('only bin/vpm.js sets the process exit code; nothing under src/ does', () => {
    const found = spawnSync('grep', ['-rn', '-e', 'process.exitCode', '-e', 'process.exit(', 'src', 'bin'], { cwd: ROOT, encoding: 'utf8' })
      .stdout.trim()
      .split('\n');
    expect(
      found.every((line) => line.startsWith('bin/vpm.js:')),
      found.join('\n'),
    ).toBe(true);
    // The Node.js version refusal, the EPIPE exit and the one hand-over of main()'s code.
    expect(found).toHaveLength(3);
  });
});
