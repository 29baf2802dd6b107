// The production topology on one machine (infra/topology): two ROLE=web nodes and a worker on PostgreSQL + Redis
// behind the proxy. Through the proxy only: accounts, a session, a WebSocket client on one node and long-polling
// clients on the other; a command on one node reaches the sockets on the other; a killed node comes back; stop()
// leaves no process, database, Redis key or temp dir behind.
//
// Like the server's service suites: without DATABASE_URL and REDIS_URL it is skipped with a loud warning, and under
// CI=true or REQUIRE_SERVICES=1 their absence fails the run. Without nginx it runs behind the Node proxy (warned).

import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { PROTOCOL_VERSION } from "@backchannel/common";
import { Redis } from "ioredis";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb } from "../../server/src/store/db";
import { checkConfigs, formatResults } from "../topology/check";
import { findNginx, STICKY_COOKIE, UPSTREAM_HEADER } from "../topology/proxy";
import { startTopology, type Topology, type TopologyNode } from "../topology/start";

const servicesRequired = process.env.CI === "true" || process.env.REQUIRE_SERVICES === "1";
const missing = ["DATABASE_URL", "REDIS_URL"].filter((name) => !process.env[name]?.trim());
// TOPOLOGY_PROXY=node runs it behind the Node proxy even where nginx is installed.
const nginx = process.env.TOPOLOGY_PROXY === "node" ? undefined : findNginx();

describe("the Docker deployment's configuration (nginx -t, redis-server on redis.conf, compose YAML)", () => {
  it("has no error", async () => {
    const results = await checkConfigs();
    const skipped = results.filter((r) => r.status === "skipped");
    if (skipped.length > 0)
      console.warn(
        `\n!!! SKIPPING config checks: ${skipped.map((r) => `${r.name} (${r.detail})`).join("; ")}\n`,
      );
    const failed = results.filter((r) => r.status === "failed");
    expect(failed, formatResults(results)).toEqual([]);
  }, 30_000);
});

/** Processes by process group (from /proc), zombies left out. */
function processes(): { pid: number; ppid: number; pgid: number }[] {
  const out: { pid: number; ppid: number; pgid: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") continue;
      out.push({ pid: Number(entry), ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {}
  }
  return out;
}

/** The fields these tests read from the API's answers (each answer has some of them). */
interface ApiBody {
  token: string;
  user: { id: string };
  view: { id: string };
}

interface Account {
  token: string;
  cookie: string;
  user: { id: string };
}

if (missing.length > 0) {
  if (servicesRequired) {
    describe("production topology on one machine", () => {
      it("needs DATABASE_URL and REDIS_URL (CI=true or REQUIRE_SERVICES=1)", () => {
        throw new Error(
          `${missing.join(" and ")} not set, but CI=true or REQUIRE_SERVICES=1 requires the topology suite`,
        );
      });
    });
  } else {
    console.warn(`\n!!! SKIPPING production topology suite: ${missing.join(" and ")} not set\n`);
    describe.skip(`production topology on one machine (SKIPPED: ${missing.join(" and ")} not set)`, () => {
      it("starts two web nodes, a worker and a proxy", () => {});
    });
  }
} else {
  if (!nginx)
    console.warn(
      `\n!!! ${process.env.TOPOLOGY_PROXY === "node" ? "TOPOLOGY_PROXY=node" : "nginx is not installed"}: the topology suite runs behind the Node proxy instead of nginx\n`,
    );

  describe(`production topology on one machine (proxy: ${nginx ? "nginx" : "node"})`, () => {
    let topology: Topology;
    const sockets: Socket[] = [];
    const ownChildrenBefore = new Set(
      processes()
        .filter((p) => p.ppid === process.pid)
        .map((p) => p.pid),
    );

    beforeAll(async () => {
      topology = await startTopology({ logLevel: "warn", proxy: nginx ? "nginx" : "node" });
    }, 90_000);
    afterAll(async () => {
      for (const s of sockets) s.disconnect();
      await topology?.stop();
    }, 60_000);

    const webA = () => topology.nodes[0] as TopologyNode;
    const webB = () => topology.nodes[1] as TopologyNode;

    /** A sticky cookie the proxy sends to `port`. */
    async function cookieFor(port: number): Promise<string> {
      for (let i = 0; i < 64; i++) {
        const cookie = `${STICKY_COOKIE}=${randomBytes(8).toString("hex")}`;
        const res = await fetch(`${topology.url}/healthz`, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.headers.get(UPSTREAM_HEADER) === `127.0.0.1:${port}`) return cookie;
      }
      throw new Error(`no cookie value leads to port ${port}`);
    }

    async function api(
      method: string,
      route: string,
      who: { token?: string; cookie: string },
      body?: unknown,
    ) {
      const res = await fetch(topology.url + route, {
        method,
        headers: {
          cookie: who.cookie,
          ...(who.token ? { authorization: `Bearer ${who.token}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: res.status,
        upstream: res.headers.get(UPSTREAM_HEADER),
        body: (await res.json()) as ApiBody,
      };
    }

    async function signUp(name: string, cookie: string): Promise<Account> {
      const r = await api(
        "POST",
        "/api/auth/signup",
        { cookie },
        {
          email: `${name}-${randomUUID().slice(0, 8)}@example.test`,
          password: "correct horse battery",
          displayName: name,
        },
      );
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return { token: r.body.token, user: r.body.user, cookie };
    }

    async function connect(
      who: Account,
      opts: { transports: Array<"websocket" | "polling">; cookie?: boolean },
    ): Promise<{ socket: Socket; events: Array<{ type: string }> }> {
      const socket = io(topology.url, {
        auth: { token: who.token, protocol: PROTOCOL_VERSION },
        transports: opts.transports,
        reconnection: false,
        forceNew: true,
        // Without a preset cookie: the client keeps the one the proxy sets on the handshake (engine.io's cookie jar).
        ...(opts.cookie === false ? { withCredentials: true } : { extraHeaders: { cookie: who.cookie } }),
      });
      sockets.push(socket);
      const events: Array<{ type: string }> = [];
      socket.on("session:event", (...pushes: Array<{ event: { type: string } }>) =>
        events.push(...pushes.map((p) => p.event)),
      );
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", (e) => reject(e));
      });
      return { socket, events };
    }

    async function waitFor(events: Array<{ type: string }>, type: string, what: string) {
      const deadline = Date.now() + 10_000;
      while (!events.some((e) => e.type === type)) {
        if (Date.now() > deadline) throw new Error(`${what}: no ${type} (got ${events.map((e) => e.type)})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    it("a command on one node reaches WebSocket and long-polling clients on the other, all through the proxy", async () => {
      const cookieA = await cookieFor(webA().port);
      const cookieB = await cookieFor(webB().port);
      const claimant = await signUp("Claimant", cookieA);
      const respondent = await signUp("Respondent", cookieB);

      const created = await api("POST", "/api/sessions", claimant, {
        title: "Two nodes",
        creatorRole: "claimant",
      });
      expect(created.status).toBe(201);
      expect(created.upstream).toBe(`127.0.0.1:${webA().port}`);
      const sessionId: string = created.body.view.id;
      const invited = await api("POST", `/api/sessions/${sessionId}/invitations`, claimant, {
        role: "respondent",
        canBid: true,
      });
      expect(invited.status).toBe(201);
      const accepted = await api("POST", "/api/invitations/accept", respondent, {
        token: invited.body.token,
      });
      expect(accepted.status).toBe(200);
      expect(accepted.upstream).toBe(`127.0.0.1:${webB().port}`);

      // Claimant over WebSocket on node A; respondent long-polling on node B (a polling connection is several HTTP
      // requests: each must reach B), and once more with the default transports (polling, then the upgrade) and the
      // cookie the proxy hands out on the handshake.
      const onA = await connect(claimant, { transports: ["websocket"] });
      const pollingOnB = await connect(respondent, { transports: ["polling"] });
      const upgraded = await connect(respondent, { transports: ["polling", "websocket"], cookie: false });
      expect(onA.socket.io.engine.transport.name).toBe("websocket");
      expect(pollingOnB.socket.io.engine.transport.name).toBe("polling");
      for (const c of [onA, pollingOnB, upgraded]) {
        expect(await c.socket.timeout(5000).emitWithAck("session:open", { sessionId })).toMatchObject({
          ok: true,
        });
      }
      const command = (c: { socket: Socket }) =>
        c.socket.timeout(5000).emitWithAck("command", {
          sessionId,
          idempotencyKey: randomUUID(),
          command: { type: "SkipTerms" },
        });

      // Committed on A, pushed to the polling client on B through the Redis adapter.
      expect(await command(onA)).toMatchObject({ ok: true });
      await waitFor(pollingOnB.events, "TermsSkipped", "polling client on B");
      // Committed on B (over long-polling), pushed to the WebSocket client on A.
      expect(await command(pollingOnB)).toMatchObject({ ok: true });
      await waitFor(onA.events, "Step2Opened", "WebSocket client on A");
      await waitFor(upgraded.events, "Step2Opened", "client that upgraded");
      expect(pollingOnB.socket.io.engine.transport.name).toBe("polling");
      expect(upgraded.socket.io.engine.transport.name).toBe("websocket");
      expect(pollingOnB.socket.connected && upgraded.socket.connected && onA.socket.connected).toBe(true);
    }, 30_000);

    it("a web node killed outright comes back with restart()", async () => {
      const cookieB = await cookieFor(webB().port);
      const before = webB().pid;
      await webB().kill("SIGKILL");
      expect(webB().alive()).toBe(false);
      // The proxy passes the request to the other node when B refuses the connection.
      const failover = await fetch(`${topology.url}/healthz`, { headers: { cookie: cookieB } });
      await failover.arrayBuffer();
      expect(failover.status).toBe(200);
      // Every node tried, the one that answered last.
      expect(failover.headers.get(UPSTREAM_HEADER)).toBe(
        `127.0.0.1:${webB().port}, 127.0.0.1:${webA().port}`,
      );
      await webB().restart();
      expect(webB().pid).not.toBe(before);
      const r = await fetch(`${topology.url}/readyz`, { headers: { cookie: cookieB } });
      expect(r.status).toBe(200);
      expect(r.headers.get(UPSTREAM_HEADER)).toBe(`127.0.0.1:${webB().port}`);
      expect(await r.json()).toMatchObject({ ok: true, checks: { database: "ok", redis: "ok" } });
    }, 60_000);

    it("stop() leaves no process, database, Redis key or temp dir", async () => {
      for (const s of sockets) s.disconnect();
      const groups = new Set(topology.pids());
      expect(groups.size).toBe(nginx ? 4 : 3); // web1, web2, worker (+ nginx's group)
      const members = processes().filter((p) => groups.has(p.pgid));
      // nginx's group holds its guard, its master and a worker.
      expect(members.length).toBeGreaterThanOrEqual(groups.size + (nginx ? 2 : 0));

      const started = Date.now();
      await topology.stop();
      console.log(`topology stopped in ${Date.now() - started} ms`);

      const alive = new Set(processes().map((p) => p.pid));
      expect(members.filter((m) => alive.has(m.pid))).toEqual([]);
      const ownChildren = processes().filter((p) => p.ppid === process.pid && !ownChildrenBefore.has(p.pid));
      expect(ownChildren).toEqual([]);
      expect(topology.pids()).toEqual([]);

      const admin = await openDb({ databaseUrl: process.env.DATABASE_URL as string });
      try {
        const left = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [
          topology.database.name,
        ]);
        expect(left.rows).toEqual([]);
      } finally {
        await admin.close();
      }
      const redis = new Redis(process.env.REDIS_URL as string);
      try {
        const [, keys] = await redis.scan("0", "MATCH", `${topology.redis.prefix}*`, "COUNT", 10_000);
        expect(keys).toEqual([]);
      } finally {
        await redis.quit();
      }
      expect(existsSync(topology.tempDir)).toBe(false);
    }, 60_000);
  });
}
