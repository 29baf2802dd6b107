// Double-blind proposals: the smart proposal (requested by a side, consented to by the other, computed from
// both numbers) and the mediator's proposal. Each side answers privately; only "accepted or not" is announced.

import { gapTooWide, proposalAmount } from "../matching";
import type { CommandOf, Refused } from "./guards";
import { accept, asBidder, asMediator, refuse, utc } from "./guards";
import { currentNumbers, resolveProposal } from "./outcomes";
import { fold } from "./state";
import type { Context, Decision, SessionEvent, SessionState, Side } from "./types";

const PENDING_MESSAGE = "A proposal or a proposal request is already pending. Wait until it is settled.";

function inStep3(s: SessionState, message: string): Refused | null {
  return s.phase === "step3" ? null : refuse("WRONG_STEP", message);
}

function pending(s: SessionState): Refused | null {
  return s.request !== null || s.proposal !== null ? refuse("PROPOSAL_PENDING", PENDING_MESSAGE) : null;
}

/** Deadlines of proposals never run past the end of Step 3. */
function capped(s: SessionState, at: number): number {
  return s.step3ClosesAt === null ? at : Math.min(at, s.step3ClosesAt);
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** When the side may request a smart proposal again, or null when it may now (at most one in any 24 hours). */
export function nextProposalRequestAt(s: SessionState, side: Side, now: number): number | null {
  // Optional chaining: a state cached by an older version has no such field.
  const last = s.proposalRequestedAt?.[side];
  return last !== undefined && now < last + DAY_MS ? last + DAY_MS : null;
}

/**
 * RULES.md "Smart proposal": each side may request at most one in any 24 hours, so "too far apart" cannot be
 * used to probe. Every request counts, whatever became of it (declined, lapsed, too far apart, a proposal).
 */
function requestedRecently(s: SessionState, side: Side, now: number): Refused | null {
  const retryAt = nextProposalRequestAt(s, side, now);
  if (retryAt === null) return null;
  return refuse(
    "RATE_LIMITED",
    `Your side may request at most one smart proposal in any 24 hours. The next request is possible at ${utc(retryAt)}.`,
    retryAt,
  );
}

export function requestProposal(s: SessionState, c: CommandOf<"RequestProposal">, ctx: Context): Decision {
  const found = asBidder(
    s,
    c.actor,
    "request a smart proposal",
    "Only the sides can request a smart proposal; a mediator can put a mediator's proposal instead.",
  );
  if (!found.ok) return found;
  const denied =
    inStep3(s, "A smart proposal can be requested in Step 3, once Step 2 has closed without a deal.") ??
    pending(s) ??
    requestedRecently(s, found.side, ctx.now);
  if (denied) return denied;
  if (!currentNumbers(s)) {
    return refuse("NUMBERS_MISSING", "Both sides need a number before a smart proposal can be requested.");
  }
  return accept([
    {
      type: "ProposalRequested",
      at: ctx.now,
      requestId: c.requestId,
      side: found.side,
      by: c.actor,
      consentBy: capped(s, ctx.now + s.rules.proposalConsentMs),
    },
  ]);
}

/** The other side's answer to a request: only that side may consent or decline. */
function asConsenter(s: SessionState, actor: string, requestId: string) {
  const found = asBidder(
    s,
    actor,
    "answer a proposal request",
    "Only the sides answer a smart-proposal request.",
  );
  if (!found.ok) return found;
  if (!s.request || s.request.requestId !== requestId) {
    return refuse("NO_PROPOSAL", "This smart-proposal request is not pending any more.");
  }
  if (s.request.side === found.side) {
    return refuse("WRONG_SIDE", "Your side made this request; the other side decides whether to consent.");
  }
  return { ...found, request: s.request };
}

export function consentProposal(s: SessionState, c: CommandOf<"ConsentProposal">, ctx: Context): Decision {
  const found = asConsenter(s, c.actor, c.requestId);
  if (!found.ok) return found;
  const numbers = currentNumbers(s);
  // Bidding is paused while the request is pending, so both numbers still stand; this guards a broken log.
  if (!numbers || numbers.offer >= numbers.demand) {
    return refuse("NUMBERS_MISSING", "Both sides need a number before a smart proposal can be made.");
  }
  const { demand, offer } = numbers;
  // A one-cent gap leaves no amount strictly between the numbers: answered exactly like "too far apart".
  const amount = gapTooWide(demand, offer, s.rules.proposalMaxGapPercent)
    ? null
    : proposalAmount(demand, offer, ctx.random, s.rules.currency);
  if (amount === null) {
    return accept([
      { type: "ProposalTooFarApart", at: ctx.now, requestId: c.requestId, consentedBy: c.actor },
    ]);
  }
  return accept([
    {
      type: "SmartProposalMade",
      at: ctx.now,
      requestId: c.requestId,
      // One proposal per request, so the request's id names it.
      proposalId: c.requestId,
      amount,
      answerBy: capped(s, ctx.now + s.rules.proposalAnswerMs),
      consentedBy: c.actor,
    },
  ]);
}

export function declineProposal(s: SessionState, c: CommandOf<"DeclineProposal">, ctx: Context): Decision {
  const found = asConsenter(s, c.actor, c.requestId);
  if (!found.ok) return found;
  return accept([
    { type: "ProposalRequestDeclined", at: ctx.now, requestId: c.requestId, side: found.side, by: c.actor },
  ]);
}

export function putMediatorProposal(
  s: SessionState,
  c: CommandOf<"PutMediatorProposal">,
  ctx: Context,
): Decision {
  const found = asMediator(s, c.actor, "Only a mediator can put a mediator's proposal.");
  if (!found.ok) return found;
  const denied = inStep3(s, "A mediator's proposal can be put in Step 3.");
  if (denied) return denied;
  if (!(c.answerBy > ctx.now && s.step3ClosesAt !== null && c.answerBy <= s.step3ClosesAt)) {
    return refuse(
      "INVALID_DEADLINE",
      "The answer deadline must be in the future and no later than the end of Step 3.",
    );
  }
  const busy = pending(s);
  if (busy) return busy;
  return accept([
    {
      type: "MediatorProposalPut",
      at: ctx.now,
      proposalId: c.proposalId,
      by: c.actor,
      amount: c.amount,
      answerBy: c.answerBy,
    },
  ]);
}

/**
 * A side's private answer. The proposal is settled only when both sides have answered (or at its deadline),
 * so the moment of settlement never tells who rejected.
 */
export function answerProposal(s: SessionState, c: CommandOf<"AnswerProposal">, ctx: Context): Decision {
  const found = asBidder(s, c.actor, "answer a proposal", "Only the sides answer a proposal.");
  if (!found.ok) return found;
  const proposal = s.proposal;
  if (!proposal || proposal.proposalId !== c.proposalId) {
    return refuse("NO_PROPOSAL", "This proposal is not pending any more.");
  }
  if (proposal.answers[found.side] !== undefined) {
    return refuse("ALREADY_ANSWERED", "Your side has already answered this proposal.");
  }
  const answer: SessionEvent = {
    type: "ProposalAnswered",
    at: ctx.now,
    proposalId: c.proposalId,
    side: found.side,
    by: c.actor,
    accept: c.accept,
  };
  const after = fold(s, [answer]);
  const answered = after.proposal;
  if (!answered || answered.answers.claimant === undefined || answered.answers.respondent === undefined) {
    return accept([answer]);
  }
  return accept([answer, ...resolveProposal(after, answered, ctx.now)]);
}
