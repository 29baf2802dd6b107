// The web role: the API and the built client on PORT, and the sockets (Socket.IO attached to PORT, the gateway).
import { createHttpApp } from "../http/app";
import { attachGateway } from "../realtime/gateway";
import type { Role, Shared } from "./shared";

export function startWeb(shared: Shared): Role {
  const { config, db, tokens, sessions, signer, limits, metrics, log, io, now } = shared;
  shared.serve(
    createHttpApp({
      config,
      db,
      tokens,
      sessions,
      signer,
      limits,
      metrics,
      log,
      ready: shared.ready,
      notifications: shared.notifications,
      push: shared.push,
      mail: shared.mail,
      unsubscribe: shared.unsubscribe,
      now,
    }),
  );
  io.attach(shared.httpServer);
  const gateway = attachGateway({ io, config, tokens, sessions, metrics, log, now });
  return {
    stopAccepting() {},
    async close() {
      gateway.stop();
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
