// Starts a real server on port 0 for integration tests, on PGlite + in-process scheduler by default,
// or on PostgreSQL + Redis + BullMQ when DATABASE_URL and REDIS_URL are set (CI sets both).
import { randomBytes, randomUUID } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, inject } from "vitest";
import { loadConfig } from "../../src/config";
import { type Logger, silentLogger } from "../../src/log";
import { type RunningServer, startServer } from "../../src/server";
import { openDb } from "../../src/store/db";

export const servicesRequired = process.env.CI === "true" || process.env.REQUIRE_SERVICES === "1";

/** Which backends the integration suites run on; warns loudly about a skipped one and fails in CI. */
export function backends(): Array<"embedded" | "services"> {
  const have = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
  if (!have) {
    if (servicesRequired)
      throw new Error("CI requires DATABASE_URL and REDIS_URL for the service-backed suites");
    console.warn(
      "\n!!! SKIPPING the PostgreSQL + Redis + BullMQ run of the integration suites: DATABASE_URL/REDIS_URL not set\n",
    );
    return ["embedded"];
  }
  // Set by .ci/run's first `npm test` only: its newcomer pass, without services, runs the embedded halves (support/db.ts).
  if (process.env.EMBEDDED_HALVES_IN_NEWCOMER_PASS === "1") {
    console.warn(
      "\n!!! NOT RUNNING the PGlite + in-process run of the integration suites here: EMBEDDED_HALVES_IN_NEWCOMER_PASS=1 (the newcomer pass runs it)\n",
    );
    return ["services"];
  }
  return ["embedded", "services"];
}

export interface Storage {
  backend: "embedded" | "services";
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  redisPrefix: string;
  masterKey: string;
  jwtSecret: string;
  dispose(): Promise<void>;
}

/** Storage that outlives one server (so restart tests can start a second server on the same data). */
export async function createStorage(backend: "embedded" | "services"): Promise<Storage> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "bc-it-"));
  const redisPrefix = `bct${randomBytes(4).toString("hex")}`;
  const base = {
    backend,
    dataDir,
    redisPrefix,
    masterKey: randomBytes(32).toString("base64"),
    jwtSecret: randomBytes(32).toString("base64url"),
  };
  if (backend === "embedded") {
    const template = await pgliteTemplate();
    if (template) cpSync(template, path.join(dataDir, "pglite"), { recursive: true });
    return { ...base, dispose: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const adminUrl = process.env.DATABASE_URL as string;
  const dbName = `bc_it_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  const redisUrl = process.env.REDIS_URL as string;
  // BullMQ's delay precision follows Redis's timer tick; the project's Redis config uses hz 100.
  const r = new Redis(redisUrl);
  await r.config("SET", "hz", "100");
  await r.quit();
  return {
    ...base,
    databaseUrl: u.toString(),
    redisUrl,
    dispose: async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [dbName]);
      await a.query(`DROP DATABASE IF EXISTS ${dbName}`);
      await a.end();
      const rr = new Redis(redisUrl);
      let cursor = "0";
      do {
        const [next, keys] = await rr.scan(cursor, "MATCH", `${redisPrefix}*`, "COUNT", 500);
        cursor = next;
        if (keys.length > 0) await rr.del(...keys);
      } while (cursor !== "0");
      await rr.quit();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * An empty PGlite data dir, initialised once per test run and copied into each embedded storage's DATA_DIR/pglite:
 * PGlite's initdb takes seconds, opening an initialised dir a fraction of one. The copy holds no table, key or row
 * (openDb only, never migrated), so a server started on it still migrates from nothing and generates its keys, as on
 * a first start. What the copy skips, a first start on an empty DATA_DIR, is run by the tests that start
 * src/main.ts (integration/shutdown, store/durability, infra's kill proof) and by the browser e2e.
 * Without the run's folder (globalSetup support/pglite-template.ts), every storage is initialised on its own.
 */
async function pgliteTemplate(): Promise<string | undefined> {
  const root = inject("pgliteTemplateRoot");
  if (!root) return undefined;
  const template = path.join(root, "pglite");
  if (existsSync(template)) return template;
  const building = mkdtempSync(path.join(root, "building-"));
  try {
    const db = await openDb({ dataDir: path.join(building, "pglite") });
    await db.close();
    try {
      renameSync(path.join(building, "pglite"), template);
    } catch {
      // Another test file's template got there first: use it.
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}

export async function startOn(
  storage: Storage,
  extraEnv: Record<string, string> = {},
  opts: { log?: Logger; now?: () => number } = {},
): Promise<RunningServer> {
  const config = loadConfig({
    NODE_ENV: "test",
    HOST: "127.0.0.1",
    PORT: "0",
    DATA_DIR: storage.dataDir,
    MASTER_KEY: storage.masterKey,
    JWT_SECRET: storage.jwtSecret,
    REDIS_PREFIX: storage.redisPrefix,
    LOG_LEVEL: "silent",
    ALLOWED_ORIGINS: "http://allowed.example",
    ...(storage.databaseUrl ? { DATABASE_URL: storage.databaseUrl } : {}),
    ...(storage.redisUrl ? { REDIS_URL: storage.redisUrl } : {}),
    ...extraEnv,
  });
  return startServer(config, { log: opts.log ?? silentLogger, now: opts.now });
}

export type Ack =
  | { ok: true; version: number; [k: string]: unknown }
  | { ok: false; code: string; message: string };

export interface Push {
  at: number;
  name: string;
  payload: unknown;
}

/** One participant: an account, a socket, and a record of every push it received. */
export class Participant {
  token = "";
  user = { id: "", email: "", name: "" };
  socket?: Socket;
  readonly pushes: Push[] = [];
  private seq = 0;

  constructor(
    readonly baseUrl: string,
    readonly name: string,
  ) {}

  async signUp(): Promise<this> {
    const email = `${this.name.toLowerCase().replace(/\W+/g, "-")}-${randomUUID().slice(0, 8)}@example.test`;
    const r = await this.http("POST", "/api/auth/signup", {
      email,
      password: "correct horse battery",
      displayName: this.name,
    });
    if (r.status !== 201) throw new Error(`signup failed: ${r.status} ${JSON.stringify(r.body)}`);
    const body = r.body as { token: string; user: { id: string; email: string; name: string } };
    this.token = body.token;
    this.user = body.user;
    return this;
  }

  async http(method: string, route: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(this.baseUrl + route, {
      method,
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed as Record<string, unknown>, text };
  }

  async connect(
    extra: { origin?: string; transports?: Array<"websocket" | "polling"> } = {},
  ): Promise<Socket> {
    const socket = connect(this.baseUrl, {
      auth: { token: this.token },
      transports: extra.transports ?? ["websocket"],
      reconnection: false,
      forceNew: true,
      extraHeaders: extra.origin ? { origin: extra.origin } : undefined,
    });
    // A message may carry several payloads (a commit's pushes to one room): each is recorded as a push of its own.
    socket.onAny((name: string, ...payloads: unknown[]) => {
      for (const payload of payloads) this.pushes.push({ at: Date.now(), name, payload });
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (e) => reject(e));
    });
    this.socket = socket;
    return socket;
  }

  emit(name: string, payload: unknown, timeoutMs = 5000): Promise<Ack> {
    const socket = this.socket;
    if (!socket) throw new Error("not connected");
    return socket.timeout(timeoutMs).emitWithAck(name, payload) as Promise<Ack>;
  }

  /**
   * A command whose answer is also recorded in `pushes` (name "ack"), at the moment the socket handed it over: so a
   * test can tell which came first, the answer or a push (awaiting the answer cannot: a push read in the same chunk
   * is handled before the awaiting code runs).
   */
  commandMarked(sessionId: string, command: Record<string, unknown>): Promise<Ack> {
    const socket = this.socket;
    if (!socket) throw new Error("not connected");
    const payload = { sessionId, idempotencyKey: `k-${++this.seq}-${randomUUID()}`, command };
    return new Promise((resolve, reject) => {
      socket.timeout(5000).emit("command", payload, (err: Error | null, ack: Ack) => {
        if (err) return reject(err);
        this.pushes.push({ at: Date.now(), name: "ack", payload: ack });
        resolve(ack);
      });
    });
  }

  command(
    sessionId: string,
    command: Record<string, unknown>,
    idempotencyKey = `k-${++this.seq}-${randomUUID()}`,
  ) {
    return this.emit("command", { sessionId, idempotencyKey, command });
  }

  /** Waits for a pushed session event matching the predicate (already received ones count). */
  async waitFor(
    pred: (ev: { type: string; [k: string]: unknown }) => boolean,
    timeoutMs = 5000,
  ): Promise<Push> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.pushes.find(
        (p) => p.name === "session:event" && pred((p.payload as { event: { type: string } }).event),
      );
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`${this.name}: timed out waiting for an event`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close() {
    this.socket?.disconnect();
  }
}

export interface SuiteServer {
  storage: Storage;
  server: RunningServer;
  /** participants closed before the server stops */
  participants: Participant[];
}

/** One server per suite on `backend`, started before its tests and stopped (with its storage) after them. */
export function useServer(
  backend: "embedded" | "services",
  extraEnv: Record<string, string> = {},
  opts: { log?: Logger; now?: () => number } = {},
): SuiteServer {
  const suite = { participants: [] } as unknown as SuiteServer;
  beforeAll(async () => {
    suite.storage = await createStorage(backend);
    suite.server = await startOn(suite.storage, extraEnv, opts);
  });
  afterAll(async () => {
    for (const p of suite.participants) p.close();
    await suite.server?.close();
    await suite.storage?.dispose();
  });
  return suite;
}

export function backendLabel(backend: "embedded" | "services"): string {
  return backend === "embedded" ? "PGlite + in-process scheduler" : "PostgreSQL + Redis + BullMQ";
}
