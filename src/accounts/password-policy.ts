import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

export interface PasswordPolicySettings {
  /** Shortest password, in characters (code points). */
  readonly minLength: number;
  /** Least zxcvbn score (0 too guessable … 4 very unguessable). */
  readonly minScore: number;
}

/** Who the password is for: their email and name are words an attacker tries first. */
export interface PasswordOwner {
  readonly email: string;
  readonly name?: string | null;
}

export interface PasswordPolicy {
  /** Why this password is refused, as a sentence for the person choosing it; undefined when it is accepted. */
  problem(password: string, owner: PasswordOwner): Promise<string | undefined>;
}

// zxcvbn's cost grows with length; a password this long is not short of entropy
// when its first part is strong, so only the first part is scored.
const SCORED_PREFIX = 64;

/**
 * The dictionaries (about 3 MB of common passwords, names and words) load on
 * the first check and are shared by every policy in the process: they are
 * read-only data, and most processes (a CLI listing clients) never need them.
 */
let estimator: Promise<ZxcvbnFactory> | undefined;
function loadEstimator(): Promise<ZxcvbnFactory> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    return new ZxcvbnFactory({
      translations: en.translations,
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
      // The default (100) makes a 64-character check take over a second;
      // 10 still finds p4ssw0rd and P@ssw0rd, in a few milliseconds.
      l33tMaxSubstitutions: 10,
    });
  })();
  return estimator;
}

/** The words of an email and a name: `ada.lovelace@example.test` gives ada, lovelace, example. */
function ownerWords(owner: PasswordOwner): string[] {
  const email = owner.email.trim().toLowerCase();
  const [local = '', domain = ''] = email.split('@');
  const words = [
    email,
    local,
    ...local.split(/[^\p{L}\p{N}]+/u),
    ...domain.split('.').slice(0, -1),
    ...(owner.name ?? '').toLowerCase().split(/[^\p{L}\p{N}]+/u),
  ];
  return [...new Set(words.filter((word) => word.length >= 3))];
}

/**
 * NIST SP 800-63B §5.1.1.2: length, not composition rules; refuse passwords
 * from breach corpora and dictionaries, context-specific words (the user's
 * email and name) and repetitive characters, and say why.
 */
export function createPasswordPolicy(settings: PasswordPolicySettings): PasswordPolicy {
  return {
    async problem(password, owner) {
      if ([...password].length < settings.minLength) return `password must be at least ${settings.minLength} characters`;
      const lower = password.toLowerCase();
      const words = ownerWords(owner);
      if (lower.trim() === owner.email.trim().toLowerCase()) return 'password must not be the email address';
      // Mostly the user's own words (ada.lovelace1815): what is left is too little.
      const rest = words.reduce((left, word) => left.replaceAll(word, ''), lower).replace(/[^\p{L}\p{N}]/gu, '');
      if (rest.length < Math.min(8, settings.minLength)) return 'password must not be mostly your email address or name';
      if (/(.)\1{3,}/u.test(password) || /^(.{1,4})\1+$/su.test(password)) {
        return 'password must not be repeated characters (such as "aaaa" or "abab")';
      }
      const zxcvbn = await loadEstimator();
      const result = zxcvbn.check(password.slice(0, SCORED_PREFIX), words);
      if (result.score >= settings.minScore) return undefined;
      const why = result.feedback.warning ?? 'This password is easy to guess.';
      const suggestion = result.feedback.suggestions[0];
      return `password is too easy to guess: ${why}${suggestion ? ` ${suggestion}` : ''}`;
    },
  };
}
