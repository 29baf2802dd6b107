// Parsing a request's payload (a REST body, a socket event's payload) with its zod schema from common/, for the
// HTTP routes and the socket gateway alike. A refusal names the field and the expectation, never the value.
import { errors } from "@backchannel/common";
import { AppError } from "./errors";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an id (of a user, a session, an invitation) has a UUID's shape: anything else was never issued. */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/** Every amount field of a client command (the bracket's two included): a refusal there is INVALID_AMOUNT. */
const AMOUNT_FIELDS = new Set(["amount", "ourAmount", "theirAmount"]);

interface Schema<T> {
  safeParse(
    x: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
}

/** The parsed payload, or an AppError (INVALID_AMOUNT for an amount field, else INVALID_INPUT). */
export function parsePayload<T>(schema: Schema<T>, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  const message = `${where}${issue?.message ?? "The request is not valid."}`;
  const amount = issue?.path.some((p) => typeof p === "string" && AMOUNT_FIELDS.has(p));
  throw new AppError(amount ? errors.invalidAmount(message) : errors.invalidInput(message));
}
