// The settlement summary: one description of a deal for the web page, the PDF and the deal mail.
import { describe, expect, it } from "vitest";
import type { Command, DealSource, SessionState } from "../src/engine";
import { DEFAULT_RULES, describeRules } from "../src/rules";
import {
  fillTermsBlank,
  type SettlementSource,
  settlementSummary,
  settlementTextLines,
} from "../src/settlement";
import { viewState } from "../src/visibility";
import { CLAIMANT, MEDIATOR, RESPONDENT, Scenario, setNumber, T0 } from "./engine/builder";

const DEAL_AT = Date.UTC(2027, 0, 6, 15, 30);

function source(
  overrides: Partial<SettlementSource> = {},
  deal: Partial<NonNullable<SessionState["deal"]>> = {},
) {
  return {
    title: "Smith v. Jones",
    deal: {
      amount: 1_234_500,
      source: "step2" as DealSource,
      at: DEAL_AT,
      bonusPercent: 0,
      bonusSide: null,
      termsVersion: 2,
      ...deal,
    },
    members: [
      { name: "Rita Respondent", role: "respondent" as const, joinedAt: T0 + 2 },
      { name: "Claire Attorney", role: "claimant" as const, joinedAt: T0 },
      { name: "Mo Mediator", role: "mediator" as const, joinedAt: T0 + 1 },
    ],
    terms: { text: "The respondent pays $_____ within 30 days.", version: 2 },
    rules: { ...DEFAULT_RULES },
    startAt: T0,
    ...overrides,
  } satisfies SettlementSource;
}

describe("settlementSummary", () => {
  it("is null before a deal", () => {
    expect(settlementSummary({ ...source(), deal: null })).toBeNull();
  });

  it("fills the blank of agreed terms with the formatted amount", () => {
    const s = settlementSummary(source());
    expect(s?.amount).toBe("$12,345.00");
    expect(s?.terms).toMatchObject({
      status: "agreed",
      version: 2,
      hadBlank: true,
      text: "The respondent pays $12,345.00 within 30 days.",
    });
    expect(s?.terms.heading).toContain("agreed terms (version 2)");
    expect(s?.title).toBe("Smith v. Jones");
    expect(s?.when).toBe("Wednesday, January 6, 2027 at 3:30 PM UTC");
    expect(s?.started).toBe("Monday, January 4, 2027 at 9:00 AM UTC");
    // Parties in the order they joined, with their roles.
    expect(s?.parties.map((p) => `${p.name} (${p.roleLabel})`)).toEqual([
      "Claire Attorney (Claimant)",
      "Mo Mediator (Mediator)",
      "Rita Respondent (Respondent)",
    ]);
    expect(s?.rules).toEqual(describeRules(DEFAULT_RULES));
    expect(s?.audit).toBeNull();
  });

  it("appends the amount to terms with no blank", () => {
    const s = settlementSummary(source({ terms: { text: "Full release.", version: 2 } }));
    expect(s?.terms.hadBlank).toBe(false);
    expect(s?.terms.text).toBe("Full release.\nAmount: $12,345.00");
    expect(s?.terms.text).toBe(fillTermsBlank("Full release.", "$12,345.00"));
  });

  it("fills terms holding long runs of whitespace in time linear in their length (a regex took 3-5 s for one)", {
    timeout: 5_000,
  }, () => {
    // The largest terms with no blank and a run of whitespace inside: `replace(/\s+$/, "")` tried a match from every
    // position of the run and failed each at the end (2.6 s for spaces, 4.5 s for U+3000 at 60,000 characters here,
    // on the event loop of every settlement download and in every member's browser). These eight took over 25 s
    // that way; trimEnd strips the same characters in one pass (well under 10 ms). The timeout is only a hang guard.
    for (const space of [" ", "\t", "\u3000", "\n ", "\u00a0", "\u2028", "\r\n", "\ufeff"]) {
      const run = space.repeat(Math.floor(59_998 / space.length));
      expect(fillTermsBlank(`a${run}a${run}`, "$1.00")).toBe(`a${run}a\nAmount: $1.00`);
    }
  });

  it("says when the terms were left for later (not approved), and still fills the draft", () => {
    const s = settlementSummary(source({}, { termsVersion: null }));
    expect(s?.terms.status).toBe("later");
    expect(s?.terms.version).toBeNull();
    expect(s?.terms.heading).toMatch(/left the terms to settle later.*not approved/);
    expect(s?.terms.text).toBe("The respondent pays $12,345.00 within 30 days.");
  });

  it.each([
    ["step2", /Step 2: the two sealed numbers met/],
    ["step3", /Step 3: live bidding/],
    ["smart_proposal", /smart proposal that both sides accepted/],
    ["mediator_proposal", /mediator's proposal, accepted by both sides/],
  ] as const)("describes a %s deal in words", (dealSource, words) => {
    const s = settlementSummary(source({}, { source: dealSource }));
    expect(s?.source).toBe(dealSource);
    expect(s?.how).toMatch(words);
    expect(s?.bonus).toBeNull();
  });

  it("names a Step 3 early-number bonus", () => {
    const s = settlementSummary(source({}, { source: "step3", bonusPercent: 5, bonusSide: "claimant" }));
    expect(s?.bonus).toBe("The amount includes the 5% early-number bonus in favour of the claimant.");
    expect(settlementTextLines(s as NonNullable<typeof s>)).toContain(s?.bonus);
  });

  it("uses the view's rulesText when given, and labels the reader's audit head", () => {
    const s = settlementSummary(source({ rulesText: ["One rule."] }), {
      stream: "claimant",
      position: 17,
      head: "ab".repeat(32),
    });
    expect(s?.rules).toEqual(["One rule."]);
    expect(s?.audit).toEqual({
      label: "Audit record head (your role's stream, position 17)",
      hash: "ab".repeat(32),
    });
  });

  it("keeps HTML-dangerous text as typed: escaping is the renderer's job", () => {
    const s = settlementSummary(
      source({
        title: "A <i>v.</i> B & C",
        terms: { text: 'Pays $_____ to <script>x("1")</script>', version: 2 },
      }),
    );
    expect(s?.title).toBe("A <i>v.</i> B & C");
    expect(s?.terms.text).toBe('Pays $12,345.00 to <script>x("1")</script>');
  });

  it("is the same for every member's view of a real deal, and holds neither side's number", () => {
    const sc = new Scenario().create({ termsText: "Pays $_____." }).cast();
    sc.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
    sc.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
    sc.ok(setNumber(CLAIMANT, 1_111_100));
    sc.ok(setNumber(RESPONDENT, 9_876_500));
    sc.tickAt(sc.s.step2ClosesAt as number);
    const deal = sc.s.deal;
    if (!deal) throw new Error("no deal");
    const summaries = (
      [
        [CLAIMANT, "claimant"],
        [RESPONDENT, "respondent"],
        [MEDIATOR, "mediator"],
      ] as const
    ).map(([userId, role]) => settlementSummary(viewState(sc.s, { userId, role }, sc.now, 1)));
    expect(summaries[1]).toEqual(summaries[0]);
    expect(summaries[2]).toEqual(summaries[0]);
    const text = JSON.stringify(summaries[0]);
    expect(text).toContain(summaries[0]?.amount);
    for (const n of ["11,111", "98,765", "1111100", "9876500"]) expect(text).not.toContain(n);
    expect(summaries[0]?.terms.text).toBe(`Pays ${summaries[0]?.amount}.`);
  });
});
