import type { Role, SessionEvent, SessionView } from "@backchannel/common";
import { applyVisibleEvent, audienceOf } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import {
  applySync,
  createSessionData,
  followUpFor,
  type LoggedEvent,
  receivePush,
  withOwnNumber,
} from "../src/session/reduce";
import { EngineLog } from "./engineLog";
import {
  openedSession,
  positionOf,
  pushFor,
  SESSION_ID,
  snapshot,
  syncAnswer,
  syncedFor,
  T0,
  USERS,
} from "./fixtures";

/** A whole mediation day after Step 2 opened: numbers, rooms, ledger, proposals, a deal. */
function fullDay(): SessionEvent[] {
  const events = openedSession();
  let at = T0 + 1_000;
  const next = () => (at += 1_000);
  events.push(
    { type: "BidSet", at: next(), by: USERS.claimant, side: "claimant", step: 2, amount: 9_137_251 },
    { type: "BidSet", at: next(), by: USERS.respondent, side: "respondent", step: 2, amount: 4_086_373 },
    { type: "Step2Closed", at: T0 + 60_000, deal: false },
    { type: "Step3Opened", at: T0 + 60_000, closesAt: T0 + 3_660_000 },
    {
      type: "MediatorLocationSet",
      at: T0 + 61_000,
      by: USERS.mediator,
      location: "with_claimant",
      until: T0 + 900_000,
      note: "Reviewing the release",
    },
    { type: "MediatorRequested", at: T0 + 62_000, side: "respondent", by: USERS.respondent },
    { type: "JointRoomOpened", at: T0 + 63_000, by: USERS.mediator },
    {
      type: "MessagePosted",
      at: T0 + 64_000,
      messageId: "m1",
      room: "joint",
      audience: audienceOf("joint"),
      by: USERS.mediator,
      text: "Welcome",
    },
    {
      type: "MessagePosted",
      at: T0 + 65_000,
      messageId: "m2",
      room: "caucus:claimant",
      audience: audienceOf("caucus:claimant"),
      by: USERS.claimant,
      text: "We can move",
    },
    {
      type: "MessagePosted",
      at: T0 + 66_000,
      messageId: "m3",
      room: "side:respondent",
      audience: audienceOf("side:respondent"),
      by: USERS.respondent,
      text: "Hold firm",
    },
    {
      type: "LedgerItemRecorded",
      at: T0 + 67_000,
      itemId: "l1",
      by: USERS.mediator,
      item: { kind: "conveyed", from: "respondent", amount: 1_000_000 },
      note: null,
      counters: null,
    },
    {
      type: "LedgerItemRecorded",
      at: T0 + 68_000,
      itemId: "l2",
      by: USERS.mediator,
      item: { kind: "bracket", from: "claimant", ourAmount: 8_000_000, theirAmount: 6_000_000 },
      note: "if they move",
      counters: "l1",
    },
    {
      type: "LedgerItemUpdated",
      at: T0 + 68_000,
      itemId: "l1",
      by: USERS.mediator,
      state: "countered",
      from: "respondent",
      shared: true,
    },
    { type: "BidSet", at: T0 + 69_000, by: USERS.claimant, side: "claimant", step: 3, amount: 7_312_947 },
    {
      type: "ProposalRequested",
      at: T0 + 70_000,
      requestId: "r1",
      side: "claimant",
      by: USERS.claimant,
      consentBy: T0 + 200_000,
    },
    {
      type: "SmartProposalMade",
      at: T0 + 71_000,
      requestId: "r1",
      proposalId: "p1",
      amount: 5_552_119,
      answerBy: T0 + 300_000,
      consentedBy: USERS.respondent,
    },
    {
      type: "ProposalAnswered",
      at: T0 + 72_000,
      proposalId: "p1",
      side: "claimant",
      by: USERS.claimant,
      accept: false,
    },
  );
  return events;
}

function dealEnding(events: SessionEvent[]): SessionEvent[] {
  return [
    ...events,
    { type: "ProposalResolved", at: T0 + 73_000, proposalId: "p1", kind: "smart", accepted: false },
    {
      type: "MediatorProposalPut",
      at: T0 + 74_000,
      proposalId: "p2",
      by: USERS.mediator,
      amount: 5_800_000,
      answerBy: T0 + 400_000,
    },
    {
      type: "ProposalAnswered",
      at: T0 + 75_000,
      proposalId: "p2",
      side: "claimant",
      by: USERS.claimant,
      accept: true,
    },
    {
      type: "ProposalAnswered",
      at: T0 + 76_000,
      proposalId: "p2",
      side: "respondent",
      by: USERS.respondent,
      accept: true,
    },
    { type: "ProposalResolved", at: T0 + 76_000, proposalId: "p2", kind: "mediator", accepted: true },
    {
      type: "DealMade",
      at: T0 + 76_000,
      amount: 5_800_000,
      source: "mediator_proposal",
      bonusPercent: 0,
      bonusSide: null,
      termsVersion: null,
    },
    { type: "SessionEnded", at: T0 + 76_000, outcome: "deal", side: null, by: null },
  ];
}

/** The parts of a view that pushes and syncs must keep exactly as the server computes them. */
function comparable(view: SessionView, opts: { ownAmount: boolean; proposalAmount: boolean }) {
  const { own, ...numbers } = view.numbers;
  const proposal = view.proposal && { ...view.proposal };
  if (proposal && !opts.proposalAmount && proposal.kind === "smart") delete proposal.amount;
  return {
    title: view.title,
    version: view.version,
    phase: view.phase,
    outcome: view.outcome,
    deadlines: view.deadlines,
    step2OpenedAt: view.step2OpenedAt,
    step3OpenedAt: view.step3OpenedAt,
    members: view.members,
    terms: view.terms,
    numbers,
    own: own && {
      side: own.side,
      setAt: own.setAt,
      setBy: own.setBy,
      amount: opts.ownAmount ? own.amount : "-",
    },
    request: view.request,
    proposal,
    deal: view.deal,
    endedAt: view.endedAt,
    jointRoomOpen: view.jointRoomOpen,
    mediator: view.mediator,
    ledger: view.ledger,
    messages: view.messages,
    invitations: view.invitations,
  };
}

const ROLES: Role[] = ["claimant", "respondent", "mediator"];

describe("applying events to a view", () => {
  for (const role of ROLES) {
    it(`${role}: pushes applied in order give the server's own snapshot (amounts aside)`, () => {
      const events = dealEnding(fullDay());
      const start = openedSession().length;
      let data = createSessionData(
        snapshot(events.slice(0, start), role),
        positionOf(events.slice(0, start), role),
      );
      for (let i = start; i < events.length; i++) {
        const push = pushFor(events, i, role);
        if (!push) continue;
        const outcome = receivePush(data, push);
        // The viewer's stream has no hole for what it may not see: every push is the next position.
        expect(outcome.kind, `${events[i]!.type} (event ${i}) for the ${role}`).toBe("applied");
        if (outcome.kind === "applied") data = outcome.data;
      }
      expect(data.version).toBe(positionOf(events, role));
      expect(comparable(data.view, { ownAmount: false, proposalAmount: false })).toEqual(
        comparable(snapshot(events, role), { ownAmount: false, proposalAmount: false }),
      );
    });

    it(`${role}: a sync from an older version gives the server's snapshot, own amounts included`, () => {
      const events = fullDay();
      const start = positionOf(openedSession(), role);
      const data = applySync(
        createSessionData(snapshot(openedSession(), role), start),
        syncAnswer(events, start, role),
      );
      expect(data.version).toBe(positionOf(events, role));
      expect(comparable(data.view, { ownAmount: true, proposalAmount: true })).toEqual(
        comparable(snapshot(events, role), { ownAmount: true, proposalAmount: true }),
      );
    });
  }

  it("keeps the mediator's view free of both numbers and of the smart proposal amount", () => {
    const events = fullDay();
    const start = positionOf(openedSession(), "mediator");
    const data = applySync(
      createSessionData(snapshot(openedSession(), "mediator"), start),
      syncAnswer(events, start, "mediator"),
    );
    const text = JSON.stringify(data);
    for (const secret of ["9137251", "4086373", "7312947", "5552119"]) expect(text).not.toContain(secret);
    expect(data.view.proposal?.amount).toBeUndefined();
  });

  it("answers a proposal privately: the own side sees how it answered, the other side not even that it did", () => {
    const events = fullDay();
    const opened = openedSession();
    const from = (role: Role) =>
      applySync(
        createSessionData(snapshot(opened, role), positionOf(opened, role)),
        syncAnswer(events, positionOf(opened, role), role),
      );
    const forClaimant = from("claimant");
    const forRespondent = from("respondent");
    expect(forClaimant.view.proposal).toMatchObject({ ownAnswer: false, answered: { claimant: true } });
    expect(forRespondent.view.proposal?.ownAnswer).toBeUndefined();
    expect(forRespondent.view.proposal?.answered).toEqual({ respondent: false });
  });
});

describe("receivePush and applySync over a lossy wire", () => {
  for (const role of ROLES) {
    it(`${role}: lost and doubled pushes, healed by sync, end where the stream applied in order ends`, () => {
      const events = dealEnding(fullDay());
      const opened = openedSession().length;
      const start = positionOf(events.slice(0, opened), role);
      const base = createSessionData(snapshot(events.slice(0, opened), role), start);
      let data = base;
      let k = 0;
      for (let i = opened; i < events.length; i++) {
        const push = pushFor(events, i, role);
        if (!push) continue;
        k += 1;
        if (k % 3 === 0) continue; // lost
        for (let times = k % 4 === 0 ? 2 : 1; times > 0; times--) {
          const outcome = receivePush(data, push);
          if (outcome.kind === "applied") data = outcome.data;
          if (outcome.kind === "gap") {
            data = applySync(data, syncAnswer(events.slice(0, i + 1), outcome.sinceVersion, role));
          }
        }
      }
      data = applySync(data, syncAnswer(events, data.version, role));
      // The reference: every event of the stream, in order, as a sync delivers it (own amounts included).
      let view = base.view;
      for (const entry of syncAnswer(events, start, role).events) {
        view = applyVisibleEvent(view, entry.event, entry.version);
      }
      expect(data.version).toBe(positionOf(events, role));
      expect(data.log.map((l) => l.version)).toEqual(
        syncAnswer(events, start, role).events.map((e) => e.version),
      );
      // Pushes carry no own amounts: they are what differs, and only for the sides.
      expect(comparable(data.view, { ownAmount: false, proposalAmount: false })).toEqual(
        comparable(view, { ownAmount: false, proposalAmount: false }),
      );
    });
  }
});

describe("receivePush: versions in order", () => {
  const events = fullDay();
  const index = openedSession().length;
  /** the claimant's stream position when Step 2 opened (not the session's global version) */
  const start = positionOf(events.slice(0, index), "claimant");
  const base = createSessionData(snapshot(events.slice(0, index), "claimant"), start);
  const first = pushFor(events, index, "claimant")!;
  const second = pushFor(events, index + 1, "claimant")!;

  it("applies the next version and logs it", () => {
    expect(first.version).toBe(start + 1);
    const r = receivePush(base, first);
    expect(r.kind).toBe("applied");
    if (r.kind !== "applied") return;
    expect(r.data.version).toBe(start + 1);
    expect(r.data.log.map((l) => l.version)).toEqual([start + 1]);
    expect(r.data.view.numbers.claimant.entered).toBe(true);
  });

  it("ignores a version it already has", () => {
    const r = receivePush(base, first);
    if (r.kind !== "applied") throw new Error("expected applied");
    expect(receivePush(r.data, first).kind).toBe("duplicate");
    expect(receivePush(r.data, { version: start, event: first.event }).kind).toBe("duplicate");
  });

  it("reports a gap (a push lost on the way) with the version to sync from, and applies nothing", () => {
    expect(second.version).toBe(start + 2);
    const r = receivePush(base, second);
    expect(r).toEqual({ kind: "gap", sinceVersion: start });
  });

  it("applySync fills the gap, then the late push is a duplicate", () => {
    const synced = applySync(base, syncAnswer(events.slice(0, index + 2), start, "claimant"));
    expect(synced.version).toBe(start + 2);
    expect(synced.log.map((l) => l.version)).toEqual([start + 1, start + 2]);
    expect(receivePush(synced, second).kind).toBe("duplicate");
  });

  it("a sync answered with a snapshot replaces the view and marks the log incomplete", () => {
    const later = snapshot(events, "claimant");
    const position = positionOf(events, "claimant");
    expect(later.version).toBe(position);
    const synced = applySync({ ...base, logComplete: true }, { version: position, snapshot: later });
    expect(synced.view).toEqual(later);
    expect(synced.version).toBe(position);
    expect(synced.logComplete).toBe(false);
    // An older snapshot (a crossed answer) never rolls the view back.
    expect(applySync(synced, { version: start, snapshot: base.view })).toBe(synced);
  });
});

describe("what a push leaves out, fetched after it", () => {
  const events = fullDay();
  const opened = openedSession().length;
  /** `role`'s data when Step 2 opened, at its stream position */
  const openedFor = (role: Role) =>
    createSessionData(snapshot(events.slice(0, opened), role), positionOf(events.slice(0, opened), role));

  it("the own side's NumberSet push has no amount: refresh the number and refetch the event", () => {
    const data = openedFor("claimant");
    const push = pushFor(events, opened, "claimant")!;
    expect("amount" in push.event).toBe(false);
    expect(push.version).toBe(data.version + 1);
    expect(followUpFor(data.view, push)).toEqual({ refreshOwnNumber: true, refetchFrom: data.version });
    // The refetch delivers the same version with its amount: it enriches the log entry in place.
    const applied = receivePush(data, push);
    if (applied.kind !== "applied") throw new Error("expected applied");
    const enriched = applySync(
      applied.data,
      syncAnswer(events.slice(0, opened + 1), data.version, "claimant"),
    );
    expect(enriched.log[0]).toMatchObject({
      version: push.version,
      event: { type: "NumberSet", amount: 9_137_251 },
    });
  });

  it("the other side's NumberSet needs nothing; the mediator never fetches", () => {
    const forRespondent = openedFor("respondent");
    expect(followUpFor(forRespondent.view, pushFor(events, opened, "respondent")!)).toEqual({
      refreshOwnNumber: false,
      refetchFrom: null,
    });
    const forMediator = openedFor("mediator");
    expect(followUpFor(forMediator.view, pushFor(events, opened, "mediator")!).refreshOwnNumber).toBe(false);
  });

  it("a smart proposal push has no amount; sides refetch it, and the sync fills in the pending proposal", () => {
    const index = events.findIndex((e) => e.type === "SmartProposalMade");
    const start = openedFor("respondent");
    const before = applySync(start, syncAnswer(events.slice(0, index), start.version, "respondent"));
    const push = pushFor(events, index, "respondent")!;
    // The respondent's position, not the global version: the claimant's caucus message, for one, is not in it.
    expect(push.version).toBe(positionOf(events.slice(0, index + 1), "respondent"));
    expect(push.version).toBeLessThan(index + 1);
    const applied = receivePush(before, push);
    if (applied.kind !== "applied") throw new Error("expected applied");
    expect(applied.data.view.proposal?.amount).toBeUndefined();
    expect(followUpFor(applied.data.view, push).refetchFrom).toBe(push.version - 1);
    const filled = applySync(applied.data, {
      version: push.version,
      events: [syncedFor(events, index, "respondent")!],
    });
    expect(filled.view.proposal?.amount).toBe(5_552_119);
  });

  it("withOwnNumber takes a newer own number but never rolls back to an older one", () => {
    const start = openedFor("claimant");
    const data = applySync(start, syncAnswer(events.slice(0, opened + 1), start.version, "claimant"));
    const own = data.view.numbers.own!;
    const newer = withOwnNumber(data, { amount: 8_000_000, setAt: (own.setAt ?? 0) + 1, changesLeft: 9 });
    expect(newer.view.numbers.own).toMatchObject({ amount: 8_000_000, changesLeft: 9, side: "claimant" });
    const older = withOwnNumber(newer, { amount: 1, setAt: own.setAt! });
    expect(older.view.numbers.own?.amount).toBe(8_000_000);
  });
});

describe("a session that ends without a deal", () => {
  it("forgets the own number and the amounts in the log, as the server destroys them", () => {
    const events = fullDay();
    const start = positionOf(openedSession(), "claimant");
    let data = applySync(
      createSessionData(snapshot(openedSession(), "claimant"), start),
      syncAnswer(events, start, "claimant"),
    );
    expect(data.view.numbers.own?.amount).toBe(7_312_947);
    const ended = {
      sessionId: SESSION_ID,
      version: data.version + 1,
      event: {
        type: "SessionEnded" as const,
        at: T0 + 80_000,
        outcome: "withdrawn" as const,
        side: "respondent" as const,
        by: USERS.respondent,
      },
    };
    const r = receivePush(data, ended);
    if (r.kind !== "applied") throw new Error("expected applied");
    data = r.data;
    expect(data.view.numbers.own?.amount).toBeNull();
    expect(JSON.stringify(data)).not.toContain("7312947");
    expect(JSON.stringify(data)).not.toContain("9137251");
    expect(followUpFor(data.view, ended)).toEqual({ refreshOwnNumber: true, refetchFrom: null });
  });
});

describe("a bracket drafted with the other side", () => {
  it("shows, once conveyed, where the ledger holds it (not after items recorded later)", () => {
    const log = new EngineLog();
    log.run("mediator", {
      type: "RecordBracket",
      itemId: "b-1",
      from: "claimant",
      ourAmount: 8_000_000,
      theirAmount: 5_000_000,
      note: null,
      counters: null,
    });
    log.run("mediator", {
      type: "RecordConveyed",
      itemId: "c-1",
      from: "respondent",
      amount: 4_500_000,
      note: null,
      counters: null,
    });
    log.run("mediator", { type: "UpdateLedgerItem", itemId: "b-1", state: "conveyed" });
    const { events, opened } = log;
    let data = createSessionData(
      snapshot(events.slice(0, opened), "respondent"),
      positionOf(events.slice(0, opened), "respondent"),
    );
    for (let i = opened; i < events.length; i++) {
      const push = pushFor(events, i, "respondent");
      if (!push) continue;
      const outcome = receivePush(data, push);
      if (outcome.kind === "applied") data = outcome.data;
    }
    expect(data.view.ledger.map((l) => l.itemId)).toEqual(["b-1", "c-1"]);
    expect(data.view.ledger).toEqual(snapshot(events, "respondent").ledger);
  });
});

describe("applyVisibleEvent details (as the client uses it)", () => {
  const view = snapshot(openedSession(), "claimant");

  it("an edit withdraws approvals but keeps skips", () => {
    const approved = applyVisibleEvent(
      {
        ...view,
        terms: { ...view.terms, approvals: { respondent: 1 }, skipped: { claimant: true }, closed: null },
      },
      { type: "TermsEdited", at: T0, by: USERS.mediator, version: 2, text: "New text" },
      20,
    );
    expect(approved.terms).toMatchObject({
      version: 2,
      text: "New text",
      approvals: {},
      skipped: { claimant: true },
    });
  });

  it("a Step 3 change of the own number counts one change until the refresh", () => {
    const step3 = applyVisibleEvent(view, { type: "Step3Opened", at: T0, closesAt: T0 + 1 }, 11);
    const before = step3.numbers.own!.changesLeft;
    const after = applyVisibleEvent(
      step3,
      { type: "NumberSet", at: T0 + 5, by: USERS.claimant, side: "claimant", step: 3 },
      12,
    );
    expect(after.numbers.own?.changesLeft).toBe(before - 1);
    expect(after.numbers.claimant).toEqual({ entered: true, lastChangedAt: T0 + 5 });
  });

  it("an unknown event type from a newer server only moves the version", () => {
    const unknown = { type: "SomethingNew", at: T0 } as unknown as LoggedEvent["event"];
    const next = applyVisibleEvent(view, unknown, 42);
    expect(next).toEqual({ ...view, version: 42 });
  });

  it("sessionId of the fixtures is a UUID, like the server's", () => {
    expect(SESSION_ID).toMatch(/^[0-9a-f-]{36}$/);
  });
});
