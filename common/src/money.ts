import { z } from "zod";

/** An amount in integer minor units of the session's currency ("cents" for short, whatever the currency). */
export type Cents = number;

/** RULES.md: a bid is at most 10^13 minor units. Well below 2^53, so all arithmetic on amounts is exact. */
export const MAX_AMOUNT_CENTS = 10_000_000_000_000;

export const AMOUNT_NOT_WHOLE_MESSAGE = "The amount must be a whole number of cents";
export const AMOUNT_NOT_POSITIVE_MESSAGE = "The amount must be more than zero";
/**
 * For an amount too large when the currency is not known (a protocol payload checked before its session is read):
 * true in every currency, since the bound is in minor units. With the currency, see amountTooLargeMessage.
 */
export const AMOUNT_TOO_LARGE_MESSAGE =
  "The amount can be at most 10,000,000,000,000 of the currency's smallest unit (cents for USD)";
export const CURRENCY_MESSAGE = "The currency must be a three-letter ISO 4217 code such as USD";

let knownCurrencies: ReadonlySet<string> | undefined;

/** True when the runtime's Intl knows this ISO 4217 code (well-formed but unknown codes like "XYZ" are refused). */
export function isKnownCurrency(code: string): boolean {
  if (!/^[A-Z]{3}$/.test(code)) return false;
  if (typeof Intl.supportedValuesOf === "function") {
    knownCurrencies ??= new Set(Intl.supportedValuesOf("currency"));
    return knownCurrencies.has(code);
  }
  // Older runtimes: NumberFormat accepts any well-formed code, so this is the best check available.
  try {
    new Intl.NumberFormat("en", { style: "currency", currency: code });
    return true;
  } catch {
    return false;
  }
}

export const currencySchema = z
  .string({ error: CURRENCY_MESSAGE })
  .refine(isKnownCurrency, { error: CURRENCY_MESSAGE });

const digitsCache = new Map<string, number>();

/** How many minor-unit digits the currency has: USD 2, JPY 0, BHD 3. */
export function minorUnitDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    if (!isKnownCurrency(currency)) throw new Error("Unknown currency code");
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
    if (digits === undefined) throw new Error("Intl did not report the currency's fraction digits");
    digitsCache.set(currency, digits);
  }
  return digits;
}

/** How many minor units make one whole currency unit (100 for USD, 1 for JPY). */
export function minorUnitsPerUnit(currency: string): number {
  return 10 ** minorUnitDigits(currency);
}

/** "The amount can be at most $100,000,000,000.00" (¥10,000,000,000,000 for JPY, BHD 10,000,000,000.000). */
export function amountTooLargeMessage(currency: string): string {
  return `The amount can be at most ${formatAmount(MAX_AMOUNT_CENTS, currency)}`;
}

export type AmountCheck = { ok: true; amount: Cents } | { ok: false; message: string };

/**
 * The bid rules of RULES.md "Money", for values arriving from outside (a form, a socket payload). With the
 * session's currency, the message for too large an amount names the bound in that currency.
 */
export function checkAmount(x: unknown, currency?: string): AmountCheck {
  if (typeof x !== "number" || !Number.isInteger(x)) return { ok: false, message: AMOUNT_NOT_WHOLE_MESSAGE };
  if (x <= 0) return { ok: false, message: AMOUNT_NOT_POSITIVE_MESSAGE };
  if (x > MAX_AMOUNT_CENTS) {
    return {
      ok: false,
      message: currency === undefined ? AMOUNT_TOO_LARGE_MESSAGE : amountTooLargeMessage(currency),
    };
  }
  return { ok: true, amount: x };
}

/** checkAmount as a zod schema, for protocol payloads; one implementation so the messages cannot drift. */
export const amountSchema = z.number({ error: AMOUNT_NOT_WHOLE_MESSAGE }).superRefine((x, ctx) => {
  const checked = checkAmount(x);
  if (!checked.ok) ctx.addIssue({ code: "custom", message: checked.message });
});

// Longer input is certainly not an amount; the cap keeps the regular expressions cheap.
const MAX_INPUT_LENGTH = 64;
const CURRENCY_SYMBOLS = /\p{Sc}/gu;
// \s covers the no-break and narrow no-break spaces that locales use as thousands separators.
const SPACES = /\s/gu;
const PLAIN_DIGITS = /^\d+$/;
const COMMA_GROUPED_DIGITS = /^\d{1,3}(,\d{3})+$/;

/**
 * Reads an amount typed by a person: "12,345.67", "$12,345", "12345.6", " 1 000 ", "USD 500".
 * Decimal point only; commas must group thousands, so a decimal comma ("12,50") is refused rather than
 * silently read as 1250. Parsing is on digit strings, so "0.29" is exactly 29 cents.
 */
export function parseAmount(text: string, currency: string): AmountCheck {
  const digits = minorUnitDigits(currency);
  const example = digits > 0 ? `12,345.${"6789".slice(0, digits)}` : "12,345";
  const garbage = { ok: false as const, message: `Enter an amount like ${example}` };
  if (text.length > MAX_INPUT_LENGTH) return garbage;

  let s = text.replace(CURRENCY_SYMBOLS, "").replace(SPACES, "");
  const upper = s.toUpperCase();
  if (upper.startsWith(currency)) s = s.slice(currency.length);
  else if (upper.endsWith(currency)) s = s.slice(0, s.length - currency.length);

  if (s.startsWith("-") || s.startsWith("\u2212")) return { ok: false, message: AMOUNT_NOT_POSITIVE_MESSAGE };
  if (s.startsWith("+")) s = s.slice(1);

  const point = s.indexOf(".");
  const integerPart = point === -1 ? s : s.slice(0, point);
  const fractionPart = point === -1 ? "" : s.slice(point + 1);
  if (integerPart === "" && fractionPart === "") return garbage;
  if (integerPart !== "" && !PLAIN_DIGITS.test(integerPart) && !COMMA_GROUPED_DIGITS.test(integerPart)) {
    return garbage;
  }
  if (fractionPart !== "" && !PLAIN_DIGITS.test(fractionPart)) return garbage;
  if (fractionPart.length > digits) {
    const message =
      digits === 0
        ? `${currency} amounts have no decimal places`
        : `${currency} amounts have at most ${digits} decimal place${digits === 1 ? "" : "s"}`;
    return { ok: false, message };
  }

  const minorUnits =
    BigInt(integerPart.replace(/,/g, "") || "0") * 10n ** BigInt(digits) +
    BigInt(fractionPart.padEnd(digits, "0") || "0");
  if (minorUnits === 0n) return { ok: false, message: AMOUNT_NOT_POSITIVE_MESSAGE };
  if (minorUnits > BigInt(MAX_AMOUNT_CENTS)) {
    return { ok: false, message: amountTooLargeMessage(currency) };
  }
  return { ok: true, amount: Number(minorUnits) };
}

/** Formats minor units for display: 1234567 USD -> "$12,345.67", 1234 JPY -> "¥1,234". */
export function formatAmount(cents: Cents, currency: string, locale = "en-US"): string {
  if (!Number.isSafeInteger(cents)) throw new Error("formatAmount needs a whole number of minor units");
  const digits = minorUnitDigits(currency);
  return currencyFormat(locale, currency).format(toDecimalString(cents, digits));
}

const formats = new Map<string, Intl.NumberFormat>();
/** At most this many formatters are kept (a locale and currency each); past it the cache starts again. */
const FORMATS_KEPT = 256;

/**
 * One Intl.NumberFormat per locale, currency and options, made once: making one costs ~25 µs, using one ~0.5 µs, and
 * a session view formats about twenty amounts (its rules text among them). Formatters are immutable, so sharing is
 * safe. The locale comes from callers, so the cache is bounded.
 */
export function currencyFormat(locale: string, currency: string, wholeUnits = false): Intl.NumberFormat {
  const key = `${locale} ${currency} ${wholeUnits ? 0 : ""}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(
      locale,
      wholeUnits
        ? { style: "currency", currency, minimumFractionDigits: 0, maximumFractionDigits: 0 }
        : { style: "currency", currency },
    );
    if (formats.size >= FORMATS_KEPT) formats.clear();
    formats.set(key, format);
  }
  return format;
}

/** Exact decimal text of an amount ("-12.05"), so formatting never goes through a binary fraction. */
function toDecimalString(cents: Cents, digits: number): `${number}` {
  const sign = cents < 0 ? "-" : "";
  const abs = String(Math.abs(cents));
  if (digits === 0) return `${sign}${abs}` as `${number}`;
  const padded = abs.padStart(digits + 1, "0");
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}` as `${number}`;
}
