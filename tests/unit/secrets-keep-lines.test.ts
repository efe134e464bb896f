import { describe, expect, it } from 'vitest';
import { maskSecrets } from '../../src/core/secrets.js';

describe('maskSecrets keepLines', () => {
  const text = [
    'before',
    '-----BEGIN RSA PRIVATE KEY-----',
    'MIIEowIBAAKCAQEA1',
    'MIIEowIBAAKCAQEA2',
    '-----END RSA PRIVATE KEY-----',
    'token:',
    '  abcdefghijklmnopqrstuvwxyz',
    'after',
  ].join('\n');

  it('keeps the number of lines when a secret spans lines, so line numbers stay valid', () => {
    const masked = maskSecrets(text, {}, { keepLines: true }).split('\n');
    expect(masked).toHaveLength(8);
    expect(masked[0]).toBe('before');
    expect(masked.at(-1)).toBe('after');
    expect(masked.join('\n')).not.toMatch(/MIIEowIBAAKCAQEA|abcdefghijklmnop/);
  });

  it('without it, the multi-line secret collapses to one mask (the default for stored text)', () => {
    const masked = maskSecrets(text, {});
    expect(masked.split('\n').length).toBeLessThan(8);
    expect(masked).not.toMatch(/MIIEowIBAAKCAQEA|abcdefghijklmnop/);
  });
});
