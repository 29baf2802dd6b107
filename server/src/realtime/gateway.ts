// The Socket.IO gateway: handshake auth and origin check, server-decided rooms, and for every client event:
// rate limit, schema validation, authorisation against the caller's role, then an ack with a result or a
// stable error. Nothing a handler throws reaches the client except a code and a sentence.
import {
  clientEventSchemas,
  errors,
  PROTOCOL_VERSION,
  type Refusal,
  type Role,
  refusal,
} from "@backchannel/common";
import type { Logger } from "pino";
import type { Server, Socket } from "socket.io";
import type { z } from "zod";
import { readToken } from "../auth/cookies";
import type { TokenService } from "../auth/tokens";
import type { Config } from "../config";
import { AppError, toPublicError } from "../errors";
import { clientAddress, limitsFor, tooManyRequests } from "../limits";
import { errorText } from "../log";
import type { Metrics } from "../metrics";
import { parsePayload as parse } from "../payload";
import type { SessionService } from "../sessions/service";
import { ROLES, roleRoom } from "./publisher";

type Ack = (response: unknown) => void;

interface SocketUser {
  id: string;
  name: string;
  email: string;
}

/** A handler's answer to its event: the ack's body. */
type Handler = (c: Connection, payload: unknown) => Promise<unknown>;

/**
 * What the gateway keeps of one open socket. The event handlers are one table for the node (not closures per
 * socket), so an idle socket holds this object, its two listeners and a place in the expiry wheel, nothing more.
 */
interface Connection {
  socket: Socket;
  user: SocketUser;
  /** epoch ms: when its token runs out */
  expiresAt: number;
  /** the second of the expiry wheel it waits in */
  expirySecond: number;
  /** frees its account's socket slot (limits.ts) */
  release: () => void;
  /** sessions it has open (a session page: it counts as present there); created by the first session:open */
  opened?: Map<string, Role>;
  /** sessions it watches from the home page (it receives their role's pushes, but is not present) */
  watching?: Map<string, Role>;
}

export function attachGateway(deps: {
  io: Server;
  config: Config;
  tokens: TokenService;
  sessions: SessionService;
  metrics?: Metrics;
  log: Logger;
  now?: () => number;
}): { stop(): void } {
  const { io, config, tokens, log } = deps;
  const { commands, reads } = deps.sessions;
  // Set on shutdown: disconnects then trigger no more presence fan-out through a closing adapter.
  let stopped = false;
  const now = deps.now ?? Date.now;
  // The node's limits (src/limits.ts): per account and per client address, shared through Redis when configured.
  const limits = limitsFor(io, config);
  // From the handshake that authenticated a socket to its "connection".
  const connections = new WeakMap<Socket, Connection>();

  // Token expiries: one timer for the node, not one per socket. Each connection waits in the bucket of the second its
  // token runs out (never earlier); every second the buckets that came due are emptied: told `auth:expired`, then
  // disconnected. The client signs in again and resyncs by version.
  const expiring = new Map<number, Set<Connection>>();
  let swept = Math.floor(now() / 1000);
  const expire = (second: number) => {
    const due = expiring.get(second);
    if (!due) return;
    expiring.delete(second);
    for (const c of due) {
      c.socket.emit("auth:expired", {});
      c.socket.disconnect(true);
    }
  };
  const sweep = setInterval(() => {
    const upTo = Math.floor(now() / 1000);
    // Second by second; a clock that jumped further than there are buckets goes through the buckets instead.
    if (upTo - swept <= expiring.size) for (let s = swept + 1; s <= upTo; s++) expire(s);
    else for (const s of [...expiring.keys()]) if (s <= upTo) expire(s);
    swept = Math.max(swept, upTo);
  }, 1000);
  sweep.unref();

  io.use(async (socket, next) => {
    const refuse = (r: Refusal) => next(connectError(r));
    try {
      // The client's address as req.ip computes it (X-Forwarded-For only from proxies TRUST_PROXY trusts).
      const address = clientAddress(socket.handshake.address, socket.handshake.headers, limits.trust);
      const attempt = await limits.socketConnects.consume(address);
      if (!attempt.ok) {
        return refuse(limits.socketConnects.refusal(attempt.retryAt, now()));
      }
      // A client that names its protocol must speak this server's; one that names none (an API script written
      // before the field existed) is taken to speak the current one.
      const protocol: unknown = socket.handshake.auth?.protocol;
      if (protocol !== undefined && protocol !== PROTOCOL_VERSION)
        return refuse(errors.protocolUnsupported());
      const token =
        (typeof socket.handshake.auth?.token === "string" ? socket.handshake.auth.token : null) ??
        readToken({ headers: socket.handshake.headers as { cookie?: string; authorization?: string } });
      if (!token) return refuse(errors.unauthenticated());
      const verified = await tokens.verify(token);
      if (!verified.ok)
        return refuse(verified.code === "TOKEN_EXPIRED" ? errors.tokenExpired() : errors.tokenInvalid());
      // Open sockets per account, across nodes when Redis is configured; the slot is freed when the socket closes.
      const slot = await limits.sockets.acquire(verified.user.id, socket.id);
      if (!slot.ok) {
        return refuse(
          tooManyRequests(
            `Your account already has ${limits.sockets.max} open connections (browser tabs or devices), the most allowed. Close some of them.`,
            slot.retryAt,
            now(),
          ),
        );
      }
      // The token is not kept for the socket's life (a bearer secret, and about half a KiB per socket): the
      // connection keeps who it is and when that runs out.
      if (socket.handshake.auth?.token !== undefined) {
        const { token: _token, ...auth } = socket.handshake.auth;
        socket.handshake.auth = auth;
      }
      const user: SocketUser = verified.user;
      // What other nodes read through the adapter (onlineIn), which carries it over Redis: the account's id and, once
      // any, its open sessions. Never the email or the name (no email sits in Redis, as no limiter key holds one).
      socket.data.userId = user.id;
      connections.set(socket, {
        socket,
        user,
        expiresAt: verified.expiresAt,
        expirySecond: 0,
        release: slot.release,
      });
      next();
      // A client that left during its handshake gets no "connection" and so never a "disconnect" to free its slot:
      // Socket.IO drops such a socket on the tick after next() (it checks the same readyState), so this tick finds
      // it unconnected on a closed connection. (Not a "close" listener per socket: it would be kept while open.)
      process.nextTick(() => {
        if (!socket.connected && socket.conn.readyState !== "open") slot.release();
      });
    } catch (err) {
      log.error({ err: errorText(err) }, "socket handshake failed");
      refuse(errors.handshakeFailed());
    }
  });

  io.on("connection", (socket) => {
    const c = connections.get(socket);
    // Every socket comes through the middleware above; one that did not is not authenticated.
    if (!c) return void socket.disconnect(true);
    connections.delete(socket);
    deps.metrics?.sockets.inc();
    c.expirySecond = Math.max(swept + 1, Math.ceil(c.expiresAt / 1000));
    const bucket = expiring.get(c.expirySecond) ?? new Set<Connection>();
    bucket.add(c);
    expiring.set(c.expirySecond, bucket);
    // Every incoming event, known or not, goes through dispatch (the handler table below).
    socket.onAny((name: unknown, ...args: unknown[]) => dispatch(c, name, args));
    socket.on("disconnect", () => {
      c.release();
      const wait = expiring.get(c.expirySecond);
      wait?.delete(c);
      if (wait?.size === 0) expiring.delete(c.expirySecond);
      deps.metrics?.sockets.dec();
      for (const sessionId of c.opened?.keys() ?? []) void broadcastPresence(sessionId);
    });
  });

  /** Every event costs a point, known or not, so a flood of any kind is cut off the same way. */
  const rateLimited = async (c: Connection, reply: Ack): Promise<boolean> => {
    // One budget per account, whichever of its sockets the events come through.
    const r = await limits.events.consume(c.user.id);
    if (r.ok) return false;
    const e = limits.events.refusal(r.retryAt, now());
    reply(errorAck({ code: e.code, message: e.message, retryAt: r.retryAt }));
    return true;
  };

  /** The node's handlers, one per client event, shared by every socket. */
  const handlers = new Map<string, Handler>();
  /** One handler per client event; its payload is parsed with that event's schema in common (clientEventSchemas). */
  const handle = <E extends keyof typeof clientEventSchemas>(
    name: E,
    fn: (c: Connection, payload: z.output<(typeof clientEventSchemas)[E]>) => Promise<unknown>,
  ) => {
    handlers.set(name, (c, payload) =>
      fn(
        c,
        parse(clientEventSchemas[name] as z.ZodType, payload) as z.output<(typeof clientEventSchemas)[E]>,
      ),
    );
  };

  /** One incoming event: rate limit, then its handler (which validates and authorises) or UNKNOWN_EVENT. */
  const dispatch = async (c: Connection, name: unknown, args: unknown[]): Promise<void> => {
    // The ack is the last argument when there is one: an event sent without a payload still gets an answer.
    const ack = args.at(-1);
    const reply: Ack = typeof ack === "function" ? (ack as Ack) : () => {};
    const payloads = typeof ack === "function" ? args.slice(0, -1) : args;
    // Counted with or without an ack: a flood of unknown events without one costs its budget too.
    if (await rateLimited(c, reply)) return;
    const handler = typeof name === "string" ? handlers.get(name) : undefined;
    if (!handler) return reply(errorAck(errors.unknownEvent()));
    try {
      if (payloads.length > 1) throw new AppError(errors.onePayload());
      reply(await handler(c, payloads[0]));
    } catch (err) {
      const { status: _status, ...e } = toPublicError(err);
      if (e.code === "INTERNAL") log.error({ err: errorText(err), event: name }, "socket handler failed");
      reply(errorAck(e));
    }
  };

  const memberRole = async (c: Connection, sessionId: string): Promise<Role> =>
    (await reads.memberOf(sessionId, c.user.id)).role;

  // Sessions a socket has open, and sessions it watches from the home page: a role room is left when neither
  // holds it.
  const setOpened = (c: Connection) => {
    c.socket.data.opened = [...(c.opened?.keys() ?? [])];
  };
  const leaveUnlessHeld = async (c: Connection, sessionId: string, role: Role) => {
    if (!c.opened?.has(sessionId) && !c.watching?.has(sessionId))
      await c.socket.leave(roleRoom(sessionId, role));
  };

  handle("session:open", async (c, payload) => {
    const { sessionId } = payload;
    const role = await memberRole(c, sessionId);
    // Join first, then read: a push committed in between is then at most a duplicate, never missed.
    await c.socket.join(roleRoom(sessionId, role));
    const { version, view, head } = await reads.viewFor(sessionId, { userId: c.user.id, role });
    c.opened ??= new Map();
    c.opened.set(sessionId, role);
    setOpened(c);
    void broadcastPresence(sessionId);
    return { ok: true, version, view, head };
  });

  handle("session:leave", async (c, payload) => {
    const { sessionId } = payload;
    const role = c.opened?.get(sessionId);
    if (role) {
      c.opened?.delete(sessionId);
      setOpened(c);
      await leaveUnlessHeld(c, sessionId, role);
      void broadcastPresence(sessionId);
    }
    return { ok: true };
  });

  // The home page: every session of the caller as a dashboard line (common/src/dashboard.ts), then the same
  // role-room pushes a session page gets, so the client asks for a line again when its session changes.
  handle("dashboard:open", async (c) => {
    const mine = await reads.listForUser(c.user.id);
    // Join first, then read, as session:open does: a change in between is then at most read twice.
    await Promise.all(mine.map((s) => c.socket.join(roleRoom(s.id, s.role))));
    c.watching ??= new Map();
    for (const s of mine) c.watching.set(s.id, s.role);
    const sessions = [];
    for (const s of mine) {
      const viewer = { userId: c.user.id, role: s.role };
      const entry = await reads.dashboardEntry(s.id, viewer, await onlineIn(s.id));
      if (entry) sessions.push(entry);
    }
    return { ok: true, sessions };
  });

  handle("dashboard:entry", async (c, payload) => {
    const { sessionId } = payload;
    const role = await memberRole(c, sessionId);
    const session = await reads.dashboardEntry(
      sessionId,
      { userId: c.user.id, role },
      await onlineIn(sessionId),
    );
    if (!session) throw new AppError(errors.sessionNotFound());
    return { ok: true, session };
  });

  handle("dashboard:close", async (c) => {
    const watched = [...(c.watching ?? [])];
    c.watching?.clear();
    await Promise.all(watched.map(([sessionId, role]) => leaveUnlessHeld(c, sessionId, role)));
    return { ok: true };
  });

  handle("command", async (c, payload) => {
    const req = payload;
    const committed = await commands.execute(req.sessionId, c.user, req.command, req.idempotencyKey);
    return reads.ackFor(committed, c.user.id, req.command.type);
  });

  handle("sync", async (c, payload) => {
    const { sessionId, sinceVersion } = payload;
    const role = await memberRole(c, sessionId);
    return reads.syncFor(sessionId, { userId: c.user.id, role }, sinceVersion);
  });

  /**
   * Who has a session open, by role, each person once. Works across nodes through the adapter. A socket that only
   * watches the session from the home page is in the room but not present.
   */
  async function onlineIn(sessionId: string): Promise<Array<{ userId: string; role: Role }>> {
    const online: Array<{ userId: string; role: Role }> = [];
    const seen = new Set<string>();
    for (const role of ROLES) {
      const sockets = await io.in(roleRoom(sessionId, role)).fetchSockets();
      for (const s of sockets) {
        const userId = s.data.userId as string | undefined;
        const open = s.data.opened as string[] | undefined;
        if (userId && open?.includes(sessionId) && !seen.has(userId)) {
          seen.add(userId);
          online.push({ userId, role });
        }
      }
    }
    return online;
  }

  /** Tells every member (session pages and home pages alike) who has the session open now. */
  async function broadcastPresence(sessionId: string): Promise<void> {
    if (stopped) return;
    try {
      const online = await onlineIn(sessionId);
      if (stopped) return;
      for (const role of ROLES)
        io.to(roleRoom(sessionId, role)).emit("session:presence", { sessionId, online });
    } catch (err) {
      if (!stopped) log.warn({ err: errorText(err), sessionId }, "presence broadcast failed");
    }
  }

  return {
    stop() {
      stopped = true;
      clearInterval(sweep);
    },
  };
}

/** A socket ack's refusal: `{ ok: false, code, message, retryAt? }`. */
function errorAck(r: Refusal): { ok: false } & Refusal {
  return { ok: false, ...refusal(r.code, r.message, r.retryAt) };
}

/** A handshake refusal: the client's connect_error has `err.data = { code, message, retryAt? }`. */
function connectError(r: Refusal): Error & { data: Refusal } {
  return Object.assign(new Error(r.message), { data: refusal(r.code, r.message, r.retryAt) });
}
