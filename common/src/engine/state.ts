// Folding events into state. evolve never decides anything: every rule lives in decide, so replaying a
// stored log rebuilds exactly the state the decisions saw. It never mutates its input: older states stay valid.

import type {
  EventOf,
  Knock,
  LedgerItemState,
  MediatorLocation,
  Message,
  SessionEvent,
  SessionState,
  Side,
} from "./types";

/** Applies one event. The log must start with SessionCreated; each event raises the version by one. */
export function evolve(state: SessionState | null, event: SessionEvent): SessionState {
  if (event.type === "SessionCreated") {
    if (state !== null) throw new Error("SessionCreated can only start a session's log");
    return created(event);
  }
  if (state === null) throw new Error("A session's log must start with SessionCreated");
  return stamped(state, apply(state, event), event);
}

/** `next`, one event after `before`: its version one higher, its time the event's unless that is earlier. */
function stamped(before: SessionState, next: SessionState, event: SessionEvent): SessionState {
  return { ...next, version: before.version + 1, updatedAt: Math.max(before.updatedAt, event.at) };
}

/** Rebuilds a session's state from its whole log. */
export function replay(events: readonly SessionEvent[]): SessionState {
  const state = fold(null, events);
  if (state === null) throw new Error("Cannot replay an empty log");
  return state;
}

/** Applies events in order to a state (or to nothing, when the first event creates the session). */
export function fold(state: SessionState, events: readonly SessionEvent[]): SessionState;
export function fold(state: SessionState | null, events: readonly SessionEvent[]): SessionState | null;
export function fold(state: SessionState | null, events: readonly SessionEvent[]): SessionState | null {
  const folding = new Folding(state);
  for (const event of events) folding.apply(event);
  return folding.state;
}

/**
 * `evolve`, one event at a time, for a replay: a message is appended to the list of messages this fold made itself,
 * in place, rather than to a copy (a copy per message made replaying a session of n messages cost n^2/2 copied
 * elements: 2.6 s of the event loop at 20,000). Every other event, and the first message, go through `evolve`. A
 * state read from `state` is the reader's: the next message copies the list again, so nothing read ever changes.
 */
export class Folding {
  private current: SessionState | null;
  /** the messages list of `current` that only this fold holds */
  private owned: Message[] | null = null;

  constructor(from: SessionState | null) {
    this.current = from;
  }

  apply(event: SessionEvent): void {
    const before = this.current;
    if (before !== null && event.type === "MessagePosted" && before.messages === this.owned) {
      this.owned.push(messageOf(event));
      this.current = stamped(before, before, event);
      return;
    }
    this.current = evolve(before, event);
    // A message's list is new and this fold's; any other event leaves the list where it was (still this fold's, if it
    // was: the state before it is dropped).
    if (event.type === "MessagePosted") this.owned = this.current.messages;
    else if (this.current.messages !== this.owned) this.owned = null;
  }

  get state(): SessionState | null {
    this.owned = null;
    return this.current;
  }
}

function messageOf(e: EventOf<"MessagePosted">): Message {
  return { messageId: e.messageId, room: e.room, by: e.by, text: e.text, at: e.at };
}

function created(event: EventOf<"SessionCreated">): SessionState {
  return {
    sessionId: event.sessionId,
    title: event.title,
    createdBy: event.createdBy,
    createdAt: event.at,
    updatedAt: event.at,
    rules: event.rules,
    startAt: event.startAt,
    version: 1,
    phase: "setup",
    outcome: null,
    members: {
      [event.createdBy]: {
        userId: event.createdBy,
        name: event.creatorName,
        role: event.creatorRole,
        canBid: event.creatorRole !== "mediator",
        joinedAt: event.at,
      },
    },
    invitations: {},
    terms: { version: 1, text: event.termsText, editedBy: null, approvals: {}, skipped: {}, closed: null },
    step2OpenedAt: null,
    step2ClosesAt: null,
    step3OpenedAt: null,
    step3ClosesAt: null,
    sessionEndsAt: null,
    numbers: {},
    step3Changes: { claimant: [], respondent: [] },
    proposalRequestedAt: {},
    remindersSent: {},
    request: null,
    proposal: null,
    deal: null,
    endedAt: null,
    jointRoomOpen: false,
    mediator: null,
    knocks: {},
    ledger: [],
    messages: [],
  };
}

type TermsEvent = EventOf<"SetupUpdated" | "TermsEdited" | "TermsApproved" | "TermsSkipped" | "Step1Closed">;

/**
 * Step 1's terms after one of the events that moves them: the one description of how approvals, skips and closing
 * change, for the engine's state and the client's view alike (view-apply.ts).
 */
export function nextTerms(terms: SessionState["terms"], e: TermsEvent): SessionState["terms"] {
  switch (e.type) {
    case "SetupUpdated":
      // Approvals and skips accepted the old rules and start: all are withdrawn, and Step 1 is open again.
      return e.approvalsWithdrawn ? { ...terms, approvals: {}, skipped: {}, closed: null } : terms;
    case "TermsEdited":
      // Approvals were for the old text; skips ("settle terms later") do not depend on the text.
      return { ...terms, version: e.version, text: e.text, editedBy: e.by, approvals: {} };
    case "TermsApproved":
      return {
        ...terms,
        approvals: { ...terms.approvals, [e.side]: e.version },
        skipped: without(terms.skipped, e.side),
      };
    case "TermsSkipped":
      return {
        ...terms,
        skipped: { ...terms.skipped, [e.side]: true },
        approvals: without(terms.approvals, e.side),
      };
    case "Step1Closed":
      return { ...terms, closed: e.how };
  }
}

function without<T extends object, K extends keyof T>(record: T, key: K): Omit<T, K> {
  const { [key]: _dropped, ...rest } = record;
  return rest;
}

export function initialLedgerState(
  item: Pick<EventOf<"LedgerItemRecorded">["item"], "kind">,
): LedgerItemState {
  // A bracket is first drafted with the mediator ("proposed"); a plain conveyed position is already conveyed.
  return item.kind === "bracket" ? "proposed" : "conveyed";
}

function apply(s: SessionState, e: Exclude<SessionEvent, { type: "SessionCreated" }>): SessionState {
  switch (e.type) {
    case "SetupUpdated":
      return {
        ...s,
        rules: e.rules,
        startAt: e.startAt,
        title: e.title,
        terms: nextTerms(s.terms, e),
      };
    case "InvitationIssued":
      return {
        ...s,
        invitations: {
          ...s.invitations,
          [e.invitationId]: {
            invitationId: e.invitationId,
            issuedBy: e.by,
            role: e.role,
            canBid: e.canBid,
            expiresAt: e.expiresAt,
            usedBy: null,
            revoked: false,
          },
        },
      };
    case "InvitationRevoked": {
      const invitation = s.invitations[e.invitationId];
      if (!invitation) return s;
      return { ...s, invitations: { ...s.invitations, [e.invitationId]: { ...invitation, revoked: true } } };
    }
    case "MemberJoined": {
      const invitation = s.invitations[e.invitationId];
      return {
        ...s,
        members: {
          ...s.members,
          [e.userId]: { userId: e.userId, name: e.name, role: e.role, canBid: e.canBid, joinedAt: e.at },
        },
        invitations: invitation
          ? { ...s.invitations, [e.invitationId]: { ...invitation, usedBy: e.userId } }
          : s.invitations,
      };
    }
    case "TermsEdited":
    case "TermsApproved":
    case "TermsSkipped":
    case "Step1Closed":
      return { ...s, terms: nextTerms(s.terms, e) };
    case "Step2Opened":
      return {
        ...s,
        phase: "step2",
        step2OpenedAt: e.at,
        step2ClosesAt: e.closesAt,
        sessionEndsAt: e.sessionEndsAt,
      };
    case "BidSet":
      return {
        ...s,
        numbers: { ...s.numbers, [e.side]: { amount: e.amount, setAt: e.at, setBy: e.by } },
        step3Changes: e.step === 3 ? recordChange(s, e.side, e.at) : s.step3Changes,
      };
    case "Step2Closed":
      // The phase moves with the Step3Opened or SessionEnded that always follows.
      return s;
    case "Step3Opened":
      return { ...s, phase: "step3", step3OpenedAt: e.at, step3ClosesAt: e.closesAt };
    case "ReminderDue":
      return { ...s, remindersSent: { ...s.remindersSent, [`${e.side}:${e.reminder}`]: true } };
    case "ProposalRequested":
      return {
        ...s,
        request: { requestId: e.requestId, side: e.side, consentBy: e.consentBy },
        proposalRequestedAt: { ...s.proposalRequestedAt, [e.side]: e.at },
      };
    case "ProposalRequestDeclined":
    case "ProposalRequestLapsed":
    case "ProposalTooFarApart":
      return { ...s, request: null };
    case "SmartProposalMade":
      return {
        ...s,
        request: null,
        proposal: {
          proposalId: e.proposalId,
          kind: "smart",
          amount: e.amount,
          answerBy: e.answerBy,
          answers: {},
        },
      };
    case "MediatorProposalPut":
      return {
        ...s,
        proposal: {
          proposalId: e.proposalId,
          kind: "mediator",
          amount: e.amount,
          answerBy: e.answerBy,
          answers: {},
        },
      };
    case "ProposalAnswered":
      if (!s.proposal || s.proposal.proposalId !== e.proposalId) return s;
      return { ...s, proposal: { ...s.proposal, answers: { ...s.proposal.answers, [e.side]: e.accept } } };
    case "ProposalResolved":
      return { ...s, proposal: null };
    case "DealMade":
      return {
        ...s,
        deal: {
          amount: e.amount,
          source: e.source,
          at: e.at,
          bonusPercent: e.bonusPercent,
          bonusSide: e.bonusSide,
          termsVersion: e.termsVersion,
        },
      };
    case "SessionEnded":
      // Whatever was pending dies with the session: a deal by a bid supersedes a mediator's proposal.
      return {
        ...s,
        phase: "ended",
        outcome: e.outcome,
        endedAt: e.at,
        request: null,
        proposal: null,
        knocks: {},
      };
    case "MediatorLocationSet":
      return {
        ...s,
        mediator: { location: e.location, until: e.until, note: e.note, since: e.at },
        knocks: knocksAnswered(s.knocks, e.location),
      };
    case "MediatorRequested":
      return { ...s, knocks: { ...s.knocks, [e.side]: { at: e.at, by: e.by } } };
    case "JointRoomOpened":
      return { ...s, jointRoomOpen: true };
    case "JointRoomClosed":
      return { ...s, jointRoomOpen: false };
    case "MessagePosted":
      return {
        ...s,
        messages: [...s.messages, messageOf(e)],
      };
    case "LedgerItemRecorded":
      return {
        ...s,
        ledger: [
          ...s.ledger,
          {
            itemId: e.itemId,
            recordedAt: e.at,
            recordedBy: e.by,
            item: e.item,
            note: e.note,
            counters: e.counters,
            state: initialLedgerState(e.item),
            shared: e.item.kind === "conveyed",
          },
        ],
      };
    case "LedgerItemUpdated":
      return {
        ...s,
        ledger: s.ledger.map((item) =>
          item.itemId === e.itemId ? { ...item, state: e.state, shared: e.shared } : item,
        ),
      };
    default:
      // An event type this version does not know (a newer writer): it still counts towards the version.
      return s;
  }
}

/**
 * Only the latest maxChangesPerDay change times can matter for "at most N changes in any 24 hours",
 * so older ones are dropped and the list stays bounded however long Step 3 runs.
 */
function recordChange(s: SessionState, side: Side, at: number): Record<Side, number[]> {
  return { ...s.step3Changes, [side]: [...s.step3Changes[side], at].slice(-s.rules.maxChangesPerDay) };
}

/** A knock is answered when the mediator goes to the side that knocked. */
export function knocksAnswered(
  knocks: Partial<Record<Side, Knock>>,
  location: MediatorLocation,
): Partial<Record<Side, Knock>> {
  const side: Side | null =
    location === "with_claimant" ? "claimant" : location === "with_respondent" ? "respondent" : null;
  if (side === null || !knocks[side]) return knocks;
  const { [side]: _answered, ...rest } = knocks;
  return rest;
}
