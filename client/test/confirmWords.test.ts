import { describe, expect, it } from "vitest";
import {
  answerProposalWords,
  approveTermsWords,
  matchSentence,
  mediatorProposalWords,
  setNumberWords,
  withdrawWords,
} from "../src/lib/confirmWords";

const base = {
  amount: "$190,000.00",
  hasNumber: false,
  otherEntered: true,
  step2ClosesAt: "3:00 PM UTC",
  changesLeft: null,
  bonusPercent: 0,
} as const;

describe("the confirm dialog's words", () => {
  it("a claimant's Step 3 number says a deal is made at once if the respondent's standing offer meets it", () => {
    const w = setNumberWords({ ...base, side: "claimant", phase: "step3", changesLeft: 4 });
    expect(w.title).toBe("Enter your side's demand to $190,000.00?");
    expect(w.body[0]).toBe(
      "If the respondent's standing offer is at or above $190,000.00, a deal is made at once at a point between the two.",
    );
    expect(w.body).toContain("This uses one of your side's 4 changes left in the next 24 hours.");
    expect(w.confirmLabel).toBe("Enter demand to $190,000.00");
    expect(w.cancelLabel).toBe("Go back and check");
  });

  it("a respondent's change reads 'at or below' the claimant's demand", () => {
    const w = setNumberWords({ ...base, side: "respondent", phase: "step3", hasNumber: true });
    expect(w.body[0]).toBe(
      "If the claimant's standing demand is at or below $190,000.00, a deal is made at once at a point between the two.",
    );
    expect(w.confirmLabel).toBe("Change offer to $190,000.00");
  });

  it("when the other side has no number yet, it says so and what happens when they enter one", () => {
    const w = setNumberWords({ ...base, side: "claimant", phase: "step3", otherEntered: false });
    expect(w.body[0]).toMatch(
      /^The respondent has not entered a number yet\. When they do, if it is at or above/,
    );
  });

  it("Step 2: nothing is compared before the deadline", () => {
    const w = setNumberWords({ ...base, side: "respondent", phase: "step2" });
    expect(w.body[0]).toBe(
      "Your side's offer becomes $190,000.00. Nothing is compared before the Step 2 deadline (3:00 PM UTC).",
    );
    expect(w.body[1]).toContain(
      "If the claimant's demand is at or below $190,000.00, a deal is made at the deadline",
    );
  });

  it("the bonus is mentioned only when the session has one, in the other side's favour", () => {
    expect(setNumberWords({ ...base, side: "claimant", phase: "step3" }).body.join(" ")).not.toContain(
      "bonus",
    );
    expect(
      setNumberWords({ ...base, side: "claimant", phase: "step3", bonusPercent: 5 }).body.join(" "),
    ).toContain("moves the amount 5% in the other side's favour");
  });

  it("never names an amount other than the one the viewer typed", () => {
    for (const side of ["claimant", "respondent"] as const)
      for (const phase of ["step2", "step3"] as const) {
        const text = JSON.stringify(
          setNumberWords({ ...base, side, phase, hasNumber: true, changesLeft: 2 }),
        );
        expect(text.match(/\$\d[\d,]*(\.\d\d)?/g)?.every((m) => m === "$190,000.00")).toBe(true);
      }
  });

  it("accepting and rejecting a proposal; rejecting is the danger tone", () => {
    const yes = answerProposalWords("mediator", "$150,000.00", true);
    expect(yes.title).toBe("Accept the mediator's proposal of $150,000.00?");
    expect(yes.body[0]).toContain("If the other side accepts too, a deal is made at $150,000.00");
    const no = answerProposalWords("smart", "$150,000.00", false);
    expect(no.title).toBe("Reject the smart proposal of $150,000.00?");
    expect(no.tone).toBe("danger");
    expect(no.body[0]).toContain("never who said no");
  });

  it("approving terms says whether it closes Step 1", () => {
    expect(approveTermsWords(3, "respondent", true).body[0]).toBe(
      "The respondent side has approved this version: your approval closes Step 1 with these terms.",
    );
    expect(approveTermsWords(3, "respondent", false).body[0]).toContain("When the respondent side approves");
  });

  it("a mediator's proposal and withdrawing", () => {
    const m = mediatorProposalWords("$150,000.00", "3:30 PM UTC", "30 minutes");
    expect(m.body[0]).toBe(
      "Both sides are asked to accept or reject $150,000.00 privately within 30 minutes (by about 3:30 PM UTC). If both accept, a deal is made at $150,000.00 and the session ends.",
    );
    expect(withdrawWords()).toMatchObject({ confirmLabel: "Yes, withdraw", cancelLabel: "Keep negotiating" });
    expect(matchSentence("claimant", "$1.00", "at the deadline")).toBe(
      "If the respondent's offer is at or above $1.00, a deal is made at the deadline at a point between the two.",
    );
  });
});
