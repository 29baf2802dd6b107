// The session controller against a fake socket that answers like the server (same engine, same redaction).
import type {
  ClientToServerEvents,
  OwnNumberView,
  Role,
  SessionEvent,
  SignedHeadWire,
} from "@backchannel/common";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { type HeadStorage, savedHeads, saveHead } from "../src/session/heads";
import {
  type ControllerDeps,
  createSessionStore,
  SessionController,
  type Transport,
  type TransportHandlers,
} from "../src/store/session";
import { claimantActsUnseen, dealAtStep2 } from "./engineLog";
import {
  headFor,
  openedSession,
  positionOf,
  pushFor,
  SESSION_ID,
  snapshot,
  syncAnswer,
  T0,
  USERS,
} from "./fixtures";

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

  /** This role's stream position after the committed events: every version the server sends it is one. */
  get position(): number {
    return positionOf(this.events.slice(0, this.committed), this.role);
  }

  serve(event: string, p: Record<string, unknown>): unknown {
    const log = this.events.slice(0, this.committed);
    const position = positionOf(log, this.role);
    if (event === "session:open") {
      return {
        ok: true,
        version: position,
        view: snapshot(log, this.role),
        head: headFor(this.role, position),
      };
    }
    if (event === "sync") return syncAnswer(log, p.sinceVersion as number, this.role);
    if (event === "session:leave") return { ok: true };
    // A command's ack: the acting member's stream position after it.
    return { ok: true, version: position };
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

  /** Commits the next event and pushes it, as the server's publisher does (unless the push is `lost`). */
  commitAndPush(opts: { lost?: boolean } = {}): void {
    this.committed += 1;
    const push = pushFor(this.events, this.committed - 1, this.role);
    if (push && !opts.lost) for (const h of this.handlers) h.push(push);
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
  const saveHead = vi.fn((_head: SignedHeadWire) => {});
  const onEvents = vi.fn<NonNullable<ControllerDeps["onEvents"]>>();
  let key = 0;
  const controller = new SessionController({
    transport: socket,
    store,
    fetchOwnNumber,
    onAuthExpired,
    saveHead,
    onEvents,
    newKey: () => `key-${++key}-abcdefgh`,
    pushGraceMs: 5,
  });
  return { socket, store, controller, fetchOwnNumber, onAuthExpired, saveHead, onEvents };
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
    expect(t.store.getState().data?.version).toBe(t.socket.position);
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
      { sessionId: SESSION_ID, sinceVersion: t.socket.position - 1 },
    ]);
    const data = t.store.getState().data!;
    expect(data.view.numbers.own?.amount).toBe(4_086_373);
    expect(data.log.at(-1)?.event).toMatchObject({ type: "NumberSet", amount: 4_086_373 });
  });
});

describe("a version gap", () => {
  it("syncs from the last applied version, then continues in order", async () => {
    // The respondent's knock is not in the claimant's stream at all: it moves no version. A gap means a lost push:
    // here the respondent's number (claimant position 11) never arrives, so the mediator's move (12) comes after one.
    const events: SessionEvent[] = [
      ...bids(),
      {
        type: "MediatorLocationSet",
        at: T0 + 4_000,
        by: USERS.mediator,
        location: "with_respondent",
        until: T0 + 900_000,
        note: null,
      },
    ];
    const t = setup("claimant", events);
    await t.controller.open(SESSION_ID);
    const opened = t.store.getState().data!.version;
    expect(opened).toBe(positionOf(openedSession(), "claimant"));
    t.socket.calls = [];
    t.socket.commitAndPush(); // the claimant's own number: opened + 1
    t.socket.commitAndPush(); // the respondent's knock: nothing for the claimant
    await flush();
    expect(t.store.getState().data?.version).toBe(opened + 1);
    expect(t.socket.position).toBe(opened + 1);
    t.socket.commitAndPush({ lost: true }); // the respondent's number: opened + 2, its push lost
    t.socket.commitAndPush(); // the mediator's location: opened + 3
    await flush();
    // The own number was refetched with its amount (from opened); then the gap (from opened + 1).
    expect(t.socket.callsOf("sync")).toEqual([
      { sessionId: SESSION_ID, sinceVersion: opened },
      { sessionId: SESSION_ID, sinceVersion: opened + 1 },
    ]);
    const data = t.store.getState().data!;
    expect(data.version).toBe(opened + 3);
    expect(data.view.numbers.respondent.entered).toBe(true);
    expect(data.view.mediator?.location).toBe("with_respondent");
    expect(JSON.stringify(data)).not.toContain("4086373");
    // The lost event came with the sync; the knock the claimant may not see is nowhere.
    expect(data.log.map((l) => l.version).slice(-3)).toEqual([opened + 1, opened + 2, opened + 3]);
    expect(data.log.map((l) => l.event.type)).not.toContain("MediatorRequested");
  });
});

describe("the other side's unseen moves", () => {
  it("reach the mediator as consecutive pushes: it never asks for a sync", async () => {
    const { events, opened } = claimantActsUnseen();
    const t = setup("mediator", events, opened);
    await t.controller.open(SESSION_ID);
    t.socket.calls = [];
    while (t.socket.committed < events.length) t.socket.commitAndPush();
    await flush();
    expect(t.socket.calls).toEqual([]);
    expect(t.store.getState().data?.version).toBe(positionOf(events, "mediator"));
  });

  it("reach the respondent as consecutive pushes: its only sync refetches its own number", async () => {
    const { events, opened } = claimantActsUnseen();
    const t = setup("respondent", events, opened);
    await t.controller.open(SESSION_ID);
    t.socket.calls = [];
    while (t.socket.committed < events.length) t.socket.commitAndPush();
    await flush();
    await flush();
    const own = events.findIndex((e) => e.type === "BidSet" && e.side === "respondent");
    expect(t.socket.callsOf("sync")).toEqual([
      { sessionId: SESSION_ID, sinceVersion: positionOf(events.slice(0, own + 1), "respondent") - 1 },
    ]);
    const data = t.store.getState().data!;
    expect(data.version).toBe(positionOf(events, "respondent"));
    expect(data.log.map((l) => l.version)).toEqual(
      Array.from({ length: data.version }, (_, k) => k + 1).slice(-data.log.length),
    );
    expect(JSON.stringify(data)).not.toContain("Declined it");
  });
});

describe("signed stream heads", () => {
  it("saves the head of the open ack, of every push, and of every sync answer", async () => {
    const t = setup("respondent", bids());
    await t.controller.open(SESSION_ID);
    const p = t.socket.position;
    // session:open, then the sync from 0 that fills the activity log
    expect(t.saveHead.mock.calls.map(([h]) => h)).toEqual([
      headFor("respondent", p),
      headFor("respondent", p),
    ]);
    t.saveHead.mockClear();
    t.socket.calls = [];
    t.socket.commitAndPush(); // the claimant's number
    t.socket.commitAndPush(); // the respondent's knock
    t.socket.commitAndPush(); // the respondent's own number: its refetch is a sync, with a head of its own
    await flush();
    await flush();
    expect(t.socket.callsOf("sync")).toHaveLength(1);
    expect(t.saveHead.mock.calls.map(([h]) => h)).toEqual([
      headFor("respondent", p + 1),
      headFor("respondent", p + 2),
      headFor("respondent", p + 3),
      headFor("respondent", p + 3),
    ]);
  });

  it("saves the deal notice's final head too", async () => {
    const { events, opened } = dealAtStep2();
    const t = setup("mediator", events, opened);
    await t.controller.open(SESSION_ID);
    t.saveHead.mockClear();
    const final = headFor("mediator", positionOf(events, "mediator"));
    for (let i = opened; i < events.length; i++) {
      t.socket.committed = events.length; // the deal and the end commit together
      const push = pushFor(events, i, "mediator")!;
      const sent = events[i]!.type === "DealMade" ? { ...push, finalHead: final } : push;
      for (const h of t.socket.handlers) h.push(sent);
    }
    const deal = events.findIndex((e) => e.type === "DealMade");
    expect(t.saveHead.mock.calls.map(([h]) => h)).toEqual([
      ...events
        .slice(opened, deal + 1)
        .map((_, k) => headFor("mediator", pushFor(events, opened + k, "mediator")!.version)),
      final,
      final, // SessionEnded: its own head is the final one
    ]);
    expect(t.store.getState().data).toMatchObject({ version: final.position, view: { outcome: "deal" } });
  });

  it("with the app's saveHead, the browser keeps each position of its stream once", async () => {
    const items = new Map<string, string>();
    const storage: HeadStorage = { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, v) };
    const { events, opened } = claimantActsUnseen();
    const t = setup("respondent", events, opened);
    t.saveHead.mockImplementation((head) => saveHead(head, storage));
    await t.controller.open(SESSION_ID);
    while (t.socket.committed < events.length) t.socket.commitAndPush();
    await flush();
    await flush();
    const start = positionOf(events.slice(0, opened), "respondent");
    const end = positionOf(events, "respondent");
    expect([...items.keys()]).toEqual([`backchannel:heads:${SESSION_ID}`]);
    expect(savedHeads(SESSION_ID, storage)).toEqual(
      Array.from({ length: end - start + 1 }, (_, k) => headFor("respondent", start + k)),
    );
  });

  it("saves nothing from a refused open or a refused sync", async () => {
    const refused = { ok: false, code: "SESSION_NOT_FOUND", message: "There is no such session." };
    const t = setup("claimant", bids());
    t.socket.respond = (event) => (event === "session:open" ? refused : undefined);
    await t.controller.open(SESSION_ID);
    expect(t.saveHead).not.toHaveBeenCalled();
    const u = setup("claimant", bids());
    u.socket.respond = (event) => (event === "sync" ? refused : undefined);
    await u.controller.open(SESSION_ID);
    expect(u.saveHead.mock.calls.map(([h]) => h)).toEqual([headFor("claimant", u.socket.position)]);
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
      return attempts === 1 ? TIMEOUT : { ok: true, version: t.socket.position };
    };
    expect(await t.controller.command({ type: "Knock" })).toEqual({ ok: true, version: t.socket.position });
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
      return { ok: true, version: t.socket.position, own: { amount: 9_137_251, setAt: T0 + 1_000 } };
    };
    await t.controller.command({ type: "SetNumber", amount: 9_137_251 });
    expect(t.store.getState().data?.view.numbers.own?.amount).toBe(9_137_251);
    await new Promise((r) => setTimeout(r, 20));
    expect(t.socket.callsOf("sync")).toHaveLength(1);
    expect(t.store.getState().data?.version).toBe(t.socket.position);
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
      data: { version: positionOf(t.socket.events, "mediator") },
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

describe("events handed on for notices", () => {
  /** [how, event types] of each onEvents call */
  const calls = (t: ReturnType<typeof setup>) =>
    t.onEvents.mock.calls.map(([sessionId, events, view, how]) => {
      expect(sessionId).toBe(SESSION_ID);
      expect(view.version).toBe(events.at(-1)!.version);
      return [how, events.map((e) => e.event.type)];
    });

  it("never the opening snapshot or its first sync; each live push once, with the view after it", async () => {
    const t = setup("mediator", bids());
    await t.controller.open(SESSION_ID);
    expect(t.onEvents).not.toHaveBeenCalled();
    t.socket.commitAndPush(); // the claimant's number (the mediator learns only that it was entered)
    t.socket.commitAndPush(); // the respondent knocks
    t.socket.commitAndPush(); // the respondent's number
    expect(calls(t)).toEqual([
      ["live", ["NumberSet"]],
      ["live", ["MediatorRequested"]],
      ["live", ["NumberSet"]],
    ]);
  });

  it("an event committed between the snapshot and the opening sync is news too", async () => {
    const t = setup("mediator", bids());
    t.socket.respond = (event) => {
      if (event === "sync") t.socket.committed += 1; // committed while the page was opening; its push went nowhere
      return undefined;
    };
    await t.controller.open(SESSION_ID);
    expect(calls(t)).toEqual([["live", ["NumberSet"]]]);
  });

  it("a push lost in the stream comes with the sync that fills the gap, as live", async () => {
    const t = setup("mediator", bids());
    await t.controller.open(SESSION_ID);
    t.socket.commitAndPush({ lost: true });
    t.socket.commitAndPush();
    await flush();
    await flush();
    expect(calls(t)).toEqual([["live", ["NumberSet", "MediatorRequested"]]]);
  });

  it("what a reconnect's sync brings is a catch-up", async () => {
    const t = setup("mediator", bids());
    await t.controller.open(SESSION_ID);
    t.socket.committed = t.socket.events.length;
    for (const h of t.socket.handlers) h.connection(false, false);
    for (const h of t.socket.handlers) h.connection(true, true);
    await flush();
    await flush();
    expect(calls(t)).toEqual([["catch-up", ["NumberSet", "MediatorRequested", "NumberSet"]]]);
  });
});
