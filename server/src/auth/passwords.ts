// Password hashing (argon2id) and the password policy.

import { type Algorithm, hash, verify } from "@node-rs/argon2";

export interface PasswordHashOptions {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
export const DEFAULT_HASH_OPTIONS: PasswordHashOptions = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

/** For tests only: hashing in about a millisecond. */
export const CHEAP_HASH_OPTIONS: PasswordHashOptions = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

// The package declares Algorithm as an ambient const enum, which isolatedModules cannot read; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

const PASSWORD_MIN_LENGTH = 8;
const PASSWORD_MAX_LENGTH = 200;

/** null when the password is acceptable, else a sentence to show the person choosing it. */
export function checkPasswordPolicy(password: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    return `Choose a password of ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters.`;
  }
  if (password.trim().length === 0) return "A password cannot be only spaces.";
  return null;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** false for a wrong password and for a malformed stored hash */
  verify(storedHash: string, password: string): Promise<boolean>;
  /** a hash with the same cost as real ones, to verify against when an account does not exist */
  dummyHash(): Promise<string>;
}

export function createPasswordHasher(options: PasswordHashOptions = DEFAULT_HASH_OPTIONS): PasswordHasher {
  const argonOptions = { ...options, algorithm: ARGON2ID };
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, argonOptions),
    async verify(storedHash, password) {
      try {
        return await verify(storedHash, password);
      } catch {
        return false;
      }
    },
    dummyHash() {
      dummy ??= hash("no account has this password", argonOptions);
      return dummy;
    },
  };
}

export const defaultPasswordHasher: PasswordHasher = createPasswordHasher();
