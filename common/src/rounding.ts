import type { Cents } from "./money";
import { minorUnitsPerUnit } from "./money";
import type { Random } from "./random";

export interface RoundingRow {
  /** Smallest drawn amount of the row, in whole currency units. */
  fromUnits: number;
  /** Largest whole-unit amount of the row as printed in RULES.md (the row covers everything below the next row); null for the last row. */
  toUnits: number | null;
  /** The row's step, in whole currency units. */
  nearestUnits: number;
}

/** The neutral rounding table of RULES.md, published to the parties with the rules. Ordered finest first. */
export const ROUNDING_TABLE: ReadonlyArray<RoundingRow> = Object.freeze([
  Object.freeze({ fromUnits: 0, toUnits: 999, nearestUnits: 1 }),
  Object.freeze({ fromUnits: 1_000, toUnits: 9_999, nearestUnits: 10 }),
  Object.freeze({ fromUnits: 10_000, toUnits: 99_999, nearestUnits: 100 }),
  Object.freeze({ fromUnits: 100_000, toUnits: 999_999, nearestUnits: 1_000 }),
  Object.freeze({ fromUnits: 1_000_000, toUnits: null, nearestUnits: 10_000 }),
]);

/**
 * Rounds to the nearest multiple of step, in integers (amounts and steps are far below 2^53). An amount exactly
 * halfway between two multiples goes up or down by a fair coin from `random` (RULES.md: never always toward one
 * side); only a tie draws.
 */
function roundNearest(amount: Cents, step: Cents, random: Random): Cents {
  const remainder = amount % step;
  const down = amount - remainder;
  if (remainder * 2 < step) return down;
  if (remainder * 2 > step) return down + step;
  return random.int(0, 1) === 1 ? down + step : down;
}

/**
 * The steps, in minor units, tried for an amount: its row's step, then each finer row down to whole units,
 * then one minor unit (the last always fits, since the amount itself lies in [lo, hi]).
 */
export function roundingSteps(amount: Cents, currency: string): Cents[] {
  const unit = minorUnitsPerUnit(currency);
  let rowIndex = 0;
  ROUNDING_TABLE.forEach((row, index) => {
    if (amount >= row.fromUnits * unit) rowIndex = index;
  });
  const steps: Cents[] = [];
  for (let i = rowIndex; i >= 0; i--) steps.push(ROUNDING_TABLE[i]!.nearestUnits * unit);
  if (unit > 1) steps.push(1);
  return steps;
}

/**
 * Rounds a drawn amount by the neutral table, keeping it inside [lo, hi]: the row is picked by the amount's
 * size; when the rounded amount falls outside [lo, hi], the next finer step is tried. A tie is settled by a coin
 * first, and the range check then applies to the coin's result like to any other rounding (so a tie whose
 * chosen direction leaves the range falls back to a finer step, rather than always taking the direction inside).
 */
export function roundNeutral(amount: Cents, lo: Cents, hi: Cents, currency: string, random: Random): Cents {
  if (!Number.isSafeInteger(amount) || !Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) {
    throw new Error("roundNeutral needs whole minor units");
  }
  if (!(lo <= amount && amount <= hi)) throw new Error("roundNeutral needs lo <= amount <= hi");
  for (const step of roundingSteps(amount, currency)) {
    const rounded = roundNearest(amount, step, random);
    if (lo <= rounded && rounded <= hi) return rounded;
  }
  // Unreachable: the last step is one minor unit, which returns the amount itself.
  return amount;
}
