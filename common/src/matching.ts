import type { Cents } from "./money";
import { MAX_AMOUNT_CENTS } from "./money";
import type { Random } from "./random";
import { roundNeutral } from "./rounding";

/** RULES.md "Matching": the numbers match when the offer reaches the demand. */
export function isMatch(demand: Cents, offer: Cents): boolean {
  return offer >= demand;
}

/** The raw uniform draw over [lo, hi]. Never shown to a party: with it, a side could solve for the other's number. */
export function drawInRange(lo: Cents, hi: Cents, random: Random): Cents {
  if (!(lo <= hi)) throw new Error("drawInRange needs lo <= hi");
  return random.int(lo, hi);
}

/**
 * The deal amount for matching numbers: the number itself when they are equal, otherwise a uniform draw over
 * the overlap rounded by the neutral table. A random point rather than the midpoint, so the deal does not
 * reveal the other side's number.
 */
export function dealAmount(demand: Cents, offer: Cents, random: Random, currency: string): Cents {
  if (!isMatch(demand, offer)) throw new Error("dealAmount needs offer >= demand");
  if (offer === demand) return demand;
  return roundNeutral(drawInRange(demand, offer, random), demand, offer, currency);
}

function checkPercent(percent: number, max: number, what: string): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > max) {
    throw new Error(`${what} must be a whole percent between 0 and ${max}`);
  }
}

/**
 * Smart proposal gate: true when demand - offer is more than maxGapPercent percent of the demand.
 * Integer arithmetic, so exactly at the threshold is not too wide.
 */
export function gapTooWide(demand: Cents, offer: Cents, maxGapPercent: number): boolean {
  if (!(offer < demand)) throw new Error("gapTooWide needs offer < demand");
  checkPercent(maxGapPercent, 100, "maxGapPercent");
  return (demand - offer) * 100 > maxGapPercent * demand;
}

/**
 * A smart proposal: a uniform draw from the middle half of the gap (the whole gap when that is empty),
 * rounded by the neutral table and kept inside [offer, demand].
 */
export function proposalAmount(demand: Cents, offer: Cents, random: Random, currency: string): Cents {
  if (!(offer < demand)) throw new Error("proposalAmount needs offer < demand");
  const quarter = Math.ceil((demand - offer) / 4);
  let lo = offer + quarter;
  let hi = demand - quarter;
  if (lo > hi) {
    lo = offer;
    hi = demand;
  }
  return roundNeutral(drawInRange(lo, hi, random), offer, demand, currency);
}

/**
 * The early-number bonus: moves a deal amount by bonusPercent percent of itself in favour of the side whose
 * number was standing (up for a claimant, down for a respondent), rounded half up to whole minor units.
 */
export function applyBonus(amount: Cents, bonusPercent: number, standing: "claimant" | "respondent"): Cents {
  if (!Number.isSafeInteger(amount)) throw new Error("applyBonus needs whole minor units");
  checkPercent(bonusPercent, 100, "bonusPercent");
  if (bonusPercent === 0) return amount;
  const factor = standing === "claimant" ? 100 + bonusPercent : 100 - bonusPercent;
  // amount * factor stays below 2^53 for any amount up to the bound, and % on integers is exact.
  const scaled = amount * factor;
  const remainder = scaled % 100;
  const whole = (scaled - remainder) / 100;
  const rounded = remainder >= 50 ? whole + 1 : whole;
  return Math.min(MAX_AMOUNT_CENTS, Math.max(1, rounded));
}
