// A socket is closed when its token expires: the server tells the client first, then disconnects it.
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { createStorage, Participant, type Storage, startOn } from "../support/server";

describe("token expiry on a live socket", () => {
  let storage: Storage;
  let server: RunningServer;
  beforeAll(async () => {
    storage = await createStorage("embedded");
    server = await startOn(storage);
  });
  afterAll(async () => {
    await server?.close();
    await storage?.dispose();
  });

  it("emits auth:expired and disconnects when the token runs out", async () => {
    const p = await new Participant(server.url, "Short Lived").signUp();
    const now = Math.floor(Date.now() / 1000);
    p.token = await new SignJWT({ email: p.user.email, name: p.user.name })
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .setSubject(p.user.id)
      .setIssuer("backchannel")
      .setAudience("backchannel-app")
      .setIssuedAt(now)
      .setExpirationTime(now + 2)
      .sign(new TextEncoder().encode(storage.jwtSecret));
    const socket = await p.connect();
    const reason = await new Promise<string>((resolve) => socket.on("disconnect", (r) => resolve(r)));
    expect(reason).toBe("io server disconnect");
    // Not before the token ran out (the node sweeps expiries once a second, so at most about a second after).
    expect(Date.now()).toBeGreaterThanOrEqual((now + 2) * 1000);
    expect(p.pushes.some((x) => x.name === "auth:expired")).toBe(true);
    // The expired token is refused at the next handshake.
    await expect(p.connect()).rejects.toMatchObject({ data: { code: "TOKEN_EXPIRED" } });
  });
});
