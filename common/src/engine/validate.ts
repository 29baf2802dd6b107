// Shape checks for commands arriving from outside, so decide can refuse bad input instead of throwing.
// Only types are checked here; ranges and lengths are checked by each command, with messages in context.
// Amount fields are left to checkAmount (INVALID_AMOUNT), so their refusal says what is wrong with the amount.

import type { Refusal } from "../errors";
import { refusal } from "../errors";
import type { Command, CommandType } from "./types";
import { LEDGER_ITEM_STATES, MEDIATOR_LOCATIONS, ROOM_IDS, SIDES } from "./types";

type FieldKind =
  | "string"
  | "number"
  | "boolean"
  | "side"
  | "role"
  | "room"
  | "location"
  | "ledgerState"
  | "amount"
  | "unknown";

interface Field {
  kind: FieldKind;
  optional?: boolean;
  nullable?: boolean;
}

const req = (kind: FieldKind): Field => ({ kind });
const opt = (kind: FieldKind): Field => ({ kind, optional: true });
const orNull = (kind: FieldKind): Field => ({ kind, nullable: true });

const ROLES: readonly string[] = [...SIDES, "mediator"];
const ROOMS: readonly string[] = ROOM_IDS;
const LOCATIONS: readonly string[] = MEDIATOR_LOCATIONS;
const LEDGER_STATES: readonly string[] = LEDGER_ITEM_STATES;

const actor = req("string");

const COMMAND_FIELDS: Record<CommandType, Record<string, Field>> = {
  CreateSession: {
    actor,
    actorName: req("string"),
    sessionId: req("string"),
    title: req("string"),
    creatorRole: req("role"),
    rules: req("unknown"),
    startAt: req("number"),
    termsText: req("string"),
  },
  UpdateSetup: { actor, rules: opt("unknown"), startAt: opt("number"), title: opt("string") },
  IssueInvitation: {
    actor,
    invitationId: req("string"),
    role: req("role"),
    canBid: req("boolean"),
    expiresAt: req("number"),
  },
  RevokeInvitation: { actor, invitationId: req("string") },
  JoinSession: { actor, actorName: req("string"), invitationId: req("string") },
  EditTerms: { actor, baseVersion: req("number"), text: req("string") },
  ApproveTerms: { actor, version: req("number") },
  SkipTerms: { actor },
  SetNumber: { actor, amount: req("amount") },
  Withdraw: { actor },
  Cancel: { actor },
  RequestProposal: { actor, requestId: req("string") },
  ConsentProposal: { actor, requestId: req("string") },
  DeclineProposal: { actor, requestId: req("string") },
  AnswerProposal: { actor, proposalId: req("string"), accept: req("boolean") },
  PutMediatorProposal: { actor, proposalId: req("string"), amount: req("amount"), answerBy: req("number") },
  SetMediatorLocation: { actor, location: req("location"), until: orNull("number"), note: orNull("string") },
  Knock: { actor },
  OpenJointRoom: { actor },
  CloseJointRoom: { actor },
  PostMessage: { actor, messageId: req("string"), room: req("room"), text: req("string") },
  RecordConveyed: {
    actor,
    itemId: req("string"),
    from: req("side"),
    amount: req("amount"),
    note: orNull("string"),
    counters: orNull("string"),
  },
  RecordBracket: {
    actor,
    itemId: req("string"),
    from: req("side"),
    ourAmount: req("amount"),
    theirAmount: req("amount"),
    note: orNull("string"),
    counters: orNull("string"),
  },
  UpdateLedgerItem: { actor, itemId: req("string"), state: req("ledgerState") },
  Tick: {},
};

/** Ids and user ids: non-empty, short, printable. */
export const MAX_ID_LENGTH = 200;

function fits(kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "side":
      return typeof value === "string" && (SIDES as readonly string[]).includes(value);
    case "role":
      return typeof value === "string" && ROLES.includes(value);
    case "room":
      return typeof value === "string" && ROOMS.includes(value);
    case "location":
      return typeof value === "string" && LOCATIONS.includes(value);
    case "ledgerState":
      return typeof value === "string" && LEDGER_STATES.includes(value);
    case "amount":
    case "unknown":
      return true;
  }
}

const ID_FIELDS = new Set([
  "actor",
  "sessionId",
  "invitationId",
  "requestId",
  "proposalId",
  "messageId",
  "itemId",
]);

/** Checks that `input` is a known command with fields of the right types; the command itself, or a refusal. */
export function checkCommandShape(
  input: unknown,
): { ok: true; command: Command } | ({ ok: false } & Refusal) {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, ...refusal("INVALID_INPUT", "The request is not a command.") };
  }
  const record = input as Record<string, unknown>;
  const type = record.type;
  if (typeof type !== "string" || !Object.hasOwn(COMMAND_FIELDS, type)) {
    return { ok: false, ...refusal("INVALID_INPUT", "This kind of request is not known.") };
  }
  const fields = COMMAND_FIELDS[type as CommandType];
  for (const [name, field] of Object.entries(fields)) {
    const value = record[name];
    if (value === undefined && field.optional) continue;
    if (value === null && field.nullable) continue;
    if (!fits(field.kind, value)) {
      return { ok: false, ...refusal("INVALID_INPUT", `The request's "${name}" is missing or not valid.`) };
    }
    if (ID_FIELDS.has(name) && ((value as string).length === 0 || (value as string).length > MAX_ID_LENGTH)) {
      return { ok: false, ...refusal("INVALID_INPUT", `The request's "${name}" is missing or not valid.`) };
    }
  }
  return { ok: true, command: input as Command };
}
