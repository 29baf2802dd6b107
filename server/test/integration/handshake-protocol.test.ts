// The protocol version in the socket handshake (issue 7): a client that names another PROTOCOL_VERSION is refused
// with PROTOCOL_UNSUPPORTED; one that names none (an API script written before the field) is accepted. And a worker
// node's 404 says NOT_FOUND, not UNKNOWN_EVENT.
import { PROTOCOL_VERSION } from "@backchannel/common";
import { io as connect } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { backendLabel, backends, createStorage, Participant, type Storage, startOn } from "../support/server";

type ConnectError = Error & { data?: unknown };

/** Connects with this handshake `auth`; resolves "connected" or the connect_error. */
async function handshake(url: string, auth: Record<string, unknown>): Promise<"connected" | ConnectError> {
  const socket = connect(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
  try {
    return await new Promise<"connected" | ConnectError>((resolve) => {
      socket.once("connect", () => resolve("connected"));
      socket.once("connect_error", (err) => resolve(err as ConnectError));
    });
  } finally {
    socket.disconnect();
  }
}

const OUT_OF_DATE = { code: "PROTOCOL_UNSUPPORTED", message: "This page is out of date: reload it." };

for (const backend of backends()) {
  describe(`handshake protocol version (${backendLabel(backend)})`, () => {
    let storage: Storage;
    let server: RunningServer;
    let ann: Participant;

    beforeAll(async () => {
      storage = await createStorage(backend);
      server = await startOn(storage);
      ann = await new Participant(server.url, "Ann").signUp();
    });
    afterAll(async () => {
      await server?.close();
      await storage?.dispose();
    });

    it("accepts a handshake that names this server's protocol", async () => {
      expect(await handshake(server.url, { token: ann.token, protocol: PROTOCOL_VERSION })).toBe("connected");
    });

    it("accepts a handshake that names no protocol (old API clients, docs/examples/full-scenario.mjs)", async () => {
      expect(await handshake(server.url, { token: ann.token })).toBe("connected");
    });

    it("refuses another protocol with PROTOCOL_UNSUPPORTED in connect_error's data", async () => {
      for (const protocol of [PROTOCOL_VERSION + 1, PROTOCOL_VERSION - 1, String(PROTOCOL_VERSION), null]) {
        const err = await handshake(server.url, { token: ann.token, protocol });
        expect(err, `protocol ${JSON.stringify(protocol)}`).not.toBe("connected");
        expect((err as ConnectError).data).toEqual(OUT_OF_DATE);
        expect((err as ConnectError).message).toBe(OUT_OF_DATE.message);
      }
    });

    it("says so before looking at the token: an out-of-date page is told to reload, not to sign in", async () => {
      const err = await handshake(server.url, { protocol: PROTOCOL_VERSION + 1 });
      expect((err as ConnectError).data).toEqual(OUT_OF_DATE);
      const stale = await handshake(server.url, { token: "not-a-token", protocol: PROTOCOL_VERSION + 1 });
      expect((stale as ConnectError).data).toEqual(OUT_OF_DATE);
    });
  });

  // A worker needs shared PostgreSQL and Redis (config refuses ROLE=worker on PGlite).
  if (backend === "services")
    describe(`a worker node's 404 (${backendLabel(backend)})`, () => {
      let storage: Storage;
      let worker: RunningServer;
      beforeAll(async () => {
        storage = await createStorage(backend);
        worker = await startOn(storage, { ROLE: "worker" });
      });
      afterAll(async () => {
        await worker?.close();
        await storage?.dispose();
      });

      it("answers every path but health with 404 NOT_FOUND", async () => {
        for (const route of ["/api/me", "/api/sessions", "/", "/anything"]) {
          const res = await fetch(`${worker.url}${route}`);
          expect(res.status, route).toBe(404);
          const body = (await res.json()) as { error: { code: string; message: string } };
          expect(body.error.code, route).toBe("NOT_FOUND");
          expect(body.error.message).toMatch(/worker node/);
        }
        expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
      });
    });
}
