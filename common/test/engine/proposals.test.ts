// RULES.md "Smart proposal" and "Mediator's proposal": double-blind, nobody learns who rejected.

import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../src/engine";
import { openDeadlines } from "../../src/engine";
import { DEFAULT_RULES } from "../../src/rules";
import {
  ADJUSTER,
  answer,
  CLAIMANT,
  CLAIMANT_CLIENT,
  consent,
  DAY,
  decline,
  HOUR,
  MEDIATOR,
  RESPONDENT,
  requestProposal,
  Scenario,
  setNumber,
  types,
} from "./builder";

/** Step 3 with a 10% gap (within the default 20%), a smart proposal requested by the claimant. */
function requested(rules = {}): Scenario {
  const scenario = Scenario.inStep3(100_000_00, 90_000_00, rules);
  scenario.ok(requestProposal(CLAIMANT));
  return scenario;
}

function proposed(rules = {}): Scenario {
  const scenario = requested(rules);
  scenario.ok(consent(RESPONDENT));
  return scenario;
}

function resolvedEvent(events: SessionEvent[]) {
  return events.find((e) => e.type === "ProposalResolved");
}

describe("smart proposal: requesting", () => {
  it("records the request with a consent deadline 48 hours out", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    expect(scenario.ok(requestProposal(RESPONDENT))).toEqual([
      {
        type: "ProposalRequested",
        at: scenario.now,
        requestId: "request-1",
        side: "respondent",
        by: RESPONDENT,
        consentBy: scenario.now + DEFAULT_RULES.proposalConsentMs,
      },
    ]);
  });

  it("is available only in Step 3, to bidding side members, with both numbers in", () => {
    const step2 = Scenario.inStep2();
    expect(step2.refused(requestProposal(CLAIMANT)).code).toBe("WRONG_STEP");
    expect(Scenario.inStep3(100_00, null).refused(requestProposal(CLAIMANT)).code).toBe("NUMBERS_MISSING");
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    expect(scenario.refused(requestProposal(MEDIATOR)).code).toBe("WRONG_ROLE");
    expect(scenario.refused(requestProposal(CLAIMANT_CLIENT)).code).toBe("NO_BIDDING_RIGHTS");
  });

  it("pauses bidding for both sides while the request is pending, and allows one request at a time", () => {
    const scenario = requested();
    expect(scenario.refused(setNumber(CLAIMANT, 95_000_00)).code).toBe("BIDDING_PAUSED");
    expect(scenario.refused(setNumber(RESPONDENT, 95_000_00)).code).toBe("BIDDING_PAUSED");
    expect(scenario.refused(requestProposal(RESPONDENT, "request-2")).code).toBe("PROPOSAL_PENDING");
  });

  it("needs the other side's consent: the requesting side, mediators and stale ids are refused", () => {
    const scenario = requested();
    expect(scenario.refused(consent(CLAIMANT)).code).toBe("WRONG_SIDE");
    expect(scenario.refused(consent(MEDIATOR)).code).toBe("WRONG_ROLE");
    expect(scenario.refused(consent(RESPONDENT, "request-0")).code).toBe("NO_PROPOSAL");
    expect(scenario.refused(decline(CLAIMANT)).code).toBe("WRONG_SIDE");
  });

  it("resumes bidding when the other side declines", () => {
    const scenario = requested();
    expect(scenario.ok(decline(ADJUSTER))).toEqual([
      {
        type: "ProposalRequestDeclined",
        at: scenario.now,
        requestId: "request-1",
        side: "respondent",
        by: ADJUSTER,
      },
    ]);
    expect(types(scenario.ok(setNumber(CLAIMANT, 95_000_00)))).toEqual(["BidSet"]);
  });

  it("lapses when the other side does not consent in time, and bidding resumes", () => {
    const scenario = requested();
    const consentBy = scenario.s.request!.consentBy;
    expect(scenario.tickAt(consentBy - 1)).toEqual([]);
    expect(scenario.tickAt(consentBy)).toEqual([
      { type: "ProposalRequestLapsed", at: consentBy, requestId: "request-1" },
    ]);
    expect(scenario.refused(consent(RESPONDENT)).code).toBe("NO_PROPOSAL");
    expect(types(scenario.ok(setNumber(RESPONDENT, 92_000_00)))).toEqual(["BidSet"]);
  });

  it("refuses a consent that arrives after the deadline, even before its Tick", () => {
    const scenario = requested();
    scenario.at(scenario.s.request!.consentBy);
    expect(scenario.refused(consent(RESPONDENT)).code).toBe("NO_PROPOSAL");
  });

  it("lets each side request at most one smart proposal in any 24 hours, whatever became of it (RATE_LIMITED)", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    const first = scenario.now;
    scenario.ok(requestProposal(CLAIMANT, "request-1"));
    scenario.ok(decline(RESPONDENT, "request-1"));
    const refusal = scenario.advance(HOUR).refused(requestProposal(CLAIMANT, "request-2"));
    expect(refusal).toMatchObject({ code: "RATE_LIMITED", retryAt: first + DAY });
    expect(refusal.message).toContain("at most one smart proposal in any 24 hours");
    // The limit is per side: the respondent may still ask once, declined or not.
    scenario.ok(requestProposal(ADJUSTER, "request-3"));
    scenario.ok(decline(CLAIMANT, "request-3"));
    expect(scenario.advance(HOUR).refused(requestProposal(RESPONDENT, "request-4")).code).toBe(
      "RATE_LIMITED",
    );
    // A rolling window: refused until exactly 24 hours after the side's last request.
    expect(scenario.at(first + DAY - 1).refused(requestProposal(CLAIMANT, "request-5")).retryAt).toBe(
      first + DAY,
    );
    expect(types(scenario.at(first + DAY).ok(requestProposal(CLAIMANT, "request-5")))).toEqual([
      "ProposalRequested",
    ]);
  });

  it('counts a request that ended in a proposal or in "too far apart" too', () => {
    const proposedAt = proposed();
    const start = proposedAt.now;
    proposedAt.ok(answer(CLAIMANT, "request-1", false));
    proposedAt.ok(answer(RESPONDENT, "request-1", false));
    expect(proposedAt.advance(HOUR).refused(requestProposal(CLAIMANT, "request-2"))).toMatchObject({
      code: "RATE_LIMITED",
      retryAt: start + DAY,
    });

    const tooFar = Scenario.inStep3(100_000_00, 50_000_00);
    tooFar.ok(requestProposal(RESPONDENT));
    tooFar.ok(consent(CLAIMANT));
    expect(tooFar.advance(23 * HOUR).refused(requestProposal(ADJUSTER, "request-2")).code).toBe(
      "RATE_LIMITED",
    );
    expect(types(tooFar.advance(HOUR).ok(requestProposal(ADJUSTER, "request-2")))).toEqual([
      "ProposalRequested",
    ]);
  });

  it("caps the consent deadline at the end of Step 3", () => {
    const scenario = requested({ step3DurationMs: HOUR });
    expect(scenario.s.request!.consentBy).toBe(scenario.s.step3ClosesAt);
    expect(types(scenario.tickAt(scenario.s.step3ClosesAt!))).toEqual([
      "ProposalRequestLapsed",
      "SessionEnded",
    ]);
  });
});

describe("smart proposal: the proposal", () => {
  it('answers "too far apart" when the gap is more than the limit, and bidding resumes', () => {
    const scenario = Scenario.inStep3(100_000_00, 79_999_99); // a gap just over 20% of the demand
    scenario.ok(requestProposal(CLAIMANT));
    expect(scenario.ok(consent(RESPONDENT))).toEqual([
      { type: "ProposalTooFarApart", at: scenario.now, requestId: "request-1", consentedBy: RESPONDENT },
    ]);
    expect(scenario.s.request).toBeNull();
    expect(types(scenario.ok(setNumber(RESPONDENT, 85_000_00)))).toEqual(["BidSet"]);
  });

  it("proposes an amount from the middle half of the gap, rounded, with a 7-day answer deadline", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const scenario = Scenario.inStep3(100_000_00, 90_000_00, {}, { seed });
      scenario.ok(requestProposal(CLAIMANT));
      const [made] = scenario.ok(consent(RESPONDENT));
      expect(made).toMatchObject({
        type: "SmartProposalMade",
        requestId: "request-1",
        proposalId: "request-1",
        answerBy: scenario.now + 7 * DAY,
        consentedBy: RESPONDENT,
      });
      const amount = (made as { amount: number }).amount;
      expect(amount).toBeGreaterThanOrEqual(92_500_00);
      expect(amount).toBeLessThanOrEqual(97_500_00);
      expect(amount % 100_00).toBe(0);
    }
  });

  it("never proposes either number, even for round numbers a little apart", () => {
    // RULES.md: a proposal equal to the offer would tell the claimant the respondent's exact number.
    for (const [demand, offer] of [
      [100_400_00, 100_000_00],
      [101_000_00, 100_000_00],
      [2_000_500_00, 2_000_000_00],
      [100_000_03, 100_000_00],
    ] as const) {
      for (let seed = 1; seed <= 25; seed++) {
        const scenario = Scenario.inStep3(demand, offer, {}, { seed });
        scenario.ok(requestProposal(CLAIMANT));
        scenario.ok(consent(RESPONDENT));
        const amount = scenario.s.proposal!.amount!;
        expect(amount).toBeGreaterThan(offer);
        expect(amount).toBeLessThan(demand);
        // Inside the middle half of the gap.
        expect(4 * (amount - offer)).toBeGreaterThanOrEqual(demand - offer);
        expect(4 * (demand - amount)).toBeGreaterThanOrEqual(demand - offer);
      }
    }
  });

  it('answers a one-cent gap exactly as "too far apart": no amount lies strictly between the numbers', () => {
    const oneCent = Scenario.inStep3(100_000_01, 100_000_00);
    oneCent.ok(requestProposal(CLAIMANT));
    const tooFar = Scenario.inStep3(100_000_00, 50_000_00);
    tooFar.ok(requestProposal(CLAIMANT));
    const answers = [oneCent, tooFar].map((scenario) => scenario.ok(consent(RESPONDENT)));
    expect(answers[0]).toEqual([
      { type: "ProposalTooFarApart", at: oneCent.now, requestId: "request-1", consentedBy: RESPONDENT },
    ]);
    expect(answers[0]).toEqual(answers[1]);
    expect(oneCent.s.request).toBeNull();
    expect(oneCent.s.proposal).toBeNull();
    expect(types(oneCent.ok(setNumber(RESPONDENT, 100_000_01)))).toEqual([
      "BidSet",
      "DealMade",
      "SessionEnded",
    ]);
  });

  it("keeps bidding paused while the proposal is pending", () => {
    const scenario = proposed();
    expect(scenario.refused(setNumber(RESPONDENT, 95_000_00)).code).toBe("BIDDING_PAUSED");
  });

  it("makes a deal at the proposed amount, without a bonus, when both sides accept", () => {
    const scenario = proposed({ step3BonusPercent: 10 });
    const amount = scenario.s.proposal!.amount!;
    expect(scenario.ok(answer(CLAIMANT, "request-1", true))).toEqual([
      {
        type: "ProposalAnswered",
        at: scenario.now,
        proposalId: "request-1",
        side: "claimant",
        by: CLAIMANT,
        accept: true,
      },
    ]);
    const events = scenario.advance(HOUR).ok(answer(ADJUSTER, "request-1", true));
    expect(types(events)).toEqual(["ProposalAnswered", "ProposalResolved", "DealMade", "SessionEnded"]);
    expect(events[1]).toEqual({
      type: "ProposalResolved",
      at: scenario.now,
      proposalId: "request-1",
      kind: "smart",
      accepted: true,
    });
    expect(events[2]).toMatchObject({ amount, source: "smart_proposal", bonusPercent: 0, bonusSide: null });
  });

  it("settles a rejection only once both sides answered, and says only 'not accepted'", () => {
    const scenario = proposed();
    // An early rejection settles nothing, so its timing tells the other side nothing.
    expect(types(scenario.ok(answer(CLAIMANT, "request-1", false)))).toEqual(["ProposalAnswered"]);
    expect(scenario.refused(answer(CLAIMANT, "request-1", true)).code).toBe("ALREADY_ANSWERED");
    const events = scenario.advance(DAY).ok(answer(RESPONDENT, "request-1", true));
    expect(resolvedEvent(events)).toEqual({
      type: "ProposalResolved",
      at: scenario.now,
      proposalId: "request-1",
      kind: "smart",
      accepted: false,
    });
    expect(scenario.s.deal).toBeNull();
    expect(types(scenario.ok(setNumber(RESPONDENT, 95_000_00)))).toEqual(["BidSet"]);
  });

  it("is not accepted when a side does not answer by the deadline", () => {
    const scenario = proposed();
    scenario.ok(answer(RESPONDENT, "request-1", true));
    const answerBy = scenario.s.proposal!.answerBy;
    expect(scenario.tickAt(answerBy - 1)).toEqual([]);
    expect(scenario.tickAt(answerBy)).toEqual([
      { type: "ProposalResolved", at: answerBy, proposalId: "request-1", kind: "smart", accepted: false },
    ]);
    expect(scenario.refused(answer(CLAIMANT, "request-1", true)).code).toBe("NO_PROPOSAL");
  });

  it("caps the answer deadline at the end of Step 3", () => {
    const scenario = proposed({ step3DurationMs: DAY });
    expect(scenario.s.proposal!.answerBy).toBe(scenario.s.step3ClosesAt);
  });

  it("refuses answers from mediators, view-only members and for unknown proposals", () => {
    const scenario = proposed();
    expect(scenario.refused(answer(MEDIATOR, "request-1", true)).code).toBe("WRONG_ROLE");
    expect(scenario.refused(answer(CLAIMANT_CLIENT, "request-1", true)).code).toBe("NO_BIDDING_RIGHTS");
    expect(scenario.refused(answer(CLAIMANT, "other", true)).code).toBe("NO_PROPOSAL");
  });
});

describe("mediator's proposal", () => {
  const put = (answerBy: number, amount = 95_000_00, actor = MEDIATOR) =>
    ({ type: "PutMediatorProposal", actor, proposalId: "mp-1", amount, answerBy }) as const;

  it("is put by a mediator in Step 3 with a deadline inside Step 3", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    const now = scenario.now;
    expect(scenario.refused(put(now + HOUR, 95_000_00, CLAIMANT)).code).toBe("WRONG_ROLE");
    expect(scenario.refused(put(now + HOUR, 0)).code).toBe("INVALID_AMOUNT");
    expect(scenario.refused(put(now)).code).toBe("INVALID_DEADLINE");
    expect(scenario.refused(put(scenario.s.step3ClosesAt! + 1)).code).toBe("INVALID_DEADLINE");
    expect(scenario.ok(put(scenario.s.step3ClosesAt!))).toEqual([
      {
        type: "MediatorProposalPut",
        at: now,
        proposalId: "mp-1",
        by: MEDIATOR,
        amount: 95_000_00,
        answerBy: scenario.s.step3ClosesAt!,
      },
    ]);
    expect(Scenario.inStep2().refused(put(now + HOUR)).code).toBe("WRONG_STEP");
  });

  it("allows one proposal of either kind at a time", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    scenario.ok(put(scenario.now + HOUR));
    expect(scenario.refused({ ...put(scenario.now + HOUR), proposalId: "mp-2" }).code).toBe(
      "PROPOSAL_PENDING",
    );
    expect(scenario.refused(requestProposal(CLAIMANT)).code).toBe("PROPOSAL_PENDING");
    const other = requested();
    expect(other.refused(put(other.now + HOUR)).code).toBe("PROPOSAL_PENDING");
  });

  it("makes a deal at the mediator's amount, without a bonus, when both sides accept", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00, { step3BonusPercent: 5 });
    scenario.ok(put(scenario.now + HOUR));
    scenario.ok(answer(RESPONDENT, "mp-1", true));
    const events = scenario.ok(answer(CLAIMANT, "mp-1", true));
    expect(types(events)).toEqual(["ProposalAnswered", "ProposalResolved", "DealMade", "SessionEnded"]);
    expect(events[2]).toMatchObject({ amount: 95_000_00, source: "mediator_proposal", bonusPercent: 0 });
  });

  it("tells everyone, the mediator included, only that it was not accepted", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    scenario.ok(put(scenario.now + HOUR));
    scenario.ok(answer(RESPONDENT, "mp-1", false));
    const events = scenario.ok(answer(CLAIMANT, "mp-1", true));
    expect(resolvedEvent(events)).toEqual({
      type: "ProposalResolved",
      at: scenario.now,
      proposalId: "mp-1",
      kind: "mediator",
      accepted: false,
    });
    expect(scenario.s.proposal).toBeNull();
  });

  it("expires unanswered at its deadline", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    scenario.ok(put(scenario.now + HOUR));
    expect(openDeadlines(scenario.s)[0]).toEqual({
      key: "proposal-expiry",
      kind: "proposal-expiry",
      at: scenario.now + HOUR,
    });
    expect(scenario.tickAt(scenario.now + HOUR)).toEqual([
      { type: "ProposalResolved", at: scenario.now, proposalId: "mp-1", kind: "mediator", accepted: false },
    ]);
  });

  it("lets bidding continue; a bid match first makes the deal and withdraws the proposal", () => {
    const scenario = Scenario.inStep3(100_000_00, 90_000_00);
    scenario.ok(put(scenario.now + HOUR));
    scenario.ok(answer(CLAIMANT, "mp-1", true));
    expect(types(scenario.ok(setNumber(CLAIMANT, 98_000_00)))).toEqual(["BidSet"]);
    const events = scenario.ok(setNumber(RESPONDENT, 98_000_00));
    expect(types(events)).toEqual(["BidSet", "DealMade", "SessionEnded"]);
    expect(scenario.s.deal).toMatchObject({ amount: 98_000_00, source: "step3" });
    expect(scenario.s.proposal).toBeNull();
    expect(scenario.refused(answer(RESPONDENT, "mp-1", true)).code).toBe("SESSION_ENDED");
  });
});
