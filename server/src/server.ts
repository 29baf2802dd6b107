// Composition root: one node is the shared parts (services/shared.ts) plus its role's services, the way Outline
// starts its services: ROLE=web serves the API, the client and sockets (services/web.ts), ROLE=worker fires deadlines
// (services/worker.ts), ROLE=all (the default) is both.
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Server as IoServer } from "socket.io";
import type { Config } from "./config";
import type { Notifications } from "./notify/outbox";
import { openShared, type Role, type Shared } from "./services/shared";
import { startWeb } from "./services/web";
import { startWorker } from "./services/worker";
import type { SessionService } from "./sessions/service";
import type { Scheduler } from "./timers";

export interface RunningServer {
  url: string;
  port: number;
  /** the metrics listener (http://METRICS_HOST:port, serving /metrics), unless METRICS_PORT=off */
  metricsUrl?: string;
  sessions: SessionService;
  scheduler: Scheduler;
  /** the notification outbox (tests deliver and reconcile through it) */
  notifications: Notifications;
  io: IoServer;
  /** Graceful: stop accepting, finish in-flight commands, close worker, queue and database. */
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CLIENT_DIST = path.resolve(here, "../../client/dist");

/** Each role's services, in start order. */
const ROLES: Record<Config["role"], Array<(shared: Shared) => Role | Promise<Role>>> = {
  web: [startWeb],
  worker: [(shared) => startWorker(shared, { alone: true })],
  all: [startWeb, (shared) => startWorker(shared, { alone: false })],
};

export async function startServer(
  config: Config,
  opts: { log?: Logger; now?: () => number } = {},
): Promise<RunningServer> {
  const shared = await openShared(config, opts);
  const { httpServer, sessions, scheduler, io, log, limits } = shared;
  const roles: Role[] = [];
  for (const start of ROLES[config.role]) roles.push(await start(shared));

  await new Promise<void>((resolve) => httpServer.listen(config.port, config.host, resolve));
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  log.info(
    {
      url,
      metrics: shared.metricsServer?.url ?? "off",
      role: config.role,
      db: shared.db.kind,
      scheduler: scheduler.kind,
      mail: shared.mail.destination,
    },
    "backchannel listening",
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    metricsUrl: shared.metricsServer?.url,
    sessions,
    scheduler,
    notifications: shared.notifications,
    io,
    close() {
      closing ??= (async () => {
        // Stop accepting connections, let in-flight commands commit (and ack), then close sockets.
        for (const role of roles) role.stopAccepting();
        limits.close();
        const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        await sessions.commands.drain();
        sessions.commands.stopScheduling();
        await scheduler.close();
        await sessions.commands.drain();
        // Let the acks of those last commands go out before the sockets close.
        await new Promise((resolve) => setImmediate(resolve));
        for (const role of roles) await role.close();
        httpServer.closeAllConnections?.();
        await httpClosed.catch(() => {});
        await shared.close();
      })();
      return closing;
    },
  };
}
