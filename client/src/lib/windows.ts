// The time windows a session really gives, capped by its end: the rules say "48 hours to agree" and "7 days to
// accept" even in a 30-minute session, but no window can outlast Step 3. Pure, for the rules panel and the
// mediator's proposal form.
import { describeRules, formatDuration, type SessionRules } from "@backchannel/common";

export interface WindowFacts {
  rules: SessionRules;
  step3OpenedAt: number | null;
  deadlines: { step3ClosesAt: number | null; sessionEndsAt: number | null };
}

/** How long Step 3 lasts: from its deadline once it is open, else what the rules allow it. */
export function step3SpanMs(f: WindowFacts): number {
  const { rules } = f;
  if (f.step3OpenedAt !== null && f.deadlines.step3ClosesAt !== null)
    return Math.max(0, f.deadlines.step3ClosesAt - f.step3OpenedAt);
  return Math.max(0, Math.min(rules.step3DurationMs, rules.maxSessionMs - rules.step2DurationMs));
}

export interface EffectiveWindows {
  consentMs: number;
  answerMs: number;
  consentCapped: boolean;
  answerCapped: boolean;
}

/** The consent and answer windows of proposals (Step 3 only), each at most as long as Step 3. */
export function effectiveWindows(f: WindowFacts): EffectiveWindows {
  const span = step3SpanMs(f);
  const consentMs = Math.min(f.rules.proposalConsentMs, span);
  const answerMs = Math.min(f.rules.proposalAnswerMs, span);
  return {
    consentMs,
    answerMs,
    consentCapped: consentMs < f.rules.proposalConsentMs,
    answerCapped: answerMs < f.rules.proposalAnswerMs,
  };
}

/**
 * The rules in sentences with the effective windows: the sentences the server wrote, where the proposal windows
 * are longer than Step 3 rewritten with Step 3's length and saying so. `end` formats the session's end, if known.
 */
export function rulesSentences(
  f: WindowFacts & { rulesText: readonly string[] },
  end?: string | null,
): string[] {
  const eff = effectiveWindows(f);
  if (!eff.consentCapped && !eff.answerCapped) return [...f.rulesText];
  const original = describeRules(f.rules);
  const adjusted = describeRules({
    ...f.rules,
    proposalConsentMs: eff.consentMs,
    proposalAnswerMs: eff.answerMs,
  });
  const until = end ? ` (Step 3 ends ${end})` : "";
  return f.rulesText.map((s) => {
    const i = original.indexOf(s);
    if (i < 0 || adjusted[i] === s) return s;
    const rule = s.includes("to agree") ? f.rules.proposalConsentMs : f.rules.proposalAnswerMs;
    return `${adjusted[i]} The rules allow ${formatDuration(rule)}, but no window runs past the end of Step 3${until}.`;
  });
}

export interface WindowChoice {
  /** the window's length; null: until Step 3 ends */
  ms: number | null;
  label: string;
}

/** The time by which the sides answer, for a choice made at `now`. */
export function answerByFor(choice: WindowChoice, now: number, endsAt: number | null): number {
  if (choice.ms === null) return endsAt ?? now;
  return endsAt === null ? now + choice.ms : Math.min(now + choice.ms, endsAt);
}

export const ANSWER_WINDOWS: readonly WindowChoice[] = [
  { ms: 10 * 60_000, label: "10 minutes" },
  { ms: 15 * 60_000, label: "15 minutes" },
  { ms: 30 * 60_000, label: "30 minutes" },
  { ms: 60 * 60_000, label: "1 hour" },
  { ms: 2 * 60 * 60_000, label: "2 hours" },
  { ms: 4 * 60 * 60_000, label: "4 hours" },
  { ms: 24 * 60 * 60_000, label: "24 hours" },
  { ms: 7 * 24 * 60 * 60_000, label: "7 days" },
];

/**
 * The answer windows a mediator may offer now: those that end before Step 3 does, and "until the session ends"
 * when the time left is shorter than some window (so the last choice always fits). `capped` says some were left out.
 */
export function answerWindowChoices(
  now: number,
  endsAt: number | null,
  choices: readonly WindowChoice[] = ANSWER_WINDOWS,
): { choices: WindowChoice[]; capped: boolean; leftMs: number | null } {
  if (endsAt === null) return { choices: [...choices], capped: false, leftMs: null };
  // A minute's margin: the proposal is put a moment after it is chosen.
  const leftMs = Math.max(0, endsAt - now - 60_000);
  const fit = choices.filter((c) => c.ms !== null && c.ms <= leftMs);
  if (fit.length === choices.length) return { choices: fit, capped: false, leftMs };
  const minutes = Math.floor((endsAt - now) / 60_000);
  const untilEnd: WindowChoice = {
    ms: null,
    label: `until Step 3 ends (about ${minutes >= 1 ? formatDuration(minutes * 60_000) : "less than a minute"})`,
  };
  return { choices: endsAt > now ? [...fit, untilEnd] : fit, capped: true, leftMs };
}

/** The default choice: 30 minutes when it fits, else the longest that does. */
export function defaultAnswerWindow(choices: readonly WindowChoice[]): WindowChoice | null {
  if (choices.length === 0) return null;
  return choices.find((c) => c.ms === 30 * 60_000) ?? choices[choices.length - 1]!;
}

/** A choice's value for a <select>. */
export function windowValue(c: WindowChoice): string {
  return c.ms === null ? "end" : String(c.ms);
}
