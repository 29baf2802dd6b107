// Express 5 app: accounts, sessions, invitations, every session command (same path as the socket),
// health, and the built client (metrics have a listener of their own: src/metrics.ts). Every body is validated with the zod schemas in common/.
import { existsSync } from "node:fs";
import path from "node:path";
import {
  type AcceptedInvitation,
  type AuthResponse,
  acceptInvitationSchema,
  type CreatedInvitation,
  commandRequestSchema,
  createInvitationSchema,
  createSessionSchema,
  errors,
  type Role,
  type SessionList,
  type SessionResponse,
  signInSchema,
  signUpSchema,
  type Viewer,
} from "@backchannel/common";
import express, { type NextFunction, type Request, type Response } from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import { signIn, signUp } from "../auth/accounts";
import { COOKIE_NAME, cookieOptions, readToken } from "../auth/cookies";
import { issueInvitation, listInvitations, peekInvitation, redeemInvitation } from "../auth/invitations";
import type { TokenService } from "../auth/tokens";
import type { Config } from "../config";
import { AppError, errorBody, toPublicError } from "../errors";
import { createLimits, expressTrustSetting, type Limiter, type Limits, signinKey } from "../limits";
import { errorText } from "../log";
import type { Metrics } from "../metrics";
import { sessionCalendar } from "../notify/calendar";
import type { MailChannel, PushChannel } from "../notify/channels";
import type { NoticeRow, Notifications } from "../notify/outbox";
import type { UnsubscribeTokens } from "../notify/unsubscribe";
import { isUuid, parsePayload } from "../payload";
import { buildSessionAudit } from "../sessions/audit";
import type { SessionService } from "../sessions/service";
import type { Db, Queryable } from "../store/db";
import type { HeadSigner } from "../store/signing";
import { notificationRoutes } from "./notifications";
import { settlementRoutes } from "./settlement";

export interface HttpDeps {
  config: Config;
  db: Db;
  tokens: TokenService;
  sessions: SessionService;
  /** signs stream heads; its public half is served at GET /api/audit/key */
  signer: HeadSigner;
  /** the node's flood limits; in memory, from config, when not given */
  limits?: Limits;
  metrics: Metrics;
  log: Logger;
  ready: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** the notification outbox: invitation mails are stored in the invitation's transaction */
  notifications?: Pick<Notifications, "record" | "dispatch">;
  /** Web Push, for its public key */
  push?: Pick<PushChannel, "publicKey">;
  /** mail, for its thread: a settlement PDF download is laid out there, off the event loop */
  mail?: Pick<MailChannel, "settlementPdf">;
  /** checks the unsubscribe links in mails */
  unsubscribe: Pick<UnsubscribeTokens, "verify">;
  now?: () => number;
}

type AuthedRequest = Request & { user?: { id: string; email: string; name: string } };

/** What every role serves on PORT: security headers, health and readiness; never /metrics. */
function baseApp(config: Config, ready: HttpDeps["ready"]): express.Express {
  const app = express();
  app.disable("x-powered-by");
  // req.ip (and so every per-address limit) honours X-Forwarded-For only from the proxies TRUST_PROXY names.
  app.set("trust proxy", expressTrustSetting(config.trustProxy));
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          "connect-src": ["'self'", ...config.allowedOrigins.map((o) => o.replace(/^http/, "ws"))],
        },
      },
    }),
  );
  app.use(express.json({ limit: config.bodyLimit }));

  // No /metrics here: this port is public, and counters that move when a party acts are for operators only.
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/readyz", async (_req, res) => {
    const r = await ready();
    res.status(r.ok ? 200 : 503).json(r);
  });
  // Not found, as any unknown path, even where the web client would answer every other path with its page.
  app.use("/metrics", (_req, res) => {
    res.status(404).type("text").send("Not found.");
  });
  return app;
}

/**
 * The last handler of every app: a refusal becomes its status and `{ error }` body. What Express and the body parser
 * refuse (bad JSON, an oversized body, a path that is not valid percent-encoding, a charset or Content-Encoding it
 * cannot read, a corrupt compressed body, a body cut short) is the client's fault and answers 4xx with a stable code;
 * only an error of our own is 500 INTERNAL (and logged).
 */
function errorHandler(config: Config, log: Pick<Logger, "error">) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean };
    const status = e?.status ?? e?.statusCode;
    if (res.headersSent) return;
    if (e?.type === "entity.too.large" || status === 413) {
      res.status(413).json(errorBody(errors.payloadTooLarge(config.bodyLimit)));
      return;
    }
    if (e?.type === "entity.parse.failed") {
      res.status(400).json(errorBody(errors.invalidJson()));
      return;
    }
    if (!(err instanceof AppError) && typeof status === "number" && status >= 400 && status < 500) {
      res.status(400).json(errorBody(errors.unreadableRequest()));
      return;
    }
    const pub = toPublicError(err);
    if (pub.code === "INTERNAL") log.error({ err: errorText(err) }, "request failed");
    const { status: code, ...error } = pub;
    res.status(code).json(errorBody(error));
  };
}

/** A worker node's PORT: health and readiness, and 404 NOT_FOUND for everything else. */
export function createWorkerApp(deps: Pick<HttpDeps, "config" | "ready" | "log">): express.Express {
  const app = baseApp(deps.config, deps.ready);
  app.use((_req, res) => {
    res
      .status(404)
      .json(
        errorBody(
          errors.notFound(
            "This is a worker node: it serves only /healthz and /readyz (metrics are on METRICS_PORT).",
          ),
        ),
      );
  });
  app.use(errorHandler(deps.config, deps.log));
  return app;
}

/** A web node's PORT: health, the API, and the built client. */
export function createHttpApp(deps: HttpDeps): express.Express {
  const { config, db, tokens, signer, log } = deps;
  const { commands, reads } = deps.sessions;
  const now = deps.now ?? Date.now;
  const app = baseApp(config, deps.ready);

  const limits = deps.limits ?? createLimits({ config, now });
  /** Counts one attempt against limiter; over the limit, refuses with TOO_MANY_REQUESTS, retryAt and Retry-After. */
  const limit = async (res: Response, limiter: Limiter, key: string) => {
    const r = await limiter.consume(key);
    if (r.ok) return;
    const t = now();
    res.setHeader("Retry-After", String(Math.max(1, Math.ceil((r.retryAt - t) / 1000))));
    throw limiter.refusal(r.retryAt, t);
  };
  const inviteLink = (token: string) => `${config.publicUrl}/invite/${token}`;
  const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? "unknown";

  // ---------------------------------------------------------------- accounts
  const api = express.Router();

  const issueSession = async (res: Response, user: { id: string; email: string; name: string }) => {
    const { token, expiresAt } = await tokens.sign(user);
    res.cookie(COOKIE_NAME, token, cookieOptions(config.env === "production", expiresAt));
    return { user, token, expiresAt } satisfies AuthResponse;
  };

  api.post("/auth/signup", async (req, res) => {
    await limit(res, limits.signups, addressOf(req));
    const body = parsePayload(signUpSchema, req.body);
    const r = await signUp(db, body);
    if ("code" in r) throw new AppError(r);
    res.status(201).json(await issueSession(res, publicUser(r)));
  });

  api.post("/auth/signin", async (req, res) => {
    const body = parsePayload(signInSchema, req.body);
    // Per address whatever the email (one address trying many accounts), then per address and email. A
    // successful sign-in clears only the latter: an account of one's own must not reset a guessing budget.
    await limit(res, limits.signins, addressOf(req));
    const key = signinKey(addressOf(req), body.email);
    await limit(res, limits.signinsPerEmail, key);
    const r = await signIn(db, body);
    if ("code" in r) throw new AppError(r);
    await limits.signinsPerEmail.reset(key);
    res.json(await issueSession(res, publicUser(r)));
  });

  api.post("/auth/signout", (_req, res) => {
    res.clearCookie(COOKIE_NAME, cookieOptions(config.env === "production"));
    res.status(204).end();
  });

  // Invitation preview works without signing in: "You are invited to <title> as respondent".
  api.get("/invitations/:token", async (req, res) => {
    const peek = await peekInvitation(db, String(req.params.token), now());
    if (!peek.ok) throw new AppError(peek);
    res.json({ invitation: peek.invitation });
  });

  // The public half of the key that signs every stream head: anyone may fetch it to check an audit export.
  api.get("/audit/key", (_req, res) => {
    res.json({ keyId: signer.keyId, pem: signer.publicKeyPem, algorithm: "Ed25519" });
  });

  const notices = notificationRoutes({
    db,
    push: deps.push,
    unsubscribe: deps.unsubscribe,
    calendarFor: async (sessionId, userId) => {
      const view = (await reads.viewFor(sessionId, await reads.memberOf(sessionId, userId))).view;
      return sessionCalendar({
        sessionId,
        title: view.title,
        startAt: view.startAt,
        deadlines: view.deadlines,
        url: `${config.publicUrl}/sessions/${sessionId}`,
        now: now(),
      });
    },
  });
  // Unsubscribe links work without signing in.
  api.use(notices.open);

  // Everything below needs a signed-in user.
  api.use(async (req: AuthedRequest, _res, next) => {
    const token = readToken({ headers: req.headers as { cookie?: string; authorization?: string } });
    if (!token) throw new AppError(errors.unauthenticated());
    const v = await tokens.verify(token);
    if (!v.ok) throw new AppError(v.code === "TOKEN_EXPIRED" ? errors.tokenExpired() : errors.tokenInvalid());
    req.user = v.user;
    next();
  });

  api.get("/me", (req: AuthedRequest, res) => {
    res.json({ user: req.user });
  });

  api.use(notices.signedIn);
  // A settlement PDF is laid out afresh for each download (it carries the stream head at that moment): up to a second
  // of the mail thread's time for the largest terms, so downloads count against the account's command budget, and
  // nobody keeps the thread (and with it the mail) busy by asking again and again.
  api.get("/sessions/:id/settlement.pdf", async (req: AuthedRequest, res, next) => {
    await limit(res, limits.commands, userOf(req).id);
    next();
  });
  const { mail } = deps;
  api.use(settlementRoutes({ reads, now, ...(mail && { layOut: (s, o) => mail.settlementPdf(s, o) }) }));

  // ---------------------------------------------------------------- sessions
  api.get("/sessions", async (req: AuthedRequest, res) => {
    res.json({ sessions: await reads.dashboard(userOf(req).id) } satisfies SessionList);
  });

  api.post("/sessions", async (req: AuthedRequest, res) => {
    const body = parsePayload(createSessionSchema, req.body);
    const user = userOf(req);
    await limit(res, limits.sessionCreates, user.id);
    const committed = await commands.create(user, {
      title: body.title,
      creatorRole: body.creatorRole,
      rules: body.rules ?? {},
      startAt: body.startAt ?? now(),
      termsText: body.termsText ?? "",
    });
    const viewer: Viewer = { userId: user.id, role: body.creatorRole };
    res
      .status(201)
      .json(
        reads.present(
          committed.sessionId,
          committed.state,
          committed.heads,
          viewer,
        ) satisfies SessionResponse,
      );
  });

  const viewerFor = (req: AuthedRequest): Promise<Viewer> =>
    reads.memberOf(String(req.params.id), userOf(req).id);

  api.get("/sessions/:id", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    res.json((await reads.viewFor(String(req.params.id), viewer)) satisfies SessionResponse);
  });

  // A side's own number, for members of that side only (never pushed through a room): the one way to fetch it.
  api.get("/sessions/:id/number", async (req: AuthedRequest, res) => {
    res.json(await reads.ownNumber(String(req.params.id), await viewerFor(req)));
  });

  // A per-account budget the size of the sockets' one, so REST is no way around the socket limit.
  api.post("/sessions/:id/commands", async (req: AuthedRequest, res) => {
    await limit(res, limits.commands, userOf(req).id);
    const body = parsePayload(commandRequestSchema, req.body);
    const sessionId = String(req.params.id);
    const user = userOf(req);
    const committed = await commands.execute(sessionId, user, body.command, body.idempotencyKey);
    res.json(reads.ackFor(committed, user.id, body.command.type));
  });

  api.get("/sessions/:id/events", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const since = Number(req.query.since ?? 0);
    if (!Number.isInteger(since) || since < 0)
      throw new AppError(errors.invalidInput("`since` must be a whole number ≥ 0."));
    res.json(await reads.syncFor(String(req.params.id), viewer, since));
  });

  api.get("/sessions/:id/audit", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const exported = await buildSessionAudit(reads, signer, String(req.params.id), viewer);
    res.setHeader("Content-Disposition", `attachment; filename="backchannel-audit-${req.params.id}.json"`);
    res.json(exported);
  });

  // ---------------------------------------------------------------- invitations
  api.post("/sessions/:id/invitations", async (req: AuthedRequest, res) => {
    const body = parsePayload(createInvitationSchema, req.body);
    const sessionId = String(req.params.id);
    const user = userOf(req);
    // Bidding rights belong to sides; a mediator never bids.
    const canBid = body.role !== "mediator" && body.canBid;
    await limit(res, limits.invitations, user.id);
    // Revocations live in the session's state; a revocation after this read only makes the count below stricter.
    const before = await reads.read(sessionId);
    const member = Boolean(before?.members[user.id]);
    let issued: { id: string; token: string; expiresAt: number } | undefined;
    let mailIds: string[] = [];
    await commands.executeWith(sessionId, user, async (q) => {
      // Counted under the session's lock, so concurrent requests cannot pass the cap together. Non-members are
      // not told anything about the session: the command refuses them as it does today.
      if (member) await refuseOverOpenInvitations(q, sessionId, before?.invitations ?? {}, res);
      issued = await issueInvitation(q, {
        sessionId,
        role: body.role,
        canBid,
        email: body.email,
        ttlMs: body.ttlHours * 3_600_000,
        createdBy: user.id,
        now: now(),
      });
      // The mail is stored with the invitation, in its transaction: both exist, or neither.
      if (body.email && deps.notifications && before) {
        mailIds = await deps.notifications.record(q, [
          invitationMail(before.title, user.name, body.role, body.email, sessionId, inviteLink(issued.token)),
        ]);
      }
      return {
        type: "IssueInvitation",
        invitationId: issued.id,
        role: body.role,
        canBid,
        expiresAt: issued.expiresAt,
      };
    });
    const got = issued as { id: string; token: string; expiresAt: number };
    await deps.notifications?.dispatch(mailIds);
    res.status(201).json({
      invitation: { id: got.id, role: body.role, canBid, expiresAt: got.expiresAt },
      token: got.token,
      // From PUBLIC_URL, never from the request's Host header: a forged Host must not put its own address in a
      // link that people are asked to follow.
      link: inviteLink(got.token),
      ...(body.email && { emailedTo: body.email }),
    } satisfies CreatedInvitation);
  });

  /** At OPEN_INVITATIONS_PER_SESSION open invitations (unused, unexpired, not revoked), refuses another one. */
  async function refuseOverOpenInvitations(
    q: Queryable,
    sessionId: string,
    known: Record<string, { revoked: boolean }>,
    res: Response,
  ) {
    const t = now();
    const { rows } = await q.query<{ id: string; expires_at: Date | string }>(
      "SELECT id, expires_at FROM invitations WHERE session_id = $1 AND used_at IS NULL AND expires_at > $2::timestamptz",
      [sessionId, new Date(t).toISOString()],
    );
    const open = rows.filter((r) => !known[r.id]?.revoked);
    if (open.length < limits.maxOpenInvitations) return;
    const firstExpiry = Math.min(...open.map((r) => new Date(r.expires_at).getTime()));
    res.setHeader("Retry-After", String(Math.max(1, Math.ceil((firstExpiry - t) / 1000))));
    throw new AppError(
      errors.tooManyRequests(
        `This session already has ${limits.maxOpenInvitations} open invitations, the most allowed. Revoke ones nobody will use, or wait until the first expires (${new Date(firstExpiry).toISOString().slice(0, 16).replace("T", " ")} UTC).`,
        firstExpiry,
      ),
    );
  }

  api.delete("/sessions/:id/invitations/:invitationId", async (req: AuthedRequest, res) => {
    const invitationId = String(req.params.invitationId);
    if (!isUuid(invitationId)) throw new AppError(errors.noSuchInvitation());
    const committed = await commands.execute(
      String(req.params.id),
      userOf(req),
      { type: "RevokeInvitation", invitationId },
      null,
    );
    res.json(reads.ackFor(committed, userOf(req).id, "RevokeInvitation"));
  });

  api.get("/sessions/:id/invitations", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const state = await reads.read(String(req.params.id));
    if (viewer.role !== "mediator" && state?.createdBy !== viewer.userId) {
      throw new AppError(errors.wrongRole("Only the session's creator and mediators can list invitations."));
    }
    res.json({ invitations: await listInvitations(db, String(req.params.id)) });
  });

  api.post("/invitations/accept", async (req: AuthedRequest, res) => {
    const { token } = parsePayload(acceptInvitationSchema, req.body);
    const user = userOf(req);
    const peek = await peekInvitation(db, token, now());
    if (!peek.ok) throw new AppError(peek);
    const sessionId = peek.invitation.sessionId;
    const committed = await commands.executeWith(sessionId, user, async (q) => {
      const r = await redeemInvitation(q, { token, userId: user.id, now: now() });
      if (!r.ok) throw new AppError(r);
      return { type: "JoinSession", invitationId: r.invitation.id };
    });
    const role = committed.state.members[user.id]?.role;
    if (!role) throw new AppError(errors.sessionNotFound());
    const { version, view } = reads.present(sessionId, committed.state, committed.heads, {
      userId: user.id,
      role,
    });
    res.json({ sessionId, version, view } satisfies AcceptedInvitation);
  });

  app.use("/api", api);
  app.use("/api", (_req, res) => {
    res.status(404).json(errorBody(errors.unknownRoute()));
  });

  // ---------------------------------------------------------------- the built client
  const dist = config.clientDist;
  if (dist && existsSync(path.join(dist, "index.html"))) {
    app.use(express.static(dist, { index: false, maxAge: "1h" }));
    app.get("/{*rest}", (_req, res) => {
      res.sendFile(path.join(dist, "index.html"));
    });
  } else {
    app.get("/", (_req, res) => {
      res.type("text").send("Backchannel API is running. The web client is not built: run `npm run build`.");
    });
  }

  app.use(errorHandler(config, log));
  return app;
}

const ROLE_WORDS: Record<Role, string> = {
  claimant: "a member of the claimant's side",
  respondent: "a member of the respondent's side",
  mediator: "a mediator",
};

/** The invitation's mail, as an outbox row: the link goes in the row (it holds the token) and is cleared once sent. */
function invitationMail(
  title: string,
  inviter: string,
  role: Role,
  email: string,
  sessionId: string,
  link: string,
): NoticeRow {
  return {
    sessionId,
    userId: null,
    email,
    channel: "mail",
    kind: "invitation",
    title: `You are invited to ${title}`,
    body: `${inviter} invites you to join ${title} as ${ROLE_WORDS[role]}.`,
    link,
  };
}

function userOf(req: AuthedRequest) {
  if (!req.user) throw new AppError(errors.unauthenticated());
  return req.user;
}

function publicUser(u: {
  id: string;
  email: string;
  displayName?: string;
  display_name?: string;
  name?: string;
}) {
  return { id: u.id, email: u.email, name: u.displayName ?? u.display_name ?? u.name ?? "" };
}
