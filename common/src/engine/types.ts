// The negotiation engine's vocabulary: commands in, events out, state folded from events.
// Everything here is plain JSON data, so events can be stored, hashed and replayed.

import type { Refusal } from "../errors";
import type { Cents } from "../money";
import type { Random } from "../random";
import type { SessionRules } from "../rules";
import type { SessionEvent } from "./events";

export type Side = "claimant" | "respondent";
export type Role = Side | "mediator";
export const SIDES = ["claimant", "respondent"] as const satisfies readonly Side[];

export function otherSide(side: Side): Side {
  return side === "claimant" ? "respondent" : "claimant";
}

export type Phase = "setup" | "step2" | "step3" | "ended";
export type Outcome = "deal" | "expired" | "withdrawn" | "cancelled";
export type DealSource = "step2" | "step3" | "smart_proposal" | "mediator_proposal";

/** Where the mediator is, as the parties see it. "with_claimant" shows as "with you" to the claimant. */
export const MEDIATOR_LOCATIONS = [
  "joint",
  "with_claimant",
  "with_respondent",
  "private",
  "break",
  "away",
] as const;
export type MediatorLocation = (typeof MEDIATOR_LOCATIONS)[number];

/** Rooms of the mediation day. The server derives every audience from the room; clients never name audiences. */
export const ROOM_IDS = [
  "joint",
  "caucus:claimant",
  "caucus:respondent",
  "side:claimant",
  "side:respondent",
] as const;
export type RoomId = (typeof ROOM_IDS)[number];

export const LEDGER_ITEM_STATES = [
  "proposed",
  "conveyed",
  "accepted",
  "rejected",
  "countered",
  "withdrawn",
] as const;
export type LedgerItemState = (typeof LEDGER_ITEM_STATES)[number];

// ---------------------------------------------------------------- context

export interface Context {
  /** epoch milliseconds; the engine never reads a clock */
  now: number;
  /** caller-supplied randomness (secure in production, seeded in tests) */
  random: Random;
}

// ---------------------------------------------------------------- commands
// One zod schema per command, in ./commands.ts; the types are derived from those schemas.

export type { Command, CommandInput, CommandType } from "./commands";

// ---------------------------------------------------------------- events
// One zod schema per event type, in ./events.ts; SessionEvent is derived from them.

export type { SessionEvent } from "./events";

export type EventType = SessionEvent["type"];
export type EventOf<T extends EventType> = Extract<SessionEvent, { type: T }>;

/** Fields of an event that hold a confidential number: encrypted at rest, never in a digest in plaintext. */
export const SEALED_FIELDS: Readonly<Partial<Record<EventType, readonly string[]>>> = {
  BidSet: ["amount"],
  SmartProposalMade: ["amount"],
};

export function sealedFields(type: string): readonly string[] {
  return SEALED_FIELDS[type as EventType] ?? [];
}

// ---------------------------------------------------------------- state

export interface Member {
  userId: string;
  name: string;
  role: Role;
  canBid: boolean;
  joinedAt: number;
}

export interface Invitation {
  invitationId: string;
  /** who issued it: an invitation to a side that has members is valid only from one of them */
  issuedBy: string;
  role: Role;
  canBid: boolean;
  expiresAt: number;
  usedBy: string | null;
  revoked: boolean;
}

export interface SideNumber {
  /** null when shredded (key destroyed) */
  amount: Cents | null;
  setAt: number;
  setBy: string;
}

export interface PendingRequest {
  requestId: string;
  side: Side;
  consentBy: number;
}

export interface PendingProposal {
  proposalId: string;
  kind: "smart" | "mediator";
  /** smart proposals: confidential from the mediator */
  amount: Cents | null;
  answerBy: number;
  answers: Partial<Record<Side, boolean>>;
}

export interface LedgerItem {
  itemId: string;
  recordedAt: number;
  recordedBy: string;
  item: EventOf<"LedgerItemRecorded">["item"];
  note: string | null;
  counters: string | null;
  state: LedgerItemState;
  /** conveyed to the other side at some point; until then only its own side and the mediators see it */
  shared: boolean;
}

export interface Message {
  messageId: string;
  room: RoomId;
  by: string;
  text: string;
  at: number;
}

export interface SessionState {
  sessionId: string;
  title: string;
  createdBy: string;
  createdAt: number;
  /** time of the latest event: the session's clock never reads earlier than this */
  updatedAt: number;
  rules: SessionRules;
  startAt: number;
  /** number of events applied = the session's version */
  version: number;
  phase: Phase;
  outcome: Outcome | null;
  members: Record<string, Member>;
  invitations: Record<string, Invitation>;
  terms: {
    version: number;
    text: string;
    editedBy: string | null;
    /** the version each side approved, if any; cleared by any edit */
    approvals: Partial<Record<Side, number>>;
    skipped: Partial<Record<Side, boolean>>;
    closed: "approved" | "skipped" | null;
  };
  step2OpenedAt: number | null;
  step2ClosesAt: number | null;
  step3OpenedAt: number | null;
  step3ClosesAt: number | null;
  /** step2OpenedAt + rules.maxSessionMs: Step 3 never runs past it */
  sessionEndsAt: number | null;
  numbers: Partial<Record<Side, SideNumber>>;
  /** times of each side's Step 3 changes, for the rolling 24-hour rate limit */
  step3Changes: Record<Side, number[]>;
  /** when each side last requested a smart proposal, for the one-request-in-any-24-hours limit */
  proposalRequestedAt: Partial<Record<Side, number>>;
  /** reminders already sent, by "<side>:<index>" */
  remindersSent: Record<string, true>;
  request: PendingRequest | null;
  proposal: PendingProposal | null;
  deal: {
    amount: Cents;
    source: DealSource;
    at: number;
    bonusPercent: number;
    bonusSide: Side | null;
    termsVersion: number | null;
  } | null;
  endedAt: number | null;
  jointRoomOpen: boolean;
  mediator: { location: MediatorLocation; until: number | null; note: string | null; since: number } | null;
  /** a side's latest request for the mediator, until the mediator goes to that side (or the session ends) */
  knocks: Partial<Record<Side, Knock>>;
  ledger: LedgerItem[];
  messages: Message[];
}

export interface Knock {
  at: number;
  by: string;
}

export type DeadlineKind =
  | "step2-open"
  | "step2-close"
  | "step3-close"
  | "reminder"
  | "request-lapse"
  | "proposal-expiry";

export interface Deadline {
  /** unique within the session and stable while the deadline stands, e.g. "step2-close" */
  key: string;
  kind: DeadlineKind;
  at: number;
  /** reminders only: the side reminded and the reminder's index in reminderOffsetsMs */
  side?: Side;
  reminder?: number;
}

/** A refusal may say when the same command could next succeed (RATE_LIMITED), so a client can count down. */
export type Decision = { ok: true; events: SessionEvent[] } | ({ ok: false; retryAt?: number } & Refusal);
