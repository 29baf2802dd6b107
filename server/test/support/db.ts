// Test databases for every suite that needs one: an in-memory PGlite always, and a throwaway
// database on a real PostgreSQL when DATABASE_URL is set (CI sets it and requires it).
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe } from "vitest";
import { type Db, openDb } from "../../src/store/db";
import { migrate } from "../../src/store/migrations";

export type Backend = "pglite" | "postgres";

export interface TestDb {
  db: Db;
  /** Empties every table except schema_migrations. */
  reset(): Promise<void>;
  close(): Promise<void>;
  label: string;
  backend: Backend;
  /** PostgreSQL only: the URL of this test's own database, to open more connections to it. */
  databaseUrl?: string;
}

export function servicesRequired(): boolean {
  return process.env.CI === "true" || process.env.REQUIRE_SERVICES === "1";
}

/**
 * .ci/run's first `npm test` (with the services) sets it: the PGlite halves of the two-backend suites are left to
 * its second, the newcomer's `npm test` (no services), which runs exactly them and must pass anyway; so each runs
 * once per CI run. Honoured only where the services are there (see availableBackends and support/server.ts).
 */
export const embeddedHalvesElsewhere = process.env.EMBEDDED_HALVES_IN_NEWCOMER_PASS === "1";

/**
 * For a file that needs no service at all (PGlite, in-process scheduler, child processes of its own): true, with a
 * loud line, when .ci/run's first pass leaves it to the newcomer pass (which runs it as it stands); else false.
 * Honoured only where DATABASE_URL and REDIS_URL are set, so a machine without them always runs the file.
 */
export function leftToNewcomerPass(what: string): boolean {
  if (!(embeddedHalvesElsewhere && process.env.DATABASE_URL && process.env.REDIS_URL)) return false;
  console.warn(
    `\n!!! NOT RUNNING ${what} here: EMBEDDED_HALVES_IN_NEWCOMER_PASS=1 (the newcomer pass runs it)\n`,
  );
  return true;
}

/** pglite always; postgres when DATABASE_URL is set. Warns loudly, or throws in CI, when it is not. */
export function availableBackends(): Backend[] {
  if (process.env.DATABASE_URL) {
    if (!embeddedHalvesElsewhere) return ["pglite", "postgres"];
    console.warn(
      "NOT RUNNING the pglite backend here: EMBEDDED_HALVES_IN_NEWCOMER_PASS=1 (the newcomer pass runs it)",
    );
    return ["postgres"];
  }
  if (servicesRequired()) {
    throw new Error(
      "DATABASE_URL is not set, but CI=true or REQUIRE_SERVICES=1 requires the postgres backend",
    );
  }
  console.warn("SKIPPING postgres backend: DATABASE_URL not set");
  return ["pglite"];
}

/**
 * Opens a test database, migrated unless { migrate: false }. Default backend: postgres when
 * DATABASE_URL is set, else pglite. A migrated PGlite is shared within a test file (opening one
 * costs seconds and ~200 MB) and closed with its last user; each PostgreSQL handle gets its own
 * database, dropped on close.
 */
export async function openTestDb(
  backend: Backend = process.env.DATABASE_URL ? "postgres" : "pglite",
  opts: { migrate?: boolean } = {},
): Promise<TestDb> {
  const migrated = opts.migrate !== false;
  if (backend === "postgres") return openPostgresTestDb(migrated);
  return migrated ? openSharedPgliteTestDb() : openPrivatePgliteTestDb();
}

let sharedPglite: { db: Promise<Db>; users: number } | null = null;

async function openPrivatePgliteTestDb(): Promise<TestDb> {
  const db = await openDb({ dataDir: "memory://" });
  return {
    db,
    backend: "pglite",
    label: "pglite (in memory, private)",
    reset: () => truncateAll(db),
    close: once(() => db.close()),
  };
}

async function openSharedPgliteTestDb(): Promise<TestDb> {
  if (!sharedPglite) {
    const opening = openDb({ dataDir: "memory://" }).then(async (db) => {
      await migrate(db);
      return db;
    });
    sharedPglite = { db: opening, users: 0 };
  }
  const shared = sharedPglite;
  let db: Db;
  try {
    db = await shared.db;
  } catch (err) {
    if (sharedPglite === shared) sharedPglite = null;
    throw err;
  }
  shared.users++;
  return {
    db,
    backend: "pglite",
    label: "pglite (in memory)",
    reset: () => truncateAll(db),
    close: once(async () => {
      shared.users--;
      if (shared.users === 0) {
        if (sharedPglite === shared) sharedPglite = null;
        await db.close();
      }
    }),
  };
}

async function openPostgresTestDb(migrated: boolean): Promise<TestDb> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error("openTestDb('postgres') needs DATABASE_URL");
  const name = `bc_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withAdmin(serverUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  let db: Db;
  try {
    db = await openDb({ databaseUrl });
    if (migrated) await migrate(db);
  } catch (err) {
    await dropDatabase(serverUrl, name);
    throw err;
  }
  return {
    db,
    backend: "postgres",
    label: `postgres (${name})`,
    databaseUrl,
    reset: () => truncateAll(db),
    close: once(async () => {
      try {
        await db.close();
      } finally {
        await dropDatabase(serverUrl, name);
      }
    }),
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

async function withAdmin<T>(serverUrl: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, async (admin) => {
    // Connections a test leaked would block the DROP; end them first.
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  });
}

async function truncateAll(db: Db): Promise<void> {
  const res = await db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'",
  );
  if (res.rows.length === 0) return;
  const tables = res.rows.map((r) => `"${r.tablename}"`).join(", ");
  // The log refuses TRUNCATE through its triggers; a test superuser switches triggers off for this transaction only.
  await db.tx(async (q) => {
    await q.query("SET LOCAL session_replication_role = replica");
    await q.query(`TRUNCATE ${tables} RESTART IDENTITY CASCADE`);
  });
}

export interface BackendSuite {
  backend: Backend;
  /** The suite's database; valid inside tests and hooks, not while the suite is being collected. */
  db(): Db;
  testDb(): TestDb;
}

/**
 * Runs a suite once per available backend, each with its own migrated database, emptied before
 * every test (pass { reset: false } to keep rows between tests).
 */
export function describeBackends(
  name: string,
  fn: (suite: BackendSuite) => void,
  opts: { reset?: boolean } = {},
): void {
  for (const backend of availableBackends()) {
    describe(`${name} [${backend}]`, () => {
      let handle: TestDb | undefined;
      beforeAll(async () => {
        handle = await openTestDb(backend);
      });
      afterAll(async () => {
        await handle?.close();
      });
      if (opts.reset !== false) {
        beforeEach(async () => {
          await handle?.reset();
        });
      }
      const testDb = (): TestDb => {
        if (!handle) throw new Error(`${backend} test database is not open (used outside a test or hook?)`);
        return handle;
      };
      fn({ backend, testDb, db: () => testDb().db });
    });
  }
}
