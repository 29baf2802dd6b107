import { describe, expect, it } from "vitest";
import { getUser, type SignUpResult, signIn, signUp, type User } from "../../src/auth/accounts";
import { CHEAP_HASH_OPTIONS, createPasswordHasher, type PasswordHasher } from "../../src/auth/passwords";
import { describeBackends } from "../support/db";

const hasher = createPasswordHasher(CHEAP_HASH_OPTIONS);
const deps = { hasher };
const PASSWORD = "correct horse battery staple";

/** Records which stored hash each verification ran against. */
function spyHasher(): PasswordHasher & { verifiedAgainst: string[] } {
  const verifiedAgainst: string[] = [];
  return {
    verifiedAgainst,
    hash: (p) => hasher.hash(p),
    dummyHash: () => hasher.dummyHash(),
    verify(stored, p) {
      verifiedAgainst.push(stored);
      return hasher.verify(stored, p);
    },
  };
}

function created(result: SignUpResult): User {
  if ("code" in result) throw new Error(`sign-up failed: ${result.code} ${result.message}`);
  return result;
}

describeBackends("accounts", ({ db }) => {
  describe("signUp", () => {
    it("creates an account with a normalised email and a hashed password", async () => {
      const result = await signUp(
        db(),
        { email: "  Alice@Example.COM ", password: PASSWORD, displayName: "  Alice Adams " },
        deps,
      );
      const user = created(result);
      expect(user).toMatchObject({ email: "alice@example.com", displayName: "Alice Adams" });
      expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Math.abs(user.createdAt - Date.now())).toBeLessThan(60_000);

      const { rows } = await db().query<{ password_hash: string }>(
        "SELECT password_hash FROM users WHERE id = $1",
        [user.id],
      );
      expect(rows[0]?.password_hash.startsWith("$argon2id$")).toBe(true);
      expect(rows[0]?.password_hash).not.toContain(PASSWORD);
    });

    it("refuses an email that already has an account, whatever its case", async () => {
      await signUp(db(), { email: "bob@example.com", password: PASSWORD, displayName: "Bob" }, deps);
      const again = await signUp(
        db(),
        { email: " BOB@example.com", password: "another password", displayName: "B" },
        deps,
      );
      expect(again).toMatchObject({ code: "EMAIL_TAKEN", field: "email" });
      expect(again).toHaveProperty("message", expect.stringMatching(/already exists/));
    });

    it("lets exactly one of two simultaneous sign-ups with one email through", async () => {
      const input = { email: "race@example.com", password: PASSWORD, displayName: "Racer" };
      const results = await Promise.all([signUp(db(), input, deps), signUp(db(), input, deps)]);
      expect(results.filter((r) => !("code" in r))).toHaveLength(1);
      expect(results.filter((r) => "code" in r && r.code === "EMAIL_TAKEN")).toHaveLength(1);
    });

    it.each([
      [{ email: "not-an-email" }, "email"],
      [{ email: "a@b" }, "email"],
      [{ email: `${"x".repeat(250)}@example.com` }, "email"],
      [{ displayName: "   " }, "displayName"],
      [{ displayName: "x".repeat(101) }, "displayName"],
      [{ displayName: "Eve\u0000" }, "displayName"],
      [{ password: "short" }, "password"],
      [{ password: "x".repeat(201) }, "password"],
    ] as const)("refuses invalid input %j", async (change, field) => {
      const input = { email: "valid@example.com", password: PASSWORD, displayName: "Valid", ...change };
      const result = await signUp(db(), input, deps);
      expect(result).toMatchObject({ code: "INVALID_INPUT", field });
      expect(result).toHaveProperty("message", expect.stringMatching(/.{10}/));
      const { rows } = await db().query("SELECT 1 FROM users");
      expect(rows).toHaveLength(0);
    });
  });

  describe("signIn", () => {
    it("signs in with the right password, whatever the email's case", async () => {
      const user = created(
        await signUp(db(), { email: "carol@example.com", password: PASSWORD, displayName: "Carol" }, deps),
      );
      expect(await signIn(db(), { email: " CAROL@example.com ", password: PASSWORD }, deps)).toEqual(user);
    });

    it("gives the same answer for a wrong password and an unknown email", async () => {
      await signUp(db(), { email: "dave@example.com", password: PASSWORD, displayName: "Dave" }, deps);
      const wrongPassword = await signIn(
        db(),
        { email: "dave@example.com", password: "wrong password" },
        deps,
      );
      const unknownEmail = await signIn(db(), { email: "nobody@example.com", password: PASSWORD }, deps);
      expect(wrongPassword).toEqual({
        code: "INVALID_CREDENTIALS",
        message: "The email or password is incorrect.",
      });
      expect(unknownEmail).toEqual(wrongPassword);
    });

    it("verifies an unknown email against the dummy hash, so it costs as much as a real one", async () => {
      const spy = spyHasher();
      await signUp(db(), { email: "erin@example.com", password: PASSWORD, displayName: "Erin" }, deps);
      await signIn(db(), { email: "nobody@example.com", password: PASSWORD }, { hasher: spy });
      await signIn(db(), { email: "erin@example.com", password: "wrong password" }, { hasher: spy });
      expect(spy.verifiedAgainst).toHaveLength(2);
      expect(spy.verifiedAgainst[0]).toBe(await hasher.dummyHash());
      expect(spy.verifiedAgainst[1]).not.toBe(await hasher.dummyHash());
      expect(spy.verifiedAgainst[1]?.startsWith("$argon2id$")).toBe(true);
    });

    it("does not sign in with the dummy hash's own password", async () => {
      const result = await signIn(
        db(),
        { email: "nobody@example.com", password: "no account has this password" },
        deps,
      );
      expect(result).toMatchObject({ code: "INVALID_CREDENTIALS" });
    });
  });

  describe("getUser", () => {
    it("finds a user by id, and returns null for an unknown or malformed id", async () => {
      const user = created(
        await signUp(db(), { email: "frank@example.com", password: PASSWORD, displayName: "Frank" }, deps),
      );
      expect(await getUser(db(), user.id)).toEqual(user);
      expect(await getUser(db(), "00000000-0000-4000-8000-000000000000")).toBeNull();
      expect(await getUser(db(), "not-a-uuid")).toBeNull();
      expect(await getUser(db(), "")).toBeNull();
    });
  });
});
