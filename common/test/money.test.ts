import { randomInt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  amountSchema,
  amountTooLargeMessage,
  checkAmount,
  currencyFormat,
  currencySchema,
  formatAmount,
  MAX_AMOUNT_CENTS,
  minorUnitDigits,
  parseAmount,
} from "../src/money";

// FC_SEED replays a failure; fast-check prints the seed in its error message.
const fcParams = {
  seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : randomInt(2 ** 31 - 1),
  numRuns: Number(process.env.FC_RUNS ?? 1000),
};

describe("Money: a bid is a whole number of cents, > 0 and <= 10^13", () => {
  test("the bound is 10^13 cents", () => {
    expect(MAX_AMOUNT_CENTS).toBe(10 ** 13);
  });

  test("checkAmount accepts 1 cent and the bound", () => {
    expect(checkAmount(1)).toEqual({ ok: true, amount: 1 });
    expect(checkAmount(MAX_AMOUNT_CENTS)).toEqual({ ok: true, amount: MAX_AMOUNT_CENTS });
  });

  test.each([
    [Number.NaN, "The amount must be a whole number of cents"],
    [Number.POSITIVE_INFINITY, "The amount must be a whole number of cents"],
    [Number.NEGATIVE_INFINITY, "The amount must be a whole number of cents"],
    ["100", "The amount must be a whole number of cents"],
    [null, "The amount must be a whole number of cents"],
    [undefined, "The amount must be a whole number of cents"],
    [100n, "The amount must be a whole number of cents"],
    [{ amount: 1 }, "The amount must be a whole number of cents"],
    [12.5, "The amount must be a whole number of cents"],
    [0.1, "The amount must be a whole number of cents"],
    [-1, "The amount must be more than zero"],
    [0, "The amount must be more than zero"],
    [-0, "The amount must be more than zero"],
    [
      MAX_AMOUNT_CENTS + 1,
      "The amount can be at most 10,000,000,000,000 of the currency's smallest unit (cents for USD)",
    ],
  ])("checkAmount refuses %s", (value, message) => {
    expect(checkAmount(value)).toEqual({ ok: false, message });
  });

  test.each([
    ["USD", "The amount can be at most $100,000,000,000.00"],
    ["EUR", "The amount can be at most €100,000,000,000.00"],
    ["JPY", "The amount can be at most ¥10,000,000,000,000"],
    ["BHD", "The amount can be at most BHD\u00a010,000,000,000.000"],
  ])("with the session's currency, the largest amount is named in %s", (currency, message) => {
    expect(checkAmount(MAX_AMOUNT_CENTS + 1, currency)).toEqual({ ok: false, message });
    expect(amountTooLargeMessage(currency)).toBe(message);
    // The same words as parseAmount uses for a typed amount.
    expect(parseAmount("99999999999999999999999", currency)).toEqual({ ok: false, message });
    expect(checkAmount(MAX_AMOUNT_CENTS, currency)).toEqual({ ok: true, amount: MAX_AMOUNT_CENTS });
  });

  test("without a currency, the message is true in every currency (no USD figure)", () => {
    const check = checkAmount(MAX_AMOUNT_CENTS + 1);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.message).not.toContain("100,000,000,000.00");
  });

  test("amountSchema refuses with the same human messages", () => {
    const message = (x: unknown) => amountSchema.safeParse(x).error?.issues[0]?.message;
    expect(message(Number.NaN)).toBe("The amount must be a whole number of cents");
    expect(message(Number.POSITIVE_INFINITY)).toBe("The amount must be a whole number of cents");
    expect(message("5")).toBe("The amount must be a whole number of cents");
    expect(message(1.5)).toBe("The amount must be a whole number of cents");
    expect(message(0)).toBe("The amount must be more than zero");
    expect(message(-3)).toBe("The amount must be more than zero");
    expect(message(MAX_AMOUNT_CENTS + 1)).toBe(
      "The amount can be at most 10,000,000,000,000 of the currency's smallest unit (cents for USD)",
    );
    expect(amountSchema.parse(MAX_AMOUNT_CENTS)).toBe(MAX_AMOUNT_CENTS);
  });

  test("amountSchema and checkAmount agree on every value (property)", () => {
    const values = fc.oneof(
      fc.integer({ min: -10, max: 10 }),
      fc.integer({ min: MAX_AMOUNT_CENTS - 10, max: MAX_AMOUNT_CENTS + 10 }),
      fc.maxSafeInteger(),
      fc.double(),
      fc.string(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(values, (value) => {
        const fromSchema = amountSchema.safeParse(value);
        const fromCheck = checkAmount(value);
        expect(fromSchema.success).toBe(fromCheck.ok);
        if (!fromCheck.ok) expect(fromSchema.error?.issues[0]?.message).toBe(fromCheck.message);
      }),
      fcParams,
    );
  });
});

describe("Money: one ISO 4217 currency per session", () => {
  test.each(["USD", "EUR", "JPY", "GBP", "BHD"])("currencySchema accepts %s", (code) => {
    expect(currencySchema.safeParse(code).success).toBe(true);
  });

  test.each(["usd", "US", "USDD", "XYZ", "", "U5D", 840])("currencySchema refuses %s", (code) => {
    const result = currencySchema.safeParse(code);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      "The currency must be a three-letter ISO 4217 code such as USD",
    );
  });

  test("minorUnitDigits follows the currency: USD 2, JPY 0, BHD 3", () => {
    expect(minorUnitDigits("USD")).toBe(2);
    expect(minorUnitDigits("JPY")).toBe(0);
    expect(minorUnitDigits("BHD")).toBe(3);
  });

  test("minorUnitDigits refuses an unknown currency", () => {
    expect(() => minorUnitDigits("XYZ")).toThrow();
  });
});

describe("Money: parsing typed amounts exactly", () => {
  test.each([
    ["12,345.67", 1_234_567],
    ["$12,345", 1_234_500],
    ["12345.6", 1_234_560],
    [" 1 000 ", 100_000],
    ["1\u00a0000.00", 100_000],
    ["1\u202f000", 100_000],
    ["0.29", 29],
    ["0.01", 1],
    ["1.1", 110],
    [".5", 50],
    ["5.", 500],
    ["+5", 500],
    ["USD 5", 500],
    ["5 usd", 500],
    ["$ 1,234,567.89", 123_456_789],
    ["100,000,000,000.00", MAX_AMOUNT_CENTS],
    ["007", 700],
  ])("parseAmount reads %j as %d cents of USD", (text, cents) => {
    expect(parseAmount(text, "USD")).toEqual({ ok: true, amount: cents });
  });

  test.each([
    ["1.005", "USD amounts have at most 2 decimal places"],
    ["0.001", "USD amounts have at most 2 decimal places"],
    ["-5", "The amount must be more than zero"],
    ["-$5", "The amount must be more than zero"],
    ["\u22125", "The amount must be more than zero"],
    ["0", "The amount must be more than zero"],
    ["0.00", "The amount must be more than zero"],
    ["100,000,000,000.01", "The amount can be at most $100,000,000,000.00"],
    ["99999999999999999999999", "The amount can be at most $100,000,000,000.00"],
    ["", "Enter an amount like 12,345.67"],
    ["   ", "Enter an amount like 12,345.67"],
    ["$", "Enter an amount like 12,345.67"],
    ["abc", "Enter an amount like 12,345.67"],
    ["12abc", "Enter an amount like 12,345.67"],
    ["1e5", "Enter an amount like 12,345.67"],
    ["Infinity", "Enter an amount like 12,345.67"],
    ["NaN", "Enter an amount like 12,345.67"],
    ["0x10", "Enter an amount like 12,345.67"],
    ["1.2.3", "Enter an amount like 12,345.67"],
    ["12,50", "Enter an amount like 12,345.67"],
    ["1,2345", "Enter an amount like 12,345.67"],
    [",123", "Enter an amount like 12,345.67"],
    ["1.234,56", "Enter an amount like 12,345.67"],
    ["5 EUR", "Enter an amount like 12,345.67"],
    ["1".repeat(65), "Enter an amount like 12,345.67"],
  ])("parseAmount refuses %j for USD", (text, message) => {
    expect(parseAmount(text, "USD")).toEqual({ ok: false, message });
  });

  test("parseAmount follows the currency's decimals: JPY has none, BHD has three", () => {
    expect(parseAmount("¥1,234", "JPY")).toEqual({ ok: true, amount: 1234 });
    expect(parseAmount("12.5", "JPY")).toEqual({ ok: false, message: "JPY amounts have no decimal places" });
    expect(parseAmount("1.005", "BHD")).toEqual({ ok: true, amount: 1005 });
    expect(parseAmount("1.0005", "BHD")).toEqual({
      ok: false,
      message: "BHD amounts have at most 3 decimal places",
    });
    expect(parseAmount("10,000,000,000,001", "JPY")).toEqual({
      ok: false,
      message: "The amount can be at most ¥10,000,000,000,000",
    });
  });

  test("parseAmount of a plain decimal string is exact for every amount (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_AMOUNT_CENTS }), (cents) => {
        const text = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
        expect(parseAmount(text, "USD")).toEqual({ ok: true, amount: cents });
      }),
      fcParams,
    );
  });
});

describe("Money: formatting and round trips", () => {
  test.each([
    [1_234_567, "USD", "$12,345.67"],
    [5, "USD", "$0.05"],
    [100, "USD", "$1.00"],
    [MAX_AMOUNT_CENTS, "USD", "$100,000,000,000.00"],
    [1234, "JPY", "¥1,234"],
    [29, "EUR", "€0.29"],
  ])("formatAmount(%d, %s) is %s", (cents, currency, text) => {
    expect(formatAmount(cents, currency)).toBe(text);
  });

  test("formatAmount takes a locale", () => {
    expect(formatAmount(1_234_567, "EUR", "de-DE")).toBe("12.345,67\u00a0€");
  });

  test("formatters are shared per locale, currency and whole units, and each formats as a fresh one would", () => {
    // Every currency Intl knows, in three locales and both forms: more formatters than the cache keeps, so it is
    // also cleared and filled again on the way; each is checked against a formatter made for the call alone.
    const currencies = Intl.supportedValuesOf("currency").filter((c) => /^[A-Z]{3}$/.test(c));
    for (const locale of ["en-US", "de-DE", "ja-JP"])
      for (const currency of currencies)
        for (const wholeUnits of [false, true]) {
          const fresh = new Intl.NumberFormat(
            locale,
            wholeUnits
              ? { style: "currency", currency, minimumFractionDigits: 0, maximumFractionDigits: 0 }
              : { style: "currency", currency },
          );
          expect(currencyFormat(locale, currency, wholeUnits).format("1234.5")).toBe(fresh.format("1234.5"));
        }
    expect(currencyFormat("en-US", "USD")).toBe(currencyFormat("en-US", "USD"));
    // The whole-unit and the ordinary formatter of one currency never stand in for each other.
    expect(formatAmount(150, "USD")).toBe("$1.50");
    expect(currencyFormat("en-US", "USD", true).format(1.5)).toBe("$2");
    expect(formatAmount(150, "USD")).toBe("$1.50");
  });

  test("formatAmount refuses a fractional number of cents", () => {
    expect(() => formatAmount(1.5, "USD")).toThrow();
  });

  test.each(["USD", "EUR", "JPY", "BHD", "GBP"])(
    "parseAmount(formatAmount(x)) === x for every amount in %s (property)",
    (currency) => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: MAX_AMOUNT_CENTS }), (cents) => {
          expect(parseAmount(formatAmount(cents, currency), currency)).toEqual({ ok: true, amount: cents });
        }),
        fcParams,
      );
    },
  );
});
