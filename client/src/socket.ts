// The one Socket.IO connection of the app. The handshake is authenticated by the `bc_session` cookie, which
// the browser sends by itself (withCredentials); no token is ever handled by script. The handshake's `auth` carries
// the protocol version this page speaks; a server that no longer speaks it refuses with PROTOCOL_UNSUPPORTED.
// Every event push is parsed with the shared wire schema (sessionEventPushSchema) before anything sees it.
import {
  type ClientToServerEvents,
  PROTOCOL_VERSION,
  type PresencePush,
  type ServerToClientEvents,
  sessionEventPushSchema,
} from "@backchannel/common";
import { io, type Socket } from "socket.io-client";
import { isSignedOutCode } from "./api";
import type { Transport, TransportHandlers } from "./store/session";

type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let socket: AppSocket | null = null;
const listeners = new Set<TransportHandlers>();
let everConnected = false;
let outOfDate = false;

/** What the page says when the server no longer speaks its protocol version. */
export const OUT_OF_DATE_MESSAGE = "This page is out of date: reload it.";
const OUT_OF_DATE_CODE = "PROTOCOL_UNSUPPORTED";

/** The handshake's `auth`: the cookie authenticates; `protocol` is the version of the protocol this page speaks. */
export function handshakeAuth(): { protocol: number } {
  return { protocol: PROTOCOL_VERSION };
}

/** True once the server refused this page's protocol version: only a reload helps. */
export function isOutOfDate(): boolean {
  return outOfDate;
}

/** A banner over the page, once, with a reload button (there is no document outside a browser). */
function showOutOfDate(): void {
  outOfDate = true;
  if (typeof document === "undefined" || document.getElementById("bc-out-of-date")) return;
  const banner = document.createElement("div");
  banner.id = "bc-out-of-date";
  banner.setAttribute("role", "alert");
  banner.style.cssText =
    "position:fixed;top:0;left:0;right:0;z-index:1000;padding:12px 16px;background:#8a1c1c;color:#fff;font:inherit;text-align:center";
  banner.textContent = `${OUT_OF_DATE_MESSAGE} `;
  const reload = document.createElement("button");
  reload.type = "button";
  reload.textContent = "Reload";
  reload.addEventListener("click", () => window.location.reload());
  banner.append(reload);
  document.body.prepend(banner);
}

function ensureSocket(): AppSocket {
  if (socket) return socket;
  // `auth` as a function: read again on every (re)connection attempt.
  const s: AppSocket = io({
    withCredentials: true,
    reconnectionDelayMax: 5_000,
    auth: (send) => send(handshakeAuth()),
  });
  s.on("connect", () => {
    const reconnect = everConnected;
    everConnected = true;
    for (const l of listeners) l.connection(true, reconnect);
  });
  s.on("disconnect", () => {
    for (const l of listeners) l.connection(false, false);
  });
  s.on("connect_error", (err: Error & { data?: { code?: string } }) => {
    // A refused handshake does not retry by itself: a missing or expired sign-in means signing in again, and a
    // protocol this server no longer speaks means loading the page again.
    if (err.data?.code === OUT_OF_DATE_CODE) {
      s.disconnect();
      showOutOfDate();
      for (const l of listeners) l.connection(false, false);
    } else if (err.data?.code && isSignedOutCode(err.data.code)) for (const l of listeners) l.authExpired();
    else for (const l of listeners) l.connection(false, false);
  });
  s.on("session:event", (...raws: unknown[]) => {
    // One message carries a commit's pushes to this room, in stream order. A push this page cannot read (an event
    // type from a newer server) is ignored, as protocol.md section 8 asks: the next sync or snapshot brings its effect.
    // Nothing of it is logged.
    for (const raw of raws) {
      const parsed = sessionEventPushSchema.safeParse(raw);
      if (!parsed.success) continue;
      for (const l of listeners) l.push(parsed.data);
    }
  });
  s.on("session:presence", (push: PresencePush) => {
    for (const l of listeners) l.presence(push);
  });
  s.on("auth:expired", () => {
    for (const l of listeners) l.authExpired();
  });
  socket = s;
  return s;
}

/** Closes the connection (signing out, or the sign-in expired); the next use opens a fresh one. */
export function disconnectSocket(): void {
  socket?.removeAllListeners();
  socket?.disconnect();
  socket = null;
  everConnected = false;
}

export const socketTransport: Transport = {
  async request(event, payload, timeoutMs) {
    const s = ensureSocket();
    try {
      // Socket.IO buffers the emit while (re)connecting; the timeout covers both waits.
      return await (s.timeout(timeoutMs).emitWithAck as (e: string, p: unknown) => Promise<never>)(
        event,
        payload,
      );
    } catch {
      throw Object.assign(new Error("timeout"), { code: "TIMEOUT" });
    }
  },
  subscribe(handlers) {
    ensureSocket();
    listeners.add(handlers);
    return () => {
      listeners.delete(handlers);
    };
  },
  isConnected() {
    return socket?.connected ?? false;
  },
};
