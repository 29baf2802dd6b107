// What the app's public port gives away, and what it trusts (issue 6):
//  - /metrics is not served there (a party could watch commands_total move when the other side acts); it has a
//    listener of its own, on 127.0.0.1 by default, optionally behind a bearer token (point 3);
//  - invitation links come from PUBLIC_URL, never from the request's Host header (point 11);
//  - a token issued in the future, or for an account that does not exist, is TOKEN_INVALID on REST and on the
//    socket handshake, never a 500 (point 13).
import { request } from "node:http";
import { createServer } from "node:net";
import { SignJWT } from "jose";
import { io as connect } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { backends, createStorage, Participant, type Storage, startOn } from "../support/server";

const METRICS_TOKEN = "metrics-token-for-tests-0123456789";

/** A raw HTTP request, so the Host header can be forged (fetch would not send ours). */
function rawRequest(
  url: string,
  opts: { method: string; path: string; headers: Record<string, string>; body?: unknown },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const { hostname, port } = new URL(url);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        method: opts.method,
        path: opts.path,
        headers: { ...opts.headers, ...(payload ? { "content-type": "application/json" } : {}) },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || "{}") }));
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** A token signed with the deployment's real secret, with the claims given. */
function forge(storage: Storage, claims: { sub: string; iat: number; exp: number }): Promise<string> {
  return new SignJWT({ email: "ghost@example.test", name: "Ghost" })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .setSubject(claims.sub)
    .setIssuer("backchannel")
    .setAudience("backchannel-app")
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(new TextEncoder().encode(storage.jwtSecret));
}

function handshake(url: string, token: string): Promise<{ ok: true } | { ok: false; code: string }> {
  const socket = connect(url, {
    auth: { token },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve) => {
    socket.once("connect", () => {
      socket.disconnect();
      resolve({ ok: true });
    });
    socket.once("connect_error", (e: Error & { data?: { code: string } }) => {
      socket.disconnect();
      resolve({ ok: false, code: e.data?.code ?? `transport: ${e.message}` });
    });
  });
}

for (const backend of backends()) {
  describe(`the public port on ${backend}`, () => {
    let storage: Storage;
    let server: RunningServer;
    let claimant: Participant;

    beforeAll(async () => {
      storage = await createStorage(backend);
      server = await startOn(storage, { METRICS_TOKEN });
      claimant = await new Participant(server.url, "Claimant").signUp();
    });
    afterAll(async () => {
      await server?.close();
      await storage?.dispose();
    });

    // ------------------------------------------------------------------ metrics (point 3)

    it("answers /metrics with 404 on the app's port", async () => {
      await claimant.http("POST", "/api/sessions", { title: "Metrics", creatorRole: "claimant" });
      for (const path of ["/metrics", "/metrics?format=text", "/metrics/"]) {
        const res = await fetch(`${server.url}${path}`);
        expect(res.status, path).toBe(404);
        expect(await res.text()).not.toContain("backchannel_commands_total");
      }
    });

    it("serves metrics on their own listener, bound to 127.0.0.1, to a scraper with the token only", async () => {
      expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.metricsUrl).not.toBe(server.url);
      const scrape = (headers: Record<string, string> = {}) =>
        fetch(`${server.metricsUrl}/metrics`, { headers });
      expect((await scrape()).status).toBe(401);
      expect((await scrape({ authorization: "Bearer wrong-token-wrong-token-wrong" })).status).toBe(401);
      expect((await scrape({ authorization: METRICS_TOKEN })).status).toBe(401);
      const res = await scrape({ authorization: `Bearer ${METRICS_TOKEN}` });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain("# TYPE backchannel_commands_total counter");
      expect(text).toContain("backchannel_sockets");
      // Nothing else is served there.
      const other = await fetch(`${server.metricsUrl}/api/me`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(other.status).toBe(404);
    });

    it("runs without a metrics listener when METRICS_PORT=off, and refuses to start on a taken metrics port", async () => {
      // A storage of its own: an embedded database is one server's at a time.
      const own = await createStorage(backend);
      const quiet = await startOn(own, { METRICS_PORT: "off" });
      try {
        expect(quiet.metricsUrl).toBeUndefined();
        expect((await fetch(`${quiet.url}/healthz`)).status).toBe(200);
        expect((await fetch(`${quiet.url}/metrics`)).status).toBe(404);
      } finally {
        await quiet.close();
        await own.dispose();
      }
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      const port = (taken.address() as { port: number }).port;
      try {
        await expect(startOn(storage, { METRICS_PORT: String(port) })).rejects.toThrow(/METRICS_PORT/);
      } finally {
        taken.close();
      }
    });

    if (backend === "services")
      it("a worker node serves health on PORT and metrics on the metrics listener", async () => {
        const worker = await startOn(storage, { ROLE: "worker" });
        try {
          expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
          expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
          expect((await fetch(`${worker.url}/metrics`)).status).toBe(404);
          const res = await fetch(`${worker.metricsUrl}/metrics`);
          expect(res.status).toBe(200);
          expect(await res.text()).toContain("backchannel_deadline_lateness_seconds");
        } finally {
          await worker.close();
        }
      });

    // ------------------------------------------------------------------ invitation links (point 11)

    it("builds invitation links from the first allowed origin by default, whatever Host says", async () => {
      const created = await claimant.http("POST", "/api/sessions", {
        title: "Links",
        creatorRole: "claimant",
      });
      const sessionId = (created.body as { view: { id: string } }).view.id;
      const invite = (url: string, host: string) =>
        rawRequest(url, {
          method: "POST",
          path: `/api/sessions/${sessionId}/invitations`,
          headers: { host, authorization: `Bearer ${claimant.token}`, "x-forwarded-host": "evil.example" },
          body: { role: "respondent" },
        });
      const forged = await invite(server.url, "evil.example");
      expect(forged.status).toBe(201);
      // startOn sets ALLOWED_ORIGINS=http://allowed.example and no PUBLIC_URL. (With PUBLIC_URL: limits.test.ts.)
      expect(forged.body.link).toBe(`http://allowed.example/invite/${forged.body.token}`);
    });

    // ------------------------------------------------------------------ tokens (point 13)

    it("refuses a correctly signed token for an account that does not exist: 401 TOKEN_INVALID, not 500", async () => {
      const now = Math.floor(Date.now() / 1000);
      const ghost = await forge(storage, {
        sub: "0b0e5b1e-7d2c-4c1e-9a55-6f3e2d1c0b0a",
        iat: now,
        exp: now + 600,
      });
      for (const [method, route, body] of [
        ["POST", "/api/sessions", { title: "Ghost", creatorRole: "claimant" }],
        ["GET", "/api/me", undefined],
        ["GET", "/api/sessions", undefined],
      ] as const) {
        const res = await fetch(`${server.url}${route}`, {
          method,
          headers: {
            authorization: `Bearer ${ghost}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        expect(res.status, `${method} ${route}`).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("TOKEN_INVALID");
      }
      expect(await handshake(server.url, ghost)).toEqual({ ok: false, code: "TOKEN_INVALID" });
      // Control: the same forging with a real account's id is accepted.
      const real = await forge(storage, { sub: claimant.user.id, iat: now, exp: now + 600 });
      expect(await handshake(server.url, real)).toEqual({ ok: true });
    });

    it("refuses a token issued in the future (beyond 60 s of clock skew), on REST and on the socket", async () => {
      const now = Math.floor(Date.now() / 1000);
      const future = await forge(storage, { sub: claimant.user.id, iat: now + 3600, exp: now + 7200 });
      const res = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${future}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("TOKEN_INVALID");
      expect(await handshake(server.url, future)).toEqual({ ok: false, code: "TOKEN_INVALID" });
      const skewed = await forge(storage, { sub: claimant.user.id, iat: now + 30, exp: now + 600 });
      expect(
        (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${skewed}` } })).status,
      ).toBe(200);
    });

    // ------------------------------------------------------------------ origins

    it("refuses a socket handshake from a browser origin not in ALLOWED_ORIGINS with 403 FORBIDDEN_ORIGIN", async () => {
      const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { origin: "http://evil.example" },
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ message: "FORBIDDEN_ORIGIN" });
      const allowed = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { origin: "http://allowed.example" },
      });
      expect(allowed.status).toBe(200);
      await allowed.text();
    });
  });
}
