// The parts every role shares: logging and metrics, the database (migrated), tokens, Redis, the scheduler, the
// flood limits, a Socket.IO server (attached to PORT only by the web role; a worker's only emits through the Redis
// adapter), the head signer, the cache evictions and the sessions module; and the HTTP server on PORT that answers
// health on every role. Each role (web.ts, worker.ts) adds its own work on top; server.ts composes them.
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import path from "node:path";
import { secureRandom } from "@backchannel/common";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { Server as IoServer } from "socket.io";
import { userExists } from "../auth/accounts";
import { createTokenService, type TokenService } from "../auth/tokens";
import type { Config } from "../config";
import { createLimits, type Limits, registerLimits } from "../limits";
import { createLogger } from "../log";
import { createMetrics, type Metrics, type MetricsServer, startMetricsServer } from "../metrics";
import type { MailChannel, PushChannel } from "../notify/channels";
import { createMailChannel } from "../notify/mail";
import { Notifications } from "../notify/outbox";
import { createPushChannel } from "../notify/push";
import { createUnsubscribeTokens, type UnsubscribeTokens, unsubscribeKeyFrom } from "../notify/unsubscribe";
import { loadOrCreateVapidKeys } from "../notify/vapid";
import { createClusterAdapter } from "../realtime/adapter";
import { createSocketPublisher } from "../realtime/publisher";
import { deadlineJobsAtOnce } from "../sessions/commands";
import { type CacheEvictions, createRedisEvictions } from "../sessions/evictions";
import { SessionService } from "../sessions/service";
import { loadOrCreateMasterKey } from "../store/crypto";
import { type Db, openDb } from "../store/db";
import { grantAppRole, migrate } from "../store/migrations";
import { type HeadSigner, loadOrCreateSigningKey } from "../store/signing";
import { createScheduler, type Scheduler } from "../timers";

/** What a role adds to a node, and how it stops. */
export interface Role {
  /** shutdown, first step: take no new work */
  stopAccepting(): void;
  /** shutdown, once in-flight commands have committed and been answered */
  close(): Promise<void>;
}

export interface Shared {
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** the metrics listener, unless METRICS_PORT=off */
  metricsServer?: MetricsServer;
  db: Db;
  tokens: TokenService;
  redis?: Redis;
  scheduler: Scheduler;
  limits: Limits;
  io: IoServer;
  signer: HeadSigner;
  evictions?: CacheEvictions;
  sessions: SessionService;
  /** the notification outbox (mail and Web Push); the worker role delivers it */
  notifications: Notifications;
  mail: MailChannel;
  push: PushChannel;
  /** signs and checks the unsubscribe links in mails */
  unsubscribe: UnsubscribeTokens;
  /** PORT's server: a role hands it its request handler with serve() */
  httpServer: HttpServer;
  serve(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  ready(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  now?: () => number;
  /** closes what this module opened (after the roles have stopped) */
  close(): Promise<void>;
}

export async function openShared(
  config: Config,
  opts: { log?: Logger; now?: () => number } = {},
): Promise<Shared> {
  const log = opts.log ?? createLogger({ level: config.logLevel, name: "backchannel" });
  const metrics = createMetrics();
  // First, so that a taken metrics port stops the process before it opens anything else.
  const metricsServer = await listenForMetrics(config, metrics);
  const db = await openDb({
    databaseUrl: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : path.join(config.dataDir, "pglite"),
  });
  await migrateAs(config, db);
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
  // Reconnects every 200 ms at most while Redis is away, so readiness turns back soon after it returns.
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        maxRetriesPerRequest: 3,
        retryStrategy: (attempt) => Math.min(attempt * 50, 200),
      })
    : undefined;
  redis?.on("error", redisError);
  const scheduler = createScheduler({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    // The in-process scheduler keeps the pipeline's clock, so a deadline is due by the same clock that decides it.
    now: opts.now,
    onError: (err, job) =>
      log.error({ err: String(err), sessionId: job.sessionId, key: job.key }, "deadline handler failed"),
    // Into the JSON log like every other line, not stderr as plain text.
    onRedisError: (err) => log.warn({ err: err.message }, "deadline queue redis error"),
    // Firings run together share batches (group commit, worker.ts): enough at once for a burst to fill them. A running
    // handler only waits for its tick's batch; in process it costs a promise, on BullMQ an active job.
    concurrency: config.redisUrl ? deadlineJobsAtOnce(db.kind) : DEADLINE_CONCURRENCY_IN_PROCESS,
  });
  // The request listener exists before Socket.IO attaches (web role): Socket.IO then owns /socket.io/ and passes
  // the rest through to the role's handler.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const httpServer = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  const limits = createLimits({ config, redis, log, now: opts.now });
  const io = new IoServer({
    maxHttpBufferSize: config.socketMaxBuffer,
    serveClient: false,
    // Browsers always send Origin; refuse any origin not on the allow-list. Non-browser clients send none.
    allowRequest: (req: IncomingMessage, cb: (err: string | null | undefined, success: boolean) => void) => {
      const origin = req.headers.origin;
      const allowed = !origin || config.allowedOrigins.includes(origin);
      cb(allowed ? null : "FORBIDDEN_ORIGIN", allowed);
    },
  });
  registerLimits(io, limits);
  let adapterClients: Redis[] = [];
  if (config.redisUrl) {
    // Every push to a room is an SPUBLISH: those issued in one loop turn (a batch's pushes) go out in one write. In the
    // 2,000-deadline burst's profile the adapter's publishing went from 519 ms of CPU (a write per PUBLISH, before
    // sharded Pub/Sub) to 148 ms.
    const pub = new Redis(config.redisUrl, { enableAutoPipelining: true });
    const sub = pub.duplicate({ enableAutoPipelining: false });
    adapterClients = [pub, sub];
    for (const c of adapterClients) c.on("error", redisError);
    // Sharded Pub/Sub (Redis 7), a channel per room, this node's sockets served first (realtime/adapter.ts).
    io.adapter(createClusterAdapter(pub, sub, `${config.redisPrefix}-io`));
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
  const unsubscribe = createUnsubscribeTokens(unsubscribeKeyFrom(masterKey));
  const mail = createMailChannel({
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    dataDir: config.dataDir,
    publicUrl: config.publicUrl,
    unsubscribe,
    now: opts.now,
  });
  // Never silently dropped: without SMTP_URL every mail is a file in this folder.
  log.info(
    { mail: mail.destination },
    config.smtpUrl ? "mail goes through SMTP" : "mail goes to the outbox folder",
  );
  const push = createPushChannel({
    db,
    keys: loadOrCreateVapidKeys({
      publicKey: config.vapidPublicKey,
      privateKey: config.vapidPrivateKey,
      dataDir: config.dataDir,
      log: (m: string) => log.warn(m),
    }),
    subject: config.vapidSubject,
    log,
  });
  // Its own queue, so a slow mail server never delays a deadline.
  const noticeScheduler = createScheduler({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    queueName: "notifications",
    // In process (the embedded database's single connection): a few at once. BullMQ keeps its worker's default.
    ...(config.redisUrl ? {} : { concurrency: EMBEDDED_NOTICE_CONCURRENCY }),
    onError: (err, job) => log.warn({ err: String(err), notice: job.sessionId }, "notice trigger failed"),
    onRedisError: (err) => log.warn({ err: err.message }, "notification queue redis error"),
  });
  let sessionsRef: SessionService | undefined;
  const notifications = new Notifications({
    db,
    scheduler: noticeScheduler,
    mail,
    push,
    readSession: async (id) => (sessionsRef ? sessionsRef.reads.read(id) : null),
    // None while this node's commands or due deadlines (or their pushes) are waiting, so a burst of notices (a deal
    // sends eight, each rendered, the members' with a PDF) never stands in front of them on the event loop or the
    // embedded database's one connection (a notice can wait a moment; a command or a deadline should not). A worker-
    // only node runs no commands: its deliveries never wait.
    gate: () => (sessionsRef ? sessionsRef.commands.idle() : Promise.resolve()),
    log,
    now: opts.now,
  });
  const sessions = new SessionService({
    db,
    masterKey,
    signer,
    evictions,
    scheduler,
    publisher: createSocketPublisher(io, signer, {
      onDeal: () => metrics.dealsTotal.inc(),
      log,
      // One node sees every socket: its empty rooms get nothing. Through the Redis adapter, other nodes' are unknown.
      ...(config.redisUrl ? {} : { occupied: occupiedRooms(io) }),
    }),
    notices: notifications,
    metrics,
    log,
    random: secureRandom(),
    now: opts.now,
    cachedStates: config.stateCacheSessions,
  });
  sessionsRef = sessions;

  // Readiness answers promptly whatever the state of its dependencies: a check that has not answered within
  // READY_CHECK_MS counts as unreachable, and Redis is unreachable at once while its client is not connected.
  const ready = async () => {
    const checks: Record<string, string> = {};
    const database = db.query("SELECT 1").then(
      () => "ok",
      () => "unreachable",
    );
    const redisCheck = redis
      ? redis.status !== "ready"
        ? Promise.resolve("unreachable")
        : redis.ping().then(
            (r) => (r === "PONG" ? "ok" : "unreachable"),
            () => "unreachable",
          )
      : undefined;
    checks.database = await within(database, READY_CHECK_MS, "unreachable");
    if (redisCheck) checks.redis = await within(redisCheck, READY_CHECK_MS, "unreachable");
    return { ok: Object.values(checks).every((v) => v === "ok"), checks };
  };

  return {
    config,
    log,
    metrics,
    metricsServer,
    db,
    tokens,
    redis,
    scheduler,
    limits,
    io,
    signer,
    evictions,
    sessions,
    notifications,
    mail,
    push,
    unsubscribe,
    httpServer,
    serve(h) {
      handler = h;
    },
    ready,
    now: opts.now,
    async close() {
      await metricsServer?.close();
      await sessions.commands.drain();
      await notifications.close();
      await evictions?.close();
      await Promise.all([redis, ...adapterClients].map((c) => c?.quit().catch(() => {})));
      await db.close();
    },
  };
}

/** Deadline handlers one node runs at once in process (their ticks share transactions); BullMQ: deadlineJobsAtOnce. */
const DEADLINE_CONCURRENCY_IN_PROCESS = 1000;

/** Notice deliveries the embedded node runs at once (each takes two short transactions). */
const EMBEDDED_NOTICE_CONCURRENCY = 2;

/** How long /readyz waits for each check before it counts as unreachable. */
const READY_CHECK_MS = 1_000;

function within<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Migrates the schema: as its owner when DATABASE_OWNER_URL is set (docs/operations.md), else as the app. */
async function migrateAs(config: Config, db: Db): Promise<void> {
  if (!config.databaseOwnerUrl) return void (await migrate(db));
  // The schema's owner migrates; the app's own role may only read and append to the log.
  const owner = await openDb({ databaseUrl: config.databaseOwnerUrl });
  try {
    await migrate(owner);
    await grantAppRole(owner, decodeURIComponent(new URL(config.databaseUrl as string).username));
  } finally {
    await owner.close();
  }
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

/** Whether a room has a socket on this node: the default adapter's own map (it drops a room as its last socket leaves). */
function occupiedRooms(io: IoServer): (room: string) => boolean {
  const { rooms } = io.of("/").adapter;
  return (room) => rooms.has(room);
}
