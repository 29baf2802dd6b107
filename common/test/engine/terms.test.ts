// RULES.md "Step 1: terms (non-monetary)".

import { describe, expect, it } from "vitest";
import {
  CLAIMANT,
  CLAIMANT_CLIENT,
  MEDIATOR,
  OUTSIDER,
  RESPONDENT,
  Scenario,
  setNumber,
  T0,
  types,
} from "./builder";

const edit = (actor: string, baseVersion: number, text: string) =>
  ({ type: "EditTerms", actor, baseVersion, text }) as const;
const approve = (actor: string, version: number) => ({ type: "ApproveTerms", actor, version }) as const;

function inStep1(startAt = T0): Scenario {
  return new Scenario().create({ startAt, termsText: "Release of all claims." }).cast();
}

describe("Step 1: versioned terms", () => {
  it("numbers each edit as a new version; sides and mediators may edit, outsiders not", () => {
    const scenario = inStep1();
    expect(scenario.ok(edit(RESPONDENT, 1, "Release; confidentiality."))).toEqual([
      { type: "TermsEdited", at: T0, by: RESPONDENT, version: 2, text: "Release; confidentiality." },
    ]);
    scenario.ok(edit(MEDIATOR, 2, "Release; confidentiality; no admission."));
    scenario.ok(edit(CLAIMANT_CLIENT, 3, "Release; confidentiality; no admission; 30 days."));
    expect(scenario.s.terms).toMatchObject({ version: 4, editedBy: CLAIMANT_CLIENT });
    expect(scenario.refused(edit(OUTSIDER, 4, "Mine")).code).toBe("NOT_A_MEMBER");
    expect(scenario.refused(edit(CLAIMANT, 4, scenario.s.terms.text)).code).toBe("INVALID_INPUT");
  });

  it("refuses an edit based on an older version", () => {
    const scenario = inStep1();
    scenario.ok(edit(MEDIATOR, 1, "Version two."));
    const refusal = scenario.refused(edit(RESPONDENT, 1, "Based on version one."));
    expect(refusal.code).toBe("TERMS_VERSION_STALE");
    expect(refusal.message).toContain("version 2");
  });

  it("withdraws every approval when the terms are edited after an approval", () => {
    const scenario = inStep1();
    scenario.ok(approve(CLAIMANT, 1));
    expect(scenario.s.terms.approvals).toEqual({ claimant: 1 });
    scenario.ok(edit(RESPONDENT, 1, "Respondent's changes."));
    expect(scenario.s.terms.approvals).toEqual({});
    // The respondent approving version 2 does not close Step 1: the claimant's approval was withdrawn.
    expect(types(scenario.ok(approve(RESPONDENT, 2)))).toEqual(["TermsApproved"]);
    expect(scenario.s.terms.closed).toBeNull();
    expect(types(scenario.ok(approve(CLAIMANT, 2)))).toEqual(["TermsApproved", "Step1Closed", "Step2Opened"]);
  });

  it("closes only when both sides approved the same version", () => {
    const scenario = inStep1(T0 + 60_000);
    scenario.ok(approve(CLAIMANT, 1));
    expect(scenario.refused(approve(CLAIMANT, 1)).code).toBe("INVALID_INPUT"); // already approved
    scenario.ok(edit(MEDIATOR, 1, "Mediator's draft."));
    expect(scenario.refused(approve(RESPONDENT, 1)).code).toBe("TERMS_VERSION_STALE");
    scenario.ok(approve(RESPONDENT, 2));
    const events = scenario.ok(approve(CLAIMANT, 2));
    // Before the scheduled start, Step 1 closes and Step 2 waits for the start time.
    expect(events).toEqual([
      { type: "TermsApproved", at: T0, by: CLAIMANT, side: "claimant", version: 2 },
      { type: "Step1Closed", at: T0, how: "approved", termsVersion: 2 },
    ]);
    expect(scenario.s.phase).toBe("setup");
  });

  it("closes when both sides choose to settle the terms later", () => {
    const scenario = inStep1();
    expect(scenario.ok({ type: "SkipTerms", actor: CLAIMANT })).toEqual([
      { type: "TermsSkipped", at: T0, by: CLAIMANT, side: "claimant" },
    ]);
    expect(scenario.refused({ type: "SkipTerms", actor: CLAIMANT }).code).toBe("INVALID_INPUT");
    const events = scenario.ok({ type: "SkipTerms", actor: RESPONDENT });
    expect(events[1]).toEqual({ type: "Step1Closed", at: T0, how: "skipped", termsVersion: 1 });
    expect(scenario.s.phase).toBe("step2");
  });

  it("does not close on one approval and one skip; a later choice replaces the earlier one", () => {
    const scenario = inStep1();
    scenario.ok({ type: "SkipTerms", actor: CLAIMANT });
    scenario.ok(approve(RESPONDENT, 1));
    expect(scenario.s.terms).toMatchObject({
      closed: null,
      skipped: { claimant: true },
      approvals: { respondent: 1 },
    });
    // The claimant now approves: its skip is replaced, and both approved version 1.
    const events = scenario.ok(approve(CLAIMANT, 1));
    expect(types(events)).toEqual(["TermsApproved", "Step1Closed", "Step2Opened"]);
    expect(scenario.s.terms.skipped).toEqual({});

    const other = inStep1();
    other.ok(approve(CLAIMANT, 1));
    other.ok({ type: "SkipTerms", actor: CLAIMANT });
    expect(other.s.terms.approvals).toEqual({});
    expect(types(other.ok({ type: "SkipTerms", actor: RESPONDENT }))).toContain("Step1Closed");
  });

  it("keeps a skip across edits, since settling later does not depend on the text", () => {
    const scenario = inStep1();
    scenario.ok({ type: "SkipTerms", actor: CLAIMANT });
    scenario.ok(edit(RESPONDENT, 1, "New text."));
    expect(scenario.s.terms.skipped).toEqual({ claimant: true });
  });

  it("lets only sides approve or skip: mediators and view-only members are refused", () => {
    const scenario = inStep1();
    expect(scenario.refused(approve(MEDIATOR, 1))).toMatchObject({
      code: "WRONG_ROLE",
      message: "A mediator may draft and edit the terms, but only the sides approve them or skip Step 1.",
    });
    expect(scenario.refused({ type: "SkipTerms", actor: MEDIATOR }).code).toBe("WRONG_ROLE");
    expect(scenario.refused(approve(CLAIMANT_CLIENT, 1)).code).toBe("NO_BIDDING_RIGHTS");
    expect(scenario.refused(approve(OUTSIDER, 1)).code).toBe("NOT_A_MEMBER");
  });

  it("cannot close before the other side has joined", () => {
    const scenario = new Scenario().create();
    expect(types(scenario.ok(approve(CLAIMANT, 1)))).toEqual(["TermsApproved"]);
    expect(scenario.s.terms.closed).toBeNull();
  });

  it("refuses edits and approvals once Step 1 has closed", () => {
    const scenario = inStep1(T0 + 60_000);
    scenario.skipTerms();
    expect(scenario.refused(edit(MEDIATOR, 1, "Too late.")).code).toBe("TERMS_CLOSED");
    expect(scenario.refused(approve(CLAIMANT, 1)).code).toBe("TERMS_CLOSED");
    expect(scenario.refused({ type: "SkipTerms", actor: CLAIMANT }).code).toBe("TERMS_CLOSED");
  });

  it("records the approved version in the deal, or none when the terms were left for later", () => {
    const approved = inStep1();
    approved.ok(edit(MEDIATOR, 1, "Final terms."));
    approved.ok(approve(CLAIMANT, 2));
    approved.ok(approve(RESPONDENT, 2));
    approved.ok(setNumber(CLAIMANT, 100_00));
    approved.ok(setNumber(RESPONDENT, 100_00));
    approved.tickAt(approved.s.step2ClosesAt!);
    expect(approved.s.deal).toMatchObject({ amount: 100_00, termsVersion: 2 });

    const skipped = Scenario.inStep2();
    skipped.ok(setNumber(CLAIMANT, 100_00));
    skipped.ok(setNumber(RESPONDENT, 100_00));
    skipped.tickAt(skipped.s.step2ClosesAt!);
    expect(skipped.s.deal).toMatchObject({ termsVersion: null });
  });
});
