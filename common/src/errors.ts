// Stable refusal codes shared by the engine, the server and the client, and the one factory for each refusal the
// server sends of its own (the engine's negotiation refusals are written in the engine, beside their rules).
// The code is for machines; the message is a sentence a person can act on. A message never holds a submitted
// value: a refused number must not come back in an error, or reach a log line.

export const ERROR_CODES = [
  // input
  "INVALID_INPUT",
  "INVALID_AMOUNT",
  "UNKNOWN_EVENT",
  "PAYLOAD_TOO_LARGE",
  "NOT_FOUND",
  "PROTOCOL_UNSUPPORTED",
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
  /** epoch ms from which trying again can succeed (RATE_LIMITED, TOO_MANY_REQUESTS) */
  retryAt?: number;
}

export function refusal(code: ErrorCode, message: string, retryAt?: number): Refusal {
  return retryAt === undefined ? { code, message } : { code, message, retryAt };
}

/**
 * One factory per refusal the server sends itself, so each sentence is written once. Where the situation differs
 * (a field, a limit, a route), the factory takes what differs; the rest of the sentence stays here.
 */
export const errors = {
  /** A field that failed its schema: the message starts with the field's path ("command.title: "), never its value. */
  invalidInput: (message: string) => refusal("INVALID_INPUT", message),
  /** An amount field that failed its schema (the message names the field and the bound, never the value). */
  invalidAmount: (message: string) => refusal("INVALID_AMOUNT", message),
  invalidJson: () => refusal("INVALID_INPUT", "The request body is not valid JSON."),
  /** A request Express cannot read: a path that is not valid percent-encoding, a charset or encoding it cannot decode. */
  unreadableRequest: () =>
    refusal(
      "INVALID_INPUT",
      "The request could not be read: send a path in valid percent-encoding and a JSON body in UTF-8, uncompressed or with gzip, deflate or br.",
    ),
  onePayload: () => refusal("INVALID_INPUT", "Send one payload object with this event."),
  unknownEvent: () => refusal("UNKNOWN_EVENT", "There is no such event. See docs/protocol.md."),
  unknownRoute: () => refusal("UNKNOWN_EVENT", "There is no such API route. See docs/protocol.md."),
  payloadTooLarge: (limit: string) =>
    refusal("PAYLOAD_TOO_LARGE", `The request body is larger than ${limit}.`),
  /** A path a node does not serve at all (a worker serves only health and readiness). */
  notFound: (message: string) => refusal("NOT_FOUND", message),
  protocolUnsupported: () => refusal("PROTOCOL_UNSUPPORTED", "This page is out of date: reload it."),
  unauthenticated: () => refusal("UNAUTHENTICATED", "Sign in first: no session token was sent."),
  tokenExpired: () => refusal("TOKEN_EXPIRED", "Your sign-in has expired. Sign in again."),
  tokenInvalid: () => refusal("TOKEN_INVALID", "Your sign-in is not valid. Sign in again."),
  /** A session that does not exist and one the caller is not in answer alike: membership is never disclosed. */
  sessionNotFound: () => refusal("SESSION_NOT_FOUND", "There is no such session, or you are not in it."),
  wrongRole: (message: string) => refusal("WRONG_ROLE", message),
  inviteInvalid: () =>
    refusal(
      "INVITE_INVALID",
      "This invitation link is not valid. Check that you copied all of it, or ask for a new one.",
    ),
  noSuchInvitation: () => refusal("INVITE_INVALID", "There is no such invitation in this session."),
  inviteUsed: () =>
    refusal(
      "INVITE_USED",
      "This invitation has already been used. Ask the person who invited you for a new one.",
    ),
  inviteExpired: () =>
    refusal("INVITE_EXPIRED", "This invitation has expired. Ask the person who invited you for a new one."),
  emailTaken: () => refusal("EMAIL_TAKEN", "An account with this email already exists. Sign in instead."),
  invalidCredentials: () => refusal("INVALID_CREDENTIALS", "The email or password is incorrect."),
  invalidRules: (message: string) => refusal("INVALID_RULES", message),
  sessionEnded: () => refusal("SESSION_ENDED", "This session has ended."),
  idempotencyKeyReused: () =>
    refusal(
      "CONFLICT",
      "This idempotency key was already used for a different request. Use a new key for a new action.",
    ),
  concurrentChange: () =>
    refusal("CONFLICT", "The session changed at the same moment. Nothing was saved; please try again."),
  /** A flood limit: `what` says which, the rest says when (TOO_MANY_REQUESTS, with retryAt). */
  tooManyRequests: (message: string, retryAt: number) => refusal("TOO_MANY_REQUESTS", message, retryAt),
  internal: () =>
    refusal(
      "INTERNAL",
      "Something went wrong on our side, and it may not have been saved. Retry the same request (with the same idempotency key): it is applied at most once.",
    ),
  handshakeFailed: () => refusal("INTERNAL", "Something went wrong on our side. Try connecting again."),
} as const;
