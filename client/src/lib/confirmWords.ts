// What the confirm dialog says before each binding act, in plain words. Pure: built only from what the viewer
// knows (its own number, never the other side's), so it can be tested and can never reveal more than the page.
import type { Side } from "@backchannel/common";
import { numberName, otherSideOf } from "./words";

export interface ConfirmWords {
  title: string;
  /** sentences, the first the most important */
  body: string[];
  confirmLabel: string;
  cancelLabel: string;
  tone: "primary" | "danger";
}

export interface SetNumberFacts {
  side: Side;
  phase: "step2" | "step3";
  /** the amount as typed, formatted ("$190,000.00") */
  amount: string;
  /** the viewer's side already has a number (a change, not a first entry) */
  hasNumber: boolean;
  /** whether the other side has entered a number (the viewer is told that, never the number) */
  otherEntered: boolean;
  /** the Step 2 deadline, formatted; null when unknown */
  step2ClosesAt: string | null;
  /** Step 3: changes left in the next 24 hours, this one included */
  changesLeft: number | null;
  bonusPercent: number;
}

/** "If the respondent's standing offer is at or above $190,000.00, a deal is made at once at a point between the two." */
export function matchSentence(side: Side, amount: string, when: "at once" | "at the deadline"): string {
  const other = otherSideOf(side);
  const theirs = numberName(other);
  const bound = side === "claimant" ? "at or above" : "at or below";
  return `If the ${other}'s ${when === "at once" ? "standing " : ""}${theirs} is ${bound} ${amount}, a deal is made ${when} at a point between the two.`;
}

export function setNumberWords(f: SetNumberFacts): ConfirmWords {
  const name = numberName(f.side);
  const verb = f.hasNumber ? "Change" : "Enter";
  const body: string[] = [];
  if (f.phase === "step3") {
    if (f.otherEntered) body.push(matchSentence(f.side, f.amount, "at once"));
    else
      body.push(
        `The ${otherSideOf(f.side)} has not entered a number yet. When they do, if it is ${f.side === "claimant" ? "at or above" : "at or below"} ${f.amount}, a deal is made at once at a point between the two.`,
      );
    body.push("A deal binds both sides and ends the session; it cannot be undone.");
    if (f.changesLeft !== null)
      body.push(
        `This uses one of your side's ${f.changesLeft} change${f.changesLeft === 1 ? "" : "s"} left in the next 24 hours.`,
      );
    if (f.bonusPercent > 0)
      body.push(
        `If this change makes the deal, the early-number bonus moves the amount ${f.bonusPercent}% in the other side's favour.`,
      );
  } else {
    body.push(
      `Your side's ${name} becomes ${f.amount}. Nothing is compared before the Step 2 deadline${f.step2ClosesAt ? ` (${f.step2ClosesAt})` : ""}.`,
    );
    body.push(
      `${matchSentence(f.side, f.amount, "at the deadline")} You can change your number as often as you like until then.`,
    );
  }
  body.push(`Only your side sees ${f.amount}: the other side and the mediator never do.`);
  return {
    title: `${verb} your side's ${name} to ${f.amount}?`,
    body,
    confirmLabel: `${verb} ${name} to ${f.amount}`,
    cancelLabel: "Go back and check",
    tone: "primary",
  };
}

export function answerProposalWords(
  kind: "smart" | "mediator",
  amount: string,
  accept: boolean,
): ConfirmWords {
  const what = kind === "smart" ? "the smart proposal" : "the mediator's proposal";
  if (accept) {
    return {
      title: `Accept ${what} of ${amount}?`,
      body: [
        `If the other side accepts too, a deal is made at ${amount} and the session ends. A deal binds both sides.`,
        "You cannot change your answer once it is given. Nobody learns how your side answered, only the result.",
      ],
      confirmLabel: `Accept ${amount}`,
      cancelLabel: "Not yet",
      tone: "primary",
    };
  }
  return {
    title: `Reject ${what} of ${amount}?`,
    body: [
      `There will be no deal at ${amount}. Everyone is told only that the proposal was not accepted, never who said no.`,
      "You cannot change your answer once it is given. Your own number stays as it is.",
    ],
    confirmLabel: `Reject ${amount}`,
    cancelLabel: "Not yet",
    tone: "danger",
  };
}

export function approveTermsWords(version: number, otherSide: Side, otherApproved: boolean): ConfirmWords {
  return {
    title: `Approve terms version ${version}?`,
    body: [
      otherApproved
        ? `The ${otherSide} side has approved this version: your approval closes Step 1 with these terms.`
        : `Your side approves the terms as shown (version ${version}). When the ${otherSide} side approves the same version, Step 1 closes with these terms.`,
      "Approving also accepts this session's rules and start time. A new version of the terms withdraws every approval.",
    ],
    confirmLabel: `Approve version ${version}`,
    cancelLabel: "Not yet",
    tone: "primary",
  };
}

export function mediatorProposalWords(amount: string, answerBy: string, window: string): ConfirmWords {
  return {
    title: `Put ${amount} to both sides?`,
    body: [
      `Both sides are asked to accept or reject ${amount} privately within ${window} (by about ${answerBy}). If both accept, a deal is made at ${amount} and the session ends.`,
      "Once put, the proposal cannot be changed or taken back. You will learn only whether it was accepted, never who said no.",
    ],
    confirmLabel: `Put ${amount} to both sides`,
    cancelLabel: "Go back",
    tone: "primary",
  };
}

export function withdrawWords(): ConfirmWords {
  return {
    title: "Withdraw from the negotiation?",
    body: [
      "Withdrawing ends the session for everyone with no deal, and both numbers are destroyed.",
      "This cannot be undone.",
    ],
    confirmLabel: "Yes, withdraw",
    cancelLabel: "Keep negotiating",
    tone: "danger",
  };
}
