// The settlement PDF: parsed back with pdf-lib (pages, size), its text read from the inflated content streams, and
// checked for the summary's content and for the absence of either side's number.
import { type Command, type SessionState, settlementSummary, viewState } from "@backchannel/common";
import { PDFDocument } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { CLAIMANT, RESPONDENT, Scenario, setNumber } from "../../../common/test/engine/builder";
import { settlementFileName, settlementPdf } from "../../src/notify/settlement-pdf";
import { pdfText } from "./pdf-text";

const DEMAND = 1_111_100;
const OFFER = 9_876_500;

function dealSession(termsText: string, title = "Smith v. Jones", currency = "USD"): SessionState {
  const s = new Scenario()
    .create({ title, termsText, rules: { ...new Scenario().create().s.rules, currency } })
    .cast();
  s.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
  s.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
  s.ok(setNumber(CLAIMANT, DEMAND));
  s.ok(setNumber(RESPONDENT, OFFER));
  s.tickAt(s.s.step2ClosesAt as number);
  if (!s.s.deal) throw new Error("no deal");
  return s.s;
}

function summaryOf(state: SessionState) {
  const summary = settlementSummary(
    viewState(state, { userId: RESPONDENT, role: "respondent" }, state.updatedAt, 9),
    {
      stream: "respondent",
      position: 9,
      head: "0f".repeat(32),
    },
  );
  if (!summary) throw new Error("no summary");
  return summary;
}

describe("settlementPdf", () => {
  it("renders the summary on A4 pages: title, amount, how, parties, terms with the amount, rules, audit head", async () => {
    const state = dealSession("The respondent pays $_____ to the claimant within 30 days.");
    const summary = summaryOf(state);
    const bytes = await settlementPdf(summary, { now: state.updatedAt });
    expect(Buffer.from(bytes.slice(0, 5)).toString()).toBe("%PDF-");
    const doc = await PDFDocument.load(bytes);
    const pages = doc.getPageCount();
    expect(pages).toBeGreaterThanOrEqual(1);
    expect(pages).toBeLessThanOrEqual(2);
    const [w, h] = [doc.getPage(0).getWidth(), doc.getPage(0).getHeight()];
    expect([Math.round(w), Math.round(h)]).toEqual([595, 842]);
    expect(doc.getTitle()).toBe("Settlement summary: Smith v. Jones");

    const text = pdfText(bytes);
    expect(text).toContain("Smith v. Jones");
    expect(text).toContain(summary.amount);
    expect(text).toContain("Step 2: the two sealed numbers met at the Step 2 deadline.");
    expect(text).toContain(summary.when.replace(/\u202f/g, " "));
    expect(text).toContain("Claire Attorney (Claimant)");
    expect(text).toContain(`The respondent pays ${summary.amount} to the claimant within 30 days.`);
    expect(text).toContain("The agreed terms (version 1), with the amount filled in:");
    expect(text).toContain("Rules of the session");
    expect(text).toContain("Audit record head (your role's stream, position 9)");
    expect(text).toContain("0f".repeat(32));
    expect(text).toContain(`Page 1 of ${pages}`);
    expect(text).not.toContain("_____");
    // Neither side's number, in any spelling.
    for (const n of ["11,111", "98,765", "1111100", "9876500", "11111.00", "98765.00"])
      expect(text).not.toContain(n);
  });

  it("wraps long lines within the margins and breaks long terms onto more pages, each with its footer", async () => {
    const long = `${"Each party bears its own costs and fees, and ".repeat(12)}pays $_____.\n${Array.from(
      { length: 120 },
      (_, i) => `Clause ${i + 1}: ${"x".repeat(i % 3 === 0 ? 180 : 20)}`,
    ).join("\n")}`;
    const summary = summaryOf(dealSession(long));
    const bytes = await settlementPdf(summary, { pageSize: "Letter" });
    const doc = await PDFDocument.load(bytes);
    const pages = doc.getPageCount();
    expect(pages).toBeGreaterThan(2);
    expect(Math.round(doc.getPage(0).getWidth())).toBe(612);
    const text = pdfText(bytes);
    expect(text).toContain(`Page ${pages} of ${pages}`);
    expect(text).toContain("Clause 120:");
    expect(text).toContain(`pays ${summary.amount}.`);
    // A 180-character word is cut into lines, none of which is wider than the text column.
    const lines = text.split("\n");
    expect(Math.max(...lines.filter((l) => /^x+$/.test(l)).map((l) => l.length))).toBeLessThan(120);
  });

  it("replaces what the standard fonts cannot encode instead of failing", async () => {
    const state = dealSession(
      "Zahlung von $_____ an Müller \u6771\u4eac\u2009\u2265 done\u200b.",
      "M\u00fcller \u2192 \u0141\u00f3d\u017a \u6771\u4eac",
      "INR",
    );
    const summary = summaryOf(state);
    expect(summary.amount).toMatch(/^\u20b9/);
    const bytes = await settlementPdf(summary);
    const text = pdfText(bytes);
    expect(text).toContain("Müller -> Lódz ??");
    expect(text).toContain(`INR ${summary.amount.slice(1)}`);
    expect(text).toContain("an Müller ?? >= done.");
  });
});

describe("settlementFileName", () => {
  it("keeps a safe title and drops what a header or a file system could misread", () => {
    expect(settlementFileName("Smith v. Jones")).toBe("Smith v. Jones settlement.pdf");
    expect(settlementFileName('A "quoted"\r\n/../name; x=1')).toBe("A quoted . name x 1 settlement.pdf");
    expect(settlementFileName("Łódź")).toBe("Lodz settlement.pdf");
    expect(settlementFileName("\u6771\u4eac")).toBe("Backchannel settlement.pdf");
  });
});
