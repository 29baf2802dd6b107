import { describe, expect, it } from "vitest";
import { audienceOf } from "../src/engine";
import { replay } from "../src/engine/state";
import type { EventOf, RoomId, SessionEvent, SessionState } from "../src/engine/types";
import { DEFAULT_RULES } from "../src/rules";
import type { Viewer, VisibleEvent } from "../src/visibility";
import {
  canPostIn,
  carriesConfidentialAmount,
  eventAudience,
  eventStreams,
  forBroadcast,
  projectEvent,
  projectStream,
  viewState,
} from "../src/visibility";

// Distinctive 8-digit amounts, so a substring search cannot hit a timestamp or a version by accident.
const DEMAND = 87_654_321;
const OFFER = 54_321_987;
const SMART = 71_234_567;

const T0 = 1_700_000_000_000;
const MIN = 60_000;

const mediator: Viewer = { userId: "u-med", role: "mediator" };
const claimant: Viewer = { userId: "u-c1", role: "claimant" };
const claimantViewOnly: Viewer = { userId: "u-c2", role: "claimant" };
const respondent: Viewer = { userId: "u-r1", role: "respondent" };
const everyone = [claimant, claimantViewOnly, respondent, mediator];

// Events of a mediation day, in order. The mediator created the session.
const created: EventOf<"SessionCreated"> = {
  type: "SessionCreated",
  at: T0,
  sessionId: "s-1",
  title: "Smith v. Jones",
  createdBy: "u-med",
  creatorName: "Mia Mediator",
  creatorRole: "mediator",
  rules: { ...DEFAULT_RULES, step2DurationMs: 10 * MIN, step3DurationMs: 60 * MIN, maxSessionMs: 120 * MIN },
  startAt: T0,
  termsText: "Release of all claims. Amount: ____",
};
const setupLog: SessionEvent[] = [
  created,
  {
    type: "InvitationIssued",
    at: T0 + 1,
    by: "u-med",
    invitationId: "inv-c1",
    role: "claimant",
    canBid: true,
    expiresAt: T0 + 9e8,
  },
  {
    type: "InvitationIssued",
    at: T0 + 2,
    by: "u-med",
    invitationId: "inv-c2",
    role: "claimant",
    canBid: false,
    expiresAt: T0 + 9e8,
  },
  {
    type: "InvitationIssued",
    at: T0 + 3,
    by: "u-med",
    invitationId: "inv-r1",
    role: "respondent",
    canBid: true,
    expiresAt: T0 + 9e8,
  },
  {
    type: "MemberJoined",
    at: T0 + 4,
    userId: "u-c1",
    name: "Carla",
    role: "claimant",
    canBid: true,
    invitationId: "inv-c1",
  },
  {
    type: "MemberJoined",
    at: T0 + 5,
    userId: "u-c2",
    name: "Cliff",
    role: "claimant",
    canBid: false,
    invitationId: "inv-c2",
  },
  {
    type: "MemberJoined",
    at: T0 + 6,
    userId: "u-r1",
    name: "Rita",
    role: "respondent",
    canBid: true,
    invitationId: "inv-r1",
  },
  { type: "TermsApproved", at: T0 + 7, by: "u-c1", side: "claimant", version: 1 },
  { type: "TermsApproved", at: T0 + 8, by: "u-r1", side: "respondent", version: 1 },
  { type: "Step1Closed", at: T0 + 9, how: "approved", termsVersion: 1 },
  { type: "Step2Opened", at: T0 + MIN, closesAt: T0 + 11 * MIN, sessionEndsAt: T0 + 121 * MIN },
];
const bidDemand: EventOf<"BidSet"> = {
  type: "BidSet",
  at: T0 + 2 * MIN,
  by: "u-c1",
  side: "claimant",
  step: 2,
  amount: DEMAND,
};
const bidOffer: EventOf<"BidSet"> = {
  type: "BidSet",
  at: T0 + 3 * MIN,
  by: "u-r1",
  side: "respondent",
  step: 2,
  amount: OFFER,
};
const step2Closed: EventOf<"Step2Closed"> = { type: "Step2Closed", at: T0 + 11 * MIN, deal: false };
const step3Opened: EventOf<"Step3Opened"> = {
  type: "Step3Opened",
  at: T0 + 11 * MIN,
  closesAt: T0 + 71 * MIN,
};
const requested: EventOf<"ProposalRequested"> = {
  type: "ProposalRequested",
  at: T0 + 12 * MIN,
  requestId: "req-1",
  side: "claimant",
  by: "u-c1",
  consentBy: T0 + 20 * MIN,
};
const smart: EventOf<"SmartProposalMade"> = {
  type: "SmartProposalMade",
  at: T0 + 13 * MIN,
  requestId: "req-1",
  proposalId: "prop-1",
  amount: SMART,
  answerBy: T0 + 30 * MIN,
  consentedBy: "u-r1",
};
const claimantRejects: EventOf<"ProposalAnswered"> = {
  type: "ProposalAnswered",
  at: T0 + 14 * MIN,
  proposalId: "prop-1",
  side: "claimant",
  by: "u-c1",
  accept: false,
};
const respondentAccepts: EventOf<"ProposalAnswered"> = {
  type: "ProposalAnswered",
  at: T0 + 15 * MIN,
  proposalId: "prop-1",
  side: "respondent",
  by: "u-r1",
  accept: true,
};
const resolved: EventOf<"ProposalResolved"> = {
  type: "ProposalResolved",
  at: T0 + 15 * MIN,
  proposalId: "prop-1",
  kind: "smart",
  accepted: false,
};

function message(room: RoomId, by: string, text: string, n: number): EventOf<"MessagePosted"> {
  return {
    type: "MessagePosted",
    at: T0 + 16 * MIN + n,
    messageId: `m-${n}`,
    room,
    by,
    text,
    audience: audienceOf(room),
  };
}
const messages = [
  message("joint", "u-med", "Welcome, everyone", 1),
  message("caucus:claimant", "u-med", "claimant caucus note", 2),
  message("caucus:respondent", "u-r1", "respondent caucus note", 3),
  message("side:claimant", "u-c2", "claimant side-only note", 4),
  message("side:respondent", "u-r1", "respondent side-only note", 5),
];

/** A Step 3 session with both numbers, a smart proposal half answered (claimant rejected), and messages. */
const midSessionLog: SessionEvent[] = [
  ...setupLog,
  bidDemand,
  bidOffer,
  step2Closed,
  step3Opened,
  requested,
  smart,
  claimantRejects,
  ...messages,
  {
    type: "MediatorLocationSet",
    at: T0 + 17 * MIN,
    by: "u-med",
    location: "with_claimant",
    until: null,
    note: null,
  },
  { type: "MediatorRequested", at: T0 + 18 * MIN, side: "respondent", by: "u-r1" },
  {
    type: "LedgerItemRecorded",
    at: T0 + 19 * MIN,
    itemId: "li-1",
    by: "u-med",
    item: { kind: "conveyed", from: "respondent", amount: 1_000_000 },
    note: "first move",
    counters: null,
  },
];
const NOW = T0 + 20 * MIN;

function keysOf(ev: VisibleEvent | null): string[] {
  return ev ? Object.keys(ev).sort() : [];
}

describe("RULES.md visibility table", () => {
  it("own current number: own side yes (every member), other side never, mediator never", () => {
    for (const viewer of [claimant, claimantViewOnly]) {
      expect(projectEvent(bidDemand, viewer)).toEqual({
        type: "NumberSet",
        side: "claimant",
        by: "u-c1",
        step: 2,
        at: bidDemand.at,
        amount: DEMAND,
      });
    }
    for (const viewer of [respondent, mediator]) {
      const seen = projectEvent(bidDemand, viewer);
      expect(seen).not.toBeNull();
      expect(seen && "amount" in seen).toBe(false);
      expect(JSON.stringify(seen)).not.toContain(String(DEMAND));
    }
    expect(projectEvent(bidOffer, respondent)).toMatchObject({ amount: OFFER });
    expect(keysOf(projectEvent(bidOffer, claimant))).toEqual(["at", "by", "side", "step", "type"]);

    const state = replay(midSessionLog);
    expect(viewState(state, claimant, NOW, 0).numbers.own).toMatchObject({
      side: "claimant",
      amount: DEMAND,
      setBy: "u-c1",
    });
    expect(viewState(state, claimantViewOnly, NOW, 0).numbers.own?.amount).toBe(DEMAND);
    expect(viewState(state, respondent, NOW, 0).numbers.own).toMatchObject({
      side: "respondent",
      amount: OFFER,
    });
    expect("own" in viewState(state, mediator, NOW, 0).numbers).toBe(false);
    expect(JSON.stringify(viewState(state, respondent, NOW, 0))).not.toContain(String(DEMAND));
    expect(JSON.stringify(viewState(state, claimant, NOW, 0))).not.toContain(String(OFFER));
    const med = JSON.stringify(viewState(state, mediator, NOW, 0));
    expect(med).not.toContain(String(DEMAND));
    expect(med).not.toContain(String(OFFER));
  });

  it("that a side entered or changed its number, and when: everyone", () => {
    for (const viewer of everyone) {
      expect(projectEvent(bidDemand, viewer)).toMatchObject({
        type: "NumberSet",
        side: "claimant",
        at: bidDemand.at,
      });
      const numbers = viewState(replay(midSessionLog), viewer, NOW, 0).numbers;
      expect(numbers.claimant).toEqual({ entered: true, lastChangedAt: bidDemand.at });
      expect(numbers.respondent).toEqual({ entered: true, lastChangedAt: bidOffer.at });
    }
    const before = replay(setupLog);
    expect(viewState(before, mediator, NOW, 0).numbers.claimant).toEqual({
      entered: false,
      lastChangedAt: null,
    });
    expect(viewState(before, claimant, NOW, 0).numbers.own).toMatchObject({ amount: null, setAt: null });
  });

  it("step changes, deadlines, 'no deal yet': everyone, unchanged", () => {
    const state = replay(midSessionLog);
    const deadlines = viewState(state, mediator, NOW, 0).deadlines;
    expect(deadlines).toEqual({
      step2ClosesAt: T0 + 11 * MIN,
      step3ClosesAt: T0 + 71 * MIN,
      sessionEndsAt: T0 + 121 * MIN,
      requestConsentBy: null,
      proposalAnswerBy: T0 + 30 * MIN,
    });
    for (const viewer of everyone) {
      expect(projectEvent(step2Closed, viewer)).toEqual(step2Closed);
      expect(projectEvent(step3Opened, viewer)).toEqual(step3Opened);
      expect(projectEvent(requested, viewer)).toEqual(requested);
      expect(viewState(state, viewer, NOW, 0).deadlines).toEqual(deadlines);
      expect(viewState(state, viewer, NOW, 0).phase).toBe("step3");
    }
  });

  it("smart proposal amount: both sides yes, the mediator never", () => {
    for (const viewer of [claimant, claimantViewOnly, respondent]) {
      expect(projectEvent(smart, viewer)).toMatchObject({
        type: "SmartProposalMade",
        proposalId: "prop-1",
        amount: SMART,
      });
    }
    const seen = projectEvent(smart, mediator);
    expect(keysOf(seen)).toEqual(["answerBy", "at", "consentedBy", "proposalId", "requestId", "type"]);
    const state = replay(midSessionLog);
    expect(viewState(state, respondent, NOW, 0).proposal?.amount).toBe(SMART);
    expect(viewState(state, claimant, NOW, 0).proposal?.amount).toBe(SMART);
    const medView = viewState(state, mediator, NOW, 0);
    expect(medView.proposal).not.toBeNull();
    expect(medView.proposal && "amount" in medView.proposal).toBe(false);
    expect(JSON.stringify(medView)).not.toContain(String(SMART));
  });

  it("mediator's proposal amount: everyone (it is the mediator's own number)", () => {
    const put: EventOf<"MediatorProposalPut"> = {
      type: "MediatorProposalPut",
      at: NOW,
      proposalId: "mp-1",
      by: "u-med",
      amount: 6_000_000,
      answerBy: NOW + MIN,
    };
    const state = replay([...setupLog, bidDemand, bidOffer, step2Closed, step3Opened, put]);
    for (const viewer of everyone) {
      expect(projectEvent(put, viewer)).toEqual(put);
      expect(viewState(state, viewer, NOW, 0).proposal?.amount).toBe(6_000_000);
    }
  });

  it("who rejected a proposal: never, for anyone, the mediator included", () => {
    // The answering side sees its own answer; nobody else learns how a side answered, nor even that it did
    // (at a deadline, "the claimant answered" would tell everyone the respondent did not accept).
    expect(projectEvent(claimantRejects, claimant)).toMatchObject({ accept: false, by: "u-c1" });
    expect(projectEvent(claimantRejects, claimantViewOnly)).toMatchObject({ accept: false });
    for (const viewer of [respondent, mediator]) expect(projectEvent(claimantRejects, viewer)).toBeNull();
    expect(projectEvent(respondentAccepts, claimant)).toBeNull();
    // The resolution says only accepted or not, to everyone.
    for (const viewer of everyone) {
      expect(keysOf(projectEvent(resolved, viewer))).toEqual([
        "accepted",
        "at",
        "kind",
        "proposalId",
        "type",
      ]);
    }
    // Snapshots: only the claimant side learns that, and how, it answered.
    const state = replay(midSessionLog);
    expect(viewState(state, respondent, NOW, 0).proposal?.answered).toEqual({ respondent: false });
    expect(viewState(state, mediator, NOW, 0).proposal?.answered).toEqual({});
    for (const viewer of [respondent, mediator]) {
      const proposal = viewState(state, viewer, NOW, 0).proposal;
      expect(proposal && "ownAnswer" in proposal).toBe(false);
    }
    expect(viewState(state, claimant, NOW, 0).proposal?.answered).toEqual({ claimant: true });
    expect(viewState(state, claimant, NOW, 0).proposal?.ownAnswer).toBe(false);
    // After the resolution nothing of any answer remains in any snapshot.
    const after = replay([...midSessionLog, respondentAccepts, resolved]);
    for (const viewer of everyone) expect(viewState(after, viewer, NOW, 0).proposal).toBeNull();
  });

  it("deal amount and the terms it fills: everyone", () => {
    const deal: EventOf<"DealMade"> = {
      type: "DealMade",
      at: NOW,
      amount: 60_000_000,
      source: "step3",
      bonusPercent: 0,
      bonusSide: null,
      termsVersion: 1,
    };
    const ended: EventOf<"SessionEnded"> = {
      type: "SessionEnded",
      at: NOW,
      outcome: "deal",
      side: null,
      by: null,
    };
    const state = replay([...setupLog, bidDemand, bidOffer, step2Closed, step3Opened, deal, ended]);
    for (const viewer of everyone) {
      expect(projectEvent(deal, viewer)).toEqual(deal);
      expect(projectEvent(ended, viewer)).toEqual(ended);
      const view = viewState(state, viewer, NOW, 0);
      expect(view.deal).toMatchObject({ amount: 60_000_000, termsVersion: 1 });
      expect(view.terms.text).toBe(created.termsText);
      expect(view.outcome).toBe("deal");
    }
    // The deal does not open the numbers: still own side only.
    expect(JSON.stringify(viewState(state, mediator, NOW, 0))).not.toContain(String(DEMAND));
    expect(JSON.stringify(viewState(state, claimant, NOW, 0))).not.toContain(String(OFFER));
  });

  it("caucus messages: in its own caucus and the mediator; never the other side", () => {
    const caucus = messages[1]!;
    expect(projectEvent(caucus, claimant)).toEqual(caucus);
    expect(projectEvent(caucus, claimantViewOnly)).toEqual(caucus);
    expect(projectEvent(caucus, mediator)).toEqual(caucus);
    expect(projectEvent(caucus, respondent)).toBeNull();
    expect(projectEvent(messages[2]!, claimant)).toBeNull();
    const state = replay(midSessionLog);
    const texts = (v: Viewer) => viewState(state, v, NOW, 0).messages.map((m) => m.text);
    expect(texts(claimant)).toContain("claimant caucus note");
    expect(texts(respondent)).not.toContain("claimant caucus note");
    expect(texts(mediator)).toEqual(["Welcome, everyone", "claimant caucus note", "respondent caucus note"]);
  });

  it("side-only messages: that side only; never the other side, never the mediator", () => {
    const sideOnly = messages[3]!;
    expect(projectEvent(sideOnly, claimant)).toEqual(sideOnly);
    expect(projectEvent(sideOnly, respondent)).toBeNull();
    expect(projectEvent(sideOnly, mediator)).toBeNull();
    const state = replay(midSessionLog);
    expect(viewState(state, claimant, NOW, 0).messages.map((m) => m.text)).toEqual([
      "Welcome, everyone",
      "claimant caucus note",
      "claimant side-only note",
    ]);
    expect(viewState(state, respondent, NOW, 0).messages.map((m) => m.text)).toEqual([
      "Welcome, everyone",
      "respondent caucus note",
      "respondent side-only note",
    ]);
  });

  it("joint messages: everyone", () => {
    for (const viewer of everyone) expect(projectEvent(messages[0]!, viewer)).toEqual(messages[0]);
  });
});

describe("other audiences", () => {
  it("a bracket drafted with the mediator is its side's and the mediators'; conveyed, it is everyone's", () => {
    const draft: EventOf<"LedgerItemRecorded"> = {
      type: "LedgerItemRecorded",
      at: T0,
      itemId: "b1",
      by: "u-med",
      item: { kind: "bracket", from: "claimant", ourAmount: 9_000_000, theirAmount: 6_000_000 },
      note: "only if they move first",
      counters: null,
    };
    expect(projectEvent(draft, claimant)).toEqual(draft);
    expect(projectEvent(draft, mediator)).toEqual(draft);
    expect(projectEvent(draft, respondent)).toBeNull();
    const conveyed: EventOf<"LedgerItemUpdated"> = {
      type: "LedgerItemUpdated",
      at: T0 + MIN,
      itemId: "b1",
      by: "u-med",
      state: "conveyed",
      from: "claimant",
      shared: true,
      details: {
        itemId: "b1",
        recordedAt: T0,
        recordedBy: "u-med",
        item: draft.item,
        note: draft.note,
        counters: null,
      },
    };
    expect(projectEvent(conveyed, respondent)).toEqual(conveyed);
    const withdrawnDraft = { ...conveyed, state: "withdrawn" as const, shared: false, details: undefined };
    expect(projectEvent(withdrawnDraft, respondent)).toBeNull();
    expect(projectEvent(withdrawnDraft, claimant)).not.toBeNull();
    // Plain conveyed positions are everyone's from the start.
    const position: EventOf<"LedgerItemRecorded"> = {
      ...draft,
      itemId: "c1",
      item: { kind: "conveyed", from: "respondent", amount: 1_000_000 },
    };
    expect(projectEvent(position, claimant)).toEqual(position);
  });

  it("a reminder goes to its side only", () => {
    const reminder: EventOf<"ReminderDue"> = {
      type: "ReminderDue",
      at: T0,
      side: "respondent",
      closesAt: T0 + MIN,
      reminder: 0,
    };
    expect(projectEvent(reminder, respondent)).toEqual(reminder);
    expect(projectEvent(reminder, claimant)).toBeNull();
    expect(projectEvent(reminder, mediator)).toBeNull();
  });

  it("a knock goes to the mediators and the knocking side", () => {
    const knock: EventOf<"MediatorRequested"> = {
      type: "MediatorRequested",
      at: T0,
      side: "respondent",
      by: "u-r1",
    };
    expect(projectEvent(knock, respondent)).toEqual(knock);
    expect(projectEvent(knock, mediator)).toEqual(knock);
    expect(projectEvent(knock, claimant)).toBeNull();
  });

  it("invitations: by role: the mediators, the invited side, and the sides of the issuer and the creator", () => {
    const state = replay(setupLog);
    const toRespondent = setupLog[3] as EventOf<"InvitationIssued">;
    expect(projectEvent(toRespondent, mediator, state)).toEqual(toRespondent);
    expect(projectEvent(toRespondent, respondent, state)).toEqual(toRespondent);
    expect(projectEvent(toRespondent, claimant, state)).toBeNull();
    // A claimant creator's invitation to the respondent side is seen by the whole claimant side: visibility is per
    // role, never per person, so all members of a role share one stream and one sequence of positions.
    const withBoss: SessionState = {
      ...state,
      createdBy: "u-boss",
      members: {
        ...state.members,
        "u-boss": { userId: "u-boss", name: "Boss", role: "claimant", canBid: true, joinedAt: T0 },
      },
    };
    const byBoss = { ...toRespondent, by: "u-boss" };
    expect(projectEvent(byBoss, { userId: "u-boss", role: "claimant" }, withBoss)).toEqual(byBoss);
    expect(projectEvent(byBoss, claimant, withBoss)).toEqual(byBoss);
    expect(projectEvent(toRespondent, claimant, withBoss)).toEqual(toRespondent);
    expect(eventStreams(byBoss, withBoss)).toEqual(["claimant", "respondent", "mediator"]);
    // Without the session, the issuer's side is unknown: it goes no wider than the invited side and the mediators.
    expect(projectEvent(byBoss, claimant)).toBeNull();

    const revoked: EventOf<"InvitationRevoked"> = {
      type: "InvitationRevoked",
      at: T0 + 10,
      by: "u-med",
      invitationId: "inv-r1",
    };
    expect(projectEvent(revoked, mediator)).toEqual(revoked);
    // Without the session the revocation's side is unknown, so it goes no wider than the mediators.
    expect(projectEvent(revoked, respondent)).toBeNull();
    expect(projectEvent(revoked, respondent, state)).toEqual(revoked);
    expect(projectEvent(revoked, claimant, state)).toBeNull();
    expect(eventAudience(revoked, state)).toEqual({ sides: ["respondent"], mediators: true });

    const ids = (v: Viewer) => viewState(state, v, NOW, 0).invitations.map((i) => i.invitationId);
    expect(ids(mediator)).toEqual(["inv-c1", "inv-c2", "inv-r1"]);
    expect(ids(claimant)).toEqual(["inv-c1", "inv-c2"]);
    expect(ids(respondent)).toEqual(["inv-r1"]);
  });

  it("ledger, location, joins and terms: everyone", () => {
    const state = replay(midSessionLog);
    for (const viewer of everyone) {
      const view = viewState(state, viewer, NOW, 0);
      expect(view.ledger).toHaveLength(1);
      expect(view.ledger[0]?.item).toEqual({ kind: "conveyed", from: "respondent", amount: 1_000_000 });
      expect(view.mediator?.location).toBe("with_claimant");
      expect(view.members.map((m) => m.userId)).toEqual(["u-med", "u-c1", "u-c2", "u-r1"]);
      expect(view.terms).toMatchObject({
        version: 1,
        closed: "approved",
        approvals: { claimant: 1, respondent: 1 },
      });
      for (const ev of setupLog.filter((e) => e.type === "MemberJoined" || e.type === "TermsApproved")) {
        expect(projectEvent(ev, viewer)).toEqual(ev);
      }
    }
  });

  it("an event type this version does not know reaches nobody", () => {
    const future = { type: "SomethingNew", at: T0, amount: DEMAND } as unknown as SessionEvent;
    for (const viewer of everyone) expect(projectEvent(future, viewer)).toBeNull();
  });

  it("room audiences and who may post", () => {
    expect(audienceOf("joint")).toEqual({ sides: ["claimant", "respondent"], mediators: true });
    expect(audienceOf("caucus:claimant")).toEqual({ sides: ["claimant"], mediators: true });
    expect(audienceOf("side:respondent")).toEqual({ sides: ["respondent"], mediators: false });
    expect(canPostIn("joint", respondent)).toBe(true);
    expect(canPostIn("caucus:claimant", mediator)).toBe(true);
    expect(canPostIn("caucus:claimant", respondent)).toBe(false);
    expect(canPostIn("side:claimant", mediator)).toBe(false);
    expect(canPostIn("side:claimant", claimantViewOnly)).toBe(true);
    expect(canPostIn("side:respondent", claimant)).toBe(false);
  });

  it("projections are copies: mutating a view never reaches the event or the state", () => {
    const seen = projectEvent(created, claimant);
    if (seen?.type !== "SessionCreated") throw new Error("expected SessionCreated");
    seen.rules.maxChangesPerDay = 99;
    expect(created.rules.maxChangesPerDay).toBe(DEFAULT_RULES.maxChangesPerDay);
    const state = replay(midSessionLog);
    const view = viewState(state, claimant, NOW, 0);
    view.messages[0]!.text = "changed";
    view.rules.maxChangesPerDay = 99;
    expect(state.messages[0]?.text).toBe("Welcome, everyone");
    expect(state.rules.maxChangesPerDay).toBe(DEFAULT_RULES.maxChangesPerDay);
  });
});

describe("forBroadcast", () => {
  it("strips every confidential amount, whoever the projection was for", () => {
    const log = [...midSessionLog, respondentAccepts, resolved];
    for (const viewer of everyone) {
      for (const event of log) {
        const seen = projectEvent(event, viewer);
        if (!seen) continue;
        const pushed = forBroadcast(seen);
        expect(carriesConfidentialAmount(pushed)).toBe(false);
        const text = JSON.stringify(pushed);
        for (const secret of [DEMAND, OFFER, SMART]) expect(text).not.toContain(String(secret));
      }
    }
    expect(forBroadcast(projectEvent(bidDemand, claimant)!)).toEqual({
      type: "NumberSet",
      side: "claimant",
      by: "u-c1",
      step: 2,
      at: bidDemand.at,
    });
    expect(forBroadcast(projectEvent(smart, respondent)!)).toEqual({
      type: "SmartProposalMade",
      requestId: "req-1",
      proposalId: "prop-1",
      answerBy: smart.answerBy,
      consentedBy: "u-r1",
      at: smart.at,
    });
  });

  it("strips a shredded (null) amount key too, and leaves public events alone", () => {
    const shredded = projectEvent({ ...bidDemand, amount: null }, claimant)!;
    expect("amount" in shredded).toBe(true);
    expect("amount" in forBroadcast(shredded)).toBe(false);
    expect(forBroadcast(step2Closed)).toEqual(step2Closed);
  });
});

describe("viewState per role", () => {
  const state: SessionState = replay(midSessionLog);

  it("claimant: own number, proposal amount, own answer, own rooms; the viewer block", () => {
    const position = projectStream(midSessionLog, claimant).positions.claimant;
    const view = viewState(state, claimant, NOW, position);
    expect(position).toBeLessThan(midSessionLog.length);
    expect(view).toMatchObject({
      id: "s-1",
      title: "Smith v. Jones",
      version: position,
      phase: "step3",
      outcome: null,
      viewer: { userId: "u-c1", role: "claimant", side: "claimant", canBid: true, isCreator: false },
      jointRoomOpen: false,
    });
    expect(view.numbers.own).toEqual({
      side: "claimant",
      amount: DEMAND,
      setAt: bidDemand.at,
      setBy: "u-c1",
      changesLeft: DEFAULT_RULES.maxChangesPerDay,
      nextChangeAt: null,
    });
    expect(view.rulesText.length).toBeGreaterThan(3);
    expect(view.proposal).toMatchObject({ amount: SMART, ownAnswer: false });
    expect(viewState(state, claimantViewOnly, NOW, 0).viewer.canBid).toBe(false);
  });

  it("respondent: its own number only, the proposal amount, no claimant answer", () => {
    const view = viewState(state, respondent, NOW, 0);
    expect(view.numbers.own?.amount).toBe(OFFER);
    expect(view.proposal?.amount).toBe(SMART);
    expect(view.proposal && "ownAnswer" in view.proposal).toBe(false);
    expect(view.mediator?.location).toBe("with_claimant");
  });

  it("mediator: no number, no smart proposal amount, caucuses but no side rooms, every invitation", () => {
    const view = viewState(state, mediator, NOW, 0);
    expect(view.viewer).toEqual({
      userId: "u-med",
      role: "mediator",
      side: null,
      canBid: false,
      isCreator: true,
    });
    expect(view.numbers).toEqual({
      claimant: { entered: true, lastChangedAt: bidDemand.at },
      respondent: { entered: true, lastChangedAt: bidOffer.at },
    });
    expect(view.proposal).toEqual({
      proposalId: "prop-1",
      kind: "smart",
      answerBy: smart.answerBy,
      answered: {},
    });
    expect(view.invitations).toHaveLength(3);
  });

  it("counts Step 3 changes left in the rolling 24 hours", () => {
    const rules = { ...created.rules, maxChangesPerDay: 2 };
    const log: SessionEvent[] = [
      { ...created, rules },
      ...setupLog.slice(1),
      bidDemand,
      bidOffer,
      step2Closed,
      step3Opened,
    ];
    const change = (at: number): SessionEvent => ({
      ...bidDemand,
      step: 3,
      at,
      amount: DEMAND - (at % 1000),
    });
    const one = replay([...log, change(NOW)]);
    expect(viewState(one, claimant, NOW, 0).numbers.own).toMatchObject({
      changesLeft: 1,
      nextChangeAt: null,
    });
    const two = replay([...log, change(NOW), change(NOW + 1000)]);
    expect(viewState(two, claimant, NOW + 2000, 0).numbers.own).toMatchObject({
      changesLeft: 0,
      nextChangeAt: NOW + 24 * 60 * MIN,
    });
    expect(viewState(two, claimant, NOW + 24 * 60 * MIN, 0).numbers.own?.changesLeft).toBe(1);
    expect(viewState(two, respondent, NOW + 2000, 0).numbers.own?.changesLeft).toBe(2);
  });
});
