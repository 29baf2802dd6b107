// The Socket.IO protocol between client and server: payload schemas (zod 4), acks, and the typed event maps.
// The server parses every incoming payload with these schemas; the types describe what a correct client sends.

import { z } from "zod";
import {
  LEDGER_ITEM_STATES,
  MAX_MESSAGE_LENGTH,
  MAX_NOTE_LENGTH,
  MAX_TERMS_LENGTH,
  MAX_TITLE_LENGTH,
  MEDIATOR_LOCATIONS,
  ROOM_IDS,
  SIDES,
} from "./engine";
import type {
  Command,
  CommandType,
  LedgerItemState,
  MediatorLocation,
  Role,
  RoomId,
  Side,
} from "./engine/types";
import type { ErrorCode } from "./errors";
import { ERROR_CODES } from "./errors";
import { amountSchema } from "./money";
import type { SessionRulesInput } from "./rules";
import { sessionRulesInputSchema } from "./rules";
import type { BroadcastEvent, OwnNumberView, SessionView, VisibleEvent } from "./visibility";
import { carriesConfidentialAmount } from "./visibility";

export const PROTOCOL_VERSION = 1;

/** Upper bounds on free text, in UTF-16 code units after trimming; the engine's own limits where it has one. */
export const TEXT_LIMITS = {
  title: MAX_TITLE_LENGTH,
  termsText: MAX_TERMS_LENGTH,
  message: MAX_MESSAGE_LENGTH,
  note: MAX_NOTE_LENGTH,
  displayName: 100,
} as const;

// ---------------------------------------------------------------- building blocks

export const sessionIdSchema = z.uuid({ error: "The session id must be a UUID" });

/** Ids the server generated and the client echoes back (request, proposal, ledger item). */
export const idSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_-]+$/, { error: "Not a valid id" });

/** Epoch milliseconds within the range a Date can hold. */
export const epochMsSchema = z.number().int().min(0).max(8_640_000_000_000_000);

export const sideSchema = z.enum(SIDES);
export const roleSchema = z.enum([...SIDES, "mediator"]);
export const roomSchema = z.enum(ROOM_IDS);
export const mediatorLocationSchema = z.enum(MEDIATOR_LOCATIONS);
export const ledgerItemStateSchema = z.enum(LEDGER_ITEM_STATES);

export const titleSchema = z.string().trim().min(1, { error: "A title is required" }).max(TEXT_LIMITS.title);
export const termsTextSchema = z.string().trim().max(TEXT_LIMITS.termsText);
const messageTextSchema = z
  .string()
  .trim()
  .min(1, { error: "A message cannot be empty" })
  .max(TEXT_LIMITS.message);
/** Optional short text; blank counts as absent. */
const noteSchema = z
  .string()
  .trim()
  .max(TEXT_LIMITS.note)
  .nullable()
  .default(null)
  .transform((s) => (s === "" ? null : s));
const termsVersionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------- client commands

/**
 * Commands a client sends over the socket. Not here: CreateSession, JoinSession, IssueInvitation and
 * RevokeInvitation (REST only) and Tick (the clock). `actor` and the ids of new things are the server's.
 */
export const clientCommandSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("UpdateSetup"),
    rules: sessionRulesInputSchema.optional(),
    startAt: epochMsSchema.optional(),
    title: titleSchema.optional(),
  }),
  z.strictObject({ type: z.literal("EditTerms"), baseVersion: termsVersionSchema, text: termsTextSchema }),
  z.strictObject({ type: z.literal("ApproveTerms"), version: termsVersionSchema }),
  z.strictObject({ type: z.literal("SkipTerms") }),
  z.strictObject({ type: z.literal("SetNumber"), amount: amountSchema }),
  z.strictObject({ type: z.literal("Withdraw") }),
  z.strictObject({ type: z.literal("Cancel") }),
  z.strictObject({ type: z.literal("RequestProposal") }),
  z.strictObject({ type: z.literal("ConsentProposal"), requestId: idSchema }),
  z.strictObject({ type: z.literal("DeclineProposal"), requestId: idSchema }),
  z.strictObject({ type: z.literal("AnswerProposal"), proposalId: idSchema, accept: z.boolean() }),
  z.strictObject({ type: z.literal("PutMediatorProposal"), amount: amountSchema, answerBy: epochMsSchema }),
  z.strictObject({
    type: z.literal("SetMediatorLocation"),
    location: mediatorLocationSchema,
    until: epochMsSchema.nullable().default(null),
    note: noteSchema,
  }),
  z.strictObject({ type: z.literal("Knock") }),
  z.strictObject({ type: z.literal("OpenJointRoom") }),
  z.strictObject({ type: z.literal("CloseJointRoom") }),
  z.strictObject({ type: z.literal("PostMessage"), room: roomSchema, text: messageTextSchema }),
  z.strictObject({
    type: z.literal("RecordConveyed"),
    from: sideSchema,
    amount: amountSchema,
    note: noteSchema,
    counters: idSchema.nullable().default(null),
  }),
  z.strictObject({
    type: z.literal("RecordBracket"),
    from: sideSchema,
    ourAmount: amountSchema,
    theirAmount: amountSchema,
    note: noteSchema,
    counters: idSchema.nullable().default(null),
  }),
  z.strictObject({ type: z.literal("UpdateLedgerItem"), itemId: idSchema, state: ledgerItemStateSchema }),
]);

/** A validated client command, as the server receives it after parsing. */
export type ClientCommand = z.output<typeof clientCommandSchema>;
/** What a client may send (optional fields may be left out). */
export type ClientCommandInput = z.input<typeof clientCommandSchema>;
export type ClientCommandType = ClientCommand["type"];

export const CLIENT_COMMAND_TYPES = clientCommandSchema.options.map(
  (o) => o.shape.type.value,
) as ClientCommandType[];

/** Commands that only the REST API (or the clock) issues. */
export const REST_ONLY_COMMAND_TYPES = [
  "CreateSession",
  "JoinSession",
  "IssueInvitation",
  "RevokeInvitation",
] as const;

// ---------------------------------------------------------------- socket payloads

export const idempotencyKeySchema = z
  .string()
  .min(8, { error: "The idempotency key must be 8 to 100 characters" })
  .max(100, { error: "The idempotency key must be 8 to 100 characters" })
  .regex(/^[\x21-\x7e]+$/, { error: "The idempotency key must be printable ASCII without spaces" });

export const sessionOpenSchema = z.strictObject({ sessionId: sessionIdSchema });
export const sessionLeaveSchema = z.strictObject({ sessionId: sessionIdSchema });
export const commandPayloadSchema = z.strictObject({
  sessionId: sessionIdSchema,
  idempotencyKey: idempotencyKeySchema,
  command: clientCommandSchema,
});
export const syncPayloadSchema = z.strictObject({
  sessionId: sessionIdSchema,
  sinceVersion: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export type SessionOpenPayload = z.input<typeof sessionOpenSchema>;
export type SessionLeavePayload = z.input<typeof sessionLeaveSchema>;
export type CommandPayload = z.input<typeof commandPayloadSchema>;
export type SyncPayload = z.input<typeof syncPayloadSchema>;

/** Payload schema of every client-to-server event, for the gateway's generic validation. */
export const clientEventSchemas = {
  "session:open": sessionOpenSchema,
  "session:leave": sessionLeaveSchema,
  command: commandPayloadSchema,
  sync: syncPayloadSchema,
} as const;

// ---------------------------------------------------------------- acks

export const errorAckSchema = z.strictObject({
  ok: z.literal(false),
  code: z.enum(ERROR_CODES),
  message: z.string().max(1_000),
  /** when trying again can succeed (RATE_LIMITED: the sender's next allowed change) */
  retryAt: epochMsSchema.optional(),
});
export type ErrorAck = z.output<typeof errorAckSchema>;

/** The outer shape every ack has: `ok: true` plus its fields, or an ErrorAck. */
export const ackSchema = z.discriminatedUnion("ok", [z.looseObject({ ok: z.literal(true) }), errorAckSchema]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Events and views are produced by common/visibility, not typed by hand on the wire: these check the envelope.
export const visibleEventSchema = z.custom<VisibleEvent>(
  (v) => isRecord(v) && typeof v.type === "string" && typeof v.at === "number",
  { error: "Not a session event" },
);
/** A room push's event: refused if it still carries a confidential amount (a last guard for the gateway). */
export const broadcastEventSchema = z.custom<BroadcastEvent>(
  (v) =>
    isRecord(v) && typeof v.type === "string" && typeof v.at === "number" && !carriesConfidentialAmount(v),
  { error: "Not a broadcast-safe session event" },
);
export const sessionViewSchema = z.custom<SessionView>(
  (v) => isRecord(v) && typeof v.id === "string" && typeof v.version === "number",
  { error: "Not a session view" },
);

const versionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const hex64Schema = z.string().regex(/^[0-9a-f]{64}$/);
/**
 * A stream head as the server signs it: after `position` events of `stream` (a role), the stream's hash chain reads
 * `head`. A party keeps the heads it receives; `npm run audit:verify` checks an audit export against them.
 */
export const signedHeadSchema = z.strictObject({
  sessionId: sessionIdSchema,
  stream: roleSchema,
  position: versionSchema,
  head: hex64Schema,
  /** base64url Ed25519 signature over the canonical JSON of {format:"backchannel-head/1", sessionId, stream, position, head} */
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  /** the signing key's id: the first 16 hex digits of the SHA-256 of its public key (DER); see GET /api/audit/key */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
});
export type SignedHeadWire = z.output<typeof signedHeadSchema>;

export const sessionOpenAckSchema = z.discriminatedUnion("ok", [
  z.strictObject({
    ok: z.literal(true),
    view: sessionViewSchema,
    version: versionSchema,
    head: signedHeadSchema,
  }),
  errorAckSchema,
]);
export const sessionLeaveAckSchema = z.discriminatedUnion("ok", [
  z.strictObject({ ok: z.literal(true) }),
  errorAckSchema,
]);
export const commandAckSchema = z.discriminatedUnion("ok", [
  z.strictObject({
    ok: z.literal(true),
    version: versionSchema,
    /** SetNumber only: the sender's side's number as the side sees it, in its ack (never in a push). */
    own: z.custom<OwnNumberView>((v) => typeof v === "object" && v !== null && "amount" in v).optional(),
  }),
  errorAckSchema,
]);
export const versionedEventSchema = z.strictObject({ version: versionSchema, event: visibleEventSchema });
export const syncAckSchema = z.union([
  z.strictObject({
    ok: z.literal(true),
    version: versionSchema,
    events: z.array(versionedEventSchema),
    head: signedHeadSchema,
  }),
  z.strictObject({
    ok: z.literal(true),
    version: versionSchema,
    snapshot: sessionViewSchema,
    head: signedHeadSchema,
  }),
  errorAckSchema,
]);

export type SessionOpenAck = z.output<typeof sessionOpenAckSchema>;
export type SessionLeaveAck = z.output<typeof sessionLeaveAckSchema>;
export type CommandAck = z.output<typeof commandAckSchema>;
export type VersionedEvent = z.output<typeof versionedEventSchema>;
export type SyncAck = z.output<typeof syncAckSchema>;

export function errorAck(code: ErrorCode, message: string, retryAt?: number): ErrorAck {
  return retryAt === undefined ? { ok: false, code, message } : { ok: false, code, message, retryAt };
}

const AMOUNT_KEYS = new Set(["amount", "ourAmount", "theirAmount"]);

/**
 * An ErrorAck for a payload the schemas refused. Zod's messages name the field and the expectation, never the
 * value received, so a refused number is not echoed into an error (or a log line).
 */
export function invalidInputAck(error: z.ZodError): ErrorAck {
  const issue = error.issues[0];
  if (!issue) return errorAck("INVALID_INPUT", "The request is not valid");
  const last = issue.path[issue.path.length - 1];
  const code: ErrorCode =
    typeof last === "string" && AMOUNT_KEYS.has(last) ? "INVALID_AMOUNT" : "INVALID_INPUT";
  const where = issue.path.filter((p) => typeof p === "string" || typeof p === "number").join(".");
  return errorAck(code, where ? `${where}: ${issue.message}` : issue.message);
}

// ---------------------------------------------------------------- server pushes

export const sessionEventPushSchema = z.strictObject({
  sessionId: sessionIdSchema,
  /** the position of this event in the receiving role's stream: 1, 2, 3, ... with no gap for what it cannot see */
  version: versionSchema,
  /** the stream's signed head after this event (see GET /api/sessions/:id/audit) */
  head: signedHeadSchema,
  /** on the deal notice: the stream's signed head after the session's last event, which ends it */
  finalHead: signedHeadSchema.optional(),
  event: broadcastEventSchema,
});
export const presencePushSchema = z.strictObject({
  sessionId: sessionIdSchema,
  online: z.array(z.strictObject({ userId: z.string().min(1), role: roleSchema })),
});
export const authExpiredPushSchema = z.strictObject({});

export type SessionEventPush = z.output<typeof sessionEventPushSchema>;
export type PresencePush = z.output<typeof presencePushSchema>;
export type AuthExpiredPush = z.output<typeof authExpiredPushSchema>;

// ---------------------------------------------------------------- typed event maps for socket.io generics

export interface ClientToServerEvents {
  "session:open": (payload: SessionOpenPayload, ack: (res: SessionOpenAck) => void) => void;
  "session:leave": (payload: SessionLeavePayload, ack: (res: SessionLeaveAck) => void) => void;
  command: (payload: CommandPayload, ack: (res: CommandAck) => void) => void;
  sync: (payload: SyncPayload, ack: (res: SyncAck) => void) => void;
}

export interface ServerToClientEvents {
  /** A change, redacted for the room and stripped by forBroadcast: never a confidential amount. */
  "session:event": (push: SessionEventPush) => void;
  "session:presence": (push: PresencePush) => void;
  /** Sent just before the server disconnects a socket whose token expired. */
  "auth:expired": (push: AuthExpiredPush) => void;
}

// ---------------------------------------------------------------- compile-time agreement with the engine

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

// The enums above must be exactly the engine's unions.
export type _EnumsMatchEngine = Assert<
  Same<z.output<typeof sideSchema>, Side> &
    Same<z.output<typeof roleSchema>, Role> &
    Same<z.output<typeof roomSchema>, RoomId> &
    Same<z.output<typeof mediatorLocationSchema>, MediatorLocation> &
    Same<z.output<typeof ledgerItemStateSchema>, LedgerItemState>
>;

// Every engine command is either a client command or deliberately not one: a new command needs a decision here.
export type _EveryCommandPlaced = Assert<
  Same<Exclude<CommandType, ClientCommandType | (typeof REST_ONLY_COMMAND_TYPES)[number] | "Tick">, never>
>;

/** The id field the server fills in (a fresh UUID) when a client command creates something new. */
export const SERVER_FILLED_IDS = {
  RequestProposal: "requestId",
  PutMediatorProposal: "proposalId",
  PostMessage: "messageId",
  RecordConveyed: "itemId",
  RecordBracket: "itemId",
} as const satisfies Partial<Record<ClientCommandType, string>>;
type ServerFilled = typeof SERVER_FILLED_IDS;
type EngineFields<K extends ClientCommandType> = Omit<
  Extract<Command, { type: K }>,
  "actor" | (K extends keyof ServerFilled ? ServerFilled[K] : never)
>;
// UpdateSetup carries the creator's partial rules; the server resolves them against the session's.
type ExpectedClientCommand<K extends ClientCommandType> = K extends "UpdateSetup"
  ? Omit<EngineFields<K>, "rules"> & { rules?: SessionRulesInput }
  : EngineFields<K>;

// After parsing, each client command is the engine command minus what the server fills in.
export type _ClientCommandsMatchEngine = Assert<
  Same<
    {
      [K in ClientCommandType]: Same<ExpectedClientCommand<K>, Extract<ClientCommand, { type: K }>>;
    }[ClientCommandType],
    true
  >
>;
