// The floor: the least any durable command can cost. A bare Socket.IO server (server-child.ts "floor") whose
// command handler, before it acks, commits one transaction that locks one row, inserts one ~300-byte row and
// updates the locked row, through the server's own openDb (PGlite with the server's durability, or PostgreSQL).
// One command in flight; the client is this process, the server a child, exactly as for Backchannel's own acks.
// The commit alone is timed inside the child, for the table's "of which: commit" row.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Db } from "../../server/src/store/db";
import { runBaseline } from "./baseline";
import { startChild } from "./child";

export async function floorCommit(db: Db, body: string): Promise<void> {
  await db.tx(async (q) => {
    await q.query("SELECT n FROM bench_floor_lock WHERE id = 1 FOR UPDATE");
    await q.query("INSERT INTO bench_floor_rows (lock_id, body) VALUES (1, $1)", [body]);
    await q.query("UPDATE bench_floor_lock SET n = n + 1 WHERE id = 1");
  });
}

export async function prepareFloorTables(db: Db): Promise<void> {
  await db.query("CREATE TABLE IF NOT EXISTS bench_floor_lock (id int PRIMARY KEY, n bigint NOT NULL)");
  await db.query(
    "CREATE TABLE IF NOT EXISTS bench_floor_rows (id bigserial PRIMARY KEY, lock_id int NOT NULL, body text NOT NULL)",
  );
  await db.query("INSERT INTO bench_floor_lock VALUES (1, 0) ON CONFLICT (id) DO NOTHING");
}

export interface FloorSamples {
  /** emit -> ack of the bare server with the durable commit, ms */
  ack: number[];
  /** the commit alone, ms (inside the server) */
  commit: number[];
}

/** `databaseUrl`: PostgreSQL (a database of this run's own); without it, PGlite in a fresh temporary folder. */
export async function runFloor(opts: {
  databaseUrl?: string;
  iterations: number;
  warmup: number;
}): Promise<FloorSamples> {
  const dataDir = opts.databaseUrl ? undefined : mkdtempSync(path.join(tmpdir(), "bc-bench-floor-"));
  const env: Record<string, string> = opts.databaseUrl
    ? { BENCH_FLOOR_DATABASE_URL: opts.databaseUrl }
    : { BENCH_FLOOR_DATA_DIR: path.join(dataDir as string, "pglite") };
  try {
    const child = await startChild("floor", env);
    try {
      const trips = await runBaseline(child.url, {
        sockets: 1,
        iterations: opts.iterations,
        warmup: opts.warmup,
      });
      const log = await child.close();
      if (log.errors.length > 0) throw new Error(log.errors.join("; "));
      return { ack: trips.ack, commit: log.commitMs.slice(opts.warmup) };
    } finally {
      await child.close();
    }
  } finally {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
