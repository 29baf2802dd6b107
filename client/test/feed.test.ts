import type { Role, SessionEvent } from "@backchannel/common";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { panelProps } from "../src/pages/session/context";
import { knocksOf, MediatorConsole } from "../src/pages/session/MediatorConsole";
import { buildFeed, type FeedContext, ownNumberHistory, sideActivity } from "../src/session/feed";
import { createSessionData, type LoggedEvent } from "../src/session/reduce";
import { NAMES, openedSession, snapshot, syncAnswer, T0, USERS } from "./fixtures";

const members = (["claimant", "respondent", "mediator"] as const).map((role) => ({
  userId: USERS[role],
  name: NAMES[role],
  role,
}));

function ctxFor(role: Role): FeedContext {
  return {
    members,
    viewer: { userId: USERS[role], side: role === "mediator" ? null : role },
    currency: "USD",
    clock: (at) => `t+${(at - T0) / 1000}s`,
  };
}

function logFor(events: SessionEvent[], role: Role): LoggedEvent[] {
  return syncAnswer(events, 0, role).events;
}

const day: SessionEvent[] = [
  ...openedSession(),
  { type: "BidSet", at: T0 + 10_000, by: USERS.claimant, side: "claimant", step: 2, amount: 9_137_251 },
  { type: "BidSet", at: T0 + 20_000, by: USERS.claimant, side: "claimant", step: 2, amount: 8_137_251 },
  { type: "BidSet", at: T0 + 30_000, by: USERS.respondent, side: "respondent", step: 2, amount: 4_086_373 },
  { type: "MediatorRequested", at: T0 + 35_000, side: "respondent", by: USERS.respondent },
  { type: "Step2Closed", at: T0 + 60_000, deal: false },
  { type: "Step3Opened", at: T0 + 60_000, closesAt: T0 + 3_660_000 },
  {
    type: "SmartProposalMade",
    at: T0 + 70_000,
    requestId: "r1",
    proposalId: "p1",
    amount: 6_612_345,
    answerBy: T0 + 90_000,
    consentedBy: USERS.respondent,
  },
  { type: "ProposalResolved", at: T0 + 90_000, proposalId: "p1", kind: "smart", accepted: false },
  {
    type: "DealMade",
    at: T0 + 95_000,
    amount: 6_500_000,
    source: "step3",
    bonusPercent: 0,
    bonusSide: null,
    termsVersion: null,
  },
  { type: "SessionEnded", at: T0 + 95_000, outcome: "deal", side: null, by: null },
];

describe("the mediator's activity feed", () => {
  const feed = buildFeed(logFor(day, "mediator"), ctxFor("mediator"));
  const texts = feed.map((f) => f.text);

  it("says who changed a number and when, never the number", () => {
    expect(texts).toContain("Claimant entered their number (Claire Claimant).");
    expect(texts).toContain("Claimant updated their number (Claire Claimant).");
    expect(texts).toContain("Respondent entered their number (Ray Respondent).");
    const all = JSON.stringify(feed);
    for (const secret of ["91,372", "81,372", "40,863", "66,123", "9137251", "4086373", "6612345"]) {
      expect(all).not.toContain(secret);
    }
  });

  it("reports steps, knocks, proposal outcomes and the deal in words, newest first", () => {
    expect(texts).toContain("Step 2 closed: no deal. Step 3 (live bidding) follows.");
    expect(texts).toContain("Respondent asked for the mediator (Ray Respondent).");
    expect(texts).toContain("The proposal was not accepted.");
    expect(texts).toContain("Deal at $65,000.00, in live bidding (Step 3).");
    expect(texts).toContain("Ray Respondent joined as the respondent side.");
    expect(texts[0]).toBe("The session ended with a deal.");
    expect(feed.map((f) => f.version)).toEqual([...feed.map((f) => f.version)].sort((a, b) => b - a));
  });
});

describe("a side's feed", () => {
  it("speaks of its own number as 'your side's number', without the amount", () => {
    const feed = buildFeed(logFor(day, "claimant"), ctxFor("claimant"));
    const texts = feed.map((f) => f.text);
    expect(texts).toContain("You entered your side's number.");
    expect(texts).toContain("You updated your side's number.");
    expect(texts).not.toContain("Respondent asked for the mediator (Ray Respondent).");
    expect(JSON.stringify(feed)).not.toContain("91,372");
  });
});

describe("helpers over the log", () => {
  it("history of the own side's number carries the amounts this side may see", () => {
    const history = ownNumberHistory(logFor(day, "claimant"), "claimant");
    expect(history.map((h) => h.amount)).toEqual([9_137_251, 8_137_251]);
    expect(ownNumberHistory(logFor(day, "respondent"), "claimant").map((h) => h.amount)).toEqual([
      undefined,
      undefined,
    ]);
  });

  it("counts the other side's changes and the last time", () => {
    expect(sideActivity(logFor(day, "respondent"), "claimant")).toEqual({ changes: 2, lastAt: T0 + 20_000 });
  });
});

describe("knocks come from the view, not from the events received since the page opened", () => {
  const opened = openedSession();
  const knocked: SessionEvent[] = [
    ...opened,
    { type: "MediatorRequested", at: T0 + 35_000, side: "respondent", by: USERS.respondent },
    { type: "MediatorRequested", at: T0 + 36_000, side: "claimant", by: USERS.claimant },
  ];
  const props = (role: Role, events: SessionEvent[]) => {
    const view = snapshot(events, role);
    // Opened after the knocks: no event received yet.
    return { ...panelProps(createSessionData(view, view.version), T0 + 40_000), log: [] };
  };

  it("a mediator opening the page after both sides knocked sees both, oldest first", () => {
    expect(knocksOf(snapshot(knocked, "mediator"))).toEqual([
      { side: "respondent", at: T0 + 35_000, by: USERS.respondent },
      { side: "claimant", at: T0 + 36_000, by: USERS.claimant },
    ]);
    for (const desk of [false, true]) {
      const html = renderToStaticMarkup(
        createElement(MediatorConsole, { ...props("mediator", knocked), desk }),
      );
      expect(html).toContain("Respondent asked for you");
      expect(html).toContain("Go to the respondent side");
      expect(html).toContain("Claimant asked for you");
      expect(html.indexOf("Respondent asked")).toBeLessThan(html.indexOf("Claimant asked"));
    }
  });

  it("a knock goes when the mediator goes to that side; a side sees only its own", () => {
    const answered: SessionEvent[] = [
      ...knocked,
      {
        type: "MediatorLocationSet",
        at: T0 + 40_000,
        by: USERS.mediator,
        location: "with_respondent",
        until: null,
        note: null,
      },
    ];
    expect(knocksOf(snapshot(answered, "mediator"))).toEqual([
      { side: "claimant", at: T0 + 36_000, by: USERS.claimant },
    ]);
    const html = renderToStaticMarkup(createElement(MediatorConsole, props("mediator", answered)));
    expect(html).not.toContain("Respondent asked for you");
    expect(html).toContain("Claimant asked for you");
    expect(knocksOf(snapshot(knocked, "respondent"))).toEqual([
      { side: "respondent", at: T0 + 35_000, by: USERS.respondent },
    ]);
    expect(knocksOf(snapshot(opened, "mediator"))).toEqual([]);
  });
});

describe("deadlines in the feed", () => {
  it("are written with the deadline formatter (the zone named), other times with the clock", () => {
    const ctx: FeedContext = { ...ctxFor("claimant"), deadline: (at) => `t+${(at - T0) / 1000}s ZONE` };
    const texts = buildFeed(logFor(day, "claimant"), ctx).map((i) => i.text);
    expect(texts).toContain("Step 3 opened: live bidding until t+3660s ZONE.");
    expect(texts.find((t) => t.startsWith("Step 2 opened"))).toMatch(/until t\+\d+s ZONE\.$/);
    // Without one, the clock writes them as before.
    expect(buildFeed(logFor(day, "claimant"), ctxFor("claimant")).map((i) => i.text)).toContain(
      "Step 3 opened: live bidding until t+3660s.",
    );
  });
});
