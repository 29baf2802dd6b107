// The one Socket.IO connection of the app. The handshake is authenticated by the `bc_session` cookie, which
// the browser sends by itself (withCredentials); no token is ever handled by script.
import type {
  ClientToServerEvents,
  PresencePush,
  ServerToClientEvents,
  SessionEventPush,
} from "@backchannel/common";
import { io, type Socket } from "socket.io-client";
import { isSignedOutCode } from "./api";
import type { Transport, TransportHandlers } from "./store/session";

type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let socket: AppSocket | null = null;
const listeners = new Set<TransportHandlers>();
let everConnected = false;

function ensureSocket(): AppSocket {
  if (socket) return socket;
  const s: AppSocket = io({ withCredentials: true, reconnectionDelayMax: 5_000 });
  s.on("connect", () => {
    const reconnect = everConnected;
    everConnected = true;
    for (const l of listeners) l.connection(true, reconnect);
  });
  s.on("disconnect", () => {
    for (const l of listeners) l.connection(false, false);
  });
  s.on("connect_error", (err: Error & { data?: { code?: string } }) => {
    // A refused handshake does not retry by itself: a missing or expired sign-in means signing in again.
    if (err.data?.code && isSignedOutCode(err.data.code)) for (const l of listeners) l.authExpired();
    else for (const l of listeners) l.connection(false, false);
  });
  s.on("session:event", (push: SessionEventPush) => {
    for (const l of listeners) l.push(push);
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
