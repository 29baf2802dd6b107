// Structured logging (pino). Amounts never reach a logger: the callers never pass one. The redaction list
// below is the second line of defence, for the day a whole object (a command, an event, a request) is logged.

import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

// Field names that hold a secret or a confidential number, wherever they appear in a logged object.
const SENSITIVE_KEYS = [
  // credentials
  "password",
  "newPassword",
  "currentPassword",
  "passwordHash",
  "password_hash",
  "token",
  "accessToken",
  "refreshToken",
  "inviteToken",
  "secret",
  "jwtSecret",
  "masterKey",
  "dataKey",
  "authorization",
  "cookie",
  "set-cookie",
  // confidential numbers (RULES.md: a number never reaches a log line)
  "amount",
  "demand",
  "offer",
  "number",
  "bid",
  "proposal",
  "proposedAmount",
  "dealAmount",
  "ciphertext",
];

function pathFor(prefix: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${prefix}${prefix ? "." : ""}${key}` : `${prefix}["${key}"]`;
}

/** Each sensitive key at the top level and up to three levels deep (pino's wildcards match one level). */
const REDACT_PATHS: string[] = SENSITIVE_KEYS.flatMap((key) => [
  pathFor("", key),
  pathFor("*", key),
  pathFor("*.*", key),
  pathFor("*.*.*", key),
]);

export interface LoggerOptions {
  level: string;
  name?: string;
}

export function createLogger(cfg: LoggerOptions, destination?: DestinationStream): Logger {
  return pino(
    {
      level: cfg.level,
      name: cfg.name ?? "backchannel",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      base: { pid: process.pid },
    },
    destination,
  );
}

export const silentLogger: Logger = pino({ level: "silent" });

/** An error as a log field: its name and message only (no stack, no properties that might carry a value). */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : "unknown error";
}
