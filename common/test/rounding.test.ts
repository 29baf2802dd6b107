import { randomInt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { MAX_AMOUNT_CENTS } from "../src/money";
import type { Random } from "../src/random";
import { seededRandom } from "../src/random";
import { ROUNDING_TABLE, roundingSteps, roundNeutral } from "../src/rounding";
import { gapArbitrary, largestAmountArbitrary, roundAmountArbitrary } from "./engine/arbitrary";

// FC_SEED replays a failure; fast-check prints the seed in its error message.
const fcParams = {
  seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : randomInt(2 ** 31 - 1),
  numRuns: Number(process.env.FC_RUNS ?? 1000),
};

/** USD cents from whole dollars and cents, for readable cases. */
const usd = (dollars: number, cents = 0) => dollars * 100 + cents;
// A range wide enough that the row's own step always fits.
const wide = (amount: number) => [1, MAX_AMOUNT_CENTS, amount] as const;

/** A Random for rounding that must not draw: only an exact tie draws. */
const noTie: Random = {
  int() {
    throw new Error("only a tie draws");
  },
};

/** A scripted coin for ties: answers the given values in turn (1 = up, 0 = down) and records each call. */
function coins(...values: number[]): Random & { calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  return {
    calls,
    int(min, max) {
      calls.push([min, max]);
      const value = values[calls.length - 1];
      if (value === undefined) throw new Error("more coin tosses than scripted");
      return value;
    },
  };
}

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
    ["below 1,000 rounds to the nearest 1, up when above half", usd(123, 51), usd(124)],
    ["999.51 is still in the first row and rounds up to 1,000", usd(999, 51), usd(1_000)],
    ["1,000 to 9,999 rounds to the nearest 10", usd(1_234, 56), usd(1_230)],
    ["1,000 to 9,999 rounds up when above half", usd(1_235, 1), usd(1_240)],
    ["9,999.99 is in the 1,000 row", usd(9_999, 99), usd(10_000)],
    ["10,000 to 99,999 rounds to the nearest 100", usd(12_345, 67), usd(12_300)],
    ["100,000 to 999,999 rounds to the nearest 1,000", usd(123_456, 78), usd(123_000)],
    ["100,000 to 999,999 rounds up when above half", usd(123_500, 1), usd(124_000)],
    ["1,000,000 and above rounds to the nearest 10,000", usd(1_234_567, 89), usd(1_230_000)],
    ["1,000,000 and above rounds up when above half", usd(1_235_000, 1), usd(1_240_000)],
    ["the bound itself stays on the grid", MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS],
  ])("%s (no coin is tossed)", (_rule, amount, expected) => {
    const [lo, hi] = wide(amount);
    expect(roundNeutral(amount, lo, hi, "USD", noTie)).toBe(expected);
  });

  test("the row is picked in whole units of the currency: JPY has no cents", () => {
    expect(roundNeutral(1_234_567, 1, MAX_AMOUNT_CENTS, "JPY", noTie)).toBe(1_230_000);
    expect(roundNeutral(1_234, 1, MAX_AMOUNT_CENTS, "JPY", noTie)).toBe(1_230);
    expect(roundNeutral(999, 1, MAX_AMOUNT_CENTS, "JPY", noTie)).toBe(999);
  });

  test("the row is picked in whole units of the currency: BHD has three decimals", () => {
    expect(roundNeutral(1_234_567, 1, MAX_AMOUNT_CENTS, "BHD", noTie)).toBe(1_230_000);
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
    expect(roundNeutral(usd(1_000_003, 20), lo, hi, "USD", noTie)).toBe(usd(1_000_003));
    expect(roundNeutral(usd(1_000_001, 49), lo, hi, "USD", noTie)).toBe(usd(1_000_001));
  });

  test("in [1,000,001.00 .. 1,000,004.99] cents are used when whole units fall outside", () => {
    expect(roundNeutral(usd(1_000_004, 60), lo, hi, "USD", noTie)).toBe(usd(1_000_004, 60));
    expect(roundNeutral(usd(1_000_004, 99), lo, hi, "USD", noTie)).toBe(usd(1_000_004, 99));
  });

  test("a single-cent range returns that cent", () => {
    expect(roundNeutral(usd(1_000_004, 99), usd(1_000_004, 99), usd(1_000_004, 99), "USD", noTie)).toBe(
      usd(1_000_004, 99),
    );
  });

  test("the next finer row is an intermediate row when it fits", () => {
    // 1,004,600 -> nearest 10,000 is 1,000,000 (outside) -> nearest 1,000 is 1,005,000 (inside).
    expect(roundNeutral(usd(1_004_600), usd(1_004_000), usd(1_006_000), "USD", noTie)).toBe(usd(1_005_000));
  });

  test("rounding up past the top of the range falls back too", () => {
    // 12,360 -> nearest 100 is 12,400 > 12,399.99 -> nearest 10 is 12,360.
    expect(roundNeutral(usd(12_360), usd(12_301), usd(12_399, 99), "USD", noTie)).toBe(usd(12_360));
  });

  test("JPY falls back to whole yen, its smallest unit", () => {
    expect(roundNeutral(1_000_004, 1_000_001, 1_000_004, "JPY", noTie)).toBe(1_000_004);
  });

  test("roundNeutral refuses an amount outside [lo, hi] (programmer error)", () => {
    expect(() => roundNeutral(5, 6, 10, "USD", noTie)).toThrow();
    expect(() => roundNeutral(11, 6, 10, "USD", noTie)).toThrow();
    expect(() => roundNeutral(7.5, 6, 10, "USD", noTie)).toThrow();
  });
});

describe("Neutral rounding table: ties go up or down by a fair coin", () => {
  test.each([
    ["below 1,000", usd(123, 50), usd(123), usd(124)],
    ["999.50, still in the first row", usd(999, 50), usd(999), usd(1_000)],
    ["1,000 to 9,999", usd(1_235), usd(1_230), usd(1_240)],
    ["10,000 to 99,999", usd(12_350), usd(12_300), usd(12_400)],
    ["100,000 to 999,999", usd(123_500), usd(123_000), usd(124_000)],
    ["1,000,000 and above", usd(1_235_000), usd(1_230_000), usd(1_240_000)],
  ])("a tie %s goes down on 0 and up on 1", (_row, amount, down, up) => {
    const [lo, hi] = wide(amount);
    const tails = coins(0);
    expect(roundNeutral(amount, lo, hi, "USD", tails)).toBe(down);
    expect(tails.calls).toEqual([[0, 1]]);
    expect(roundNeutral(amount, lo, hi, "USD", coins(1))).toBe(up);
  });

  test("a coin whose direction leaves the range falls back to a finer row, like any rounding", () => {
    // 1,235,000 in [1,232,000 .. 1,239,000]: either way (1,230,000 or 1,240,000) leaves the range, so the 1,000
    // row is used. 1,235,500 rounds up at the 10,000 row (no tie, outside) and is a tie at the 1,000 row.
    expect(roundNeutral(usd(1_235_000), usd(1_232_000), usd(1_239_000), "USD", coins(0))).toBe(
      usd(1_235_000),
    );
    const down = coins(0);
    expect(roundNeutral(usd(1_235_500), usd(1_232_000), usd(1_239_000), "USD", down)).toBe(usd(1_235_000));
    expect(down.calls).toEqual([[0, 1]]);
    expect(roundNeutral(usd(1_235_500), usd(1_232_000), usd(1_239_000), "USD", coins(1))).toBe(
      usd(1_236_000),
    );
    // 100,500 in [100,300 .. 101,200]: up (101,000) fits, down (100,000) does not and falls back to 100,500.
    expect(roundNeutral(usd(100_500), usd(100_300), usd(101_200), "USD", coins(1))).toBe(usd(101_000));
    expect(roundNeutral(usd(100_500), usd(100_300), usd(101_200), "USD", coins(0))).toBe(usd(100_500));
  });

  test("with a seeded random, ties go each way about half the time (fixed seed, 10,000 ties)", () => {
    const random = seededRandom(20_260_406);
    const ties = 10_000;
    let up = 0;
    for (let i = 0; i < ties; i++) {
      // A different tie each time, in every row of the table: half a step past a multiple of the row's step.
      const row = ROUNDING_TABLE[i % ROUNDING_TABLE.length]!;
      const step = row.nearestUnits * 100;
      const amount = row.fromUnits * 100 + (1 + (i % 97)) * step + step / 2;
      const rounded = roundNeutral(amount, 1, MAX_AMOUNT_CENTS, "USD", random);
      expect(rounded === amount - step / 2 || rounded === amount + step / 2).toBe(true);
      if (rounded > amount) up++;
    }
    // A fair coin gives 5,000 +- 50 (one standard deviation); +-300 is six of them. Chi-square with one degree
    // of freedom: (up - 5000)^2 / 2500 must stay below 10.83 (p = 0.001).
    expect(Math.abs(up - ties / 2)).toBeLessThan(300);
    expect((up - ties / 2) ** 2 / (ties / 4)).toBeLessThan(10.83);
  });

  test("an amount that is not a tie never draws", () => {
    expect(roundNeutral(usd(123_499, 99), 1, MAX_AMOUNT_CENTS, "USD", noTie)).toBe(usd(123_000));
    expect(roundNeutral(usd(123_500, 1), 1, MAX_AMOUNT_CENTS, "USD", noTie)).toBe(usd(124_000));
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
  /** How far a range reaches from its amount: nothing, a cent to a few units, half a step, a step, anything. */
  const reach = (step: number) =>
    fc.oneof(
      fc.constant(0),
      fc.integer({ min: 1, max: 500 }),
      fc.constantFrom(step / 2, step / 2 - 1, step / 2 + 1, step, step - 1),
      gapArbitrary,
    );
  /** Round amounts and exact ties (half a step past a round amount), in ranges from one cent to everything. */
  const roundOrTieRangeAndAmount = fc
    .tuple(
      roundAmountArbitrary,
      fc.constantFrom(10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000),
      fc.boolean(),
    )
    .chain(([round, step, tie]) => {
      const amount = Math.min(MAX_AMOUNT_CENTS, tie ? round + step / 2 : round);
      return fc
        .tuple(reach(step), reach(step))
        .map(([below, above]): [number, number, number] => [
          Math.max(1, amount - below),
          amount,
          Math.min(MAX_AMOUNT_CENTS, amount + above),
        ]);
    });
  /** The largest amounts, at the top of the range. */
  const largestRangeAndAmount = fc
    .tuple(largestAmountArbitrary, gapArbitrary, fc.nat(1_000_000))
    .map(([amount, below, above]): [number, number, number] => [
      Math.max(1, amount - below),
      amount,
      Math.min(MAX_AMOUNT_CENTS, amount + above),
    ]);
  const anyRangeAndAmount = fc.oneof(
    rangeAndAmount,
    narrowRangeAndAmount,
    roundOrTieRangeAndAmount,
    largestRangeAndAmount,
  );

  /** A seeded random that records its coin tosses. */
  function recordedCoins(seed: number): Random & { tosses: number[] } {
    const inner = seededRandom(seed);
    const tosses: number[] = [];
    return {
      tosses,
      int(min, max) {
        expect([min, max]).toEqual([0, 1]);
        const toss = inner.int(min, max);
        tosses.push(toss);
        return toss;
      },
    };
  }

  test("roundNeutral always lands in [lo, hi] (property)", () => {
    fc.assert(
      fc.property(anyRangeAndAmount, currencies, fc.integer(), ([lo, amount, hi], currency, seed) => {
        const rounded = roundNeutral(amount, lo, hi, currency, seededRandom(seed));
        expect(rounded).toBeGreaterThanOrEqual(lo);
        expect(rounded).toBeLessThanOrEqual(hi);
      }),
      fcParams,
    );
  });

  test("roundNeutral uses the coarsest step of the table whose rounding fits, a coin settling ties (property)", () => {
    fc.assert(
      fc.property(anyRangeAndAmount, currencies, fc.integer(), ([lo, amount, hi], currency, seed) => {
        const random = recordedCoins(seed);
        const rounded = roundNeutral(amount, lo, hi, currency, random);
        // Independent oracle: Math.round on the quotient is exact here (amounts < 2^53, steps are powers of 10),
        // except at a tie, where the recorded coin says which way it went.
        let coin = 0;
        let expected: number | null = null;
        for (const step of roundingSteps(amount, currency)) {
          const tie = (amount % step) * 2 === step;
          const candidate = tie
            ? (random.tosses[coin++] === 1 ? Math.ceil(amount / step) : Math.floor(amount / step)) * step
            : Math.round(amount / step) * step;
          if (lo <= candidate && candidate <= hi) {
            expected = candidate;
            break;
          }
        }
        expect(rounded).toBe(expected);
        // A coin only for the ties met on the way, no more.
        expect(random.tosses.length).toBe(coin);
      }),
      fcParams,
    );
  });
});
