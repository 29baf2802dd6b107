// The settlement summary page's own logic: the amount marked inside the terms (joined, exactly the text the PDF and
// the mail print), the newest head of the viewer's own stream for the audit line, and the PDF's address.
import { fillTermsBlank } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { ownStreamHead, settlementPdfUrl, termsPieces } from "../src/pages/session/SettlementSummary";
import { headFor, SESSION_ID } from "./fixtures";

const AMOUNT = "$12,345.00";
const join = (pieces: Array<{ text: string }>) => pieces.map((p) => p.text).join("");

describe("termsPieces", () => {
  it.each([
    "The respondent pays $_____ within 30 days.",
    "Pays ___ now and $_______ later; a__b stays.",
    "$_____",
    "Full release of all claims.",
    "Full release.\n\n",
    "",
    "   ",
    // Long whitespace runs inside and at the end, of the kinds trimEnd strips (common's test guards the time).
    `a${" ".repeat(29_998)}a${"\u3000 \t\n".repeat(7_500)}`,
  ])("joins to fillTermsBlank and marks every amount: %#", (terms) => {
    const pieces = termsPieces(terms, AMOUNT);
    expect(join(pieces)).toBe(fillTermsBlank(terms, AMOUNT));
    for (const p of pieces.filter((p) => p.amount)) expect(p.text).toBe(AMOUNT);
    expect(pieces.some((p) => p.amount)).toBe(true);
    expect(pieces.filter((p) => !p.amount).some((p) => p.text.includes(AMOUNT))).toBe(false);
  });

  it("marks each blank separately", () => {
    expect(termsPieces("A $___ B ____ C", AMOUNT)).toEqual([
      { text: "A ", amount: false },
      { text: AMOUNT, amount: true },
      { text: " B ", amount: false },
      { text: AMOUNT, amount: true },
      { text: " C", amount: false },
    ]);
  });
});

describe("ownStreamHead", () => {
  const view = { id: SESSION_ID, viewer: { role: "respondent" as const } } as Parameters<
    typeof ownStreamHead
  >[1];

  it("takes the newest head of the viewer's own stream of this session", () => {
    const heads = [
      headFor("respondent", 4),
      headFor("respondent", 9),
      headFor("claimant", 12),
      { ...headFor("respondent", 30), sessionId: "another-session" },
      headFor("respondent", 7),
    ];
    const own = ownStreamHead(heads, view);
    expect(own).toEqual({ stream: "respondent", position: 9, head: headFor("respondent", 9).head });
  });

  it("is null when this browser kept none", () => {
    expect(ownStreamHead([headFor("claimant", 3)], view)).toBeNull();
    expect(ownStreamHead([], view)).toBeNull();
  });
});

describe("settlementPdfUrl", () => {
  it("is the route of protocol.md section 3, the id encoded", () => {
    expect(settlementPdfUrl(SESSION_ID)).toBe(`/api/sessions/${SESSION_ID}/settlement.pdf`);
    expect(settlementPdfUrl("a/b?c")).toBe("/api/sessions/a%2Fb%3Fc/settlement.pdf");
  });
});
