// Typed application errors with stable codes. Handlers throw them; the HTTP and socket layers map them.
// Their sentences come from the factories in common/src/errors.ts (`throw new AppError(errors.sessionNotFound())`).
import { type ErrorCode, errors, type Refusal } from "@backchannel/common";

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  INVALID_AMOUNT: 400,
  UNKNOWN_EVENT: 400,
  INVALID_RULES: 400,
  INVALID_DEADLINE: 400,
  PROTOCOL_UNSUPPORTED: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_INVALID: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN_ORIGIN: 403,
  NOT_A_MEMBER: 403,
  WRONG_ROLE: 403,
  WRONG_SIDE: 403,
  NO_BIDDING_RIGHTS: 403,
  NOT_CREATOR: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  INVITE_INVALID: 404,
  INVITE_USED: 410,
  INVITE_EXPIRED: 410,
  EMAIL_TAKEN: 409,
  ALREADY_MEMBER: 409,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  /** epoch ms when the refused action becomes possible (e.g. the next allowed change under RATE_LIMITED) */
  readonly retryAt?: number;
  /** From a refusal (a factory of common/src/errors.ts, or the engine's), or from a code and a sentence. */
  constructor(refusal: Refusal);
  constructor(code: ErrorCode, message: string, retryAt?: number);
  constructor(codeOrRefusal: ErrorCode | Refusal, message?: string, retryAt?: number) {
    const r = typeof codeOrRefusal === "string" ? { code: codeOrRefusal, message, retryAt } : codeOrRefusal;
    super(r.message ?? "");
    this.code = r.code;
    if (r.retryAt !== undefined) this.retryAt = r.retryAt;
  }
  get status(): number {
    // Negotiation refusals (wrong step, ended, paused...) are a conflict with the session's state.
    return STATUS[this.code] ?? 409;
  }
}

/** Anything unexpected becomes INTERNAL with a generic sentence: no stack, no detail, no number. */
export function toPublicError(err: unknown): Refusal & { status: number } {
  if (err instanceof AppError) {
    const e = { code: err.code, message: err.message, status: err.status };
    return err.retryAt === undefined ? e : { ...e, retryAt: err.retryAt };
  }
  return { ...errors.internal(), status: 500 };
}

/** The HTTP error body for a refusal: `{ error: { code, message, retryAt? } }`. */
export function errorBody(r: Refusal): { error: Refusal } {
  return { error: r.retryAt === undefined ? { code: r.code, message: r.message } : r };
}
