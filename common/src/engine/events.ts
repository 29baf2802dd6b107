// Every event the engine produces, as one schema per type; SessionEvent is derived from them. The wire forms of
// these events (what a viewer is shown, what a room push carries) are built from the same schemas in ../events.ts.
// Every event carries `at` (epoch ms). Amounts in BidSet and SmartProposalMade are confidential: see SEALED_FIELDS.
// When a session ended without a deal its key is destroyed and those amounts read back as null.

import { z } from "zod";
import type { SessionRules } from "../rules";
import {
  ledgerItemStateSchema,
  mediatorLocationSchema,
  roleSchema,
  roomSchema,
  sideSchema,
} from "./commands";
import type { DealSource, Outcome } from "./types";

const time = z.number();
/** minor units of the session's currency */
const cents = z.number();
const text = z.string();

export const outcomeSchema = z.enum(["deal", "expired", "withdrawn", "cancelled"]);
export const dealSourceSchema = z.enum(["step2", "step3", "smart_proposal", "mediator_proposal"]);

/** A session's rules as events carry them (resolved; their bounds are checked when they are set, not here). */
export const sessionRulesSchema = z.strictObject({
  currency: z.string(),
  step2DurationMs: z.number(),
  step3DurationMs: z.number(),
  maxSessionMs: z.number(),
  maxChangesPerDay: z.number(),
  step3BonusPercent: z.number(),
  proposalMaxGapPercent: z.number(),
  proposalConsentMs: z.number(),
  proposalAnswerMs: z.number(),
});

export const ledgerEntrySchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("conveyed"), from: sideSchema, amount: cents }),
  z.strictObject({ kind: z.literal("bracket"), from: sideSchema, ourAmount: cents, theirAmount: cents }),
]);

function event<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), at: time, ...shape });
}

export const EVENT_SCHEMAS = {
  SessionCreated: event("SessionCreated", {
    sessionId: text,
    title: text,
    createdBy: text,
    creatorName: text,
    creatorRole: roleSchema,
    rules: sessionRulesSchema,
    startAt: time,
    termsText: text,
  }),
  /**
   * The rules, start and title after the change. `approvalsWithdrawn`: the rules or the start time changed while a
   * side had approved or skipped in Step 1, so every approval and skip was withdrawn and Step 1 is open again
   * (a side's approval or skip accepts the rules and start as they stood). Absent in logs written before the
   * field existed, which means false. A title-only change never withdraws anything.
   */
  SetupUpdated: event("SetupUpdated", {
    by: text,
    rules: sessionRulesSchema,
    startAt: time,
    title: text,
    approvalsWithdrawn: z.boolean().optional(),
  }),
  InvitationIssued: event("InvitationIssued", {
    by: text,
    invitationId: text,
    role: roleSchema,
    canBid: z.boolean(),
    expiresAt: time,
  }),
  InvitationRevoked: event("InvitationRevoked", { by: text, invitationId: text }),
  MemberJoined: event("MemberJoined", {
    userId: text,
    name: text,
    role: roleSchema,
    canBid: z.boolean(),
    invitationId: text,
  }),
  TermsEdited: event("TermsEdited", { by: text, version: z.number(), text }),
  TermsApproved: event("TermsApproved", { by: text, side: sideSchema, version: z.number() }),
  TermsSkipped: event("TermsSkipped", { by: text, side: sideSchema }),
  /** Step 1 closed. A later SetupUpdated with approvalsWithdrawn reopens it; it closes again with a new Step1Closed. */
  Step1Closed: event("Step1Closed", { how: z.enum(["approved", "skipped"]), termsVersion: z.number() }),
  Step2Opened: event("Step2Opened", { closesAt: time, sessionEndsAt: time }),
  /** Confidential: `amount` is sealed at rest and shown only to `side`. null = shredded. */
  BidSet: event("BidSet", {
    by: text,
    side: sideSchema,
    step: z.union([z.literal(2), z.literal(3)]),
    amount: cents.nullable(),
  }),
  Step2Closed: event("Step2Closed", { deal: z.boolean() }),
  Step3Opened: event("Step3Opened", { closesAt: time }),
  ReminderDue: event("ReminderDue", { side: sideSchema, closesAt: time, reminder: z.number() }),
  ProposalRequested: event("ProposalRequested", {
    requestId: text,
    side: sideSchema,
    by: text,
    consentBy: time,
  }),
  ProposalRequestDeclined: event("ProposalRequestDeclined", { requestId: text, side: sideSchema, by: text }),
  ProposalRequestLapsed: event("ProposalRequestLapsed", { requestId: text }),
  /** `consentedBy`: the member of the other side whose consent led to this answer. */
  ProposalTooFarApart: event("ProposalTooFarApart", { requestId: text, consentedBy: text }),
  /** Confidential from the mediator: `amount` hints at both numbers. Sealed at rest. null = shredded. */
  SmartProposalMade: event("SmartProposalMade", {
    requestId: text,
    proposalId: text,
    amount: cents.nullable(),
    answerBy: time,
    consentedBy: text,
  }),
  MediatorProposalPut: event("MediatorProposalPut", {
    proposalId: text,
    by: text,
    amount: cents,
    answerBy: time,
  }),
  /** Private to `side`: only that side ever sees `accept`; others see only that the side answered. */
  ProposalAnswered: event("ProposalAnswered", {
    proposalId: text,
    side: sideSchema,
    by: text,
    accept: z.boolean(),
  }),
  /** Nobody learns who rejected; only whether it was accepted. */
  ProposalResolved: event("ProposalResolved", {
    proposalId: text,
    kind: z.enum(["smart", "mediator"]),
    accepted: z.boolean(),
  }),
  DealMade: event("DealMade", {
    amount: cents,
    source: dealSourceSchema,
    bonusPercent: z.number(),
    /** the side whose standing number earned the Step 3 bonus; null when no bonus applied */
    bonusSide: sideSchema.nullable(),
    termsVersion: z.number().nullable(),
  }),
  SessionEnded: event("SessionEnded", {
    outcome: outcomeSchema,
    side: sideSchema.nullable(),
    by: text.nullable(),
  }),
  MediatorLocationSet: event("MediatorLocationSet", {
    by: text,
    location: mediatorLocationSchema,
    until: time.nullable(),
    note: text.nullable(),
  }),
  MediatorRequested: event("MediatorRequested", { side: sideSchema, by: text }),
  JointRoomOpened: event("JointRoomOpened", { by: text }),
  JointRoomClosed: event("JointRoomClosed", { by: text }),
  MessagePosted: event("MessagePosted", {
    messageId: text,
    room: roomSchema,
    by: text,
    text,
    /** who the message is for, fixed when it was posted (derived from the room) */
    audience: z.strictObject({ sides: z.array(sideSchema), mediators: z.boolean() }),
  }),
  LedgerItemRecorded: event("LedgerItemRecorded", {
    itemId: text,
    by: text,
    item: ledgerEntrySchema,
    note: text.nullable(),
    counters: text.nullable(),
  }),
  LedgerItemUpdated: event("LedgerItemUpdated", {
    itemId: text,
    by: text,
    state: ledgerItemStateSchema,
    /** the side the item comes from */
    from: sideSchema,
    /** whether the other side sees the item after this update (a drafted bracket is its side's and the mediator's) */
    shared: z.boolean(),
    /** on the update that first conveys a drafted item: what the other side needs to show it */
    details: z
      .strictObject({
        itemId: text,
        recordedAt: time,
        recordedBy: text,
        item: ledgerEntrySchema,
        note: text.nullable(),
        counters: text.nullable(),
      })
      .optional(),
  }),
} as const;

const E = EVENT_SCHEMAS;

/** Events every permitted viewer is shown as they are stored. */
export const PLAIN_EVENT_SCHEMAS = [
  E.SessionCreated,
  E.SetupUpdated,
  E.InvitationIssued,
  E.InvitationRevoked,
  E.MemberJoined,
  E.TermsEdited,
  E.TermsApproved,
  E.TermsSkipped,
  E.Step1Closed,
  E.Step2Opened,
  E.Step2Closed,
  E.Step3Opened,
  E.ReminderDue,
  E.ProposalRequested,
  E.ProposalRequestDeclined,
  E.ProposalRequestLapsed,
  E.ProposalTooFarApart,
  E.MediatorProposalPut,
  E.ProposalResolved,
  E.DealMade,
  E.SessionEnded,
  E.MediatorLocationSet,
  E.MediatorRequested,
  E.JointRoomOpened,
  E.JointRoomClosed,
  E.MessagePosted,
  E.LedgerItemRecorded,
  E.LedgerItemUpdated,
] as const;

/** Every stored event, as the engine produces it. BidSet, SmartProposalMade and ProposalAnswered are redacted. */
export const sessionEventSchema = z.discriminatedUnion("type", [
  ...PLAIN_EVENT_SCHEMAS,
  E.BidSet,
  E.SmartProposalMade,
  E.ProposalAnswered,
]);

export type SessionEvent = z.output<typeof sessionEventSchema>;

// ---------------------------------------------------------------- compile-time agreement with the named types

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

export type _EventPartsMatchTheirTypes = Assert<
  Same<z.output<typeof sessionRulesSchema>, SessionRules> &
    Same<z.output<typeof outcomeSchema>, Outcome> &
    Same<z.output<typeof dealSourceSchema>, DealSource>
>;
// Every type has its schema under its own name.
export type _EventSchemasByName = Assert<
  Same<
    {
      [K in keyof typeof EVENT_SCHEMAS]: z.output<(typeof EVENT_SCHEMAS)[K]>["type"] extends K ? true : false;
    }[keyof typeof EVENT_SCHEMAS],
    true
  >
>;
