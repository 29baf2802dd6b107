// Parsing a request's payload (a REST body, a socket event's payload) with its zod schema from common/, for the
// HTTP routes and the socket gateway alike. A refusal names the field and the expectation, never the value.
import { errors, invalidInputAck } from "@backchannel/common";
import type { z } from "zod";
import { AppError } from "./errors";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an id (of a user, a session, an invitation) has a UUID's shape: anything else was never issued. */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}

interface Schema<T> {
  safeParse(x: unknown): { success: true; data: T } | { success: false; error: z.ZodError };
}

/** The parsed payload, or an AppError (INVALID_AMOUNT for an amount field, else INVALID_INPUT). */
export function parsePayload<T>(schema: Schema<T>, payload: unknown): T {
  const r = schema.safeParse(payload);
  if (r.success) return r.data;
  // The same words a socket ack would carry (common's invalidInputAck), as an error this server throws.
  const ack = invalidInputAck(r.error);
  throw new AppError(
    ack.code === "INVALID_AMOUNT" ? errors.invalidAmount(ack.message) : errors.invalidInput(ack.message),
  );
}
