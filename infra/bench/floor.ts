// The floor: the least any durable command can cost. A bare Socket.IO server (server-child.ts "floor") whose
// command handler, before it acks, commits one transaction that locks one row, inserts one ~300-byte row and
// updates the locked row, through the server's own openDb (PGlite with the server's durability, or PostgreSQL).
// One command in flight; the client is this process, the server a child, exactly as for Backchannel's own acks.
// The commit alone is timed inside the child, for the table's "of which: commit" row.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { io as connect, type Socket } from "socket.io-client";
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

/** The deadline burst's floor: `rows` deadlines' rows in one transaction (lock, one multi-row insert, update). */
export async function floorBatchCommit(db: Db, rows: number, body: string): Promise<void> {
  await db.tx(async (q) => {
    await q.query("SELECT n FROM bench_floor_lock WHERE id = 1 FOR UPDATE");
    await q.query(
      "INSERT INTO bench_floor_rows (lock_id, body) SELECT 1, $1 || g FROM generate_series(1, $2::int) AS g",
      [body, rows],
    );
    await q.query("UPDATE bench_floor_lock SET n = n + $1 WHERE id = 1", [rows]);
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

export interface DeadlineFloor {
  sessions: number;
  /** the time the floor server stored the deadline's batch and pushed - due, ms */
  fired: number[];
  /** the push reached the socket - due, ms */
  received: number[];
  missing: number;
}

/**
 * The deadline burst's floor, on the same database as the burst: a bare Socket.IO server (server-child.ts "floor")
 * with one socket per deadline, each due at the burst's own offsets (`dueOffsets`, ms after the first due time). At
 * its due time the server stores a ~300-byte row per deadline in group commits of 100 and then pushes to the socket's
 * room: the least any server must do to fire a deadline durably and tell someone.
 */
export async function runDeadlineFloor(opts: {
  databaseUrl?: string;
  dueOffsets: number[];
  nofile: number;
  waitMs: number;
}): Promise<DeadlineFloor> {
  const dataDir = opts.databaseUrl ? undefined : mkdtempSync(path.join(tmpdir(), "bc-bench-floor-"));
  const env: Record<string, string> = opts.databaseUrl
    ? { BENCH_FLOOR_DATABASE_URL: opts.databaseUrl }
    : { BENCH_FLOOR_DATA_DIR: path.join(dataDir as string, "pglite") };
  const sockets: Socket[] = [];
  try {
    const child = await startChild("floor", env, { nofile: opts.nofile });
    try {
      const arrivals: Array<Promise<{ at: number; firedAt: number } | null>> = [];
      // Connected 50 at a time (as the burst's own setup does it, more or less).
      for (let i = 0; i < opts.dueOffsets.length; i += 50) {
        const chunk = opts.dueOffsets.slice(i, i + 50).map(async () => {
          const socket = connect(child.url, {
            transports: ["websocket"],
            reconnection: false,
            forceNew: true,
          });
          sockets.push(socket);
          await new Promise<void>((resolve, reject) => {
            socket.once("connect", () => resolve());
            socket.once("connect_error", reject);
          });
          return socket;
        });
        await Promise.all(chunk);
      }
      const first = Date.now() + 3_000;
      const last = first + Math.max(0, ...opts.dueOffsets);
      const out: DeadlineFloor = { sessions: sockets.length, fired: [], received: [], missing: 0 };
      await Promise.all(
        sockets.map(async (socket, i) => {
          const dueAt = first + (opts.dueOffsets[i] as number);
          arrivals.push(
            new Promise((resolve) => {
              const timer = setTimeout(() => resolve(null), last - Date.now() + opts.waitMs);
              socket.once("fired", (push: { dueAt: number; at: number }) => {
                clearTimeout(timer);
                resolve({ at: performance.timeOrigin + performance.now() - dueAt, firedAt: push.at - dueAt });
              });
            }),
          );
          await socket.timeout(10_000).emitWithAck("arm", { dueAt });
        }),
      );
      for (const r of await Promise.all(arrivals)) {
        if (!r) out.missing += 1;
        else {
          out.received.push(r.at);
          out.fired.push(r.firedAt);
        }
      }
      const log = await child.close();
      if (log.errors.length > 0) throw new Error(log.errors.join("; "));
      return out;
    } finally {
      for (const s of sockets) s.disconnect();
      await child.close();
    }
  } finally {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
