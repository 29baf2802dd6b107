import { randomInt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { applyBonus, dealAmount, drawInRange, gapTooWide, isMatch, proposalAmount } from "../src/matching";
import { MAX_AMOUNT_CENTS } from "../src/money";
import type { Random } from "../src/random";
import { seededRandom } from "../src/random";
import { roundingSteps } from "../src/rounding";

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

const amount = fc.integer({ min: 1, max: MAX_AMOUNT_CENTS });
const orderedPair = fc.tuple(amount, amount).map(([a, b]) => (a <= b ? [a, b] : [b, a]) as [number, number]);
const distinctPair = orderedPair.filter(([a, b]) => a < b);
const closePair = fc
  .tuple(fc.integer({ min: 1, max: MAX_AMOUNT_CENTS - 1_000_000 }), fc.integer({ min: 1, max: 1_000_000 }))
  .map(([low, gap]) => [low, low + gap] as [number, number]);
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
      fc.property(
        fc.oneof(orderedPair, closePair),
        currencies,
        fc.integer(),
        ([demand, offer], currency, seed) => {
          const random = recording(seededRandom(seed));
          const deal = dealAmount(demand, offer, random, currency);
          expect(deal).toBeGreaterThanOrEqual(demand);
          expect(deal).toBeLessThanOrEqual(offer);
          if (demand === offer) {
            expect(deal).toBe(demand);
          } else {
            expect(random.calls).toEqual([[demand, offer]]);
            expect(onAllowedGrid(random.draws[0]!, deal, currency)).toBe(true);
          }
        },
      ),
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

describe("Smart proposal: drawn from the middle half of the gap, rounded, kept inside the gap", () => {
  test("the draw is over the middle half of the gap", () => {
    const random = fixedRandom(usd(95_432));
    expect(proposalAmount(usd(100_000), usd(90_000), random, "USD")).toBe(usd(95_400));
    expect(random.calls).toEqual([[usd(92_500), usd(97_500)]]);
  });

  test("the middle half uses ceil(gap / 4) from each end", () => {
    const random = fixedRandom(0);
    proposalAmount(110, 100, random, "USD");
    expect(random.calls).toEqual([[103, 107]]);
  });

  test("a one-cent gap has an empty middle half, so the draw is over the whole gap", () => {
    const random = fixedRandom(0);
    expect(proposalAmount(101, 100, random, "USD")).toBe(100);
    expect(random.calls).toEqual([[100, 101]]);
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

  test("proposalAmount lies within [offer, demand] and on the table's grid (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(distinctPair, closePair),
        currencies,
        fc.integer(),
        ([offer, demand], currency, seed) => {
          const random = recording(seededRandom(seed));
          const proposal = proposalAmount(demand, offer, random, currency);
          expect(proposal).toBeGreaterThanOrEqual(offer);
          expect(proposal).toBeLessThanOrEqual(demand);
          const [[lo, hi]] = random.calls as [[number, number]];
          const quarter = Math.ceil((demand - offer) / 4);
          if (offer + quarter <= demand - quarter)
            expect([lo, hi]).toEqual([offer + quarter, demand - quarter]);
          else expect([lo, hi]).toEqual([offer, demand]);
          expect(onAllowedGrid(random.draws[0]!, proposal, currency)).toBe(true);
        },
      ),
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
