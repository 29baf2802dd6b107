// The notification routes (docs/protocol.md): unsubscribe links (no sign-in: `open`), and for a signed-in person
// (`signedIn`) the VAPID key browsers subscribe with, their push subscriptions, their preferences per channel and
// kind, and a session's calendar. app.ts mounts `open` under /api before the sign-in middleware, `signedIn` after.
// Every body goes through parsePayload with its schema from common; refusals are AppErrors with common's sentences.
import {
  errors,
  type NoticeKind,
  type NoticePreferences,
  pushSubscriptionSchema,
  unsubscribeSchema,
  updateNoticePreferencesSchema,
} from "@backchannel/common";
import express, { type Request } from "express";
import { AppError } from "../errors";
import type { PushChannel } from "../notify/channels";
import {
  addSubscription,
  deleteSubscription,
  getPreferences,
  listSubscriptions,
  optOut,
  updatePreferences,
} from "../notify/preferences";
import { isUuid, parsePayload } from "../payload";
import type { Db } from "../store/db";

export interface NotificationRouteDeps {
  db: Db;
  /** absent when Web Push is not configured */
  push?: Pick<PushChannel, "publicKey">;
  unsubscribe: {
    verify(token: string): { email: string; channel: "mail" | "push"; kind: NoticeKind } | null;
  };
  /** a session's calendar (text/calendar) for a member; throws an AppError for anyone else */
  calendarFor(sessionId: string, userId: string): Promise<string>;
  /**
   * Whether a push subscription may name an http: endpoint on this machine (a push service run in development or a
   * test). Pass `config.env !== "production"`; when absent, NODE_ENV decides the same way.
   */
  allowLoopbackHttp?: boolean;
}

type AuthedRequest = Request & { user?: { id: string; email: string; name: string } };

/** RFC 8058: what a mail client's one-click unsubscribe POST carries as its body. */
const ONE_CLICK = "One-Click";

export function notificationRoutes(deps: NotificationRouteDeps): {
  open: express.Router;
  signedIn: express.Router;
} {
  const { db } = deps;
  const allowLoopbackHttp = deps.allowLoopbackHttp ?? process.env.NODE_ENV !== "production";

  // ---------------------------------------------------------------- no sign-in
  const open = express.Router();

  // JSON {token} from the page the mail's link opens; or a mail client's RFC 8058 one-click POST to the
  // List-Unsubscribe address: ?token=... with the form body "List-Unsubscribe=One-Click".
  open.post(
    "/notifications/unsubscribe",
    express.urlencoded({ extended: false, limit: "2kb", parameterLimit: 5 }),
    async (req, res) => {
      let token: string;
      if (req.is("application/x-www-form-urlencoded")) {
        const form = (req.body ?? {}) as Record<string, unknown>;
        if (form["List-Unsubscribe"] !== ONE_CLICK) {
          throw new AppError(
            errors.invalidInput(
              'List-Unsubscribe: a one-click unsubscribe sends the form body "List-Unsubscribe=One-Click".',
            ),
          );
        }
        const query = typeof req.query.token === "string" ? req.query.token : undefined;
        token = parsePayload(unsubscribeSchema, { token: query }).token;
      } else {
        token = parsePayload(unsubscribeSchema, req.body).token;
      }
      const target = deps.unsubscribe.verify(token);
      if (!target) {
        throw new AppError(
          errors.invalidInput(
            "token: This unsubscribe link is not valid. Check that you copied all of it, or change your notifications in the app's settings.",
          ),
        );
      }
      await optOut(db, target.email, target.channel, target.kind);
      res.json({ email: target.email, channel: target.channel, kind: target.kind });
    },
  );

  // ---------------------------------------------------------------- signed in
  const signedIn = express.Router();

  signedIn.get("/notifications/vapid-key", (_req, res) => {
    if (!deps.push) {
      throw new AppError(errors.notFound("Push notifications are not configured on this server."));
    }
    res.json({ publicKey: deps.push.publicKey });
  });

  signedIn.get("/notifications/push-subscriptions", async (req: AuthedRequest, res) => {
    res.json({ subscriptions: await listSubscriptions(db, userOf(req).id) });
  });

  signedIn.post("/notifications/push-subscriptions", async (req: AuthedRequest, res) => {
    const body = parsePayload(pushSubscriptionSchema, req.body);
    const user = userOf(req);
    const subscription = await db.tx((q) => addSubscription(q, user.id, body, { allowLoopbackHttp }));
    res.status(201).json({ subscription });
  });

  signedIn.delete("/notifications/push-subscriptions/:id", async (req: AuthedRequest, res) => {
    const id = String(req.params.id);
    // Another person's subscription and one that never existed answer alike.
    if (!isUuid(id) || !(await deleteSubscription(db, userOf(req).id, id))) {
      throw new AppError(errors.notFound("There is no such push subscription among yours."));
    }
    res.status(204).end();
  });

  signedIn.get("/notifications/preferences", async (req: AuthedRequest, res) => {
    res.json((await getPreferences(db, userOf(req).email)) satisfies NoticePreferences);
  });

  signedIn.put("/notifications/preferences", async (req: AuthedRequest, res) => {
    const body = parsePayload(updateNoticePreferencesSchema, req.body);
    const email = userOf(req).email;
    res.json((await db.tx((q) => updatePreferences(q, email, body))) satisfies NoticePreferences);
  });

  signedIn.get("/sessions/:id/calendar.ics", async (req: AuthedRequest, res) => {
    const sessionId = String(req.params.id);
    if (!isUuid(sessionId)) throw new AppError(errors.sessionNotFound());
    const ics = await deps.calendarFor(sessionId, userOf(req).id);
    res.setHeader("Content-Type", "text/calendar; charset=utf-8");
    res.setHeader("Content-Disposition", `attachment; filename="backchannel-${sessionId}.ics"`);
    // A member's calendar names the session: no shared cache may keep it.
    res.setHeader("Cache-Control", "private, no-store");
    res.send(ics);
  });

  return { open, signedIn };
}

function userOf(req: AuthedRequest) {
  if (!req.user) throw new AppError(errors.unauthenticated());
  return req.user;
}
