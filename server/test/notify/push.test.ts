// Web Push end to end against a push service this test runs: an HTTPS server on 127.0.0.1 (web-push speaks only
// https, so it has a self-signed certificate made here with openssl, trusted through the channel's agent) that
// records each request and answers what the test says. The browser side is this test too: its own P-256 key pair
// and auth secret, and http_ece to decrypt what arrived. Nothing of web-push or the database is mocked.
import { execFileSync } from "node:child_process";
import { createECDH, createPublicKey, type ECDH, randomBytes, randomUUID, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { Agent, createServer, type Server } from "node:https";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  type NoticeKind,
  noticeFor,
  type PushPayload,
  pushPayloadSchema,
  type VisibleEvent,
} from "@backchannel/common";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import webpush from "web-push";
import { createLogger } from "../../src/log";
import type { PendingNotice, PushChannel } from "../../src/notify/channels";
import { addSubscription, subscriptionsOf } from "../../src/notify/preferences";
import { createPushChannel } from "../../src/notify/push";
import { createUser } from "../store/fixtures";
import { describeBackends } from "../support/db";

const require = createRequire(import.meta.url);
const ece = require("http_ece") as {
  decrypt(
    body: Buffer,
    params: { version: "aes128gcm"; privateKey: ECDH; authSecret: string | Buffer },
  ): Buffer;
};

const SUBJECT = "mailto:ops@backchannel.example";
const TTL = 3600;
/** The deal's amount in cents: it is in the event the notice is made from, and must reach no push message. */
const DEAL_CENTS = 123_456_789;
const TITLE = "Smith v. Acme";

// ---------------------------------------------------------------- the push service

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const certDir = mkdtempSync(join(tmpdir(), "bc-push-"));
let service: Server;
let origin: string;
let plainService: HttpServer;
let plainOrigin: string;
let agent: Agent;
const received: Received[] = [];
/** what the service answers per path (default 201 Created, as push services do) */
const answers = new Map<string, number>();

beforeAll(async () => {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(certDir, "key.pem"),
      "-out",
      join(certDir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  const cert = readFileSync(join(certDir, "cert.pem"));
  const record = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "";
      if (req.method === "POST") received.push({ path, headers: req.headers, body: Buffer.concat(chunks) });
      res.statusCode = answers.get(path) ?? 201;
      res.end();
    });
  };
  service = createServer({ key: readFileSync(join(certDir, "key.pem")), cert }, record);
  await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
  origin = `https://127.0.0.1:${(service.address() as AddressInfo).port}`;
  // The same service over plain http, as one run in development would be.
  plainService = createHttpServer(record);
  await new Promise<void>((resolve) => plainService.listen(0, "127.0.0.1", resolve));
  plainOrigin = `http://127.0.0.1:${(plainService.address() as AddressInfo).port}`;
  // Trusts the test's certificate and nothing else: no NODE_TLS_REJECT_UNAUTHORIZED anywhere.
  agent = new Agent({ ca: cert, keepAlive: false });
});

afterAll(async () => {
  agent?.destroy();
  await new Promise<void>((resolve) => (service ? service.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (plainService ? plainService.close(() => resolve()) : resolve()));
  rmSync(certDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the browser

interface Browser {
  ecdh: ECDH;
  auth: Buffer;
  path: string;
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
}

function browser(base = origin): Browser {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  const auth = randomBytes(16);
  const path = `/push/${randomBytes(12).toString("base64url")}`;
  return {
    ecdh,
    auth,
    path,
    subscription: {
      endpoint: `${base}${path}`,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
    },
  };
}

function decrypt(b: Browser, r: Received): PushPayload {
  const plain = ece.decrypt(r.body, { version: "aes128gcm", privateKey: b.ecdh, authSecret: b.auth });
  return pushPayloadSchema.parse(JSON.parse(plain.toString("utf8")));
}

/** The claims of a VAPID `Authorization: vapid t=<jwt>, k=<key>` header, after checking its ES256 signature. */
function vapidClaims(header: string | undefined, publicKey: string): Record<string, unknown> {
  const m = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header ?? "");
  expect(m, `Authorization: ${header}`).not.toBeNull();
  const [jwt, k] = [m?.[1] as string, m?.[2] as string];
  expect(k).toBe(publicKey);
  const [h, p, s] = jwt.split(".") as [string, string, string];
  expect(JSON.parse(Buffer.from(h, "base64url").toString())).toMatchObject({ alg: "ES256", typ: "JWT" });
  const point = Buffer.from(publicKey, "base64url");
  const key = createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33, 65).toString("base64url"),
    },
    format: "jwk",
  });
  const ok = verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key, dsaEncoding: "ieee-p1363" },
    Buffer.from(s, "base64url"),
  );
  expect(ok).toBe(true);
  return JSON.parse(Buffer.from(p, "base64url").toString());
}

// ---------------------------------------------------------------- the notices

/** The member's notice of a deal, made by common's noticeFor from a DealMade event that holds the amount. */
function dealNotice(sessionId: string, userId: string): PendingNotice {
  const event = {
    type: "DealMade",
    at: Date.now(),
    amount: DEAL_CENTS,
    source: "step2",
    bonusPercent: 5,
    bonusSide: "claimant",
    termsVersion: 3,
  } as VisibleEvent;
  const notice = noticeFor(event, { userId, role: "claimant" }, { title: TITLE, nameOf: () => "Claire" });
  if (!notice) throw new Error("noticeFor gave no deal notice");
  return {
    id: randomUUID(),
    sessionId,
    userId,
    email: `${userId}@example.test`,
    name: "Claire",
    kind: notice.kind,
    title: notice.title,
    body: notice.body,
    link: null,
  };
}

function notice(userId: string, kind: NoticeKind, sessionId: string | null = randomUUID()): PendingNotice {
  return {
    id: randomUUID(),
    sessionId,
    userId,
    email: `${userId}@example.test`,
    name: "Claire",
    kind,
    title: "A proposal to answer",
    body: `The mediator put a proposal in ${TITLE}: your side can accept or reject it.`,
    link: null,
  };
}

describeBackends("Web Push channel", ({ db }) => {
  const keys = webpush.generateVAPIDKeys();
  const logLines: string[] = [];
  let push: PushChannel;

  beforeAll(() => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    push = createPushChannel({
      db: db(),
      keys,
      subject: SUBJECT,
      log: createLogger({ level: "debug", name: "push" }, sink),
      ttlSeconds: TTL,
      agent,
    });
  });
  beforeEach(() => {
    received.length = 0;
    answers.clear();
  });

  async function subscribed(userId: string, label?: string): Promise<Browser> {
    const b = browser();
    await db().tx((q) => addSubscription(q, userId, { ...b.subscription, ...(label ? { label } : {}) }));
    return b;
  }

  it("sends each of the member's browsers a message only that browser can read, and it holds no amount", async () => {
    const userId = await createUser(db());
    const other = await createUser(db(), "Rob Respondent");
    const phone = await subscribed(userId, "Phone");
    const laptop = await subscribed(userId, "Laptop");
    const stranger = await subscribed(other);
    const sessionId = randomUUID();

    expect(await push.send(dealNotice(sessionId, userId))).toBe("sent");

    expect(received.map((r) => r.path).sort()).toEqual([phone.path, laptop.path].sort());
    expect(received.some((r) => r.path === stranger.path)).toBe(false);
    for (const b of [phone, laptop]) {
      const r = received.find((x) => x.path === b.path) as Received;
      const payload = decrypt(b, r);
      expect(payload).toEqual({
        kind: "deal",
        title: "Deal reached",
        body: `A deal was made in ${TITLE}.`,
        url: `/sessions/${sessionId}`,
        tag: `${sessionId}:deal`,
      });
      // No amount in any spelling: no digit at all once the session's id is taken out (the title has none).
      const plain = JSON.stringify(payload);
      expect(plain).not.toContain(String(DEAL_CENTS));
      expect(plain.replaceAll(sessionId, "")).not.toMatch(/\d/);
      // What the push service saw is ciphertext: neither the sentence nor the session id is in it.
      expect(r.body.includes(Buffer.from("Deal reached"))).toBe(false);
      expect(r.body.includes(Buffer.from(sessionId))).toBe(false);
      // Another browser's keys cannot read it.
      expect(() => decrypt(b === phone ? laptop : phone, r)).toThrow();

      expect(r.headers["content-encoding"]).toBe("aes128gcm");
      expect(r.headers.ttl).toBe(String(TTL));
      expect(r.headers.urgency).toBe("high");
      expect(r.headers.topic).toBeUndefined();
      const claims = vapidClaims(r.headers.authorization, keys.publicKey);
      expect(claims.aud).toBe(origin);
      expect(claims.sub).toBe(SUBJECT);
      const now = Math.floor(Date.now() / 1000);
      expect(claims.exp).toBeGreaterThan(now);
      expect(claims.exp).toBeLessThanOrEqual(now + 24 * 3600);
    }
  });

  it("sends other kinds at normal urgency, and a notice without a session opens the start page", async () => {
    const userId = await createUser(db());
    const b = await subscribed(userId);
    expect(await push.send(notice(userId, "proposal", null))).toBe("sent");
    expect(received).toHaveLength(1);
    const r = received[0] as Received;
    expect(r.headers.urgency).toBe("normal");
    expect(decrypt(b, r)).toMatchObject({ kind: "proposal", url: "/", tag: "none:proposal" });
  });

  it("answers no-subscription, and sends nothing, for a member without browsers or a notice without a member", async () => {
    const userId = await createUser(db());
    expect(await push.send(notice(userId, "knock"))).toBe("no-subscription");
    expect(await push.send({ ...notice(userId, "knock"), userId: null })).toBe("no-subscription");
    expect(received).toHaveLength(0);
  });

  it("drops a subscription the push service says is gone (410, 404), and still sends to the others", async () => {
    const userId = await createUser(db());
    const gone = await subscribed(userId);
    const unknown = await subscribed(userId);
    const alive = await subscribed(userId);
    answers.set(gone.path, 410);
    answers.set(unknown.path, 404);

    expect(await push.send(notice(userId, "reminder"))).toBe("sent");
    expect(received).toHaveLength(3);
    const left = await subscriptionsOf(db(), userId);
    expect(left.map((s) => s.endpoint)).toEqual([alive.subscription.endpoint]);

    // Once every browser is gone, there is nobody to send to.
    answers.set(alive.path, 410);
    expect(await push.send(notice(userId, "reminder"))).toBe("no-subscription");
    expect(await subscriptionsOf(db(), userId)).toEqual([]);
  });

  it("throws after trying every subscription when one fails otherwise (500), and keeps it for the retry", async () => {
    const userId = await createUser(db());
    const failing = await subscribed(userId);
    const fine = await subscribed(userId);
    answers.set(failing.path, 500);

    await expect(push.send(notice(userId, "consent"))).rejects.toThrow(/push to 1 of 2 subscriptions failed/);
    expect(received.map((r) => r.path).sort()).toEqual([failing.path, fine.path].sort());
    expect((await subscriptionsOf(db(), userId)).map((s) => s.endpoint).sort()).toEqual(
      [failing.subscription.endpoint, fine.subscription.endpoint].sort(),
    );
  });

  it("throws when the push service cannot be reached, and keeps the subscription", async () => {
    const userId = await createUser(db());
    // A port nothing listens on: bound, then closed.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await db().tx((q) =>
      addSubscription(q, userId, { ...browser().subscription, endpoint: `https://127.0.0.1:${port}/push/x` }),
    );
    await expect(push.send(notice(userId, "deal"))).rejects.toThrow(/push to 1 of 1 subscriptions failed/);
    expect(await subscriptionsOf(db(), userId)).toHaveLength(1);
  });

  it("sends an http: push service on this machine (development, tests) the very same encrypted request", async () => {
    const userId = await createUser(db());
    const b = browser(plainOrigin);
    await db().tx((q) => addSubscription(q, userId, b.subscription, { allowLoopbackHttp: true }));
    const sessionId = randomUUID();
    expect(await push.send(dealNotice(sessionId, userId))).toBe("sent");
    expect(received).toHaveLength(1);
    const r = received[0] as Received;
    expect(r.path).toBe(b.path);
    expect(decrypt(b, r)).toMatchObject({ kind: "deal", body: `A deal was made in ${TITLE}.` });
    expect(r.headers).toMatchObject({ "content-encoding": "aes128gcm", ttl: String(TTL), urgency: "high" });
    expect(vapidClaims(r.headers.authorization, keys.publicKey).aud).toBe(plainOrigin);

    // 410 and 500 mean there what they mean over https.
    answers.set(b.path, 500);
    await expect(push.send(dealNotice(sessionId, userId))).rejects.toThrow(/push to 1 of 1/);
    answers.set(b.path, 410);
    expect(await push.send(dealNotice(sessionId, userId))).toBe("no-subscription");
    expect(await subscriptionsOf(db(), userId)).toEqual([]);
  });

  it("never sends to an http: endpoint elsewhere (it cannot be a browser's): drops it", async () => {
    const userId = await createUser(db());
    // Stored behind addSubscription's back: addSubscription refuses it.
    await db().query(
      "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES ($1, $2, $3, $4)",
      [
        userId,
        "http://push.example/push/x",
        browser().subscription.keys.p256dh,
        browser().subscription.keys.auth,
      ],
    );
    expect(await push.send(notice(userId, "deal"))).toBe("no-subscription");
    expect(await subscriptionsOf(db(), userId)).toEqual([]);
  });

  it("logs the push service's host and a status, never an endpoint's path, a key or the message", () => {
    const log = logLines.join("");
    expect(log).toContain("push subscription gone: dropped");
    expect(log).toContain("push send failed");
    expect(log).toContain(`"service":"127.0.0.1:`);
    expect(log).not.toContain("/push/");
    expect(log).not.toContain(keys.privateKey);
    expect(log).not.toMatch(/p256dh|auth"|Deal reached|A proposal to answer|mediator put a proposal/);
  });
});
