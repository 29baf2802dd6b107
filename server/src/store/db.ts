// One database interface over PGlite (embedded, in a thread of its own) and PostgreSQL (pg Pool), so the same
// SQL, migrations and tests run on both. Parameters are always $1-style.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import pg from "pg";
import { openPgliteThread } from "./pglite-thread";

export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Db extends Queryable {
  kind: "pglite" | "postgres";
  /**
   * Runs fn in one transaction: COMMIT on success, ROLLBACK and rethrow on a throw.
   * Inside fn use only the given `q`: a query on the Db itself would run outside the transaction
   * (pg: another connection, which can deadlock on the rows fn locked; PGlite: it waits for fn).
   */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs one statement as a transaction of its own whose COMMIT does not wait for the disk (synchronous_commit off):
   * it is visible to every connection at once, and reaches the disk with the next durable commit (PGlite, PostgreSQL)
   * or within a fraction of a second (PostgreSQL's WAL writer). A crash may lose it. Only for bookkeeping whose loss
   * repeats work that may repeat anyway: the outbox's claim and mark (a notice is delivered at least once, and a crash
   * between its send and its mark sends it again). Never a command, nor anything a command's answer depends on.
   */
  relaxed<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  close(): Promise<void>;
}

export async function openDb(opts: { databaseUrl?: string; dataDir?: string }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  return openPglite(opts.dataDir);
}

const PG_POOL_SIZE = 10;
/** Connections for relaxed statements (Db.relaxed): the outbox's claims and marks, a few at once. */
const PG_RELAXED_POOL_SIZE = 2;

/** A statement text run this often is prepared (per connection, once); at most MAX_PREPARED texts are. */
export const PREPARE_AFTER = 3;
export const MAX_PREPARED = 64;
/** Texts counted towards PREPARE_AFTER at most (the count starts over past it). */
const MAX_COUNTED = 1_000;

/**
 * Which statements PostgreSQL plans only once per connection: a text is given a name (a prepared statement) from its
 * PREPARE_AFTER-th run, so the hot statements (a batch's one write statement for a Step 3 command, the locks, the
 * reads) are parsed and planned once per connection instead of on every run; a one-off text is never prepared. At most
 * MAX_PREPARED texts get names, the first to repeat, so the server's memory for them stays bounded.
 */
export function statementNames(): (sql: string) => string | undefined {
  const runs = new Map<string, number>();
  const names = new Map<string, string>();
  return (sql) => {
    const name = names.get(sql);
    if (name !== undefined || names.size >= MAX_PREPARED) return name;
    const n = (runs.get(sql) ?? 0) + 1;
    if (n < PREPARE_AFTER) {
      if (runs.size >= MAX_COUNTED) runs.clear();
      runs.set(sql, n);
      return undefined;
    }
    runs.delete(sql);
    const named = `bc_${createHash("sha256").update(sql).digest("hex").slice(0, 32)}`;
    names.set(sql, named);
    return named;
  };
}
const INT8_OID = 20;

// pg returns int8 as strings by default. Our int8 columns hold epoch milliseconds and counts, which
// are far below 2^53, so numbers are exact; anything larger stays a string rather than lose digits.
function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function openPool(databaseUrl: string, max: number, options?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    ...(options ? { options } : {}),
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID && format !== "binary"
          ? parseInt8
          : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that loses its connection emits here; without a listener Node would crash.
  // The pool discards that client and the next query opens a fresh connection.
  pool.on("error", () => {});
  return pool;
}

async function openPostgres(databaseUrl: string): Promise<Db> {
  const pool = openPool(databaseUrl, PG_POOL_SIZE);
  // Its connections start with synchronous_commit off: each statement on them commits without waiting for the disk.
  // And they plan each run afresh (a custom plan): the outbox's table grows from nothing and its backlog swings, and a
  // generic plan cached while the table was small (a scan where an index probe was due) stays until the next ANALYZE;
  // in the two-node benchmark such a plan took up to 138 ms a claim (docs/benchmarks.md).
  const relaxedPool = openPool(
    databaseUrl,
    PG_RELAXED_POOL_SIZE,
    "-c synchronous_commit=off -c plan_cache_mode=force_custom_plan",
  );
  // Fail at start-up, not at the first request, when the database is unreachable.
  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await Promise.all([pool.end(), relaxedPool.end()]);
    throw err;
  }

  const nameOf = statementNames();
  const run = async <T>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]) => {
    const name = nameOf(sql);
    const res = await (name
      ? client.query({ name, text: sql, ...(params ? { values: params } : {}) })
      : client.query(sql, params));
    return { rows: res.rows as T[], rowCount: res.rowCount ?? res.rows.length };
  };

  // Not pool.query(): it closes the connection behind every failed statement (it releases the client with the
  // error), so each refusal the database makes on purpose (a stale append's guard, a unique key) would cost the next
  // query a new connection, tens of ms. A statement the server refused with an ERROR leaves its connection sound and
  // idle (no transaction is open around it); only a client whose connection failed is discarded.
  const onPool = async <T>(from: pg.Pool, sql: string, params?: unknown[]) => {
    const client = await from.connect();
    try {
      const result = await run<T>(client, sql, params);
      client.release();
      return result;
    } catch (err) {
      const refused = err instanceof pg.DatabaseError && err.severity === "ERROR";
      client.release(refused ? undefined : (err as Error));
      throw err;
    }
  };

  return {
    kind: "postgres",
    query: (sql, params) => onPool(pool, sql, params),
    relaxed: (sql, params) => onPool(relaxedPool, sql, params),
    async tx(fn) {
      const client = await pool.connect();
      const q: Queryable = { query: (sql, params) => run(client, sql, params) };
      try {
        await client.query("BEGIN");
        const result = await fn(q);
        await client.query("COMMIT");
        client.release();
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
          client.release();
        } catch (rollbackErr) {
          // The connection is in an unknown state: destroy it rather than return it to the pool.
          client.release(rollbackErr as Error);
        }
        throw err;
      }
    },
    close: async () => {
      await Promise.all([pool.end(), relaxedPool.end()]);
    },
  };
}

async function openPglite(dataDir: string | undefined): Promise<Db> {
  const inMemory = dataDir === undefined || dataDir === "" || dataDir.startsWith("memory://");
  if (!inMemory) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // In a thread of its own (pglite-thread.ts). On a data dir, a commit returns only once its WAL is fsynced
  // (pglite-durable.ts: PGlite's own defaults never fsync). In memory there is no disk to reach.
  return openPgliteThread(inMemory ? null : dataDir);
}
