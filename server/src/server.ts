// Composition root: wires storage, scheduler, auth, HTTP and Socket.IO for one node.
// Roles: "web" serves HTTP + sockets, "worker" fires deadlines, "all" does both (the default).
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { secureRandom } from "@backchannel/common";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { Server as IoServer } from "socket.io";
import { userExists } from "./auth/accounts";
import { createTokenService } from "./auth/tokens";
import type { Config } from "./config";
import { createHttpApp } from "./http/app";
import { createLimits, registerLimits } from "./limits";
import { createLogger } from "./log";
import { createMetrics, type Metrics, type MetricsServer, startMetricsServer } from "./metrics";
import { attachGateway } from "./realtime/gateway";
import { createSocketPublisher } from "./realtime/publisher";
import { createRedisEvictions } from "./sessions/evictions";
import { SessionService } from "./sessions/service";
import { loadOrCreateMasterKey } from "./store/crypto";
import { openDb } from "./store/db";
import { grantAppRole, migrate } from "./store/migrations";
import { loadOrCreateSigningKey } from "./store/signing";
import { createScheduler, type Scheduler } from "./timers";

export interface RunningServer {
  url: string;
  port: number;
  /** the metrics listener (http://METRICS_HOST:port, serving /metrics), unless METRICS_PORT=off */
  metricsUrl?: string;
  sessions: SessionService;
  scheduler: Scheduler;
  io: IoServer;
  /** Graceful: stop accepting, finish in-flight commands, close worker, queue and database. */
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CLIENT_DIST = path.resolve(here, "../../client/dist");

export async function startServer(
  config: Config,
  opts: { log?: Logger; now?: () => number } = {},
): Promise<RunningServer> {
  const log = opts.log ?? createLogger({ level: config.logLevel, name: "backchannel" });
  const metrics = createMetrics();
  // First, so that a taken metrics port stops the process before it opens anything else.
  const metricsServer = await listenForMetrics(config, metrics);
  const db = await openDb({
    databaseUrl: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : path.join(config.dataDir, "pglite"),
  });
  if (config.databaseOwnerUrl) {
    // The schema's owner migrates; the app's own role may only read and append to the log (docs/operations.md).
    const owner = await openDb({ databaseUrl: config.databaseOwnerUrl });
    try {
      await migrate(owner);
      await grantAppRole(owner, decodeURIComponent(new URL(config.databaseUrl as string).username));
    } finally {
      await owner.close();
    }
  } else await migrate(db);
  const masterKey = loadOrCreateMasterKey({
    masterKeyEnv: config.masterKey,
    dataDir: config.dataDir,
    log: (m) => log.warn(m),
  });
  const tokens = await createTokenService({
    secret: config.jwtSecret,
    dataDir: config.dataDir,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    ttlSeconds: config.tokenTtlSeconds,
    now: opts.now,
    userExists: (id) => userExists(db, id),
  });

  const redisError = (err: Error) => log.warn({ err: err.message }, "redis connection error");
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 3 }) : undefined;
  redis?.on("error", redisError);
  const scheduler = createScheduler({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    onError: (err, job) =>
      log.error({ err: String(err), sessionId: job.sessionId, key: job.key }, "deadline handler failed"),
  });
  // Express is bound late (it needs the session service, which needs the socket server), but the request
  // listener exists before Socket.IO attaches: Socket.IO then owns /socket.io/ and passes the rest through.
  let handleRequest: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const httpServer: HttpServer = createServer((req, res) => {
    if (handleRequest) handleRequest(req, res);
    else res.writeHead(503).end();
  });
  const limits = createLimits({ config, redis, log, now: opts.now });
  const ioOptions = {
    maxHttpBufferSize: config.socketMaxBuffer,
    serveClient: false,
    // Browsers always send Origin; refuse any origin not on the allow-list. Non-browser clients send none.
    allowRequest: (req: IncomingMessage, cb: (err: string | null | undefined, success: boolean) => void) => {
      const origin = req.headers.origin;
      const allowed = !origin || config.allowedOrigins.includes(origin);
      cb(allowed ? null : "FORBIDDEN_ORIGIN", allowed);
    },
  };
  // A worker accepts no sockets: its Socket.IO server only emits, through the Redis adapter, to web nodes' clients.
  const io = config.role === "worker" ? new IoServer(ioOptions) : new IoServer(httpServer, ioOptions);
  registerLimits(io, limits);
  let pub: Redis | undefined;
  let sub: Redis | undefined;
  if (redis && config.redisUrl) {
    pub = new Redis(config.redisUrl);
    sub = pub.duplicate();
    pub.on("error", redisError);
    sub.on("error", redisError);
    io.adapter(createAdapter(pub, sub, { key: `${config.redisPrefix}-io` }));
  }

  const signer = loadOrCreateSigningKey({
    signingKeyEnv: config.auditSigningKey,
    dataDir: config.dataDir,
    log: (m) => log.warn(m),
  });
  const evictions =
    config.redisUrl !== undefined
      ? createRedisEvictions({ redisUrl: config.redisUrl, prefix: config.redisPrefix, onError: redisError })
      : undefined;
  const sessions = new SessionService({
    db,
    masterKey,
    signer,
    evictions,
    scheduler,
    publisher: createSocketPublisher(io, signer, () => metrics.dealsTotal.inc()),
    metrics,
    log,
    random: secureRandom(),
    now: opts.now,
  });

  const ready = async () => {
    const checks: Record<string, string> = {};
    try {
      await db.query("SELECT 1");
      checks.database = "ok";
    } catch {
      checks.database = "unreachable";
    }
    if (redis)
      checks.redis = (await redis.ping().catch(() => "unreachable")) === "PONG" ? "ok" : "unreachable";
    return { ok: Object.values(checks).every((v) => v === "ok"), checks };
  };

  // Every role answers /healthz and /readyz on PORT (metrics have a listener of their own, below); only web nodes
  // serve the API, the client and sockets.
  handleRequest = createHttpApp({
    config,
    db,
    tokens,
    sessions,
    signer,
    limits,
    metrics,
    log,
    ready,
    now: opts.now,
  });
  const gateway =
    config.role === "worker"
      ? undefined
      : attachGateway({ io, config, tokens, sessions, metrics, log, now: opts.now });
  let sweep: NodeJS.Timeout | undefined;
  if (config.role !== "web") {
    await scheduler.start(async (job, info) => {
      metrics.deadlineLateness.observe(Math.max(0, info.latenessMs) / 1000);
      await sessions.tick(job.sessionId);
    });
    const n = await sessions.reconcileDeadlines();
    log.info({ deadlines: n }, "deadlines reconciled");
    // The database holds every deadline: a row still there well after its time lost its trigger (a job that
    // failed all its retries, a flushed Redis). Re-arm those; a duplicate trigger only finds nothing due.
    const now = opts.now ?? Date.now;
    sweep = setInterval(() => {
      sessions
        .reconcileDeadlines({ dueBefore: now() - Math.min(config.deadlineSweepMs, 5_000) })
        .then((count) => {
          if (count > 0) log.warn({ deadlines: count }, "re-armed overdue deadlines");
        })
        .catch((err: unknown) => log.error({ err: String(err) }, "deadline sweep failed"));
    }, config.deadlineSweepMs);
    sweep.unref();
  }

  await new Promise<void>((resolve) => httpServer.listen(config.port, config.host, resolve));
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  log.info(
    { url, metrics: metricsServer?.url ?? "off", role: config.role, db: db.kind, scheduler: scheduler.kind },
    "backchannel listening",
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    metricsUrl: metricsServer?.url,
    sessions,
    scheduler,
    io,
    close() {
      closing ??= (async () => {
        // Stop accepting connections, let in-flight commands commit (and ack), then close sockets.
        clearInterval(sweep);
        limits.close();
        const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        await sessions.drain();
        sessions.stopScheduling();
        await scheduler.close();
        await sessions.drain();
        // Let the acks of those last commands go out before the sockets close.
        await new Promise((resolve) => setImmediate(resolve));
        gateway?.stop();
        if (config.role === "worker") {
          // Never attached to an HTTP server (io.close would reach for its engine): only the adapter to close.
          await io.of("/").adapter.close();
        } else {
          io.disconnectSockets(true);
          await new Promise<void>((resolve) => io.close(() => resolve()));
        }
        httpServer.closeAllConnections?.();
        await httpClosed.catch(() => {});
        await metricsServer?.close();
        await sessions.drain();
        await evictions?.close();
        await Promise.all([redis?.quit(), pub?.quit(), sub?.quit()].map((p) => p?.catch(() => {})));
        await db.close();
      })();
      return closing;
    },
  };
}

async function listenForMetrics(config: Config, metrics: Metrics): Promise<MetricsServer | undefined> {
  if (config.metricsPort === null) return undefined;
  try {
    return await startMetricsServer({
      metrics,
      host: config.metricsHost,
      port: config.metricsPort,
      token: config.metricsToken,
    });
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : "unknown error");
    throw new Error(
      `cannot serve metrics on ${config.metricsHost} port ${config.metricsPort} (${reason}): set METRICS_PORT to a free port, or METRICS_PORT=off`,
    );
  }
}
