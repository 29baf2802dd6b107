// The yardstick: a bare Socket.IO server (no auth, no validation, no database; server-child.ts "bare") doing the
// same shape of work as a Backchannel command: one client emits with an ack, the server acks and broadcasts to the
// room. The floor (floor.ts) is the same server with a durable commit before the ack. Whatever Backchannel adds on
// top of these figures is the cost of its own work.
import { randomUUID } from "node:crypto";
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

const TIMEOUT_MS = 5_000;

/**
 * Against a bare server (server-child.ts, mode "bare" or "floor") at `url`: `sockets` clients join the room, the
 * first emits `command` with an ack, one in flight; each round is timed to the ack and to the push reaching the
 * last socket.
 */
export async function runBaseline(
  url: string,
  opts: { sockets: number; iterations: number; warmup: number },
): Promise<RoundTrips> {
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
  }
}
