import { describe, expect, test } from "vitest";
import {
  DEFAULT_RULES,
  describeRoundingTable,
  describeRules,
  formatDuration,
  RULE_BOUNDS,
  reminderOffsetsMs,
  resolveRules,
  type SessionRules,
  sessionRulesInputSchema,
} from "../src/rules";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function resolved(input: unknown): SessionRules {
  const result = resolveRules(input);
  if (!result.ok) throw new Error(`expected valid rules, got: ${result.message}`);
  return result.rules;
}

function refusal(input: unknown): string {
  const result = resolveRules(input);
  if (result.ok) throw new Error("expected the rules to be refused");
  return result.message;
}

describe("Session rules: defaults", () => {
  test("defaults are USD, Step 2 48 h, Step 3 28 d, session 30 d, 10 changes a day, no bonus, 20% gap, 48 h, 7 d", () => {
    expect(DEFAULT_RULES).toEqual({
      currency: "USD",
      step2DurationMs: 48 * HOUR,
      step3DurationMs: 28 * DAY,
      maxSessionMs: 30 * DAY,
      maxChangesPerDay: 10,
      step3BonusPercent: 0,
      proposalMaxGapPercent: 20,
      proposalConsentMs: 48 * HOUR,
      proposalAnswerMs: 7 * DAY,
    });
  });

  test("no input, null or {} gives the defaults", () => {
    expect(resolved(undefined)).toEqual(DEFAULT_RULES);
    expect(resolved(null)).toEqual(DEFAULT_RULES);
    expect(resolved({})).toEqual(DEFAULT_RULES);
  });

  test("given fields override the defaults and the rest keep them", () => {
    expect(resolved({ currency: "JPY", step2DurationMs: 120_000, step3BonusPercent: 5 })).toEqual({
      ...DEFAULT_RULES,
      currency: "JPY",
      step2DurationMs: 120_000,
      step3BonusPercent: 5,
    });
  });

  test("resolving does not change DEFAULT_RULES", () => {
    resolved({ maxChangesPerDay: 3 });
    expect(DEFAULT_RULES.maxChangesPerDay).toBe(10);
  });

  test("Step 2 + Step 3 may exceed the session limit: Step 3's deadline is capped instead", () => {
    expect(
      resolved({ step2DurationMs: 2 * DAY, step3DurationMs: 30 * DAY, maxSessionMs: 30 * DAY })
        .step3DurationMs,
    ).toBe(30 * DAY);
  });
});

describe("Session rules: bounds", () => {
  test.each([
    ["step2DurationMs", 100, 30 * DAY, "Step 2 must last between 100 ms and 30 days"],
    ["step3DurationMs", 100, 30 * DAY, "Step 3 must last between 100 ms and 30 days"],
    ["maxSessionMs", 200, 30 * DAY, "The whole session must last between 200 ms and 30 days"],
    ["maxChangesPerDay", 1, 100, "The number of changes per day must be a whole number between 1 and 100"],
    ["step3BonusPercent", 0, 10, "The Step 3 bonus must be a whole percent between 0 and 10"],
    ["proposalMaxGapPercent", 1, 100, "The proposal gap limit must be a whole percent between 1 and 100"],
    [
      "proposalConsentMs",
      100,
      48 * HOUR,
      "The time to consent to a proposal request must be between 100 ms and 48 hours",
    ],
    ["proposalAnswerMs", 100, 7 * DAY, "The time to answer a proposal must be between 100 ms and 7 days"],
  ] as const)(
    "%s accepts %d..%d and refuses anything else with a message naming the bound",
    (rule, min, max, message) => {
      expect(RULE_BOUNDS[rule]).toEqual({ min, max });
      // Step 2 must stay below the session limit, so test Step 2's maximum with the session at its own maximum.
      const base = rule === "step2DurationMs" ? {} : { step2DurationMs: 100 };
      const withSession = rule === "maxSessionMs" ? base : { ...base, maxSessionMs: 30 * DAY };
      if (rule === "step2DurationMs") {
        expect(resolved({ step2DurationMs: min })[rule]).toBe(min);
        expect(refusal({ step2DurationMs: max })).toBe(
          "Step 2 must end before the whole session's time limit",
        );
        expect(resolved({ step2DurationMs: max - 1 })[rule]).toBe(max - 1);
      } else {
        expect(resolved({ ...withSession, [rule]: min })[rule]).toBe(min);
        expect(resolved({ ...withSession, [rule]: max })[rule]).toBe(max);
      }
      for (const bad of [
        min - 1,
        max + 1,
        min + 0.5,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        "10",
        null,
        true,
      ]) {
        expect(refusal({ [rule]: bad })).toBe(message);
      }
    },
  );

  test("the schema refuses unknown keys", () => {
    expect(refusal({ step2DurationMs: 1_000, step4DurationMs: 1_000 })).toBe("Unknown rule: step4DurationMs");
    expect(sessionRulesInputSchema.safeParse({ revealNumbers: true }).success).toBe(false);
  });

  test("rules must be an object", () => {
    expect(refusal(5)).toBe("The rules must be an object");
    expect(refusal("USD")).toBe("The rules must be an object");
    expect(refusal([])).toBe("The rules must be an object");
  });

  test("the currency must be a known ISO 4217 code", () => {
    for (const bad of ["usd", "XYZ", "DOLLARS", 840]) {
      expect(refusal({ currency: bad })).toBe(
        "The currency must be a three-letter ISO 4217 code such as USD",
      );
    }
    expect(resolved({ currency: "EUR" }).currency).toBe("EUR");
  });

  test("Step 2 must end before the session's time limit, or Step 3 would have no time at all", () => {
    expect(refusal({ step2DurationMs: 1_000, maxSessionMs: 1_000 })).toBe(
      "Step 2 must end before the whole session's time limit",
    );
    expect(resolved({ step2DurationMs: 100, step3DurationMs: 100, maxSessionMs: 200 }).maxSessionMs).toBe(
      200,
    );
  });
});

describe("Session rules: Step 2 reminders 24 h and 1 h before the deadline, scaled for short steps", () => {
  test("a 48-hour Step 2 gets reminders 24 h and 1 h before its deadline", () => {
    expect(reminderOffsetsMs(48 * HOUR)).toEqual([24 * HOUR, 1 * HOUR]);
  });
  test("a longer Step 2 keeps the unscaled offsets", () => {
    expect(reminderOffsetsMs(7 * DAY)).toEqual([24 * HOUR, 1 * HOUR]);
  });
  test("a 2-minute Step 2 gets reminders 60 s and 2.5 s before its deadline", () => {
    expect(reminderOffsetsMs(120_000)).toEqual([60_000, 2_500]);
  });
  test("a 24-hour Step 2 gets reminders 12 h and 30 min before its deadline", () => {
    expect(reminderOffsetsMs(24 * HOUR)).toEqual([12 * HOUR, HOUR / 2]);
  });
  test("only positive offsets shorter than Step 2 are returned", () => {
    expect(reminderOffsetsMs(100)).toEqual([50, 2]);
    expect(reminderOffsetsMs(10)).toEqual([5]);
    expect(reminderOffsetsMs(1)).toEqual([]);
    expect(reminderOffsetsMs(0)).toEqual([]);
  });
});

describe("Session rules: shown to the parties in plain words before anyone bids", () => {
  test("the default rules read as plain sentences", () => {
    const text = describeRules(DEFAULT_RULES);
    expect(text).toContain("Step 2 lasts 48 hours. Nothing is compared before its deadline.");
    expect(text).toContain("Each side may change its number at most 10 times in any 24 hours.");
    expect(text).toContain(
      "Step 3 lasts up to 28 days, and the whole session ends at most 30 days after Step 2 opens.",
    );
    expect(text.join(" ")).toContain("more than 20% of the demand");
    expect(text.join(" ")).toContain(
      "Rounding table (whole USD): below $1,000: to the nearest $1; $1,000 to $9,999: to the nearest $10; " +
        "$10,000 to $99,999: to the nearest $100; $100,000 to $999,999: to the nearest $1,000; " +
        "$1,000,000 and above: to the nearest $10,000.",
    );
    expect(text.join(" ")).not.toContain("bonus");
  });

  test("the smart proposal limits, fair ties and what an approval accepts are described", () => {
    const text = describeRules(DEFAULT_RULES).join(" ");
    expect(text).toContain("ask for a smart proposal, at most once in any 24 hours");
    expect(text).toContain("drawn from the middle half of the gap and never equal to either number");
    expect(text).toContain("goes up or down by a fair random choice");
    expect(text).toContain("also accepts these rules and the start time");
  });

  test("a nonzero bonus is described; a short Step 2 is described in minutes", () => {
    const text = describeRules({
      ...DEFAULT_RULES,
      step3BonusPercent: 5,
      step2DurationMs: 120_000,
      maxChangesPerDay: 1,
    });
    expect(text).toContain("Step 2 lasts 2 minutes. Nothing is compared before its deadline.");
    expect(text).toContain("Each side may change its number at most 1 time in any 24 hours.");
    expect(text.join(" ")).toContain(
      "the deal amount moves 5% in favour of the side whose number was standing",
    );
  });

  test("the sentences are written once per rules object, and each caller gets an array of its own", () => {
    const rules = { ...DEFAULT_RULES, currency: "EUR" };
    const first = describeRules(rules);
    first.splice(0, first.length, "changed by the caller");
    const second = describeRules(rules);
    expect(second).toEqual(describeRules({ ...rules }));
    expect(second[0]).toContain("All amounts are in EUR");
    expect(second).not.toBe(describeRules(rules));
    // Another rules object is described afresh, never from the first one's sentences.
    expect(describeRules({ ...rules, maxChangesPerDay: 3 }).join(" ")).toContain("at most 3 times");
  });

  test("the rounding table is described in the session's currency", () => {
    expect(describeRoundingTable("JPY")[4]).toBe("¥1,000,000 and above: to the nearest ¥10,000");
    expect(describeRoundingTable("EUR")[0]).toBe("below €1,000: to the nearest €1");
  });

  test.each([
    [48 * HOUR, "48 hours"],
    [24 * HOUR, "24 hours"],
    [3 * DAY, "3 days"],
    [30 * DAY, "30 days"],
    [HOUR, "1 hour"],
    [90 * 60_000, "1 hour and 30 minutes"],
    [120_000, "2 minutes"],
    [1_500, "1 second and 500 milliseconds"],
    [100, "100 milliseconds"],
    [HOUR + 60_000 + 1_000, "1 hour, 1 minute and 1 second"],
  ])("formatDuration(%d) is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
