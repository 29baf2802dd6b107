// The session controller against a fake socket that answers like the server (same engine, same redaction).
import type { ClientToServerEvents, OwnNumberView, Role, SessionEvent } from "@backchannel/common";
import { beforeEach, describe, expect, it, vi } from "vitest";
import {
  createSessionStore,
  SessionController,
  type Transport,
  type TransportHandlers,
} from "../src/store/session";
import { openedSession, pushFor, SESSION_ID, snapshot, syncAnswer, T0, USERS } from "./fixtures";

type Responder = (event: keyof ClientToServerEvents, payload: Record<string, unknown>) => unknown;

const TIMEOUT = Symbol("timeout");

class FakeSocket implements Transport {
  calls: Array<{ event: string; payload: Record<string, unknown> }> = [];
  handlers: TransportHandlers[] = [];
  /** the server's log; the fake answers from its first `committed` events */
  events: SessionEvent[];
  committed: number;
  respond: Responder | null = null;

  constructor(
    readonly role: Role,
    events: SessionEvent[],
  ) {
    this.events = events;
    this.committed = events.length;
  }

  async request(event: keyof ClientToServerEvents, payload: unknown): Promise<never> {
    const p = payload as Record<string, unknown>;
    this.calls.push({ event, payload: p });
    const custom = this.respond?.(event, p);
    const answer = custom !== undefined ? await custom : this.serve(event, p);
    if (answer === TIMEOUT) throw Object.assign(new Error("timeout"), { code: "TIMEOUT" });
    return answer as never;
  }

  serve(event: string, p: Record<string, unknown>): unknown {
    const log = this.events.slice(0, this.committed);
    if (event === "session:open") return { ok: true, version: log.length, view: snapshot(log, this.role) };
    if (event === "sync") return syncAnswer(log, p.sinceVersion as number, this.role);
    if (event === "session:leave") return { ok: true };
    return { ok: true, version: log.length };
  }

  subscribe(handlers: TransportHandlers) {
    this.handlers.push(handlers);
    return () => {
      this.handlers = this.handlers.filter((h) => h !== handlers);
    };
  }

  isConnected() {
    return true;
  }

  /** Commits the next event and pushes it, as the server's publisher does. */
  commitAndPush(): void {
    this.committed += 1;
    const push = pushFor(this.events, this.committed - 1, this.role);
    if (push) for (const h of this.handlers) h.push(push);
  }

  callsOf(event: string) {
    return this.calls.filter((c) => c.event === event).map((c) => c.payload);
  }
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function bids(): SessionEvent[] {
  return [
    ...openedSession(),
    { type: "BidSet", at: T0 + 1_000, by: USERS.claimant, side: "claimant", step: 2, amount: 9_137_251 },
    { type: "MediatorRequested", at: T0 + 2_000, side: "respondent", by: USERS.respondent },
    { type: "BidSet", at: T0 + 3_000, by: USERS.respondent, side: "respondent", step: 2, amount: 4_086_373 },
  ];
}

function setup(role: Role, events: SessionEvent[], committed = openedSession().length) {
  const socket = new FakeSocket(role, events);
  socket.committed = committed;
  const store = createSessionStore();
  const fetchOwnNumber = vi.fn(async (): Promise<OwnNumberView | null> => {
    const view = snapshot(socket.events.slice(0, socket.committed), role);
    return view.numbers.own ?? null;
  });
  const onAuthExpired = vi.fn();
  let key = 0;
  const controller = new SessionController({
    transport: socket,
    store,
    fetchOwnNumber,
    onAuthExpired,
    newKey: () => `key-${++key}-abcdefgh`,
    pushGraceMs: 5,
  });
  return { socket, store, controller, fetchOwnNumber, onAuthExpired };
}

describe("opening a session", () => {
  it("a side also fetches its own number (with its history) when it opens", async () => {
    const { fetchOwnNumber, controller } = setup("claimant", bids());
    await controller.open(SESSION_ID);
    expect(fetchOwnNumber).toHaveBeenCalledWith(SESSION_ID);
    const mediator = setup("mediator", bids());
    await mediator.controller.open(SESSION_ID);
    expect(mediator.fetchOwnNumber).not.toHaveBeenCalled();
  });

  it("opens, then syncs from version 0 to fill the activity log", async () => {
    const { socket, store, controller } = setup("mediator", bids());
    await controller.open(SESSION_ID);
    expect(socket.calls.map((c) => c.event)).toEqual(["session:open", "sync"]);
    expect(socket.callsOf("sync")[0]).toEqual({ sessionId: SESSION_ID, sinceVersion: 0 });
    const s = store.getState();
    expect(s.status).toBe("ready");
    expect(s.data?.version).toBe(openedSession().length);
    expect(s.data?.logComplete).toBe(true);
    expect(s.data?.log.map((l) => l.event.type)).toContain("MemberJoined");
  });

  it("shows the server's sentence when the session cannot be opened", async () => {
    const { socket, store, controller } = setup("claimant", bids());
    socket.respond = (event) =>
      event === "session:open"
        ? { ok: false, code: "SESSION_NOT_FOUND", message: "There is no such session, or you are not in it." }
        : undefined;
    await controller.open(SESSION_ID);
    expect(store.getState()).toMatchObject({
      status: "error",
      error: { code: "SESSION_NOT_FOUND", message: "There is no such session, or you are not in it." },
    });
  });
});

describe("pushes", () => {
  let t: ReturnType<typeof setup>;
  beforeEach(async () => {
    t = setup("respondent", bids());
    await t.controller.open(SESSION_ID);
    t.socket.calls = [];
    t.fetchOwnNumber.mockClear();
  });

  it("applies the next version without asking the server", () => {
    t.socket.commitAndPush(); // claimant's number: the respondent learns only that it was entered
    expect(t.socket.calls).toEqual([]);
    expect(t.store.getState().data?.view.numbers.claimant.entered).toBe(true);
    expect(JSON.stringify(t.store.getState().data)).not.toContain("9137251");
  });

  it("holds pushes that arrive during a sync and applies them after it", async () => {
    const gate = deferred<void>();
    t.socket.respond = (event, p) => {
      if (event !== "sync") return undefined;
      const answer = t.socket.serve(event, p);
      return gate.promise.then(() => answer);
    };
    const sync = t.controller.sync(t.store.getState().data!.version);
    t.socket.commitAndPush(); // arrives while the sync is in flight (the sync read the log before it)
    expect(t.store.getState().data?.view.numbers.claimant.entered).toBe(false);
    gate.resolve();
    await sync;
    await flush();
    expect(t.store.getState().data?.view.numbers.claimant.entered).toBe(true);
    expect(t.store.getState().data?.version).toBe(t.socket.committed);
  });

  it("ignores a duplicate push", () => {
    t.socket.commitAndPush();
    const data = t.store.getState().data;
    const push = pushFor(t.socket.events, t.socket.committed - 1, "respondent")!;
    for (const h of t.socket.handlers) h.push(push);
    expect(t.store.getState().data).toBe(data);
  });

  it("ignores pushes for another session", () => {
    const data = t.store.getState().data;
    const push = pushFor(t.socket.events, t.socket.committed, "respondent")!;
    for (const h of t.socket.handlers) h.push({ ...push, sessionId: "another" });
    expect(t.store.getState().data).toBe(data);
  });

  it("after its own side's number changes: refreshes the number over REST and refetches the event", async () => {
    t.socket.commitAndPush(); // claimant
    t.socket.commitAndPush(); // knock (respondent side sees it)
    t.socket.commitAndPush(); // the respondent's own number, pushed without its amount
    await flush();
    await flush();
    expect(t.fetchOwnNumber).toHaveBeenCalledTimes(1);
    expect(t.socket.callsOf("sync")).toEqual([
      { sessionId: SESSION_ID, sinceVersion: t.socket.committed - 1 },
    ]);
    const data = t.store.getState().data!;
    expect(data.view.numbers.own?.amount).toBe(4_086_373);
    expect(data.log.at(-1)?.event).toMatchObject({ type: "NumberSet", amount: 4_086_373 });
  });
});

describe("a version gap", () => {
  it("syncs from the last applied version, then continues in order", async () => {
    // The claimant never sees the respondent's knock (v11), so the respondent's number (v12) arrives after a gap.
    const t = setup("claimant", bids());
    await t.controller.open(SESSION_ID);
    t.socket.calls = [];
    t.socket.commitAndPush(); // v10
    t.socket.commitAndPush(); // v11: no push for the claimant
    expect(t.store.getState().data?.version).toBe(10);
    t.socket.commitAndPush(); // v12
    await flush();
    // v10 is the claimant's own number: refetched with its amount (from 9); then the gap (from 10).
    expect(t.socket.callsOf("sync")).toEqual([
      { sessionId: SESSION_ID, sinceVersion: 9 },
      { sessionId: SESSION_ID, sinceVersion: 10 },
    ]);
    const data = t.store.getState().data!;
    expect(data.version).toBe(12);
    expect(data.view.numbers.respondent.entered).toBe(true);
    expect(JSON.stringify(data)).not.toContain("4086373");
    expect(data.log.map((l) => l.version)).toEqual(expect.arrayContaining([10, 12]));
    expect(data.log.map((l) => l.version)).not.toContain(11);
  });
});

describe("commands", () => {
  it("retries a timed-out command with the same idempotency key; a new action gets a new key", async () => {
    const t = setup("claimant", bids());
    await t.controller.open(SESSION_ID);
    let attempts = 0;
    t.socket.respond = (event) => {
      if (event !== "command") return undefined;
      attempts += 1;
      return attempts === 1 ? TIMEOUT : { ok: true, version: t.socket.committed };
    };
    expect(await t.controller.command({ type: "Knock" })).toEqual({ ok: true, version: t.socket.committed });
    expect(await t.controller.command({ type: "Knock" })).toMatchObject({ ok: true });
    const keys = t.socket.callsOf("command").map((p) => p.idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
  });

  it("gives up after the last attempt with a sentence saying what to do", async () => {
    const t = setup("claimant", bids());
    await t.controller.open(SESSION_ID);
    t.socket.respond = (event) => (event === "command" ? TIMEOUT : undefined);
    const r = await t.controller.command({ type: "SkipTerms" });
    expect(r).toMatchObject({ ok: false, code: "TIMEOUT" });
    expect(t.socket.callsOf("command")).toHaveLength(3);
  });

  it("passes the server's refusal through as it is", async () => {
    const t = setup("claimant", bids());
    await t.controller.open(SESSION_ID);
    const refusal = {
      ok: false,
      code: "RATE_LIMITED",
      message: "Your side has changed its number 10 times in the last 24 hours.",
      retryAt: T0 + 5,
    };
    t.socket.respond = (event) => (event === "command" ? refusal : undefined);
    expect(await t.controller.command({ type: "SetNumber", amount: 100 })).toEqual(refusal);
  });

  it("takes the own number from a SetNumber ack, and syncs if the push never comes", async () => {
    const t = setup("claimant", bids());
    await t.controller.open(SESSION_ID);
    t.socket.calls = [];
    t.socket.respond = (event) => {
      if (event !== "command") return undefined;
      t.socket.committed += 1; // committed, but this push is lost
      return { ok: true, version: t.socket.committed, own: { amount: 9_137_251, setAt: T0 + 1_000 } };
    };
    await t.controller.command({ type: "SetNumber", amount: 9_137_251 });
    expect(t.store.getState().data?.view.numbers.own?.amount).toBe(9_137_251);
    await new Promise((r) => setTimeout(r, 20));
    expect(t.socket.callsOf("sync")).toHaveLength(1);
    expect(t.store.getState().data?.version).toBe(t.socket.committed);
  });
});

describe("connection", () => {
  it("on reconnect opens the session again and syncs from the last applied version", async () => {
    const t = setup("mediator", bids());
    await t.controller.open(SESSION_ID);
    const version = t.store.getState().data!.version;
    t.socket.calls = [];
    t.socket.committed = t.socket.events.length; // things happened while the socket was away
    for (const h of t.socket.handlers) h.connection(false, false);
    expect(t.store.getState().connection).toBe("reconnecting");
    for (const h of t.socket.handlers) h.connection(true, true);
    await flush();
    await flush();
    expect(t.socket.calls.map((c) => c.event)).toEqual(["session:open", "sync"]);
    expect(t.socket.callsOf("sync")[0]).toEqual({ sessionId: SESSION_ID, sinceVersion: version });
    expect(t.store.getState()).toMatchObject({
      connection: "online",
      data: { version: t.socket.events.length },
    });
  });

  it("hands an expired sign-in to the app", async () => {
    const t = setup("claimant", bids());
    await t.controller.open(SESSION_ID);
    for (const h of t.socket.handlers) h.authExpired();
    expect(t.onAuthExpired).toHaveBeenCalledTimes(1);
  });

  it("leaves the session on close and drops late answers", async () => {
    const t = setup("claimant", bids());
    const gate = deferred<void>();
    t.socket.respond = (event, p) =>
      event === "session:open" ? gate.promise.then(() => t.socket.serve(event, p)) : undefined;
    const opening = t.controller.open(SESSION_ID);
    t.controller.close();
    gate.resolve();
    await opening;
    expect(t.store.getState().status).toBe("idle");
    expect(t.socket.callsOf("session:leave")).toEqual([{ sessionId: SESSION_ID }]);
  });
});
