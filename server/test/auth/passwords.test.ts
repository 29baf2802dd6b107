import { parseOptions } from "@node-rs/argon2";
import { describe, expect, it } from "vitest";
import {
  CHEAP_HASH_OPTIONS,
  checkPasswordPolicy,
  createPasswordHasher,
  DEFAULT_HASH_OPTIONS,
} from "../../src/auth/passwords";

const hasher = createPasswordHasher(CHEAP_HASH_OPTIONS);

describe("password hashing", () => {
  it("hashes with argon2id at the production cost by default", async () => {
    const hash = await createPasswordHasher().hash("correct horse battery staple");
    expect(hash.startsWith("$argon2id$")).toBe(true);
    expect(parseOptions(hash)).toMatchObject({
      memoryCost: DEFAULT_HASH_OPTIONS.memoryCost,
      timeCost: DEFAULT_HASH_OPTIONS.timeCost,
      parallelism: DEFAULT_HASH_OPTIONS.parallelism,
    });
    expect(DEFAULT_HASH_OPTIONS).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const hash = await hasher.hash("correct horse battery staple");
    expect(await hasher.verify(hash, "correct horse battery staple")).toBe(true);
    expect(await hasher.verify(hash, "correct horse battery stapler")).toBe(false);
    expect(await hasher.verify(hash, "")).toBe(false);
  });

  it("salts every hash", async () => {
    const [a, b] = await Promise.all([hasher.hash("same password"), hasher.hash("same password")]);
    expect(a).not.toBe(b);
  });

  it("treats a malformed stored hash as a mismatch, not a crash", async () => {
    expect(await hasher.verify("not-a-hash", "whatever1")).toBe(false);
    expect(await hasher.verify("", "whatever1")).toBe(false);
  });

  it("keeps one dummy hash at the same cost as real ones", async () => {
    const dummy = await hasher.dummyHash();
    expect(await hasher.dummyHash()).toBe(dummy);
    expect(parseOptions(dummy)).toMatchObject(CHEAP_HASH_OPTIONS);
    expect(dummy.startsWith("$argon2id$")).toBe(true);
  });
});

describe("password policy", () => {
  it("accepts 8 to 200 characters", () => {
    expect(checkPasswordPolicy("12345678")).toBeNull();
    expect(checkPasswordPolicy("x".repeat(200))).toBeNull();
  });

  it("refuses shorter and longer passwords with a sentence a person can act on", () => {
    expect(checkPasswordPolicy("1234567")).toBe("Choose a password of 8 to 200 characters.");
    expect(checkPasswordPolicy("x".repeat(201))).toBe("Choose a password of 8 to 200 characters.");
    expect(checkPasswordPolicy("")).toMatch(/8 to 200/);
  });

  it("counts characters, not UTF-16 units", () => {
    // Four emoji are eight UTF-16 units but four characters.
    expect(checkPasswordPolicy("🔑🔑🔑🔑")).not.toBeNull();
    expect(checkPasswordPolicy("🔑".repeat(200))).toBeNull();
  });

  it("refuses a password of only spaces", () => {
    expect(checkPasswordPolicy(" ".repeat(12))).toBe("A password cannot be only spaces.");
  });
});
