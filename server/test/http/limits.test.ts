// Flood limits (issue 6, point 10): sign-ups and sign-in attempts per client address, socket handshakes per
// address, open sockets and the socket event budget per account, session creations per account, invitations
// per account and open invitations per session. Each refusal is TOO_MANY_REQUESTS with retryAt and a sentence.
// The server trusts one proxy hop (TRUST_PROXY=true), so each test speaks from its own X-Forwarded-For address.
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { io as connect, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createSocketSlots, SLOT_REFRESH_SLICE } from "../../src/limits";
import { createLogger } from "../../src/log";
import type { RunningServer } from "../../src/server";
import { backends, createStorage, Participant, type Storage, startOn } from "../support/server";

const LIMITS = {
  TRUST_PROXY: "true",
  PUBLIC_URL: "https://mediate.example.com/app/",
  SIGNUP_RATE_LIMIT: "3/1h",
  LOGIN_ADDRESS_RATE_LIMIT: "4/15m",
  SOCKET_CONNECT_RATE_LIMIT: "5/1m",
  SOCKETS_PER_ACCOUNT: "2",
  SOCKET_RATE_LIMIT: "6/1m",
  SESSION_RATE_LIMIT: "2/1h",
  INVITATION_RATE_LIMIT: "6/1h",
  OPEN_INVITATIONS_PER_SESSION: "3",
};
const HOUR = 3_600_000;

let addressCounter = 0;
/** A client address of its own for each use (documentation range 198.51.100.0/24 and beyond). */
const freshAddress = () => {
  addressCounter++;
  return `198.51.${100 + Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
};

type Refusal = { code: string; message: string; retryAt: number };

function expectTooMany(error: unknown, before: number, within: number): Refusal {
  const e = error as Refusal;
  expect(e).toMatchObject({ code: "TOO_MANY_REQUESTS" });
  expect(typeof e.retryAt).toBe("number");
  expect(e.retryAt).toBeGreaterThan(before);
  expect(e.retryAt).toBeLessThanOrEqual(Date.now() + within + 1000);
  // A sentence a person can act on: what happened, and when to try again.
  expect(e.message).toMatch(/^[A-Z].{10,}\. Try again in .+\.$/);
  return e;
}

for (const backend of backends()) {
  describe(`flood limits on ${backend}`, () => {
    let storage: Storage;
    let server: RunningServer;
    let second: RunningServer | undefined;
    const sockets: Socket[] = [];
    const logLines: string[] = [];

    beforeAll(async () => {
      storage = await createStorage(backend);
      const sink = new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      });
      server = await startOn(storage, LIMITS, {
        log: createLogger({ level: "debug", name: "limits" }, sink),
      });
      // Two nodes on one Redis share every count.
      if (backend === "services") second = await startOn(storage, LIMITS);
    });
    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      await second?.close();
      await server?.close();
      await storage?.dispose();
    });

    const http = (p: Participant, address: string, method: string, route: string, body?: unknown) =>
      p.http(method, route, body, { "x-forwarded-for": address });

    async function signUp(name: string, address = freshAddress(), base = server.url): Promise<Participant> {
      const p = new Participant(base, name);
      const email = `${name.toLowerCase().replace(/\W+/g, "-")}-${randomUUID().slice(0, 8)}@example.test`;
      const r = await http(p, address, "POST", "/api/auth/signup", {
        email,
        password: "correct horse battery",
        displayName: name,
      });
      if (r.status !== 201) throw new Error(`signup failed: ${r.status} ${r.text}`);
      const body = r.body as { token: string; user: { id: string; email: string; name: string } };
      p.token = body.token;
      p.user = body.user;
      return p;
    }

    /** Opens a socket; resolves with it, or with the handshake's refusal. */
    function open(
      p: Participant | null,
      address = freshAddress(),
      base = server.url,
    ): Promise<{ socket: Socket; refusal?: undefined } | { socket?: undefined; refusal: Refusal }> {
      const socket = connect(base, {
        auth: p ? { token: p.token } : {},
        transports: ["websocket"],
        reconnection: false,
        forceNew: true,
        extraHeaders: { "x-forwarded-for": address },
      });
      sockets.push(socket);
      return new Promise((resolve) => {
        socket.once("connect", () => resolve({ socket }));
        socket.once("connect_error", (e: Error & { data?: Refusal }) => {
          socket.disconnect();
          resolve({ refusal: e.data ?? ({ code: "TRANSPORT", message: e.message } as Refusal) });
        });
      });
    }

    async function createSession(p: Participant, address = freshAddress()) {
      return http(p, address, "POST", "/api/sessions", { title: "Flood", creatorRole: "claimant" });
    }

    it("sign-ups: SIGNUP_RATE_LIMIT per client address, then 429 TOO_MANY_REQUESTS with retryAt and Retry-After", async () => {
      const address = freshAddress();
      for (let i = 0; i < 3; i++) await signUp(`Early ${i}`, address);
      const started = Date.now();
      const p = new Participant(server.url, "Flooder");
      const refused = await http(p, address, "POST", "/api/auth/signup", {
        email: `flood-${randomUUID().slice(0, 8)}@example.test`,
        password: "correct horse battery",
        displayName: "Flooder",
      });
      expect(refused.status).toBe(429);
      const error = expectTooMany((refused.body as { error: unknown }).error, started, HOUR);
      expect(error.message).toMatch(/accounts/);
      expect(error.retryAt).toBeGreaterThan(started + HOUR - 60_000);
      expect(Number(await retryAfterOf(server.url, address))).toBeGreaterThan(HOUR / 1000 - 60);
      // Another address is not affected.
      await signUp("Elsewhere");
    });

    /** The Retry-After header of one more refused sign-up from address. */
    async function retryAfterOf(base: string, address: string): Promise<string | null> {
      const res = await fetch(`${base}/api/auth/signup`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": address },
        body: JSON.stringify({
          email: "x@example.test",
          password: "correct horse battery",
          displayName: "X",
        }),
      });
      expect(res.status).toBe(429);
      return res.headers.get("retry-after");
    }

    it("sign-in attempts: LOGIN_ADDRESS_RATE_LIMIT per client address across many emails", async () => {
      const address = freshAddress();
      const real = await signUp("Real Account");
      const guesser = new Participant(server.url, "Guesser");
      for (let i = 0; i < 4; i++) {
        const r = await http(guesser, address, "POST", "/api/auth/signin", {
          email: `victim-${i}-${randomUUID().slice(0, 8)}@example.test`,
          password: "wrong password here",
        });
        expect(r.status).toBe(401);
      }
      const started = Date.now();
      // Even the right password for a real account is refused from this address now: the limit comes first.
      const refused = await http(guesser, address, "POST", "/api/auth/signin", {
        email: real.user.email,
        password: "correct horse battery",
      });
      expect(refused.status).toBe(429);
      expectTooMany((refused.body as { error: unknown }).error, started, 15 * 60_000);
      // The same account signs in from another address.
      const elsewhere = await http(guesser, freshAddress(), "POST", "/api/auth/signin", {
        email: real.user.email,
        password: "correct horse battery",
      });
      expect(elsewhere.status).toBe(200);
    });

    it("socket handshakes: SOCKET_CONNECT_RATE_LIMIT per client address, counted before the token", async () => {
      const address = freshAddress();
      const p = await signUp("Connector");
      for (let i = 0; i < 5; i++) {
        const r = await open(null, address);
        expect(r.refusal?.code).toBe("UNAUTHENTICATED");
      }
      const started = Date.now();
      const r = await open(p, address);
      expectTooMany(r.refusal, started, 60_000);
      expect((await open(p)).socket?.connected).toBe(true);
    });

    it("open sockets: SOCKETS_PER_ACCOUNT per account (across nodes with Redis); closing one frees its place", async () => {
      const p = await signUp("Many Tabs");
      const first = await open(p);
      // With two nodes, the second socket is on the other node: the count is the account's, not the node's.
      const secondSocket = await open(p, freshAddress(), second?.url ?? server.url);
      expect(first.socket?.connected).toBe(true);
      expect(secondSocket.socket?.connected).toBe(true);
      const started = Date.now();
      const third = await open(p);
      const refusal = expectTooMany(third.refusal, started, 15_000);
      expect(refusal.message).toMatch(/open connections/);
      // Another account is not affected.
      expect((await open(await signUp("Other Account"))).socket?.connected).toBe(true);
      first.socket?.disconnect();
      let again: Awaited<ReturnType<typeof open>> | undefined;
      for (let i = 0; i < 40 && !again?.socket; i++) {
        await new Promise((r) => setTimeout(r, 50));
        again = await open(p);
      }
      expect(again?.socket?.connected).toBe(true);
    });

    it("open sockets: a client that leaves during its handshake frees its place", async () => {
      const p = await signUp("Hasty Tabs");
      // Each sends its CONNECT (with the token) and closes at once, while the server is still verifying it.
      for (let i = 0; i < 4; i++) {
        const socket = connect(server.url, {
          auth: { token: p.token },
          transports: ["websocket"],
          reconnection: false,
          forceNew: true,
          extraHeaders: { "x-forwarded-for": freshAddress() },
        });
        sockets.push(socket);
        socket.io.once("open", () => socket.io.engine.close());
        await new Promise((resolve) => socket.io.once("close", resolve));
      }
      // Both places are free again (SOCKETS_PER_ACCOUNT=2), once the server has seen the handshakes through.
      let opened: Array<Awaited<ReturnType<typeof open>>> = [];
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 50));
        opened = [await open(p), await open(p)];
        if (opened.every((o) => o.socket)) break;
        for (const o of opened) o.socket?.disconnect();
      }
      expect(opened.map((o) => o.socket?.connected)).toEqual([true, true]);
    });

    it("socket events: one SOCKET_RATE_LIMIT budget per account, shared by all its sockets", async () => {
      const p = await signUp("Two Sockets");
      const a = (await open(p)).socket as Socket;
      const b = (await open(p)).socket as Socket;
      const started = Date.now();
      const acks = (await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).timeout(5000).emitWithAck("no:such:event", {})),
      )) as Array<Refusal & { ok: boolean }>;
      const served = acks.filter((x) => x.code === "UNKNOWN_EVENT");
      const refused = acks.filter((x) => x.code === "TOO_MANY_REQUESTS");
      expect(served.length).toBe(6);
      expect(refused.length).toBe(2);
      for (const r of refused) expectTooMany(r, started, 60_000);
      // Another account has its own budget.
      const other = (await open(await signUp("Calm Account"))).socket as Socket;
      expect(await other.timeout(5000).emitWithAck("no:such:event", {})).toMatchObject({
        code: "UNKNOWN_EVENT",
      });
    });

    it("settlement PDF downloads: counted against the account's SOCKET_RATE_LIMIT command budget", async () => {
      const p = await signUp("Downloader");
      const address = freshAddress();
      const path = `/api/sessions/${randomUUID()}/settlement.pdf`;
      const started = Date.now();
      const answers = [];
      for (let i = 0; i < 8; i++) answers.push(await http(p, address, "GET", path));
      // Counted before anything is read: a session that is not the account's costs the same as its own.
      expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 404, 429, 429]);
      const error = expectTooMany(answers[7]?.body.error, started, 60_000);
      expect(error.message).toMatch(/too many requests/);
      // Another account has its own budget.
      expect((await http(await signUp("Calm Downloader"), freshAddress(), "GET", path)).status).toBe(404);
    });

    it("session creations: SESSION_RATE_LIMIT per account", async () => {
      const p = await signUp("Creator");
      expect((await createSession(p)).status).toBe(201);
      expect((await createSession(p)).status).toBe(201);
      const started = Date.now();
      const refused = await createSession(p);
      expect(refused.status).toBe(429);
      const error = expectTooMany((refused.body as { error: unknown }).error, started, HOUR);
      expect(error.message).toMatch(/sessions/);
      expect((await createSession(await signUp("Another Creator"))).status).toBe(201);
    });

    it("invitations: at most OPEN_INVITATIONS_PER_SESSION open at once (retryAt: the first expiry); revoking makes room", async () => {
      const p = await signUp("Inviter");
      const created = await createSession(p);
      const sessionId = (created.body as { view: { id: string } }).view.id;
      const ids: string[] = [];
      let firstExpiry = Number.POSITIVE_INFINITY;
      for (const ttlHours of [5, 2, 9]) {
        const r = await http(p, freshAddress(), "POST", `/api/sessions/${sessionId}/invitations`, {
          role: "mediator",
          ttlHours,
        });
        expect(r.status, r.text).toBe(201);
        // Links come from PUBLIC_URL (public-port.test.ts checks the default and a forged Host).
        const { token, link } = r.body as { token: string; link: string };
        expect(link).toBe(`https://mediate.example.com/app/invite/${token}`);
        const inv = (r.body as { invitation: { id: string; expiresAt: number } }).invitation;
        ids.push(inv.id);
        firstExpiry = Math.min(firstExpiry, inv.expiresAt);
      }
      const refused = await http(p, freshAddress(), "POST", `/api/sessions/${sessionId}/invitations`, {
        role: "mediator",
      });
      expect(refused.status).toBe(429);
      const error = (refused.body as { error: Refusal }).error;
      expect(error).toMatchObject({ code: "TOO_MANY_REQUESTS", retryAt: firstExpiry });
      expect(error.message).toMatch(/open invitations.*Revoke/);
      // A stranger learns nothing about the session, full or not.
      const stranger = await signUp("Stranger");
      const strangers = await http(
        stranger,
        freshAddress(),
        "POST",
        `/api/sessions/${sessionId}/invitations`,
        {
          role: "mediator",
        },
      );
      expect((strangers.body as { error: Refusal }).error.code).toBe("SESSION_NOT_FOUND");
      // Revoking one makes room for one.
      const revoked = await http(
        p,
        freshAddress(),
        "DELETE",
        `/api/sessions/${sessionId}/invitations/${ids[0]}`,
      );
      expect(revoked.status, revoked.text).toBe(200);
      const again = await http(p, freshAddress(), "POST", `/api/sessions/${sessionId}/invitations`, {
        role: "mediator",
      });
      expect(again.status, again.text).toBe(201);
    });

    it("invitations: INVITATION_RATE_LIMIT per account, across its sessions", async () => {
      const p = await signUp("Busy Inviter");
      const sessions: string[] = [];
      for (let i = 0; i < 2; i++)
        sessions.push(((await createSession(p)).body as { view: { id: string } }).view.id);
      for (let i = 0; i < 6; i++) {
        const sessionId = sessions[i % 2] as string;
        const r = await http(p, freshAddress(), "POST", `/api/sessions/${sessionId}/invitations`, {
          role: "mediator",
        });
        expect(r.status, r.text).toBe(201);
        if (i < 2) {
          const id = (r.body as { invitation: { id: string } }).invitation.id;
          await http(p, freshAddress(), "DELETE", `/api/sessions/${sessionId}/invitations/${id}`);
        }
      }
      const started = Date.now();
      const refused = await http(p, freshAddress(), "POST", `/api/sessions/${sessions[0]}/invitations`, {
        role: "mediator",
      });
      expect(refused.status).toBe(429);
      const error = expectTooMany((refused.body as { error: unknown }).error, started, HOUR);
      expect(error.message).toMatch(/issued many invitations/);
    });

    it("logs a limit once per window, by name only: no address, email or id", () => {
      const reached = logLines.filter((l) => l.includes("rate limit reached"));
      expect(reached.length).toBeGreaterThan(0);
      const limits = reached.map((l) => (JSON.parse(l) as { limit: string }).limit);
      expect(new Set(limits)).toEqual(
        new Set([
          "signup",
          "signin-address",
          "socket-connect",
          "events",
          "commands",
          "session-create",
          "invitation",
        ]),
      );
      expect(limits.length, "each limit is logged once per window, not once per refusal").toBe(
        new Set(limits).size,
      );
      for (const line of reached) {
        expect(line).not.toMatch(/198\.51\.|@example\.test|[0-9a-f]{8}-[0-9a-f]{4}-/);
      }
    });

    if (backend === "services")
      it("keeps its Redis keys under REDIS_PREFIX, hashed: no address, email or account id in a key", async () => {
        const r = new Redis(storage.redisUrl as string);
        const keys = await r.keys(`${storage.redisPrefix}:limit:*`);
        await r.quit();
        const names = new Set(keys.map((k) => k.split(":")[2]));
        for (const name of [
          "signup",
          "signin-address",
          "socket-connect",
          "events",
          "session-create",
          "invitation",
        ])
          expect(names).toContain(name);
        for (const k of keys)
          expect(k).toMatch(new RegExp(`^${storage.redisPrefix}:limit:[a-z-]+:[A-Za-z0-9_-]{43}$`));
      });

    if (backend === "services")
      it("socket places are refreshed in slices, one loop turn each, and every held place is refreshed", async () => {
        const redis = new Redis(storage.redisUrl as string);
        const prefix = `${storage.redisPrefix}-slots-${randomUUID().slice(0, 8)}`;
        // Every pipeline the refresh makes, with its length and the turn it was made in.
        const pipelines: Array<{ commands: number; turn: number }> = [];
        // One tick per turn of the event loop (an immediate queued by an immediate runs in the next turn).
        let turn = 0;
        let ticking = true;
        const tick = () => {
          turn++;
          if (ticking) setImmediate(tick);
        };
        setImmediate(tick);
        const pipeline = redis.pipeline.bind(redis);
        redis.pipeline = ((...args: Parameters<typeof redis.pipeline>) => {
          const p = pipeline(...args);
          const exec = p.exec.bind(p);
          p.exec = ((...a: Parameters<typeof p.exec>) => {
            pipelines.push({ commands: p.length, turn });
            return exec(...a);
          }) as typeof p.exec;
          return p;
        }) as typeof redis.pipeline;
        const slots = createSocketSlots({ redis, prefix, max: 5, refreshMs: 300 });
        try {
          // Places for 2.5 slices' worth of sockets, over many accounts (up to 3 each).
          const held = Math.floor(SLOT_REFRESH_SLICE * 2.5);
          const releases: Array<() => void> = [];
          for (let i = 0; i < held; i++) {
            const r = await slots.acquire(`account-${Math.floor(i / 3)}`, `socket-${i}`);
            if (!r.ok) throw new Error("a place was refused below the cap");
            releases.push(r.release);
          }
          const keys = await redis.keys(`${prefix}:limit:sockets:*`);
          const scores = async () =>
            (await Promise.all(keys.map((k) => redis.zrange(k, "0", "-1", "WITHSCORES")))).flatMap((pairs) =>
              pairs.filter((_, i) => i % 2 === 1).map(Number),
            );
          const before = await scores();
          expect(before).toHaveLength(held);
          const firstExpiry = Math.max(...before);
          await vi.waitFor(() => expect(pipelines.length).toBeGreaterThanOrEqual(3), {
            timeout: 5_000,
            interval: 20,
          });
          // The first round: three pipelines of at most SLOT_REFRESH_SLICE places (two commands each), each in a turn
          // of its own.
          const round = pipelines.slice(0, 3);
          expect(round.map((p) => p.commands)).toEqual([
            SLOT_REFRESH_SLICE * 2,
            SLOT_REFRESH_SLICE * 2,
            (held - 2 * SLOT_REFRESH_SLICE) * 2,
          ]);
          expect(new Set(round.map((p) => p.turn)).size).toBe(3);
          // Every place got a later expiry.
          await vi.waitFor(async () => expect(Math.min(...(await scores()))).toBeGreaterThan(firstExpiry), {
            timeout: 5_000,
            interval: 20,
          });
          for (const release of releases) release();
        } finally {
          ticking = false;
          slots.close();
          const left = await redis.keys(`${prefix}:*`);
          if (left.length > 0) await redis.del(...left);
          await redis.quit();
        }
      });

    // After the log test: two more accounts reach the events limit here (the log says it once per account and window).
    if (backend === "services")
      it("socket events across two nodes: one shared budget, at most one event per node past it", async () => {
        const p = await signUp("Two Nodes");
        const a = (await open(p)).socket as Socket;
        const b = (await open(p, freshAddress(), second?.url)).socket as Socket;
        const send = async (s: Socket) =>
          ((await s.timeout(5000).emitWithAck("no:such:event", {})) as Refusal).code;
        // Node A spends the whole budget, one event after another: its own count and the shared one agree.
        const onA: string[] = [];
        for (let i = 0; i < 6; i++) onA.push(await send(a));
        expect(onA).toEqual(Array(6).fill("UNKNOWN_EVENT"));
        // Node B has counted nothing of its own: its first event passes (the shared count, taken behind it, is over),
        // and the next one waits for that verdict and is refused. So is A's next one, by its own count.
        const onB: string[] = [];
        for (let i = 0; i < 4; i++) onB.push(await send(b));
        expect(onB).toEqual(["UNKNOWN_EVENT", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
        expect(await send(a)).toBe("TOO_MANY_REQUESTS");
        // A burst on B alone never gets past the shared count either: a fresh account spends 5 on A, then 4 at once on B.
        const q = await signUp("Burst Nodes");
        const qa = (await open(q)).socket as Socket;
        const qb = (await open(q, freshAddress(), second?.url)).socket as Socket;
        for (let i = 0; i < 5; i++) expect(await send(qa)).toBe("UNKNOWN_EVENT");
        const burst = await Promise.all(Array.from({ length: 4 }, () => send(qb)));
        // Each waits for the one before it to be counted: the 6th passes, the 7th (B's one past the budget) passes
        // before its count comes back, and the rest are refused.
        expect(burst.filter((c) => c === "UNKNOWN_EVENT").length).toBe(2);
        expect(burst.filter((c) => c === "TOO_MANY_REQUESTS").length).toBe(2);
      });
  });
}
