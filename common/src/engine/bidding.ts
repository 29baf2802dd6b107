// The confidential numbers: sealed in Step 2, compared at once in Step 3; and a side walking away.
// Refusal messages here never contain an amount: they can end up in logs and on other screens.

import { applyBonus, dealAmount, isMatch } from "../matching";
import type { CommandOf, Refused } from "./guards";
import { accept, asBidder, refuse, utc } from "./guards";
import { currentNumbers, dealEvents } from "./outcomes";
import { fold } from "./state";
import type { Context, Decision, SessionEvent, SessionState, Side } from "./types";
import { otherSide } from "./types";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Step 3 changes a side may still make now under the rolling 24-hour limit, and when the next one frees up. */
export function changesLeft(
  s: SessionState,
  side: Side,
  now: number,
): { left: number; nextChangeAt: number | null } {
  const max = s.rules.maxChangesPerDay;
  const inWindow = s.step3Changes[side].filter((t) => t > now - DAY_MS).sort((a, b) => a - b);
  const left = Math.max(0, max - inWindow.length);
  // The change that must leave the window before another fits in it.
  const blocking = inWindow[inWindow.length - max];
  return { left, nextChangeAt: left === 0 && blocking !== undefined ? blocking + DAY_MS : null };
}

/** When the side may change its number again, or null when it may now. */
export function nextChangeAllowedAt(s: SessionState, side: Side, now: number): number | null {
  return changesLeft(s, side, now).nextChangeAt;
}

/** A pending smart-proposal request or smart proposal pauses bidding; a mediator's proposal does not. */
export function biddingPaused(s: SessionState): boolean {
  return s.request !== null || s.proposal?.kind === "smart";
}

export function setNumber(s: SessionState, c: CommandOf<"SetNumber">, ctx: Context): Decision {
  const found = asBidder(
    s,
    c.actor,
    "enter a number",
    "A mediator never enters a number; only the sides do.",
  );
  if (!found.ok) return found;
  const { side } = found;
  if (s.phase !== "step2" && s.phase !== "step3")
    return refuse("WRONG_STEP", "Numbers can be entered once Step 2 opens.");
  if (s.phase === "step2") {
    // Sealed: nothing is compared before the Step 2 deadline, so any number of changes reveals nothing.
    return accept([{ type: "BidSet", at: ctx.now, by: c.actor, side, step: 2, amount: c.amount }]);
  }
  const blocked = step3Blocked(s, side, ctx.now);
  if (blocked) return blocked;
  const bid: SessionEvent = {
    type: "BidSet",
    at: ctx.now,
    by: c.actor,
    side,
    step: 3,
    amount: c.amount,
  };
  return accept([bid, ...compareNow(fold(s, [bid]), side, ctx)]);
}

function step3Blocked(s: SessionState, side: Side, now: number): Refused | null {
  if (biddingPaused(s)) {
    return refuse(
      "BIDDING_PAUSED",
      "Bidding is paused for both sides while a smart proposal is pending. It resumes once the proposal is settled.",
    );
  }
  const retryAt = nextChangeAllowedAt(s, side, now);
  if (retryAt !== null) {
    const max = s.rules.maxChangesPerDay;
    return refuse(
      "RATE_LIMITED",
      `Your side has changed its number ${max} time${max === 1 ? "" : "s"} in the last 24 hours, the most the rules allow. The next change is possible at ${utc(retryAt)}.`,
      retryAt,
    );
  }
  return null;
}

/**
 * Step 3: every change is compared at once. A match against the other side's standing number makes the deal,
 * moved by the early-number bonus in favour of the side whose number was standing.
 */
function compareNow(s: SessionState, mover: Side, ctx: Context): SessionEvent[] {
  const numbers = currentNumbers(s);
  if (!numbers || !isMatch(numbers.demand, numbers.offer)) return [];
  const standing = otherSide(mover);
  const bonusPercent = s.rules.step3BonusPercent;
  const drawn = dealAmount(numbers.demand, numbers.offer, ctx.random, s.rules.currency);
  const amount = applyBonus(drawn, bonusPercent, standing);
  return dealEvents(
    s,
    { amount, source: "step3", bonusPercent, bonusSide: bonusPercent > 0 ? standing : null },
    ctx.now,
  );
}

export function withdraw(s: SessionState, c: CommandOf<"Withdraw">, ctx: Context): Decision {
  const found = asBidder(
    s,
    c.actor,
    "withdraw your side",
    "A mediator cannot withdraw a side; only a member of that side can.",
  );
  if (!found.ok) return found;
  if (s.phase !== "step2" && s.phase !== "step3") {
    return refuse(
      "WRONG_STEP",
      "A side can withdraw once Step 2 opens. Before that, the session's creator can cancel it.",
    );
  }
  return accept([{ type: "SessionEnded", at: ctx.now, outcome: "withdrawn", side: found.side, by: c.actor }]);
}
