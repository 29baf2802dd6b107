// Step 1: the versioned non-monetary terms. Closes when both sides approved the same version or both chose
// to settle the terms later.

import type { CommandOf, Refused } from "./guards";
import { accept, asBidder, asMember, refuse } from "./guards";
import { fold } from "./state";
import type { Context, Decision, SessionEvent, SessionState } from "./types";

const MEDIATOR_APPROVES =
  "A mediator may draft and edit the terms, but only the sides approve them or skip Step 1.";

function step1Open(s: SessionState): Refused | null {
  if (s.phase !== "setup" || s.terms.closed !== null) {
    return refuse(
      "TERMS_CLOSED",
      "Step 1 has closed, so the terms can no longer be changed or approved here.",
    );
  }
  return null;
}

function stale(s: SessionState): Refused {
  return refuse(
    "TERMS_VERSION_STALE",
    `The terms have changed since you read them (they are now at version ${s.terms.version}). Read the current version and try again.`,
  );
}

export function editTerms(s: SessionState, c: CommandOf<"EditTerms">, ctx: Context): Decision {
  const found = asMember(s, c.actor);
  if (!found.ok) return found;
  const closed = step1Open(s);
  if (closed) return closed;
  if (c.baseVersion !== s.terms.version) return stale(s);
  if (c.text === s.terms.text)
    return refuse("INVALID_INPUT", "The text is unchanged, so there is nothing to save.");
  return accept([
    { type: "TermsEdited", at: ctx.now, by: c.actor, version: s.terms.version + 1, text: c.text },
  ]);
}

export function approveTerms(s: SessionState, c: CommandOf<"ApproveTerms">, ctx: Context): Decision {
  const found = asBidder(s, c.actor, "approve the terms for your side", MEDIATOR_APPROVES);
  if (!found.ok) return found;
  const closed = step1Open(s);
  if (closed) return closed;
  if (c.version !== s.terms.version) return stale(s);
  if (s.terms.approvals[found.side] === c.version) {
    return refuse("INVALID_INPUT", "Your side has already approved this version of the terms.");
  }
  return withClosure(s, {
    type: "TermsApproved",
    at: ctx.now,
    by: c.actor,
    side: found.side,
    version: c.version,
  });
}

export function skipTerms(s: SessionState, c: CommandOf<"SkipTerms">, ctx: Context): Decision {
  const found = asBidder(s, c.actor, "skip Step 1 for your side", MEDIATOR_APPROVES);
  if (!found.ok) return found;
  const closed = step1Open(s);
  if (closed) return closed;
  if (s.terms.skipped[found.side]) {
    return refuse("INVALID_INPUT", "Your side has already chosen to settle the terms later.");
  }
  return withClosure(s, { type: "TermsSkipped", at: ctx.now, by: c.actor, side: found.side });
}

/** The side's choice, followed by Step1Closed when it completes the agreement of both sides. */
function withClosure(s: SessionState, choice: SessionEvent): Decision {
  const after = fold(s, [choice]);
  const { approvals, skipped } = after.terms;
  if (approvals.claimant !== undefined && approvals.claimant === approvals.respondent) {
    return accept([
      choice,
      { type: "Step1Closed", at: choice.at, how: "approved", termsVersion: approvals.claimant },
    ]);
  }
  if (skipped.claimant && skipped.respondent) {
    return accept([
      choice,
      { type: "Step1Closed", at: choice.at, how: "skipped", termsVersion: after.terms.version },
    ]);
  }
  return accept([choice]);
}
