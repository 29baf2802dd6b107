// The yardstick: a bare Socket.IO server (no auth, no validation, no database) doing the same shape of work
// as a Backchannel command: one client emits with an ack, the server acks and broadcasts to the room.
// Whatever Backchannel adds on top of these figures is the cost of its own work.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { io as connect, type Socket } from "socket.io-client";
import { ArrivalLog } from "./arrivals";

interface Push {
  room: string;
  version: number;
  event: { type: string; side: string; by: string; at: number };
}

export interface RoundTrips {
  /** emit -> ack received by the sender, ms */
  ack: number[];
  /** emit -> the push reached the last of the room's sockets (the sender included), ms */
  fanout: number[];
}

const ROOM = "room";
const TIMEOUT_MS = 5_000;

export async function runBaseline(opts: {
  sockets: number;
  iterations: number;
  warmup: number;
}): Promise<RoundTrips> {
  const httpServer = createServer();
  const io = new Server(httpServer, { serveClient: false });
  let version = 0;
  io.on("connection", (socket) => {
    socket.on("join", async (_payload: unknown, ack: (r: unknown) => void) => {
      await socket.join(ROOM);
      ack({ ok: true });
    });
    socket.on("command", (payload: { side: string }, ack: (r: unknown) => void) => {
      version += 1;
      ack({ ok: true, version });
      io.to(ROOM).emit("event", {
        room: ROOM,
        version,
        event: { type: "NumberSet", side: payload.side, by: socket.id, at: Date.now() },
      });
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;

  const clients: Array<{ socket: Socket; arrivals: ArrivalLog<Push> }> = [];
  try {
    for (let i = 0; i < opts.sockets; i++) {
      const socket = connect(url, { transports: ["websocket"], reconnection: false, forceNew: true });
      const arrivals = new ArrivalLog<Push>((p) => [String(p.version)]);
      socket.on("event", (p: Push) => arrivals.record(p));
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      });
      clients.push({ socket, arrivals });
      await socket.timeout(TIMEOUT_MS).emitWithAck("join", {});
    }
    const sender = clients[0]?.socket;
    if (!sender) throw new Error("no sockets");

    const result: RoundTrips = { ack: [], fanout: [] };
    for (let i = 0; i < opts.warmup + opts.iterations; i++) {
      const sentAt = performance.now();
      const ack = (await sender
        .timeout(TIMEOUT_MS)
        .emitWithAck("command", { side: "claimant", key: randomUUID() })) as {
        version: number;
      };
      const ackAt = performance.now();
      const reached = await Promise.all(
        clients.map((c) => c.arrivals.waitFor(String(ack.version), TIMEOUT_MS)),
      );
      if (i < opts.warmup) continue;
      result.ack.push(ackAt - sentAt);
      result.fanout.push(Math.max(...reached.map((r) => r.at)) - sentAt);
    }
    return result;
  } finally {
    for (const c of clients) c.socket.disconnect();
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
  }
}
