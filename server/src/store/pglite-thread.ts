// The embedded database (PGlite) behind the Db interface, run in a worker thread of its own (pglite-worker.ts).
//
// PGlite runs postgres synchronously on whichever thread calls it: on the server's event loop, every statement, WAL
// write and fsync held sockets, acks and health checks still (37-45% of the embedded node's busy time in the
// benchmark's 1,000-session deal run, docs/benchmarks.md). In a thread of its own it runs beside them, on the second
// core. Nothing else changes: the thread answers a commit only after PGlite's COMMIT returned, which is after the WAL
// was fsynced (pglite-durable.ts), so the Db resolves it no earlier than before. One connection, as before: a
// transaction holds it until it ends, and a query outside it waits.
//
// The thread stopping unexpectedly (a failed fsync stops it on purpose: pglite-durable.ts) stops the process too, with
// the thread's exit code: no statement can run, nothing unacknowledged was answered, and the next start recovers from
// the WAL on disk.
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import { type ErrorFields, threadEntry, toError } from "../threads";
import type { Db, QueryResult } from "./db";

/** The thread's workerData. */
export interface ThreadStart {
  /** null: in memory */
  dataDir: string | null;
  /** source mode only: the TypeScript entry thread-boot.mjs loads (through tsx) */
  entry?: string;
}

/**
 * A query with `begin` opens a transaction first (a transaction's first statement: one message, not two); one with
 * `relaxed` runs as a transaction of its own that commits without waiting for the disk (Db.relaxed).
 */
export type ThreadRequest =
  | { id: number; op: "query"; sql: string; params?: unknown[]; begin?: true; relaxed?: true }
  | { id: number; op: "commit" | "rollback" | "close" };

/** Id 0 answers the start. */
export type ThreadReply =
  | { id: number; rows: unknown[]; rowCount: number }
  | { id: number; error: ErrorFields };

type Request = ThreadRequest extends infer R ? (R extends unknown ? Omit<R, "id"> : never) : never;

export async function openPgliteThread(dataDir: string | null): Promise<Db> {
  const { url, entry } = threadEntry(import.meta.url, "pglite-worker");
  const start: ThreadStart = { dataDir, ...(entry ? { entry } : {}) };
  const worker = new Worker(url, { workerData: start });
  const waiting = new Map<number, { resolve: (r: QueryResult<never>) => void; reject: (e: Error) => void }>();
  let next = 1;
  let live = false;
  let closing = false;
  let stopped: Error | null = null;

  const opened = new Promise<void>((resolve, reject) => {
    waiting.set(0, { resolve: () => resolve(), reject });
  });
  worker.on("message", (r: ThreadReply) => {
    const w = waiting.get(r.id);
    if (!w) return;
    waiting.delete(r.id);
    // Idle, the thread does not keep the process alive (PGlite in the main thread did not either).
    if (waiting.size === 0) worker.unref();
    if ("error" in r) w.reject(toError(r.error));
    else w.resolve({ rows: r.rows as never[], rowCount: r.rowCount });
  });
  worker.on("error", (err) => {
    stopped ??= err;
  });
  worker.on("exit", (code) => {
    stopped ??= new Error(`the embedded database's thread stopped (exit code ${code})`);
    for (const w of waiting.values()) w.reject(stopped);
    waiting.clear();
    if (live && !closing) {
      // A failed fsync has said so already (pglite-durable.ts); anything else says it here.
      fs.writeSync(2, `FATAL: ${stopped.message}; stopping, so that nothing more is acknowledged\n`);
      process.exit(code === 0 ? 1 : code);
    }
  });

  const call = (req: Request): Promise<QueryResult<never>> =>
    new Promise((resolve, reject) => {
      if (stopped) return reject(stopped);
      const id = next++;
      if (waiting.size === 0) worker.ref();
      waiting.set(id, { resolve, reject });
      worker.postMessage({ ...req, id });
    });

  try {
    await opened;
  } catch (err) {
    closing = true;
    await worker.terminate();
    throw err;
  }
  live = true;

  // One connection: a transaction holds it until it ends; a query outside one waits its turn.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => {});
    return run;
  };
  const query = <T>(sql: string, params?: unknown[], flag?: { begin: true } | { relaxed: true }) =>
    call({ op: "query", sql, ...(params ? { params } : {}), ...flag }) as Promise<QueryResult<T>>;

  return {
    kind: "pglite",
    query: (sql, params) => exclusive(() => query(sql, params)),
    relaxed: (sql, params) => exclusive(() => query(sql, params, { relaxed: true })),
    // PGlite's transaction() runs in the thread: BEGIN (sent with the transaction's first statement; a transaction
    // that sends none never begins), COMMIT (an error when postgres answers it with ROLLBACK), and ROLLBACK when fn
    // throws, which is rethrown. Each message to the thread and back costs ~50 us of CPU on this VM: at 100 commands/s,
    // posting them was 10% of the embedded node's event loop in the deal bench.
    tx: (fn) =>
      exclusive(async () => {
        let begun = false;
        const inTx = <T>(sql: string, params?: unknown[]) => {
          const first = !begun;
          begun = true;
          return query<T>(sql, params, first ? { begin: true } : undefined);
        };
        let result: Awaited<ReturnType<typeof fn>>;
        try {
          result = await fn({ query: inTx });
        } catch (err) {
          if (begun) await call({ op: "rollback" }).catch(() => {});
          throw err;
        }
        if (begun) await call({ op: "commit" });
        return result;
      }),
    close: async () => {
      await exclusive(async () => {
        closing = true;
        await call({ op: "close" }).catch(() => {});
      });
      await worker.terminate();
    },
  };
}
