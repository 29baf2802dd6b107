// The notification REST routes (src/http/notifications.ts), mounted the way app.ts mounts them: `open` under /api
// before the sign-in middleware (the real token service and the same check as app.ts), `signedIn` after it, then
// app.ts's error handling. Unsubscribe tokens are the real HMAC ones (src/notify/unsubscribe.ts).
import { createECDH, randomBytes, randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { errors, NOTICE_CHANNELS, NOTICE_CHANNELS_LIST, NOTICE_KINDS } from "@backchannel/common";
import express, { type NextFunction, type Request, type Response } from "express";
import { afterAll, beforeAll, expect, it } from "vitest";
import webpush from "web-push";
import { readToken } from "../../src/auth/cookies";
import { createTokenService, type TokenService } from "../../src/auth/tokens";
import { AppError, errorBody, toPublicError } from "../../src/errors";
import { type NotificationRouteDeps, notificationRoutes } from "../../src/http/notifications";
import { createUnsubscribeTokens, type UnsubscribeTokens } from "../../src/notify/unsubscribe";
import type { Db } from "../../src/store/db";
import { createUser } from "../store/fixtures";
import { describeBackends } from "../support/db";

const VAPID = webpush.generateVAPIDKeys();
const ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Backchannel//test//EN\r\nEND:VCALENDAR\r\n";

/** A browser's p256dh: a fresh P-256 public key, uncompressed, base64url. */
function browserKey(): string {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return ecdh.getPublicKey().toString("base64url");
}

interface User {
  id: string;
  email: string;
  name: string;
  token: string;
}

/** app.ts's shape, in small: JSON bodies, the open routes, sign-in, the signed-in routes, 404s, refusals. */
function appWith(deps: NotificationRouteDeps, tokens: TokenService): express.Express {
  const app = express();
  app.use(express.json({ limit: "100kb" }));
  const routes = notificationRoutes(deps);
  const api = express.Router();
  api.use(routes.open);
  api.use(async (req: Request & { user?: unknown }, _res, next) => {
    const token = readToken({ headers: req.headers as { cookie?: string; authorization?: string } });
    if (!token) throw new AppError(errors.unauthenticated());
    const v = await tokens.verify(token);
    if (!v.ok) throw new AppError(v.code === "TOKEN_EXPIRED" ? errors.tokenExpired() : errors.tokenInvalid());
    req.user = v.user;
    next();
  });
  api.use(routes.signedIn);
  app.use("/api", api);
  app.use("/api", (_req, res) => {
    res.status(404).json(errorBody(errors.unknownRoute()));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const body = err as { type?: string };
    if (body?.type === "entity.parse.failed") {
      res.status(400).json(errorBody(errors.invalidJson()));
      return;
    }
    const { status, ...error } = toPublicError(err);
    res.status(status).json(errorBody(error));
  });
  return app;
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api` };
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

describeBackends(
  "notification routes",
  ({ db }) => {
    let tokens: TokenService;
    let unsubscribe: UnsubscribeTokens;
    let withPush: { server: Server; url: string };
    let withoutPush: { server: Server; url: string };
    /** sessions the calendar dependency answers for: session id -> its members */
    const calendars = new Map<string, Set<string>>();
    const calendarCalls: [string, string][] = [];

    beforeAll(async () => {
      tokens = await createTokenService({
        secret: randomBytes(32).toString("base64"),
        dataDir: "/nonexistent",
        issuer: "backchannel-test",
        audience: "backchannel-test",
        ttlSeconds: 3600,
      });
      unsubscribe = createUnsubscribeTokens(randomBytes(32));
      const deps = (database: Db): NotificationRouteDeps => ({
        db: database,
        push: { publicKey: VAPID.publicKey },
        unsubscribe,
        calendarFor: async (sessionId, userId) => {
          calendarCalls.push([sessionId, userId]);
          if (!calendars.get(sessionId)?.has(userId)) throw new AppError(errors.sessionNotFound());
          return ICS;
        },
      });
      withPush = await listen(appWith(deps(db()), tokens));
      withoutPush = await listen(
        appWith({ ...deps(db()), push: undefined, allowLoopbackHttp: false }, tokens),
      );
    });
    afterAll(async () => {
      for (const s of [withPush, withoutPush]) await new Promise((r) => s?.server.close(r));
    });

    async function signedUp(name = "Claire Claimant"): Promise<User> {
      const id = await createUser(db(), name);
      const user = { id, email: `${id}@example.test`, name };
      return { ...user, token: (await tokens.sign(user)).token };
    }

    async function call(
      method: string,
      path: string,
      opts: { user?: User; json?: unknown; form?: string; base?: string } = {},
    ): Promise<Answer> {
      const headers: Record<string, string> = {};
      if (opts.user) headers.authorization = `Bearer ${opts.user.token}`;
      let body: string | undefined;
      if (opts.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(opts.json);
      } else if (opts.form !== undefined) {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = opts.form;
      }
      const res = await fetch(`${opts.base ?? withPush.url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    }

    const subscription = (extra: Record<string, unknown> = {}) => ({
      endpoint: `https://fcm.googleapis.com/fcm/send/${randomBytes(12).toString("base64url")}`,
      expirationTime: null,
      keys: { p256dh: browserKey(), auth: randomBytes(16).toString("base64url") },
      ...extra,
    });

    const refused = (a: Answer, status: number, code: string, message?: string | RegExp) => {
      expect(a.status, a.text).toBe(status);
      const e = (a.body as { error: { code: string; message: string } }).error;
      expect(e.code).toBe(code);
      if (typeof message === "string") expect(e.message).toBe(message);
      else if (message) expect(e.message).toMatch(message);
    };

    // ---------------------------------------------------------------- sign-in

    it("serves nothing but unsubscribe without signing in", async () => {
      for (const [method, path] of [
        ["GET", "/notifications/vapid-key"],
        ["GET", "/notifications/push-subscriptions"],
        ["POST", "/notifications/push-subscriptions"],
        ["DELETE", `/notifications/push-subscriptions/${randomUUID()}`],
        ["GET", "/notifications/preferences"],
        ["PUT", "/notifications/preferences"],
        ["GET", `/sessions/${randomUUID()}/calendar.ics`],
      ] as const) {
        refused(await call(method, path), 401, "UNAUTHENTICATED");
      }
    });

    // ---------------------------------------------------------------- vapid key

    it("gives the VAPID public key, or 404 NOT_FOUND when push is not configured", async () => {
      const user = await signedUp();
      const a = await call("GET", "/notifications/vapid-key", { user });
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ publicKey: VAPID.publicKey });
      expect(a.text).not.toContain(VAPID.privateKey);
      refused(
        await call("GET", "/notifications/vapid-key", { user, base: withoutPush.url }),
        404,
        "NOT_FOUND",
        "Push notifications are not configured on this server.",
      );
    });

    // ---------------------------------------------------------------- push subscriptions

    it("adds, lists and deletes one's push subscriptions", async () => {
      const user = await signedUp();
      const input = subscription({ label: "Chrome on Android" });
      const added = await call("POST", "/notifications/push-subscriptions", { user, json: input });
      expect(added.status, added.text).toBe(201);
      const sub = (added.body as { subscription: { id: string } }).subscription;
      expect(sub).toEqual({
        id: expect.any(String),
        label: "Chrome on Android",
        service: "fcm.googleapis.com",
        createdAt: expect.any(Number),
      });
      // The endpoint's path and the keys are never served back.
      expect(added.text).not.toContain(input.keys.p256dh);
      expect(added.text).not.toContain(input.endpoint);

      // The same browser again: still one.
      const again = await call("POST", "/notifications/push-subscriptions", {
        user,
        json: { ...input, label: undefined },
      });
      expect((again.body as { subscription: { id: string } }).subscription.id).toBe(sub.id);

      const list = await call("GET", "/notifications/push-subscriptions", { user });
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ subscriptions: [{ ...sub, label: null }] });

      const del = await call("DELETE", `/notifications/push-subscriptions/${sub.id}`, { user });
      expect(del.status).toBe(204);
      expect(del.text).toBe("");
      expect((await call("GET", "/notifications/push-subscriptions", { user })).body).toEqual({
        subscriptions: [],
      });
      refused(
        await call("DELETE", `/notifications/push-subscriptions/${sub.id}`, { user }),
        404,
        "NOT_FOUND",
        "There is no such push subscription among yours.",
      );
    });

    it("answers 404 for another person's subscription, an unknown one, and an id that is no uuid", async () => {
      const claire = await signedUp();
      const rob = await signedUp("Rob Respondent");
      const added = await call("POST", "/notifications/push-subscriptions", {
        user: rob,
        json: subscription(),
      });
      const robs = (added.body as { subscription: { id: string } }).subscription;

      for (const id of [robs.id, randomUUID(), "not-a-uuid", "1%27%20OR%201=1"]) {
        refused(
          await call("DELETE", `/notifications/push-subscriptions/${id}`, { user: claire }),
          404,
          "NOT_FOUND",
        );
      }
      // Rob's is still there.
      expect((await call("GET", "/notifications/push-subscriptions", { user: rob })).body).toEqual({
        subscriptions: [robs],
      });
      // And Claire's list never shows it.
      expect((await call("GET", "/notifications/push-subscriptions", { user: claire })).body).toEqual({
        subscriptions: [],
      });
    });

    it("refuses a subscription that is not a browser's PushSubscription", async () => {
      const user = await signedUp();
      const post = (json: unknown) => call("POST", "/notifications/push-subscriptions", { user, json });
      refused(
        await post(subscription({ endpoint: "javascript:alert(1)" })),
        400,
        "INVALID_INPUT",
        "endpoint: The push endpoint must be an http(s) address",
      );
      refused(await post(subscription({ endpoint: "not a url" })), 400, "INVALID_INPUT", /^endpoint: /);
      // http: only to this machine, and only outside production (a push service run in development or a test).
      for (const endpoint of [
        "http://push.example/fcm/send/abc",
        "http://10.0.0.7/push/abc",
        "http://127.0.0.1.nip.io/push/abc",
      ]) {
        refused(
          await post(subscription({ endpoint })),
          400,
          "INVALID_INPUT",
          "endpoint: The push endpoint must be an https address",
        );
      }
      refused(await post(subscription({ userId: randomUUID() })), 400, "INVALID_INPUT");
      refused(
        await post({ ...subscription(), keys: { p256dh: "x", auth: "y", extra: "z" } }),
        400,
        "INVALID_INPUT",
        /^keys/,
      );
      refused(await post({ endpoint: subscription().endpoint }), 400, "INVALID_INPUT", /^keys: /);
      refused(
        await post({ ...subscription(), keys: { p256dh: randomBytes(65).toString("base64url"), auth: "x" } }),
        400,
        "INVALID_INPUT",
        "keys.p256dh: The p256dh key is not a P-256 public key (base64url)",
      );
      refused(
        await post(subscription({ label: "x".repeat(101) })),
        400,
        "INVALID_INPUT",
        "label: The label can have at most 100 characters",
      );
      // Not JSON at all.
      const bad = await fetch(`${withPush.url}/notifications/push-subscriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
        body: "{",
      });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("INVALID_INPUT");
      expect((await call("GET", "/notifications/push-subscriptions", { user })).body).toEqual({
        subscriptions: [],
      });
    });

    it("takes an http: endpoint on this machine outside production only", async () => {
      const user = await signedUp();
      for (const endpoint of [
        "http://127.0.0.1:8080/push/a",
        "http://localhost/push/b",
        "http://[::1]:9/push/c",
      ]) {
        const a = await call("POST", "/notifications/push-subscriptions", {
          user,
          json: subscription({ endpoint }),
        });
        expect(a.status, a.text).toBe(201);
      }
      // The app built as for production (allowLoopbackHttp: false) refuses them.
      refused(
        await call("POST", "/notifications/push-subscriptions", {
          user,
          base: withoutPush.url,
          json: subscription({ endpoint: "http://127.0.0.1:8080/push/d" }),
        }),
        400,
        "INVALID_INPUT",
        "endpoint: The push endpoint must be an https address",
      );
    });

    // ---------------------------------------------------------------- preferences

    it("gives and changes one's preferences", async () => {
      const user = await signedUp();
      const all = await call("GET", "/notifications/preferences", { user });
      expect(all.status).toBe(200);
      const prefs = all.body as Record<"mail" | "push", Record<string, boolean>>;
      for (const channel of NOTICE_CHANNELS_LIST) {
        const carried = NOTICE_KINDS.filter((k) => NOTICE_CHANNELS[k][channel]);
        expect(Object.keys(prefs[channel]).sort()).toEqual([...carried].sort());
        expect(Object.values(prefs[channel]).every((on) => on === true)).toBe(true);
      }

      const put = await call("PUT", "/notifications/preferences", {
        user,
        json: { push: { proposal: false } },
      });
      expect(put.status, put.text).toBe(200);
      const expected = { ...prefs, push: { ...prefs.push, proposal: false } };
      expect(put.body).toEqual(expected);
      expect((await call("GET", "/notifications/preferences", { user })).body).toEqual(expected);
      // Another person's are untouched.
      const rob = await signedUp("Rob Respondent");
      expect((await call("GET", "/notifications/preferences", { user: rob })).body).toEqual(prefs);
    });

    it("refuses an unknown kind, a kind the channel never carries, an unknown channel and a non-boolean", async () => {
      const user = await signedUp();
      const put = (json: unknown) => call("PUT", "/notifications/preferences", { user, json });
      refused(await put({ push: { bribe: false } }), 400, "INVALID_INPUT", /^push/);
      refused(
        await put({ push: { ended: false } }),
        400,
        "INVALID_INPUT",
        "push.ended: this notice is never sent by push, so it cannot be turned on or off there.",
      );
      refused(await put({ sms: { deal: false } }), 400, "INVALID_INPUT");
      refused(await put({ mail: { deal: "no" } }), 400, "INVALID_INPUT", /^mail\.deal: /);
      refused(await put([]), 400, "INVALID_INPUT");
      // Nothing of a refused update was kept.
      const prefs = (await call("GET", "/notifications/preferences", { user })).body as {
        mail: Record<string, boolean>;
      };
      expect(prefs.mail.deal).toBe(true);
    });

    // ---------------------------------------------------------------- unsubscribe

    it("unsubscribes with a mail's token, without signing in, and the preference shows it off", async () => {
      const user = await signedUp();
      const token = unsubscribe.sign({ email: user.email, channel: "mail", kind: "reminder" });
      const a = await call("POST", "/notifications/unsubscribe", { json: { token } });
      expect(a.status, a.text).toBe(200);
      expect(a.body).toEqual({ email: user.email, channel: "mail", kind: "reminder" });
      const prefs = (await call("GET", "/notifications/preferences", { user })).body as {
        mail: Record<string, boolean>;
        push: Record<string, boolean>;
      };
      expect(prefs.mail.reminder).toBe(false);
      expect(prefs.push.reminder).toBe(true);
      expect(prefs.mail.deal).toBe(true);
      // Following the link again is fine.
      expect((await call("POST", "/notifications/unsubscribe", { json: { token } })).status).toBe(200);
    });

    it("accepts a mail client's RFC 8058 one-click POST (?token=, form body List-Unsubscribe=One-Click)", async () => {
      const user = await signedUp();
      const token = unsubscribe.sign({ email: user.email, channel: "mail", kind: "proposal" });
      const a = await call("POST", `/notifications/unsubscribe?token=${encodeURIComponent(token)}`, {
        form: "List-Unsubscribe=One-Click",
      });
      expect(a.status, a.text).toBe(200);
      expect(a.body).toEqual({ email: user.email, channel: "mail", kind: "proposal" });
      const prefs = (await call("GET", "/notifications/preferences", { user })).body as {
        mail: Record<string, boolean>;
      };
      expect(prefs.mail.proposal).toBe(false);

      // A form without the one-click body, or without a token, is refused.
      refused(
        await call("POST", `/notifications/unsubscribe?token=${encodeURIComponent(token)}`, { form: "a=b" }),
        400,
        "INVALID_INPUT",
        /^List-Unsubscribe: /,
      );
      refused(
        await call("POST", "/notifications/unsubscribe", { form: "List-Unsubscribe=One-Click" }),
        400,
        "INVALID_INPUT",
        /^token: /,
      );
    });

    it("refuses a tampered, foreign or malformed token with 400 INVALID_INPUT and records nothing", async () => {
      const user = await signedUp();
      const token = unsubscribe.sign({ email: user.email, channel: "mail", kind: "deal" });
      const [payload, mac] = token.split(".") as [string, string];
      // The same token for another address, with the first one's MAC.
      const forged = `${Buffer.from(`mail\ndeal\nvictim@example.test`).toString("base64url")}.${mac}`;
      const flipped = `${payload}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BA" : "AA"}`;
      const otherServer = createUnsubscribeTokens(randomBytes(32)).sign({
        email: user.email,
        channel: "mail",
        kind: "deal",
      });
      for (const bad of [forged, flipped, otherServer, "x".repeat(40)]) {
        refused(
          await call("POST", "/notifications/unsubscribe", { json: { token: bad } }),
          400,
          "INVALID_INPUT",
          "token: This unsubscribe link is not valid. Check that you copied all of it, or change your notifications in the app's settings.",
        );
      }
      refused(
        await call("POST", "/notifications/unsubscribe", { json: { token: "short" } }),
        400,
        "INVALID_INPUT",
      );
      refused(
        await call("POST", "/notifications/unsubscribe", { json: { token, email: "x" } }),
        400,
        "INVALID_INPUT",
      );
      refused(await call("POST", "/notifications/unsubscribe", { json: {} }), 400, "INVALID_INPUT");
      const prefs = (await call("GET", "/notifications/preferences", { user })).body as {
        mail: Record<string, boolean>;
      };
      expect(prefs.mail.deal).toBe(true);
      const { rows } = await db().query("SELECT email FROM notification_optouts");
      expect(rows).toEqual([]);
    });

    // ---------------------------------------------------------------- calendar

    it("serves a member the session's calendar as an .ics attachment, and refuses anyone else", async () => {
      const claire = await signedUp();
      const rob = await signedUp("Rob Respondent");
      const sessionId = randomUUID();
      calendars.set(sessionId, new Set([claire.id]));

      const a = await call("GET", `/sessions/${sessionId}/calendar.ics`, { user: claire });
      expect(a.status).toBe(200);
      expect(a.headers.get("content-type")).toBe("text/calendar; charset=utf-8");
      expect(a.headers.get("content-disposition")).toBe(
        `attachment; filename="backchannel-${sessionId}.ics"`,
      );
      expect(a.headers.get("cache-control")).toBe("private, no-store");
      expect(a.text).toBe(ICS);
      expect(calendarCalls).toContainEqual([sessionId, claire.id]);

      refused(
        await call("GET", `/sessions/${sessionId}/calendar.ics`, { user: rob }),
        404,
        "SESSION_NOT_FOUND",
        "There is no such session, or you are not in it.",
      );
      const before = calendarCalls.length;
      refused(
        await call("GET", "/sessions/not-a-uuid/calendar.ics", { user: claire }),
        404,
        "SESSION_NOT_FOUND",
      );
      expect(calendarCalls).toHaveLength(before);
    });
  },
  { reset: true },
);
