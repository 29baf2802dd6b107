// Environment variables -> one typed, validated Config. Every variable is documented in docs/configuration.md.
// The server starts with no variables at all (embedded defaults); a bad value stops it with a list of problems.

import path from "node:path";
import { z } from "zod";

export interface RateLimit {
  points: number;
  durationSeconds: number;
}

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
  /** if absent: generated into <dataDir>/jwt.key mode 0600 by the auth layer */
  jwtSecret?: string;
  jwtIssuer: string;
  jwtAudience: string;
  tokenTtlSeconds: number;
  allowedOrigins: string[];
  trustProxy: boolean;
  logLevel: string;
  /** absolute path to the built client, when set */
  clientDist?: string;
  bodyLimit: string;
  socketMaxBuffer: number;
  loginRateLimit: RateLimit;
  socketRateLimit: RateLimit;
  /** how often a worker re-arms deadlines that are overdue in the database (a trigger lost after its retries) */
  deadlineSweepMs: number;
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

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

// Values of these variables are never echoed in an error message: they are or may contain credentials.
const SECRET_VARIABLES = new Set(["JWT_SECRET", "MASTER_KEY", "DATABASE_URL", "REDIS_URL"]);

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
  TRUST_PROXY: z.stringbool({ error: "must be true or false" }).default(false),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).optional(),
  CLIENT_DIST: z.string().optional(),
  BODY_LIMIT: z
    .string()
    .regex(/^\d{1,9}(b|kb|mb)$/i, { error: 'must be a size such as "32kb", "1mb" or "4096b"' })
    .default("256kb"),
  SOCKET_MAX_BUFFER: wholeNumber(1024, 10 * 1024 * 1024).default(262144),
  LOGIN_RATE_LIMIT: rateLimit().default({ points: 10, durationSeconds: 15 * 60 }),
  SOCKET_RATE_LIMIT: rateLimit().default({ points: 30, durationSeconds: 10 }),
  DEADLINE_SWEEP_MS: wholeNumber(100, 3_600_000).default(30_000),
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
    jwtSecret: v.JWT_SECRET,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    tokenTtlSeconds: v.TOKEN_TTL_SECONDS,
    allowedOrigins: v.ALLOWED_ORIGINS ?? [`http://localhost:${v.PORT}`, `http://127.0.0.1:${v.PORT}`],
    trustProxy: v.TRUST_PROXY,
    // Tests start many servers: keep their output quiet unless asked.
    logLevel: v.LOG_LEVEL ?? (v.NODE_ENV === "test" ? "silent" : "info"),
    clientDist: v.CLIENT_DIST === undefined ? undefined : path.resolve(v.CLIENT_DIST),
    bodyLimit: v.BODY_LIMIT.toLowerCase(),
    socketMaxBuffer: v.SOCKET_MAX_BUFFER,
    loginRateLimit: v.LOGIN_RATE_LIMIT,
    socketRateLimit: v.SOCKET_RATE_LIMIT,
    deadlineSweepMs: v.DEADLINE_SWEEP_MS,
  };
}
