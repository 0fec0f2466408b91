import { describe, expect, it } from 'vitest';
import { createPasswordPolicy } from '../../src/accounts/password-policy.js';

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  const policy = createPasswordPolicy({ minLength: 12, minScore: 3 });
  const ada = { email: 'ada.lovelace@example.test', name: 'Ada Lovelace' };

  it('accepts long passphrases and random strings', async () => {
    for (const password of ['correct horse battery staple', 'xkq3-vvp9-fm2r', 'a brand new password']) {
      expect(await policy.problem(password, ada)).toBeUndefined();
    }
  });

  it('refuses common passwords, and says why', async () => {
    expect(await policy.problem('password1234', ada)).toBe(
      'password is too easy to guess: This is similar to a commonly used password. Add more words that are less common.',
    );
    expect(await policy.problem('qwertyuiop123', ada)).toMatch(/^password is too easy to guess: /);
    expect(await policy.problem('iloveyou2026', ada)).toMatch(/^password is too easy to guess: /);
  });

  it("refuses the user's email and name inside the password", async () => {
    expect(await policy.problem('ADA.LOVELACE@example.test', ada)).toBe('password must not be the email address');
    expect(await policy.problem('ada.lovelace1815', ada)).toBe('password must not be mostly your email address or name');
    expect(await policy.problem('Lovelace, Ada! 1815', ada)).toBe('password must not be mostly your email address or name');
    expect(await policy.problem('bobby-example-2026', { email: 'bobby@example.test' })).toBe(
      'password must not be mostly your email address or name',
    );
    // Their words among enough others are the estimator's to judge.
    expect(await policy.problem('plain password 123', { email: 'plain@example.test' })).toBeUndefined();
  });

  it('refuses repeated characters and repeated short patterns', async () => {
    expect(await policy.problem('aaaaaaaaaaaaaa', ada)).toMatch(/repeated characters/);
    expect(await policy.problem('abcabcabcabcabc', ada)).toMatch(/repeated characters/);
    expect(await policy.problem('correct horse 1111 staple', ada)).toMatch(/repeated characters/);
  });

  it('keeps the minimum length, counted in characters', async () => {
    expect(await policy.problem('Zq9!xW', ada)).toBe('password must be at least 12 characters');
    expect(await policy.problem('😀😀😀😀😀😀', ada)).toBe('password must be at least 12 characters');
  });

  it('takes the least score from its settings', async () => {
    const lenient = createPasswordPolicy({ minLength: 8, minScore: 0 });
    expect(await lenient.problem('password1234', ada)).toBeUndefined();
  });

  it('scores only the start of a very long password, so checking stays cheap', async () => {
    expect(await policy.problem(`${'x7Gq2'.repeat(3)}${'z'.repeat(1000)}`, ada)).toMatch(/repeated characters/);
    expect(await policy.problem(`correct horse battery staple ${'ab9'.repeat(300)}`, ada)).toBeUndefined();
  });
});
