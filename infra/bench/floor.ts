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
import { ArrivalLog } from "./arrivals";
import { runBaseline } from "./baseline";
import { type ChildLog, type ChildServer, startChild } from "./child";
import { type BackgroundLoad, backgroundOf, startOpenLoop } from "./load";
import { observePhase, type PhaseStats } from "./phase-stats";
import { runRateSteps, type ThroughputResults } from "./throughput";

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
  const { value: trips, log } = await withFloorServer(opts, ({ url }) =>
    runBaseline(url, { sockets: 1, iterations: opts.iterations, warmup: opts.warmup }),
  );
  return { ack: trips.ack, commit: log.commitMs.slice(opts.warmup) };
}

/**
 * Runs `use` against a floor server (server-child.ts "floor") on PostgreSQL at `databaseUrl`, or else on PGlite in a
 * fresh temporary folder; the server is closed (and must have logged no error) before the result is returned.
 */
async function withFloorServer<T>(
  opts: { databaseUrl?: string | undefined; nofile?: number },
  use: (server: ChildServer) => Promise<T>,
): Promise<{ value: T; log: ChildLog }> {
  const dataDir = opts.databaseUrl ? undefined : mkdtempSync(path.join(tmpdir(), "bc-bench-floor-"));
  const env: Record<string, string> = opts.databaseUrl
    ? { BENCH_FLOOR_DATABASE_URL: opts.databaseUrl }
    : { BENCH_FLOOR_DATA_DIR: path.join(dataDir as string, "pglite") };
  try {
    const child = await startChild("floor", env, opts.nofile ? { nofile: opts.nofile } : {});
    try {
      const value = await use(child);
      const log = await child.close();
      if (log.errors.length > 0) throw new Error(log.errors.join("; "));
      return { value, log };
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
  const { value } = await withFloorServer(opts, ({ url }) =>
    // No room to join: `arm` puts each socket in a room of its own.
    withFloorClients(url, Array<null>(opts.dueOffsets.length).fill(null), async (clients) => {
      const sockets = clients.map((c) => c.socket);
      const first = Date.now() + 3_000;
      const last = first + Math.max(0, ...opts.dueOffsets);
      const arrivals = sockets.map((socket, i) => {
        const dueAt = first + (opts.dueOffsets[i] as number);
        return new Promise<{ received: number; fired: number } | null>((resolve) => {
          const timer = setTimeout(() => resolve(null), last - Date.now() + opts.waitMs);
          socket.once("fired", (push: { dueAt: number; at: number }) => {
            clearTimeout(timer);
            resolve({ received: performance.timeOrigin + performance.now() - dueAt, fired: push.at - dueAt });
          });
        });
      });
      await Promise.all(
        sockets.map((socket, i) =>
          socket.timeout(10_000).emitWithAck("arm", { dueAt: first + (opts.dueOffsets[i] as number) }),
        ),
      );
      const out: DeadlineFloor = { sessions: sockets.length, fired: [], received: [], missing: 0 };
      for (const r of await Promise.all(arrivals)) {
        if (!r) out.missing += 1;
        else {
          out.received.push(r.received);
          out.fired.push(r.fired);
        }
      }
      return out;
    }),
  );
  return value;
}

/** A socket of the floor's own clients, with its pushes' arrivals by version. */
interface FloorClient {
  socket: Socket;
  arrivals: ArrivalLog<{ version: number }>;
}

/**
 * Runs `use` with one socket per entry of `rooms` connected to the floor server at `url` (50 at a time), each joined
 * to its room (null: none); every socket is disconnected afterwards, also when connecting failed half way.
 */
async function withFloorClients<T>(
  url: string,
  rooms: Array<string | null>,
  use: (clients: FloorClient[]) => Promise<T>,
): Promise<T> {
  const clients: FloorClient[] = [];
  try {
    for (let i = 0; i < rooms.length; i += 50)
      await Promise.all(
        rooms.slice(i, i + 50).map(async (room) => {
          const socket = connect(url, { transports: ["websocket"], reconnection: false, forceNew: true });
          const arrivals = new ArrivalLog<{ version: number }>((p) => [String(p.version)]);
          socket.on("event", (p: { version: number }) => arrivals.record(p));
          clients.push({ socket, arrivals });
          await new Promise<void>((resolve, reject) => {
            socket.once("connect", () => resolve());
            socket.once("connect_error", reject);
          });
          if (room !== null) await socket.timeout(10_000).emitWithAck("join", { room });
        }),
      );
    return await use(clients);
  } finally {
    for (const c of clients) c.socket.disconnect();
  }
}

async function floorCommand(socket: Socket, room: string, side: string): Promise<number> {
  const ack = (await socket.timeout(10_000).emitWithAck("command", { room, side })) as {
    ok: boolean;
    version?: number;
  };
  if (!ack.ok || ack.version === undefined) throw new Error("the floor server refused a command");
  return ack.version;
}

/**
 * Throughput's floor: the open-loop steps of Backchannel's throughput scenario (throughput.ts, the same rates and
 * limit) against the floor server, whose commands arriving together share a commit. The same sockets: four that
 * receive every command's push (Backchannel's four seats) and `sendersPerSide` senders per side, two of which are
 * among the four.
 */
export async function runThroughputFloor(opts: {
  databaseUrl?: string;
  rates: number[];
  stepMs: number;
  p99LimitMs: number;
  sendersPerSide: number;
}): Promise<Omit<ThroughputResults, "errors">> {
  const { value } = await withFloorServer(opts, (server) => {
    // Four seats in the room, and the other senders in none; senders 0 and 1 are seats (as in throughput.ts).
    const extra = 2 * Math.max(0, opts.sendersPerSide - 1);
    const rooms = [...Array<string>(4).fill("room"), ...Array<null>(extra).fill(null)];
    return withFloorClients(server.url, rooms, (clients) => {
      const senders = [clients[0], clients[2], ...clients.slice(4)].map((c) => (c as FloorClient).socket);
      return runRateSteps(server, opts, async (i) => {
        await floorCommand(
          senders[i % senders.length] as Socket,
          "room",
          i % 2 === 0 ? "claimant" : "respondent",
        );
      });
    });
  });
  return value;
}

export interface DealsFloor {
  sessions: number;
  /** the deal's command emitted -> its push at all three of its room's sockets, ms */
  notified: number[];
  background: BackgroundLoad;
  /** the machine and the bench's loop during the timed commands */
  phase: PhaseStats | null;
}

/**
 * The deal notice's floor at scale: `sessions` rooms of three sockets on the floor server, open-loop commands at
 * `backgroundRate` across the rooms of all but the first `deals`, and in each of those in turn one command whose
 * push must reach all three (as deals.ts times a deal): a durable commit (shared with whatever arrived with it) and a
 * push to three sockets, under the same background load and socket count.
 */
export async function runDealsFloor(opts: {
  databaseUrl?: string;
  sessions: number;
  deals: number;
  backgroundRate: number;
  nofile: number;
}): Promise<DealsFloor> {
  const { value } = await withFloorServer(opts, async ({ url }) => {
    const rooms = Array.from({ length: opts.sessions }, (_, i) => `s${i}`);
    return withFloorClients(
      url,
      rooms.flatMap((r) => [r, r, r]),
      async (clients) => {
        const room = (i: number) => ({ name: rooms[i] as string, sockets: clients.slice(3 * i, 3 * i + 3) });
        const deals = Math.min(opts.deals, opts.sessions);
        const out: DealsFloor = {
          sessions: opts.sessions,
          notified: [],
          background: { rate: opts.backgroundRate, sent: 0, ok: 0, failed: 0, ackP99: Number.NaN },
          phase: null,
        };
        const background = opts.sessions - deals;
        const observing = await observePhase();
        const loop =
          background > 0 && opts.backgroundRate > 0
            ? startOpenLoop(opts.backgroundRate, async (i) => {
                const r = room(deals + (i % background));
                const side = Math.floor(i / background) % 2;
                await floorCommand(
                  (r.sockets[side] as FloorClient).socket,
                  r.name,
                  side === 0 ? "claimant" : "respondent",
                );
              })
            : null;
        try {
          for (let i = 0; i < deals; i++) {
            const r = room(i);
            const sentAt = performance.now();
            const version = await floorCommand((r.sockets[1] as FloorClient).socket, r.name, "respondent");
            const arrivals = await Promise.all(
              r.sockets.map((c) => c.arrivals.waitFor(String(version), 10_000)),
            );
            out.notified.push(Math.max(...arrivals.map((a) => a.at)) - sentAt);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        } finally {
          if (loop) {
            const r = await loop.stop();
            out.background = backgroundOf(opts.backgroundRate, r);
          }
          out.phase = await observing.stop();
        }
        return out;
      },
    );
  });
  return value;
}
