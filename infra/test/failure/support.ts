// What the failure proofs share: the services gate (skip loudly, or fail under CI=true / REQUIRE_SERVICES=1), a
// participant speaking the public protocol (REST + Socket.IO, as docs/protocol.md describes it), and a session set up
// to reach Step 3 at once.

import { randomUUID } from "node:crypto";
import { PROTOCOL_VERSION } from "@backchannel/common";
import { io, type Socket } from "socket.io-client";
import { describe, it } from "vitest";

export const servicesRequired = process.env.CI === "true" || process.env.REQUIRE_SERVICES === "1";

/** DATABASE_URL and REDIS_URL, or null after declaring the suite skipped (loudly) or failed (CI). */
export function services(suite: string): { databaseUrl: string; redisUrl: string } | null {
  const missing = ["DATABASE_URL", "REDIS_URL"].filter((name) => !process.env[name]?.trim());
  if (missing.length === 0)
    return { databaseUrl: process.env.DATABASE_URL as string, redisUrl: process.env.REDIS_URL as string };
  if (servicesRequired) {
    describe(suite, () => {
      it("needs DATABASE_URL and REDIS_URL (CI=true or REQUIRE_SERVICES=1)", () => {
        throw new Error(
          `${missing.join(" and ")} not set, but CI=true or REQUIRE_SERVICES=1 requires the failure suite`,
        );
      });
    });
  } else {
    console.warn(`\n!!! SKIPPING ${suite}: ${missing.join(" and ")} not set\n`);
    describe.skip(`${suite} (SKIPPED: ${missing.join(" and ")} not set)`, () => {
      it("skipped", () => {});
    });
  }
  return null;
}

/** Flood limits raised so that a test's own load is never refused by them (they are tested elsewhere). */
export const UNLIMITED: Record<string, string> = {
  SOCKET_RATE_LIMIT: "1000000/10s",
  SOCKET_CONNECT_RATE_LIMIT: "1000000/60s",
  SIGNUP_RATE_LIMIT: "1000000/1h",
  SESSION_RATE_LIMIT: "1000000/1h",
  INVITATION_RATE_LIMIT: "1000000/1h",
  SOCKETS_PER_ACCOUNT: "1000",
};

/** Step 2 closes 100 ms after it opens; Step 3 lasts an hour; 100 changes per side (the most the rules allow). */
export const STEP3_RULES = {
  step2DurationMs: 100,
  step3DurationMs: 3_600_000,
  maxSessionMs: 7_200_000,
  maxChangesPerDay: 100,
};

export type Ack =
  | { ok: true; version: number; own?: { amount: number | null }; [k: string]: unknown }
  | { ok: false; code: string; message: string };

export interface SessionEvent {
  type: string;
  [k: string]: unknown;
}

export class Participant {
  token = "";
  user = { id: "" };
  /** the address it signed up with (the leak scan checks that no account's email reaches Redis) */
  email = "";
  socket?: Socket;
  /** every `session:event` push: the session and the event as this participant's role received it */
  readonly events: Array<{ sessionId: string; event: SessionEvent }> = [];

  constructor(
    /** where REST requests go */
    public baseUrl: string,
    readonly name: string,
    readonly headers: Record<string, string> = {},
  ) {}

  async http(method: string, route: string, body?: unknown) {
    const res = await fetch(this.baseUrl + route, {
      method,
      headers: {
        ...this.headers,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, body: json as Record<string, unknown>, text };
  }

  async expect<T>(status: number, method: string, route: string, body?: unknown): Promise<T> {
    const r = await this.http(method, route, body);
    if (r.status !== status)
      throw new Error(`${this.name}: ${method} ${route} answered ${r.status}, not ${status}: ${r.text}`);
    return r.body as T;
  }

  async signUp(): Promise<this> {
    this.email = `${this.name.toLowerCase().replace(/\W+/g, "-")}-${randomUUID().slice(0, 8)}@example.test`;
    const body = await this.expect<{ token: string; user: { id: string } }>(201, "POST", "/api/auth/signup", {
      email: this.email,
      password: "correct horse battery",
      displayName: this.name,
    });
    this.token = body.token;
    this.user = body.user;
    return this;
  }

  /** A WebSocket to `url` (default: baseUrl). */
  async connect(url = this.baseUrl): Promise<Socket> {
    this.socket?.disconnect();
    const socket = io(url, {
      auth: { token: this.token, protocol: PROTOCOL_VERSION },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      extraHeaders: this.headers,
    });
    socket.on("session:event", (...pushes: Array<{ sessionId: string; event: SessionEvent }>) =>
      this.events.push(...pushes),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", (e) => reject(e));
    });
    this.socket = socket;
    return socket;
  }

  emit(name: string, payload: unknown, timeoutMs = 20_000): Promise<Ack> {
    const socket = this.socket;
    if (!socket) throw new Error(`${this.name}: not connected`);
    return socket.timeout(timeoutMs).emitWithAck(name, payload) as Promise<Ack>;
  }

  async open(sessionId: string): Promise<void> {
    const ack = await this.emit("session:open", { sessionId });
    if (!ack.ok) throw new Error(`${this.name}: session:open refused: ${JSON.stringify(ack)}`);
  }

  command(sessionId: string, command: Record<string, unknown>, idempotencyKey: string = randomUUID()) {
    return this.emit("command", { sessionId, idempotencyKey, command });
  }

  /** A command over REST (POST /api/sessions/:id/commands); throws unless it is accepted. */
  async rest(sessionId: string, command: Record<string, unknown>) {
    return this.expect<{ ok: true; version: number }>(200, "POST", `/api/sessions/${sessionId}/commands`, {
      idempotencyKey: randomUUID(),
      command,
    });
  }

  /** The first pushed event of the session matching `pred`, waiting up to timeoutMs. */
  async waitFor(sessionId: string, pred: (e: SessionEvent) => boolean, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((p) => p.sessionId === sessionId && pred(p.event));
      if (hit) return hit.event;
      if (Date.now() > deadline)
        throw new Error(
          `${this.name}: no matching event in ${sessionId} after ${timeoutMs} ms (got ${this.events
            .filter((p) => p.sessionId === sessionId)
            .map((p) => p.event.type)})`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close() {
    this.socket?.disconnect();
  }
}

/**
 * A session between `claimant` (its creator) and `respondent` in setup, both members: the claimant's requests go to
 * claimant.baseUrl, the respondent's to respondent.baseUrl. Returns the session id.
 */
export async function createSession(
  claimant: Participant,
  respondent: Participant,
  rules: Record<string, unknown> = STEP3_RULES,
  title = "Failure proof",
): Promise<string> {
  const created = await claimant.expect<{ view: { id: string } }>(201, "POST", "/api/sessions", {
    title,
    creatorRole: "claimant",
    rules,
  });
  const sessionId = created.view.id;
  const invitation = await claimant.expect<{ token: string }>(
    201,
    "POST",
    `/api/sessions/${sessionId}/invitations`,
    { role: "respondent", canBid: true },
  );
  await respondent.expect(200, "POST", "/api/invitations/accept", { token: invitation.token });
  return sessionId;
}

/** createSession, then both sides' terms skipped over REST: Step 2 is open (and with STEP3_RULES closes 100 ms later). */
export async function openSession(
  claimant: Participant,
  respondent: Participant,
  rules: Record<string, unknown> = STEP3_RULES,
  title = "Failure proof",
): Promise<string> {
  const sessionId = await createSession(claimant, respondent, rules, title);
  await claimant.rest(sessionId, { type: "SkipTerms" });
  await respondent.rest(sessionId, { type: "SkipTerms" });
  return sessionId;
}

/** Waits until the session is in `phase` as `who` sees it (GET /api/sessions/:id). */
export async function waitPhase(who: Participant, sessionId: string, phase: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await who.expect<{ view: { phase: string } }>(200, "GET", `/api/sessions/${sessionId}`);
    if (r.view.phase === phase) return;
    if (Date.now() > deadline) throw new Error(`session ${sessionId} still in ${r.view.phase}, not ${phase}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `fn` over `items`, at most `width` at a time. */
export async function pool<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>) {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T, i);
      }
    }),
  );
  return out;
}

export const fmt = (n: number) => n.toLocaleString("en-US");
