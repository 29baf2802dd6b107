// The wire shape of every event a viewer is shown, as schemas: a discriminated union on `type`. visibility.ts
// produces these shapes (its types are checked against the schemas below at compile time); the publisher parses
// every push with the broadcast form before it leaves the server, and the client parses what it receives.
// Objects are strict: a field the wire does not describe (a confidential amount above all) is refused, not passed.

import { z } from "zod";
import {
  ledgerItemStateSchema,
  mediatorLocationSchema,
  roleSchema,
  roomSchema,
  sideSchema,
} from "./engine/commands";
import type { SessionEvent } from "./engine/types";
import type { BroadcastEvent, VisibleEvent } from "./visibility";

const time = z.number();
const cents = z.number();
const text = z.string();
const step = z.union([z.literal(2), z.literal(3)]);

/** A session's rules as events carry them (already resolved; bounds are checked when they are set, not here). */
const rulesSchema = z.strictObject({
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

const ledgerEntrySchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("conveyed"), from: sideSchema, amount: cents }),
  z.strictObject({ kind: z.literal("bracket"), from: sideSchema, ourAmount: cents, theirAmount: cents }),
]);

function event<T extends string, S extends z.ZodRawShape>(type: T, shape: S) {
  return z.strictObject({ type: z.literal(type), at: time, ...shape });
}

/** Events every permitted viewer sees as they are stored. */
const plainEventSchemas = [
  event("SessionCreated", {
    sessionId: text,
    title: text,
    createdBy: text,
    creatorName: text,
    creatorRole: roleSchema,
    rules: rulesSchema,
    startAt: time,
    termsText: text,
  }),
  event("SetupUpdated", {
    by: text,
    rules: rulesSchema,
    startAt: time,
    title: text,
    approvalsWithdrawn: z.boolean().optional(),
  }),
  event("InvitationIssued", {
    by: text,
    invitationId: text,
    role: roleSchema,
    canBid: z.boolean(),
    expiresAt: time,
  }),
  event("InvitationRevoked", { by: text, invitationId: text }),
  event("MemberJoined", {
    userId: text,
    name: text,
    role: roleSchema,
    canBid: z.boolean(),
    invitationId: text,
  }),
  event("TermsEdited", { by: text, version: z.number(), text }),
  event("TermsApproved", { by: text, side: sideSchema, version: z.number() }),
  event("TermsSkipped", { by: text, side: sideSchema }),
  event("Step1Closed", { how: z.enum(["approved", "skipped"]), termsVersion: z.number() }),
  event("Step2Opened", { closesAt: time, sessionEndsAt: time }),
  event("Step2Closed", { deal: z.boolean() }),
  event("Step3Opened", { closesAt: time }),
  event("ReminderDue", { side: sideSchema, closesAt: time, reminder: z.number() }),
  event("ProposalRequested", { requestId: text, side: sideSchema, by: text, consentBy: time }),
  event("ProposalRequestDeclined", { requestId: text, side: sideSchema, by: text }),
  event("ProposalRequestLapsed", { requestId: text }),
  event("ProposalTooFarApart", { requestId: text, consentedBy: text }),
  event("MediatorProposalPut", { proposalId: text, by: text, amount: cents, answerBy: time }),
  event("ProposalResolved", {
    proposalId: text,
    kind: z.enum(["smart", "mediator"]),
    accepted: z.boolean(),
  }),
  event("DealMade", {
    amount: cents,
    source: z.enum(["step2", "step3", "smart_proposal", "mediator_proposal"]),
    bonusPercent: z.number(),
    bonusSide: sideSchema.nullable(),
    termsVersion: z.number().nullable(),
  }),
  event("SessionEnded", {
    outcome: z.enum(["deal", "expired", "withdrawn", "cancelled"]),
    side: sideSchema.nullable(),
    by: text.nullable(),
  }),
  event("MediatorLocationSet", {
    by: text,
    location: mediatorLocationSchema,
    until: time.nullable(),
    note: text.nullable(),
  }),
  event("MediatorRequested", { side: sideSchema, by: text }),
  event("JointRoomOpened", { by: text }),
  event("JointRoomClosed", { by: text }),
  event("MessagePosted", {
    messageId: text,
    room: roomSchema,
    by: text,
    text,
    audience: z.strictObject({ sides: z.array(sideSchema), mediators: z.boolean() }),
  }),
  event("LedgerItemRecorded", {
    itemId: text,
    by: text,
    item: ledgerEntrySchema,
    note: text.nullable(),
    counters: text.nullable(),
  }),
  event("LedgerItemUpdated", {
    itemId: text,
    by: text,
    state: ledgerItemStateSchema,
    from: sideSchema,
    shared: z.boolean(),
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
] as const;

// The three redacted events, in the form a room push carries: no confidential amount key at all.
const numberSetBroadcast = event("NumberSet", { side: sideSchema, by: text, step });
const smartProposalBroadcast = event("SmartProposalMade", {
  requestId: text,
  proposalId: text,
  answerBy: time,
  consentedBy: text,
});
/** Only the answering side receives it; `by` and `accept` are its own (visibility.ts). */
const proposalAnsweredSchema = event("ProposalAnswered", {
  proposalId: text,
  side: sideSchema,
  by: text.optional(),
  accept: z.boolean().optional(),
});

/** A shredded amount reads back as null. */
const ownAmount = cents.nullable().optional();

/** An event as one viewer is shown it in a direct answer (sync, snapshot): amounts only for those who may see them. */
export const visibleEventSchema = z.discriminatedUnion(
  "type",
  [
    ...plainEventSchemas,
    numberSetBroadcast.extend({ amount: ownAmount }),
    smartProposalBroadcast.extend({ amount: ownAmount }),
    proposalAnsweredSchema,
  ],
  { error: "Not a session event this version knows" },
);

/** An event as a room push carries it (and so Redis): a NumberSet or SmartProposalMade with an amount is refused. */
export const broadcastEventSchema = z.discriminatedUnion(
  "type",
  [...plainEventSchemas, numberSetBroadcast, smartProposalBroadcast, proposalAnsweredSchema],
  { error: "Not a broadcast-safe session event" },
);

export type VisibleEventWire = z.output<typeof visibleEventSchema>;
export type BroadcastEventWire = z.output<typeof broadcastEventSchema>;

/** The event types a viewer may be shown, for a client deciding whether it knows an event. */
export const VISIBLE_EVENT_TYPES: readonly VisibleEventWire["type"][] = visibleEventSchema.options.map(
  (o) => o.shape.type.value,
);

// ---------------------------------------------------------------- compile-time agreement with visibility.ts

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
type EachSame<A extends { type: string }, B extends { type: string }> = {
  [K in A["type"] | B["type"]]: Same<Extract<A, { type: K }>, Extract<B, { type: K }>>;
}[A["type"] | B["type"]];

// The schemas describe exactly what projectEvent and forBroadcast produce, type by type.
export type _VisibleEventsMatchProjection = Assert<EachSame<VisibleEventWire, VisibleEvent>>;
export type _BroadcastEventsMatchProjection = Assert<EachSame<BroadcastEventWire, BroadcastEvent>>;
// Every stored event type but the redacted BidSet (shown as NumberSet) has its wire schema.
export type _EveryEventOnTheWire = Assert<
  Same<Exclude<SessionEvent["type"], "BidSet">, Exclude<VisibleEventWire["type"], "NumberSet">>
>;
