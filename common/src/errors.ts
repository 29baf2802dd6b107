// Stable refusal codes shared by the engine, the server and the client.
// The code is for machines; the message is a sentence a person can act on.

export const ERROR_CODES = [
  // input
  "INVALID_INPUT",
  "INVALID_AMOUNT",
  "UNKNOWN_EVENT",
  "PAYLOAD_TOO_LARGE",
  // access
  "UNAUTHENTICATED",
  "TOKEN_EXPIRED",
  "TOKEN_INVALID",
  "FORBIDDEN_ORIGIN",
  "NOT_A_MEMBER",
  "WRONG_ROLE",
  "WRONG_SIDE",
  "NO_BIDDING_RIGHTS",
  "NOT_CREATOR",
  "ALREADY_MEMBER",
  "SESSION_NOT_FOUND",
  "INVITE_INVALID",
  "INVITE_USED",
  "INVITE_EXPIRED",
  "EMAIL_TAKEN",
  "INVALID_CREDENTIALS",
  // negotiation
  "WRONG_STEP",
  "SESSION_ENDED",
  "BIDDING_PAUSED",
  "RATE_LIMITED",
  "TERMS_CLOSED",
  "TERMS_VERSION_STALE",
  "NUMBERS_MISSING",
  "PROPOSAL_PENDING",
  "NO_PROPOSAL",
  "ALREADY_ANSWERED",
  "INVALID_DEADLINE",
  "INVALID_RULES",
  "ROOM_CLOSED",
  "LEDGER_ITEM_NOT_FOUND",
  "INVALID_TRANSITION",
  // infrastructure
  "CONFLICT",
  "TOO_MANY_REQUESTS",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface Refusal {
  code: ErrorCode;
  message: string;
}

export function refusal(code: ErrorCode, message: string): Refusal {
  return { code, message };
}
