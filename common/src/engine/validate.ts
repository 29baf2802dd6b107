// Commands arriving from outside are parsed with their one schema (./commands.ts), so decide refuses bad input
// instead of throwing. The refusal names the field and what is wrong, never the value received.

import type { z } from "zod";
import type { Refusal } from "../errors";
import { refusal } from "../errors";
import { checkAmount } from "../money";
import { AMOUNT_FIELDS, type Command, commandSchema } from "./commands";

/**
 * The refusal for a command its schema refused: INVALID_AMOUNT for an amount (missing or bad: one path; with the
 * session's currency, a too-large amount names the bound in it), INVALID_RULES for the rules, else INVALID_INPUT.
 */
export function commandRefusal(error: z.ZodError, input: unknown, currency?: string): Refusal {
  const issue = error.issues[0];
  if (!issue) return refusal("INVALID_INPUT", "The request is not valid.");
  const [field] = issue.path;
  if (typeof field === "string" && AMOUNT_FIELDS.has(field)) {
    const value =
      typeof input === "object" && input !== null ? (input as Record<string, unknown>)[field] : undefined;
    const checked = checkAmount(value, currency);
    return refusal("INVALID_AMOUNT", `${checked.ok ? issue.message : checked.message}.`);
  }
  if (field === "rules") return refusal("INVALID_RULES", issue.message);
  const where = issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  return refusal("INVALID_INPUT", `${where}${issue.message}.`);
}

/** Parses `input` as a command: the command (trimmed, defaults filled, creation rules resolved), or a refusal. */
export function checkCommandShape(
  input: unknown,
  currency?: string,
): { ok: true; command: Command } | ({ ok: false } & Refusal) {
  const parsed = commandSchema.safeParse(input);
  if (parsed.success) return { ok: true, command: parsed.data };
  return { ok: false, ...commandRefusal(parsed.error, input, currency) };
}
