/**
 * The masker against a corpus of secret shapes (provider tokens, structural forms, key blocks) and
 * against secretlint's recommended preset as an oracle: whatever the maintained catalogue finds in
 * the corpus must be gone after masking. Plus the linear-time guard on adversarial input.
 */
import { describe, expect, it } from 'vitest';
import { lintSource } from '@secretlint/core';
import { creator as presetRecommend } from '@secretlint/secretlint-rule-preset-recommend';
import { findSecretRanges, isSecretKey, maskText, maskValue, maskedTail, maskingWritable } from '../../src/core/secrets.js';

import { B64, CORPUS, chars } from '../helpers/secret-corpus.js';

const ghp = CORPUS[0]![2];

describe('secret corpus', () => {
  it('holds at least 60 shapes', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CORPUS)('masks %s', (_name, text, secret) => {
    const masked = maskText(text, {});
    expect(masked).not.toContain(secret);
    expect(masked).toContain('***');
  });

  it('masks secrets in every case of every shape when embedded in chat-like text', () => {
    const all = CORPUS.map(([name, text]) => `turn about ${name}:\n${text}\nthanks`).join('\n\n');
    const masked = maskText(all, {});
    for (const [name, , secret] of CORPUS) expect(masked, name).not.toContain(secret);
  });

  it('leaves ordinary text alone', () => {
    const text = [
      'The token limit is 4000; max_tokens=4000 and tokens: 1500.',
      'author: Alice <alice@example.com>',
      'secretName: db-credentials',
      'see https://example.com/path?q=1 and git@github.com:o/r.git',
      'password: ${DB_PASSWORD}',
      'session: 2024-05-01 role: user',
      'SHA 0123456789abcdef0123456789abcdef01234567',
      'task-0123456789abcdefghijkl',
    ].join('\n');
    expect(maskText(text, {})).toBe(text);
  });

  it('masks the values of secret-named environment variables verbatim', () => {
    const env = { MY_SERVICE_TOKEN: 'plainvalue-123', PWD: '/work/x', HOME: '/root' };
    expect(maskText('got plainvalue-123 in /work/x', env)).toBe('got *** in /work/x');
  });

  it('masks values before serialisation: secret keys, secret-named keys, nested strings', () => {
    const value = {
      [ghp]: 1,
      meta: { password: 'hunter2', pin: 1234, apiKey: 98765, token_in: 812, list: [`Bearer ${chars(20)}`] },
      tokens: 12,
    };
    const masked = maskValue(value, {});
    const json = JSON.stringify(masked);
    expect(json).not.toContain(ghp);
    expect(json).not.toContain('hunter2');
    expect(json).not.toContain('98765');
    expect(json).not.toContain(chars(20));
    expect(masked.tokens).toBe(12);
    expect(masked.meta.pin).toBe(1234);
    expect(masked.meta.token_in).toBe(812);
  });

  it('masks an object shared by two places in both, and cuts only true cycles', () => {
    const slo = { p95_ms: 300 };
    const value: Record<string, unknown> = { checks: [{ thresholds: slo }, { thresholds: slo }] };
    value.self = value;
    const masked = maskValue(value, {}) as { checks: Array<{ thresholds: unknown }>; self: unknown };
    expect(masked.checks[1]!.thresholds).toEqual({ p95_ms: 300 });
    expect(masked.self).toBe('[circular]');
  });

  it('masks whole texts before truncating (a cut never hides a key block from the masker)', () => {
    const text = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(5000)}\n${chars(64, B64, 99)}\n-----END PRIVATE KEY-----\n`;
    const tail = maskedTail(text, 4000, {});
    expect(tail).not.toContain(chars(64, B64, 99));
    expect(tail).not.toContain('AAAA');
  });

  it('a masking writable masks each write', () => {
    const chunks: string[] = [];
    const sink = maskingWritable({ write: (c: string | Uint8Array) => (chunks.push(String(c)), true) }, {});
    sink.write(`deploying with ${ghp}\n`);
    sink.write(Buffer.from(`password=${chars(9)}\n`));
    expect(chunks.join('')).toBe('deploying with ***\npassword=***\n');
  });

  it('judges key names', () => {
    for (const k of [
      'password',
      'DB_PASSWORD',
      'apiKey',
      'x-api-key',
      'client_secret',
      'authToken',
      'Authorization',
      'private_key',
      'passphrase',
    ])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of ['author', 'tokens', 'max_tokens', 'secretName', 'token_url', 'password_file', 'session', 'PWD', 'key'])
      expect(isSecretKey(k), k).toBe(false);
  });
});

describe('secretlint recommended preset as oracle', () => {
  it('finds nothing left in the masked corpus that it finds in the raw corpus', async () => {
    const config = { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: presetRecommend }] };
    const raw = CORPUS.map(([, text]) => text).join('\n\n');
    const source = (content: string) => ({ filePath: '/corpus.txt', content, contentType: 'text' as const });
    const before = await lintSource({ source: source(raw), options: { config: config as never, noPhysicFilePath: true } });
    // The oracle recognises a good part of the corpus (else this test proves nothing)…
    expect(before.messages.length).toBeGreaterThanOrEqual(20);
    const found = before.messages.map((m) => raw.slice(m.range[0], m.range[1]));
    const masked = maskText(raw, {});
    for (const f of found) expect(masked, `secretlint finding left unmasked: ${f.slice(0, 12)}…`).not.toContain(f);
    const after = await lintSource({ source: source(masked), options: { config: config as never, noPhysicFilePath: true } });
    expect(after.messages.map((m) => `${m.ruleId}: ${masked.slice(m.range[0], m.range[1])}`)).toEqual([]);
  });
});

describe('linear time', () => {
  const MiB = 1024 * 1024;
  const adversarial: Array<[string, string]> = [
    ['"token" repeated', 'token'.repeat(MiB / 5)],
    ['token= repeated', 'token='.repeat(MiB / 6)],
    ['ghp_ prefixes', 'ghp_'.repeat(MiB / 4)],
    ['eyJ runs', 'eyJ'.repeat(MiB / 3)],
    ['sk- prefixes', 'sk-'.repeat(MiB / 3)],
    ['url schemes', 'a://'.repeat(MiB / 4)],
    ['url no separators', `x://${'a'.repeat(MiB)}`],
    ['BEGIN without END', '-----BEGIN PRIVATE KEY-----'.repeat(MiB / 27)],
    ['END without BEGIN', '-----END PRIVATE KEY-----'.repeat(MiB / 25)],
    ['Bearer spaces', `Bearer${' '.repeat(MiB)}`],
    ['password: json keys', '{"password":"'.repeat(MiB / 14)],
    ['--password flags', '--password '.repeat(MiB / 11)],
    ['long word', 'a'.repeat(MiB)],
    ['bootstrap-ish', 'abcdef.'.repeat(MiB / 7)],
  ];
  it.each(adversarial)('masks 1 MiB of %s in well under a second', (_name, text) => {
    const t0 = performance.now();
    findSecretRanges(text);
    maskText(text, {});
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
  });
});
