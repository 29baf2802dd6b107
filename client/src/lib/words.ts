// The session's vocabulary in plain words: sides, roles, phases, where the mediator is, outcomes.
import type {
  DealSource,
  LedgerItemState,
  MediatorLocation,
  Outcome,
  Role,
  RoomId,
  SessionView,
  Side,
} from "@backchannel/common";

export function sideName(side: Side): string {
  return side === "claimant" ? "Claimant" : "Respondent";
}

export function otherSideOf(side: Side): Side {
  return side === "claimant" ? "respondent" : "claimant";
}

export function roleName(role: Role): string {
  return role === "mediator" ? "Mediator" : sideName(role);
}

/** What a person is in this session: "Claimant side (can enter the number)", "Mediator". */
export function roleDescription(role: Role, canBid: boolean): string {
  if (role === "mediator") return "Mediator (neutral: never sees either side's number)";
  return `${sideName(role)} side (${canBid ? "can enter and change your side's number" : "view only"})`;
}

/** What a side's confidential number is called. */
export function numberName(side: Side): string {
  return side === "claimant" ? "demand" : "offer";
}

export function numberMeaning(side: Side): string {
  return side === "claimant"
    ? "Your demand: the least your side will accept."
    : "Your offer: the most your side will pay.";
}

export interface PhaseHeadline {
  /** "Step 2 — sealed numbers" */
  title: string;
  /** what is happening, in one sentence */
  detail: string;
}

export function phaseHeadline(view: SessionView): PhaseHeadline {
  switch (view.phase) {
    case "setup":
      return view.terms.closed === null
        ? {
            title: "Step 1 — terms",
            detail: "The sides agree the non-money terms, or choose to settle them later. No numbers yet.",
          }
        : {
            title: "Step 1 done — waiting for Step 2",
            detail: "Step 2 (sealed numbers) opens when both sides have joined and the start time comes.",
          };
    case "step2":
      return {
        title: "Step 2 — sealed numbers",
        detail: "Each side enters its number. Nothing is compared until the deadline.",
      };
    case "step3":
      return {
        title: "Step 3 — live bidding",
        detail: "Every change is compared at once. A match makes a deal immediately.",
      };
    case "ended":
      return { title: outcomeTitle(view.outcome), detail: "The session has ended." };
  }
}

export function outcomeTitle(outcome: Outcome | null): string {
  switch (outcome) {
    case "deal":
      return "Settled — a deal was made";
    case "expired":
      return "Ended — time ran out with no deal";
    case "withdrawn":
      return "Ended — a side withdrew, no deal";
    case "cancelled":
      return "Cancelled before Step 2";
    default:
      return "Ended";
  }
}

/** SessionEnded in a sentence; `side` is who withdrew, when a side did. */
export function outcomeSentence(outcome: Outcome, side: Side | null): string {
  switch (outcome) {
    case "deal":
      return "The session ended with a deal.";
    case "expired":
      return "The session ended: the time ran out with no deal. The confidential numbers have been destroyed.";
    case "withdrawn":
      return `The session ended: ${side ? `the ${side} side` : "a side"} withdrew. No deal. The confidential numbers have been destroyed.`;
    case "cancelled":
      return "The session was cancelled before Step 2 opened.";
  }
}

export function dealSourceWords(source: DealSource): string {
  switch (source) {
    case "step2":
      return "at the Step 2 deadline (sealed numbers)";
    case "step3":
      return "in live bidding (Step 3)";
    case "smart_proposal":
      return "by both sides accepting the smart proposal";
    case "mediator_proposal":
      return "by both sides accepting the mediator's proposal";
  }
}

/** The phase as a short label for lists: "Step 2", "Ended". */
export function phaseShort(phase: SessionView["phase"]): string {
  switch (phase) {
    case "setup":
      return "Step 1 — terms";
    case "step2":
      return "Step 2 — sealed numbers";
    case "step3":
      return "Step 3 — live bidding";
    case "ended":
      return "Ended";
  }
}

/**
 * Where the mediator is, from the viewer's seat: "with you", "with the other side", "reviewing privately",
 * "in joint session", "on a break until 2:30 PM". Parties never learn more than this.
 */
export function locationPhrase(
  location: MediatorLocation,
  viewerSide: Side | null,
  until: string | null = null,
): string {
  const time = until ? ` until ${until}` : "";
  switch (location) {
    case "joint":
      return `in joint session${time}`;
    case "with_claimant":
    case "with_respondent": {
      const side: Side = location === "with_claimant" ? "claimant" : "respondent";
      if (viewerSide === null) return `with the ${side} side${time}`;
      return `${side === viewerSide ? "with you" : "with the other side"}${time}`;
    }
    case "private":
      return `reviewing privately${time}`;
    case "break":
      return `on a break${time}`;
    case "away":
      return `away${time}`;
  }
}

export const LOCATION_CHOICES: ReadonlyArray<{ value: MediatorLocation; label: string }> = [
  { value: "joint", label: "In joint session" },
  { value: "with_claimant", label: "With the claimant side" },
  { value: "with_respondent", label: "With the respondent side" },
  { value: "private", label: "Reviewing privately" },
  { value: "break", label: "On a break" },
  { value: "away", label: "Away" },
];

export function ledgerStateWords(state: LedgerItemState): string {
  switch (state) {
    case "proposed":
      return "drafted with the mediator, not yet conveyed";
    case "conveyed":
      return "conveyed";
    case "accepted":
      return "accepted";
    case "rejected":
      return "rejected";
    case "countered":
      return "countered";
    case "withdrawn":
      return "withdrawn";
  }
}

export function ledgerActionLabel(state: LedgerItemState): string {
  switch (state) {
    case "conveyed":
      return "Mark conveyed";
    case "accepted":
      return "Mark accepted";
    case "rejected":
      return "Mark rejected";
    case "countered":
      return "Mark countered";
    case "withdrawn":
      return "Mark withdrawn";
    case "proposed":
      return "Mark proposed";
  }
}

export function roomName(room: RoomId, viewerSide: Side | null): string {
  switch (room) {
    case "joint":
      return "Joint room";
    case "caucus:claimant":
    case "caucus:respondent": {
      const side: Side = room === "caucus:claimant" ? "claimant" : "respondent";
      return viewerSide === side ? "Private with the mediator" : `${sideName(side)} caucus`;
    }
    case "side:claimant":
    case "side:respondent":
      return "Your side only";
  }
}

/** "Ann, Bob and Carol" */
export function listNames(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return names[0]!;
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/**
 * Who will read a message posted in a room, said before it is sent. `names(role)` lists that role's members
 * (the viewer excluded).
 */
export function roomAudienceSentence(
  room: RoomId,
  viewerSide: Side | null,
  names: (role: Role) => string[],
): string {
  const people = (role: Role, fallback: string) => {
    const list = names(role);
    return list.length > 0 ? `${fallback} (${listNames(list)})` : fallback;
  };
  switch (room) {
    case "joint": {
      const others: string[] = [];
      for (const side of ["claimant", "respondent"] as const) {
        if (side !== viewerSide) others.push(people(side, `the ${side} side`));
        else if (names(side).length > 0) others.push(`the rest of your side (${listNames(names(side))})`);
      }
      if (viewerSide !== null) others.push(people("mediator", "the mediator"));
      else if (names("mediator").length > 0)
        others.push(`the other mediators (${listNames(names("mediator"))})`);
      return `Who will see this: everyone in the session — you, ${listNames(others)}.`;
    }
    case "caucus:claimant":
    case "caucus:respondent": {
      const side: Side = room === "caucus:claimant" ? "claimant" : "respondent";
      if (viewerSide === side) {
        const team =
          names(side).length > 0 ? `you, the rest of your side (${listNames(names(side))})` : "you";
        return `Who will see this: ${team} and ${people("mediator", "the mediator")}. The ${otherSideOf(side)} side will not see it.`;
      }
      return `Who will see this: ${people(side, `the ${side} side`)} and the mediators. The ${otherSideOf(side)} side will not see it.`;
    }
    case "side:claimant":
    case "side:respondent": {
      const side: Side = room === "side:claimant" ? "claimant" : "respondent";
      const team =
        names(side).length > 0
          ? `you and the rest of your side (${listNames(names(side))})`
          : "only you, until others join your side";
      return `Who will see this: ${team}. The mediator and the other side will not see it.`;
    }
  }
}
