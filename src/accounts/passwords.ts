import argon2 from 'argon2';

export interface PasswordHashing {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the time of a real verification, for unknown users (timing parity). */
  verifyDummy(password: string): Promise<void>;
}

/** argon2id with the given cost (OWASP's minimum: 19 MiB, t=2, p=1). */
export function createPasswordHasher(cost: PasswordHashing): PasswordHasher {
  const options = { ...cost, type: argon2.argon2id as 2 };
  let dummyHash: Promise<string> | undefined;
  return {
    hash: (password) => argon2.hash(password, options),
    async verify(hash, password) {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    },
    async verifyDummy(password) {
      dummyHash ??= argon2.hash('gatehouse-dummy-password', options);
      await argon2.verify(await dummyHash, password).catch(() => false);
    },
  };
}
