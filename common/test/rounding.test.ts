import { randomInt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { MAX_AMOUNT_CENTS } from "../src/money";
import { ROUNDING_TABLE, roundingSteps, roundNeutral } from "../src/rounding";

// FC_SEED replays a failure; fast-check prints the seed in its error message.
const fcParams = {
  seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : randomInt(2 ** 31 - 1),
  numRuns: Number(process.env.FC_RUNS ?? 1000),
};

/** USD cents from whole dollars and cents, for readable cases. */
const usd = (dollars: number, cents = 0) => dollars * 100 + cents;
// A range wide enough that the row's own step always fits.
const wide = (amount: number) => [1, MAX_AMOUNT_CENTS, amount] as const;

describe("Neutral rounding table: rows as published in RULES.md", () => {
  test("the table has the five rows of RULES.md", () => {
    expect(ROUNDING_TABLE).toEqual([
      { fromUnits: 0, toUnits: 999, nearestUnits: 1 },
      { fromUnits: 1_000, toUnits: 9_999, nearestUnits: 10 },
      { fromUnits: 10_000, toUnits: 99_999, nearestUnits: 100 },
      { fromUnits: 100_000, toUnits: 999_999, nearestUnits: 1_000 },
      { fromUnits: 1_000_000, toUnits: null, nearestUnits: 10_000 },
    ]);
  });

  test.each([
    ["below 1,000 rounds to the nearest 1", usd(123, 45), usd(123)],
    ["below 1,000 rounds half up", usd(123, 50), usd(124)],
    ["999.50 is still in the first row and rounds up to 1,000", usd(999, 50), usd(1_000)],
    ["1,000 to 9,999 rounds to the nearest 10", usd(1_234, 56), usd(1_230)],
    ["1,000 to 9,999 rounds half up", usd(1_235), usd(1_240)],
    ["9,999.99 is in the 1,000 row", usd(9_999, 99), usd(10_000)],
    ["10,000 to 99,999 rounds to the nearest 100", usd(12_345, 67), usd(12_300)],
    ["100,000 to 999,999 rounds to the nearest 1,000", usd(123_456, 78), usd(123_000)],
    ["100,000 to 999,999 rounds half up", usd(123_500), usd(124_000)],
    ["1,000,000 and above rounds to the nearest 10,000", usd(1_234_567, 89), usd(1_230_000)],
    ["1,000,000 and above rounds half up", usd(1_235_000), usd(1_240_000)],
    ["the bound itself stays on the grid", MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS],
  ])("%s", (_rule, amount, expected) => {
    const [lo, hi] = wide(amount);
    expect(roundNeutral(amount, lo, hi, "USD")).toBe(expected);
  });

  test("the row is picked in whole units of the currency: JPY has no cents", () => {
    expect(roundNeutral(1_234_567, 1, MAX_AMOUNT_CENTS, "JPY")).toBe(1_230_000);
    expect(roundNeutral(1_234, 1, MAX_AMOUNT_CENTS, "JPY")).toBe(1_230);
    expect(roundNeutral(999, 1, MAX_AMOUNT_CENTS, "JPY")).toBe(999);
  });

  test("the row is picked in whole units of the currency: BHD has three decimals", () => {
    expect(roundNeutral(1_234_567, 1, MAX_AMOUNT_CENTS, "BHD")).toBe(1_230_000);
    expect(roundingSteps(1_234_567, "BHD")).toEqual([10_000, 1_000, 1]);
  });

  test("roundingSteps lists the row's step, every finer row, then one cent", () => {
    expect(roundingSteps(usd(1_234_567), "USD")).toEqual([1_000_000, 100_000, 10_000, 1_000, 100, 1]);
    expect(roundingSteps(usd(500), "USD")).toEqual([100, 1]);
    expect(roundingSteps(500, "JPY")).toEqual([1]);
  });
});

describe("Neutral rounding table: if the rounded amount falls outside the range, use the next finer row", () => {
  // RULES.md's example situation: an overlap of [1,000,001.00 .. 1,000,004.99].
  const lo = usd(1_000_001);
  const hi = usd(1_000_004, 99);

  test("in [1,000,001.00 .. 1,000,004.99] every coarser row gives 1,000,000, so whole units are used", () => {
    expect(roundNeutral(usd(1_000_003, 20), lo, hi, "USD")).toBe(usd(1_000_003));
    expect(roundNeutral(usd(1_000_001, 49), lo, hi, "USD")).toBe(usd(1_000_001));
  });

  test("in [1,000,001.00 .. 1,000,004.99] cents are used when whole units fall outside", () => {
    expect(roundNeutral(usd(1_000_004, 60), lo, hi, "USD")).toBe(usd(1_000_004, 60));
    expect(roundNeutral(usd(1_000_004, 99), lo, hi, "USD")).toBe(usd(1_000_004, 99));
  });

  test("a single-cent range returns that cent", () => {
    expect(roundNeutral(usd(1_000_004, 99), usd(1_000_004, 99), usd(1_000_004, 99), "USD")).toBe(
      usd(1_000_004, 99),
    );
  });

  test("the next finer row is an intermediate row when it fits", () => {
    // 1,004,600 -> nearest 10,000 is 1,000,000 (outside) -> nearest 1,000 is 1,005,000 (inside).
    expect(roundNeutral(usd(1_004_600), usd(1_004_000), usd(1_006_000), "USD")).toBe(usd(1_005_000));
  });

  test("rounding up past the top of the range falls back too", () => {
    // 12,360 -> nearest 100 is 12,400 > 12,399.99 -> nearest 10 is 12,360.
    expect(roundNeutral(usd(12_360), usd(12_301), usd(12_399, 99), "USD")).toBe(usd(12_360));
  });

  test("JPY falls back to whole yen, its smallest unit", () => {
    expect(roundNeutral(1_000_004, 1_000_001, 1_000_004, "JPY")).toBe(1_000_004);
  });

  test("roundNeutral refuses an amount outside [lo, hi] (programmer error)", () => {
    expect(() => roundNeutral(5, 6, 10, "USD")).toThrow();
    expect(() => roundNeutral(11, 6, 10, "USD")).toThrow();
    expect(() => roundNeutral(7.5, 6, 10, "USD")).toThrow();
  });
});

describe("Neutral rounding table: properties", () => {
  const currencies = fc.constantFrom("USD", "JPY", "BHD", "EUR");
  const rangeAndAmount = fc
    .tuple(
      fc.integer({ min: 1, max: MAX_AMOUNT_CENTS }),
      fc.integer({ min: 1, max: MAX_AMOUNT_CENTS }),
      fc.integer({ min: 1, max: MAX_AMOUNT_CENTS }),
    )
    .map((values) => values.sort((a, b) => a - b) as [number, number, number]);
  // Narrow ranges near row boundaries are where the fallback happens; wide random ranges rarely hit it.
  const narrowRangeAndAmount = fc
    .tuple(
      fc.constantFrom(1, 100, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000),
      fc.integer({ min: -5_000, max: 5_000 }),
      fc.nat(20_000),
      fc.nat(20_000),
    )
    .map(([base, offset, below, above]) => {
      const amount = Math.max(1, base + offset);
      return [Math.max(1, amount - below), amount, amount + above] as [number, number, number];
    });

  test("roundNeutral always lands in [lo, hi] (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(rangeAndAmount, narrowRangeAndAmount),
        currencies,
        ([lo, amount, hi], currency) => {
          const rounded = roundNeutral(amount, lo, hi, currency);
          expect(rounded).toBeGreaterThanOrEqual(lo);
          expect(rounded).toBeLessThanOrEqual(hi);
        },
      ),
      fcParams,
    );
  });

  test("roundNeutral uses the coarsest step of the table whose rounding fits (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(rangeAndAmount, narrowRangeAndAmount),
        currencies,
        ([lo, amount, hi], currency) => {
          const rounded = roundNeutral(amount, lo, hi, currency);
          // Independent oracle: Math.round on the quotient is exact here (amounts < 2^53, steps are powers of 10).
          const roundTo = (step: number) => Math.round(amount / step) * step;
          const steps = roundingSteps(amount, currency);
          const used = steps.findIndex((step) => roundTo(step) === rounded);
          expect(used).toBeGreaterThanOrEqual(0);
          for (const coarser of steps.slice(0, used)) {
            const candidate = roundTo(coarser);
            expect(candidate < lo || candidate > hi).toBe(true);
          }
        },
      ),
      fcParams,
    );
  });
});
