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
  return roundNeutral(drawInRange(demand, offer, random), demand, offer, currency, random);
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
 * The middle half of the gap between offer and demand, in whole minor units: every amount at least a quarter of
 * the gap away from both numbers. ceil(gap / 4) from each end, so it is exactly the whole units of the real
 * interval [offer + gap/4, demand - gap/4]; for any gap of two units or more it is non-empty and lies strictly
 * between the numbers. null for a one-unit gap, where no whole amount lies strictly between them.
 */
export function middleHalf(demand: Cents, offer: Cents): { lo: Cents; hi: Cents } | null {
  if (!(offer < demand)) throw new Error("middleHalf needs offer < demand");
  const quarter = Math.ceil((demand - offer) / 4);
  const lo = offer + quarter;
  const hi = demand - quarter;
  return lo <= hi ? { lo, hi } : null;
}

/**
 * A smart proposal (RULES.md "Smart proposal"): a uniform draw from the middle half of the gap, rounded by the
 * neutral table using finer rows as needed so that the rounded amount stays inside that middle half. It is
 * therefore never equal to either number: a proposal equal to the offer would tell the claimant the
 * respondent's exact number.
 *
 * Chosen: when no whole minor unit lies strictly between the numbers (a gap of one cent, or one yen), there is
 * no amount to propose, and the result is null. The engine then answers exactly as it does for "too far apart"
 * (the same event, nothing else), so the answer does not single out a one-cent gap.
 */
export function proposalAmount(demand: Cents, offer: Cents, random: Random, currency: string): Cents | null {
  if (!(offer < demand)) throw new Error("proposalAmount needs offer < demand");
  const half = middleHalf(demand, offer);
  if (half === null) return null;
  return roundNeutral(drawInRange(half.lo, half.hi, random), half.lo, half.hi, currency, random);
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
