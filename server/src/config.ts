// Environment variables -> one typed, validated Config. Every variable is documented in docs/configuration.md.
// The server starts with no variables at all (embedded defaults); a bad value stops it with a list of problems.

import { isIP } from "node:net";
import path from "node:path";
import { z } from "zod";

export interface RateLimit {
  points: number;
  durationSeconds: number;
}

export type TrustProxy = boolean | number | string[];

export interface Config {
  env: "development" | "production" | "test";
  host: string;
  port: number;
  role: "all" | "web" | "worker";
  databaseUrl?: string;
  /** absolute path */
  dataDir: string;
  redisUrl?: string;
  redisPrefix: string;
  /** 32 bytes as 64 hex characters or base64; decoded by src/store/crypto.ts */
  masterKey?: string;
  /** PKCS#8 PEM Ed25519 key that signs stream heads; if absent: <dataDir>/audit-signing-key.pem (src/store/signing.ts) */
  auditSigningKey?: string;
  /** PostgreSQL URL of the role that owns the schema: migrations run as it, the app as DATABASE_URL's role */
  databaseOwnerUrl?: string;
  /** if absent: generated into <dataDir>/jwt.key mode 0600 by the auth layer */
  jwtSecret?: string;
  jwtIssuer: string;
  jwtAudience: string;
  tokenTtlSeconds: number;
  allowedOrigins: string[];
  /** origin (and optional path) the public reaches the app at; invitation links are built from it, never from Host */
  publicUrl: string;
  /** Express "trust proxy": false, true (one hop), a hop count, or addresses/subnets of trusted proxies */
  trustProxy: TrustProxy;
  logLevel: string;
  /** absolute path to the built client, when set */
  clientDist?: string;
  bodyLimit: string;
  socketMaxBuffer: number;
  /** sign-in attempts per (client address, email) */
  loginRateLimit: RateLimit;
  /** sign-in attempts per client address, whatever the email */
  loginAddressRateLimit: RateLimit;
  /** account sign-ups per client address */
  signupRateLimit: RateLimit;
  /** socket events and REST commands per account (all its sockets and requests together) */
  socketRateLimit: RateLimit;
  /** socket handshakes per client address */
  socketConnectRateLimit: RateLimit;
  /** open sockets per account */
  maxSocketsPerAccount: number;
  /** session creations per account */
  sessionRateLimit: RateLimit;
  /** invitations issued per account */
  invitationRateLimit: RateLimit;
  /** invitations of one session that are open at once (not used, revoked or expired) */
  maxOpenInvitations: number;
  /** the metrics listener's port (0: any free port); null: no metrics listener */
  metricsPort: number | null;
  metricsHost: string;
  /** when set, the metrics listener requires `Authorization: Bearer <token>` */
  metricsToken?: string;
  /** how often a worker re-arms deadlines that are overdue in the database (a trigger lost after its retries) */
  deadlineSweepMs: number;
  /** committed session states a node keeps in memory (sessions/state-cache.ts) */
  stateCacheSessions: number;
  /** SMTP server URL (smtp:// or smtps://, credentials inside); absent: mail is written to <dataDir>/outbox */
  smtpUrl?: string;
  /** the From of every mail: "Backchannel <no-reply@example.com>" */
  mailFrom: string;
  /** VAPID key pair for Web Push (base64url); absent: generated into <dataDir>/vapid.json mode 0600 */
  vapidPublicKey?: string;
  vapidPrivateKey?: string;
  /** who push services may contact about this server: a mailto: or https: URL */
  vapidSubject: string;
}

export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.message}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

// Values of these variables are never echoed in an error message: they are or may contain credentials.
const SECRET_VARIABLES = new Set([
  "JWT_SECRET",
  "MASTER_KEY",
  "AUDIT_SIGNING_KEY",
  "DATABASE_URL",
  "DATABASE_OWNER_URL",
  "REDIS_URL",
  "METRICS_TOKEN",
  "SMTP_URL",
  "VAPID_PRIVATE_KEY",
]);

function wholeNumber(min: number, max: number) {
  const error = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d{1,15}$/, { error })
    .transform(Number)
    .pipe(z.number().min(min, { error }).max(max, { error }));
}

function url(schemes: string[], example: string) {
  const error = `must be a URL starting with ${schemes.map((s) => `${s}//`).join(" or ")} (e.g. ${example})`;
  return z.string().refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error },
  );
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** "<points>/<duration>", duration in seconds or with a unit: "10/15m", "30/10s", "5/3600". */
function rateLimit() {
  const error = 'must look like "<points>/<duration>", e.g. "10/15m" or "30/10s" (units s, m, h)';
  return z.string().transform((value, ctx): RateLimit => {
    const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*([smh]?)\s*$/.exec(value);
    const points = Number(match?.[1]);
    const durationSeconds = Number(match?.[2]) * (UNIT_SECONDS[match?.[3] || "s"] ?? 1);
    if (!match || points < 1 || durationSeconds < 1) {
      ctx.addIssue({ code: "custom", message: error });
      return z.NEVER;
    }
    return { points, durationSeconds };
  });
}

// Same forms as the store's key loader (src/store/crypto.ts), which decodes the key; here we only
// reject a malformed one at start-up, with the other configuration problems.
function isMasterKey(value: string): boolean {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return true;
  return /^[A-Za-z0-9+/]{43}=?$/.test(value) && Buffer.from(value, "base64").length === 32;
}

/** Browsers send an origin as scheme://host[:port]; anything with a path or query can never match one. */
function toOrigin(entry: string): string | null {
  try {
    const u = new URL(entry);
    const bare = u.pathname === "/" && !u.search && !u.hash && !u.username && !u.password;
    return (u.protocol === "http:" || u.protocol === "https:") && bare ? u.origin : null;
  } catch {
    return null;
  }
}

const TRUE_WORDS = new Set(["true", "yes", "on", "1"]);
const FALSE_WORDS = new Set(["false", "no", "off", "0"]);
const PROXY_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

function isAddressOrSubnet(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address = "", bits, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** true/false (true trusts one proxy hop), a number of hops, or a list of trusted proxy addresses/subnets. */
const trustProxy = z.string().transform((value, ctx): TrustProxy => {
  const lower = value.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  if (/^\d{1,2}$/.test(lower)) return Number(lower);
  const entries = lower
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length > 0 && entries.every(isAddressOrSubnet)) return entries;
  ctx.addIssue({
    code: "custom",
    message:
      "must be true or false, a number of proxy hops, or a comma-separated list of proxy addresses or subnets (e.g. 10.0.0.0/8, loopback)",
  });
  return z.NEVER;
});

/** The app's public base: http(s)://host[:port][/path], no query or fragment; stored without a trailing slash. */
const publicUrl = z.string().transform((value, ctx) => {
  try {
    const u = new URL(value);
    if (
      (u.protocol === "http:" || u.protocol === "https:") &&
      !u.search &&
      !u.hash &&
      !u.username &&
      !u.password
    )
      return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
  } catch {}
  ctx.addIssue({
    code: "custom",
    message:
      "must be the app's public address, http(s)://host[:port][/path], e.g. https://mediate.example.com",
  });
  return z.NEVER;
});

const metricsPort = z.string().transform((value, ctx): number | null => {
  if (/^(off|none|false|disabled)$/i.test(value)) return null;
  if (/^\d{1,5}$/.test(value) && Number(value) <= 65535) return Number(value);
  ctx.addIssue({
    code: "custom",
    message: 'must be a port from 0 to 65535 (0: any free port), or "off" for no metrics listener',
  });
  return z.NEVER;
});

const originList = z.string().transform((value, ctx) => {
  const entries = value
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  const origins: string[] = [];
  for (const entry of entries) {
    const origin = toOrigin(entry);
    if (origin === null) {
      ctx.addIssue({
        code: "custom",
        message: `"${entry}" is not an origin; write scheme://host[:port] with no path, e.g. https://app.example.com`,
      });
    } else if (!origins.includes(origin)) {
      origins.push(origin);
    }
  }
  if (entries.length === 0) ctx.addIssue({ code: "custom", message: "must list at least one origin" });
  return origins;
});

const schema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"], { error: "must be development, production or test" })
    .default("development"),
  HOST: z.string().default("127.0.0.1"),
  PORT: wholeNumber(0, 65535).default(3000),
  ROLE: z.enum(["all", "web", "worker"], { error: "must be all, web or worker" }).default("all"),
  DATABASE_URL: url(["postgres:", "postgresql:"], "postgres://user@127.0.0.1:5432/backchannel").optional(),
  DATA_DIR: z.string().default("./data"),
  REDIS_URL: url(["redis:", "rediss:"], "redis://127.0.0.1:6379").optional(),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, { error: "must be 1 to 32 letters, digits, '_' or '-'" })
    .default("bc"),
  MASTER_KEY: z
    .string()
    .refine(isMasterKey, {
      error: "must be 32 bytes written as 64 hex characters or base64 (e.g. `openssl rand -hex 32`)",
    })
    .optional(),
  AUDIT_SIGNING_KEY: z
    .string()
    .refine((v) => v.trim() === "" || v.includes("BEGIN PRIVATE KEY"), {
      error: "must be a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`)",
    })
    .optional(),
  DATABASE_OWNER_URL: url(
    ["postgres:", "postgresql:"],
    "postgres://owner@127.0.0.1:5432/backchannel",
  ).optional(),
  JWT_SECRET: z
    .string()
    .refine((v) => Buffer.byteLength(v, "utf8") >= 32, {
      error: "must be at least 32 bytes long (e.g. `openssl rand -base64 48`)",
    })
    .optional(),
  JWT_ISSUER: z.string().default("backchannel"),
  JWT_AUDIENCE: z.string().default("backchannel-app"),
  TOKEN_TTL_SECONDS: wholeNumber(60, 30 * 24 * 3600).default(43200),
  ALLOWED_ORIGINS: originList.optional(),
  PUBLIC_URL: publicUrl.optional(),
  TRUST_PROXY: trustProxy.default(false),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).optional(),
  CLIENT_DIST: z.string().optional(),
  BODY_LIMIT: z
    .string()
    .regex(/^\d{1,9}(b|kb|mb)$/i, { error: 'must be a size such as "32kb", "1mb" or "4096b"' })
    .default("256kb"),
  SOCKET_MAX_BUFFER: wholeNumber(1024, 10 * 1024 * 1024).default(262144),
  LOGIN_RATE_LIMIT: rateLimit().default({ points: 10, durationSeconds: 15 * 60 }),
  LOGIN_ADDRESS_RATE_LIMIT: rateLimit().default({ points: 60, durationSeconds: 15 * 60 }),
  SIGNUP_RATE_LIMIT: rateLimit().default({ points: 100, durationSeconds: 3600 }),
  SOCKET_RATE_LIMIT: rateLimit().default({ points: 30, durationSeconds: 10 }),
  SOCKET_CONNECT_RATE_LIMIT: rateLimit().default({ points: 300, durationSeconds: 60 }),
  SOCKETS_PER_ACCOUNT: wholeNumber(1, 100_000).default(20),
  SESSION_RATE_LIMIT: rateLimit().default({ points: 30, durationSeconds: 3600 }),
  INVITATION_RATE_LIMIT: rateLimit().default({ points: 100, durationSeconds: 3600 }),
  OPEN_INVITATIONS_PER_SESSION: wholeNumber(1, 100_000).default(100),
  METRICS_PORT: metricsPort.optional(),
  METRICS_HOST: z.string().default("127.0.0.1"),
  METRICS_TOKEN: z
    .string()
    .refine((v) => Buffer.byteLength(v, "utf8") >= 16, {
      error: "must be at least 16 bytes long (e.g. `openssl rand -base64 24`)",
    })
    .optional(),
  DEADLINE_SWEEP_MS: wholeNumber(100, 3_600_000).default(30_000),
  STATE_CACHE_SESSIONS: wholeNumber(100, 1_000_000).default(10_000),
  SMTP_URL: url(["smtp:", "smtps:"], "smtps://user:password@mail.example.com:465").optional(),
  MAIL_FROM: z.string().max(300).default("Backchannel <no-reply@localhost>"),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{80,100}$/, {
      error: "must be a base64url P-256 public key (`npx web-push generate-vapid-keys`)",
    })
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{40,50}$/, {
      error: "must be a base64url P-256 private key (`npx web-push generate-vapid-keys`)",
    })
    .optional(),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, {
      error: "must be a mailto: or https: URL (e.g. mailto:ops@example.com)",
    })
    .default("mailto:ops@localhost"),
});

export const CONFIG_VARIABLES = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (common in compose files and CI matrices) means "use the default".
  const input: Record<string, string | undefined> = {};
  for (const name of CONFIG_VARIABLES) {
    const value = env[name];
    input[name] = value === undefined || value.trim() === "" ? undefined : value.trim();
  }

  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue): ConfigProblem => {
      const variable = String(issue.path[0] ?? "(environment)");
      const value = input[variable];
      const shown = value !== undefined && !SECRET_VARIABLES.has(variable) ? ` (got "${value}")` : "";
      return { variable, message: `${issue.message}${shown}` };
    });
    throw new ConfigError(problems);
  }

  const v = parsed.data;
  if (v.ROLE !== "all" && (!v.DATABASE_URL || !v.REDIS_URL)) {
    // Separate web and worker processes only work on shared storage and a shared scheduler.
    throw new ConfigError([
      {
        variable: "ROLE",
        message: `ROLE=${v.ROLE} needs DATABASE_URL and REDIS_URL (processes must share PostgreSQL and Redis); use ROLE=all for one process`,
      },
    ]);
  }
  if (Boolean(v.VAPID_PUBLIC_KEY) !== Boolean(v.VAPID_PRIVATE_KEY)) {
    const missing = v.VAPID_PUBLIC_KEY ? "VAPID_PRIVATE_KEY" : "VAPID_PUBLIC_KEY";
    throw new ConfigError([
      {
        variable: missing,
        message: `${missing} must be set too: a VAPID key pair is given whole, or left to be generated into DATA_DIR/vapid.json`,
      },
    ]);
  }
  if (v.DATABASE_OWNER_URL) {
    const appUser = v.DATABASE_URL ? decodeURIComponent(new URL(v.DATABASE_URL).username) : "";
    const ownerUser = decodeURIComponent(new URL(v.DATABASE_OWNER_URL).username);
    if (!appUser || appUser === ownerUser) {
      throw new ConfigError([
        {
          variable: "DATABASE_OWNER_URL",
          message:
            "DATABASE_OWNER_URL migrates as the schema's owner for the app's own role: set DATABASE_URL with a different user name",
        },
      ]);
    }
  }
  const allowedOrigins = v.ALLOWED_ORIGINS ?? [`http://localhost:${v.PORT}`, `http://127.0.0.1:${v.PORT}`];
  return {
    env: v.NODE_ENV,
    host: v.HOST,
    port: v.PORT,
    role: v.ROLE,
    databaseUrl: v.DATABASE_URL,
    dataDir: path.resolve(v.DATA_DIR),
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_PREFIX,
    masterKey: v.MASTER_KEY,
    auditSigningKey: v.AUDIT_SIGNING_KEY,
    databaseOwnerUrl: v.DATABASE_OWNER_URL,
    jwtSecret: v.JWT_SECRET,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    tokenTtlSeconds: v.TOKEN_TTL_SECONDS,
    allowedOrigins,
    publicUrl: v.PUBLIC_URL ?? (allowedOrigins[0] as string),
    trustProxy: v.TRUST_PROXY,
    // Tests start many servers: keep their output quiet unless asked.
    logLevel: v.LOG_LEVEL ?? (v.NODE_ENV === "test" ? "silent" : "info"),
    clientDist: v.CLIENT_DIST === undefined ? undefined : path.resolve(v.CLIENT_DIST),
    bodyLimit: v.BODY_LIMIT.toLowerCase(),
    socketMaxBuffer: v.SOCKET_MAX_BUFFER,
    loginRateLimit: v.LOGIN_RATE_LIMIT,
    loginAddressRateLimit: v.LOGIN_ADDRESS_RATE_LIMIT,
    signupRateLimit: v.SIGNUP_RATE_LIMIT,
    socketRateLimit: v.SOCKET_RATE_LIMIT,
    socketConnectRateLimit: v.SOCKET_CONNECT_RATE_LIMIT,
    maxSocketsPerAccount: v.SOCKETS_PER_ACCOUNT,
    sessionRateLimit: v.SESSION_RATE_LIMIT,
    invitationRateLimit: v.INVITATION_RATE_LIMIT,
    maxOpenInvitations: v.OPEN_INVITATIONS_PER_SESSION,
    // A process on a random port (tests) gets a random metrics port too, so servers never collide on it.
    metricsPort:
      v.METRICS_PORT !== undefined ? v.METRICS_PORT : v.PORT === 0 || v.NODE_ENV === "test" ? 0 : 9464,
    metricsHost: v.METRICS_HOST,
    metricsToken: v.METRICS_TOKEN,
    deadlineSweepMs: v.DEADLINE_SWEEP_MS,
    stateCacheSessions: v.STATE_CACHE_SESSIONS,
    smtpUrl: v.SMTP_URL,
    mailFrom: v.MAIL_FROM,
    vapidPublicKey: v.VAPID_PUBLIC_KEY,
    vapidPrivateKey: v.VAPID_PRIVATE_KEY,
    vapidSubject: v.VAPID_SUBJECT,
  };
}
