/**
 * The healthcheck keeps the failing assertion in the report's output tail: real vitest and pytest
 * runs (through runTestCommand, as the healthcheck runs them) whose first failure is printed far
 * from the end, a go-test-like tool, secrets, and output far larger than the budget.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_TAIL_BUDGET, TestOutputCollector } from '../../src/healthcheck/output-tail.js';
import { runTestCommand } from '../../src/healthcheck/tests.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const VITEST_BIN = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vpm-tail-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A clean environment for the child: nothing of this vitest run leaks into the one it starts. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...extra };
}

async function run(dir: string, command: string, env = childEnv()) {
  let full = '';
  const result = await runTestCommand({ cwd: dir, env, command, timeoutMs: 120_000, onOutput: (c) => (full += c) });
  // eslint-disable-next-line no-control-regex
  const plain = full.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
  return { result, tail: result.output_tail, text: result.output_tail.join('\n'), plain };
}

function withinBudget(tail: string[]): void {
  expect(tail.length).toBeLessThanOrEqual(DEFAULT_TAIL_BUDGET.maxLines);
  expect(tail.reduce((n, l) => n + l.length, 0)).toBeLessThanOrEqual(DEFAULT_TAIL_BUDGET.maxChars);
  // eslint-disable-next-line no-control-regex
  expect(tail.join('\n')).not.toMatch(/\x1b\[/);
}

describe('healthcheck test output: failure blocks are kept whole', () => {
  it('vitest: the first failure (assertion, Expected/Received, ❯ file:line) survives a 150-line diff printed after it', async () => {
    const dir = project({
      'math.test.js': [
        "test('adds', () => {",
        '  expect(1 + 1).toBe(3);',
        '});',
        "test('big object', () => {",
        '  const a = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`key_${i}`, i]));',
        '  const b = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`key_${i}`, i % 2 ? i : -i]));',
        '  expect(a).toEqual(b);',
        '});',
        'for (let i = 0; i < 5; i++) test(`passes ${i}`, () => expect(i).toBe(i));',
        '',
      ].join('\n'),
    });
    const { result, tail, text, plain } = await run(
      dir,
      `${process.execPath} ${VITEST_BIN} run --globals --root ${dir}`,
      childEnv({ FORCE_COLOR: '1' }),
    );
    expect(result.exit_code).toBe(1);
    // The failure really is far from the end: the old 40-line tail did not have it.
    const assertion = 'AssertionError: expected 2 to be 3 // Object.is equality';
    expect(plain.join('\n')).toContain(assertion);
    expect(plain.slice(-41).join('\n')).not.toContain(assertion);

    expect(tail).toContain(' FAIL  math.test.js > adds');
    expect(tail).toContain(assertion);
    expect(tail).toEqual(expect.arrayContaining(['- Expected', '+ Received', '- 3', '+ 2', ' ❯ math.test.js:2:17']));
    // The first block is whole and in order, up to the line under the failing expression.
    const first = tail.indexOf(' FAIL  math.test.js > adds');
    expect(tail.slice(first, first + 13).join('\n')).toMatch(
      /FAIL {2}math\.test\.js > adds\n.*AssertionError[\s\S]*- Expected\n\+ Received\n\n- 3\n\+ 2\n\n ❯ math\.test\.js:2:17\n[\s\S]*2\|\s+expect\(1 \+ 1\)\.toBe\(3\);\n\s+\|\s+\^/,
    );
    // The second failure is named with its assertion, and the run's summary ends the tail.
    expect(tail).toContain(' FAIL  math.test.js > big object');
    expect(text).toMatch(/AssertionError: expected \{ key_0: \+0, key_1: 1, …\(148\) \} to deeply equal/);
    expect(text).toMatch(/Tests {2}2 failed \| 5 passed \(7\)/);
    expect(text).toMatch(/… \(\d+ lines? not shown\)/);
    withinBudget(tail);
  }, 120_000);

  const hasPytest = spawnSync('python3', ['-m', 'pytest', '--version']).status === 0;
  it.runIf(hasPytest)(
    'pytest: the FAILURES section keeps each test’s assertion although one test printed 300 lines of captured output',
    async () => {
      const dir = project({
        'test_app.py': [
          'def test_first():',
          '    expected = {"status": "ok", "count": 3}',
          '    assert {"status": "ok", "count": 2} == expected',
          '',
          'def test_noisy():',
          '    for i in range(300):',
          '        print(f"processing record {i} of 300")',
          '    assert False, "the second failure"',
          '',
          'def test_pass():',
          '    assert True',
          '',
        ].join('\n'),
      });
      const { result, tail, text, plain } = await run(dir, 'python3 -m pytest -p no:cacheprovider --color=yes', childEnv());
      expect(result.exit_code).toBe(1);
      const assertion = "E       AssertionError: assert {'status': 'ok', 'count': 2} == {'status': 'ok', 'count': 3}";
      expect(plain).toContain(assertion);
      expect(plain.slice(-41)).not.toContain(assertion);

      expect(tail[0]).toMatch(/^… \(\d+ lines not shown\)$/);
      expect(tail[1]).toMatch(/^=+ FAILURES =+$/);
      expect(tail[2]).toMatch(/^_+ test_first _+$/);
      expect(tail).toContain(assertion);
      expect(tail).toContain("E         {'count': 2} != {'count': 3}");
      expect(tail).toContain('test_app.py:3: AssertionError');
      // The second test: its head (name and assertion), not its 300 lines of prints.
      expect(tail.find((l) => /^_+ test_noisy _+$/.test(l))).toBeDefined();
      expect(tail).toContain('E       AssertionError: the second failure');
      expect(text).toMatch(/… \(\d+ more lines of this failure not shown\)/);
      // The end: short test summary and the result line.
      expect(tail).toContain('FAILED test_app.py::test_noisy - AssertionError: the second failure');
      expect(tail.at(-1)).toMatch(/=+ 2 failed, 1 passed in [\d.]+s =+/);
      withinBudget(tail);
    },
    120_000,
  );

  it('another tool (go test style): the lines around the failure are kept, then the end', async () => {
    const script = [
      "console.log('=== RUN   TestTransfer');",
      "console.log('--- FAIL: TestTransfer (0.01s)');",
      "console.log('    bank_test.go:42: balance = 90, want 100');",
      '',
      'for (let i = 0; i < 400; i++) console.log(`=== RUN   TestOther${i}\\n--- PASS: TestOther${i} (0.00s)`);',
      "console.log('FAIL\\tbank\\t0.42s');",
      'process.exitCode = 1; // not process.exit(): it would cut the piped output short',
    ].join('\n');
    const dir = project({ 'gotest.mjs': script });
    const { result, tail } = await run(dir, `${process.execPath} gotest.mjs`);
    expect(result.exit_code).toBe(1);
    expect(tail.slice(0, 3)).toEqual([
      '=== RUN   TestTransfer',
      '--- FAIL: TestTransfer (0.01s)',
      '    bank_test.go:42: balance = 90, want 100',
    ]);
    expect(tail.at(-1)).toBe('FAIL\tbank\t0.42s');
    withinBudget(tail);
  });

  it('masks secrets before cutting: a token at a long line’s cut point and a private key split across lines', async () => {
    const token = `ghp_${'A1b2C3d4'.repeat(5)}`;
    const script = [
      `console.log(' FAIL  api.test.js > calls the API');`,
      `console.log('AssertionError: expected 401 to be 200');`,
      `console.log('x'.repeat(${DEFAULT_TAIL_BUDGET.maxLineChars - 10}) + ' ${token}');`,
      `console.log('env GITHUB_TOKEN=${'s3cr3t-value'}');`,
      "for (let i = 0; i < 300; i++) console.log('noise line ' + i);",
      "console.log('-----BEGIN RSA PRIVATE KEY-----');",
      "for (let i = 0; i < 5; i++) console.log('MIIEowIBAAKCAQEA' + i);",
      "console.log('-----END RSA PRIVATE KEY-----');",
      "console.log('the last line');",
      'process.exitCode = 1;',
    ].join('\n');
    const dir = project({ 'leak.mjs': script });
    const { tail, text } = await run(dir, `${process.execPath} leak.mjs`, childEnv({ GITHUB_TOKEN: 's3cr3t-value' }));
    expect(tail).toContain('AssertionError: expected 401 to be 200');
    expect(text).not.toContain('ghp_');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('MIIEowIBAAKCAQEA');
    expect(text).toContain('***');
    // Masking the key kept the lines aligned: the tail still ends with the last line printed.
    expect(tail.at(-1)).toBe('the last line');
    withinBudget(tail);
  });
});

describe('TestOutputCollector', () => {
  it('stays within the budget and keeps the first failure of 200,000 lines of output, fed in odd-sized chunks', () => {
    const c = new TestOutputCollector();
    c.push(' FAIL  a.test.ts > first\nAssertionError: expected 1 to be 2\n\n ❯ a.test.ts:3:7\n⎯⎯⎯⎯⎯⎯⎯\n');
    let pending = '';
    for (let i = 0; i < 200_000; i++) {
      pending += `line ${i} ${i % 1000 === 0 ? ' FAIL  b.test.ts > later ' + i + '\nAssertionError: later\n⎯⎯⎯\n' : ''}\n`;
      if (pending.length > 4093) {
        c.push(pending.slice(0, 4093));
        pending = pending.slice(4093);
      }
    }
    c.push(pending + 'the end');
    const tail = c.finish({});
    expect(tail.slice(0, 4)).toEqual([' FAIL  a.test.ts > first', 'AssertionError: expected 1 to be 2', '', ' ❯ a.test.ts:3:7']);
    expect(tail.at(-1)).toBe('the end');
    expect(tail.some((l) => /more failure blocks? not shown/.test(l) || /lines not shown/.test(l))).toBe(true);
    withinBudget(tail);
  });

  it('a single failure larger than the budget keeps its beginning and says how much was left out', () => {
    const c = new TestOutputCollector();
    c.push('FAIL src/big.test.js\n  ● big › compares\n\n    expect(received).toEqual(expected)\n\n    Expected: 1\n    Received: 2\n');
    for (let i = 0; i < 500; i++) c.push(`      diff line ${i}\n`);
    c.push('Test Suites: 1 failed, 1 total\nTests:       1 failed, 1 total\n');
    const tail = c.finish({});
    expect(tail.slice(0, 8)).toEqual([
      'FAIL src/big.test.js',
      '  ● big › compares',
      '',
      '    expect(received).toEqual(expected)',
      '',
      '    Expected: 1',
      '    Received: 2',
      '      diff line 0',
    ]);
    expect(tail.join('\n')).toMatch(/… \(\d+ more lines of this failure not shown\)/);
    expect(tail.slice(-2)).toEqual(['Test Suites: 1 failed, 1 total', 'Tests:       1 failed, 1 total']);
    withinBudget(tail);
  });

  it('holds a line without newlines only up to a bound: 50 MB on one line, then a failure', () => {
    const c = new TestOutputCollector();
    const mb = 'y'.repeat(1024 * 1024);
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 50; i++) c.push(mb);
    const held = process.memoryUsage().heapUsed - before;
    c.push('\n FAIL  x.test.ts > y\nAssertionError: boom\n⎯⎯⎯\ndone\n');
    const tail = c.finish({});
    expect(held).toBeLessThan(20 * 1024 * 1024);
    expect(tail[0]).toMatch(/^y{400}… \(\+1200 chars\)$/);
    expect(tail).toEqual(expect.arrayContaining([' FAIL  x.test.ts > y', 'AssertionError: boom', 'done']));
    withinBudget(tail);
  });

  it('short output is returned as it is', () => {
    const c = new TestOutputCollector();
    c.push('1 failed\n');
    expect(c.finish({})).toEqual(['1 failed']);
  });
});
