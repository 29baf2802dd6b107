// CSV as RFC 4180 writes it (CRLF between records; a field holding a comma, quote, CR or LF is quoted, its quotes
// doubled), the tracker's rounds as CSV, and a file name that every desktop system accepts.
import { type Cents, minorUnitDigits, type Side } from "@backchannel/common";
import type { LedgerRound, RoundMove } from "./ledgerRounds";

export type CsvField = string | number | null;

/** One field: numbers as they are, text quoted when it must be. Null is an empty field. */
export function csvField(value: CsvField): string {
  if (value === null) return "";
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Records joined by CRLF, with a final CRLF (RFC 4180 allows it, and spreadsheets expect it). */
export function toCsv(rows: readonly (readonly CsvField[])[]): string {
  return rows.map((row) => row.map(csvField).join(",")).join("\r\n") + (rows.length > 0 ? "\r\n" : "");
}

/**
 * Free text typed by people (notes): a spreadsheet would run text starting with = + - @ (or a tab or CR) as a
 * formula, so such text gets a leading apostrophe. Amounts never pass through here: they stay plain numbers.
 */
export function csvText(text: string | null): string | null {
  if (text === null) return null;
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** An amount as a plain decimal number in the currency's unit, exactly: 1234567 USD "12345.67", -5 "-0.05", JPY "1234". */
export function decimalAmount(cents: Cents, currency: string): string {
  if (!Number.isSafeInteger(cents)) throw new Error("decimalAmount needs a whole number of minor units");
  const digits = minorUnitDigits(currency);
  const sign = cents < 0 ? "-" : "";
  const abs = String(Math.abs(cents));
  if (digits === 0) return `${sign}${abs}`;
  const padded = abs.padStart(digits + 1, "0");
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

const iso = (at: number | undefined | null) =>
  at === undefined || at === null ? null : new Date(at).toISOString();

export const ROUNDS_CSV_HEADER = [
  "Round",
  "Opened by",
  "Demand",
  "Demand conveyed at",
  "Demand status",
  "Demand note",
  "Offer",
  "Offer conveyed at",
  "Offer status",
  "Offer note",
  "Gap (latest demand minus latest offer)",
  "Midpoint (signal only)",
  "Currency",
] as const;

/** The rounds as CSV: one record per round, amounts as plain decimals, times in ISO 8601 (UTC). */
export function roundsCsv(rounds: readonly LedgerRound[], currency: string): string {
  const amount = (c: Cents | null) => (c === null ? null : decimalAmount(c, currency));
  const move = (m: RoundMove | null): CsvField[] => [
    amount(m?.amount ?? null),
    iso(m?.at),
    m?.state ?? null,
    csvText(m?.note ?? null),
  ];
  const side = (s: Side) => (s === "claimant" ? "Claimant" : "Respondent");
  return toCsv([
    [...ROUNDS_CSV_HEADER],
    ...rounds.map((r) => [
      r.number,
      side(r.openedBy),
      ...move(r.demand),
      ...move(r.offer),
      amount(r.gap),
      amount(r.midpoint),
      currency,
    ]),
  ]);
}

const MAX_TITLE_CHARS = 80;

/**
 * "<session title> ledger.csv", safe as a file name on Windows, macOS and Linux: no path separators, reserved
 * characters (\ / : * ? " < > |) or control characters (newlines included); runs of spaces made one; no leading or
 * trailing dots and spaces; the title cut to 80 characters (never inside a surrogate pair). An empty title: "Session".
 */
export function ledgerFileName(title: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const cleaned = title.replace(/[\\/:*?"<>|\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ");
  let t = cleaned.replace(/\s+/g, " ").trim();
  t = Array.from(t).slice(0, MAX_TITLE_CHARS).join("");
  t = t.replace(/^[.\s]+|[.\s]+$/g, "");
  return `${t || "Session"} ledger.csv`;
}
