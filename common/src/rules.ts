import { z } from "zod";
import { currencyFormat, currencySchema, formatAmount, MAX_AMOUNT_CENTS, minorUnitDigits } from "./money";
import { ROUNDING_TABLE } from "./rounding";

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The rules of one session, fixed when it leaves setup. All durations are in milliseconds. */
export interface SessionRules {
  currency: string;
  step2DurationMs: number;
  /**
   * Step 3's nominal length. Step 2 + Step 3 may exceed maxSessionMs: Step 3's deadline is simply capped at
   * step2Open + maxSessionMs, so the defaults (48 h + 28 d, 30 d cap) need no arithmetic from the creator.
   */
  step3DurationMs: number;
  /** The whole session ends at most this long after Step 2 opens. */
  maxSessionMs: number;
  maxChangesPerDay: number;
  step3BonusPercent: number;
  proposalMaxGapPercent: number;
  proposalConsentMs: number;
  proposalAnswerMs: number;
}

export const DEFAULT_RULES: SessionRules = Object.freeze({
  currency: "USD",
  step2DurationMs: 48 * HOUR_MS,
  step3DurationMs: 28 * DAY_MS,
  maxSessionMs: 30 * DAY_MS,
  maxChangesPerDay: 10,
  step3BonusPercent: 0,
  proposalMaxGapPercent: 20,
  proposalConsentMs: 48 * HOUR_MS,
  proposalAnswerMs: 7 * DAY_MS,
});

type NumericRule = Exclude<keyof SessionRules, "currency">;

/**
 * Inclusive bounds of each numeric rule. Sub-second minimums exist because integration tests and
 * mediation days run short steps.
 */
export const RULE_BOUNDS: Readonly<Record<NumericRule, { min: number; max: number }>> = Object.freeze({
  step2DurationMs: { min: 100, max: 30 * DAY_MS },
  step3DurationMs: { min: 100, max: 30 * DAY_MS },
  maxSessionMs: { min: 200, max: 30 * DAY_MS },
  maxChangesPerDay: { min: 1, max: 100 },
  step3BonusPercent: { min: 0, max: 10 },
  proposalMaxGapPercent: { min: 1, max: 100 },
  proposalConsentMs: { min: 100, max: 48 * HOUR_MS },
  proposalAnswerMs: { min: 100, max: 7 * DAY_MS },
});

function boundedInteger(rule: NumericRule, message: string) {
  const { min, max } = RULE_BOUNDS[rule];
  return z
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message })
    .optional();
}

export const sessionRulesInputSchema = z.strictObject(
  {
    currency: currencySchema.optional(),
    step2DurationMs: boundedInteger("step2DurationMs", "Step 2 must last between 100 ms and 30 days"),
    step3DurationMs: boundedInteger("step3DurationMs", "Step 3 must last between 100 ms and 30 days"),
    maxSessionMs: boundedInteger("maxSessionMs", "The whole session must last between 200 ms and 30 days"),
    maxChangesPerDay: boundedInteger(
      "maxChangesPerDay",
      "The number of changes per day must be a whole number between 1 and 100",
    ),
    step3BonusPercent: boundedInteger(
      "step3BonusPercent",
      "The Step 3 bonus must be a whole percent between 0 and 10",
    ),
    proposalMaxGapPercent: boundedInteger(
      "proposalMaxGapPercent",
      "The proposal gap limit must be a whole percent between 1 and 100",
    ),
    proposalConsentMs: boundedInteger(
      "proposalConsentMs",
      "The time to consent to a proposal request must be between 100 ms and 48 hours",
    ),
    proposalAnswerMs: boundedInteger(
      "proposalAnswerMs",
      "The time to answer a proposal must be between 100 ms and 7 days",
    ),
  },
  {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return `Unknown rule: ${issue.keys.join(", ")}`;
      if (issue.code === "invalid_type") return "The rules must be an object";
      return undefined;
    },
  },
);

export type SessionRulesInput = z.infer<typeof sessionRulesInputSchema>;

export const STEP2_LONGER_THAN_SESSION_MESSAGE = "Step 2 must end before the whole session's time limit";

function withDefaults(base: SessionRules, input: SessionRulesInput | null | undefined): SessionRules {
  const rules: SessionRules = { ...base };
  for (const [key, value] of Object.entries(input ?? {})) {
    if (value !== undefined) Object.assign(rules, { [key]: value });
  }
  return rules;
}

/** The cross-field rule: Step 2 must be shorter than the session limit, or Step 3 would be capped to nothing. */
function crossFieldProblem(rules: SessionRules): string | null {
  return rules.step2DurationMs >= rules.maxSessionMs ? STEP2_LONGER_THAN_SESSION_MESSAGE : null;
}

/**
 * The creator's choices merged over the defaults, validated, as one schema (absent or null input means all
 * defaults). CreateSession's `rules` field: parsing a command resolves its rules, once.
 */
export const resolvedRulesSchema = sessionRulesInputSchema.nullish().transform((input, ctx): SessionRules => {
  const rules = withDefaults(DEFAULT_RULES, input);
  const problem = crossFieldProblem(rules);
  if (problem) {
    ctx.addIssue({ code: "custom", message: problem, path: ["step2DurationMs"] });
    return z.NEVER;
  }
  return rules;
});

type ResolvedRules = { ok: true; rules: SessionRules } | { ok: false; message: string };

/** resolvedRulesSchema as a result: the rules, or the first problem's message. */
export function resolveRules(input: unknown): ResolvedRules {
  const parsed = resolvedRulesSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, message: parsed.error.issues[0]?.message ?? "The rules are not valid" };
  }
  return { ok: true, rules: parsed.data };
}

/** A change of rules given in part (already parsed with sessionRulesInputSchema) over a session's current rules. */
export function changeRules(current: SessionRules, change: SessionRulesInput): ResolvedRules {
  const rules = withDefaults(current, change);
  const problem = crossFieldProblem(rules);
  return problem ? { ok: false, message: problem } : { ok: true, rules };
}

// Hours before the Step 2 deadline at which reminders go out, when Step 2 lasts its default 48 hours.
const REMINDER_HOURS_BEFORE_CLOSE = [24, 1];
const REMINDER_REFERENCE_HOURS = 48;

/**
 * How long before Step 2 closes each reminder goes out, largest first. Reminders are 24 h and 1 h before the
 * deadline, scaled proportionally when Step 2 is shorter than 48 h (a 2-minute Step 2 gets 60 s and 2.5 s).
 */
export function reminderOffsetsMs(step2DurationMs: number): number[] {
  if (!Number.isFinite(step2DurationMs) || step2DurationMs <= 0) return [];
  const offsets =
    step2DurationMs >= REMINDER_REFERENCE_HOURS * HOUR_MS
      ? REMINDER_HOURS_BEFORE_CLOSE.map((hours) => hours * HOUR_MS)
      : // offset * duration / 48 h, with the hours cancelled so the product stays small and exact.
        REMINDER_HOURS_BEFORE_CLOSE.map((hours) =>
          Math.floor((step2DurationMs * hours) / REMINDER_REFERENCE_HOURS),
        );
  const usable = offsets.filter((offset) => offset > 0 && offset < step2DurationMs);
  return [...new Set(usable)].sort((a, b) => b - a);
}

function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en-US")} ${noun}${count === 1 ? "" : "s"}`;
}

/** "48 hours", "28 days", "2 minutes", "1 hour and 30 minutes", "250 milliseconds". */
export function formatDuration(ms: number): string {
  if (ms % DAY_MS === 0 && ms >= 3 * DAY_MS) return plural(ms / DAY_MS, "day");
  const parts: string[] = [];
  let rest = ms;
  for (const [size, noun] of [
    [HOUR_MS, "hour"],
    [MINUTE_MS, "minute"],
    [SECOND_MS, "second"],
    [1, "millisecond"],
  ] as const) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(plural(count, noun));
  }
  if (parts.length === 0) return "0 milliseconds";
  if (parts.length === 1) return parts[0]!;
  return `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}

/** The rounding table in words, in whole units of the currency ("below $1,000: to the nearest $1"). */
export function describeRoundingTable(currency: string): string[] {
  const format = currencyFormat("en-US", currency, true);
  const whole = (units: number) => format.format(units);
  return ROUNDING_TABLE.map((row) => {
    const range =
      row.fromUnits === 0
        ? `below ${whole(row.toUnits! + 1)}`
        : row.toUnits === null
          ? `${whole(row.fromUnits)} and above`
          : `${whole(row.fromUnits)} to ${whole(row.toUnits)}`;
    return `${range}: to the nearest ${whole(row.nearestUnits)}`;
  });
}

const described = new WeakMap<SessionRules, readonly string[]>();

/**
 * The session's rules as plain sentences, shown to both sides before anyone bids. Every session view carries them
 * (~25 µs to write), and a session's rules object is the same from state to state, so they are written once per
 * rules object; each caller gets an array of its own.
 */
export function describeRules(rules: SessionRules): string[] {
  let sentences = described.get(rules);
  if (!sentences) {
    sentences = Object.freeze(writeRules(rules));
    described.set(rules, sentences);
  }
  return [...sentences];
}

function writeRules(rules: SessionRules): string[] {
  const sentences = [
    `All amounts are in ${rules.currency}. A number must be more than zero and at most ${formatAmount(MAX_AMOUNT_CENTS, rules.currency)}.`,
    `Step 2 lasts ${formatDuration(rules.step2DurationMs)}. Nothing is compared before its deadline.`,
    "At the Step 2 deadline the two numbers are compared once. If the offer is at least the demand, there is a deal; otherwise Step 3 opens.",
    "When the numbers are equal, that is the deal amount. When the offer is higher, the deal amount is drawn at random between the two numbers and rounded by the table below, so neither side can work out the other's number.",
    `Step 3 lasts up to ${formatDuration(rules.step3DurationMs)}, and the whole session ends at most ${formatDuration(rules.maxSessionMs)} after Step 2 opens.`,
    "In Step 3 every change is compared at once, and a match makes a deal immediately.",
    `Each side may change its number at most ${plural(rules.maxChangesPerDay, "time")} in any 24 hours.`,
  ];
  if (rules.step3BonusPercent > 0) {
    sentences.push(
      `Early-number bonus: when a Step 3 change makes a deal against the other side's standing number, the deal amount moves ${rules.step3BonusPercent}% in favour of the side whose number was standing.`,
    );
  }
  sentences.push(
    `In Step 3 either side may ask for a smart proposal, at most once in any 24 hours; the other side has ${formatDuration(rules.proposalConsentMs)} to agree. If the gap between the numbers is more than ${rules.proposalMaxGapPercent}% of the demand, the answer is "too far apart" and bidding resumes.`,
    `Otherwise both sides receive the same proposed amount, drawn from the middle half of the gap and never equal to either number, and have ${formatDuration(rules.proposalAnswerMs)} to accept or reject it privately. Nobody learns who rejected it.`,
    `Rounding table (whole ${rules.currency}): ${describeRoundingTable(rules.currency).join("; ")}.`,
    minorUnitDigits(rules.currency) > 0
      ? "If the rounded amount falls outside the range between the two numbers, the next finer step is used, down to whole units, then to the smallest unit of the currency."
      : "If the rounded amount falls outside the range between the two numbers, the next finer step is used, down to whole units.",
    "An amount exactly halfway between two rounded values goes up or down by a fair random choice.",
    "Approving the terms, or choosing to settle them later, also accepts these rules and the start time. If either changes before Step 2 opens, every approval and choice is withdrawn and both sides decide again.",
  );
  return sentences;
}
