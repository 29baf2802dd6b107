// The events that settle something: a deal, the Step 2 comparison, the resolution of a proposal.
// Shared by commands (a Step 3 match, the second answer) and the clock (the Step 2 deadline, an expiry).

import { dealAmount, isMatch } from "../matching";
import type { Cents } from "../money";
import type { Context, DealSource, PendingProposal, SessionEvent, SessionState, Side } from "./types";

/** The current demand and offer, when both sides have one. */
export function currentNumbers(state: SessionState): { demand: Cents; offer: Cents } | null {
  const demand = state.numbers.claimant?.amount;
  const offer = state.numbers.respondent?.amount;
  if (demand == null || offer == null) return null;
  return { demand, offer };
}

/** The terms version a deal fills the amount into: the approved one, or none when terms were left for later. */
function dealTermsVersion(state: SessionState): number | null {
  return state.terms.closed === "approved" ? state.terms.version : null;
}

export function dealEvents(
  state: SessionState,
  deal: { amount: Cents; source: DealSource; bonusPercent: number; bonusSide: Side | null },
  now: number,
): SessionEvent[] {
  return [
    { type: "DealMade", at: now, ...deal, termsVersion: dealTermsVersion(state) },
    { type: "SessionEnded", at: now, outcome: "deal", side: null, by: null },
  ];
}

/** RULES.md Step 2: at the deadline, and only then, the two current numbers are compared. */
export function closeStep2(state: SessionState, ctx: Context): SessionEvent[] {
  const numbers = currentNumbers(state);
  if (numbers && isMatch(numbers.demand, numbers.offer)) {
    const amount = dealAmount(numbers.demand, numbers.offer, ctx.random, state.rules.currency);
    return [
      { type: "Step2Closed", at: ctx.now, deal: true },
      ...dealEvents(state, { amount, source: "step2", bonusPercent: 0, bonusSide: null }, ctx.now),
    ];
  }
  // Step 3 runs its full length from the scheduled Step 2 deadline, never past the whole session's limit.
  const scheduled = (state.step2ClosesAt ?? ctx.now) + state.rules.step3DurationMs;
  const closesAt = Math.min(scheduled, state.sessionEndsAt ?? scheduled);
  return [
    { type: "Step2Closed", at: ctx.now, deal: false },
    { type: "Step3Opened", at: ctx.now, closesAt },
  ];
}

/**
 * Settles a proposal once both sides answered or its deadline passed. Only "accepted or not" is announced,
 * so nobody learns who rejected; a proposal deal never carries the early-number bonus.
 */
export function resolveProposal(state: SessionState, proposal: PendingProposal, now: number): SessionEvent[] {
  // The amount is null only once shredded, after a session ended; a live proposal always has it.
  const amount = proposal.amount;
  const accepted =
    proposal.answers.claimant === true && proposal.answers.respondent === true && amount !== null;
  const resolved: SessionEvent = {
    type: "ProposalResolved",
    at: now,
    proposalId: proposal.proposalId,
    kind: proposal.kind,
    accepted,
  };
  if (!accepted) return [resolved];
  const source: DealSource = proposal.kind === "smart" ? "smart_proposal" : "mediator_proposal";
  return [resolved, ...dealEvents(state, { amount, source, bonusPercent: 0, bonusSide: null }, now)];
}
