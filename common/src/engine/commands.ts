// Every command's shape, once: one zod schema per command. The engine parses with them (decide), and the socket and
// REST schemas (protocol.ts, api.ts) are these same schemas minus what the server fills in. The Command type is
// derived from them, and so are the limits table of docs/protocol.md section 12.

import { z } from "zod";
import { amountSchema } from "../money";
import { resolvedRulesSchema, sessionRulesInputSchema } from "../rules";
import { LEDGER_ITEM_STATES, MEDIATOR_LOCATIONS, ROOM_IDS, SIDES } from "./types";

// ---------------------------------------------------------------- limits (one constant each)

/** A session's title, in UTF-16 code units after trimming. */
export const MAX_TITLE_LENGTH = 200;
/** A member's display name (sign-up, and the name an actor joins or creates with). */
export const MAX_NAME_LENGTH = 100;
// About 25 pages. With the default BODY_LIMIT and SOCKET_MAX_BUFFER (256 KiB) an edit always fits, even in 3-byte UTF-8.
export const MAX_TERMS_LENGTH = 60_000;
export const MAX_MESSAGE_LENGTH = 4000;
export const MAX_NOTE_LENGTH = 1000;
/** Ids: user, session, invitation, request, proposal, message and ledger item ids. */
export const MAX_ID_LENGTH = 100;

/** Upper bounds on free text, in UTF-16 code units after trimming. */
export const TEXT_LIMITS = {
  title: MAX_TITLE_LENGTH,
  termsText: MAX_TERMS_LENGTH,
  message: MAX_MESSAGE_LENGTH,
  note: MAX_NOTE_LENGTH,
  displayName: MAX_NAME_LENGTH,
} as const;

const count = (n: number) => n.toLocaleString("en-US");

// ---------------------------------------------------------------- building blocks

/** Ids: non-empty, short, `[A-Za-z0-9_-]` (UUIDs fit). */
export const idSchema = z
  .string()
  .min(1, { error: "Not a valid id" })
  .max(MAX_ID_LENGTH, { error: "Not a valid id" })
  .regex(/^[A-Za-z0-9_-]+$/, { error: "Not a valid id" });

/** Epoch milliseconds within the range a Date can hold. */
export const epochMsSchema = z.number().int().min(0).max(8_640_000_000_000_000);

export const sideSchema = z.enum(SIDES);
export const roleSchema = z.enum([...SIDES, "mediator"]);
export const roomSchema = z.enum(ROOM_IDS);
export const mediatorLocationSchema = z.enum(MEDIATOR_LOCATIONS);
export const ledgerItemStateSchema = z.enum(LEDGER_ITEM_STATES);

const TITLE_MESSAGE = `The title must have between 1 and ${count(MAX_TITLE_LENGTH)} characters`;
export const titleSchema = z
  .string()
  .trim()
  .min(1, { error: "A title is required" })
  .max(MAX_TITLE_LENGTH, { error: TITLE_MESSAGE });
export const termsTextSchema = z
  .string()
  .trim()
  .max(MAX_TERMS_LENGTH, { error: `The terms can have at most ${count(MAX_TERMS_LENGTH)} characters` });
export const displayNameSchema = z
  .string()
  .trim()
  .min(1, { error: "A name is required" })
  .max(MAX_NAME_LENGTH, { error: `A name can be at most ${count(MAX_NAME_LENGTH)} characters` });
export const messageTextSchema = z
  .string()
  .trim()
  .min(1, { error: "A message cannot be empty" })
  .max(MAX_MESSAGE_LENGTH, {
    error: `A message must have between 1 and ${count(MAX_MESSAGE_LENGTH)} characters`,
  });
/** Optional short text; blank counts as absent. */
export const noteSchema = z
  .string()
  .trim()
  .max(MAX_NOTE_LENGTH, { error: `A note can have at most ${count(MAX_NOTE_LENGTH)} characters` })
  .nullable()
  .default(null)
  .transform((s) => (s === "" ? null : s));
export const termsVersionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------- one schema per command
// Objects strip unknown keys here (the server adds `actorName` to every command); the wire's versions are strict.

const actor = idSchema;

export const COMMAND_SCHEMAS = {
  CreateSession: z.object({
    type: z.literal("CreateSession"),
    actor,
    actorName: displayNameSchema,
    sessionId: idSchema,
    title: titleSchema,
    creatorRole: roleSchema,
    /** the creator's choices, resolved against the defaults (a refusal is INVALID_RULES) */
    rules: resolvedRulesSchema,
    startAt: epochMsSchema,
    termsText: termsTextSchema,
  }),
  /** `rules`: any subset; resolved against the session's current rules when decided. */
  UpdateSetup: z.object({
    type: z.literal("UpdateSetup"),
    actor,
    rules: sessionRulesInputSchema.optional(),
    startAt: epochMsSchema.optional(),
    title: titleSchema.optional(),
  }),
  IssueInvitation: z.object({
    type: z.literal("IssueInvitation"),
    actor,
    invitationId: idSchema,
    role: roleSchema,
    canBid: z.boolean(),
    expiresAt: epochMsSchema,
  }),
  RevokeInvitation: z.object({ type: z.literal("RevokeInvitation"), actor, invitationId: idSchema }),
  JoinSession: z.object({
    type: z.literal("JoinSession"),
    actor,
    actorName: displayNameSchema,
    invitationId: idSchema,
  }),
  EditTerms: z.object({
    type: z.literal("EditTerms"),
    actor,
    baseVersion: termsVersionSchema,
    text: termsTextSchema,
  }),
  ApproveTerms: z.object({ type: z.literal("ApproveTerms"), actor, version: termsVersionSchema }),
  SkipTerms: z.object({ type: z.literal("SkipTerms"), actor }),
  SetNumber: z.object({ type: z.literal("SetNumber"), actor, amount: amountSchema }),
  Withdraw: z.object({ type: z.literal("Withdraw"), actor }),
  Cancel: z.object({ type: z.literal("Cancel"), actor }),
  RequestProposal: z.object({ type: z.literal("RequestProposal"), actor, requestId: idSchema }),
  ConsentProposal: z.object({ type: z.literal("ConsentProposal"), actor, requestId: idSchema }),
  DeclineProposal: z.object({ type: z.literal("DeclineProposal"), actor, requestId: idSchema }),
  AnswerProposal: z.object({
    type: z.literal("AnswerProposal"),
    actor,
    proposalId: idSchema,
    accept: z.boolean(),
  }),
  PutMediatorProposal: z.object({
    type: z.literal("PutMediatorProposal"),
    actor,
    proposalId: idSchema,
    amount: amountSchema,
    answerBy: epochMsSchema,
  }),
  SetMediatorLocation: z.object({
    type: z.literal("SetMediatorLocation"),
    actor,
    location: mediatorLocationSchema,
    until: epochMsSchema.nullable().default(null),
    note: noteSchema,
  }),
  Knock: z.object({ type: z.literal("Knock"), actor }),
  OpenJointRoom: z.object({ type: z.literal("OpenJointRoom"), actor }),
  CloseJointRoom: z.object({ type: z.literal("CloseJointRoom"), actor }),
  PostMessage: z.object({
    type: z.literal("PostMessage"),
    actor,
    messageId: idSchema,
    room: roomSchema,
    text: messageTextSchema,
  }),
  RecordConveyed: z.object({
    type: z.literal("RecordConveyed"),
    actor,
    itemId: idSchema,
    from: sideSchema,
    amount: amountSchema,
    note: noteSchema,
    counters: idSchema.nullable().default(null),
  }),
  /** "we (from) will go to `ourAmount` if you go to `theirAmount`" */
  RecordBracket: z.object({
    type: z.literal("RecordBracket"),
    actor,
    itemId: idSchema,
    from: sideSchema,
    ourAmount: amountSchema,
    theirAmount: amountSchema,
    note: noteSchema,
    counters: idSchema.nullable().default(null),
  }),
  UpdateLedgerItem: z.object({
    type: z.literal("UpdateLedgerItem"),
    actor,
    itemId: idSchema,
    state: ledgerItemStateSchema,
  }),
  /** The clock: closes steps, expires requests and proposals, sends reminders. Idempotent. */
  Tick: z.object({ type: z.literal("Tick") }),
} as const;

const S = COMMAND_SCHEMAS;

/** Every engine command. `actor` is the authenticated user id, filled in by the server, never by the client. */
export const commandSchema = z.discriminatedUnion(
  "type",
  [
    S.CreateSession,
    S.UpdateSetup,
    S.IssueInvitation,
    S.RevokeInvitation,
    S.JoinSession,
    S.EditTerms,
    S.ApproveTerms,
    S.SkipTerms,
    S.SetNumber,
    S.Withdraw,
    S.Cancel,
    S.RequestProposal,
    S.ConsentProposal,
    S.DeclineProposal,
    S.AnswerProposal,
    S.PutMediatorProposal,
    S.SetMediatorLocation,
    S.Knock,
    S.OpenJointRoom,
    S.CloseJointRoom,
    S.PostMessage,
    S.RecordConveyed,
    S.RecordBracket,
    S.UpdateLedgerItem,
    S.Tick,
  ],
  {
    error: (issue) =>
      issue.code === "invalid_union" ? "This kind of request is not known" : "The request is not a command",
  },
);

/** A command as the engine decides it: parsed (trimmed, defaults filled, rules resolved at creation). */
export type Command = z.output<typeof commandSchema>;
/** What a caller may hand to decide before parsing (optional fields may be left out, rules given in part). */
export type CommandInput = z.input<typeof commandSchema>;
export type CommandType = Command["type"];

/** Fields holding an amount: a refusal there is INVALID_AMOUNT, wherever it is parsed. */
export const AMOUNT_FIELDS: ReadonlySet<string> = new Set(["amount", "ourAmount", "theirAmount"]);
