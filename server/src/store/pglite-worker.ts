// The embedded database's own thread: PGlite (postgres compiled to WebAssembly) parses, plans and runs every statement,
// writes its WAL and fsyncs it here, so none of that holds the server's event loop (pushes, acks and health checks go
// on while a commit waits for the disk). Only ever a worker's entry; the server's side is pglite-thread.ts, which also
// defines the messages.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { errorFields } from "../threads";
import { openDurablePglite, relaxedQuery, SHARED_BUFFERS } from "./pglite-durable";
import type { ThreadReply, ThreadRequest, ThreadStart } from "./pglite-thread";

const port = parentPort;
if (!port) throw new Error("pglite-worker.ts runs only as a worker thread (pglite-thread.ts starts it)");
const reply = (r: ThreadReply) => port.postMessage(r);

const { dataDir } = workerData as ThreadStart;
let pglite: PGlite;
try {
  pglite =
    dataDir === null
      ? // The same small buffer pool as on disk (pglite-durable.ts: the default 128MB is touched in full at start).
        await PGlite.create({
          startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${SHARED_BUFFERS}`],
        })
      : await openDurablePglite(dataDir);
} catch (err) {
  reply({ id: 0, error: errorFields(err) });
  port.close();
  throw err;
}
reply({ id: 0, rows: [], rowCount: 0 });

/**
 * The open transaction, run by PGlite's own transaction() (its BEGIN, its COMMIT, which fails when postgres answers it
 * with ROLLBACK, and its ROLLBACK on a throw): `finish` lets its callback return (commit) or throw (rollback).
 */
let open: { t: Transaction; finish: (commit: boolean) => void; done: Promise<unknown> } | null = null;
const ROLLBACK = Symbol("rollback");

async function begin(): Promise<void> {
  if (open) throw new Error("a transaction is already open on the embedded database");
  let started!: (t: Transaction) => void;
  const ready = new Promise<Transaction>((resolve) => {
    started = resolve;
  });
  let finish!: (commit: boolean) => void;
  const done = pglite.transaction(async (t) => {
    const end = new Promise<void>((resolve, reject) => {
      finish = (commit) => (commit ? resolve() : reject(ROLLBACK));
    });
    started(t);
    await end;
  });
  // A BEGIN that failed ends `done` before `ready`: either way the request is answered.
  const t = await Promise.race([ready, done.then(() => null)]);
  if (!t) throw new Error("the embedded database could not begin a transaction");
  open = { t, finish, done };
}

async function run(req: ThreadRequest): Promise<ThreadReply> {
  const { id } = req;
  switch (req.op) {
    case "query": {
      // A transaction's first statement opens it: one message instead of two.
      if (req.begin) await begin();
      const res = req.relaxed
        ? await relaxedQuery(pglite, req.sql, req.params)
        : await (open?.t ?? pglite).query(req.sql, req.params);
      // affectedRows counts INSERT/UPDATE/DELETE; a SELECT reports its row count like pg does.
      return { id, rows: res.rows, rowCount: res.affectedRows || res.rows.length };
    }
    case "commit":
    case "rollback": {
      const tx = open;
      if (!tx) throw new Error(`${req.op}: no transaction is open on the embedded database`);
      open = null;
      tx.finish(req.op === "commit");
      try {
        await tx.done;
      } catch (err) {
        if (err !== ROLLBACK) throw err;
      }
      return { id, rows: [], rowCount: 0 };
    }
    case "close":
      await pglite.close();
      return { id, rows: [], rowCount: 0 };
  }
}

port.on("message", (req: ThreadRequest) => {
  run(req)
    .then(reply, (err) => reply({ id: req.id, error: errorFields(err) }))
    // Closed: the thread ends once the answer is out.
    .finally(() => req.op === "close" && port.close());
});
