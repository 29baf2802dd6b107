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
import type { Server } from "socket.io";
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
      socket.once("disconnect", slot.release);
      // A handshake whose client left before it completed never emits "disconnect".
      socket.conn.once("close", slot.release);
      socket.data.user = verified.user satisfies SocketUser;
      socket.data.expiresAt = verified.expiresAt;
      next();
    } catch (err) {
      log.error({ err: errorText(err) }, "socket handshake failed");
      refuse(errors.handshakeFailed());
    }
  });

  io.on("connection", (socket) => {
    deps.metrics?.sockets.inc();
    const user = socket.data.user as SocketUser;
    const opened = new Map<string, Role>();

    // The socket is closed when its token expires; the client signs in again and resyncs by version.
    const msLeft = Math.max(0, (socket.data.expiresAt as number) - now());
    const expiry = setTimeout(
      () => {
        socket.emit("auth:expired", {});
        socket.disconnect(true);
      },
      Math.min(msLeft, 2 ** 31 - 1),
    );

    const handled = new Set<string>();
    /** Every event costs a point, known or not, so a flood of any kind is cut off the same way. */
    const rateLimited = async (reply: Ack): Promise<boolean> => {
      // One budget per account, whichever of its sockets the events come through.
      const r = await limits.events.consume(user.id);
      if (r.ok) return false;
      const e = limits.events.refusal(r.retryAt, now());
      reply(errorAck({ code: e.code, message: e.message, retryAt: r.retryAt }));
      return true;
    };

    /** One handler per client event; its payload is parsed with that event's schema in common (clientEventSchemas). */
    const handle = <E extends keyof typeof clientEventSchemas>(
      name: E,
      fn: (payload: z.output<(typeof clientEventSchemas)[E]>) => Promise<unknown>,
    ) => {
      handled.add(name);
      // The ack is the last argument when there is one: an event sent without a payload still gets an answer.
      socket.on(name as string, async (...args: unknown[]) => {
        const ack = args.at(-1);
        const reply: Ack = typeof ack === "function" ? (ack as Ack) : () => {};
        const payloads = typeof ack === "function" ? args.slice(0, -1) : args;
        if (await rateLimited(reply)) return;
        try {
          if (payloads.length > 1) throw new AppError(errors.onePayload());
          reply(
            await fn(
              parse(clientEventSchemas[name] as z.ZodType, payloads[0]) as z.output<
                (typeof clientEventSchemas)[E]
              >,
            ),
          );
        } catch (err) {
          const { status: _status, ...e } = toPublicError(err);
          if (e.code === "INTERNAL") log.error({ err: errorText(err), event: name }, "socket handler failed");
          reply(errorAck(e));
        }
      });
    };

    // onAny sees every incoming event, handled ones too: answer only names no handler claims.
    socket.onAny(async (name: unknown, ...args: unknown[]) => {
      if (typeof name === "string" && handled.has(name)) return;
      // Counted with or without an ack: a flood of unknown events without one costs its budget too.
      const ack = args.at(-1);
      const reply: Ack = typeof ack === "function" ? (ack as Ack) : () => {};
      if (await rateLimited(reply)) return;
      reply(errorAck(errors.unknownEvent()));
    });

    const memberRole = async (sessionId: string): Promise<Role> =>
      (await reads.memberOf(sessionId, user.id)).role;

    // Sessions this socket has open (a session page: it counts as present there), and sessions it watches from the
    // home page (it receives their role's pushes, but is not present). A role room is left when neither holds it.
    const watching = new Map<string, Role>();
    const setOpened = () => {
      socket.data.opened = [...opened.keys()];
    };
    setOpened();
    const leaveUnlessHeld = async (sessionId: string, role: Role) => {
      if (!opened.has(sessionId) && !watching.has(sessionId)) await socket.leave(roleRoom(sessionId, role));
    };

    handle("session:open", async (payload) => {
      const { sessionId } = payload;
      const role = await memberRole(sessionId);
      // Join first, then read: a push committed in between is then at most a duplicate, never missed.
      await socket.join(roleRoom(sessionId, role));
      const { version, view, head } = await reads.viewFor(sessionId, { userId: user.id, role });
      opened.set(sessionId, role);
      setOpened();
      void broadcastPresence(sessionId);
      return { ok: true, version, view, head };
    });

    handle("session:leave", async (payload) => {
      const { sessionId } = payload;
      const role = opened.get(sessionId);
      if (role) {
        opened.delete(sessionId);
        setOpened();
        await leaveUnlessHeld(sessionId, role);
        void broadcastPresence(sessionId);
      }
      return { ok: true };
    });

    // The home page: every session of the caller as a dashboard line (common/src/dashboard.ts), then the same
    // role-room pushes a session page gets, so the client asks for a line again when its session changes.
    handle("dashboard:open", async () => {
      const mine = await reads.listForUser(user.id);
      // Join first, then read, as session:open does: a change in between is then at most read twice.
      await Promise.all(mine.map((s) => socket.join(roleRoom(s.id, s.role))));
      for (const s of mine) watching.set(s.id, s.role);
      const sessions = [];
      for (const s of mine) {
        const viewer = { userId: user.id, role: s.role };
        const entry = await reads.dashboardEntry(s.id, viewer, await onlineIn(s.id));
        if (entry) sessions.push(entry);
      }
      return { ok: true, sessions };
    });

    handle("dashboard:entry", async (payload) => {
      const { sessionId } = payload;
      const role = await memberRole(sessionId);
      const session = await reads.dashboardEntry(
        sessionId,
        { userId: user.id, role },
        await onlineIn(sessionId),
      );
      if (!session) throw new AppError(errors.sessionNotFound());
      return { ok: true, session };
    });

    handle("dashboard:close", async () => {
      const watched = [...watching];
      watching.clear();
      await Promise.all(watched.map(([sessionId, role]) => leaveUnlessHeld(sessionId, role)));
      return { ok: true };
    });

    handle("command", async (payload) => {
      const req = payload;
      const committed = await commands.execute(req.sessionId, user, req.command, req.idempotencyKey);
      return reads.ackFor(committed, user.id, req.command.type);
    });

    handle("sync", async (payload) => {
      const { sessionId, sinceVersion } = payload;
      const role = await memberRole(sessionId);
      return reads.syncFor(sessionId, { userId: user.id, role }, sinceVersion);
    });

    socket.on("disconnect", () => {
      clearTimeout(expiry);
      deps.metrics?.sockets.dec();
      for (const sessionId of opened.keys()) void broadcastPresence(sessionId);
    });
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
        const u = s.data.user as SocketUser | undefined;
        const open = s.data.opened as string[] | undefined;
        if (u && open?.includes(sessionId) && !seen.has(u.id)) {
          seen.add(u.id);
          online.push({ userId: u.id, role });
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
