// The "New session" form's values and the request they make. Pure, so the presets and checks are testable.
import type { CreateSessionRequest, Role } from "@backchannel/common";
import { DURATION } from "./time";

export type DurationUnit = "seconds" | "minutes" | "hours" | "days";

export interface Duration {
  amount: string;
  unit: DurationUnit;
}

export const UNIT_MS: Record<DurationUnit, number> = {
  seconds: DURATION.SECOND,
  minutes: DURATION.MINUTE,
  hours: DURATION.HOUR,
  days: DURATION.DAY,
};

export interface NewSessionForm {
  title: string;
  role: Role;
  currency: string;
  /** "" = as soon as both sides are ready */
  startAt: number | null;
  step2: Duration;
  step3: Duration;
  maxChangesPerDay: string;
  bonusPercent: string;
  termsText: string;
}

export interface Preset {
  id: "standard" | "mediationDay";
  label: string;
  description: string;
  step2: Duration;
  step3: Duration;
}

export const PRESETS: readonly Preset[] = [
  {
    id: "standard",
    label: "Standard",
    description: "Step 2: 48 hours. Step 3: up to 28 days.",
    step2: { amount: "48", unit: "hours" },
    step3: { amount: "28", unit: "days" },
  },
  {
    id: "mediationDay",
    label: "Mediation day",
    description: "Step 2: 30 minutes. Step 3: 8 hours — the numbers run alongside the day's caucuses.",
    step2: { amount: "30", unit: "minutes" },
    step3: { amount: "8", unit: "hours" },
  },
];

export function emptyForm(): NewSessionForm {
  const standard = PRESETS[0]!;
  return {
    title: "",
    role: "claimant",
    currency: "USD",
    startAt: null,
    step2: { ...standard.step2 },
    step3: { ...standard.step3 },
    maxChangesPerDay: "10",
    bonusPercent: "0",
    termsText: "",
  };
}

export function durationMs(d: Duration): number | null {
  const n = Number(d.amount);
  if (!Number.isFinite(n) || n <= 0) return null;
  return Math.round(n * UNIT_MS[d.unit]);
}

export type BuiltRequest = { ok: true; body: CreateSessionRequest } | { ok: false; message: string };

/** The request for POST /api/sessions, or a sentence saying what to fix. The server checks again. */
export function buildCreateRequest(form: NewSessionForm): BuiltRequest {
  const title = form.title.trim();
  if (!title)
    return { ok: false, message: "Give the session a title, for example “Smith v. Acme Logistics”." };
  const step2DurationMs = durationMs(form.step2);
  if (step2DurationMs === null) return { ok: false, message: "Enter how long Step 2 lasts." };
  const step3DurationMs = durationMs(form.step3);
  if (step3DurationMs === null) return { ok: false, message: "Enter how long Step 3 lasts." };
  if (step2DurationMs >= 30 * DURATION.DAY)
    return { ok: false, message: "Step 2 must be shorter than 30 days." };
  const maxChangesPerDay = Number(form.maxChangesPerDay);
  if (!Number.isInteger(maxChangesPerDay) || maxChangesPerDay < 1 || maxChangesPerDay > 100) {
    return { ok: false, message: "Changes per 24 hours must be a whole number from 1 to 100." };
  }
  const step3BonusPercent = Number(form.bonusPercent);
  if (!Number.isInteger(step3BonusPercent) || step3BonusPercent < 0 || step3BonusPercent > 10) {
    return { ok: false, message: "The early-number bonus must be a whole percent from 0 to 10." };
  }
  const body: CreateSessionRequest = {
    title,
    creatorRole: form.role,
    rules: { currency: form.currency, step2DurationMs, step3DurationMs, maxChangesPerDay, step3BonusPercent },
    termsText: form.termsText,
  };
  if (form.startAt !== null) body.startAt = form.startAt;
  return { ok: true, body };
}
