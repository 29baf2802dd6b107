import { DEFAULT_RULES, describeRules } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import {
  ANSWER_WINDOWS,
  answerByFor,
  answerWindowChoices,
  defaultAnswerWindow,
  effectiveWindows,
  rulesSentences,
  step3SpanMs,
} from "../src/lib/windows";

const MIN = 60_000;
const HOUR = 60 * MIN;
// A 30-minute session: Step 2 10 minutes, Step 3 20 minutes; the default proposal windows (48 hours, 7 days).
const shortRules = { ...DEFAULT_RULES, step2DurationMs: 10 * MIN, step3DurationMs: 20 * MIN };
const before = { step3OpenedAt: null, deadlines: { step3ClosesAt: null, sessionEndsAt: null } };

describe("effective windows, capped by the session's end", () => {
  it("in a 30-minute session a proposal window is at most Step 3's 20 minutes", () => {
    expect(step3SpanMs({ rules: shortRules, ...before })).toBe(20 * MIN);
    expect(effectiveWindows({ rules: shortRules, ...before })).toEqual({
      consentMs: 20 * MIN,
      answerMs: 20 * MIN,
      consentCapped: true,
      answerCapped: true,
    });
  });

  it("the default rules are not capped (Step 3 lasts 28 days)", () => {
    expect(effectiveWindows({ rules: DEFAULT_RULES, ...before })).toMatchObject({
      consentCapped: false,
      answerCapped: false,
    });
  });

  it("once Step 3 is open its real deadline counts", () => {
    const f = {
      rules: DEFAULT_RULES,
      step3OpenedAt: 1_000,
      deadlines: { step3ClosesAt: 1_000 + 5 * HOUR, sessionEndsAt: null },
    };
    expect(effectiveWindows(f)).toMatchObject({ consentMs: 5 * HOUR, answerMs: 5 * HOUR });
  });

  it("the rules text says the effective windows, and why, instead of '48 hours to agree' and '7 days to accept'", () => {
    const rulesText = describeRules(shortRules);
    const out = rulesSentences({ rules: shortRules, rulesText, ...before }, "3:30 PM UTC");
    const text = out.join("\n");
    expect(text).not.toContain("48 hours to agree");
    expect(text).not.toContain("7 days to accept");
    expect(text).toContain("the other side has 20 minutes to agree");
    expect(text).toContain("and have 20 minutes to accept or reject it privately");
    expect(text).toContain(
      "The rules allow 48 hours, but no window runs past the end of Step 3 (Step 3 ends 3:30 PM UTC).",
    );
    expect(text).toContain("The rules allow 7 days, but no window runs past the end of Step 3");
    expect(out).toHaveLength(rulesText.length);
  });

  it("the text is unchanged when nothing is capped", () => {
    const rulesText = describeRules(DEFAULT_RULES);
    expect(rulesSentences({ rules: DEFAULT_RULES, rulesText, ...before })).toEqual(rulesText);
  });
});

describe("the mediator's answer windows", () => {
  it("all of them when the end is far or unknown", () => {
    expect(answerWindowChoices(0, null)).toEqual({
      choices: [...ANSWER_WINDOWS],
      capped: false,
      leftMs: null,
    });
    expect(answerWindowChoices(0, 30 * 24 * HOUR).capped).toBe(false);
  });

  it("only those that fit, then 'until Step 3 ends', with 25 minutes left", () => {
    const { choices, capped } = answerWindowChoices(0, 25 * MIN);
    expect(capped).toBe(true);
    expect(choices.map((c) => c.label)).toEqual([
      "10 minutes",
      "15 minutes",
      "until Step 3 ends (about 25 minutes)",
    ]);
    expect(defaultAnswerWindow(choices)?.label).toBe("until Step 3 ends (about 25 minutes)");
    expect(answerByFor(choices[2]!, 1_000, 25 * MIN)).toBe(25 * MIN);
  });

  it("30 minutes is the default when it fits; a span never runs past the end", () => {
    const { choices } = answerWindowChoices(0, 3 * HOUR);
    expect(defaultAnswerWindow(choices)?.ms).toBe(30 * MIN);
    expect(choices.map((c) => c.label)).not.toContain("4 hours");
    expect(answerByFor({ ms: 4 * HOUR, label: "4 hours" }, 0, 3 * HOUR)).toBe(3 * HOUR);
  });

  it("nothing to offer once Step 3 is over", () => {
    expect(answerWindowChoices(10, 5).choices).toEqual([]);
  });
});
