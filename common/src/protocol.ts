// The Socket.IO protocol between client and server: payload schemas (zod 4), acks, and the typed event maps.
// The server parses every incoming payload with these schemas; the types describe what a correct client sends.

import { z } from "zod";
import { dashboardEntrySchema } from "./dashboard";
import {
  AMOUNT_FIELDS,
  COMMAND_SCHEMAS,
  type Command,
  type CommandType,
  epochMsSchema,
  type ledgerItemStateSchema,
  type mediatorLocationSchema,
  roleSchema,
  type roomSchema,
  type sideSchema,
} from "./engine/commands";
import type { LedgerItemState, MediatorLocation, Role, RoomId, Side } from "./engine/types";
import type { ErrorCode } from "./errors";
import { ERROR_CODES } from "./errors";
import { broadcastEventSchema, visibleEventSchema } from "./events";
import type { OwnNumberView, SessionView } from "./visibility";

// The building blocks are the engine's command schemas' own (engine/commands.ts): one definition of each field.
export {
  displayNameSchema,
  epochMsSchema,
  idSchema,
  ledgerItemStateSchema,
  mediatorLocationSchema,
  roleSchema,
  roomSchema,
  sideSchema,
  TEXT_LIMITS,
  termsTextSchema,
  titleSchema,
} from "./engine/commands";
export { broadcastEventSchema, visibleEventSchema } from "./events";

/**
 * 3: a push's `head` and `finalHead` are signed per commit (`salt` and `leaves`; signedHeadSchema). 2: a
 * `session:event` message carries all of one commit's pushes to the room (1: one push per message).
 */
export const PROTOCOL_VERSION = 3;

export const sessionIdSchema = z.uuid({ error: "The session id must be a UUID" });

// ---------------------------------------------------------------- client commands

/** The id field the server fills in (a fresh UUID) when a client command creates something new. */
export const SERVER_FILLED_IDS = {
  RequestProposal: "requestId",
  PutMediatorProposal: "proposalId",
  PostMessage: "messageId",
  RecordConveyed: "itemId",
  RecordBracket: "itemId",
} as const;

/** An engine command's schema as a client sends it: strict, without `actor` (and the id the server fills in). */
function sent<K extends keyof typeof COMMAND_SCHEMAS, F extends string = never>(type: K, filled?: F) {
  type Shape = (typeof COMMAND_SCHEMAS)[K]["shape"];
  const schema = COMMAND_SCHEMAS[type] as unknown as z.ZodObject;
  const omit: Record<string, true> = { actor: true };
  if (filled !== undefined) omit[filled] = true;
  return z.strictObject(schema.omit(omit).shape as unknown as Omit<Shape, "actor" | F>);
}

/**
 * Commands a client sends over the socket. Not here: CreateSession, JoinSession, IssueInvitation and
 * RevokeInvitation (REST only) and Tick (the clock). `actor` and the ids of new things are the server's.
 */
export const clientCommandSchema = z.discriminatedUnion("type", [
  sent("UpdateSetup"),
  sent("EditTerms"),
  sent("ApproveTerms"),
  sent("SkipTerms"),
  sent("SetNumber"),
  sent("Withdraw"),
  sent("Cancel"),
  sent("RequestProposal", SERVER_FILLED_IDS.RequestProposal),
  sent("ConsentProposal"),
  sent("DeclineProposal"),
  sent("AnswerProposal"),
  sent("PutMediatorProposal", SERVER_FILLED_IDS.PutMediatorProposal),
  sent("SetMediatorLocation"),
  sent("Knock"),
  sent("OpenJointRoom"),
  sent("CloseJointRoom"),
  sent("PostMessage", SERVER_FILLED_IDS.PostMessage),
  sent("RecordConveyed", SERVER_FILLED_IDS.RecordConveyed),
  sent("RecordBracket", SERVER_FILLED_IDS.RecordBracket),
  sent("UpdateLedgerItem"),
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

/** The home page's live list: every session of the caller, then its changes (see dashboard.ts). */
export const dashboardOpenSchema = z.strictObject({});
export const dashboardEntryRequestSchema = z.strictObject({ sessionId: sessionIdSchema });
export const dashboardCloseSchema = z.strictObject({});

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
  "dashboard:open": dashboardOpenSchema,
  "dashboard:entry": dashboardEntryRequestSchema,
  "dashboard:close": dashboardCloseSchema,
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

// Events are schemas (events.ts); a view is produced by common/visibility and checked here by its envelope.
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
const headFields = {
  sessionId: sessionIdSchema,
  stream: roleSchema,
  position: versionSchema,
  head: hex64Schema,
  /** base64url Ed25519 signature (86 characters) */
  signature: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  /** the signing key's id: the first 16 hex digits of the SHA-256 of its public key (DER); see GET /api/audit/key */
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
};
export const signedHeadSchema = z.union([
  /** signed alone: the signature covers the canonical JSON of {format:"backchannel-head/1", sessionId, stream, position, head} */
  z.strictObject(headFields),
  /**
   * signed with the other streams' heads of its commit (pushes): `leaves` holds sha256 of the canonical JSON of
   * {format:"backchannel-leaf/1", sessionId, stream, position, head, salt} for each stream (claimant, respondent,
   * mediator, in that order), and the signature covers {format:"backchannel-commit/1", sessionId, leaves}
   */
  z.strictObject({
    ...headFields,
    salt: hex64Schema,
    leaves: z.tuple([hex64Schema, hex64Schema, hex64Schema]),
  }),
]);
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

export const dashboardOpenAckSchema = z.discriminatedUnion("ok", [
  z.strictObject({ ok: z.literal(true), sessions: z.array(dashboardEntrySchema) }),
  errorAckSchema,
]);
export const dashboardEntryAckSchema = z.discriminatedUnion("ok", [
  z.strictObject({ ok: z.literal(true), session: dashboardEntrySchema }),
  errorAckSchema,
]);

export type SessionOpenAck = z.output<typeof sessionOpenAckSchema>;
export type DashboardOpenAck = z.output<typeof dashboardOpenAckSchema>;
export type DashboardEntryAck = z.output<typeof dashboardEntryAckSchema>;
export type SessionLeaveAck = z.output<typeof sessionLeaveAckSchema>;
export type CommandAck = z.output<typeof commandAckSchema>;
export type VersionedEvent = z.output<typeof versionedEventSchema>;
export type SyncAck = z.output<typeof syncAckSchema>;

export function errorAck(code: ErrorCode, message: string, retryAt?: number): ErrorAck {
  return retryAt === undefined ? { ok: false, code, message } : { ok: false, code, message, retryAt };
}

/**
 * An ErrorAck for a payload the schemas refused. Zod's messages name the field and the expectation, never the
 * value received, so a refused number is not echoed into an error (or a log line).
 */
export function invalidInputAck(error: z.ZodError): ErrorAck {
  const issue = error.issues[0];
  if (!issue) return errorAck("INVALID_INPUT", "The request is not valid");
  const last = issue.path[issue.path.length - 1];
  const code: ErrorCode =
    typeof last === "string" && AMOUNT_FIELDS.has(last) ? "INVALID_AMOUNT" : "INVALID_INPUT";
  const where = issue.path.filter((p) => typeof p === "string" || typeof p === "number").join(".");
  return errorAck(code, where ? `${where}: ${issue.message}` : issue.message);
}

// ---------------------------------------------------------------- server pushes

export const sessionEventPushSchema = z.strictObject({
  sessionId: sessionIdSchema,
  /** the position of this event in the receiving role's stream: 1, 2, 3, ... with no gap for what it cannot see */
  version: versionSchema,
  /**
   * the stream's signed head after this event (see GET /api/sessions/:id/audit): on the last push of each commit for
   * the stream (the events one command or deadline made arrive together; the head after the last covers them all)
   */
  head: signedHeadSchema.optional(),
  /** on the deal notice: the stream's signed head after the session's last event, which ends it */
  finalHead: signedHeadSchema.optional(),
  /** checked against the broadcast form of its type (events.ts): strict, so no confidential amount can pass */
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
  "dashboard:open": (payload: Record<string, never>, ack: (res: DashboardOpenAck) => void) => void;
  "dashboard:entry": (payload: { sessionId: string }, ack: (res: DashboardEntryAck) => void) => void;
  "dashboard:close": (payload: Record<string, never>, ack: (res: SessionLeaveAck) => void) => void;
}

export interface ServerToClientEvents {
  /**
   * Changes, redacted for the room and stripped by forBroadcast: never a confidential amount. One message per commit
   * and room: its arguments are that commit's pushes to the room, in stream order (one or more).
   */
  "session:event": (...pushes: SessionEventPush[]) => void;
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

type ServerFilled = typeof SERVER_FILLED_IDS;
type EngineFields<K extends ClientCommandType> = Omit<
  Extract<Command, { type: K }>,
  "actor" | (K extends keyof ServerFilled ? ServerFilled[K] : never)
>;

// After parsing, each client command is the engine command minus what the server fills in.
export type _ClientCommandsMatchEngine = Assert<
  Same<
    {
      [K in ClientCommandType]: Same<EngineFields<K>, Extract<ClientCommand, { type: K }>>;
    }[ClientCommandType],
    true
  >
>;
