// Session tokens: short-lived HS256 JWTs. Verification pins the algorithm, issuer, audience and header type,
// so a token minted for anything else (another service, alg "none", another algorithm) is refused.

import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { errors, jwtVerify, SignJWT } from "jose";

export interface TokenUser {
  id: string;
  email: string;
  name: string;
}

export type VerifyResult =
  | { ok: true; user: TokenUser; expiresAt: number }
  | { ok: false; code: "TOKEN_EXPIRED" | "TOKEN_INVALID" };

export interface TokenService {
  /** expiresAt is epoch milliseconds */
  sign(user: TokenUser): Promise<{ token: string; expiresAt: number }>;
  verify(token: string): Promise<VerifyResult>;
}

export interface TokenServiceOptions {
  /** JWT_SECRET; when absent the secret lives in <dataDir>/jwt.key */
  secret?: string;
  dataDir: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /** epoch milliseconds */
  now?: () => number;
  /**
   * Whether the token's subject still has an account. A correctly signed token for an account that does not exist
   * (another deployment's database, a restored backup) is TOKEN_INVALID, not a failure deeper in. Errors propagate:
   * an unreachable database must not sign people out.
   */
  userExists?: (userId: string) => Promise<boolean>;
}

const TOKEN_ALGORITHM = "HS256";
const TOKEN_TYPE = "at+jwt";
const MIN_SECRET_BYTES = 32;
const SECRET_FILE = "jwt.key";
/** How far in the future a token's `iat` may be (clock differences between nodes); beyond it the token is refused. */
const MAX_CLOCK_SKEW_SECONDS = 60;

/** Reads <dataDir>/jwt.key, creating it (mode 0600) on first start. */
export async function loadOrCreateSecret(dataDir: string): Promise<string> {
  const file = path.join(dataDir, SECRET_FILE);
  await mkdir(dataDir, { recursive: true });
  // Written aside, then hard-linked into place: link() fails if the key exists, so two processes starting
  // together agree on one key, and neither can read a half-written file.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(draft, `${randomBytes(48).toString("base64url")}\n`, { mode: 0o600 });
  try {
    await link(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    await unlink(draft);
  }
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  const secret = (await readFile(file, "utf8")).trim();
  if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    throw new Error(`${file} holds fewer than ${MIN_SECRET_BYTES} bytes; delete it to generate a new secret`);
  }
  return secret;
}

export async function createTokenService(opts: TokenServiceOptions): Promise<TokenService> {
  const now = opts.now ?? Date.now;
  let secret = opts.secret;
  if (secret === undefined) secret = await loadOrCreateSecret(opts.dataDir);
  else if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    throw new Error(`JWT secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const key = new TextEncoder().encode(secret);

  return {
    async sign(user) {
      const issuedAt = Math.floor(now() / 1000);
      const expiresAtSeconds = issuedAt + opts.ttlSeconds;
      const token = await new SignJWT({ email: user.email, name: user.name })
        .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: TOKEN_TYPE })
        .setSubject(user.id)
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(expiresAtSeconds)
        .sign(key);
      return { token, expiresAt: expiresAtSeconds * 1000 };
    },

    async verify(token) {
      let verified: VerifyResult;
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [TOKEN_ALGORITHM],
          issuer: opts.issuer,
          audience: opts.audience,
          typ: TOKEN_TYPE,
          requiredClaims: ["exp", "iat", "sub"],
          currentDate: new Date(now()),
        });
        const { sub, email, name, exp, iat } = payload;
        if (typeof sub !== "string" || typeof email !== "string" || typeof name !== "string") {
          return { ok: false, code: "TOKEN_INVALID" };
        }
        // jose checks `iat` only against a maximum age; a token "issued" in the future was not issued by us.
        if (typeof iat !== "number" || iat > now() / 1000 + MAX_CLOCK_SKEW_SECONDS) {
          return { ok: false, code: "TOKEN_INVALID" };
        }
        verified = { ok: true, user: { id: sub, email, name }, expiresAt: (exp as number) * 1000 };
      } catch (error) {
        return { ok: false, code: error instanceof errors.JWTExpired ? "TOKEN_EXPIRED" : "TOKEN_INVALID" };
      }
      if (opts.userExists && !(await opts.userExists(verified.user.id)))
        return { ok: false, code: "TOKEN_INVALID" };
      return verified;
    },
  };
}
