import { randomInt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  applyBonus,
  dealAmount,
  drawInRange,
  gapTooWide,
  isMatch,
  middleHalf,
  proposalAmount,
} from "../src/matching";
import { MAX_AMOUNT_CENTS } from "../src/money";
import type { Random } from "../src/random";
import { seededRandom } from "../src/random";
import { roundingSteps } from "../src/rounding";
import { amountArbitrary, distinctPairArbitrary } from "./engine/arbitrary";

// FC_SEED replays a failure; fast-check prints the seed in its error message.
const fcParams = {
  seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : randomInt(2 ** 31 - 1),
  numRuns: Number(process.env.FC_RUNS ?? 1000),
};

const usd = (dollars: number, cents = 0) => dollars * 100 + cents;

/** A Random that returns a fixed value (clamped into the asked range) and records what it was asked. */
function fixedRandom(value: number): Random & { calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  return {
    calls,
    int(min, max) {
      calls.push([min, max]);
      return Math.min(max, Math.max(min, value));
    },
  };
}

/** Wraps a Random and records every value it drew. */
function recording(random: Random): Random & { draws: number[]; calls: Array<[number, number]> } {
  const draws: number[] = [];
  const calls: Array<[number, number]> = [];
  return {
    draws,
    calls,
    int(min, max) {
      calls.push([min, max]);
      const drawn = random.int(min, max);
      draws.push(drawn);
      return drawn;
    },
  };
}

const neverDraw: Random = {
  int() {
    throw new Error("no draw expected");
  },
};

/** True when `rounded` is `drawn` rounded half up to one of the steps the table allows for it. */
function onAllowedGrid(drawn: number, rounded: number, currency: string): boolean {
  return roundingSteps(drawn, currency).some(
    (step) => rounded % step === 0 && Math.abs(rounded - drawn) * 2 <= step,
  );
}

// Round numbers, tiny gaps (one cent to a few units), the smallest and the largest amounts as often as random ones.
const amount = amountArbitrary;
const distinctPair = distinctPairArbitrary;
const orderedPair = fc.oneof(
  distinctPair,
  amount.map((a) => [a, a] as [number, number]),
);
const currencies = fc.constantFrom("USD", "JPY", "BHD");

describe("Matching: match when offer >= demand", () => {
  test("equal numbers match", () => {
    expect(isMatch(usd(100_000), usd(100_000))).toBe(true);
  });
  test("an offer above the demand matches", () => {
    expect(isMatch(usd(100_000), usd(100_000, 1))).toBe(true);
  });
  test("an offer below the demand does not match", () => {
    expect(isMatch(usd(100_000), usd(99_999, 99))).toBe(false);
  });
});

describe("Matching: the deal amount", () => {
  test("offer == demand: the deal amount is that number, with no draw", () => {
    expect(dealAmount(usd(123_456, 78), usd(123_456, 78), neverDraw, "USD")).toBe(usd(123_456, 78));
  });

  test("overlap: the deal is a uniform draw over [demand, offer], rounded by the table", () => {
    const random = fixedRandom(usd(112_345, 67));
    expect(dealAmount(usd(100_000), usd(120_000), random, "USD")).toBe(usd(112_000));
    expect(random.calls).toEqual([[usd(100_000), usd(120_000)]]);
  });

  test("overlap: the draw is not the midpoint", () => {
    expect(dealAmount(usd(100_000), usd(120_000), fixedRandom(usd(100_000)), "USD")).toBe(usd(100_000));
    expect(dealAmount(usd(100_000), usd(120_000), fixedRandom(usd(120_000)), "USD")).toBe(usd(120_000));
  });

  test("no match: dealAmount refuses (programmer error)", () => {
    expect(() => dealAmount(usd(100), usd(99), neverDraw, "USD")).toThrow();
  });

  test("drawInRange returns the raw draw and refuses an empty range", () => {
    expect(drawInRange(5, 9, fixedRandom(7))).toBe(7);
    expect(() => drawInRange(9, 5, fixedRandom(7))).toThrow();
  });

  test("dealAmount lies in [demand, offer] and on a grid allowed by the table (property)", () => {
    fc.assert(
      fc.property(orderedPair, currencies, fc.integer(), ([demand, offer], currency, seed) => {
        const random = recording(seededRandom(seed));
        const deal = dealAmount(demand, offer, random, currency);
        expect(deal).toBeGreaterThanOrEqual(demand);
        expect(deal).toBeLessThanOrEqual(offer);
        if (demand === offer) {
          expect(deal).toBe(demand);
        } else {
          // One draw over the overlap, then a coin for each tie met while rounding.
          expect(random.calls[0]).toEqual([demand, offer]);
          for (const call of random.calls.slice(1)) expect(call).toEqual([0, 1]);
          expect(onAllowedGrid(random.draws[0]!, deal, currency)).toBe(true);
        }
      }),
      fcParams,
    );
  });
});

describe("Smart proposal: too far apart when the gap is more than proposalMaxGapPercent of the demand", () => {
  test("a gap of exactly the threshold is not too wide", () => {
    expect(gapTooWide(usd(100_000), usd(80_000), 20)).toBe(false);
    expect(gapTooWide(10, 8, 20)).toBe(false);
  });
  test("one cent beyond the threshold is too wide", () => {
    expect(gapTooWide(usd(100_000), usd(79_999, 99), 20)).toBe(true);
  });
  test("the percentage is of the demand, not of the offer", () => {
    // Gap 20,000 is 20% of the demand 100,000 but 25% of the offer 80,000.
    expect(gapTooWide(usd(100_000), usd(80_000), 24)).toBe(false);
  });
  test("at 100% nothing is too wide", () => {
    expect(gapTooWide(MAX_AMOUNT_CENTS, 1, 100)).toBe(false);
  });
  test("gapTooWide refuses matching numbers and fractional percents (programmer error)", () => {
    expect(() => gapTooWide(100, 100, 20)).toThrow();
    expect(() => gapTooWide(100, 50, 20.5)).toThrow();
  });
  test("gapTooWide agrees with exact big-integer arithmetic (property)", () => {
    fc.assert(
      fc.property(distinctPair, fc.integer({ min: 1, max: 100 }), ([offer, demand], percent) => {
        const exact = BigInt(demand - offer) * 100n > BigInt(percent) * BigInt(demand);
        expect(gapTooWide(demand, offer, percent)).toBe(exact);
      }),
      fcParams,
    );
  });
});

describe("Smart proposal: drawn from the middle half of the gap, rounded, kept inside the middle half", () => {
  test("the draw is over the middle half of the gap", () => {
    const random = fixedRandom(usd(95_432));
    expect(proposalAmount(usd(100_000), usd(90_000), random, "USD")).toBe(usd(95_400));
    expect(random.calls).toEqual([[usd(92_500), usd(97_500)]]);
  });

  test("the middle half uses ceil(gap / 4) from each end", () => {
    const random = fixedRandom(0);
    proposalAmount(110, 100, random, "USD");
    expect(random.calls).toEqual([[103, 107]]);
    expect(middleHalf(110, 100)).toEqual({ lo: 103, hi: 107 });
    // The whole cents of the real interval [offer + gap/4, demand - gap/4]: a 2-cent gap has one, 3 cents two.
    expect(middleHalf(102, 100)).toEqual({ lo: 101, hi: 101 });
    expect(middleHalf(103, 100)).toEqual({ lo: 101, hi: 102 });
  });

  test("a one-cent gap leaves no amount strictly between the numbers: no proposal, and no draw", () => {
    expect(middleHalf(101, 100)).toBeNull();
    expect(proposalAmount(101, 100, neverDraw, "USD")).toBeNull();
    expect(proposalAmount(usd(100_000), usd(99_999, 99), neverDraw, "USD")).toBeNull();
    expect(proposalAmount(1_000_001, 1_000_000, neverDraw, "JPY")).toBeNull();
    expect(proposalAmount(MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS - 1, neverDraw, "USD")).toBeNull();
  });

  test("a two-cent gap proposes the one cent between", () => {
    expect(proposalAmount(102, 100, seededRandom(1), "USD")).toBe(101);
  });

  test.each([
    // The offer 100,000.00 and the demand 100,400.00: the 1,000 row gives 100,000 (the offer), outside the middle
    // half [100,100 .. 100,300], so the 100 row is used.
    ["100,000.00 and 100,400.00", usd(100_400), usd(100_000), usd(100_100), usd(100_100)],
    // 101,000.00 and 100,000.00: the 1,000 row gives one of the numbers whatever the draw.
    ["100,000.00 and 101,000.00", usd(101_000), usd(100_000), usd(100_400), usd(100_400)],
    // 2,000,500.00 and 2,000,000.00: the 10,000 and 1,000 rows give 2,000,000 (the offer).
    ["2,000,000.00 and 2,000,500.00", usd(2_000_500), usd(2_000_000), usd(2_000_200), usd(2_000_200)],
  ])(
    "between %s it is never the offer: finer rows keep it inside the middle half",
    (_pair, demand, offer, drawn, expected) => {
      expect(proposalAmount(demand, offer, fixedRandom(drawn), "USD")).toBe(expected);
    },
  );

  test.each([
    ["100,000.00 and 100,400.00", usd(100_400), usd(100_000)],
    ["100,000.00 and 101,000.00", usd(101_000), usd(100_000)],
    ["2,000,000.00 and 2,000,500.00", usd(2_000_500), usd(2_000_000)],
    ["99,999.99 and 100,000.00 plus a few cents", usd(100_000, 3), usd(99_999, 99)],
  ])("between %s, 500 seeded proposals all lie strictly inside the middle half", (_pair, demand, offer) => {
    const { lo, hi } = middleHalf(demand, offer)!;
    for (let seed = 0; seed < 500; seed++) {
      const proposal = proposalAmount(demand, offer, seededRandom(seed), "USD")!;
      expect(proposal).toBeGreaterThanOrEqual(lo);
      expect(proposal).toBeLessThanOrEqual(hi);
    }
  });

  test("rounding that would leave the gap falls back to a finer row", () => {
    // Gap [1,000,001 .. 1,000,005]: the 10,000 row gives 1,000,000, outside, so whole dollars are used.
    expect(proposalAmount(usd(1_000_005), usd(1_000_001), fixedRandom(usd(1_000_003, 40)), "USD")).toBe(
      usd(1_000_003),
    );
  });

  test("proposalAmount refuses matching numbers (programmer error)", () => {
    expect(() => proposalAmount(100, 100, neverDraw, "USD")).toThrow();
    expect(() => proposalAmount(100, 120, neverDraw, "USD")).toThrow();
  });

  test("a proposal lies strictly between offer and demand, inside the middle half, on the table's grid (property)", () => {
    fc.assert(
      fc.property(distinctPair, currencies, fc.integer(), ([offer, demand], currency, seed) => {
        const random = recording(seededRandom(seed));
        const proposal = proposalAmount(demand, offer, random, currency);
        const half = middleHalf(demand, offer);
        if (demand - offer === 1) {
          // Nothing lies strictly between: no proposal (answered as "too far apart"), and nothing drawn.
          expect(proposal).toBeNull();
          expect(half).toBeNull();
          expect(random.calls).toEqual([]);
          return;
        }
        if (proposal === null || half === null) throw new Error("a gap of two cents or more has a proposal");
        expect(proposal).toBeGreaterThan(offer);
        expect(proposal).toBeLessThan(demand);
        // Inside the middle half: at least a quarter of the gap from each number.
        expect(4 * (proposal - offer)).toBeGreaterThanOrEqual(demand - offer);
        expect(4 * (demand - proposal)).toBeGreaterThanOrEqual(demand - offer);
        expect(random.calls[0]).toEqual([half.lo, half.hi]);
        for (const call of random.calls.slice(1)) expect(call).toEqual([0, 1]);
        expect(onAllowedGrid(random.draws[0]!, proposal, currency)).toBe(true);
      }),
      fcParams,
    );
  });
});

describe("Early-number bonus: the deal moves by bonusPercent of itself toward the standing side", () => {
  test("a standing claimant gets the amount moved up", () => {
    expect(applyBonus(usd(100_000), 5, "claimant")).toBe(usd(105_000));
  });
  test("a standing respondent gets the amount moved down", () => {
    expect(applyBonus(usd(100_000), 5, "respondent")).toBe(usd(95_000));
  });
  test("0 percent leaves the amount unchanged", () => {
    expect(applyBonus(usd(123_456, 78), 0, "claimant")).toBe(usd(123_456, 78));
    expect(applyBonus(usd(123_456, 78), 0, "respondent")).toBe(usd(123_456, 78));
  });
  test("the result is rounded half up to whole cents", () => {
    expect(applyBonus(150, 1, "claimant")).toBe(152); // 151.5
    expect(applyBonus(150, 1, "respondent")).toBe(149); // 148.5
    expect(applyBonus(149, 1, "respondent")).toBe(148); // 147.51
  });
  test("the result stays within [1, 10^13]", () => {
    expect(applyBonus(1, 10, "respondent")).toBe(1);
    expect(applyBonus(MAX_AMOUNT_CENTS, 10, "claimant")).toBe(MAX_AMOUNT_CENTS);
  });
  test("applyBonus refuses a fractional or out-of-range percent (programmer error)", () => {
    expect(() => applyBonus(100, 2.5, "claimant")).toThrow();
    expect(() => applyBonus(100, -1, "claimant")).toThrow();
    expect(() => applyBonus(100, 101, "claimant")).toThrow();
  });
  test("applyBonus matches exact arithmetic and moves toward the standing side (property)", () => {
    fc.assert(
      fc.property(
        amount,
        fc.integer({ min: 0, max: 10 }),
        fc.constantFrom("claimant" as const, "respondent" as const),
        (cents, percent, standing) => {
          const result = applyBonus(cents, percent, standing);
          const factor = BigInt(standing === "claimant" ? 100 + percent : 100 - percent);
          // Half up: floor((amount * factor * 2 + 100) / 200).
          const exact = Number((BigInt(cents) * factor * 2n + 100n) / 200n);
          expect(result).toBe(Math.min(MAX_AMOUNT_CENTS, Math.max(1, exact)));
          if (standing === "claimant") expect(result).toBeGreaterThanOrEqual(cents);
          else expect(result).toBeLessThanOrEqual(cents);
        },
      ),
      fcParams,
    );
  });
});
