// Redis restarted empty mid-session: a server (ROLE=all, PostgreSQL + BullMQ) on a Redis of this test's own (never
// the shared one on 6379) sees it killed (SIGKILL) and started again with nothing in it while sessions' Step 2
// deadlines come due. The database holds every deadline, so none may be missed, and the worker re-arms them all as
// soon as Redis answers again: each deadline fires within 1 s of its due time or of Redis's return, whichever is
// later. Meanwhile /readyz keeps answering promptly (503 while Redis is down) and /healthz stays up.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { openTable, type Table } from "../integration/harness";
import { type Storage, servicesRequired, startOn } from "../support/server";

const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SESSIONS = 5;
const OUTAGE_MS = 3_000;
const MAX_REARM_LATENESS_MS = 1_000;

const missing = await missingServices();
if (missing) {
  if (servicesRequired) {
    describe("Redis restarted empty", () => {
      it("needs PostgreSQL and redis-server (CI=true or REQUIRE_SERVICES=1)", () => {
        throw new Error(`${missing}, but CI=true or REQUIRE_SERVICES=1 requires this suite`);
      });
    });
  } else {
    console.warn(`\n!!! SKIPPING the Redis-restart failure suite: ${missing}\n`);
    describe.skip(`Redis restarted empty (SKIPPED: ${missing})`, () => {
      it("re-arms every deadline within 1 s of Redis returning", () => {});
    });
  }
} else {
  describe("Redis restarted empty mid-session (PostgreSQL + BullMQ, ROLE=all)", () => {
    let port = 0;
    let redisProc: ChildProcess | undefined;
    let storage: Storage;
    let server: RunningServer;
    const tables: Table[] = [];

    beforeAll(async () => {
      port = await freePort();
      redisProc = await startRedis(port);
      storage = await createStorage(`redis://127.0.0.1:${port}`);
      server = await startOn(storage, { ROLE: "all", DEADLINE_SWEEP_MS: "30000" });
    });

    afterAll(async () => {
      for (const t of tables) for (const p of t.all) p.close();
      await server?.close();
      await storage?.dispose();
      redisProc?.kill("SIGKILL");
    });

    it("misses no deadline and re-arms each within 1 s of Redis returning", {
      timeout: 120_000,
    }, async () => {
      // Step 2 lasts 9 s: its reminders and its close fall before, during and after the outage.
      for (let i = 0; i < SESSIONS; i++) {
        tables.push(
          await openTable(server, {
            step2DurationMs: 9_000,
            step3DurationMs: 60_000,
            maxSessionMs: 120_000,
            proposalConsentMs: 30_000,
            proposalAnswerMs: 30_000,
          }),
        );
      }
      const db = new pg.Client({ connectionString: storage.databaseUrl });
      await db.connect();
      try {
        const killedAt = Date.now();
        const snapshot = await db.query<{ session_id: string; key: string; due_at: string }>(
          "SELECT session_id, key, due_at FROM deadlines WHERE due_at > $1 ORDER BY due_at",
          [killedAt],
        );
        const deadlines = snapshot.rows.map((r) => ({
          sessionId: r.session_id,
          key: r.key,
          dueAt: Number(r.due_at),
        }));
        expect(deadlines.length).toBeGreaterThanOrEqual(SESSIONS);
        redisProc?.kill("SIGKILL");
        await exited(redisProc as ChildProcess);

        // While Redis is down: readiness says so promptly, liveness stays up.
        const probes: Array<{ path: string; status: number; ms: number }> = [];
        // At least OUTAGE_MS, and until a deadline has come due while Redis was away (setup on a busy machine can
        // take long enough that none would otherwise fall inside a fixed window).
        const outageEnds = Math.max(Date.now() + OUTAGE_MS, deadlines[0]!.dueAt + 300);
        while (Date.now() < outageEnds) {
          for (const route of ["/readyz", "/healthz"]) {
            const started = Date.now();
            const res = await fetch(server.url + route, { signal: AbortSignal.timeout(5_000) });
            await res.text();
            probes.push({ path: route, status: res.status, ms: Date.now() - started });
          }
          await sleep(250);
        }
        const dueInOutage = deadlines.filter((d) => d.dueAt < Date.now()).length;

        redisProc = await startRedis(port);
        const backAt = await firstPong(port);

        // Wait for every snapshot deadline to have come due, then for the table to hold nothing overdue.
        const lastDue = Math.max(...deadlines.map((d) => d.dueAt));
        await sleep(Math.max(0, lastDue - Date.now()) + 500);
        const until = Date.now() + 10_000;
        for (;;) {
          const overdue = await db.query("SELECT 1 FROM deadlines WHERE due_at <= $1", [Date.now() - 1_500]);
          if (overdue.rowCount === 0 || Date.now() > until) break;
          await sleep(100);
        }

        // A deadline fired with the first clock event of its session at or after its due time (a tick applies
        // everything due by then).
        const clock = await db.query<{ session_id: string; at: string }>(
          "SELECT session_id, at FROM session_events WHERE actor IS NULL AND at >= $1 ORDER BY at",
          [killedAt],
        );
        let missed = 0;
        let maxLateness = 0;
        for (const d of deadlines) {
          const fired = clock.rows.find((e) => e.session_id === d.sessionId && Number(e.at) >= d.dueAt);
          if (!fired) {
            missed++;
            continue;
          }
          maxLateness = Math.max(maxLateness, Number(fired.at) - Math.max(d.dueAt, backAt));
        }
        const ready = probes.filter((p) => p.path === "/readyz");
        const health = probes.filter((p) => p.path === "/healthz");
        console.log(
          `Redis restarted empty: ${deadlines.length} deadlines (${dueInOutage} due during the ${OUTAGE_MS} ms outage), ` +
            `${missed} missed, max re-arm lateness ${maxLateness} ms; during the outage /readyz answered ` +
            `${ready.map((p) => p.status).join(",")} in at most ${Math.max(...ready.map((p) => p.ms))} ms, ` +
            `/healthz in at most ${Math.max(...health.map((p) => p.ms))} ms`,
        );
        expect(dueInOutage).toBeGreaterThan(0);
        expect(missed).toBe(0);
        expect(maxLateness).toBeLessThanOrEqual(MAX_REARM_LATENESS_MS);
        // /readyz: 503 once the outage is noticed, never slow; /healthz: always 200.
        expect(ready.every((p) => p.ms < 1_500)).toBe(true);
        expect(ready.slice(1).every((p) => p.status === 503)).toBe(true);
        expect(health.every((p) => p.status === 200 && p.ms < 500)).toBe(true);
        // Readiness returns with Redis.
        const after = await fetch(`${server.url}/readyz`);
        expect(after.status).toBe(200);
        // Every session's participants heard how Step 2 ended.
        for (const t of tables) {
          await t.mediator.waitFor((e) => e.type === "Step3Opened" || e.type === "SessionEnded", 5_000);
        }
      } finally {
        await db.end();
      }
    });
  });
}

async function missingServices(): Promise<string | null> {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
  } catch {
    return "redis-server is not installed";
  }
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  try {
    await c.connect();
    await c.query("SELECT 1");
  } catch {
    return `PostgreSQL is not reachable at ${new URL(databaseUrl).host}`;
  } finally {
    await c.end().catch(() => {});
  }
  return null;
}

/** A database of this run's own on the PostgreSQL server, and a Redis URL of this test's own. */
async function createStorage(redisUrl: string): Promise<Storage> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "bc-redis-restart-"));
  const dbName = `bc_rr_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(databaseUrl);
  u.pathname = `/${dbName}`;
  return {
    backend: "services",
    dataDir,
    databaseUrl: u.toString(),
    redisUrl,
    redisPrefix: `bct${randomBytes(4).toString("hex")}`,
    masterKey: randomBytes(32).toString("base64"),
    jwtSecret: randomBytes(32).toString("base64url"),
    async dispose() {
      const a = new pg.Client({ connectionString: databaseUrl });
      await a.connect();
      await a.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [dbName]);
      await a.query(`DROP DATABASE IF EXISTS ${dbName}`);
      await a.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** redis-server on `port`, empty and without persistence, at hz 100 like the project's Redis. */
async function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--hz", "100"],
    { stdio: "ignore" },
  );
  await firstPong(port);
  return proc;
}

/** When Redis on `port` first answers PING (polled every 10 ms). */
async function firstPong(port: number): Promise<number> {
  const until = Date.now() + 10_000;
  for (;;) {
    const c = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
    c.on("error", () => {});
    try {
      await c.connect();
      if ((await c.ping()) === "PONG") return Date.now();
    } catch {
      // not yet
    } finally {
      c.disconnect();
    }
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not answer`);
    await sleep(10);
  }
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once("exit", () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
