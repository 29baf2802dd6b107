// Flood limits, per client address and per account: sign-ups, sign-in attempts, socket handshakes, open sockets,
// socket events and REST commands, session creations, invitations. Shared by every node through Redis when
// REDIS_URL is set (under REDIS_PREFIX), in this process's memory otherwise. Every limit is configurable
// (docs/configuration.md). Stored keys are hashes: no address, email or id sits in Redis in the clear.

import { createHash, randomUUID } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { errors } from "@backchannel/common";
import express from "express";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Config, RateLimit, TrustProxy } from "./config";
import { AppError } from "./errors";

/** A refusal says when to retry (epoch ms, on the server's clock). */
export type LimitResult = { ok: true } | { ok: false; retryAt: number };

export interface Limiter {
  /** a name for logs and stored keys: letters and dashes only */
  readonly name: string;
  /** the refusal over this limit: its one sentence, with when to try again */
  refusal(retryAt: number, now: number): AppError;
  readonly store: "redis" | "memory";
  consume(key: string): Promise<LimitResult>;
  /** forget every attempt counted for key */
  reset(key: string): Promise<void>;
}

export interface LimiterOptions {
  redis?: Redis;
  /** REDIS_PREFIX */
  prefix: string;
  name: string;
  limit: RateLimit;
  /** what a refused person is told, before "Try again …" */
  what?: string;
  log?: Logger;
  now?: () => number;
  /**
   * Whether every node must see the shared count before it lets an event through (true, the default: limits that
   * guard an account, such as sign-in attempts, are exact across nodes). A flood limit that every command passes
   * (socket events, REST commands) says false: this node checks its own count at once and adds to the shared one
   * in the background, so a command never waits for a Redis round trip; an account spread over several nodes gets at
   * most one event per node past the shared budget before each node knows (docs/configuration.md).
   */
  exactAcrossNodes?: boolean;
}

/** The key for one (client address, email) pair of sign-in attempts. */
export function signinKey(address: string, email: string): string {
  return `${address}|${email.trim().toLowerCase()}`;
}

// Hashed so that addresses, emails and ids never sit in Redis (or a heap dump of the memory store) in the clear.
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("base64url");
}

export function createLimiter(opts: LimiterOptions): Limiter {
  if (!/^[a-z][a-z-]*$/.test(opts.name)) throw new Error("a limiter name is lower-case letters and dashes");
  const now = opts.now ?? Date.now;
  const base = {
    keyPrefix: `${opts.prefix}:limit:${opts.name}`,
    points: opts.limit.points,
    duration: opts.limit.durationSeconds,
  };
  const memory = new RateLimiterMemory(base);
  // With Redis down, each node falls back to its own memory: weaker, but the service keeps working, limited.
  const limiter = opts.redis
    ? new RateLimiterRedis({
        ...base,
        storeClient: opts.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: memory,
      })
    : memory;

  const what = opts.what ?? "Too many requests in a short time.";
  /** `points`: how many events the refused count added (the shared count takes a burst's events in one call). */
  const refused = (rejection: RateLimiterRes, points = 1): { ok: false; retryAt: number } => {
    // Logged once per window (by the count that first went past the budget), so a flood does not flood the log. No
    // key, no count.
    const first = base.points + 1;
    if (rejection.consumedPoints >= first && rejection.consumedPoints - points < first)
      opts.log?.warn({ limit: opts.name }, "rate limit reached");
    return { ok: false, retryAt: now() + Math.max(1000, rejection.msBeforeNext) };
  };
  /** The shared count decides (exactAcrossNodes, or no Redis): one event, counted before it is let through. */
  const exact = async (key: string): Promise<LimitResult> => {
    const verdict = await sharedCount(key, 1);
    return verdict.ok ? { ok: true } : verdict;
  };
  /**
   * The shared count after `points` more events. Never throws: a failure of the store (the memory fallback covers an
   * unreachable Redis) lets the events through rather than refuse everyone, and says so.
   */
  const sharedCount = async (
    key: string,
    points: number,
  ): Promise<{ ok: true; remaining: number; resetAt: number } | { ok: false; retryAt: number }> => {
    try {
      const res = await limiter.consume(key, points);
      return { ok: true, remaining: res.remainingPoints, resetAt: now() + Math.max(1000, res.msBeforeNext) };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return refused(rejection, points);
      opts.log?.error({ limit: opts.name, err: errText(rejection) }, "rate limit unavailable");
      return { ok: true, remaining: Number.POSITIVE_INFINITY, resetAt: now() };
    }
  };

  // Counted here first, shared behind (exactAcrossNodes: false, with Redis): this node's own count, exact, decides at
  // once; the shared count is added to behind it. Per key, one shared count is in flight at a time: an event that
  // arrives while one is waits for its verdict, and the events that waited are then decided together and counted
  // together, in one Redis call. So a lone event never waits, a burst costs one Redis call per round trip rather than
  // one per event, and it is still held to the shared budget: after a verdict the events that waited pass only as
  // far as the shared count has room, and one more (whose count makes the key refused everywhere until the window
  // ends); the rest are refused at once.
  const local = new RateLimiterMemory(base);
  const blockedUntil = new Map<string, number>();
  interface Waiting {
    resolve(r: LimitResult): void;
    reject(err: unknown): void;
  }
  /** per key with a shared count in flight: the events waiting for its verdict */
  const inFlight = new Map<string, Waiting[]>();
  /** this node's count, at once (and the shared count's last refusal, which blocks the key here) */
  const decideHere = async (key: string): Promise<LimitResult> => {
    const until = blockedUntil.get(key);
    if (until !== undefined) {
      if (until > now()) return { ok: false, retryAt: until };
      blockedUntil.delete(key);
    }
    try {
      await local.consume(key);
      return { ok: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return refused(rejection);
      throw rejection;
    }
  };
  /**
   * Adds `points` events to the shared count (the key is in flight: its waiting list is set); at the verdict, decides
   * whoever waited meanwhile, in order, and counts those that passed together, in the next call.
   */
  const countShared = (key: string, points: number): void => {
    void sharedCount(key, points).then(async (verdict) => {
      if (!verdict.ok) {
        if (blockedUntil.size >= MAX_BLOCKED_KEYS) pruneBefore(blockedUntil, now());
        blockedUntil.set(key, verdict.retryAt);
      }
      // Whoever comes while these are decided waits for the next count (or is let go below if there is none).
      const waiting = inFlight.get(key) ?? [];
      inFlight.set(key, []);
      // Room on the shared count, and one more past it (a refusal blocks the key already: decideHere says so).
      let room = verdict.ok ? verdict.remaining + 1 : 0;
      let passed = 0;
      for (const w of waiting) {
        try {
          const r = await decideHere(key);
          if (r.ok && room <= 0) {
            w.resolve({ ok: false, retryAt: verdict.ok ? verdict.resetAt : verdict.retryAt });
            continue;
          }
          if (r.ok) {
            room -= 1;
            passed += 1;
          }
          w.resolve(r);
        } catch (err) {
          w.reject(err);
        }
      }
      if (passed > 0) countShared(key, passed);
      else releaseUncounted(key);
    });
  };
  const behind = async (key: string): Promise<LimitResult> => {
    const waiting = inFlight.get(key);
    if (waiting) return new Promise<LimitResult>((resolve, reject) => waiting.push({ resolve, reject }));
    // In flight before anything is awaited, so events that arrive meanwhile wait for this one's count.
    inFlight.set(key, []);
    let r: LimitResult;
    try {
      r = await decideHere(key);
    } catch (err) {
      releaseUncounted(key);
      throw err;
    }
    if (r.ok) countShared(key, 1);
    else releaseUncounted(key);
    return r;
  };
  /** No count goes out after all: whoever waited is decided as a lone event would be (the first counts, the rest wait). */
  const releaseUncounted = (key: string): void => {
    const waiting = inFlight.get(key) ?? [];
    inFlight.delete(key);
    for (const w of waiting) behind(key).then(w.resolve, w.reject);
  };
  const countBehind = opts.redis !== undefined && opts.exactAcrossNodes === false;

  return {
    name: opts.name,
    refusal: (retryAt, at) => tooManyRequests(what, retryAt, at),
    store: opts.redis ? "redis" : "memory",
    consume: (key) => (countBehind ? behind(hashKey(key)) : exact(hashKey(key))),
    async reset(key) {
      const k = hashKey(key);
      blockedUntil.delete(k);
      await Promise.all([limiter.delete(k), local.delete(k), limiter !== memory ? memory.delete(k) : null]);
    },
  };
}

/** Keys blocked by the shared count, at most, before the expired ones are dropped. */
const MAX_BLOCKED_KEYS = 10_000;

function pruneBefore(map: Map<string, number>, at: number): void {
  for (const [k, until] of map) if (until <= at) map.delete(k);
}

// ------------------------------------------------------------------------------------------ open sockets

export type SlotResult = { ok: true; release(): void } | { ok: false; retryAt: number };

/** Open sockets per account: counted across every node through Redis, or on this node alone without it. */
export interface SocketSlots {
  readonly store: "redis" | "memory";
  readonly max: number;
  acquire(userId: string, socketId: string): Promise<SlotResult>;
  /** how many slots an account holds (as this store sees it) */
  count(userId: string): Promise<number>;
  close(): void;
}

/** How soon a refused handshake may try again: an open socket can close at any moment. */
const SLOT_RETRY_MS = 10_000;
/** A node refreshes its sockets' entries this often; an entry not refreshed for SLOT_TTL_MS is gone (a dead node). */
const SLOT_REFRESH_MS = 20_000;
const SLOT_TTL_MS = 60_000;
/**
 * Entries refreshed per loop turn (two commands each). A refresh touches every socket the node holds: as one pipeline
 * built in one turn it held the loop 65 ms at 3,000 sockets (then as long again reading the replies), every 20 s, in
 * the deal notice's profile, and grows with the sockets (~0.4 s at 20,000). In slices, the other work of the loop
 * (commands, pushes) runs between them.
 */
export const SLOT_REFRESH_SLICE = 200;

// Atomic check-and-add: drop expired entries, refuse at the cap, else add this socket with its expiry.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

export function createSocketSlots(opts: {
  redis?: Redis;
  prefix: string;
  max: number;
  log?: Logger;
  /** the server's clock, for retryAt */
  now?: () => number;
  /** how often this node refreshes its entries (default SLOT_REFRESH_MS; tests shorten it) */
  refreshMs?: number;
}): SocketSlots {
  const now = opts.now ?? Date.now;
  const memory = new Map<string, Set<string>>();
  const memoryAcquire = (userId: string, socketId: string): SlotResult => {
    const held = memory.get(userId) ?? new Set<string>();
    if (held.size >= opts.max) return { ok: false, retryAt: now() + SLOT_RETRY_MS };
    held.add(socketId);
    memory.set(userId, held);
    return {
      ok: true,
      release: once(() => {
        held.delete(socketId);
        if (held.size === 0 && memory.get(userId) === held) memory.delete(userId);
      }),
    };
  };
  const redis = opts.redis;
  if (!redis) {
    return {
      store: "memory",
      max: opts.max,
      acquire: async (userId, socketId) => memoryAcquire(userId, socketId),
      count: async (userId) => memory.get(userId)?.size ?? 0,
      close() {},
    };
  }

  const keyOf = (userId: string) => `${opts.prefix}:limit:sockets:${hashKey(userId)}`;
  // This node's entries, refreshed while their sockets are open.
  const local = new Map<string, { key: string; member: string }>();
  // A round refreshes the entries held when it began, SLOT_REFRESH_SLICE a turn (one pipeline each); an entry
  // released meanwhile is untouched (ZADD XX never adds one back). A round still going when the next is due (a
  // slow Redis) makes that one skip.
  let refreshing = false;
  let closed = false;
  const refreshSlice = (entries: ReadonlyArray<{ key: string; member: string }>, from: number) => {
    if (closed) {
      refreshing = false;
      return;
    }
    const expiry = Date.now() + SLOT_TTL_MS;
    const batch = redis.pipeline();
    const to = Math.min(entries.length, from + SLOT_REFRESH_SLICE);
    for (let i = from; i < to; i++) {
      const { key, member } = entries[i] as { key: string; member: string };
      batch.zadd(key, "XX", expiry, member);
      batch.pexpire(key, SLOT_TTL_MS);
    }
    batch
      .exec()
      .catch((err: unknown) => opts.log?.warn({ err: errText(err) }, "socket count refresh failed"));
    if (to < entries.length) setImmediate(() => refreshSlice(entries, to));
    else refreshing = false;
  };
  const refresh = setInterval(() => {
    if (local.size === 0 || refreshing) return;
    refreshing = true;
    refreshSlice([...local.values()], 0);
  }, opts.refreshMs ?? SLOT_REFRESH_MS);
  refresh.unref();

  return {
    store: "redis",
    max: opts.max,
    async acquire(userId, socketId) {
      const key = keyOf(userId);
      const member = `${socketId}:${randomUUID()}`;
      let added: unknown;
      try {
        added = await redis.eval(ACQUIRE, 1, key, Date.now(), SLOT_TTL_MS, opts.max, member);
      } catch (err) {
        // Redis unreachable: count on this node alone rather than refuse everyone.
        opts.log?.warn({ err: errText(err) }, "socket count unavailable, counting on this node");
        return memoryAcquire(userId, socketId);
      }
      if (added !== 1) return { ok: false, retryAt: now() + SLOT_RETRY_MS };
      local.set(member, { key, member });
      return {
        ok: true,
        release: once(() => {
          local.delete(member);
          redis.zrem(key, member).catch(() => {
            // The entry expires by itself when no node refreshes it.
          });
        }),
      };
    },
    async count(userId) {
      const key = keyOf(userId);
      await redis.zremrangebyscore(key, "-inf", Date.now());
      return (await redis.zcard(key)) + (memory.get(userId)?.size ?? 0);
    },
    close() {
      closed = true;
      clearInterval(refresh);
    },
  };
}

// ------------------------------------------------------------------------------------------ client address

/** Express's own compiled "trust proxy" function, so sockets judge X-Forwarded-For exactly as req.ip does. */
export type TrustFn = (address: string, hop: number) => boolean;

export function expressTrustSetting(trust: TrustProxy): boolean | number | string[] {
  // `true` trusts one hop (the load balancer in front), never every hop: that would let anyone forge their address.
  return trust === true ? 1 : trust;
}

export function compileTrust(trust: TrustProxy): TrustFn {
  const app = express();
  app.set("trust proxy", expressTrustSetting(trust));
  return app.get("trust proxy fn") as TrustFn;
}

/** The client's address as Express's req.ip computes it: the nearest hop that is not a trusted proxy. */
export function clientAddress(
  remoteAddress: string | undefined,
  headers: IncomingHttpHeaders,
  trust: TrustFn,
): string {
  const forwarded = headers["x-forwarded-for"];
  const list = (Array.isArray(forwarded) ? forwarded.join(",") : (forwarded ?? ""))
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a.length > 0)
    .reverse();
  const hops = [remoteAddress ?? "", ...list];
  let i = 0;
  while (i < hops.length - 1 && trust(hops[i] as string, i)) i++;
  return hops[i] || "unknown";
}

// ------------------------------------------------------------------------------------------ all limits of a node

export interface Limits {
  /** sign-ups per client address */
  signups: Limiter;
  /** sign-in attempts per client address */
  signins: Limiter;
  /** sign-in attempts per client address and email (brute force on one account); reset by a successful sign-in */
  signinsPerEmail: Limiter;
  /** socket handshakes per client address */
  socketConnects: Limiter;
  /** socket events per account, all its sockets together */
  events: Limiter;
  /** REST session commands per account: a budget of the same size as the sockets', so REST is no way around it */
  commands: Limiter;
  /** session creations per account */
  sessionCreates: Limiter;
  /** invitations issued per account */
  invitations: Limiter;
  /** open sockets per account */
  sockets: SocketSlots;
  /** invitations open at once in one session */
  maxOpenInvitations: number;
  trust: TrustFn;
  now: () => number;
  close(): void;
}

export function createLimits(opts: {
  config: Config;
  redis?: Redis;
  log?: Logger;
  now?: () => number;
}): Limits {
  const { config, redis, log } = opts;
  const now = opts.now ?? Date.now;
  const make = (name: string, limit: RateLimit, what: string, exactAcrossNodes = true) =>
    createLimiter({ redis, prefix: config.redisPrefix, name, limit, what, log, now, exactAcrossNodes });
  const sockets = createSocketSlots({
    redis,
    prefix: config.redisPrefix,
    max: config.maxSocketsPerAccount,
    log,
    now,
  });
  return {
    signups: make(
      "signup",
      config.signupRateLimit,
      "Too many accounts have been created from your network address recently.",
    ),
    signins: make(
      "signin-address",
      config.loginAddressRateLimit,
      "Too many sign-in attempts have come from your network address recently.",
    ),
    signinsPerEmail: make("signin-email", config.loginRateLimit, "Too many sign-in attempts for this email."),
    socketConnects: make(
      "socket-connect",
      config.socketConnectRateLimit,
      "Too many connections have been opened from your network address.",
    ),
    // Every command passes these two: counted on this node at once, across nodes behind (see exactAcrossNodes).
    events: make("events", config.socketRateLimit, ACCOUNT_BUDGET, false),
    commands: make("commands", config.socketRateLimit, ACCOUNT_BUDGET, false),
    sessionCreates: make(
      "session-create",
      config.sessionRateLimit,
      "You have created many sessions in a short time.",
    ),
    invitations: make(
      "invitation",
      config.invitationRateLimit,
      "You have issued many invitations in a short time.",
    ),
    sockets,
    maxOpenInvitations: config.maxOpenInvitations,
    trust: compileTrust(config.trustProxy),
    now,
    close: () => sockets.close(),
  };
}

// The gateway finds its node's limits by its Socket.IO server (attachGateway takes no limits of its own).
const byServer = new WeakMap<object, Limits>();

export function registerLimits(io: object, limits: Limits): void {
  byServer.set(io, limits);
}

/** The limits registered for this Socket.IO server, or in-memory ones from config (a gateway used alone). */
export function limitsFor(io: object, config: Config): Limits {
  let limits = byServer.get(io);
  if (!limits) {
    limits = createLimits({ config });
    byServer.set(io, limits);
  }
  return limits;
}

// ------------------------------------------------------------------------------------------ refusals

/** "in 40 seconds" / "in about 12 minutes (at 14:05 UTC)". */
export function whenText(retryAt: number, now: number): string {
  const seconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
  if (seconds < 90) return `in ${seconds} seconds`;
  const at = `${new Date(retryAt).toISOString().slice(11, 16)} UTC`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `in about ${minutes} minutes (at ${at})`;
  return `in about ${Math.ceil(minutes / 60)} hours (at ${at})`;
}

/** TOO_MANY_REQUESTS with retryAt and a sentence that says what happened and when to try again. */
const ACCOUNT_BUDGET = "Your account has sent too many requests in a short time.";

export function tooManyRequests(what: string, retryAt: number, now: number): AppError {
  return new AppError(errors.tooManyRequests(`${what} Try again ${whenText(retryAt, now)}.`, retryAt));
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function errText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : "unknown error";
}
