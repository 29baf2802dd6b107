import { describe, expect, it } from "vitest";
import { buildCreateRequest, emptyForm, PRESETS } from "../src/lib/newSession";

describe("the New session form", () => {
  it("defaults to the standard durations: Step 2 48 hours, Step 3 28 days", () => {
    const built = buildCreateRequest({ ...emptyForm(), title: "Smith v. Acme" });
    expect(built).toEqual({
      ok: true,
      body: {
        title: "Smith v. Acme",
        creatorRole: "claimant",
        rules: {
          currency: "USD",
          step2DurationMs: 48 * 3_600_000,
          step3DurationMs: 28 * 86_400_000,
          maxChangesPerDay: 10,
          step3BonusPercent: 0,
        },
        termsText: "",
      },
    });
  });

  it("the mediation-day preset uses minutes and hours", () => {
    const day = PRESETS.find((p) => p.id === "mediationDay")!;
    const built = buildCreateRequest({ ...emptyForm(), title: "X", step2: day.step2, step3: day.step3 });
    expect(built.ok && built.body.rules).toMatchObject({
      step2DurationMs: 30 * 60_000,
      step3DurationMs: 8 * 3_600_000,
    });
  });

  it("sends a start time only when one was chosen", () => {
    const built = buildCreateRequest({ ...emptyForm(), title: "X", startAt: 1_800_000_000_000 });
    expect(built.ok && built.body.startAt).toBe(1_800_000_000_000);
  });

  it("says what to fix in a sentence", () => {
    expect(buildCreateRequest(emptyForm())).toMatchObject({
      ok: false,
      message: expect.stringContaining("title"),
    });
    expect(buildCreateRequest({ ...emptyForm(), title: "X", bonusPercent: "11" })).toMatchObject({
      ok: false,
    });
    expect(buildCreateRequest({ ...emptyForm(), title: "X", maxChangesPerDay: "0" })).toMatchObject({
      ok: false,
    });
    expect(
      buildCreateRequest({ ...emptyForm(), title: "X", step2: { amount: "30", unit: "days" } }),
    ).toMatchObject({ ok: false, message: "Step 2 must be shorter than 30 days." });
    expect(
      buildCreateRequest({ ...emptyForm(), title: "X", step3: { amount: "", unit: "days" } }),
    ).toMatchObject({
      ok: false,
    });
  });
});
