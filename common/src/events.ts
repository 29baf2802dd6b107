// The wire shape of every event a viewer is shown, as schemas: a discriminated union on `type`, built from the
// engine's own event schemas (engine/events.ts, from which SessionEvent is derived). visibility.ts produces these
// shapes (its types are checked against the schemas below at compile time); the publisher parses every push with
// the broadcast form before it leaves the server, and the client parses what it receives.
// Objects are strict: a field the wire does not describe (a confidential amount above all) is refused, not passed.

import { z } from "zod";
import { EVENT_SCHEMAS, PLAIN_EVENT_SCHEMAS } from "./engine/events";
import type { SessionEvent } from "./engine/types";
import type { BroadcastEvent, VisibleEvent } from "./visibility";

const E = EVENT_SCHEMAS;
const cents = z.number();

// The three redacted events, from their stored schemas. In a room push: no confidential amount key at all.
const { amount: _bidAmount, type: _bidType, ...numberSetShape } = E.BidSet.shape;
/** BidSet as it is shown: renamed, and its amount removed (added back below for the own side's direct answers). */
const numberSetBroadcast = z.strictObject({ ...numberSetShape, type: z.literal("NumberSet") });
const { amount: _smartAmount, ...smartProposalShape } = E.SmartProposalMade.shape;
const smartProposalBroadcast = z.strictObject(smartProposalShape);
/** Only the answering side receives it; `by` and `accept` are its own (visibility.ts). */
const proposalAnsweredSchema = z.strictObject({
  ...E.ProposalAnswered.shape,
  by: E.ProposalAnswered.shape.by.optional(),
  accept: E.ProposalAnswered.shape.accept.optional(),
});

/** A shredded amount reads back as null. */
const ownAmount = cents.nullable().optional();

/** An event as one viewer is shown it in a direct answer (sync, snapshot): amounts only for those who may see them. */
export const visibleEventSchema = z.discriminatedUnion(
  "type",
  [
    ...PLAIN_EVENT_SCHEMAS,
    numberSetBroadcast.extend({ amount: ownAmount }),
    smartProposalBroadcast.extend({ amount: ownAmount }),
    proposalAnsweredSchema,
  ],
  { error: "Not a session event this version knows" },
);

/** An event as a room push carries it (and so Redis): a NumberSet or SmartProposalMade with an amount is refused. */
export const broadcastEventSchema = z.discriminatedUnion(
  "type",
  [...PLAIN_EVENT_SCHEMAS, numberSetBroadcast, smartProposalBroadcast, proposalAnsweredSchema],
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
