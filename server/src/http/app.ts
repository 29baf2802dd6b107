// Express 5 app: accounts, sessions, invitations, every session command (same path as the socket),
// health, metrics, and the built client. Every body is validated with the zod schemas in common/.
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
  resolveRules,
  type SessionList,
  type SessionResponse,
  signInSchema,
  signUpSchema,
  type Viewer,
  viewState,
} from "@backchannel/common";
import express, { type NextFunction, type Request, type Response } from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { signIn, signUp } from "../auth/accounts";
import { COOKIE_NAME, cookieOptions, readToken } from "../auth/cookies";
import { issueInvitation, listInvitations, peekInvitation, redeemInvitation } from "../auth/invitations";
import type { createLoginLimiter } from "../auth/login-limiter";
import type { TokenService } from "../auth/tokens";
import type { Config } from "../config";
import { AppError, toPublicError } from "../errors";
import type { Metrics } from "../metrics";
import { parsePayload } from "../realtime/gateway";
import { buildSessionAudit } from "../sessions/audit";
import { isUuid, type SessionService } from "../sessions/service";
import type { Db } from "../store/db";

export interface HttpDeps {
  config: Config;
  db: Db;
  tokens: TokenService;
  sessions: SessionService;
  loginLimiter: ReturnType<typeof createLoginLimiter>;
  metrics: Metrics;
  log: Logger;
  ready: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
  now?: () => number;
}

type AuthedRequest = Request & { user?: { id: string; email: string; name: string } };

export function createHttpApp(deps: HttpDeps): express.Express {
  const { config, db, tokens, sessions, log } = deps;
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable("x-powered-by");
  if (config.trustProxy) app.set("trust proxy", 1);
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

  // ---------------------------------------------------------------- health and metrics
  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });
  app.get("/readyz", async (_req, res) => {
    const r = await deps.ready();
    res.status(r.ok ? 200 : 503).json(r);
  });
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  if (config.role === "worker") {
    app.use((_req, res) => {
      res.status(404).json({
        error: {
          code: "UNKNOWN_EVENT",
          message: "This is a worker node: it serves only /healthz, /readyz and /metrics.",
        },
      });
    });
    return app;
  }

  // ---------------------------------------------------------------- accounts
  const api = express.Router();

  const issueSession = async (res: Response, user: { id: string; email: string; name: string }) => {
    const { token, expiresAt } = await tokens.sign(user);
    res.cookie(COOKIE_NAME, token, cookieOptions(config.env === "production", expiresAt));
    return { user, token, expiresAt } satisfies AuthResponse;
  };

  api.post("/auth/signup", async (req, res) => {
    const body = parsePayload(signUpSchema, req.body);
    const r = await signUp(db, body);
    if ("code" in r) throw new AppError(r.code, r.message);
    res.status(201).json(await issueSession(res, publicUser(r)));
  });

  api.post("/auth/signin", async (req, res) => {
    const body = parsePayload(signInSchema, req.body);
    const key = `${req.ip}|${body.email.trim().toLowerCase()}`;
    const limited = await deps.loginLimiter.consume(key);
    if (!limited.ok) {
      res.setHeader("Retry-After", String(limited.retryAfterSeconds));
      throw new AppError(
        "TOO_MANY_REQUESTS",
        `Too many sign-in attempts. Try again in ${limited.retryAfterSeconds} seconds.`,
      );
    }
    const r = await signIn(db, body);
    if ("code" in r) throw new AppError(r.code, r.message);
    await deps.loginLimiter.reset(key);
    res.json(await issueSession(res, publicUser(r)));
  });

  api.post("/auth/signout", (_req, res) => {
    res.clearCookie(COOKIE_NAME, cookieOptions(config.env === "production"));
    res.status(204).end();
  });

  // Invitation preview works without signing in: "You are invited to <title> as respondent".
  api.get("/invitations/:token", async (req, res) => {
    const peek = await peekInvitation(db, String(req.params.token), now());
    if (!peek.ok) throw new AppError(peek.code, peek.message);
    res.json({ invitation: peek.invitation });
  });

  // Everything below needs a signed-in user.
  api.use(async (req: AuthedRequest, _res, next) => {
    const token = readToken({ headers: req.headers as { cookie?: string; authorization?: string } });
    if (!token) throw new AppError("UNAUTHENTICATED", "Sign in first.");
    const v = await tokens.verify(token);
    if (!v.ok) {
      throw new AppError(
        v.code,
        v.code === "TOKEN_EXPIRED"
          ? "Your sign-in has expired. Sign in again."
          : "Your sign-in is not valid. Sign in again.",
      );
    }
    req.user = v.user;
    next();
  });

  api.get("/me", (req: AuthedRequest, res) => {
    res.json({ user: req.user });
  });

  // ---------------------------------------------------------------- sessions
  api.get("/sessions", async (req: AuthedRequest, res) => {
    res.json({ sessions: await sessions.listForUser(userOf(req).id) } satisfies SessionList);
  });

  api.post("/sessions", async (req: AuthedRequest, res) => {
    const body = parsePayload(createSessionSchema, req.body);
    const rules = resolveRules(body.rules ?? {});
    if (!rules.ok) throw new AppError("INVALID_RULES", rules.message);
    const user = userOf(req);
    const committed = await sessions.create(user, {
      title: body.title,
      creatorRole: body.creatorRole,
      rules: rules.rules,
      startAt: body.startAt ?? now(),
      termsText: body.termsText ?? "",
    });
    const viewer: Viewer = { userId: user.id, role: body.creatorRole };
    res.status(201).json({
      version: committed.version,
      view: viewState(committed.state, viewer, now()),
    } satisfies SessionResponse);
  });

  const viewerFor = async (req: AuthedRequest): Promise<Viewer> => {
    const viewer = await sessions.roleOf(String(req.params.id), userOf(req).id);
    if (!viewer) throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
    return viewer;
  };

  api.get("/sessions/:id", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const state = await sessions.read(String(req.params.id));
    if (!state) throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
    res.json({ version: state.version, view: viewState(state, viewer, now()) } satisfies SessionResponse);
  });

  // A side's own number, for members of that side only (never pushed through a room).
  api.get("/sessions/:id/number", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    if (viewer.role === "mediator") throw new AppError("WRONG_ROLE", "Mediators never see a side's number.");
    const state = await sessions.read(String(req.params.id));
    if (!state) throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
    const own = viewState(state, viewer, now()).numbers.own;
    const history = own ? await sessions.numberHistory(state.sessionId, own.side) : [];
    res.json({ version: state.version, own: own ? { ...own, history } : null });
  });

  // The same per-caller budget as a socket gets, so REST is no way around the socket limit.
  const commandLimiter = new RateLimiterMemory({
    points: config.socketRateLimit.points,
    duration: config.socketRateLimit.durationSeconds,
  });
  api.post("/sessions/:id/commands", async (req: AuthedRequest, res) => {
    try {
      await commandLimiter.consume(userOf(req).id);
    } catch {
      throw new AppError("TOO_MANY_REQUESTS", "Too many requests. Wait a few seconds and retry.");
    }
    const body = parsePayload(commandRequestSchema, req.body);
    const sessionId = String(req.params.id);
    const user = userOf(req);
    const committed = await sessions.execute(sessionId, user, body.command, body.idempotencyKey);
    const member = committed.state.members[user.id];
    if (!member) throw new AppError("SESSION_NOT_FOUND", "There is no such session, or you are not in it.");
    const viewer: Viewer = { userId: user.id, role: member.role };
    const own =
      body.command.type === "SetNumber" ? viewState(committed.state, viewer, now()).numbers.own : undefined;
    res.json(own ? { ok: true, version: committed.version, own } : { ok: true, version: committed.version });
  });

  api.get("/sessions/:id/events", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const since = Number(req.query.since ?? 0);
    if (!Number.isInteger(since) || since < 0)
      throw new AppError("INVALID_INPUT", "`since` must be a whole number ≥ 0.");
    res.json(await sessions.syncFor(String(req.params.id), viewer, since));
  });

  api.get("/sessions/:id/audit", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const exported = await buildSessionAudit(sessions, String(req.params.id), viewer, now());
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
    let issued: { id: string; token: string; expiresAt: number } | undefined;
    await sessions.execute(
      sessionId,
      user,
      async (q) => {
        issued = await issueInvitation(q, {
          sessionId,
          role: body.role,
          canBid,
          email: body.email,
          ttlMs: body.ttlHours * 3_600_000,
          createdBy: user.id,
          now: now(),
        });
        return {
          type: "IssueInvitation",
          invitationId: issued.id,
          role: body.role,
          canBid,
          expiresAt: issued.expiresAt,
        };
      },
      null,
    );
    const got = issued as { id: string; token: string; expiresAt: number };
    const base = `${req.protocol}://${req.get("host")}`;
    res.status(201).json({
      invitation: { id: got.id, role: body.role, canBid, expiresAt: got.expiresAt },
      token: got.token,
      link: `${base}/invite/${got.token}`,
    } satisfies CreatedInvitation);
  });

  api.delete("/sessions/:id/invitations/:invitationId", async (req: AuthedRequest, res) => {
    const invitationId = String(req.params.invitationId);
    if (!isUuid(invitationId))
      throw new AppError("INVITE_INVALID", "There is no such invitation in this session.");
    const committed = await sessions.execute(
      String(req.params.id),
      userOf(req),
      { type: "RevokeInvitation", invitationId },
      null,
    );
    res.json({ ok: true, version: committed.version });
  });

  api.get("/sessions/:id/invitations", async (req: AuthedRequest, res) => {
    const viewer = await viewerFor(req);
    const state = await sessions.read(String(req.params.id));
    if (viewer.role !== "mediator" && state?.createdBy !== viewer.userId) {
      throw new AppError("WRONG_ROLE", "Only the session's creator and mediators can list invitations.");
    }
    res.json({ invitations: await listInvitations(db, String(req.params.id)) });
  });

  api.post("/invitations/accept", async (req: AuthedRequest, res) => {
    const { token } = parsePayload(acceptInvitationSchema, req.body);
    const user = userOf(req);
    const peek = await peekInvitation(db, token, now());
    if (!peek.ok) throw new AppError(peek.code, peek.message);
    const sessionId = peek.invitation.sessionId;
    const committed = await sessions.execute(
      sessionId,
      user,
      async (q) => {
        const r = await redeemInvitation(q, { token, userId: user.id, now: now() });
        if (!r.ok) throw new AppError(r.code, r.message);
        return { type: "JoinSession", invitationId: r.invitation.id };
      },
      null,
    );
    const role = committed.state.members[user.id]?.role;
    res.json({
      sessionId,
      version: committed.version,
      view: role ? viewState(committed.state, { userId: user.id, role }, now()) : null,
    } satisfies AcceptedInvitation);
  });

  app.use("/api", api);
  app.use("/api", (_req, res) => {
    res.status(404).json({
      error: { code: "UNKNOWN_EVENT", message: "There is no such API route. See docs/protocol.md." },
    });
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

  // ---------------------------------------------------------------- errors
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const body = err as { type?: string; status?: number };
    if (body?.type === "entity.too.large") {
      res.status(413).json({
        error: {
          code: "PAYLOAD_TOO_LARGE",
          message: `The request body is larger than ${config.bodyLimit}.`,
        },
      });
      return;
    }
    if (body?.type === "entity.parse.failed") {
      res
        .status(400)
        .json({ error: { code: "INVALID_INPUT", message: "The request body is not valid JSON." } });
      return;
    }
    const e = toPublicError(err);
    if (e.code === "INTERNAL")
      log.error({ err: err instanceof Error ? `${err.name}: ${err.message}` : "unknown" }, "request failed");
    const { status, ...error } = e;
    res.status(status).json({ error });
  });

  return app;
}

function userOf(req: AuthedRequest) {
  if (!req.user) throw new AppError("UNAUTHENTICATED", "Sign in first.");
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
