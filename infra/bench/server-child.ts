// One server under test, in a process of its own (started by child.ts), so that the load generator's CPU and
// memory are never counted as the server's. BENCH_CHILD_MODE says which server:
//   backchannel  the real server (loadConfig(process.env) + startServer), logging at production level into a sink
//                that keeps only its warnings and errors
//   bare         a bare Socket.IO server: no auth, no validation, no database; `command` is acked and broadcast to
//                its room ("room" unless it names one; `join` takes a socket there) (the yardstick for acks, pushes
//                and memory per socket)
//   floor        the bare server whose `command` is first made durable (lock one row, insert one ~300-byte row,
//                update the locked row; commands that arrive during a commit share the next, one row each) on
//                BENCH_FLOOR_DATABASE_URL or a PGlite BENCH_FLOOR_DATA_DIR, through the server's own openDb (so PGlite
//                commits are exactly as durable as the server's); and
//                `arm`, the deadline burst's floor: one timer per socket, and at its due time one ~300-byte row per
//                deadline stored in group commits of up to 100 (one transaction each), and only then one push to the
//                socket's own room
// The parent talks to it over the IPC channel: {op:"usage"} answers memory and CPU (after a full GC when asked),
// {op:"close"} stops it. It exits by itself when the parent goes away.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import type { Db } from "../../server/src/store/db";

export type ChildMode = "backchannel" | "bare" | "floor";

export type ToChild = { id: number; op: "usage"; gc: boolean } | { id: number; op: "close" };

export interface Usage {
  /** bytes */
  rss: number;
  heapUsed: number;
  /** V8's heap as reserved from the system (young generation included) */
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** process.cpuUsage(), microseconds */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** performance.timeOrigin + performance.now() of the child, ms */
  at: number;
  sockets: number;
}

export type FromChild =
  | { op: "ready"; url: string; pid: number; metricsUrl?: string }
  | { op: "failed"; error: string }
  | { id: number; op: "usage"; usage: Usage }
  | {
      id: number;
      op: "closed";
      log: { warnings: string[]; errors: string[] };
      /** floor mode: each command's durable commit alone, ms */
      commitMs: number[];
    };

const send = (m: FromChild) => process.send?.(m);
const mode = (process.env.BENCH_CHILD_MODE ?? "backchannel") as ChildMode;
const serverLog = { warnings: [] as string[], errors: [] as string[] };
const commitMs: number[] = [];
let sockets = () => 0;
let close: () => Promise<void> = async () => {};
/** where the backchannel server under test serves /metrics */
let metricsUrl: string | undefined;

// The parent is gone (killed, crashed): nothing should outlive it.
process.on("disconnect", () => process.exit(1));

async function startBare(db?: Db): Promise<string> {
  const httpServer = createServer();
  const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 1e6 });
  let version = 0;
  const body = "x".repeat(300);
  io.on("connection", (socket) => {
    socket.on("join", async (payload: { room?: string } | undefined, ack: (r: unknown) => void) => {
      await socket.join(payload?.room ?? "room");
      ack({ ok: true });
    });
    socket.on(
      "command",
      (payload: { side?: string; room?: string } | undefined, ack: (r: unknown) => void) => {
        commands.push({
          room: payload?.room ?? "room",
          side: payload?.side ?? "claimant",
          by: socket.id,
          ack,
        });
        void commitCommands();
      },
    );
    socket.on("arm", async (payload: { dueAt: number }, ack: (r: unknown) => void) => {
      const room = `d:${socket.id}`;
      await socket.join(room);
      const { dueAt } = payload;
      setTimeout(
        () => {
          due.push({ room, dueAt });
          void fireDue();
        },
        Math.max(0, dueAt - Date.now()),
      );
      ack({ ok: true });
    });
  });
  // Commands are group-committed: those that arrive while a commit runs share the next one (one transaction, at most
  // FLOOR_BATCH rows); each is acked, and its push sent, only once its own commit is done. One in flight, a command
  // commits alone at once (the floor's one-row transaction).
  const commands: Array<{ room: string; side: string; by: string; ack: (r: unknown) => void }> = [];
  let committing = false;
  const commitCommands = async () => {
    if (committing) return;
    committing = true;
    while (commands.length > 0) {
      const batch = commands.splice(0, FLOOR_BATCH);
      try {
        if (db) {
          const t0 = performance.now();
          if (batch.length === 1) await floorCommit?.(db, body);
          else await floorBatchCommit?.(db, batch.length, body);
          const ms = performance.now() - t0;
          for (const _ of batch) commitMs.push(ms);
        }
      } catch (err) {
        serverLog.errors.push(`floor command: ${String(err)}`);
        for (const c of batch) c.ack({ ok: false });
        continue;
      }
      for (const c of batch) {
        version += 1;
        c.ack({ ok: true, version });
        io.to(c.room).emit("event", {
          room: c.room,
          version,
          event: { type: "NumberSet", side: c.side, by: c.by, at: Date.now() },
        });
      }
    }
    committing = false;
  };
  // The burst's floor: what is due is stored in one transaction per FLOOR_BATCH deadlines (the server's own
  // BATCH_MAX), one batch at a time, and each deadline's room hears of it once its batch has committed.
  const due: Array<{ room: string; dueAt: number }> = [];
  let firing = false;
  const fireDue = async () => {
    if (firing) return;
    firing = true;
    try {
      while (due.length > 0) {
        const batch = due.splice(0, FLOOR_BATCH);
        if (db) await floorBatchCommit?.(db, batch.length, body);
        const at = Date.now();
        for (const d of batch) io.to(d.room).emit("fired", { dueAt: d.dueAt, at, body });
        // A loop turn between batches, as the server gives its sockets and health checks.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      serverLog.errors.push(`floor burst: ${String(err)}`);
    } finally {
      firing = false;
    }
  };
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  sockets = () => io.engine.clientsCount;
  close = async () => {
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await db?.close();
  };
  return `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
}

// Loaded only by the modes that use them, so the bare server's memory holds Socket.IO and nothing else.
let floorCommit: ((db: Db, body: string) => Promise<void>) | undefined;
let floorBatchCommit: ((db: Db, rows: number, body: string) => Promise<void>) | undefined;
const FLOOR_BATCH = 100;

async function startBackchannel(): Promise<string> {
  const { loadConfig } = await import("../../server/src/config");
  const { createLogger } = await import("../../server/src/log");
  const { startServer } = await import("../../server/src/server");
  const log = createLogger(
    { level: "info", name: "backchannel-bench" },
    {
      write(line: string) {
        const rec = JSON.parse(line) as { level: number; msg?: string; err?: unknown };
        const text = `${rec.msg ?? "(no message)"}${typeof rec.err === "string" ? `: ${rec.err}` : ""}`;
        if (rec.level >= 50) serverLog.errors.push(text);
        else if (rec.level >= 40) serverLog.warnings.push(text);
      },
    },
  );
  const server = await startServer(loadConfig(process.env), { log });
  sockets = () => server.io.engine.clientsCount;
  close = () => server.close();
  metricsUrl = server.metricsUrl;
  return server.url;
}

function usage(gc: boolean): Usage {
  if (gc) (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpuUserUs: c.user,
    cpuSystemUs: c.system,
    at: performance.timeOrigin + performance.now(),
    sockets: sockets(),
  };
}

process.on("message", (m: ToChild) => {
  if (m.op === "usage") send({ id: m.id, op: "usage", usage: usage(m.gc) });
  else if (m.op === "close") {
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    close()
      .catch((err: unknown) => serverLog.errors.push(`close: ${String(err)}`))
      .finally(() => {
        send({ id: m.id, op: "closed", log: serverLog, commitMs });
        setTimeout(() => process.exit(0), 50);
      });
  }
});

try {
  let url: string;
  if (mode === "backchannel") url = await startBackchannel();
  else if (mode === "bare") url = await startBare();
  else {
    const { openDb } = await import("../../server/src/store/db");
    const floor = await import("./floor");
    floorCommit = floor.floorCommit;
    floorBatchCommit = floor.floorBatchCommit;
    const databaseUrl = process.env.BENCH_FLOOR_DATABASE_URL || undefined;
    const db = await openDb(databaseUrl ? { databaseUrl } : { dataDir: process.env.BENCH_FLOOR_DATA_DIR });
    await floor.prepareFloorTables(db);
    url = await startBare(db);
  }
  send({ op: "ready", url, pid: process.pid, metricsUrl });
} catch (err) {
  send({ op: "failed", error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  setTimeout(() => process.exit(1), 50);
}
