import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeProtectedHeader, type JWTPayload, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTokenService, loadOrCreateSecret, type TokenService } from "../../src/auth/tokens";

const SECRET = "test-secret-that-is-long-enough-0123456789";
const ISSUER = "backchannel";
const AUDIENCE = "backchannel-app";
const TTL = 600;
const T0 = Date.UTC(2030, 0, 1, 9, 0, 0);
const alice = { id: "8f7b2c1e-0000-4000-8000-000000000001", email: "alice@example.com", name: "Alice" };

let clock = T0;
let dataDir: string;

beforeEach(async () => {
  clock = T0;
  dataDir = await mkdtemp(path.join(tmpdir(), "bc-tokens-"));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function service(overrides: Partial<Parameters<typeof createTokenService>[0]> = {}): Promise<TokenService> {
  return createTokenService({
    secret: SECRET,
    dataDir,
    issuer: ISSUER,
    audience: AUDIENCE,
    ttlSeconds: TTL,
    now: () => clock,
    ...overrides,
  });
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const nowSeconds = () => Math.floor(clock / 1000);

function validClaims(): JWTPayload {
  return {
    sub: alice.id,
    email: alice.email,
    name: alice.name,
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    exp: nowSeconds() + TTL,
  };
}

/** Signs arbitrary claims and header with jose, to build tokens the service itself would never mint. */
function craft(opts: { alg?: string; typ?: string | null; claims?: JWTPayload; secret?: string } = {}) {
  const header: { alg: string; typ?: string } = { alg: opts.alg ?? "HS256" };
  if (opts.typ !== null) header.typ = opts.typ ?? "at+jwt";
  return new SignJWT(opts.claims ?? validClaims())
    .setProtectedHeader(header)
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));
}

describe("token service", () => {
  it("signs a token that verifies, with the user and expiry", async () => {
    const tokens = await service();
    const { token, expiresAt } = await tokens.sign(alice);
    expect(expiresAt).toBe((Math.floor(T0 / 1000) + TTL) * 1000);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "at+jwt" });
    expect(await tokens.verify(token)).toEqual({ ok: true, user: alice, expiresAt });
  });

  it("accepts a hand-crafted token with the right header and claims (control for the refusals below)", async () => {
    const tokens = await service();
    expect(await tokens.verify(await craft())).toMatchObject({ ok: true, user: alice });
  });

  it("reports an expired token as TOKEN_EXPIRED, from the second it expires", async () => {
    const tokens = await service();
    const { token } = await tokens.sign(alice);
    clock = T0 + (TTL - 1) * 1000;
    expect((await tokens.verify(token)).ok).toBe(true);
    clock = T0 + TTL * 1000;
    expect(await tokens.verify(token)).toEqual({ ok: false, code: "TOKEN_EXPIRED" });
    clock = T0 + 30 * 24 * 3600 * 1000;
    expect(await tokens.verify(token)).toEqual({ ok: false, code: "TOKEN_EXPIRED" });
  });

  it("refuses a token from another issuer or for another audience", async () => {
    const tokens = await service();
    const otherIssuer = await (await service({ issuer: "someone-else" })).sign(alice);
    const otherAudience = await (await service({ audience: "another-app" })).sign(alice);
    expect(await tokens.verify(otherIssuer.token)).toEqual({ ok: false, code: "TOKEN_INVALID" });
    expect(await tokens.verify(otherAudience.token)).toEqual({ ok: false, code: "TOKEN_INVALID" });
  });

  it("refuses a token with another header type, or none", async () => {
    const tokens = await service();
    expect(await tokens.verify(await craft({ typ: "JWT" }))).toEqual({ ok: false, code: "TOKEN_INVALID" });
    expect(await tokens.verify(await craft({ typ: "id+jwt" }))).toEqual({ ok: false, code: "TOKEN_INVALID" });
    expect(await tokens.verify(await craft({ typ: null }))).toEqual({ ok: false, code: "TOKEN_INVALID" });
  });

  it("refuses a token signed with another secret", async () => {
    const tokens = await service();
    const forged = await craft({ secret: "an-attacker-secret-that-is-long-enough-too" });
    expect(await tokens.verify(forged)).toEqual({ ok: false, code: "TOKEN_INVALID" });
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const tokens = await service();
    const { token } = await tokens.sign(alice);
    const [header, , signature] = token.split(".");
    const tampered = `${header}.${b64url({ ...validClaims(), sub: "someone-else" })}.${signature}`;
    expect(await tokens.verify(tampered)).toEqual({ ok: false, code: "TOKEN_INVALID" });
  });

  it('refuses an unsigned token (alg "none"), with or without a signature part', async () => {
    const tokens = await service();
    const { token } = await tokens.sign(alice);
    const signature = token.split(".")[2];
    for (const header of [{ alg: "none" }, { alg: "none", typ: "at+jwt" }, { alg: "None", typ: "at+jwt" }]) {
      const unsigned = `${b64url(header)}.${b64url(validClaims())}`;
      expect(await tokens.verify(`${unsigned}.`)).toEqual({ ok: false, code: "TOKEN_INVALID" });
      expect(await tokens.verify(`${unsigned}.${signature}`)).toEqual({ ok: false, code: "TOKEN_INVALID" });
    }
  });

  it("refuses a token signed with HS512, even with the right secret", async () => {
    const tokens = await service();
    expect(await tokens.verify(await craft({ alg: "HS512" }))).toEqual({ ok: false, code: "TOKEN_INVALID" });
    expect(await tokens.verify(await craft({ alg: "HS384" }))).toEqual({ ok: false, code: "TOKEN_INVALID" });
  });

  it("refuses a token missing sub, exp, iat, email or name", async () => {
    const tokens = await service();
    for (const claim of ["sub", "exp", "iat", "email", "name"] as const) {
      const claims = validClaims() as Record<string, unknown>;
      delete claims[claim];
      const token = await craft({ claims: claims as JWTPayload });
      expect(await tokens.verify(token), `without ${claim}`).toEqual({ ok: false, code: "TOKEN_INVALID" });
    }
  });

  it("refuses a token issued in the future beyond the clock-skew allowance (60 s)", async () => {
    const tokens = await service();
    for (const ahead of [61, 3600, 10 * 365 * 24 * 3600]) {
      const claims = { ...validClaims(), iat: nowSeconds() + ahead, exp: nowSeconds() + ahead + TTL };
      expect(await tokens.verify(await craft({ claims })), `iat ${ahead} s ahead`).toEqual({
        ok: false,
        code: "TOKEN_INVALID",
      });
    }
    // Another node's clock a little ahead is fine.
    const skewed = { ...validClaims(), iat: nowSeconds() + 60 };
    expect(await tokens.verify(await craft({ claims: skewed }))).toMatchObject({ ok: true });
    // A non-numeric iat is no date at all.
    const odd = { ...validClaims(), iat: "soon" } as unknown as JWTPayload;
    expect(await tokens.verify(await craft({ claims: odd }))).toEqual({ ok: false, code: "TOKEN_INVALID" });
  });

  it("refuses a correctly signed token whose account does not exist, and lets a lookup failure through", async () => {
    const known = new Set([alice.id]);
    const tokens = await service({ userExists: async (id) => known.has(id) });
    const token = (await tokens.sign(alice)).token;
    expect(await tokens.verify(token)).toMatchObject({ ok: true, user: alice });
    known.clear();
    expect(await tokens.verify(token)).toEqual({ ok: false, code: "TOKEN_INVALID" });
    // An unreachable database is not a bad token: the caller answers INTERNAL and nobody is signed out.
    const failing = await service({
      userExists: async () => {
        throw new Error("database unreachable");
      },
    });
    await expect(failing.verify(token)).rejects.toThrow("database unreachable");
    // A bad token is refused before any lookup.
    let lookups = 0;
    const counting = await service({
      userExists: async () => {
        lookups++;
        return true;
      },
    });
    expect(await counting.verify(await craft({ secret: "another-secret-that-is-long-enough-000" }))).toEqual({
      ok: false,
      code: "TOKEN_INVALID",
    });
    expect(lookups).toBe(0);
  });

  it("refuses garbage", async () => {
    const tokens = await service();
    for (const garbage of [
      "",
      "abc",
      "a.b.c",
      "...",
      "Bearer x",
      "x".repeat(10_000),
      "eyJhbGciOiJIUzI1NiJ9.e30.",
    ]) {
      expect(await tokens.verify(garbage)).toEqual({ ok: false, code: "TOKEN_INVALID" });
    }
  });

  it("refuses a JWT secret shorter than 32 bytes", async () => {
    await expect(service({ secret: "too-short" })).rejects.toThrow(/at least 32 bytes/);
  });
});

describe("generated secret", () => {
  it("is created once in <dataDir>/jwt.key with mode 0600 and reused", async () => {
    const first = await service({ secret: undefined });
    const file = path.join(dataDir, "jwt.key");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const contents = await readFile(file, "utf8");
    expect(Buffer.byteLength(contents.trim())).toBeGreaterThanOrEqual(32);

    const second = await service({ secret: undefined });
    const { token } = await first.sign(alice);
    expect((await second.verify(token)).ok).toBe(true);
    expect(await readFile(file, "utf8")).toBe(contents);
    // No draft files are left behind.
    expect(await readdir(dataDir)).toEqual(["jwt.key"]);
  });

  it("creates the data folder if needed", async () => {
    const nested = path.join(dataDir, "a", "b");
    await loadOrCreateSecret(nested);
    expect((await stat(path.join(nested, "jwt.key"))).isFile()).toBe(true);
  });

  it("gives concurrent starts one and the same secret", async () => {
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSecret(dataDir)));
    expect(new Set(secrets).size).toBe(1);
  });

  it("differs between data folders, so their tokens do not cross", async () => {
    const otherDir = await mkdtemp(path.join(tmpdir(), "bc-tokens-other-"));
    try {
      const a = await service({ secret: undefined });
      const b = await service({ secret: undefined, dataDir: otherDir });
      const { token } = await a.sign(alice);
      expect(await b.verify(token)).toEqual({ ok: false, code: "TOKEN_INVALID" });
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it("tightens a key file that others can read", async () => {
    const file = path.join(dataDir, "jwt.key");
    await writeFile(file, "k".repeat(48));
    await chmod(file, 0o644);
    expect(await loadOrCreateSecret(dataDir)).toBe("k".repeat(48));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("refuses a key file that is too short", async () => {
    await writeFile(path.join(dataDir, "jwt.key"), "short\n", { mode: 0o600 });
    await expect(loadOrCreateSecret(dataDir)).rejects.toThrow(/fewer than 32 bytes/);
  });
});
