// Where the benchmarked server keeps its state: embedded PGlite in a temporary DATA_DIR with the in-process
// scheduler (the default), or, when DATABASE_URL / REDIS_URL are set, a database and a Redis key prefix
// of this run's own on those shared services, removed again by dispose().
import { createECDH, generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { openDb } from "../../server/src/store/db";

export interface Backend {
  /** e.g. "PGlite + in-process scheduler" */
  label: string;
  /** variables for loadConfig() */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

export async function prepareBackend(env: NodeJS.ProcessEnv): Promise<Backend> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "bc-bench-"));
  const redisPrefix = `bcbench${randomBytes(4).toString("hex")}`;
  const adminUrl = env.DATABASE_URL?.trim() || undefined;
  const redisUrl = env.REDIS_URL?.trim() || undefined;
  const cleanups: Array<() => Promise<void>> = [
    async () => rmSync(dataDir, { recursive: true, force: true }),
  ];
  const vars: Record<string, string> = {
    DATA_DIR: dataDir,
    REDIS_PREFIX: redisPrefix,
    MASTER_KEY: randomBytes(32).toString("hex"),
    JWT_SECRET: randomBytes(48).toString("base64url"),
    ...signingKeys(),
  };

  try {
    if (adminUrl) {
      const dbName = `bc_bench_${process.pid}_${randomBytes(4).toString("hex")}`;
      const admin = await openDb({ databaseUrl: adminUrl });
      try {
        await admin.query(`CREATE DATABASE ${dbName}`);
      } finally {
        await admin.close();
      }
      cleanups.unshift(async () => {
        const a = await openDb({ databaseUrl: adminUrl });
        try {
          await a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
            dbName,
          ]);
          await a.query(`DROP DATABASE IF EXISTS ${dbName}`);
        } finally {
          await a.close();
        }
      });
      const u = new URL(adminUrl);
      u.pathname = `/${dbName}`;
      vars.DATABASE_URL = u.toString();
    }
    if (redisUrl) {
      cleanups.unshift(() => deleteKeys(redisUrl, redisPrefix));
      vars.REDIS_URL = redisUrl;
    }
  } catch (err) {
    await runAll(cleanups);
    throw err;
  }

  const label = [
    adminUrl ? "PostgreSQL" : "PGlite",
    redisUrl ? "Redis (adapter, BullMQ, limits)" : "in-process scheduler",
  ].join(" + ");
  return { label, env: vars, dispose: () => runAll(cleanups) };
}

/** The audit signing key and a VAPID pair, so the node generates nothing into its data folder (and says so). */
function signingKeys(): Record<string, string> {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const vapidPrivate = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(vapidPrivate, 32 - raw.length);
  return {
    AUDIT_SIGNING_KEY: generateKeyPairSync("ed25519")
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString(),
    VAPID_PUBLIC_KEY: ecdh.getPublicKey().toString("base64url"),
    VAPID_PRIVATE_KEY: vapidPrivate.toString("base64url"),
  };
}

/** Every key under this run's prefix; nobody else's (the prefix holds random hex). */
async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => {});
  }
}

/** Runs every cleanup even when one fails, then reports the first failure. */
async function runAll(cleanups: Array<() => Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(cleanups.map(async (c) => c()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * Flood limits raised for a benchmark: one benchmark socket sends far faster than a person (the default 30 events
 * per 10 s would refuse it), one account holds thousands of sockets, and every socket and sign-up comes from one
 * address.
 */
export const BENCH_RATE_LIMITS: Record<string, string> = {
  SOCKET_RATE_LIMIT: "1000000/1s",
  SOCKETS_PER_ACCOUNT: "100000",
  SOCKET_CONNECT_RATE_LIMIT: "1000000/1s",
  SESSION_RATE_LIMIT: "1000000/1s",
  INVITATION_RATE_LIMIT: "1000000/1s",
  SIGNUP_RATE_LIMIT: "1000000/1s",
  LOGIN_ADDRESS_RATE_LIMIT: "1000000/1s",
};

/**
 * A benchmarked node of our own (server-child.ts): production settings, any free port, and metrics on a free port of
 * 127.0.0.1 (read around the timed phases: phase-stats.ts).
 */
export const BENCH_NODE: Record<string, string> = {
  ...BENCH_RATE_LIMITS,
  NODE_ENV: "production",
  HOST: "127.0.0.1",
  PORT: "0",
  METRICS_PORT: "0",
  LOG_LEVEL: "info",
};
