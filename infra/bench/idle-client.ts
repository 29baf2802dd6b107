// One of the idle-socket bench's client processes (forked by idle.ts): opens its share of authenticated
// sockets from a loopback address of its own (so no process runs out of ephemeral ports), keeps them open and
// counts the ones the server or the network closes. Talks to its parent over IPC.
import { io as connect, type Socket } from "socket.io-client";

export type ToIdleClient =
  | { op: "connect"; url: string; token: string; count: number; localAddress: string; concurrency: number }
  | { op: "report" }
  | { op: "close" };

export type FromIdleClient =
  | { op: "connected"; ok: number; failed: number; firstError: string | null; ms: number }
  | { op: "report"; open: number; drops: number };

const sockets: Socket[] = [];
let drops = 0;
const send = (m: FromIdleClient) => process.send?.(m);
process.on("disconnect", () => process.exit(1));

function open(url: string, token: string, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(url, {
      auth: { token },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      localAddress,
      timeout: 60_000,
    } as Parameters<typeof connect>[1]);
    socket.once("connect", () => {
      socket.on("disconnect", (reason) => {
        if (reason !== "io client disconnect") drops += 1;
      });
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

process.on("message", async (m: ToIdleClient) => {
  if (m.op === "connect") {
    const t0 = performance.now();
    let ok = 0;
    let failed = 0;
    let firstError: string | null = null;
    let next = 0; // "connect" may come more than once: each adds its count
    const worker = async () => {
      while (next < m.count) {
        next += 1;
        try {
          sockets.push(await open(m.url, m.token, m.localAddress));
          ok += 1;
        } catch (err) {
          failed += 1;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: m.concurrency }, worker));
    send({ op: "connected", ok, failed, firstError, ms: Math.round(performance.now() - t0) });
  } else if (m.op === "report") {
    send({ op: "report", open: sockets.filter((s) => s.connected).length, drops });
  } else {
    for (const s of sockets) s.disconnect();
    setTimeout(() => process.exit(0), 100);
  }
});
